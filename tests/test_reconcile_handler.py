"""The access-model custom resource (`Custom::AccessModel`) against botocore's Stubber.

Every Data API, S3 and Redshift Serverless call `on_event`/`is_complete` make is checked against the real
service model, in order, with its parameters: a call the scenario did not expect (an apply batch when
nothing changed, a read after a fatal failure, any ListStatements in a normal conversation) fails the
test. `Conversation` queues the answers of one invocation the way the Data API would give them
(BatchExecuteStatement -> DescribeStatement -> GetStatementResult ...); `FakeClock` makes the polling
sleep in no time.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import types
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import botocore.retries.bucket
import pytest
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from redshift_idc.access.scripts import script_entry
from redshift_idc.runtime import reconciler as reconciler_module
from redshift_idc.runtime import statement_runner
from redshift_idc.runtime.access_state import AccessState, ColumnPrivilege, Role
from redshift_idc.runtime.catalog import read_queries
from redshift_idc.runtime.custom_resource import CustomResourceError, CustomResourceEvent
from redshift_idc.runtime.data_api import DataApi, Target
from redshift_idc.runtime.ledger import LedgerTables, Step
from redshift_idc.runtime.limits import APPLY_WINDOW_SECONDS, DATA_API_WAIT_SECONDS
from redshift_idc.runtime.reconcile_handler import (
    DEADLINE_KEY,
    START_KEY,
    build_request,
    is_complete,
    model_document,
    on_event,
)
from redshift_idc.runtime.reconcile_request import ScriptEntry, model_prefix
from tests.fake_data_api import cell

WORKGROUP = "analytics"
NAMESPACE = "analytics-ns"
DATABASE = "dev"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:redshift!analytics-admin-AbCdEf"
MODEL = "sales"
BUCKET = "cdk-hnb659fds-assets-111111111111-us-east-1"
KEY = "5f1d0c2e.json"
PHYSICAL_ID = f"access-model:{WORKGROUP}/{DATABASE}/{MODEL}"
USER = "admin"
SYSTEM_ROLES = ("sys:dba", "sys:operator", "sys:secadmin", "sys:superuser")
QUERIES = read_queries(LedgerTables("redshift_idc"), MODEL)
READ_SQLS = [sql for _, sql in QUERIES]
LEDGER_TABLE = '"redshift_idc"."managed_object"'
SCRIPT_TABLE = '"redshift_idc"."applied_script"'
FENCE_TABLE = '"redshift_idc"."apply_fence"'
T0 = datetime(2026, 1, 1, tzinfo=UTC)
START_MS = int(T0.timestamp() * 1000) - 60_000  # on_event ran a minute before the first is_complete
PREFIX = model_prefix(WORKGROUP, DATABASE, MODEL)
EARLIER = "rsidc-earlier"  # the model's previous request (it started before this one)
RUNNING_STATUSES = ("SUBMITTED", "PICKED", "STARTED")

Row = tuple[Any, ...]


# ------------------------------------------------------------------------------------------- oracles
# Expected SQL is spelled out here, not taken from the planner, so the tests check what is sent.


def create_role(name: str) -> str:
    return f'CREATE ROLE "{name}"'


def drop_role(name: str) -> str:
    return f'DROP ROLE "{name}" FORCE'


def ledger_insert(*roles: str) -> str:
    rows = ", ".join(f"('{MODEL}', 'role', '[\"{r}\"]', '')" for r in roles)
    return f"INSERT INTO {LEDGER_TABLE} (model_name, kind, object_key, fingerprint) VALUES {rows}"  # noqa: S608


def ledger_delete(*roles: str) -> str:
    keys = ", ".join(f"'role [\"{r}\"]'" for r in roles)
    where = f"model_name = '{MODEL}' AND kind || ' ' || object_key IN ({keys})"
    return f"DELETE FROM {LEDGER_TABLE} WHERE {where}"  # noqa: S608


def guard_sql(token: str | None, seq: int = 0) -> str:
    """The fence's guard every batch begins with: the model's row names `token` at `seq` (None: no row yet)."""
    where = f"model_name = '{MODEL}'" + (f" AND request_token = '{token}' AND seq = {seq}" if token else "")
    return (f"SELECT CAST(CASE WHEN COUNT(*) = {1 if token else 0} THEN '1' ELSE 'superseded' END AS INTEGER) "  # noqa: S608
            f"FROM {FENCE_TABLE} WHERE {where}")


def advance_sql(seq: int) -> str:
    """The last statement of every batch: the row's step moved on, nothing in flight."""
    return f"UPDATE {FENCE_TABLE} SET seq = {seq}, intent_name = '', intent_until = 0 WHERE model_name = '{MODEL}'"  # noqa: S608


def intent_sql(seq: int, name: str, until_ms: int) -> str:
    return (f"UPDATE {FENCE_TABLE} SET seq = {seq}, intent_name = '{name}', intent_until = {until_ms} "  # noqa: S608
            f"WHERE model_name = '{MODEL}'")


def claim_sql(token: str, *, first: bool) -> str:
    if first:
        return (f"INSERT INTO {FENCE_TABLE} (model_name, request_token, request_start, seq, intent_name, "  # noqa: S608
                f"intent_until) VALUES ('{MODEL}', '{token}', {START_MS}, 0, '', 0)")
    return (f"UPDATE {FENCE_TABLE} SET request_token = '{token}', request_start = {START_MS}, seq = 0 "  # noqa: S608
            f"WHERE model_name = '{MODEL}'")


def client_token(token: str, seq: int, shown: Sequence[str]) -> str:
    """`<request>-<seq>-<digest of what the step shows>`: the same step with the same content, the same token."""
    return f"{token}-{seq:05d}-{hashlib.sha256(json.dumps(list(shown)).encode()).hexdigest()[:24]}"


Fence = tuple[str, int] | tuple[str, int, str, int]  # (token, seq[, intent name, intent until ms])


@dataclass(frozen=True)
class Matching:
    """An expected parameter that is any string matching `pattern` (a value the test cannot know exactly)."""

    pattern: str

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.fullmatch(self.pattern, other) is not None

    def __hash__(self) -> int:
        return hash(self.pattern)


def catalog(roles: Sequence[str] = (), managed: Sequence[str] = (), *, secadmin: bool = True,
            scripts: Sequence[tuple[str, str]] = (), fence: Fence | None = None) -> dict[str, list[Row]]:
    """Rows of the read batch, by query name: what the SVV views and our ledger tables hold. `fence`: the
    model's row (an earlier request's started a day before this one)."""
    rows: dict[str, list[Row]] = {
        "whoami": [(USER, True, 1 if secadmin else 0, DATABASE)],
        "roles": [(r,) for r in (*SYSTEM_ROLES, *roles)],
        "ledger": [("role", json.dumps([r], separators=(",", ":")), "") for r in sorted(managed)],
        "scripts": list(scripts),
        "fence": [],
    }
    if fence is not None:
        token, seq, *intent = fence
        start = START_MS - 86_400_000 if token == EARLIER else START_MS
        rows["fence"] = [(token, start, seq, *(intent or ("", 0)))]
    return rows


def roles_state(*names: str) -> AccessState:
    return AccessState.of(Role(n) for n in names)


# ------------------------------------------------------------------------------------------- harness


def event(request_type: str, *, model_hash: str = "hash-1", physical_id: str | None = PHYSICAL_ID,
          request_id: str = "3b0c0f4e-0000-4000-8000-000000000001", deadline: float | None = None,
          **overrides: Any) -> dict[str, Any]:
    """The event is_complete gets: CloudFormation's, merged with on_event's answer (its deadline)."""
    props: dict[str, Any] = {
        "ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:provider",
        "WorkgroupName": WORKGROUP, "NamespaceName": NAMESPACE, "Database": DATABASE, "SecretArn": SECRET_ARN,
        "ModelName": MODEL, "LedgerSchema": "redshift_idc", "Prune": "false", "CaseSensitive": "false",
        "RemovalPolicy": "destroy", "ModelBucket": BUCKET, "ModelKey": KEY, "ModelHash": model_hash,
    }
    props.update(overrides)
    result: dict[str, Any] = {
        "RequestType": request_type, "RequestId": request_id, "ResourceType": "Custom::AccessModel",
        "LogicalResourceId": "AccessModel", "ResourceProperties": props,
        "StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/access/0a1b2c3d",
        DEADLINE_KEY: deadline if deadline is not None else T0.timestamp() + APPLY_WINDOW_SECONDS,
        START_KEY: START_MS,
    }
    if physical_id is not None:
        result["PhysicalResourceId"] = physical_id
    return result


def token_of(cfn_event: dict[str, Any]) -> str:
    """The statement-name prefix the handler derives for this request (its own function, so a change of
    the derivation does not break every test; its shape is asserted separately)."""
    return build_request(CustomResourceEvent.from_dict(cfn_event), None).token


class FakeClock:
    """`monotonic`/`time`/`sleep` without waiting: sleeping moves time on, by at least `step` seconds (so
    a test can let whole stretches of time pass between two polls)."""

    def __init__(self, now: float | None = None, step: float = 0.0) -> None:
        self.now = T0.timestamp() if now is None else now
        self.step = step
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, self.step)


@dataclass
class Conversation:
    """Queues the Data API's answers to one invocation, in call order. `long_polling`: the client has
    WaitTimeSeconds, so every submission waits (its answer carries the status) and a statement still running is
    described with a wait (`data_api` module docstring); otherwise the runtime polls."""

    stubber: Stubber
    token: str
    page_size: int = 1000
    long_polling: bool = False
    _ids: Iterator[int] = field(default_factory=lambda: iter(range(0xABC001, 0xABCFFF)))

    def new_id(self) -> str:
        return str(uuid.UUID(int=next(self._ids)))

    def _submitted(self, operation: str, sqls: Sequence[Any], name: str, client_token: Any,
                   status: str = "FINISHED") -> str:
        """A submission; with long polling it waited, and its answer says `status`."""
        statement_id = self.new_id()
        params: dict[str, Any] = {"WorkgroupName": WORKGROUP, "Database": DATABASE, "SecretArn": SECRET_ARN,
                                  "StatementName": name, "ClientToken": client_token}
        if operation == "batch_execute_statement":
            params["Sqls"] = list(sqls)
        else:
            params["Sql"] = sqls[0]
        response = {"Id": statement_id, "CreatedAt": T0, "Database": DATABASE, "WorkgroupName": WORKGROUP,
                    "SecretArn": SECRET_ARN}
        if self.long_polling:
            params["WaitTimeSeconds"] = DATA_API_WAIT_SECONDS
            response["Status"] = status
        self.stubber.add_response(operation, response, params)
        return statement_id

    def ended(self, statement_id: str, status: str, sqls: Sequence[str] | None, *, running: int, answered: bool,
              batch: bool = True, **details: Any) -> None:
        """After a submission: `running` polls that see it running, then `status`. With long polling the
        submission's answer was the first (`answered`: it said `status`, so a FINISHED one needs no call unless the
        caller reads sub-statements, `details`); every poll of a statement that may still run waits."""
        if not self.long_polling:
            for _ in range(running):
                self.describe(statement_id, "STARTED", None)
            self.describe(statement_id, status, sqls, batch=batch, **details)
            return
        if answered and running == 0 and status == "FINISHED" and not details.get("results"):
            return
        for _ in range(max(0, running - 1)):
            self.describe(statement_id, "STARTED", None, wait=True)
        self.describe(statement_id, status, sqls, batch=batch, wait=running > 0, **details)

    def answered(self, status: str, running: int) -> str:
        """What a submission that waited answers: still running, or how it ended."""
        return "STARTED" if running else status

    def describe(self, statement_id: str, status: str, sqls: Sequence[str] | None, *, batch: bool = True,
                 failed: int | None = None, error: str = "", results: Mapping[int, int] | None = None,
                 duration_s: float = 1.0, wait: bool = False) -> None:
        """A DescribeStatement answer (`wait`: asked with WaitTimeSeconds). `results`: sub-statement number -> rows
        it returned (reads)."""
        response: dict[str, Any] = {"Id": statement_id, "Status": status, "CreatedAt": T0, "UpdatedAt": T0,
                                    "Database": DATABASE, "WorkgroupName": WORKGROUP, "SecretArn": SECRET_ARN,
                                    "Duration": int(duration_s * 1e9) if status == "FINISHED" else -1}
        if error:
            response["Error"] = error
        if not batch:
            response["QueryString"] = (sqls or [""])[0]
        elif sqls is not None:
            subs = []
            for n, sql in enumerate(sqls, start=1):
                sub_status = status if failed is None else ("FINISHED" if n < failed else
                                                            "FAILED" if n == failed else "ABORTED")
                sub: dict[str, Any] = {"Id": f"{statement_id}:{n}", "Status": sub_status, "QueryString": sql,
                                       "HasResultSet": bool(results and n in results),
                                       "ResultRows": (results or {}).get(n, 0)}
                if n == failed:
                    sub["Error"] = error
                subs.append(sub)
            response["SubStatements"] = subs
        expected = {"Id": statement_id, **({"WaitTimeSeconds": DATA_API_WAIT_SECONDS} if wait else {})}
        self.stubber.add_response("describe_statement", response, expected)

    def name(self, seq: int, kind: str) -> str:
        return f"{PREFIX}:{self.token}:{seq:05d}:{kind}"

    def read(self, rows: Mapping[str, Sequence[Row]], *, seq: int, running: int = 0) -> str:
        """A read batch: submitted, `running` polls that see it running, finished; then the rows of every
        query that returned some (queries with none are not fetched)."""
        statement_id = self._submitted("batch_execute_statement", READ_SQLS, self.name(seq, "read"), ANY,
                                       self.answered("FINISHED", running))
        counts = {n: len(rows.get(name, ())) for n, (name, _) in enumerate(QUERIES, start=1)
                  if not name.startswith("bootstrap_")}
        self.ended(statement_id, "FINISHED", READ_SQLS, running=running, answered=True, results=counts)
        for n, (name, _) in enumerate(QUERIES, start=1):
            records = list(rows.get(name, ()))
            if not counts.get(n):
                continue
            pages = [records[i:i + self.page_size] for i in range(0, len(records), self.page_size)]
            for index, page in enumerate(pages):
                params: dict[str, Any] = {"Id": f"{statement_id}:{n}"}
                if index:
                    params["NextToken"] = f"page-{index}"
                response: dict[str, Any] = {"Records": [[cell(v) for v in row] for row in page],
                                            "TotalNumRows": len(records)}
                if index + 1 < len(pages):
                    response["NextToken"] = f"page-{index + 1}"
                self.stubber.add_response("get_statement_result", response, params)
        return statement_id

    def claim(self, earlier: tuple[str, int] | None = None, *, listed: Sequence[dict[str, Any]] = ()) -> None:
        """The claim of the model (from `earlier`'s row, else from none); from an earlier request, then the
        confirmation that none of the model's statements still runs: one listing per running status."""
        sqls = [guard_sql(*earlier) if earlier else guard_sql(None), claim_sql(self.token, first=earlier is None)]
        statement_id = self._submitted("batch_execute_statement", sqls, self.name(0, "claim"), ANY)
        self.ended(statement_id, "FINISHED", sqls, running=0, answered=True)
        if earlier is not None:
            self.listing(listed)

    def listing(self, listed: Sequence[dict[str, Any]] = ()) -> None:
        """ListStatements of the model's prefix, once per running status; `listed` holds ListStatements items,
        each answered under its own status."""
        for status in RUNNING_STATUSES:
            items = [item for item in listed if item["Status"] == status]
            self.stubber.add_response("list_statements", {"Statements": items},
                                      {"StatementName": f"{PREFIX}:", "Status": status, "MaxResults": 100})

    def fenced(self, sqls: Sequence[str], *, seq: int, after: int | None = None) -> list[str]:
        """A batch as sent: the fence's guard (this request at step `after`, default `seq - 1`), `sqls`, the
        row's step moved on to `seq`."""
        return [guard_sql(self.token, seq - 1 if after is None else after), *sqls, advance_sql(seq)]

    def submitted(self, sqls: Sequence[str], *, seq: int, after: int | None = None, kind: str = "apply",
                  status: str = "STARTED") -> str:
        """Only the submission of a fenced batch (its answers are the test's; with long polling it answered
        `status`)."""
        sent = self.fenced(sqls, seq=seq, after=after)
        return self._submitted("batch_execute_statement", sent, self.name(seq, kind),
                               client_token(self.token, seq, sent), status)

    def apply(self, sqls: Sequence[str], *, seq: int, kind: str = "apply", after: int | None = None,
              status: str = "FINISHED", failed: int | None = None, error: str = "", running: int = 0) -> str:
        """A fenced batch: the guard (this request at step `after`, default `seq - 1`), `sqls`, the step moved on
        to `seq`; under ClientToken `<token>-<seq>-<digest>`. `failed` counts the guard (the batch's first)."""
        sent = self.fenced(sqls, seq=seq, after=after)
        statement_id = self.submitted(sqls, seq=seq, after=after, kind=kind, status=self.answered(status, running))
        self.ended(statement_id, status, sent, running=running, answered=True, failed=failed, error=error)
        return statement_id

    def intent(self, *, seq: int, after: int | None = None) -> str:
        """The fenced announcement (step `seq`) of the statement sent alone next, as step `seq + 1`: the row names
        it and the last moment it may be sent (epoch ms, whatever the clock says then)."""
        name = self.name(seq + 1, "exec")
        sqls = [guard_sql(self.token, seq - 1 if after is None else after),
                Matching(re.escape(intent_sql(seq, name, 1_111_111_111_111)).replace("1111111111111", r"\d{13}"))]
        statement_id = self._submitted("batch_execute_statement", sqls, self.name(seq, "intent"), ANY)
        self.ended(statement_id, "FINISHED", None, running=0, answered=True)
        return statement_id

    def execute(self, sql: str, *, seq: int, shown: str | None = None, status: str = "FINISHED",
                error: str = "") -> str:
        """One statement alone (ExecuteStatement) under ClientToken `<token>-<seq>-<digest of shown>`."""
        statement_id = self._submitted("execute_statement", [sql], self.name(seq, "exec"),
                                       client_token(self.token, seq, [shown if shown is not None else sql]), status)
        self.ended(statement_id, status, [sql], running=0, answered=True, batch=False, error=error)
        return statement_id


@dataclass
class Harness:
    api: DataApi
    data: Stubber
    s3: Any
    s3_stub: Stubber
    serverless: Any
    serverless_stub: Stubber
    clocks: list[FakeClock] = field(default_factory=list)

    def conversation(self, cfn_event: dict[str, Any]) -> Conversation:
        return Conversation(self.data, token_of(cfn_event), long_polling=self.api.long_polling)

    def expect_model(self, desired: AccessState, scripts: Sequence[ScriptEntry] = ()) -> None:
        data = model_document(desired, scripts).encode("utf-8")
        self.s3_stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(data), len(data)),
                                                 "ContentLength": len(data)}, {"Bucket": BUCKET, "Key": KEY})

    def run(self, cfn_event: dict[str, Any], clock: FakeClock | None = None) -> dict[str, Any]:
        clock = clock or FakeClock()
        self.clocks.append(clock)
        return is_complete(cfn_event, types.SimpleNamespace(aws_request_id="lambda-request-1"), api=self.api,
                           s3=self.s3, clock=clock, serverless=self.serverless)


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


@pytest.fixture
def harness() -> Iterator[Harness]:
    data_client, data = stubbed("redshift-data")
    s3, s3_stub = stubbed("s3")
    serverless, serverless_stub = stubbed("redshift-serverless")
    with data, s3_stub, serverless_stub:
        # The conversations here poll: what the runtime does where the Lambda runtime's boto3 predates long
        # polling. tests/test_long_polling.py has the same steps with WaitTimeSeconds.
        yield Harness(DataApi(Target(WORKGROUP, DATABASE, SECRET_ARN), client=data_client, long_polling=False), data,
                      s3, s3_stub, serverless, serverless_stub)
        data.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()
        serverless_stub.assert_no_pending_responses()


# ------------------------------------------------------------------------------------------- on_event


def test_on_event_names_the_resource_by_target_and_model_only_and_stamps_the_deadline() -> None:
    clock = FakeClock()
    create = on_event(event("Create", model_hash="aaa", physical_id=None), clock=clock)
    update = on_event(event("Update", model_hash="bbb"), clock=clock)
    deadline = int(clock.now) + APPLY_WINDOW_SECONDS
    assert create == update == {"PhysicalResourceId": PHYSICAL_ID, DEADLINE_KEY: deadline,
                                START_KEY: int(clock.now * 1000)}
    other = on_event(event("Update", ModelName="finance"), clock=clock)
    assert other["PhysicalResourceId"] == f"access-model:{WORKGROUP}/{DATABASE}/finance"
    assert APPLY_WINDOW_SECONDS < 3600  # CloudFormation's hour: the reconciler stops first


@pytest.mark.parametrize("name", ["WorkgroupName", "Database", "SecretArn", "ModelName", "ModelBucket", "ModelKey",
                                  "ModelHash"])
@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_on_event_refuses_a_missing_property_naming_it(request_type: str, name: str) -> None:
    cfn_event = event(request_type)
    del cfn_event["ResourceProperties"][name]
    with pytest.raises(CustomResourceError, match=rf"property {name} is missing"):
        on_event(cfn_event)


def test_on_event_delete_keeps_the_incoming_physical_id() -> None:
    assert on_event(event("Delete", physical_id="access-model:old-wg/dev/sales"))["PhysicalResourceId"] == (
        "access-model:old-wg/dev/sales")
    # A Create that failed before naming the resource: the id is not ours, so is_complete skips it.
    assert not on_event(event("Delete", physical_id=None))["PhysicalResourceId"].startswith("access-model:")


def test_statement_names_are_a_short_name_safe_prefix_per_request() -> None:
    token = token_of(event("Create"))
    assert token.startswith("rsidc-") and len(token) == 26 and token[6:].isalnum()
    assert token_of(event("Create", model_hash="other")) != token
    assert token_of(event("Update")) != token


def test_every_statement_name_of_a_model_starts_with_the_models_own_prefix() -> None:
    """One ListStatements prefix finds the model's statements of any request, and no other model's."""
    assert PREFIX.startswith("rsidc-") and len(PREFIX) == 22 and PREFIX[6:].isalnum()
    assert model_prefix(WORKGROUP, DATABASE, "finance") != PREFIX
    assert model_prefix("other-wg", DATABASE, MODEL) != PREFIX
    assert not model_prefix(WORKGROUP, DATABASE, MODEL + "x").startswith(PREFIX + ":")


def test_client_tokens_are_per_step_and_content_for_applies_and_unique_per_read(harness: Harness) -> None:
    """An apply's ClientToken is `<request>-<seq>-<digest of its SQL>` (so an interrupted invocation's
    successor submits the same step under the same token, and a repeated token means the same content);
    each read's and claim's is new (never answered with an old one)."""
    tokens: list[str] = []
    harness.api.client.meta.events.register("provide-client-params.redshift-data.BatchExecuteStatement",
                                            lambda params, **_: tokens.append(params["ClientToken"]))
    create = event("Create")
    talk = harness.conversation(create)
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(), seq=1)
    talk.claim()
    talk.apply([create_role("analyst"), ledger_insert("analyst")], seq=1)
    talk.read(catalog(["analyst"], ["analyst"], fence=(talk.token, 1)), seq=2)
    assert harness.run(create)["IsComplete"] is True
    read_1, claim, apply_1, read_2 = tokens
    assert apply_1.startswith(f"{talk.token}-00001-") and len(apply_1) == 57
    assert apply_1 != client_token(talk.token, 1, [guard_sql(talk.token), create_role("auditor"), advance_sql(1)])
    assert read_1 != read_2 and all(t.startswith("rsidc-read-") and len(t) <= 64 for t in (read_1, read_2))
    assert claim.startswith("rsidc-claim-") and len(claim) <= 64


# ---------------------------------------------------------------------------------- create / update


def test_create_from_an_empty_warehouse_reads_applies_then_confirms(harness: Harness) -> None:
    create = event("Create")
    talk = harness.conversation(create)
    harness.expect_model(roles_state("analyst"))
    # One invocation: read (polled once while running), the claim (the model's first fence row: no earlier
    # request, so nothing to list), apply (the fence's guard, the role, its ledger row and the row's step, one
    # transaction), read back: in sync.
    talk.read(catalog(), seq=1, running=1)
    talk.claim()
    talk.apply([create_role("analyst"), ledger_insert("analyst")], seq=1)
    talk.read(catalog(["analyst"], ["analyst"], fence=(talk.token, 1)), seq=2)
    assert harness.run(create) == {"IsComplete": True, "Data": {"Result": "in sync"}}
    sleeps = harness.clocks[-1].sleeps
    assert all(s < 1.5 for s in sleeps) and len(sleeps) == 5  # sub-second polling, one sleep per describe


def test_update_without_change_sends_no_ddl(harness: Harness) -> None:
    update = event("Update", model_hash="hash-2")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("Analyst", "auditor"))  # case folds like Redshift stores names
    talk.read(catalog(["analyst", "auditor"], ["analyst", "auditor"], fence=(EARLIER, 9)), seq=1)
    talk.claim((EARLIER, 9))  # the model's row now names this request: nothing of the earlier one can commit
    assert harness.run(update) == {"IsComplete": True, "Data": {"Result": "in sync"}}  # any other batch would fail


def test_update_adding_a_role_sends_exactly_its_ddl_ledger_row_and_progress(harness: Harness) -> None:
    update = event("Update", model_hash="hash-3")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst", "auditor"))
    talk.read(catalog(["analyst", "adhoc"], ["analyst"], fence=(EARLIER, 9)), seq=1)
    talk.claim((EARLIER, 9))
    talk.apply([create_role("auditor"), ledger_insert("auditor")], seq=1)
    talk.read(catalog(["adhoc", "analyst", "auditor"], ["analyst", "auditor"], fence=(talk.token, 1)), seq=2)
    assert harness.run(update)["IsComplete"] is True


# -------------------------------------------------------------------------------- one request at a time


def test_a_read_that_does_not_show_its_reader_is_refused_before_any_plan(harness: Harness) -> None:
    """Without the reader's row neither its visibility nor its database (which tells this database's policies from
    another's) is known: nothing is planned."""
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    rows = catalog(fence=(EARLIER, 1))
    del rows["whoami"]
    talk.read(rows, seq=1)
    talk.claim((EARLIER, 1))  # then nothing: no batch
    with pytest.raises(CustomResourceError, match=r"did not show who it reads as .* refusing to plan"):
        harness.run(update)


def test_a_request_that_finds_a_newer_one_current_is_superseded_and_sends_nothing(harness: Harness) -> None:
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    rows = catalog(fence=(EARLIER, 3))
    rows["fence"] = [("rsidc-newer", START_MS + 1, 3, "", 0)]  # started a millisecond after this request
    talk.read(rows, seq=1)  # then nothing: no claim, no batch
    newer = r"^superseded: request rsidc-newer \(started 2025-12-31T23:59:00.001Z\) is now the one that applies model"
    with pytest.raises(CustomResourceError, match=newer):
        harness.run(update)


def test_an_earlier_requests_running_statement_is_cancelled_and_waited_for_before_the_plan(harness: Harness) -> None:
    """The claim's confirmation finds the earlier request's batch still running: it is cancelled and waited for
    (reads are left alone), and the model is read again before anything is planned."""
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(fence=(EARLIER, 4)), seq=1)
    orphan, earlier_read = talk.new_id(), talk.new_id()
    listed = [{"Id": orphan, "StatementName": f"{PREFIX}:{EARLIER}:00005:apply", "Status": "STARTED",
               "CreatedAt": T0, "UpdatedAt": T0, "QueryStrings": ["SELECT 1"], "IsBatchStatement": True},
              {"Id": earlier_read, "StatementName": f"{PREFIX}:{EARLIER}:00006:read", "Status": "STARTED",
               "CreatedAt": T0, "UpdatedAt": T0, "QueryStrings": ["SELECT 1"], "IsBatchStatement": True}]
    talk.claim((EARLIER, 4), listed=listed)
    harness.data.add_response("cancel_statement", {"Status": True}, {"Id": orphan})
    talk.describe(orphan, "STARTED", None)
    talk.describe(orphan, "ABORTED", None)
    talk.read(catalog(fence=(talk.token, 0)), seq=1)  # read again: the model is this request's, confirmed
    talk.apply([create_role("analyst"), ledger_insert("analyst")], seq=1)
    talk.read(catalog(["analyst"], ["analyst"], fence=(talk.token, 1)), seq=2)
    assert harness.run(update)["IsComplete"] is True


def test_an_earlier_statement_still_running_is_waited_for_across_invocations_then_fails_at_the_deadline(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not ended within the invocation's budget: "not complete yet" (the next invocation confirms again); at the
    request's deadline: the request fails naming the statement, never reports success."""
    monkeypatch.setattr("redshift_idc.runtime.reconcile_handler.INVOCATION_BUDGET_SECONDS", 15.0)
    monkeypatch.setattr(statement_runner, "WAIT_GRACE_SECONDS", 3.0)
    clock = FakeClock(step=10.0)
    update = event("Update", deadline=clock.now + 35.0)
    talk = harness.conversation(update)
    orphan = talk.new_id()
    name = f"{PREFIX}:{EARLIER}:00005:apply"
    listed = [{"Id": orphan, "StatementName": name, "Status": "STARTED", "CreatedAt": T0, "UpdatedAt": T0,
               "QueryStrings": ["SELECT 1"], "IsBatchStatement": True}]
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(fence=(EARLIER, 4)), seq=1)  # at 10 s
    talk.claim((EARLIER, 4), listed=listed)  # at 20 s
    harness.data.add_response("cancel_statement", {"Status": True}, {"Id": orphan})
    talk.describe(orphan, "STARTED", None)  # at 20 s: past the budget and its grace
    assert harness.run(update, clock) == {"IsComplete": False}

    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(fence=(talk.token, 0)), seq=1)
    talk.listing(listed)
    harness.data.add_response("cancel_statement", {"Status": True}, {"Id": orphan})
    talk.describe(orphan, "STARTED", None)  # at 30 s
    talk.describe(orphan, "STARTED", None)  # at 40 s: past the deadline
    with pytest.raises(CustomResourceError, match=rf"^stopped at the apply deadline while statement {name} is still "
                                                  "STARTED: this request does not read or plan before it has ended"):
        harness.run(update, FakeClock(clock.now, step=10.0))


def test_an_event_stamped_before_requests_had_a_start_takes_it_from_the_deadline() -> None:
    from redshift_idc.runtime.reconcile_handler import request_start

    stamped = event("Update", deadline=T0.timestamp() + APPLY_WINDOW_SECONDS)
    assert request_start(stamped) == START_MS
    del stamped[START_KEY]
    assert request_start(stamped) == int(T0.timestamp() * 1000)
    del stamped[DEADLINE_KEY]
    assert request_start(stamped) is None


# ------------------------------------------------------------------------------------------- delete


def test_delete_drops_only_managed_roles(harness: Harness) -> None:
    delete = event("Delete")
    talk = harness.conversation(delete)  # no S3 read is expected: a Delete needs no model
    talk.read(catalog(["adhoc", "analyst"], ["analyst"], fence=(EARLIER, 3)), seq=1)
    talk.claim((EARLIER, 3))
    talk.apply([drop_role("analyst"), ledger_delete("analyst")], seq=1)
    talk.read(catalog(["adhoc"], fence=(talk.token, 1)), seq=2)
    assert harness.run(delete) == {"IsComplete": True, "Data": {"Result": "in sync"}}


@pytest.mark.parametrize("cfn_event", [
    pytest.param(event("Delete", RemovalPolicy="retain"), id="retain"),
    pytest.param(event("Delete", RemovalPolicy="RETAIN"), id="retain-upper-case"),
    pytest.param(event("Delete", physical_id=on_event(event("Delete", physical_id=None))["PhysicalResourceId"]),
                 id="failed-create-marker"),
    pytest.param(event("Delete", physical_id="2025/01/01/[$LATEST]0123456789abcdef"), id="foreign-id"),
])
def test_delete_that_must_not_touch_the_warehouse_makes_no_call(harness: Harness, cfn_event: dict[str, Any]) -> None:
    # Nothing is queued on any stubber: any Data API or S3 call would fail the test.
    assert harness.run(cfn_event) == {"IsComplete": True}


def _data_api_error(harness: Harness, code: str, message: str) -> None:
    fields = {"Message": message, "ResourceId": WORKGROUP} if code == "ResourceNotFoundException" else None
    harness.data.add_client_error("batch_execute_statement", code, message, http_status_code=400,
                                  modeled_fields=fields)


def _workgroup(status: str) -> dict[str, Any]:
    return {"workgroup": {"workgroupName": WORKGROUP, "namespaceName": NAMESPACE, "status": status}}


@pytest.mark.parametrize(("code", "message", "workgroup", "namespace"), [
    pytest.param("ResourceNotFoundException", "Workgroup analytics not found.", "missing", None,
                 id="not-found-workgroup-gone"),
    pytest.param("ValidationException", "Redshift endpoint doesn't exist in this region.", "missing", None,
                 id="endpoint-does-not-exist"),
    pytest.param("ValidationException", "Workgroup is not available", "DELETING", None, id="workgroup-deleting"),
    pytest.param("DatabaseConnectionException", "Connection refused", "AVAILABLE", "missing",
                 id="namespace-gone"),
    pytest.param("ValidationException", "Namespace is not available", "AVAILABLE", "DELETING",
                 id="namespace-deleting"),
])
def test_delete_when_the_warehouse_is_gone_completes(harness: Harness, code: str, message: str, workgroup: str,
                                                     namespace: str | None) -> None:
    """The Data API's wording varies; Redshift Serverless's own answer (an error code, a status) decides."""
    _data_api_error(harness, code, message)
    if workgroup == "missing":
        harness.serverless_stub.add_client_error("get_workgroup", "ResourceNotFoundException", "not found",
                                                 expected_params={"workgroupName": WORKGROUP})
    else:
        harness.serverless_stub.add_response("get_workgroup", _workgroup(workgroup), {"workgroupName": WORKGROUP})
    if namespace == "missing":
        harness.serverless_stub.add_client_error("get_namespace", "ResourceNotFoundException", "not found",
                                                 expected_params={"namespaceName": NAMESPACE})
    elif namespace is not None:
        harness.serverless_stub.add_response(
            "get_namespace", {"namespace": {"namespaceName": NAMESPACE, "status": namespace}},
            {"namespaceName": NAMESPACE})
    assert harness.run(event("Delete")) == {"IsComplete": True}


@pytest.mark.parametrize("probe", ["available", "access-denied"])
def test_delete_of_a_warehouse_that_is_there_reports_the_data_api_error(harness: Harness, probe: str) -> None:
    _data_api_error(harness, "ValidationException", "Secret not found.")
    if probe == "available":
        harness.serverless_stub.add_response("get_workgroup", _workgroup("AVAILABLE"), {"workgroupName": WORKGROUP})
        harness.serverless_stub.add_response("get_namespace", {"namespace": {"status": "AVAILABLE"}},
                                             {"namespaceName": NAMESPACE})
    else:  # cannot tell: never a reason to skip the Delete
        harness.serverless_stub.add_client_error("get_workgroup", "AccessDeniedException", "not authorized")
    with pytest.raises(CustomResourceError, match=r"^Redshift Data API: ValidationException: Secret not found"):
        harness.run(event("Delete"))


def test_a_missing_workgroup_fails_a_create_without_asking_serverless(harness: Harness) -> None:
    harness.expect_model(roles_state("analyst"))
    _data_api_error(harness, "ResourceNotFoundException", "Workgroup analytics not found.")
    with pytest.raises(CustomResourceError, match=r"ResourceNotFoundException: Workgroup analytics not found"):
        harness.run(event("Create"))


# ------------------------------------------------------------------------------------------- failures


@pytest.mark.parametrize(("sqls", "error", "shown_sql", "hidden"), [
    pytest.param(
        ['REVOKE USAGE ON SCHEMA "sales" FROM ROLE "x"', drop_role("x"), ledger_delete("x")],
        'ERROR: role "x" cannot be dropped because some objects depend on it',
        drop_role("x"), None, id="drop-role"),
    pytest.param(
        [create_role("emea"), "CREATE RLS POLICY \"region_only\" WITH (region VARCHAR(16)) USING "
                              "(region = 'EMEA-SECRET-42' OR region = 'it''s')", ledger_insert("emea")],
        'ERROR: column "region" does not exist in relation',
        "CREATE RLS POLICY \"region_only\" WITH (region VARCHAR(16)) USING (region = '***' OR region = '***')",
        "EMEA-SECRET-42", id="literals-redacted"),
])
def test_failed_sub_statement_is_reported_with_its_sql_and_redshifts_error(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, sqls: list[str], error: str, shown_sql: str,
        hidden: str | None) -> None:
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state())
    # The step is whatever the plan says; here the plan is replaced so the batch holds these statements.
    monkeypatch.setattr(reconciler_module, "steps", lambda *_, **__: [Step(tuple(sqls))])
    talk.read(catalog(fence=(EARLIER, 1)), seq=1)
    talk.claim((EARLIER, 1))
    talk.apply(sqls, seq=1, status="FAILED", failed=3, error=error)  # nothing after: no retry may be sent
    with pytest.raises(CustomResourceError) as raised:
        harness.run(update)
    message = str(raised.value)
    assert "statement 2 of batch 00001" in message and "rolled back" in message
    assert shown_sql in message and error in message
    if hidden:
        assert hidden not in message


@pytest.mark.parametrize(("error", "advised"), [
    ('ERROR: registered identity provider does not exist for "awsidc:sales"', True),
    # (not "already exists": a CREATE ROLE that finds its role reads again, tests/test_auto_created_roles.py)
    ('ERROR: permission denied to create role', False),
])
def test_a_missing_identity_provider_is_explained_with_its_fix(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                                                               error: str, advised: bool) -> None:
    """Redshift names only the role; the CloudFormation event also says what to fix and how to check it."""
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state())
    sqls = [create_role("AWSIDC:sales"), ledger_insert("AWSIDC:sales")]
    monkeypatch.setattr(reconciler_module, "steps", lambda *_, **__: [Step(tuple(sqls))])
    talk.read(catalog(fence=(EARLIER, 1)), seq=1)
    talk.claim((EARLIER, 1))
    talk.apply(sqls, seq=1, status="FAILED", failed=2, error=error)
    with pytest.raises(CustomResourceError) as raised:
        harness.run(update)
    message = str(raised.value)
    assert f"Redshift said: {error}" in message
    advice = ("associate the Serverless namespace with the Redshift IdC application" in message
              and "python -m redshift_idc verify --env <env> --outputs cdk-outputs.json" in message)
    assert advice is advised


def test_transient_failure_reads_again_and_retries_under_the_next_token(harness: Harness) -> None:
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    cut = [create_role("analyst"), ledger_insert("analyst")]
    talk.read(catalog(fence=(EARLIER, 1)), seq=1)
    talk.claim((EARLIER, 1))
    talk.apply(cut, seq=1, status="FAILED", failed=2, error="ERROR: 57014 Query cancelled on user's request")
    talk.read(catalog(fence=(talk.token, 0)), seq=2)  # re-plan from what is really there
    talk.apply(cut, seq=2, after=0)  # a new sequence number, so a new ClientToken: the failed one is not returned
    talk.read(catalog(["analyst"], ["analyst"], fence=(talk.token, 2)), seq=3)
    assert harness.run(update)["IsComplete"] is True


def test_transient_failures_give_up_after_three_retries(harness: Harness) -> None:
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    cut = [create_role("analyst"), ledger_insert("analyst")]
    for seq in range(1, 5):
        talk.read(catalog(fence=(talk.token, 0) if seq > 1 else (EARLIER, 1)), seq=seq)
        if seq == 1:
            talk.claim((EARLIER, 1))
        talk.apply(cut, seq=seq, after=0, status="FAILED", failed=2,
                   error="ERROR: 57014 Query cancelled on user's request")
    with pytest.raises(CustomResourceError, match=r"statement 1 of batch 00004 failed .* 57014 Query cancelled"):
        harness.run(update)


def test_throttling_beyond_botocores_retries_is_not_complete_yet(harness: Harness) -> None:
    """Stubber answers ahead of botocore's retry handler, so this error reaches the handler at once: it
    stands for throttling that outlasted every retry. The request is not failed: the next poll continues."""
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(fence=(EARLIER, 1)), seq=1)
    talk.claim((EARLIER, 1))
    harness.data.add_client_error("batch_execute_statement", "ThrottlingException", "Rate exceeded",
                                  http_status_code=400)
    assert harness.run(update) == {"IsComplete": False}

    # The next invocation reads again (the model is this request's, no batch of it committed yet: it confirms
    # again that no earlier statement runs) and submits step 1 (nothing was submitted before).
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(fence=(talk.token, 0)), seq=1)
    talk.listing()
    talk.apply([create_role("analyst"), ledger_insert("analyst")], seq=1)
    talk.read(catalog(["analyst"], ["analyst"], fence=(talk.token, 1)), seq=2)
    assert harness.run(update)["IsComplete"] is True


@pytest.mark.parametrize("code", ["ThrottlingException", "ActiveStatementsExceededException"])
def test_a_busy_data_api_while_polling_or_fetching_is_not_complete_yet(harness: Harness, code: str) -> None:
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    talk._submitted("batch_execute_statement", READ_SQLS, talk.name(1, "read"), ANY)
    harness.data.add_client_error("describe_statement", code, "slow down", http_status_code=400)
    assert harness.run(update) == {"IsComplete": False}


def test_throttled_calls_are_retried_by_the_lambdas_own_client(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Stubber here: is_complete builds its Data API client exactly as in Lambda (adaptive retries), and
    the HTTP exchange is answered in botocore's before-send hook, after which the real retry handler runs."""
    environment = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                   "AWS_EC2_METADATA_DISABLED": "true"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    # No real waiting: botocore's backoff sleep is recorded, the adaptive token bucket sees time fly.
    backoffs: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=backoffs.append))
    fake_now = iter(range(0, 10**9, 100))
    monkeypatch.setattr(botocore.retries.bucket.Clock, "current_time", lambda self: float(next(fake_now)))

    sent: list[tuple[str, dict[str, Any]]] = []

    def http(request: Any, **_: Any) -> AWSResponse:
        operation = dict(request.headers)["X-Amz-Target"].decode().split(".")[-1]
        sent.append((operation, json.loads(request.body)))
        body: dict[str, Any]
        if operation == "BatchExecuteStatement" and len(sent) == 1:
            status, body = 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        elif operation == "BatchExecuteStatement":
            status, body = 200, {"Id": "0d5e6f70-1111-4222-8333-944455556666", "CreatedAt": 1767225600}
        else:  # DescribeStatement: still running; the tiny budget below then ends the invocation
            status, body = 200, {"Id": "0d5e6f70-1111-4222-8333-944455556666", "Status": "STARTED"}
        raw = types.SimpleNamespace(stream=lambda **_: iter([json.dumps(body).encode()]))
        return AWSResponse(request.url, status, {"x-amzn-RequestId": "r"}, raw)

    session = boto3.Session()
    session.events.register("before-send.redshift-data", http)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    monkeypatch.setattr("redshift_idc.runtime.reconcile_handler.INVOCATION_BUDGET_SECONDS", 0.5)
    monkeypatch.setattr(statement_runner, "WAIT_GRACE_SECONDS", 0.0)

    delete = event("Delete")
    assert is_complete(delete, clock=FakeClock()) == {"IsComplete": False}
    assert [op for op, _ in sent][:2] == ["BatchExecuteStatement", "BatchExecuteStatement"]
    assert len(backoffs) == 1  # one retry, after botocore's (recorded, not slept) backoff
    first, retried = sent[0][1], sent[1][1]
    assert retried["ClientToken"] == first["ClientToken"]  # the retry is the same submission
    assert retried["WorkgroupName"] == WORKGROUP and retried["SecretArn"] == SECRET_ARN
    assert retried["StatementName"] == f"{PREFIX}:{token_of(delete)}:00001:read" and retried["Sqls"] == READ_SQLS


# ---------------------------------------------------------------------- pacing, progress, interrupts


def test_a_plan_of_fifty_roles_applies_its_batches_back_to_back(harness: Harness) -> None:
    create = event("Create")
    names = [f"role_{i:02d}" for i in range(50)]
    harness.expect_model(roles_state(*names))
    talk = harness.conversation(create)
    talk.page_size = 20  # GetStatementResult pages through the roles and the ledger
    talk.read(catalog(), seq=1)
    talk.claim()
    # Both batches of the plan, with no read between them (the plan is computed once per read): 37 roles and
    # their ledger row between the fence's guard and progress, then the rest.
    talk.apply([*(create_role(n) for n in names[:37]), ledger_insert(*names[:37])], seq=1)
    talk.apply([*(create_role(n) for n in names[37:]), ledger_insert(*names[37:])], seq=2)
    talk.read(catalog(names, names, fence=(talk.token, 2)), seq=3)  # read back to verify
    assert harness.run(create) == {"IsComplete": True, "Data": {"Result": "in sync"}}


def test_a_later_invocation_continues_from_the_fence_row(harness: Harness) -> None:
    update = event("Update")
    names = [f"role_{i:02d}" for i in range(50)]
    harness.expect_model(roles_state(*names))
    talk = harness.conversation(update)
    # An earlier invocation of this request claimed the model and committed step 1 (37 roles) and step 2 (a
    # grant); the read says so, and the next step is number 3, whatever this invocation has seen. No claim,
    # no listing: the model is this request's and its first batch committed after it confirmed.
    talk.read(catalog(names[:37], names[:37], fence=(talk.token, 2)), seq=1)
    talk.apply([*(create_role(n) for n in names[37:]), ledger_insert(*names[37:])], seq=3)
    talk.read(catalog(names, names, fence=(talk.token, 3)), seq=4)
    assert harness.run(update)["IsComplete"] is True


def test_a_step_an_interrupted_invocation_submitted_is_not_submitted_again(harness: Harness) -> None:
    """The read ran while the earlier invocation's batch was still running: the plan holds that batch
    again, and the same ClientToken makes the Data API answer with the earlier statement, which is waited
    for instead of a second one being started."""
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst", "auditor"))
    talk.read(catalog(fence=(talk.token, 1)), seq=1)
    talk.apply([create_role("analyst"), create_role("auditor"), ledger_insert("analyst", "auditor")], seq=2,
               running=1)
    talk.read(catalog(["analyst", "auditor"], ["analyst", "auditor"], fence=(talk.token, 2)), seq=3)
    assert harness.run(update)["IsComplete"] is True


def test_a_step_whose_place_an_earlier_attempt_took_is_refused_by_the_fence_then_read_again(
        harness: Harness) -> None:
    """An earlier attempt of this request committed another step 2 after this invocation's read: this step 2
    (another content, so another ClientToken) fails at its guard, changes nothing, and the reconciler reads
    again instead of reporting an error."""
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst", "auditor"))
    talk.read(catalog(fence=(talk.token, 1)), seq=1)
    talk.apply([create_role("analyst"), create_role("auditor"), ledger_insert("analyst", "auditor")], seq=2,
               status="FAILED", failed=1, error='ERROR: invalid input syntax for integer: "superseded"')
    talk.read(catalog(["analyst"], ["analyst"], fence=(talk.token, 2)), seq=3)
    talk.apply([create_role("auditor"), ledger_insert("auditor")], seq=3)
    talk.read(catalog(["analyst", "auditor"], ["analyst", "auditor"], fence=(talk.token, 3)), seq=4)
    assert harness.run(update)["IsComplete"] is True


def test_a_refused_repeated_token_finds_the_exact_step_across_pages_never_its_read(harness: Harness) -> None:
    """Should the Data API refuse a repeated ClientToken (with other parameters), the step's statement is looked
    up by its exact name, kind included, through every page of ListStatements: the read of the same step (listed
    first) is never taken for the script, which is waited for, not sent a second time."""
    create = event("Create")
    talk = harness.conversation(create)
    harness.expect_model(roles_state(), [SCRIPT])
    talk.read(catalog(fence=(talk.token, 1)), seq=1)
    script = [*SCRIPT_STATEMENTS, record_script_sql()]
    harness.data.add_client_error("batch_execute_statement", "ValidationException",
                                  "Idempotency token reused with different parameters", http_status_code=400,
                                  expected_params={"WorkgroupName": WORKGROUP, "Database": DATABASE,
                                                   "SecretArn": SECRET_ARN, "Sqls": talk.fenced(script, seq=2),
                                                   "StatementName": talk.name(2, "script"), "ClientToken": ANY})
    read_id, script_id = talk.new_id(), talk.new_id()

    def item(statement_id: str, name: str, status: str) -> dict[str, Any]:
        return {"Id": statement_id, "StatementName": name, "Status": status, "CreatedAt": T0, "UpdatedAt": T0,
                "QueryStrings": ["SELECT 1"], "IsBatchStatement": True}
    query = {"StatementName": talk.name(2, "script"), "Status": "ALL", "MaxResults": 100}
    harness.data.add_response("list_statements", {"Statements": [item(read_id, talk.name(2, "read"), "FINISHED")],
                                                  "NextToken": "page-2"}, query)
    harness.data.add_response("list_statements", {"Statements": [item(script_id, talk.name(2, "script"), "STARTED")]},
                              {**query, "NextToken": "page-2"})
    talk.describe(script_id, "STARTED", None)
    talk.describe(script_id, "FINISHED", talk.fenced(script, seq=2))
    talk.read(catalog(scripts=[(SCRIPT["Name"], SCRIPT["Checksum"])], fence=(talk.token, 2)), seq=3)
    assert harness.run(create)["IsComplete"] is True


def test_a_stuck_batch_is_cancelled_and_retried_once_from_a_fresh_read(harness: Harness,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statement_runner, "STATEMENT_STUCK_SECONDS", 3.0)  # each poll below is 10 s apart
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    cut = [create_role("analyst"), ledger_insert("analyst")]
    talk.read(catalog(fence=(talk.token, 1)), seq=1)
    stuck = talk.submitted(cut, seq=2)
    talk.describe(stuck, "STARTED", None)
    harness.data.add_response("cancel_statement", {"Status": True}, {"Id": stuck})
    talk.describe(stuck, "ABORTED", talk.fenced(cut, seq=2))
    talk.read(catalog(fence=(talk.token, 1)), seq=3)
    talk.apply(cut, seq=3, after=1)
    talk.read(catalog(["analyst"], ["analyst"], fence=(talk.token, 3)), seq=4)
    assert harness.run(update, FakeClock(step=10.0))["IsComplete"] is True


def test_a_batch_stuck_twice_fails_naming_the_bound(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statement_runner, "STATEMENT_STUCK_SECONDS", 1.0)
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    cut = [create_role("analyst"), ledger_insert("analyst")]
    for read, seq in ((1, 2), (3, 3)):  # the first read is named before it says where the request stands
        talk.read(catalog(fence=(talk.token, 1)), seq=read)
        stuck = talk.submitted(cut, seq=seq, after=1)
        talk.describe(stuck, "STARTED", None)
        harness.data.add_response("cancel_statement", {"Status": True}, {"Id": stuck})
        talk.describe(stuck, "ABORTED", talk.fenced(cut, seq=seq, after=1))
    with pytest.raises(CustomResourceError, match=r"step 3 was still running 1.0 s after it was submitted, twice"):
        harness.run(update, FakeClock(step=10.0))


def test_a_batch_still_running_when_the_budget_ends_is_left_to_the_next_invocation(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("redshift_idc.runtime.reconcile_handler.INVOCATION_BUDGET_SECONDS", 15.0)
    monkeypatch.setattr(statement_runner, "WAIT_GRACE_SECONDS", 3.0)
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(fence=(talk.token, 1)), seq=1)  # read at 10 s: within the budget
    running = talk.submitted([create_role("analyst"), ledger_insert("analyst")], seq=2)
    talk.describe(running, "STARTED", None)  # at 20 s: past budget and grace; the next invocation waits for it
    assert harness.run(update, FakeClock(step=10.0)) == {"IsComplete": False}


def test_the_apply_deadline_fails_the_request_before_cloudformation_would(harness: Harness) -> None:
    clock = FakeClock()
    late = event("Update", deadline=clock.now + 0.5)
    harness.expect_model(roles_state("analyst"))
    with pytest.raises(CustomResourceError, match=r"stopped at the apply deadline.*3,600 s.*role_grants"):
        harness.run(late, clock)


def test_a_batch_running_at_the_deadline_is_cancelled_before_failing(harness: Harness) -> None:
    clock = FakeClock(step=10.0)
    update = event("Update", deadline=clock.now + 15.0)
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(fence=(talk.token, 1)), seq=1)  # at 10 s
    running = talk.submitted([create_role("analyst"), ledger_insert("analyst")], seq=2)
    talk.describe(running, "STARTED", None)  # at 20 s: past the deadline
    harness.data.add_response("cancel_statement", {"Status": True}, {"Id": running})
    talk.describe(running, "ABORTED", None)
    with pytest.raises(CustomResourceError, match=r"apply deadline.*cancelled and rolled back"):
        harness.run(update, clock)


def test_a_batch_that_committed_twice_without_effect_stops_the_loop(harness: Harness) -> None:
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("Analyst"))
    # Managed (in the ledger) but missing: re-created, and its ledger row replaced, twice; still not visible.
    # (The row keeps the role name's case, as this version writes it: `access_state.role_key`.)
    cut = [create_role("Analyst"), ledger_delete("Analyst"), ledger_insert("Analyst")]
    for seq in (1, 2):
        talk.read(catalog(managed=["Analyst"], fence=(talk.token, seq - 1) if seq > 1 else None), seq=seq)
        if seq == 1:
            talk.claim()
        talk.apply(cut, seq=seq)
    talk.read(catalog(managed=["Analyst"], fence=(talk.token, 2)), seq=3)
    with pytest.raises(CustomResourceError, match=r"same batch committed twice.*CREATE ROLE \"Analyst\""):
        harness.run(update)


# ------------------------------------------------------------------------------------------- secadmin


GRANT_SECADMIN = f'GRANT ROLE "sys:secadmin" TO "{USER}"'


def test_user_without_secadmin_is_granted_it_before_any_plan(harness: Harness) -> None:
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(secadmin=False), seq=1)
    talk.claim()
    talk.apply([GRANT_SECADMIN], seq=1, kind="grant-secadmin")
    talk.read(catalog(fence=(talk.token, 1)), seq=2)
    talk.apply([create_role("analyst"), ledger_insert("analyst")], seq=2)
    talk.read(catalog(["analyst"], ["analyst"], fence=(talk.token, 2)), seq=3)
    assert harness.run(update)["IsComplete"] is True


def test_secadmin_still_missing_after_the_grant_is_an_error(harness: Harness) -> None:
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(secadmin=False), seq=1)
    talk.claim()
    talk.apply([GRANT_SECADMIN], seq=1, kind="grant-secadmin")
    talk.read(catalog(secadmin=False, fence=(talk.token, 1)), seq=2)
    with pytest.raises(CustomResourceError, match=r"user admin still lacks sys:secadmin"):
        harness.run(update)


# ------------------------------------------------------------------------------------------- scripts


SCRIPT_SQL = ("CREATE SCHEMA IF NOT EXISTS sales;\n"
              "-- a comment; with a semicolon\n"
              "CREATE TABLE IF NOT EXISTS sales.orders (id INT, note VARCHAR(20) DEFAULT 'a;b');\n")
SCRIPT = script_entry("001_sales.sql", SCRIPT_SQL)
SCRIPT_STATEMENTS = ["CREATE SCHEMA IF NOT EXISTS sales",
                     "CREATE TABLE IF NOT EXISTS sales.orders (id INT, note VARCHAR(20) DEFAULT 'a;b')"]


def record_script_sql() -> str:
    return (f"INSERT INTO {SCRIPT_TABLE} (model_name, script_name, checksum) VALUES "  # noqa: S608
            f"('{MODEL}', '{SCRIPT['Name']}', '{SCRIPT['Checksum']}')")


def test_a_pending_script_runs_once_before_the_access_ddl(harness: Harness) -> None:
    create = event("Create")
    talk = harness.conversation(create)
    harness.expect_model(roles_state("analyst"), [SCRIPT])
    applied = [(SCRIPT["Name"], SCRIPT["Checksum"])]
    talk.read(catalog(), seq=1)
    talk.claim()
    talk.apply([*SCRIPT_STATEMENTS, record_script_sql()], seq=1, kind="script")
    talk.read(catalog(scripts=applied, fence=(talk.token, 1)), seq=2)
    talk.apply([create_role("analyst"), ledger_insert("analyst")], seq=2)
    talk.read(catalog(["analyst"], ["analyst"], scripts=applied, fence=(talk.token, 2)), seq=3)  # not again
    assert harness.run(create)["IsComplete"] is True


def test_a_changed_script_is_refused(harness: Harness) -> None:
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"), [SCRIPT])
    talk.read(catalog(["analyst"], ["analyst"], scripts=[(SCRIPT["Name"], "0" * 64)], fence=(EARLIER, 4)), seq=1)
    talk.claim((EARLIER, 4))
    with pytest.raises(CustomResourceError, match=r"script 001_sales.sql was applied with checksum 000000000000"):
        harness.run(update)


def test_a_script_too_long_for_one_transaction_is_refused(harness: Harness) -> None:
    long_sql = "".join(f"CREATE SCHEMA IF NOT EXISTS s{i};\n" for i in range(38))
    script = script_entry("002_many.sql", long_sql)
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state(), [script])
    talk.read(catalog(), seq=1)
    talk.claim()
    # 40 statements a batch: the script's, its record, the fence's guard and progress.
    with pytest.raises(CustomResourceError, match=r"002_many.sql has 38 statements; at most 37 fit"):
        harness.run(update)


# -------------------------------------------------------------------------- regressions (bugs fixed)


def test_a_repeated_request_does_not_reuse_an_earlier_requests_statements() -> None:
    # The stack was deleted and created again with the same model within the Data API's 8 hours: the
    # request token differs, so neither names nor ClientTokens can match an earlier request's statements.
    first = token_of(event("Create", request_id="3b0c0f4e-0000-4000-8000-00000000000a"))
    again = token_of(event("Create", request_id="3b0c0f4e-0000-4000-8000-00000000000b"))
    assert first != again and not f"{first}-00001".startswith(again)


def test_adopting_many_long_named_grants_keeps_every_statement_under_100_kb(harness: Harness) -> None:
    long = "x" * 110
    grantee = f"{long}_role"
    privileges = [ColumnPrivilege(f"{long}_s", f"{long}_t", f"{long}_{i:03d}", "SELECT", grantee) for i in range(200)]
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(AccessState.of([Role(grantee), *privileges]))
    rows = catalog([grantee], fence=(talk.token, 1))  # all exists already, none recorded: adopt only
    rows["column_privileges"] = [(p.schema, p.table, p.column, p.privilege, p.grantee, "role") for p in privileges]
    talk.read(rows, seq=1)
    sent: list[list[str]] = []
    harness.data.add_response("batch_execute_statement", {"Id": str(uuid.UUID(int=7))},
                              {"WorkgroupName": WORKGROUP, "Database": DATABASE, "SecretArn": SECRET_ARN,
                               "Sqls": ANY, "StatementName": talk.name(2, "apply"), "ClientToken": ANY})
    harness.api.client.meta.events.register("provide-client-params.redshift-data.BatchExecuteStatement",
                                            lambda params, **_: sent.append(list(params["Sqls"])))
    harness.data.add_client_error("describe_statement", "ThrottlingException", "Rate exceeded")  # ends here
    assert harness.run(update) == {"IsComplete": False}
    ledger = sent[-1][1:-1]
    assert ledger and all(sql.startswith(f"INSERT INTO {LEDGER_TABLE}") for sql in ledger)  # no DDL
    assert (sent[-1][0], sent[-1][-1]) == (guard_sql(talk.token, 1), advance_sql(2))
    assert max(len(sql.encode("utf-8")) for sql in sent[-1]) <= 100_000

"""The access-model custom resource (`Custom::AccessModel`) against botocore's Stubber.

Every Data API and S3 call `on_event`/`is_complete` make is checked against the real service model, in
order, with its parameters: a call the scenario did not expect (an apply batch when nothing changed, a
read after a fatal failure) fails the test. `Warehouse` queues the responses of one converge
conversation (ListStatements -> BatchExecuteStatement -> DescribeStatement -> GetStatementResult ...)
the way the Redshift Data API would answer them; `FakeClock` makes the poll loop sleep in no time.
"""

from __future__ import annotations

import hashlib
import io
import json
import types
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.endpoint
import botocore.retries.bucket
import pytest
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from components.access_reconciler import model_document
from redshift_idc.runtime.access_state import AccessState, ColumnPrivilege, Role
from redshift_idc.runtime.catalog import read_queries
from redshift_idc.runtime.custom_resource import CustomResourceError, CustomResourceEvent
from redshift_idc.runtime.data_api import DataApi, Target
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.reconcile_handler import (
    POLL_SECONDS,
    STEP_BUDGET_SECONDS,
    build_request,
    is_complete,
    on_event,
)

WORKGROUP = "analytics"
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
T0 = datetime(2025, 1, 1, tzinfo=UTC)

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


def catalog(roles: Sequence[str] = (), managed: Sequence[str] = (), *, secadmin: bool = True,
            scripts: Sequence[tuple[str, str]] = ()) -> dict[str, list[Row]]:
    """Rows of the read batch, by query name: what the SVV views and our ledger tables hold."""
    return {
        "whoami": [(USER, True)],
        "secadmin": [(1 if secadmin else 0,)],
        "roles": [(r,) for r in (*SYSTEM_ROLES, *roles)],
        "ledger": [("role", json.dumps([r], separators=(",", ":")), "") for r in sorted(managed)],
        "scripts": list(scripts),
    }


def roles_state(*names: str) -> AccessState:
    return AccessState.of(Role(n) for n in names)


# ------------------------------------------------------------------------------------------- harness


def event(request_type: str, *, model_hash: str = "hash-1", physical_id: str | None = PHYSICAL_ID,
          request_id: str = "3b0c0f4e-0000-4000-8000-000000000001", **overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:provider",
        "WorkgroupName": WORKGROUP, "Database": DATABASE, "SecretArn": SECRET_ARN, "ModelName": MODEL,
        "LedgerSchema": "redshift_idc", "Prune": "false", "CaseSensitive": "false", "RemovalPolicy": "destroy",
        "ModelBucket": BUCKET, "ModelKey": KEY, "ModelHash": model_hash,
    }
    props.update(overrides)
    result: dict[str, Any] = {
        "RequestType": request_type, "RequestId": request_id, "ResourceType": "Custom::AccessModel",
        "LogicalResourceId": "AccessModel", "ResourceProperties": props,
        "StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/access/0a1b2c3d",
    }
    if physical_id is not None:
        result["PhysicalResourceId"] = physical_id
    return result


def token_of(cfn_event: dict[str, Any]) -> str:
    """The statement-name prefix the handler derives for this request (its own function, so a change of
    the derivation does not break every test; its shape is asserted separately)."""
    return build_request(CustomResourceEvent.from_dict(cfn_event), None).token


class FakeClock:
    """`monotonic`/`sleep` without waiting. With `steps`, the budget is spent after that many steps."""

    def __init__(self, steps: int | None = None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.calls = 0
        self.steps = steps

    def monotonic(self) -> float:
        self.calls += 1  # the first call sets the deadline; each later one follows a step
        if self.steps is not None and self.calls > self.steps:
            return self.now + 10 * STEP_BUDGET_SECONDS
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def cell(value: Any) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    return {"stringValue": str(value)}


@dataclass
class Batch:
    id: str
    name: str
    sqls: list[str]
    status: str
    created_at: datetime


@dataclass
class Warehouse:
    """Queues the Data API's answers to one request's converge conversation, in call order."""

    stubber: Stubber
    token: str
    batches: list[Batch] = field(default_factory=list)
    page_size: int = 1000
    list_page_size: int = 100

    @property
    def prefix(self) -> str:
        return f"{self.token}:"

    def _new(self, step: str, sqls: Sequence[str], status: str) -> Batch:
        seq = len(self.batches) + 1
        batch = Batch(str(uuid.UUID(int=seq + 0xABC000)), f"{self.token}:{seq:05d}:{step}", list(sqls), status,
                      T0 + timedelta(seconds=seq))
        self.batches.append(batch)
        return batch

    def history(self, step: str, sqls: Sequence[str], status: str = "FINISHED") -> Batch:
        """A batch an earlier is_complete call submitted."""
        return self._new(step, sqls, status)

    def list_statements(self) -> None:
        """One ListStatements (paged by `list_page_size`); the service answers newest first."""
        statements = [{
            "Id": b.id, "StatementName": b.name, "Status": b.status, "CreatedAt": b.created_at,
            "UpdatedAt": b.created_at + timedelta(seconds=1), "QueryStrings": list(b.sqls), "IsBatchStatement": True,
            "SecretArn": SECRET_ARN,
        } for b in reversed(self.batches)]
        size = self.list_page_size
        pages = [statements[i:i + size] for i in range(0, len(statements), size)] or [[]]
        for index, page in enumerate(pages):
            params: dict[str, Any] = {"StatementName": self.prefix, "Status": "ALL", "MaxResults": 100}
            if index:
                params["NextToken"] = f"list-{index}"
            response: dict[str, Any] = {"Statements": page}
            if index + 1 < len(pages):
                response["NextToken"] = f"list-{index + 1}"
            self.stubber.add_response("list_statements", response, params)

    def submit(self, step: str, sqls: Sequence[str], status: str = "FINISHED") -> Batch:
        """An expected BatchExecuteStatement: exactly these Sqls, this name, this target."""
        batch = self._new(step, sqls, status)
        self.stubber.add_response(
            "batch_execute_statement",
            {"Id": batch.id, "CreatedAt": batch.created_at, "Database": DATABASE, "WorkgroupName": WORKGROUP,
             "SecretArn": SECRET_ARN},
            {"WorkgroupName": WORKGROUP, "Database": DATABASE, "SecretArn": SECRET_ARN, "Sqls": list(sqls),
             "StatementName": batch.name},
        )
        return batch

    def _describe(self, batch: Batch, subs: list[dict[str, Any]], **extra: Any) -> None:
        response = {"Id": batch.id, "Status": batch.status, "CreatedAt": batch.created_at,
                    "UpdatedAt": batch.created_at + timedelta(seconds=1), "Database": DATABASE,
                    "WorkgroupName": WORKGROUP, "SecretArn": SECRET_ARN, "SubStatements": subs, **extra}
        self.stubber.add_response("describe_statement", response, {"Id": batch.id})

    def describe_read(self, batch: Batch, rows: Mapping[str, Sequence[Row]]) -> None:
        """DescribeStatement of a finished read, then GetStatementResult (paged) per sub-statement with rows."""
        assert batch.name.endswith(":read") and batch.sqls == READ_SQLS
        subs = [{"Id": f"{batch.id}:{n}", "Status": "FINISHED", "QueryString": sql,
                 "HasResultSet": not name.startswith("bootstrap_"), "ResultRows": len(rows.get(name, ())),
                 "CreatedAt": batch.created_at, "UpdatedAt": batch.created_at}
                for n, (name, sql) in enumerate(QUERIES, start=1)]
        self._describe(batch, subs, HasResultSet=True)
        for (name, _), sub in zip(QUERIES, subs, strict=True):
            if not sub["HasResultSet"]:
                continue
            records = list(rows.get(name, ()))
            pages = [records[i:i + self.page_size] for i in range(0, len(records), self.page_size)] or [[]]
            for index, page in enumerate(pages):
                params: dict[str, Any] = {"Id": sub["Id"]}
                if index:
                    params["NextToken"] = f"page-{index}"
                response: dict[str, Any] = {
                    "Records": [[cell(v) for v in row] for row in page], "TotalNumRows": len(records),
                    "ColumnMetadata": [{"name": f"c{i}", "typeName": "varchar"} for i in range(len(page[0]))]
                    if page else [],
                }
                if index + 1 < len(pages):
                    response["NextToken"] = f"page-{index + 1}"
                self.stubber.add_response("get_statement_result", response, params)

    def describe_failed(self, batch: Batch, failed: int, error: str) -> None:
        """DescribeStatement of a failed batch: sub-statement `failed` (1-based) failed, later ones aborted."""
        subs = []
        for n, sql in enumerate(batch.sqls, start=1):
            sub: dict[str, Any] = {"Id": f"{batch.id}:{n}", "QueryString": sql, "HasResultSet": False,
                                   "Status": "FINISHED" if n < failed else "FAILED" if n == failed else "ABORTED"}
            if n == failed:
                sub["Error"] = error
            subs.append(sub)
        self._describe(batch, subs, Error=error)

    # -- whole steps of the reconciler

    def step_read(self) -> Batch:
        """A step that finds no finished read last and submits one."""
        self.list_statements()
        return self.submit("read", READ_SQLS)

    def step_act(self, rows: Mapping[str, Sequence[Row]], then: tuple[str, Sequence[str]] | None = None,
                 ) -> Batch | None:
        """A step that plans from the last (finished) read and submits `then`, or finishes when None."""
        self.list_statements()
        self.describe_read(self.batches[-1], rows)
        return self.submit(*then) if then else None


@dataclass
class Harness:
    api: DataApi
    data: Stubber
    s3: Any
    s3_stub: Stubber
    clocks: list[FakeClock] = field(default_factory=list)

    def warehouse(self, cfn_event: dict[str, Any]) -> Warehouse:
        return Warehouse(self.data, token_of(cfn_event))

    def expect_model(self, desired: AccessState, scripts: Sequence[dict[str, str]] = ()) -> None:
        data = model_document(desired, scripts).encode("utf-8")
        self.s3_stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(data), len(data)),
                                                 "ContentLength": len(data)}, {"Bucket": BUCKET, "Key": KEY})

    def run(self, cfn_event: dict[str, Any], steps: int | None = None) -> dict[str, Any]:
        clock = FakeClock(steps)
        self.clocks.append(clock)
        return is_complete(cfn_event, api=self.api, s3=self.s3, clock=clock)


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


@pytest.fixture
def harness() -> Iterator[Harness]:
    data_client, data = stubbed("redshift-data")
    s3, s3_stub = stubbed("s3")
    with data, s3_stub:
        yield Harness(DataApi(Target(WORKGROUP, DATABASE, SECRET_ARN), client=data_client), data, s3, s3_stub)
        data.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()


# ------------------------------------------------------------------------------------------- on_event


def test_on_event_names_the_resource_by_target_and_model_only() -> None:
    create = on_event(event("Create", model_hash="aaa", physical_id=None))
    update = on_event(event("Update", model_hash="bbb"))
    assert create == update == {"PhysicalResourceId": PHYSICAL_ID}
    other = on_event(event("Update", ModelName="finance"))
    assert other == {"PhysicalResourceId": f"access-model:{WORKGROUP}/{DATABASE}/finance"}


@pytest.mark.parametrize("name", ["WorkgroupName", "Database", "SecretArn", "ModelName", "ModelBucket", "ModelKey",
                                  "ModelHash"])
@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_on_event_refuses_a_missing_property_naming_it(request_type: str, name: str) -> None:
    cfn_event = event(request_type)
    del cfn_event["ResourceProperties"][name]
    with pytest.raises(CustomResourceError, match=rf"property {name} is missing"):
        on_event(cfn_event)


def test_on_event_delete_keeps_the_incoming_physical_id() -> None:
    assert on_event(event("Delete", physical_id="access-model:old-wg/dev/sales")) == {
        "PhysicalResourceId": "access-model:old-wg/dev/sales"}
    # A Create that failed before naming the resource: the id is not ours, so is_complete skips it.
    assert not on_event(event("Delete", physical_id=None))["PhysicalResourceId"].startswith("access-model:")


def test_statement_names_are_a_short_name_safe_prefix_per_request() -> None:
    token = token_of(event("Create"))
    assert token.startswith("rsidc-") and len(token) == 26 and token[6:].isalnum()
    assert token_of(event("Create", model_hash="other")) != token
    assert token_of(event("Update")) != token


# ---------------------------------------------------------------------------------- create / update


def test_create_from_an_empty_warehouse_reads_applies_then_confirms(harness: Harness) -> None:
    create = event("Create")
    desired = roles_state("analyst")
    wh = harness.warehouse(create)

    # First call: nothing of ours exists yet, so the first thing sent is a read batch (one snapshot).
    harness.expect_model(desired)
    read = wh.step_read()
    assert harness.run(create, steps=1) == {"IsComplete": False}
    harness.data.assert_no_pending_responses()

    # Second call (stateless: it finds its place by listing its statements): the read is still running,
    # then it finished, showing an empty catalog; the apply creates the role and records it in the ledger.
    harness.expect_model(desired)
    read.status = "STARTED"
    wh.list_statements()
    read.status = "FINISHED"
    wh.step_act(catalog(), then=("apply", [create_role("analyst"), ledger_insert("analyst")]))
    wh.step_read()
    wh.step_act(catalog(["analyst"], ["analyst"]))
    result = harness.run(create)
    assert result == {"IsComplete": True, "Data": {"Result": "in sync"}}
    assert harness.clocks[-1].sleeps == [POLL_SECONDS] * 3


def test_update_without_change_sends_no_ddl(harness: Harness) -> None:
    update = event("Update", model_hash="hash-2")
    wh = harness.warehouse(update)
    harness.expect_model(roles_state("Analyst", "auditor"))  # case folds like Redshift stores names
    wh.step_read()
    wh.step_act(catalog(["analyst", "auditor"], ["analyst", "auditor"]))  # no `then`: any batch fails the test
    assert harness.run(update) == {"IsComplete": True, "Data": {"Result": "in sync"}}
    assert [b.name.rsplit(":", 1)[-1] for b in wh.batches] == ["read"]


def test_update_adding_a_role_sends_exactly_its_ddl_and_ledger_row(harness: Harness) -> None:
    update = event("Update", model_hash="hash-3")
    wh = harness.warehouse(update)
    harness.expect_model(roles_state("analyst", "auditor"))
    wh.step_read()
    wh.step_act(catalog(["analyst", "adhoc"], ["analyst"]),
                then=("apply", [create_role("auditor"), ledger_insert("auditor")]))
    wh.step_read()
    wh.step_act(catalog(["adhoc", "analyst", "auditor"], ["analyst", "auditor"]))
    assert harness.run(update)["IsComplete"] is True


# ------------------------------------------------------------------------------------------- delete


def test_delete_drops_only_managed_roles(harness: Harness) -> None:
    delete = event("Delete")
    wh = harness.warehouse(delete)  # no S3 read is expected: a Delete needs no model
    wh.step_read()
    wh.step_act(catalog(["adhoc", "analyst"], ["analyst"]),
                then=("apply", [drop_role("analyst"), ledger_delete("analyst")]))
    wh.step_read()
    wh.step_act(catalog(["adhoc"]))
    assert harness.run(delete) == {"IsComplete": True, "Data": {"Result": "in sync"}}


@pytest.mark.parametrize("cfn_event", [
    pytest.param(event("Delete", RemovalPolicy="retain"), id="retain"),
    pytest.param(event("Delete", RemovalPolicy="RETAIN"), id="retain-upper-case"),
    pytest.param(event("Delete", physical_id=on_event(event("Delete", physical_id=None))["PhysicalResourceId"]),
                 id="failed-create-marker"),
    pytest.param(event("Delete", physical_id="2025/01/01/[$LATEST]0123456789abcdef"), id="foreign-id"),
])
def test_delete_that_must_not_touch_the_warehouse_makes_no_call(harness: Harness, cfn_event: dict[str, Any]) -> None:
    # Nothing is queued on either stubber: any Data API or S3 call would fail the test.
    assert harness.run(cfn_event) == {"IsComplete": True}


@pytest.mark.parametrize(("operation", "code", "message"), [
    ("batch_execute_statement", "ValidationException", "Workgroup analytics not found."),
    ("batch_execute_statement", "ResourceNotFoundException", "Workgroup analytics does not exist."),
    ("list_statements", "ResourceNotFoundException", "workgroup analytics not found"),
])
def test_delete_when_the_workgroup_is_gone_completes(harness: Harness, operation: str, code: str,
                                                     message: str) -> None:
    delete = event("Delete")
    wh = harness.warehouse(delete)
    if operation == "batch_execute_statement":
        wh.list_statements()
    fields = {"Message": message, "ResourceId": WORKGROUP} if code == "ResourceNotFoundException" else None
    harness.data.add_client_error(operation, code, message, http_status_code=400, modeled_fields=fields)
    assert harness.run(delete) == {"IsComplete": True}


def test_workgroup_not_found_fails_a_create_and_other_errors_fail_a_delete(harness: Harness) -> None:
    create = event("Create")
    harness.expect_model(roles_state("analyst"))
    harness.warehouse(create).list_statements()
    harness.data.add_client_error("batch_execute_statement", "ValidationException", "Workgroup analytics not found.")
    with pytest.raises(CustomResourceError, match=r"ValidationException: Workgroup analytics not found"):
        harness.run(create)

    delete = event("Delete")
    harness.warehouse(delete).list_statements()
    harness.data.add_client_error("batch_execute_statement", "ValidationException", "Secret not found.")
    with pytest.raises(CustomResourceError, match=r"Redshift Data API: ValidationException: Secret not found"):
        harness.run(delete)


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
        harness: Harness, sqls: list[str], error: str, shown_sql: str, hidden: str | None) -> None:
    update = event("Update")
    wh = harness.warehouse(update)
    harness.expect_model(roles_state())
    wh.history("read", READ_SQLS)
    apply = wh.history("apply", sqls, status="FAILED")
    wh.list_statements()
    wh.describe_failed(apply, failed=2, error=error)  # nothing after: no retry read may be submitted
    with pytest.raises(CustomResourceError) as raised:
        harness.run(update)
    message = str(raised.value)
    assert "statement 2 of batch 00002" in message and "rolled back" in message
    assert shown_sql in message and error in message
    if hidden:
        assert hidden not in message


def test_transient_failure_reads_again_instead_of_failing(harness: Harness) -> None:
    update = event("Update")
    wh = harness.warehouse(update)
    harness.expect_model(roles_state("analyst"))
    wh.history("read", READ_SQLS)
    apply = wh.history("apply", [create_role("analyst"), ledger_insert("analyst")], status="FAILED")
    wh.list_statements()
    wh.describe_failed(apply, failed=1, error="ERROR: 57014 Query cancelled on user's request")
    wh.submit("read", READ_SQLS)  # seq 3: re-read, then re-plan from what is really there
    assert harness.run(update, steps=1) == {"IsComplete": False}


def test_transient_failures_give_up_after_three_retries(harness: Harness) -> None:
    update = event("Update")
    wh = harness.warehouse(update)
    harness.expect_model(roles_state("analyst"))
    cut = [create_role("analyst"), ledger_insert("analyst")]
    for _ in range(4):
        wh.history("read", READ_SQLS)
        last = wh.history("apply", cut, status="FAILED")
    wh.list_statements()
    wh.describe_failed(last, failed=1, error="ERROR: 57014 Query cancelled on user's request")
    with pytest.raises(CustomResourceError, match=r"statement 1 of batch 00008 failed .* 57014 Query cancelled"):
        harness.run(update)


def test_throttling_that_outlasts_botocores_retries_fails_naming_the_code(harness: Harness) -> None:
    """Stubber answers in the client's before-call hook, ahead of botocore's retry handler, so this error
    reaches the handler at once: it stands for throttling that outlasted every retry (the retry itself is
    exercised in the next test, against the client the Lambda really builds)."""
    harness.data.add_client_error("list_statements", "ThrottlingException", "Rate exceeded", http_status_code=400)
    with pytest.raises(CustomResourceError, match=r"^Redshift Data API: ThrottlingException: Rate exceeded$"):
        harness.run(event("Delete"))


def test_throttled_list_statements_is_retried_by_the_lambdas_own_client(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Stubber here: is_complete builds its Data API client exactly as in Lambda (adaptive retries), and
    the HTTP exchange is answered in botocore's before-send hook, after which the real retry handler runs."""
    environment = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                   "AWS_EC2_METADATA_DISABLED": "true"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
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
        if operation == "ListStatements" and len(sent) == 1:
            status, body = 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        elif operation == "ListStatements":
            status, body = 200, {"Statements": []}
        else:
            status, body = 200, {"Id": "0d5e6f70-1111-4222-8333-944455556666", "CreatedAt": 1735689600}
        raw = types.SimpleNamespace(stream=lambda **_: iter([json.dumps(body).encode()]))
        return AWSResponse(request.url, status, {"x-amzn-RequestId": "r"}, raw)

    session = boto3.Session()
    session.events.register("before-send.redshift-data", http)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)

    delete = event("Delete")
    assert is_complete(delete, clock=FakeClock(steps=1)) == {"IsComplete": False}
    assert [op for op, _ in sent] == ["ListStatements", "ListStatements", "BatchExecuteStatement"]
    assert len(backoffs) == 1  # one retry, after botocore's (recorded, not slept) backoff
    submitted = sent[-1][1]
    assert submitted["WorkgroupName"] == WORKGROUP and submitted["SecretArn"] == SECRET_ARN
    assert submitted["StatementName"] == f"{token_of(delete)}:00001:read" and submitted["Sqls"] == READ_SQLS


# ------------------------------------------------------------------------------------------- batching


def test_a_plan_of_fifty_roles_is_cut_into_batches_of_at_most_forty(harness: Harness) -> None:
    create = event("Create")
    names = [f"role_{i:02d}" for i in range(50)]
    harness.expect_model(roles_state(*names))
    wh = harness.warehouse(create)
    wh.page_size = 20  # GetStatementResult pages through the roles and the ledger,
    wh.list_page_size = 2  # ListStatements through our statements
    first = [*(create_role(n) for n in names[:38]), ledger_insert(*names[:38])]
    second = [*(create_role(n) for n in names[38:]), ledger_insert(*names[38:])]
    wh.step_read()
    wh.step_act(catalog(), then=("apply", first))
    # The plan's second batch follows the first without another read: the plan is a pure function of
    # the last read (cached within the invocation), and the count of batches since it says which is next.
    wh.list_statements()
    wh.submit("apply", second)
    wh.list_statements()
    wh.submit("read", READ_SQLS)  # all batches applied: read back to verify
    wh.step_act(catalog(names, names))
    assert harness.run(create) == {"IsComplete": True, "Data": {"Result": "in sync"}}
    assert len(first) <= 40 and len(second) <= 40


def test_a_later_invocation_continues_with_the_next_batch_of_the_same_plan(harness: Harness) -> None:
    update = event("Update")
    names = [f"role_{i:02d}" for i in range(50)]
    harness.expect_model(roles_state(*names))
    wh = harness.warehouse(update)
    read = wh.history("read", READ_SQLS)
    wh.history("apply", [*(create_role(n) for n in names[:38]), ledger_insert(*names[:38])])
    wh.list_statements()
    wh.describe_read(read, catalog())  # nothing cached in a new invocation: the last read is fetched again
    wh.submit("apply", [*(create_role(n) for n in names[38:]), ledger_insert(*names[38:])], status="STARTED")
    assert harness.run(update, steps=1) == {"IsComplete": False}


def test_the_step_budget_is_kept_without_really_sleeping(harness: Harness) -> None:
    update = event("Update")
    wh = harness.warehouse(update)
    harness.expect_model(roles_state())
    wh.history("read", READ_SQLS, status="PICKED")
    steps = int(STEP_BUDGET_SECONDS / POLL_SECONDS)
    for _ in range(steps):
        wh.list_statements()  # the batch never finishes: each step only lists and waits
    assert harness.run(update) == {"IsComplete": False}
    assert harness.clocks[-1].sleeps == [POLL_SECONDS] * (steps - 1)


def test_a_batch_that_committed_twice_without_effect_stops_the_loop(harness: Harness) -> None:
    update = event("Update")
    wh = harness.warehouse(update)
    harness.expect_model(roles_state("Analyst"))
    # Managed (in the ledger) but missing: re-created, and its ledger row replaced.
    cut = [create_role("Analyst"), ledger_delete("analyst"), ledger_insert("analyst")]
    for _ in range(2):
        wh.history("read", READ_SQLS)
        wh.history("apply", cut)
    wh.history("read", READ_SQLS)
    wh.list_statements()
    wh.describe_read(wh.batches[-1], catalog(managed=["analyst"]))  # the role still is not visible
    with pytest.raises(CustomResourceError, match=r"same batch committed twice.*CREATE ROLE \"Analyst\""):
        harness.run(update)


# ------------------------------------------------------------------------------------------- secadmin


GRANT_SECADMIN = f'GRANT ROLE "sys:secadmin" TO "{USER}"'


def test_user_without_secadmin_is_granted_it_before_any_plan(harness: Harness) -> None:
    update = event("Update")
    wh = harness.warehouse(update)
    harness.expect_model(roles_state("analyst"))
    wh.step_read()
    wh.step_act(catalog(secadmin=False), then=("grant-secadmin", [GRANT_SECADMIN]))
    wh.step_read()
    wh.step_act(catalog(), then=("apply", [create_role("analyst"), ledger_insert("analyst")]))
    assert harness.run(update, steps=4) == {"IsComplete": False}
    assert wh.batches[1].name.endswith(":00002:grant-secadmin")


def test_secadmin_still_missing_after_the_grant_is_an_error(harness: Harness) -> None:
    update = event("Update")
    wh = harness.warehouse(update)
    harness.expect_model(roles_state("analyst"))
    wh.step_read()
    wh.step_act(catalog(secadmin=False), then=("grant-secadmin", [GRANT_SECADMIN]))
    wh.step_read()
    wh.step_act(catalog(secadmin=False))
    with pytest.raises(CustomResourceError, match=r"user admin still lacks sys:secadmin"):
        harness.run(update)


# ------------------------------------------------------------------------------------------- scripts


SCRIPT_SQL = ("CREATE SCHEMA IF NOT EXISTS sales;\n"
              "-- a comment; with a semicolon\n"
              "CREATE TABLE IF NOT EXISTS sales.orders (id INT, note VARCHAR(20) DEFAULT 'a;b');\n")
SCRIPT = {"Name": "001_sales.sql", "Sql": SCRIPT_SQL, "Checksum": hashlib.sha256(SCRIPT_SQL.encode()).hexdigest()}


def test_a_pending_script_runs_once_before_the_access_ddl(harness: Harness) -> None:
    create = event("Create")
    wh = harness.warehouse(create)
    harness.expect_model(roles_state("analyst"), [SCRIPT])
    applied = [(SCRIPT["Name"], SCRIPT["Checksum"])]
    wh.step_read()
    wh.step_act(catalog(), then=("script", [
        "CREATE SCHEMA IF NOT EXISTS sales",
        "CREATE TABLE IF NOT EXISTS sales.orders (id INT, note VARCHAR(20) DEFAULT 'a;b')",
        f"INSERT INTO {SCRIPT_TABLE} (model_name, script_name, checksum) VALUES "  # noqa: S608
        f"('{MODEL}', '{SCRIPT['Name']}', '{SCRIPT['Checksum']}')",
    ]))
    wh.step_read()
    wh.step_act(catalog(scripts=applied), then=("apply", [create_role("analyst"), ledger_insert("analyst")]))
    wh.step_read()
    wh.step_act(catalog(["analyst"], ["analyst"], scripts=applied))  # recorded: not run again
    assert harness.run(create)["IsComplete"] is True


def test_a_changed_script_is_refused(harness: Harness) -> None:
    update = event("Update")
    wh = harness.warehouse(update)
    harness.expect_model(roles_state("analyst"), [SCRIPT])
    wh.step_read()
    wh.step_act(catalog(["analyst"], ["analyst"], scripts=[(SCRIPT["Name"], "0" * 64)]))
    with pytest.raises(CustomResourceError, match=r"script 001_sales.sql was applied with checksum 000000000000"):
        harness.run(update)


# -------------------------------------------------------------------------- regressions (bugs fixed)


def test_a_repeated_request_does_not_reuse_an_earlier_requests_statements(harness: Harness) -> None:
    desired = roles_state("analyst")
    first = event("Create", request_id="3b0c0f4e-0000-4000-8000-00000000000a")
    earlier = harness.warehouse(first)
    harness.expect_model(desired)
    earlier_read = earlier.step_read()
    assert harness.run(first, steps=1) == {"IsComplete": False}

    # The stack was deleted (roles dropped) and is created again with the same model, within 24 h.
    again = event("Create", request_id="3b0c0f4e-0000-4000-8000-00000000000b")
    later = harness.warehouse(again)
    harness.expect_model(desired)
    later.step_read()
    assert harness.run(again, steps=1) == {"IsComplete": False}
    # ListStatements matches by name prefix: had the later request used the earlier prefix, the service
    # would have answered with the earlier request's statements, and it would have planned from them.
    assert not earlier_read.name.startswith(later.prefix)


def test_adopting_many_long_named_grants_keeps_every_statement_under_100_kb(harness: Harness) -> None:
    long = "x" * 110
    grantee = f"{long}_role"
    privileges = [ColumnPrivilege(f"{long}_s", f"{long}_t", f"{long}_{i:03d}", "SELECT", grantee) for i in range(200)]
    update = event("Update")
    wh = harness.warehouse(update)
    harness.expect_model(AccessState.of([Role(grantee), *privileges]))
    rows = catalog([grantee])  # everything exists already, nothing is in the ledger yet: adopt only
    rows["column_privileges"] = [(p.schema, p.table, p.column, p.privilege, p.grantee) for p in privileges]
    wh.step_read()
    wh.list_statements()
    wh.describe_read(wh.batches[-1], rows)
    sent: list[list[str]] = []
    harness.data.add_response("batch_execute_statement", {"Id": str(uuid.UUID(int=7))},
                              {"WorkgroupName": WORKGROUP, "Database": DATABASE, "SecretArn": SECRET_ARN,
                               "Sqls": ANY, "StatementName": f"{wh.token}:00002:apply"})
    harness.api.client.meta.events.register("provide-client-params.redshift-data.BatchExecuteStatement",
                                            lambda params, **_: sent.append(list(params["Sqls"])))
    assert harness.run(update, steps=2) == {"IsComplete": False}
    assert sent[-1] and all(sql.startswith(f"INSERT INTO {LEDGER_TABLE}") for sql in sent[-1])  # no DDL
    assert max(len(sql.encode("utf-8")) for sql in sent[-1]) <= 100_000

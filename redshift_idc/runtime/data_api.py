"""A thin, typed layer over the Redshift Data API (batches, statuses, paged results).

Authentication is the namespace admin through its Redshift-managed secret (SecretArn + WorkgroupName).
Throttling and transient service errors are retried by botocore's adaptive retry mode, a few times and
with short timeouts (`limits.py`): a call that still fails is the caller's to handle (the reconciler
treats throttling as "not complete yet"), so no single call can overrun a Lambda invocation.

Every submission carries a `ClientToken`: the Data API answers a repeated token (for 8 hours) with the
statement it already started instead of starting another, which is what makes a resubmission after an
interrupted invocation idempotent (`reconciler.py` derives the token from the request and the step).

**Long polling.** BatchExecuteStatement, ExecuteStatement and DescribeStatement take `WaitTimeSeconds` (1 to 30):
the answer comes when the statement ends, or after that long with its status then ("Reduce API calls with long
polling", data-api-calling-considerations-long-polling). A submission that waits answers FINISHED for most
batches, so a batch costs one call instead of a submission and a DescribeStatement or more. The parameter is newer
than some Lambda runtimes' boto3 (botocore 1.43's model lacks it, and botocore refuses a parameter its model does
not have before sending anything), so it is used only where the client's own service model has it on all three
operations (`accepts_long_polling`); elsewhere the caller polls as before. The wait
(`limits.DATA_API_WAIT_SECONDS`) is shorter than botocore's read timeout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import OperationNotFoundError

from redshift_idc.runtime.limits import (
    DATA_API_CONNECT_TIMEOUT_SECONDS,
    DATA_API_MAX_ATTEMPTS,
    DATA_API_READ_TIMEOUT_SECONDS,
    DATA_API_WAIT_SECONDS,
)

RETRIES = Config(retries={"mode": "adaptive", "max_attempts": DATA_API_MAX_ATTEMPTS},
                 connect_timeout=DATA_API_CONNECT_TIMEOUT_SECONDS, read_timeout=DATA_API_READ_TIMEOUT_SECONDS)
LONG_POLLED = ("BatchExecuteStatement", "ExecuteStatement", "DescribeStatement")  # all three wait, or none
RUNNING = frozenset({"SUBMITTED", "PICKED", "STARTED"})
TERMINAL = frozenset({"FINISHED", "FAILED", "ABORTED"})
# Error codes that mean "try later": the account's fixed TPS quotas, the workgroup's limits on active statements,
# sessions and waiting requests (DescribeStatement's ActiveWaitingRequestsExceededException), and the service's
# own InternalServerException, once botocore's retries are spent.
BUSY_ERRORS = frozenset({"ThrottlingException", "TooManyRequestsException", "ActiveStatementsExceededException",
                         "ActiveSessionsExceededException", "ActiveWaitingRequestsExceededException",
                         "InternalServerException"})
# Errors worth a retry of the whole batch: a workgroup resuming from pause, a query cancelled on the
# first connection after idle, serialization conflicts between concurrent transactions.
TRANSIENT_ERRORS = re.compile(
    r"57014|query cancelled|conflict with concurrent transaction|serializable isolation violation|"
    r"could not serialize|is resuming|is paused|connection (?:was )?(?:reset|closed)|try again",
    re.IGNORECASE,
)
# Redshift's answer to a name `<namespace>:<name>` (an IdC role or user) whose namespace no registered identity
# provider has: `ERROR: registered identity provider does not exist for "<namespace>:<name>"` (seed 001).
MISSING_IDENTITY_PROVIDER = re.compile(r"registered\s+identity\s+provider\s+does\s+not\s+exist", re.IGNORECASE)
MISSING_IDENTITY_PROVIDER_FIX = (
    "Redshift has no identity provider registered for the namespace of that name (SVV_IDENTITY_PROVIDERS). Fix: "
    "associate the Serverless namespace with the Redshift IdC application (the Warehouse stack sets its "
    "redshift_idc_application_arn: deploy it) and name IdC roles and users \"<identity_namespace>:<name>\" with "
    "that application's redshift_idc_application.identity_namespace, or create the access model's identity "
    "provider for that namespace first; `python -m redshift_idc verify --env <env> --outputs cdk-outputs.json` "
    "checks the registration and the namespace"
)
# A "quoted name" (skipped: a ' inside it starts no literal) or a 'string literal' (masked).
_NAME_OR_LITERAL = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'')
# Inside a "quoted" span: a literal where a token may start (an error quoting one: `at or near "'EMEA'"`), never
# a ' inside a name (`"o'x"`, `"it''s"`: preceded by a letter or by another ').
_QUOTED_LITERAL = re.compile(r"(?<![\w'])'(?:[^'\\]|''|\\.)*'")
# A client secret as JSON, should an error message quote an identity provider's PARAMETERS outside a literal.
_SECRET_JSON = re.compile(r'("client_secret"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)


def redact_literals(sql: str, secrets: Iterable[str] = ()) -> str:
    """SQL safe for logs and CloudFormation events: string literals (predicate values, identity provider
    PARAMETERS) hidden, also where an error message quotes one in double quotes (`syntax error at or near
    "'Europe%'"`), quoted names kept as they are, any JSON client secret outside a literal hidden, and
    every value in `secrets` (what the reconciler resolved) hidden wherever it appears."""
    masked = _NAME_OR_LITERAL.sub(
        lambda m: _QUOTED_LITERAL.sub("'***'", m.group()) if m.group().startswith('"') else "'***'", sql)
    masked = _SECRET_JSON.sub(r'\1"***"', masked)
    for value in sorted({v for v in secrets if v}, key=len, reverse=True):
        masked = masked.replace(value, "***")
    return masked


def is_transient(error: str) -> bool:
    return bool(TRANSIENT_ERRORS.search(error or ""))


# A CREATE ROLE whose role is already there: "role ... already exists" (SQLSTATE 42710, as PostgreSQL words it;
# Redshift's exact wording is unconfirmed, so only the phrase is matched, and only for a CREATE ROLE). An IdC
# sign-in creates its groups' roles itself (an AWSIDC provider with AUTO_CREATE_ROLES, AWS page
# redshift-iam-access-control-sso-autocreate), so a role the plan creates can appear between the read and the batch.
CREATE_ROLE = re.compile(r"^\s*CREATE\s+ROLE\b", re.IGNORECASE)
ROLE_EXISTS = re.compile(r"\brole\b.*\balready\s+exists\b", re.IGNORECASE | re.DOTALL)


def is_role_created_meanwhile(sql: str, error: str) -> bool:
    """A failed CREATE ROLE that found its role already there: a fresh read sees it and the plan adopts it."""
    return bool(CREATE_ROLE.match(sql or "")) and bool(ROLE_EXISTS.search(error or ""))


def is_missing_identity_provider(error: str) -> bool:
    """Redshift's "registered identity provider does not exist" (matched on the phrase, case-insensitively:
    the only form documented is seed 001's `ERROR: registered identity provider does not exist for "..."`)."""
    return bool(MISSING_IDENTITY_PROVIDER.search(error or ""))


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_busy(error: ClientError) -> bool:
    """Throttling (after botocore's own retries) or a workgroup at its active-statement limit."""
    return error_code(error) in BUSY_ERRORS


def accepts_long_polling(client: Any) -> bool:
    """Whether `client`'s own service model takes `WaitTimeSeconds` on every operation of `LONG_POLLED` (module
    docstring). A client without a botocore service model (a test's stand-in) polls."""
    try:
        model = client.meta.service_model
        return all("WaitTimeSeconds" in model.operation_model(op).input_shape.members for op in LONG_POLLED)
    except (AttributeError, KeyError, OperationNotFoundError):
        return False


@dataclass(frozen=True)
class Submitted:
    """A submission's answer: the statement's id, and the status the answer carried (a submission that waited; ""
    without one, or when the answer held none: then only DescribeStatement knows)."""

    id: str
    status: str = ""


@dataclass(frozen=True)
class Target:
    workgroup: str
    database: str
    secret_arn: str


@dataclass(frozen=True)
class StatementInfo:
    id: str
    name: str
    status: str
    created_at: Any
    query_strings: tuple[str, ...] = ()


def cell_value(field: dict[str, Any]) -> Any:
    """A Data API result cell as a Python value (DECIMAL and dates arrive as strings)."""
    if field.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "booleanValue", "doubleValue"):
        if key in field:
            return field[key]
    return None


class DataApi:
    def __init__(self, target: Target, client: Any = None, *, long_polling: bool = True) -> None:
        """`long_polling=False`: never wait in a call (what a client without the parameter does anyway)."""
        self.target = target
        self.client = client or boto3.client("redshift-data", config=RETRIES)
        self.long_polling = long_polling and accepts_long_polling(self.client)

    def _waiting(self, wait: bool) -> dict[str, Any]:
        """The `WaitTimeSeconds` parameter of a call that waits, where the client has it."""
        return {"WaitTimeSeconds": DATA_API_WAIT_SECONDS} if wait and self.long_polling else {}

    def submit(self, sqls: list[str], name: str, client_token: str, *, wait: bool = False) -> Submitted:
        """One transaction (BatchExecuteStatement); a repeated `client_token` returns the earlier statement.
        `wait`: answer when it ends, or after `DATA_API_WAIT_SECONDS` (long polling, where the client has it)."""
        response = self.client.batch_execute_statement(
            WorkgroupName=self.target.workgroup,
            Database=self.target.database,
            SecretArn=self.target.secret_arn,
            Sqls=sqls,
            StatementName=name,
            ClientToken=client_token,
            **self._waiting(wait),
        )
        return Submitted(str(response["Id"]), str(response.get("Status") or ""))

    def execute(self, sql: str, name: str, client_token: str, *, wait: bool = False) -> Submitted:
        """One statement outside any transaction block (ExecuteStatement), for statements Redshift refuses
        inside one (CREATE/ALTER/DROP IDENTITY PROVIDER). A batch of one would still be a transaction. `wait`:
        as for `submit`."""
        response = self.client.execute_statement(
            WorkgroupName=self.target.workgroup,
            Database=self.target.database,
            SecretArn=self.target.secret_arn,
            Sql=sql,
            StatementName=name,
            ClientToken=client_token,
            **self._waiting(wait),
        )
        return Submitted(str(response["Id"]), str(response.get("Status") or ""))

    def cancel(self, statement_id: str) -> None:
        self.client.cancel_statement(Id=statement_id)

    def find_named(self, name: str) -> list[StatementInfo]:
        """The statements named exactly `name` (one step of one request: its kind is part of the name, so a
        step's read is never taken for the step), every page of ListStatements' answer."""
        return [s for s in self._listed(name, "ALL") if s.name == name]

    def running(self, prefix: str) -> list[StatementInfo]:
        """Statements whose name starts with `prefix` that may still run (SUBMITTED, PICKED, STARTED): one
        listing per status, each usually one short page (ListStatements is quota'd at 3 calls a second)."""
        found: dict[str, StatementInfo] = {}
        for status in ("SUBMITTED", "PICKED", "STARTED"):
            found.update((s.id, s) for s in self._listed(prefix, status) if s.name.startswith(prefix))
        return sorted(found.values(), key=lambda s: s.name)

    def _listed(self, prefix: str, status: str) -> list[StatementInfo]:
        """ListStatements by name prefix and status, paged through with NextToken."""
        found = []
        kwargs: dict[str, Any] = {"StatementName": prefix, "Status": status, "MaxResults": 100}
        while True:
            response = self.client.list_statements(**kwargs)
            for item in response.get("Statements", []):
                queries = item.get("QueryStrings") or ([item["QueryString"]] if item.get("QueryString") else [])
                found.append(StatementInfo(item["Id"], str(item.get("StatementName", "")), item["Status"],
                                           item.get("CreatedAt"), tuple(queries)))
            token = response.get("NextToken")
            if not token:
                return found
            kwargs["NextToken"] = token

    def describe(self, statement_id: str, *, wait: bool = False) -> dict[str, Any]:
        """DescribeStatement; `wait`: answer when the statement ends, or after `DATA_API_WAIT_SECONDS` (long
        polling, where the client has it)."""
        return dict(self.client.describe_statement(Id=statement_id, **self._waiting(wait)))

    def rows(self, statement_id: str) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        kwargs: dict[str, Any] = {"Id": statement_id}
        while True:
            response = self.client.get_statement_result(**kwargs)
            rows += [tuple(cell_value(f) for f in record) for record in response.get("Records", [])]
            token = response.get("NextToken")
            if not token:
                return rows
            kwargs["NextToken"] = token

    def failure(self, description: dict[str, Any]) -> tuple[int | None, str, str]:
        """(1-based index, redacted SQL, error) of the first failed sub-statement, else of the batch (or of
        the single statement, with its redacted SQL)."""
        for index, sub in enumerate(description.get("SubStatements") or [], start=1):
            if sub.get("Status") in ("FAILED", "ABORTED"):
                return index, redact_literals(sub.get("QueryString", "")), str(sub.get("Error") or sub.get("Status"))
        return None, redact_literals(description.get("QueryString") or ""), str(
            description.get("Error") or description.get("Status"))

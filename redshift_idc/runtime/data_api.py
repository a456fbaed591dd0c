"""A thin, typed layer over the Redshift Data API (batches, statuses, paged results).

Authentication is the namespace admin through its Redshift-managed secret (SecretArn + WorkgroupName).
Throttling and transient service errors are retried by botocore's adaptive retry mode, a few times and
with short timeouts (`limits.py`): a call that still fails is the caller's to handle (the reconciler
treats throttling as "not complete yet"), so no single call can overrun a Lambda invocation.

Every submission carries a `ClientToken`: the Data API answers a repeated token (for 8 hours) with the
statement it already started instead of starting another, which is what makes a resubmission after an
interrupted invocation idempotent (`reconciler.py` derives the token from the request and the step).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from redshift_idc.runtime.limits import (
    DATA_API_CONNECT_TIMEOUT_SECONDS,
    DATA_API_MAX_ATTEMPTS,
    DATA_API_READ_TIMEOUT_SECONDS,
)

RETRIES = Config(retries={"mode": "adaptive", "max_attempts": DATA_API_MAX_ATTEMPTS},
                 connect_timeout=DATA_API_CONNECT_TIMEOUT_SECONDS, read_timeout=DATA_API_READ_TIMEOUT_SECONDS)
RUNNING = frozenset({"SUBMITTED", "PICKED", "STARTED"})
TERMINAL = frozenset({"FINISHED", "FAILED", "ABORTED"})
# Error codes that mean "too much at once, try later": the account's fixed TPS quotas, and the
# workgroup's limits on active statements and sessions.
BUSY_ERRORS = frozenset({"ThrottlingException", "TooManyRequestsException", "ActiveStatementsExceededException",
                         "ActiveSessionsExceededException"})
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
# A client secret as JSON, should an error message quote an identity provider's PARAMETERS outside a literal.
_SECRET_JSON = re.compile(r'("client_secret"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)


def redact_literals(sql: str, secrets: Iterable[str] = ()) -> str:
    """SQL safe for logs and CloudFormation events: string literals (predicate values, identity provider
    PARAMETERS) hidden, quoted names kept as they are, any JSON client secret outside a literal hidden, and
    every value in `secrets` (what the reconciler resolved) hidden wherever it appears."""
    masked = _NAME_OR_LITERAL.sub(lambda m: m.group() if m.group().startswith('"') else "'***'", sql)
    masked = _SECRET_JSON.sub(r'\1"***"', masked)
    for value in sorted({v for v in secrets if v}, key=len, reverse=True):
        masked = masked.replace(value, "***")
    return masked


def is_transient(error: str) -> bool:
    return bool(TRANSIENT_ERRORS.search(error or ""))


def is_missing_identity_provider(error: str) -> bool:
    """Redshift's "registered identity provider does not exist" (matched on the phrase, case-insensitively:
    the only form documented is seed 001's `ERROR: registered identity provider does not exist for "..."`)."""
    return bool(MISSING_IDENTITY_PROVIDER.search(error or ""))


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_busy(error: ClientError) -> bool:
    """Throttling (after botocore's own retries) or a workgroup at its active-statement limit."""
    return error_code(error) in BUSY_ERRORS


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
    def __init__(self, target: Target, client: Any = None) -> None:
        self.target = target
        self.client = client or boto3.client("redshift-data", config=RETRIES)

    def submit(self, sqls: list[str], name: str, client_token: str) -> str:
        """One transaction (BatchExecuteStatement); a repeated `client_token` returns the earlier statement."""
        response = self.client.batch_execute_statement(
            WorkgroupName=self.target.workgroup,
            Database=self.target.database,
            SecretArn=self.target.secret_arn,
            Sqls=sqls,
            StatementName=name,
            ClientToken=client_token,
        )
        return str(response["Id"])

    def execute(self, sql: str, name: str, client_token: str) -> str:
        """One statement outside any transaction block (ExecuteStatement), for statements Redshift refuses
        inside one (CREATE/ALTER/DROP IDENTITY PROVIDER). A batch of one would still be a transaction."""
        response = self.client.execute_statement(
            WorkgroupName=self.target.workgroup,
            Database=self.target.database,
            SecretArn=self.target.secret_arn,
            Sql=sql,
            StatementName=name,
            ClientToken=client_token,
        )
        return str(response["Id"])

    def cancel(self, statement_id: str) -> None:
        self.client.cancel_statement(Id=statement_id)

    def find_named(self, name: str) -> list[StatementInfo]:
        """Statements whose name starts with `name`: one page, for a name that identifies one step (the
        reconciler never lists a whole request; ListStatements has a quota of 3 calls a second)."""
        response = self.client.list_statements(StatementName=name, Status="ALL", MaxResults=10)
        found = []
        for item in response.get("Statements", []):
            if str(item.get("StatementName", "")).startswith(name):
                queries = item.get("QueryStrings") or ([item["QueryString"]] if item.get("QueryString") else [])
                found.append(StatementInfo(item["Id"], item.get("StatementName", ""), item["Status"],
                                           item.get("CreatedAt"), tuple(queries)))
        return sorted(found, key=lambda s: s.name)

    def describe(self, statement_id: str) -> dict[str, Any]:
        return dict(self.client.describe_statement(Id=statement_id))

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

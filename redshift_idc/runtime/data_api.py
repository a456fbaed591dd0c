"""A thin, typed layer over the Redshift Data API (batches, statuses, paged results).

Authentication is the namespace admin through its Redshift-managed secret (SecretArn + WorkgroupName).
Throttling and transient service errors are retried by botocore's adaptive retry mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 10})
RUNNING = frozenset({"SUBMITTED", "PICKED", "STARTED"})
# Errors worth a retry of the whole batch: a workgroup resuming from pause, a query cancelled on the
# first connection after idle, serialization conflicts between concurrent transactions.
TRANSIENT_ERRORS = re.compile(
    r"57014|query cancelled|conflict with concurrent transaction|serializable isolation violation|"
    r"could not serialize|is resuming|is paused|connection (?:was )?(?:reset|closed)|try again",
    re.IGNORECASE,
)
_LITERAL = re.compile(r"'(?:[^']|'')*'")
# A client secret as JSON, should an error message quote an identity provider's PARAMETERS outside a literal.
_SECRET_JSON = re.compile(r'("client_secret"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)


def redact_literals(sql: str) -> str:
    """SQL safe for logs and CloudFormation events: string literals (predicate values, identity provider
    PARAMETERS) hidden, and any JSON client secret outside them too."""
    return _SECRET_JSON.sub(r'\1"***"', _LITERAL.sub("'***'", sql))


def is_transient(error: str) -> bool:
    return bool(TRANSIENT_ERRORS.search(error or ""))


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

    def submit(self, sqls: list[str], name: str) -> str:
        response = self.client.batch_execute_statement(
            WorkgroupName=self.target.workgroup,
            Database=self.target.database,
            SecretArn=self.target.secret_arn,
            Sqls=sqls,
            StatementName=name,
        )
        return str(response["Id"])

    def execute(self, sql: str, name: str) -> str:
        """One statement outside any transaction block (ExecuteStatement), for statements Redshift refuses
        inside one (CREATE/ALTER/DROP IDENTITY PROVIDER). A batch of one would still be a transaction."""
        response = self.client.execute_statement(
            WorkgroupName=self.target.workgroup,
            Database=self.target.database,
            SecretArn=self.target.secret_arn,
            Sql=sql,
            StatementName=name,
        )
        return str(response["Id"])

    def list_named(self, prefix: str) -> list[StatementInfo]:
        """Statements whose name starts with `prefix`, oldest first."""
        found: list[StatementInfo] = []
        kwargs: dict[str, Any] = {"StatementName": prefix, "Status": "ALL", "MaxResults": 100}
        while True:
            response = self.client.list_statements(**kwargs)
            for item in response.get("Statements", []):
                if str(item.get("StatementName", "")).startswith(prefix):
                    queries = item.get("QueryStrings") or ([item["QueryString"]] if item.get("QueryString") else [])
                    found.append(StatementInfo(item["Id"], item.get("StatementName", ""), item["Status"],
                                               item.get("CreatedAt"), tuple(queries)))
            token = response.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
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

"""What the reconciler is asked (`Request`, its `Script`s), how an invocation ends (`Outcome`, or `ReconcileError`
worded for the CloudFormation event, or `Pause` to continue at the next poll), and the names its statements carry:
shared by the reconciler's parts (`reconciler.py`), the handler that builds requests and what reads a deployed
warehouse the same way (`drift`, `verify`, `snapshot`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NotRequired, Protocol, TypedDict

from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.ledger import MAX_BATCH_STATEMENTS, RESERVED_STATEMENTS
from redshift_idc.runtime.planning.scope import Scope
from redshift_idc.runtime.users import DeprovisionSettings

SCRIPT_STATEMENTS = MAX_BATCH_STATEMENTS - 1 - RESERVED_STATEMENTS  # the rest: its record, the fence and progress


class ReconcileError(Exception):
    """A failure worded for the CloudFormation event: which statement, Redshift's error, no secrets."""


class Pause(Exception):
    """Stop this invocation and let the Provider framework call again (budget spent, Data API busy)."""


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def sleep(self, seconds: float, /) -> None: ...


class ScriptEntry(TypedDict):
    """One script as the model document holds it; `Statements` is the script split at synth."""

    Name: str
    Sql: str
    Checksum: str
    Statements: NotRequired[list[str]]


@dataclass(frozen=True)
class Script:
    name: str
    sql: str
    checksum: str
    statements: tuple[str, ...] | None = None  # split at synth; None: a document older than that

    @classmethod
    def of(cls, entry: ScriptEntry) -> Script:
        statements = entry.get("Statements")
        return cls(entry["Name"], entry["Sql"], entry["Checksum"],
                   tuple(statements) if statements is not None else None)


@dataclass
class Request:
    model: str
    desired: AccessState
    token: str
    prune: bool = False
    ledger_schema: str = "redshift_idc"
    scripts: Sequence[Script] = ()
    needs_secadmin: bool = True
    identity_provider_drop_cascade: bool = False
    coalesce: bool = True  # one statement for many objects (planning/coalesce.py); the model's coalesce_statements
    deprovision: DeprovisionSettings | None = None  # deprovision_users: remove IdC users who left
    scope: Scope = field(default_factory=Scope)  # the declared tables and those prune may lift restrictions on
    start_ms: int | None = None  # when the request began (epoch ms, `on_event`); None: when the reconciler is made
    role_quota: int | None = None  # the workgroup's role quota (`role_quota.py`); None: not checked

    @property
    def users_namespace(self) -> str | None:
        return self.deprovision.namespace if self.deprovision is not None else None


@dataclass
class Outcome:
    done: bool
    message: str = ""
    statements_applied: int = 0
    warnings: list[str] = field(default_factory=list)


def statement_token(request_id: str) -> str:
    """A short, name-safe prefix unique to one CloudFormation request."""
    return "rsidc-" + hashlib.sha256(request_id.encode("utf-8")).hexdigest()[:20]


def model_prefix(workgroup: str, database: str, model: str) -> str:
    """What every statement name of a model starts with, whatever the request (the custom resource's
    physical id, hashed): the model's statements, of any request, are one ListStatements prefix."""
    return "rsidc-" + hashlib.sha256(f"{workgroup}/{database}/{model}".encode()).hexdigest()[:16]


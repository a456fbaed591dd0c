"""Converge the warehouse to the desired access state, one Data API batch at a time.

The loop is stateless between calls, so the Provider framework's is-complete polling can drive it and
no Lambda waits 15 minutes: every statement we submit is named `<token>:<seq>:<step>`, and each call
lists our statements by that prefix to see where we are:

    nothing yet, or last step a script / grant        -> submit a read batch (one snapshot)
    last read finished                                  -> plan from it; submit the next script, the
                                                           first batch of the plan, or finish when the
                                                           plan is empty
    last apply finished                                 -> submit the plan's next batch (the plan is a pure
                                                           function of the last read), or read again to
                                                           verify once all are applied
    last step failed                                    -> retry from a fresh read if transient (paused
                                                           workgroup, cancelled first query, concurrent
                                                           transaction), else fail naming the statement and
                                                           Redshift's error

Each batch is one transaction; a plan is re-derived from a fresh read after each round and after any
failure, so a round always starts from what is really there. Statements that cannot run in a transaction
block (identity providers) are sent alone with ExecuteStatement (step `exec`), their ledger rows in the
batch that follows (see `ledger.steps`); secrets they carry are read from Secrets Manager just before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redshift_idc.runtime.access_state import AccessState, IdentityProvider
from redshift_idc.runtime.catalog import SECADMIN, Snapshot, parse_snapshot, read_queries
from redshift_idc.runtime.data_api import RUNNING, DataApi, StatementInfo, is_transient, redact_literals
from redshift_idc.runtime.ledger import LedgerTables, Step, steps
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.secrets import SecretError
from redshift_idc.runtime.sql_text import quote_ident

MAX_STEPS = 3000
MAX_TRANSIENT_RETRIES = 3


class ReconcileError(Exception):
    """A failure worded for the CloudFormation event: which statement, Redshift's error, no secrets."""


@dataclass(frozen=True)
class Script:
    name: str
    sql: str
    checksum: str


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


@dataclass
class Outcome:
    done: bool
    message: str = ""
    statements_applied: int = 0
    warnings: list[str] = field(default_factory=list)


def statement_token(request_id: str) -> str:
    """A short, name-safe prefix unique to one CloudFormation request."""
    return "rsidc-" + hashlib.sha256(request_id.encode("utf-8")).hexdigest()[:20]


def split_script(text: str) -> list[str]:
    """Split a SQL script on `;` outside quotes and comments (our scripts hold no procedures)."""
    statements: list[str] = []
    current: list[str] = []
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            current.append(char)
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
            current.append(char)
        elif text.startswith("--", index):
            end = text.find("\n", index)
            index = len(text) if end < 0 else end
            continue
        elif char == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


APPLY_STEPS = (":apply", ":exec")  # a batch of the plan; one non-transactional statement of it


class Reconciler:
    def __init__(self, api: DataApi, request: Request, *, read_only: bool = False,
                 secrets: Callable[[str, str], str] | None = None) -> None:
        """`read_only`: reads without the ledger bootstrap (CREATE ... IF NOT EXISTS), for reports.
        `secrets(arn, key)`: resolves the secrets of identity provider statements (none: they cannot apply)."""
        self.api = api
        self.request = request
        self.secrets = secrets
        self.tables = LedgerTables(request.ledger_schema)
        self.queries = read_queries(self.tables, request.model, bootstrap=not read_only)
        self._snapshots: dict[str, Snapshot] = {}

    def _submit(self, sqls: list[str], seq: int, step: str) -> str:
        return self.api.submit(sqls, f"{self.request.token}:{seq:05d}:{step}")

    def _plan_steps(self, snapshot: Snapshot) -> list[Step]:
        request = self.request
        planned = plan(request.desired, snapshot.state, snapshot.ledger, prune=request.prune,
                       identity_provider_drop_cascade=request.identity_provider_drop_cascade)
        return steps(planned, request.model, self.tables)

    def _submit_step(self, step: Step, seq: int, number: int, count: int) -> Outcome:
        if step.statement is None:
            self._submit(list(step.sqls), seq, "apply")
            return Outcome(False, f"applying batch {number} of {count} ({len(step.sqls)} statements)")
        if step.statement.secrets and self.secrets is None:
            raise ReconcileError(f"cannot apply {_first_words(step.statement.sql)}: it needs secrets and no "
                                 "secret resolver was given")
        try:
            sql = step.statement.executable_sql(self.secrets)
        except SecretError as error:
            raise ReconcileError(f"cannot apply {_first_words(step.statement.sql)}: {error}") from None
        self.api.execute(sql, f"{self.request.token}:{seq:05d}:exec")
        return Outcome(False, f"applying step {number} of {count} alone, outside a transaction: "
                              f"{_first_words(step.statement.sql)[:80]}")

    def _snapshot(self, statement_id: str) -> Snapshot:
        """The parsed rows of a finished read batch (fetched once per read per Lambda invocation)."""
        if statement_id not in self._snapshots:
            self._snapshots[statement_id] = self._fetch_snapshot(statement_id)
        return self._snapshots[statement_id]

    def _fetch_snapshot(self, statement_id: str) -> Snapshot:
        description = self.api.describe(statement_id)
        subs = description.get("SubStatements") or []
        rows: dict[str, Sequence[tuple[Any, ...]]] = {}
        for (name, _), sub in zip(self.queries, subs, strict=False):
            if sub.get("HasResultSet"):
                rows[name] = self.api.rows(sub["Id"])
        return parse_snapshot(rows, self.request.desired.case_sensitive)

    def read_now(self, sleep: Any, timeout_seconds: float = 300.0, poll_seconds: float = 1.0) -> Snapshot:
        """Submit one read batch and wait for it: for `plan --live`, outside CloudFormation."""
        statement_id = self._submit([q for _, q in self.queries], 1, "read")
        waited = 0.0
        while True:
            description = self.api.describe(statement_id)
            status = description.get("Status")
            if status == "FINISHED":
                return self._snapshot(statement_id)
            if status in ("FAILED", "ABORTED"):
                index, sql, error = self.api.failure(description)
                raise ReconcileError(f"reading the current state failed at statement {index}: {sql} -- {error}")
            if waited >= timeout_seconds:
                raise ReconcileError(f"reading the current state took longer than {timeout_seconds:.0f} s")
            sleep(poll_seconds)
            waited += poll_seconds

    def step(self) -> Outcome:
        ours = self.api.list_named(self.request.token + ":")
        if any(s.status in RUNNING for s in ours):
            return Outcome(False, "waiting for a running batch")
        if len(ours) >= MAX_STEPS:
            raise ReconcileError(f"gave up after {len(ours)} Data API batches without converging")
        seq = len(ours) + 1
        last = ours[-1] if ours else None
        if last is not None and last.status in ("FAILED", "ABORTED"):
            index, sql, error = self.api.failure(self.api.describe(last.id))
            failures = sum(1 for s in ours if s.status in ("FAILED", "ABORTED"))
            if not (is_transient(error) and failures <= MAX_TRANSIENT_RETRIES):
                if last.name.endswith(":exec"):
                    raise ReconcileError(f"statement {last.name.rsplit(':', 2)[-2]} (alone, outside a transaction) "
                                         f"failed: {sql} -- Redshift said: {redact_literals(error)}")
                where = f"statement {index} of batch {last.name.rsplit(':', 2)[-2]}" if index else f"batch {last.name}"
                raise ReconcileError(f"{where} failed and was rolled back: {sql} -- Redshift said: "
                                     f"{redact_literals(error)}")
            self._submit([q for _, q in self.queries], seq, "read")
            return Outcome(False, f"retrying after a transient error: {redact_literals(error)}")
        reads = [i for i, s in enumerate(ours) if s.name.endswith(":read") and s.status == "FINISHED"]
        if last is None or not reads or not last.name.endswith((":read", *APPLY_STEPS)):
            self._submit([q for _, q in self.queries], seq, "read")
            return Outcome(False, "reading the current state")
        snapshot = self._snapshot(ours[reads[-1]].id)
        if last.name.endswith(":read"):
            return self._act(snapshot, ours, seq)
        # Batches of one plan run back to back: the plan is a pure function of the last read, so the
        # number of batches applied since that read says which one is next. Then read again to verify.
        applied = len(ours) - reads[-1] - 1
        cut = self._plan_steps(snapshot)
        if applied < len(cut):
            return self._submit_step(cut[applied], seq, applied + 1, len(cut))
        self._submit([q for _, q in self.queries], seq, "read")
        return Outcome(False, "reading the state back to verify")

    def _act(self, snapshot: Snapshot, ours: list[StatementInfo], seq: int) -> Outcome:
        request = self.request
        manages_providers = bool(request.desired.of_kind(IdentityProvider.KIND)) or any(
            kind == IdentityProvider.KIND for kind, _ in snapshot.ledger)
        if manages_providers and not snapshot.superuser:
            raise ReconcileError(
                f"user {snapshot.user} is not a superuser, so SVV_IDENTITY_PROVIDERS shows it no identity "
                "provider; refusing to plan identity providers from an incomplete view (run as the namespace admin)")
        if request.needs_secadmin and not snapshot.secadmin:
            if any(s.name.endswith(":grant-secadmin") for s in ours):
                raise ReconcileError(
                    f"user {snapshot.user} still lacks {SECADMIN} after it was granted, so SVV_RLS_ATTACHED_POLICY "
                    "and the masking views would show no rows; refusing to plan from an incomplete view")
            self._submit([f"GRANT ROLE {quote_ident(SECADMIN)} TO {quote_ident(snapshot.user)}"], seq, "grant-secadmin")
            return Outcome(False, f"granting {SECADMIN} to {snapshot.user} so it can see RLS and masking")
        for script in request.scripts:
            applied = snapshot.scripts.get(script.name)
            if applied == script.checksum:
                continue
            if applied is not None:
                raise ReconcileError(f"script {script.name} was applied with checksum {applied[:12]}... and has "
                                     f"changed since ({script.checksum[:12]}...); scripts run once: add a new one")
            record = self.tables.record_script_sql(request.model, script.name, script.checksum)
            statements = [*split_script(script.sql), record]
            if len(statements) > 40:
                raise ReconcileError(f"script {script.name} has {len(statements) - 1} statements; at most 39 fit "
                                     "one transaction: split it into several scripts")
            self._submit(statements, seq, "script")
            return Outcome(False, f"applying script {script.name}")
        cut = self._plan_steps(snapshot)
        if not cut:
            count = sum(len(s.query_strings) for s in ours if s.name.endswith(APPLY_STEPS))
            return Outcome(True, "in sync", count, snapshot.warnings)
        rounds = _rounds(ours)
        if len(rounds) >= 2 and all(_same_round(r, cut) for r in rounds[-2:]):
            raise ReconcileError("the same batch committed twice and the catalog still differs from the model "
                                 f"(first statement: {_first_words(cut[0].sqls[0])}); check name case folding "
                                 "(enable_case_sensitive_identifier) and the reconciler user's visibility")
        return self._submit_step(cut[0], seq, 1, len(cut))


def _rounds(ours: list[StatementInfo]) -> list[list[StatementInfo]]:
    """The steps submitted between one read and the next, for every read that has a later read."""
    rounds: list[list[StatementInfo]] = []
    current: list[StatementInfo] | None = None
    for info in ours:
        if info.name.endswith(":read"):
            if current is not None:
                rounds.append(current)
            current = []
        elif current is not None:
            current.append(info)
    return rounds


def _same_round(submitted: list[StatementInfo], cut: list[Step]) -> bool:
    """Whether a round committed exactly this plan (a lone statement compares with its literals hidden:
    what was sent carries resolved secrets, the step shows them masked)."""
    if len(submitted) != len(cut) or any(info.status != "FINISHED" for info in submitted):
        return False
    for info, step in zip(submitted, cut, strict=True):
        if step.transactional:
            if not (info.name.endswith(":apply") and list(info.query_strings) == list(step.sqls)):
                return False
        elif not (info.name.endswith(":exec") and [redact_literals(q) for q in info.query_strings] == [
                redact_literals(q) for q in step.sqls]):
            return False
    return True


def _first_words(sql: str) -> str:
    return redact_literals(sql)[:200]

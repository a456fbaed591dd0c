"""Converge the warehouse to the desired access state: read once, plan once, apply that plan's batches
back to back, read again to verify.

One is-complete invocation works until the model is in sync, its time budget is spent, or the Data API
pushes back (throttling); the Provider framework then calls again. Nothing is kept between invocations
except what is in the warehouse and in the Data API:

    read (one batch: catalog, ledger, progress) -> plan -> batch 1 -> batch 2 -> ... -> read -> in sync

- **Progress.** Every step of a request has a sequence number; every batch also updates the model's
  row in `<ledger schema>.apply_progress` with it, in its own transaction. A read therefore says which
  step comes next, and the reconciler never lists the request's statements (ListStatements is quota'd
  at 3 calls a second per account and returns 100 statements a page).
- **Idempotent submission.** A step is submitted with `ClientToken = <request token>-<seq>`. If an
  earlier invocation already submitted step `seq` (it was interrupted, or the read ran before that
  batch committed), the Data API answers with that statement instead of starting a second one; the
  reconciler compares what it sent with what the statement holds, waits for it, and reads again when it
  was another batch. A sequence number is used once: a failed step's retry takes the next one.
- **Pacing.** Each batch is polled sub-second, with the first poll timed from the duration Redshift
  reported for earlier batches, so a batch costs little more than Redshift's own execution time.
- **Faults.** A failed batch changes nothing (one transaction); transient errors (a paused workgroup
  resuming, a cancelled first query, concurrent transactions) are retried from a fresh read, at most
  `MAX_TRANSIENT_RETRIES` times in a row. A batch still running `STATEMENT_STUCK_SECONDS` after it was
  submitted is cancelled and retried once from a fresh read. Throttling that outlasts botocore's retries
  ends the invocation as "not complete yet" (`Pause`). At the request's apply deadline (`limits.py`)
  the reconciler cancels what is running and fails, naming its progress, before CloudFormation's hour
  runs out, so a rollback never overlaps with the request it rolls back.

Statements that cannot run in a transaction block (identity providers) are sent alone with
ExecuteStatement (step `exec`), their ledger rows in the batch that follows (see `ledger.steps`);
secrets they carry are read from Secrets Manager just before.

With `deprovision_users` (`users.py`), each read also holds the IdC users; after the scripts, before the
plan, every such user is checked in the identity store (once per invocation) and the departed ones' removal
is merged into the plan. A departed user who owns objects nothing may take over fails the request, before
any change of that round.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NotRequired, Protocol, TypedDict

from botocore.exceptions import ClientError

from redshift_idc.runtime.access_state import AccessState, IdentityProvider
from redshift_idc.runtime.catalog import (
    SECADMIN,
    Snapshot,
    ledger_schema_problem,
    other_ledger_models,
    other_ledger_queries,
    parse_snapshot,
    read_queries,
)
from redshift_idc.runtime.data_api import (
    MISSING_IDENTITY_PROVIDER_FIX,
    RUNNING,
    TERMINAL,
    DataApi,
    error_code,
    is_busy,
    is_missing_identity_provider,
    is_transient,
    redact_literals,
)
from redshift_idc.runtime.ledger import MAX_BATCH_STATEMENTS, PROGRESS_STATEMENTS, LedgerTables, Step, steps
from redshift_idc.runtime.limits import (
    CANCEL_WAIT_SECONDS,
    ESTIMATED_SECONDS_PER_BATCH,
    STATEMENT_STUCK_SECONDS,
    WAIT_GRACE_SECONDS,
)
from redshift_idc.runtime.planner import OwnershipError, Plan, Scope, declared_by_others, ownership_message, plan
from redshift_idc.runtime.secrets import SecretError
from redshift_idc.runtime.sql_text import quote_ident
from redshift_idc.runtime.users import (
    USERS_QUERY,
    Departures,
    DeprovisionSettings,
    Directory,
    Verdict,
    check_users,
    with_statements,
)

MAX_TRANSIENT_RETRIES = 3
MAX_STUCK_RETRIES = 1
FIRST_POLL_SECONDS = 1.0  # before any batch has reported how long batches take here
POLL_SECONDS = 0.1  # then sub-second, backing off to MAX_POLL_SECONDS for long-running statements
MAX_POLL_SECONDS = 2.0
SCRIPT_STATEMENTS = MAX_BATCH_STATEMENTS - 1 - PROGRESS_STATEMENTS  # the rest: its record and the progress row


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
    deprovision: DeprovisionSettings | None = None  # deprovision_users: remove IdC users who left
    scope: Scope = field(default_factory=Scope)  # the declared tables and those prune may lift restrictions on

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


def estimated_apply_seconds(batch_count: int) -> float:
    """The documented estimate `make plan` prints and synth checks (see `limits.py`)."""
    return batch_count * ESTIMATED_SECONDS_PER_BATCH


@dataclass
class _Result:
    """How one submitted step ended: `committed`; or `foreign` (the token answered with a statement of
    an earlier attempt that is not this step: read again); or failed with `error` at `index`."""

    committed: bool
    foreign: bool = False
    error: str = ""
    index: int | None = None
    sql: str = ""
    stuck: bool = False


class Reconciler:
    def __init__(self, api: DataApi, request: Request, *, read_only: bool = False,
                 secrets: Callable[[str, str], str] | None = None, clock: Clock | None = None,
                 invocation_id: str = "", budget_seconds: float | None = None, deadline: float | None = None,
                 log: Callable[[str], None] | None = None, queries: Sequence[tuple[str, str]] | None = None,
                 directory: Directory | None = None) -> None:
        """`read_only`: reads without the ledger bootstrap (CREATE ... IF NOT EXISTS), for reports.
        `queries`: the read batch as (name, SQL), for a report that needs only part of the catalog
        (`verify`: `catalog.identity_queries()`); default: everything the planner reads.
        `secrets(arn, key)`: resolves the secrets of identity provider statements (none: they cannot apply).
        `invocation_id` makes each read's ClientToken unique (the Lambda request id). `budget_seconds`:
        no new Data API work after this long (monotonic); `deadline`: the request's hard end (epoch).
        `directory`: the identity store, for a request with `deprovision` (deprovision_users)."""
        self.api = api
        self.request = request
        self.resolved: set[str] = set()  # every secret value resolved: masked in any text this reports
        self.secrets = self._recording(secrets) if secrets is not None else None
        self.clock: Clock = clock or time
        self.tables = LedgerTables(request.ledger_schema)
        self.queries = (list(queries) if queries is not None
                        else read_queries(self.tables, request.model, bootstrap=not read_only,
                                          users_namespace=request.users_namespace))
        self.directory = directory
        self.verdicts: dict[str, Verdict] = {}  # the identity store's answers, per database user, this invocation
        self.user_warnings: list[str] = []
        self.invocation_id = invocation_id
        started = self.clock.monotonic()
        self.budget_end = started + budget_seconds if budget_seconds is not None else None
        self.deadline = deadline
        self.log = log or (lambda message: None)
        self.seq = 1  # the next step's sequence number (at least the last read's progress + 1)
        self.progress_row = False  # whether the model's progress row exists (UPDATE, else INSERT)
        self.failures = 0  # consecutive failed steps (transient), reset by a commit
        self.stuck = 0
        self.reads = 0
        self.plans = 0
        self.statements_applied = 0
        self.granted_secadmin = False
        self.rounds: list[list[tuple[str, ...]]] = []  # the steps of each fully committed plan
        # Policies whose catalog text this invocation restored, with the hash their row held then.
        self.restored: dict[tuple[str, tuple[str, ...]], str] = {}
        self._durations: list[float] = []  # seconds Redshift reported for recent statements
        self._call_seconds = 0.0  # round trip of the last DescribeStatement

    @property
    def recent_durations(self) -> tuple[float, ...]:
        """Seconds Redshift reported for the last few statements (the live test prints them)."""
        return tuple(self._durations)

    # ------------------------------------------------------------------------------------ the loop

    def run(self) -> Outcome:
        """Converge, or stop with `done=False` where the next invocation can continue."""
        try:
            while True:
                outcome = self._round(self.read())
                if outcome is not None:
                    return outcome
        except Pause as pause:
            return Outcome(False, str(pause), self.statements_applied)
        except ClientError as error:
            if not is_busy(error):
                raise
            # Throttled beyond botocore's retries: not an error, the next poll continues (a statement left
            # running is found again through its ClientToken).
            return Outcome(False, f"the Data API is busy ({error_code(error)}); continuing at the next poll",
                           self.statements_applied)

    def read(self) -> Snapshot:
        """Submit one read batch (one snapshot), wait for it, fetch its rows."""
        return parse_snapshot(self.read_rows(), self.request.desired.case_sensitive, self._users_read())

    def _users_read(self) -> str | None:
        """The namespace whose users this reconciler's read batch holds (None: not read)."""
        names = {name for name, _ in self.queries}
        return self.request.users_namespace if USERS_QUERY in names else None

    def read_rows(self, queries: Sequence[tuple[str, str]] | None = None) -> dict[str, Sequence[tuple[Any, ...]]]:
        """`read`, unparsed: each query's rows by name (queries that returned no rows are absent). What
        `snapshot` writes down, so `import` and `plan --snapshot` see the catalog exactly as `read` does.
        `queries`: another read-only batch instead of this reconciler's read (the other ledgers' models)."""
        queries = self.queries if queries is None else list(queries)
        self._check_time("read the current state")
        self.reads += 1
        digest = hashlib.sha256(f"{self.request.token}:{self.invocation_id}:{self.reads}".encode()).hexdigest()
        name = f"{self.request.token}:{self.seq:05d}:read"
        statement_id = self.api.submit([q for _, q in queries], name, f"rsidc-read-{digest[:40]}")
        description = self._wait(statement_id, "reading the current state")
        if description.get("Status") != "FINISHED":
            index, sql, error = self.api.failure(description)
            if description.get("_stuck") and self.stuck < MAX_STUCK_RETRIES:
                self.stuck += 1
                return self.read_rows(queries)
            if is_transient(error) and self.failures < MAX_TRANSIENT_RETRIES:
                self.failures += 1
                self.log(f"reading the current state failed transiently, reading again: {redact_literals(error)}")
                return self.read_rows(queries)
            raise ReconcileError(f"reading the current state failed at statement {index}: {sql} -- {error}")
        return self._rows(description, queries)

    def read_now(self, sleep: Callable[[float], None], timeout_seconds: float = 300.0) -> Snapshot:
        """One read outside CloudFormation (`plan --live`, drift): waits with `sleep`, gives up after
        `timeout_seconds`."""
        return parse_snapshot(self.read_rows_now(sleep, timeout_seconds), self.request.desired.case_sensitive,
                              self._users_read())

    def read_rows_now(self, sleep: Callable[[float], None], timeout_seconds: float = 300.0,
                      ) -> dict[str, Sequence[tuple[Any, ...]]]:
        """`read_now`, unparsed (`snapshot`)."""
        self.clock = _SleepClock(sleep)
        self.budget_end = self.clock.monotonic() + timeout_seconds - WAIT_GRACE_SECONDS
        try:
            return self.read_rows()
        except Pause as pause:
            raise ReconcileError(f"reading the current state: {pause}") from None

    def _round(self, snapshot: Snapshot) -> Outcome | None:
        """Act on one read: finish, or apply steps (then None: read again)."""
        request = self.request
        self.seq = max(self.seq, snapshot.progress.get(request.token, 0) + 1)
        self.progress_row = self.progress_row or bool(snapshot.progress)
        self.check_ownership(snapshot)
        manages_providers = bool(request.desired.of_kind(IdentityProvider.KIND)) or any(
            kind == IdentityProvider.KIND for kind, _ in snapshot.ledger)
        if manages_providers and not snapshot.superuser:
            raise ReconcileError(
                f"user {snapshot.user} is not a superuser, so SVV_IDENTITY_PROVIDERS shows it no identity "
                "provider; refusing to plan identity providers from an incomplete view (run as the namespace admin)")
        if request.needs_secadmin and not snapshot.secadmin:
            if self.granted_secadmin:
                raise ReconcileError(
                    f"user {snapshot.user} still lacks {SECADMIN} after it was granted, so SVV_RLS_ATTACHED_POLICY "
                    "and the masking views would show no rows; refusing to plan from an incomplete view")
            self.log(f"granting {SECADMIN} to {snapshot.user} so it can see RLS and masking")
            grant = f"GRANT ROLE {quote_ident(SECADMIN)} TO {quote_ident(snapshot.user)}"
            self.granted_secadmin = self._apply_batch([grant], "grant-secadmin")
            return None
        pending = self._pending_scripts(snapshot)
        if pending:
            self._plan(snapshot)  # a plan another model's objects refuse fails before any script runs
            for script in pending:
                record = self.tables.record_script_sql(request.model, script.name, script.checksum)
                self.log(f"applying script {script.name}")
                assert script.statements is not None  # _pending_scripts refused a script without them
                if not self._apply_batch([*script.statements, record], "script"):
                    return None
            return None
        departed = self.departures(snapshot)
        self.plans += 1
        planned = self._plan(snapshot)
        if departed is not None:
            planned = with_statements(planned, departed.statements)
        self._check_restored(planned)
        cut = steps(planned, request.model, self.tables)
        if not cut:
            return Outcome(True, "in sync", self.statements_applied, [*snapshot.warnings, *self.user_warnings])
        shown = [step.sqls for step in cut]
        if len(self.rounds) >= 2 and all(r == shown for r in self.rounds[-2:]):
            raise ReconcileError("the same batch committed twice and the catalog still differs from the model "
                                 f"(first statement: {_first_words(cut[0].sqls[0])}); check name case folding "
                                 "(enable_case_sensitive_identifier) and the reconciler user's visibility")
        self.log(f"plan: {sum(len(s.sqls) for s in cut)} statements in {len(cut)} steps")
        for number, step in enumerate(cut, start=1):
            if not self._apply_step(step, number, len(cut)):
                return None  # read again: a retry, or another attempt's statement changed the state
        self.rounds.append(shown)
        return None

    def _check_restored(self, planned: Plan) -> None:
        """A policy whose catalog text this invocation already restored and recorded anew, and which differs
        again: its text changes without anyone editing it (a stored form that is not a function of the text
        given, unconfirmed) or someone edits it while we deploy. Either way restoring it again would loop until
        the deadline: fail now, naming it. (The same drift planned again after a failed ALTER still holds the
        hash it had: that is a retry.)"""
        again = sorted(f"{d.kind} {d.key[0]}" for d in planned.text_drift
                       if (d.kind, d.key) in self.restored and self.restored[(d.kind, d.key)] != d.recorded)
        if again:
            raise ReconcileError(f"the catalog's text of {', '.join(again)} changed again after this deploy restored "
                                 "and recorded it; check who alters it (SVV_RLS_POLICY.polmodifiedby, "
                                 "SVV_MASKING_POLICY.policy_modified_by) and deploy again")
        self.restored.update({(d.kind, d.key): d.recorded for d in planned.text_drift})

    def _plan(self, snapshot: Snapshot) -> Plan:
        try:
            return plan(self.request.desired, snapshot.state, snapshot.ledger, prune=self.request.prune,
                        identity_provider_drop_cascade=self.request.identity_provider_drop_cascade,
                        definitions=snapshot.definitions, scope=self.request.scope,
                        stored=snapshot.stored_hashes(), owners=snapshot.owners)
        except OwnershipError as error:
            raise ReconcileError(f"access model '{self.request.model}': {error}") from None

    def check_ownership(self, snapshot: Snapshot) -> None:
        """One owner per object, checked before a round changes anything: every model of the database keeps its
        ledger in this one's schema (unless this request can change nothing: an empty model with an empty
        ledger, e.g. the Delete of a model whose first deploy was refused), and the model declares no object
        another model manages. What a removal would take along from another model is refused by the plan."""
        request = self.request
        if request.desired or snapshot.ledger or request.scripts or request.prune:
            problem = ledger_schema_problem(self.other_ledger_models(snapshot), self.tables.schema)
            if problem:
                raise ReconcileError(f"access model '{request.model}': {problem}")
        declared = declared_by_others(request.desired, snapshot.owners)
        if declared:
            raise ReconcileError(f"access model '{request.model}': {ownership_message(declared)}")

    def other_ledger_models(self, snapshot: Snapshot) -> dict[str, list[str]]:
        """Schema -> the models whose rows it holds, for the other ledger schemas the read found: a second read,
        only when it found one (at most one batch of them)."""
        if not snapshot.other_ledger_schemas:
            return {}
        return other_ledger_models(self.read_rows(
            other_ledger_queries(snapshot.other_ledger_schemas[:MAX_BATCH_STATEMENTS])))

    def departures(self, snapshot: Snapshot) -> Departures | None:
        """With `deprovision_users`: which IdC users left (the identity store asked once per user and
        invocation) and the statements that remove them. A departed user who cannot be removed (owns objects
        nothing may take over) fails the request here, before this round changes anything."""
        settings = self.request.deprovision
        if settings is None:
            return None
        if snapshot.users is None:
            raise ReconcileError("deprovision_users is on, but the read batch did not read the users")
        if self.directory is None:
            raise ReconcileError("deprovision_users is on, but no identity store was given to check the users in "
                                 "(the custom resource needs its IdentityStoreId property: deploy with this version)")
        self._check_time("check the users in IAM Identity Center")
        found = check_users(snapshot.users, settings, self.directory, reader=snapshot.user, cache=self.verdicts,
                            log=self.log)
        if found.refused:
            raise ReconcileError(found.refusal_error(self.request.model))
        self.user_warnings += [w for w in found.warnings if w not in self.user_warnings]
        return found

    def _pending_scripts(self, snapshot: Snapshot) -> list[Script]:
        pending = []
        for script in self.request.scripts:
            applied = snapshot.scripts.get(script.name)
            if applied == script.checksum:
                continue
            if applied is not None:
                raise ReconcileError(f"script {script.name} was applied with checksum {applied[:12]}... and has "
                                     f"changed since ({script.checksum[:12]}...); scripts run once: add a new one")
            if script.statements is None:
                raise ReconcileError(f"script {script.name} has no statements split at synth (a model document of "
                                     "an older version): synthesize and deploy again with this version")
            count = len(script.statements)
            if count > SCRIPT_STATEMENTS:
                raise ReconcileError(f"script {script.name} has {count} statements; at most {SCRIPT_STATEMENTS} fit "
                                     "one transaction: split it into several scripts")
            pending.append(script)
        return pending

    # --------------------------------------------------------------------------------- one step

    def _recording(self, secrets: Callable[[str, str], str]) -> Callable[[str, str], str]:
        def resolve(arn: str, key: str) -> str:
            value = secrets(arn, key)
            self.resolved.add(value)
            return value
        return resolve

    def _redact(self, text: str) -> str:
        return redact_literals(text, self.resolved)

    def _apply_step(self, step: Step, number: int, count: int) -> bool:
        if step.statement is None:
            ok = self._apply_batch(list(step.sqls), "apply")
            if ok:
                self.log(f"applied batch {number} of {count} ({len(step.sqls)} statements)")
            return ok
        statement = step.statement
        if statement.secrets and self.secrets is None:
            raise ReconcileError(f"cannot apply {_first_words(statement.sql)}: it needs secrets and no "
                                 "secret resolver was given")
        self._check_time(f"apply step {number} of {count}")
        try:
            sql = statement.executable_sql(self.secrets)
        except SecretError as error:
            raise ReconcileError(f"cannot apply {_first_words(statement.sql)}: {self._redact(str(error))}") from None
        self.log(f"applying step {number} of {count} alone, outside a transaction: {_first_words(statement.sql)[:80]}")
        result = self._submit_and_wait([sql], "exec", transactional=False)
        if result.committed:
            self.statements_applied += 1
            return True
        if not result.foreign:
            self._failed(result, alone=True)
        return False

    def _apply_batch(self, sqls: list[str], kind: str) -> bool:
        """One transaction with the progress row; True when it committed."""
        self._check_time(f"submit a {kind} batch")
        progress = self.tables.progress_sql(self.request.model, self.request.token, self.seq,
                                            row_exists=self.progress_row)
        result = self._submit_and_wait([*sqls, progress], kind, transactional=True)
        if result.committed:
            self.progress_row = True
            self.statements_applied += len(sqls)
            return True
        if not result.foreign:
            self._failed(result, alone=False)
        return False

    def _submit_and_wait(self, sqls: list[str], kind: str, *, transactional: bool) -> _Result:
        seq = self.seq
        name = f"{self.request.token}:{seq:05d}:{kind}"
        client_token = f"{self.request.token}-{seq:05d}"
        statement_id = self._submit(sqls, name, client_token, transactional=transactional)
        self.seq = seq + 1  # used, whatever happens to it: a retry takes the next number
        description = self._wait(statement_id, f"step {seq}")
        if not _holds(description, sqls):
            self.log(f"step {seq} was already submitted by an earlier attempt as another statement "
                     f"({description.get('Status')}); reading again")
            if description.get("Status") != "FINISHED":
                self.failures += 1
            return _Result(False, foreign=True)
        status = description.get("Status")
        if status == "FINISHED":
            self.failures = 0
            return _Result(True)
        index, sql, error = self.api.failure(description)
        return _Result(False, error=error, index=index, sql=sql, stuck=bool(description.get("_stuck")))

    def _submit(self, sqls: list[str], name: str, client_token: str, *, transactional: bool) -> str:
        try:
            if transactional:
                return self.api.submit(sqls, name, client_token)
            return self.api.execute(sqls[0], name, client_token)
        except ClientError as error:
            if error_code(error) == "ValidationException":
                # If the Data API refuses a repeated ClientToken with other parameters (undocumented), the
                # step was submitted before: find that statement by its exact name instead.
                earlier = self.api.find_named(name.rsplit(":", 1)[0] + ":")
                if earlier:
                    return earlier[0].id
            raise

    def _failed(self, result: _Result, *, alone: bool) -> None:
        """A step that did not commit: retried from a fresh read when that can help, else the error."""
        seq = self.seq - 1
        if result.stuck and self.stuck < MAX_STUCK_RETRIES:
            self.stuck += 1
            self.log(f"step {seq} was cancelled after {STATEMENT_STUCK_SECONDS} s; retrying from a fresh read")
            return
        if is_transient(result.error) and self.failures < MAX_TRANSIENT_RETRIES and not result.stuck:
            self.failures += 1
            self.log(f"step {seq} failed transiently, retrying from a fresh read: {self._redact(result.error)}")
            return
        if result.stuck:
            raise ReconcileError(f"step {seq} was still running {STATEMENT_STUCK_SECONDS} s after it was submitted, "
                                 f"twice, and was cancelled (rolled back): {result.sql or 'a batch'}; another session "
                                 "may hold locks on what it changes (see SVV_TRANSACTIONS)")
        # The most common setup error has a cause the SQL does not show: say what to fix.
        advice = f". {MISSING_IDENTITY_PROVIDER_FIX}" if is_missing_identity_provider(result.error) else ""
        if alone:
            raise ReconcileError(f"statement {seq:05d} (alone, outside a transaction) failed: "
                                 f"{self._redact(result.sql)} -- Redshift said: {self._redact(result.error)}{advice}")
        where = f"statement {result.index} of batch {seq:05d}" if result.index else f"batch {seq:05d}"
        raise ReconcileError(f"{where} failed and was rolled back: {self._redact(result.sql)} -- Redshift said: "
                             f"{self._redact(result.error)}{advice}")

    # --------------------------------------------------------------------------------- waiting

    def _check_time(self, what: str) -> None:
        """Before new work: stop at the invocation budget, fail at the request's deadline."""
        if self.deadline is not None and self.clock.time() + ESTIMATED_SECONDS_PER_BATCH >= self.deadline:
            raise ReconcileError(self._deadline_message(what))
        if self.budget_end is not None and self.clock.monotonic() >= self.budget_end:
            raise Pause(f"this invocation's time budget is spent; continuing at the next poll (before: {what})")

    def _deadline_message(self, what: str) -> str:
        return (f"stopped at the apply deadline, before it could {what}: CloudFormation allows a custom resource "
                f"3,600 s, and this request had used {self.seq - 1} step(s) of its plan by then. Each batch "
                "committed whole or not at all, so the warehouse holds a consistent part of the model, and the "
                "next deploy continues from there. To fit one deploy, make the model smaller: grant tables to "
                "one plain role and grant that role to the groups (role_grants), or use scoped grants "
                "(table_grants: all_tables_in)")

    def _wait(self, statement_id: str, what: str) -> dict[str, Any]:
        """Poll until the statement is terminal: first when earlier statements took about as long, then
        sub-second, backing off for long ones. Past the invocation budget (and its grace): Pause, the next
        invocation finds the statement again through its ClientToken. Past the stuck bound or the
        request's deadline: cancel it."""
        expected = min(self._durations) if self._durations else FIRST_POLL_SECONDS
        first = max(POLL_SECONDS / 2, expected - self._call_seconds / 2)
        waiting_since = self.clock.monotonic()
        polls = 0
        while True:
            self.clock.sleep(first if polls == 0 else min(MAX_POLL_SECONDS, POLL_SECONDS * 1.5 ** (polls - 1)))
            polls += 1
            description = self._describe(statement_id)
            status = str(description.get("Status"))
            if status in TERMINAL:
                self._remember_duration(description, self.clock.monotonic() - waiting_since)
                return description
            if status not in RUNNING:
                self.log(f"{what}: unexpected status {status!r}; polling on")
            age = self.clock.monotonic() - waiting_since
            if self.deadline is not None and self.clock.time() >= self.deadline:
                self._cancel(statement_id)
                raise ReconcileError(self._deadline_message(f"finish {what} (cancelled and rolled back)"))
            if age >= STATEMENT_STUCK_SECONDS:
                self.log(f"{what} has been running for {age:.0f} s: cancelling it")
                cancelled = self._cancel(statement_id)
                cancelled["_stuck"] = True
                return cancelled
            if self.budget_end is not None and self.clock.monotonic() >= self.budget_end + WAIT_GRACE_SECONDS:
                raise Pause(f"{what} is still running; the next invocation waits for it")

    def _describe(self, statement_id: str) -> dict[str, Any]:
        started = self.clock.monotonic()
        description = self.api.describe(statement_id)
        self._call_seconds = self.clock.monotonic() - started
        return description

    def _cancel(self, statement_id: str) -> dict[str, Any]:
        """CancelStatement, then wait (bounded) until the statement reports a terminal status."""
        try:
            self.api.cancel(statement_id)
        except ClientError as error:
            if error_code(error) != "ValidationException":  # already finished: nothing left to cancel
                raise
        waited = 0.0
        while True:
            description = self._describe(statement_id)
            if description.get("Status") in TERMINAL:
                return description
            if waited >= CANCEL_WAIT_SECONDS:
                raise ReconcileError(f"statement {statement_id} did not stop within {CANCEL_WAIT_SECONDS} s of "
                                     "CancelStatement; check SVV_TRANSACTIONS before deploying again")
            self.clock.sleep(1.0)
            waited += 1.0

    def _remember_duration(self, description: dict[str, Any], observed: float) -> None:
        """How long the statement ran: Redshift's `Duration` (nanoseconds), else what the polling saw."""
        duration = description.get("Duration")
        seconds = duration / 1e9 if isinstance(duration, int) and duration > 0 else observed
        self._durations = [*self._durations[-4:], seconds]

    # --------------------------------------------------------------------------------- reading

    def _rows(self, description: dict[str, Any], queries: Sequence[tuple[str, str]],
              ) -> dict[str, Sequence[tuple[Any, ...]]]:
        """The rows of a finished read batch by query name; sub-statements that returned no rows are not fetched."""
        subs = description.get("SubStatements") or []
        rows: dict[str, Sequence[tuple[Any, ...]]] = {}
        for (name, _), sub in zip(queries, subs, strict=False):
            if sub.get("HasResultSet") and sub.get("ResultRows", -1) != 0:
                rows[name] = self.api.rows(sub["Id"])
        return rows


class _SleepClock:
    """A clock whose sleeping is someone else's (the CLI's `time.sleep`, a test's recorder)."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._sleep = sleep
        self._slept = 0.0

    def monotonic(self) -> float:
        return self._slept

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)
        self._slept += seconds


def _holds(description: dict[str, Any], sqls: Sequence[str]) -> bool:
    """Whether the statement the Data API returned is the one just sent (a repeated ClientToken returns
    an earlier attempt's statement): the same SQL exactly, literals included (two batches differing only
    in a policy's literal are different steps)."""
    subs = description.get("SubStatements") or []
    held = [str(s.get("QueryString", "")) for s in subs] if subs else [str(description.get("QueryString", ""))]
    if not held or held == [""]:
        return True  # the service did not echo the SQL: nothing to compare
    return held == list(sqls)


def _first_words(sql: str) -> str:
    return redact_literals(sql)[:200]

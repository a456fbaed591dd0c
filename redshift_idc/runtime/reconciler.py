"""Converge the warehouse to the desired access state: read once, plan once, apply that plan's batches
back to back, read again to verify.

One is-complete invocation works until the model is in sync, its time budget is spent, or the Data API
pushes back (throttling); the Provider framework then calls again. Nothing is kept between invocations
except what is in the warehouse and in the Data API:

    read (one batch: catalog, ledger, fence row) -> [claim] -> plan -> batch 1 -> batch 2 -> ... -> read -> in sync

- **One request at a time** (`fence.py`). The model's fence row names its current request. A request that
  is not the current one first claims the model (a compare-and-swap on the row, only from an older
  request), then confirms that no statement of the model from an earlier request can still run (it lists
  the model's running statements by name prefix, cancels them and waits until they end) and resolves the
  statement the row says may be in flight outside a transaction; only then does it plan. Every batch
  begins with a guard on the row (this request, the step it last committed) and ends by moving the step
  on, so a batch of an earlier request, or of an earlier attempt whose place another took, cannot commit:
  it fails at its guard, which the reconciler takes as "another attempt moved on" and reads again. A
  request that finds a newer one current is superseded: it submits nothing more and fails, never reports
  success. Names start with the model's prefix (`model_prefix`, from workgroup, database and model), then
  the request token, step and kind, so the model's statements are found by one ListStatements prefix.
- **Progress.** Every step of a request has a sequence number, and every batch writes its own into the
  fence row, in its transaction. A read therefore says which step comes next; the reconciler lists
  statements only when it claims the model, or resolves an intent (ListStatements is quota'd at 3 calls
  a second per account).
- **Idempotent submission.** A step is submitted with `ClientToken = <request token>-<seq>-<digest>`, the
  digest of what the step shows (its SQL, secrets masked), so a repeated token means the same content.
  If an earlier invocation already submitted that step (it was interrupted, or the read ran before the
  batch committed), the Data API answers with that statement instead of starting a second one, and the
  reconciler waits for it; no step is recognised by DescribeStatement's echo of its SQL. A sequence
  number is used once: a failed step's retry takes the next one.
- **Pacing.** Each batch is polled sub-second, with the first poll timed from the duration Redshift
  reported for earlier batches, so a batch costs little more than Redshift's own execution time.
- **Faults.** A failed batch changes nothing (one transaction); transient errors (a paused workgroup
  resuming, a cancelled first query, concurrent transactions) are retried from a fresh read, at most
  `MAX_TRANSIENT_RETRIES` times in a row. A batch still running `STATEMENT_STUCK_SECONDS` after it was
  submitted is cancelled and retried once from a fresh read. Throttling and other "try later" answers
  (`data_api.BUSY_ERRORS`), and a Data API that does not answer (botocore's connection errors and read
  timeouts), once botocore's retries are spent, end the invocation as "not complete yet" (`Pause`); at
  the request's apply deadline (`limits.py`) they fail it. At that deadline the reconciler cancels what
  is running and fails, naming its progress, before CloudFormation's hour runs out.

Statements that cannot run in a transaction block (identity providers, databases) are sent alone with
ExecuteStatement (step `exec`), their ledger rows in the batch that follows (see `ledger.steps`). They
cannot carry the fence: a fenced `intent` batch first records the statement's name and the last moment it
may be sent, so a later invocation or request knows to wait for it. Secrets they carry are read from
Secrets Manager just before, and are sent once: a later invocation finds the statement by its name.

With `deprovision_users` (`users.py`), each read also holds the IdC users; after the scripts, before the
plan, every such user is checked in the identity store (once per invocation) and the departed ones' removal
is merged into the plan. A departed user who owns objects nothing may take over fails the request, before
any change of that round.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NotRequired, Protocol, TypedDict

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from redshift_idc.runtime import fence
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
    StatementInfo,
    error_code,
    is_busy,
    is_missing_identity_provider,
    is_transient,
    redact_literals,
)
from redshift_idc.runtime.fence import FenceRow
from redshift_idc.runtime.ledger import MAX_BATCH_STATEMENTS, RESERVED_STATEMENTS, LedgerTables, Step, steps
from redshift_idc.runtime.limits import (
    CANCEL_WAIT_SECONDS,
    ESTIMATED_SECONDS_PER_BATCH,
    INTENT_GRACE_SECONDS,
    INTENT_SUBMIT_SECONDS,
    STATEMENT_STUCK_SECONDS,
    WAIT_GRACE_SECONDS,
)
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.ownership import OwnershipError, declared_by_others, ownership_message
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.runtime.planning.scope import Scope
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
SCRIPT_STATEMENTS = MAX_BATCH_STATEMENTS - 1 - RESERVED_STATEMENTS  # the rest: its record, the fence and progress
INTENT_POLL_SECONDS = 5.0  # how often an intent whose statement has not appeared is looked for again


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
    start_ms: int | None = None  # when the request began (epoch ms, `on_event`); None: when the reconciler is made

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


def estimated_apply_seconds(batch_count: int) -> float:
    """The documented estimate `make plan` prints and synth checks (see `limits.py`)."""
    return batch_count * ESTIMATED_SECONDS_PER_BATCH


@dataclass
class _Result:
    """How one submitted step ended: `committed`; or `refused` by its fence guard (another request or
    attempt moved the model on: read again); or failed with `error` at `index`."""

    committed: bool
    refused: bool = False
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
        self.read_only = read_only
        self.prefix = model_prefix(api.target.workgroup, api.target.database, request.model)
        self.start_ms = request.start_ms if request.start_ms is not None else int(self.clock.time() * 1000)
        self.seq = 1  # the next step's sequence number (at least the fence row's step + 1)
        self.fence_seq = 0  # the step the fence row holds for this request: every batch's guard expects it
        self.confirmed = False  # this invocation confirmed that no earlier statement of the model still runs
        self.settled: set[str] = set()  # intents (statement names) resolved by this invocation
        self.in_flight = ""  # the statement being waited for, named in a deadline's error
        self.failures = 0  # consecutive failed steps (transient, or refused by the fence), reset by a commit
        self.claimed_from: tuple[str, int] | None = None  # the row the last refused claim expected
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
        if self.read_only:
            raise ReconcileError("a read-only reconciler reads; it never claims the model or applies")
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
            # Throttled (or "try later") beyond botocore's retries: not an error, the next poll continues (a
            # statement left running is found again through its ClientToken and the fence row).
            return self._later(f"the Data API is busy ({error_code(error)})")
        except (BotocoreConnectionError, HTTPClientError) as error:
            return self._later(f"the Data API did not answer ({type(error).__name__})")

    def _later(self, reason: str) -> Outcome:
        """"Not complete yet", until the request's deadline: then the request fails, naming why."""
        if self.deadline is not None and self.clock.time() + ESTIMATED_SECONDS_PER_BATCH >= self.deadline:
            running = f"; {self.in_flight} was still running" if self.in_flight else ""
            raise ReconcileError(self._deadline_message(f"continue: {reason}{running}"))
        return Outcome(False, f"{reason}; continuing at the next poll", self.statements_applied)

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
        name = self._name(self.seq, "read")
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
        if not self._gate(snapshot.fence):
            return None
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

    # ------------------------------------------------------------------------- the fence (`fence.py`)

    def _gate(self, row: FenceRow | None) -> bool:
        """Before this round plans: the model belongs to this request (claimed if need be), no statement of
        an earlier request or invocation can still run, and the statement the row says may be in flight
        outside a transaction has ended or can no longer be sent. False: read again first (something ended
        since the read, or the claim found the row changed)."""
        token = self.request.token
        if row is None or row.token != token:
            if row is not None and row.newer_than(self.start_ms, token):
                raise ReconcileError(self._superseded(row))
            if not self._claim(row):
                return False
            # A model never claimed has no earlier statement to wait for (of this version: names carry the prefix).
            self.confirmed = self.confirmed or row is None
            row = FenceRow(token, self.start_ms, 0, row.intent if row else "", row.intent_until_ms if row else 0)
        self.fence_seq = row.seq
        self.seq = max(self.seq, row.seq + 1)
        if row.seq == 0 and not self.confirmed:
            # Claimed, by this invocation or by one that stopped before its first batch: confirm once here.
            waited = self._confirm_earlier()
            self.confirmed = True
            if waited:
                return False
        if row.intent and row.intent not in self.settled:
            self._settle_intent(row)
            return False
        return True

    def _superseded(self, row: FenceRow) -> str:
        return (f"superseded: request {row.token} (started {_iso(row.start_ms)}) is now the one that applies model "
                f"{self.request.model}; this request ({self.request.token}, started {_iso(self.start_ms)}) submits "
                "nothing more and fails, so CloudFormation never reads success from it")

    def _claim(self, row: FenceRow | None) -> bool:
        """Make this request the model's current one, in a transaction of its own guarded by the row as it
        was read (compare-and-swap). False: the row changed since (read again)."""
        self._check_time("claim the model")
        model, token = self.request.model, self.request.token
        expected = (row.token, row.seq) if row else ("", -1)
        if expected != self.claimed_from:
            self.failures = 0  # the row moved on since a refused claim: the earlier request progressed, no fault
        self.claimed_from = expected
        sqls = [fence.guard_sql(self.tables, model, row.token if row else None, row.seq if row else None),
                fence.claim_sql(self.tables, model, token, self.start_ms, row_exists=row is not None)]
        digest = hashlib.sha256(f"{token}:{self.invocation_id}:{self.reads}".encode()).hexdigest()
        statement_id = self._submit(sqls, self._name(0, "claim"), f"rsidc-claim-{digest[:40]}", transactional=True)
        description = self._wait(statement_id, "claiming the model")
        if description.get("Status") == "FINISHED":
            earlier = f"from request {row.token} (step {row.seq})" if row else "(its first request)"
            self.log(f"claimed model {model} {earlier}")
            self.failures = 0
            return True
        index, sql, error = self.api.failure(description)
        if _guard_failed(description) or description.get("_stuck") or is_transient(error):
            self._count_failure(f"claiming the model failed ({self._redact(error)}); reading again", error)
            return False
        raise ReconcileError(f"claiming model {model} failed at statement {index}: {sql} -- {self._redact(error)}")

    def _confirm_earlier(self) -> bool:
        """Wait until no statement of this model from an earlier request (cancelled first) or an earlier
        invocation of this one can still run; reads are left alone (they change nothing). True when
        something was running (the caller reads again)."""
        own = f"{self.prefix}:{self.request.token}:"
        running = [s for s in self.api.running(f"{self.prefix}:") if not s.name.endswith(":read")]
        for info in running:
            self._wait_out(info, cancel=not info.name.startswith(own))
        return bool(running)

    def _settle_intent(self, row: FenceRow) -> None:
        """The row's intent: wait for its statement to end, or when it never appeared, until it can no
        longer be sent (its recorded moment, plus the grace a call in flight and a lagging listing need)."""
        name = row.intent
        last = row.intent_until_ms / 1000 + INTENT_GRACE_SECONDS
        while True:
            found = self.api.find_named(name)
            if found:
                self._wait_out(found[0], cancel=False)
                break
            now = self.clock.time()
            if now >= last:
                self.log(f"{name} was never sent, and can no longer be")
                break
            self._check_waiting(name, "was announced and may still be sent")
            self.clock.sleep(min(last - now, INTENT_POLL_SECONDS))
        self.settled.add(name)

    def _wait_out(self, info: StatementInfo, *, cancel: bool) -> None:
        """Until the statement is terminal (cancelled first when it belongs to an earlier request)."""
        if info.status in TERMINAL:
            return
        if cancel:
            self.log(f"cancelling {info.name}, a statement of an earlier request that is still {info.status}")
            self._send_cancel(info.id)
        polls = 0
        while True:
            status = str(self._describe(info.id).get("Status"))
            if status in TERMINAL:
                self.log(f"{info.name} ended: {status}")
                return
            self._check_waiting(info.name, f"is still {status}")
            self.clock.sleep(min(MAX_POLL_SECONDS, POLL_SECONDS * 1.5 ** polls))
            polls += 1

    def _check_waiting(self, name: str, state: str) -> None:
        """While waiting for an earlier statement: fail at the request's deadline naming it; past the
        invocation's budget, "not complete yet"."""
        if self.deadline is not None and self.clock.time() >= self.deadline:
            raise ReconcileError(f"stopped at the apply deadline while statement {name} {state}: this request does "
                                 "not read or plan before it has ended, and neither does the model's next one (check "
                                 "SVV_TRANSACTIONS)")
        if self.budget_end is not None and self.clock.monotonic() >= self.budget_end + WAIT_GRACE_SECONDS:
            raise Pause(f"statement {name} {state}; the next invocation waits for it before reading")

    def _count_failure(self, message: str, error: str) -> None:
        """A step that did not commit for a reason a fresh read may cure (refused by the fence, transient):
        read again, at most `MAX_TRANSIENT_RETRIES` times in a row."""
        if self.failures >= MAX_TRANSIENT_RETRIES:
            raise ReconcileError(f"gave up after {MAX_TRANSIENT_RETRIES + 1} attempts in a row: {message.split(';')[0]}"
                                 f" -- {self._redact(error)}")
        self.failures += 1
        self.log(message)

    # --------------------------------------------------------------------------------- one step

    def _recording(self, secrets: Callable[[str, str], str]) -> Callable[[str, str], str]:
        def resolve(arn: str, key: str) -> str:
            value = secrets(arn, key)
            self.resolved.add(value)
            return value
        return resolve

    def _redact(self, text: str) -> str:
        return redact_literals(text, self.resolved)

    def _name(self, seq: int, kind: str) -> str:
        return f"{self.prefix}:{self.request.token}:{seq:05d}:{kind}"

    def _client_token(self, seq: int, shown: Sequence[str]) -> str:
        """`<request>-<seq>-<digest of the step's displayable SQL>` (57 characters of the 64 allowed): an
        earlier attempt's statement comes back only for the same step with the same content."""
        digest = hashlib.sha256(json.dumps(list(shown)).encode("utf-8")).hexdigest()
        return f"{self.request.token}-{seq:05d}-{digest[:24]}"

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
        # Announce it first (fenced): a later invocation or request then finds it by name, or knows when it
        # could no longer have been sent. It is sent only soon after the announcement, never later.
        name = self._name(self.seq + 1, "exec")
        last_send = self.clock.time() + INTENT_SUBMIT_SECONDS
        if not self._apply_batch([], "intent", intent=(name, int(last_send * 1000))):
            return False
        if self.clock.time() > last_send:
            self.settled.add(name)  # this invocation knows it never sent it; a later one waits out its moment
            self.log(f"the intent to send {name} took over {INTENT_SUBMIT_SECONDS} s: not sent, reading again")
            return False
        self.log(f"applying step {number} of {count} alone, outside a transaction: {_first_words(statement.sql)[:80]}")
        result = self._submit_and_wait([sql], "exec", transactional=False, shown=list(step.sqls))
        self.settled.add(name)
        if result.committed:
            self.statements_applied += 1
            return True
        self._failed(result, alone=True)
        return False

    def _apply_batch(self, sqls: list[str], kind: str, *, intent: tuple[str, int] | None = None) -> bool:
        """One transaction between the fence's guard and its progress (or, with `intent`, the announcement of
        the statement to be sent alone next); True when it committed."""
        self._check_time(f"submit a {kind} batch")
        seq, model = self.seq, self.request.model
        guard = fence.guard_sql(self.tables, model, self.request.token, self.fence_seq)
        close = (fence.intent_sql(self.tables, model, seq, *intent) if intent is not None
                 else fence.advance_sql(self.tables, model, seq))
        result = self._submit_and_wait([guard, *sqls, close], kind, transactional=True)
        if result.committed:
            self.fence_seq = seq
            self.statements_applied += len(sqls)
            return True
        if result.refused:
            self._count_failure(f"step {seq} was refused by the fence: another request or attempt moved model "
                                f"{model} on since the read; reading again", result.error)
            return False
        if result.index is not None:
            result.index -= 1  # the guard is not one of the step's statements
        self._failed(result, alone=False)
        return False

    def _submit_and_wait(self, sqls: list[str], kind: str, *, transactional: bool,
                         shown: Sequence[str] | None = None) -> _Result:
        """Submit step `self.seq` (`shown`: its SQL as the ClientToken's digest and logs may see it, secrets
        masked; default `sqls`) and wait for it to end."""
        seq = self.seq
        name = self._name(seq, kind)
        statement_id = self._submit(sqls, name, self._client_token(seq, shown or sqls), transactional=transactional)
        self.seq = seq + 1  # used, whatever happens to it: a retry takes the next number
        self.in_flight = name
        description = self._wait(statement_id, f"step {seq}")
        self.in_flight = ""
        if description.get("Status") == "FINISHED":
            self.failures = 0
            return _Result(True)
        index, sql, error = self.api.failure(description)
        if transactional and _guard_failed(description):
            return _Result(False, refused=True, error=error)
        return _Result(False, error=error, index=index, sql=sql, stuck=bool(description.get("_stuck")))

    def _submit(self, sqls: list[str], name: str, client_token: str, *, transactional: bool) -> str:
        try:
            if transactional:
                return self.api.submit(sqls, name, client_token)
            return self.api.execute(sqls[0], name, client_token)
        except ClientError as error:
            if error_code(error) == "ValidationException":
                # If the Data API refuses a repeated ClientToken with other parameters (undocumented; a secret
                # rotated since), the step was submitted before: find that statement by its exact name.
                earlier = self.api.find_named(name)
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
        self._send_cancel(statement_id)
        waited = 0.0
        while True:
            description = self._describe(statement_id)
            if description.get("Status") in TERMINAL:
                return description
            if waited >= CANCEL_WAIT_SECONDS:
                raise ReconcileError(f"statement {self.in_flight or statement_id} (Id {statement_id}) did not stop "
                                     f"within {CANCEL_WAIT_SECONDS} s of CancelStatement; the model's next request "
                                     "waits until it has ended before it reads (check SVV_TRANSACTIONS)")
            self.clock.sleep(1.0)
            waited += 1.0

    def _send_cancel(self, statement_id: str) -> None:
        try:
            self.api.cancel(statement_id)
        except ClientError as error:
            if error_code(error) != "ValidationException":  # already finished: nothing left to cancel
                raise

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


def _guard_failed(description: dict[str, Any]) -> bool:
    """Whether a batch failed at its first statement, the fence's guard (`fence.py`): the model's row no
    longer says what the batch expects. Known by position, never by Redshift's wording of the error."""
    subs = description.get("SubStatements") or []
    return description.get("Status") == "FAILED" and bool(subs) and subs[0].get("Status") == "FAILED"


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _first_words(sql: str) -> str:
    return redact_literals(sql)[:200]

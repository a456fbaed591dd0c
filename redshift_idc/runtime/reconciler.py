"""Converge the warehouse to the desired access state: read once, plan once, apply that plan's batches
back to back, read again to verify.

One is-complete invocation works until the model is in sync, its time budget is spent, or the Data API
pushes back (throttling); the Provider framework then calls again. Nothing is kept between invocations
except what is in the warehouse and in the Data API:

    read (one batch: catalog, ledger, fence row) -> [claim] -> plan -> batch 1 -> batch 2 -> ... -> read -> in sync

This module is the loop; its parts are `reconcile_request.py` (what a request holds, how it ends),
`catalog_read.py` (the read), `fence_gate.py` (one request at a time: the claim, earlier statements, intents),
`apply_steps.py` (the fenced batches and the statements sent alone) and `statement_runner.py` (each Data API
statement: named, submitted once, paced, bounded, and what its failure means).

- **Faults.** A failed batch changes nothing (one transaction); transient errors (a paused workgroup
  resuming, a cancelled first query, concurrent transactions) are retried from a fresh read, at most
  `MAX_TRANSIENT_RETRIES` times in a row. A batch still running `STATEMENT_STUCK_SECONDS` after it was
  submitted is cancelled and retried once from a fresh read. Throttling and other "try later" answers
  (`data_api.BUSY_ERRORS`), and a Data API that does not answer (botocore's connection errors and read
  timeouts), once botocore's retries are spent, end the invocation as "not complete yet" (`Pause`); at
  the request's apply deadline (`limits.py`) they fail it. At that deadline the reconciler cancels what
  is running and fails, naming its progress, before CloudFormation's hour runs out.

Each plan is checked against the workgroup's role quota before the round changes anything (`role_quota.py`).

With `deprovision_users` (`users.py`), each read also holds the IdC users; after the scripts and the plan,
before any statement of the round, every such user is checked in the identity store (once per invocation) and
the departed ones' removal is merged into the plan. The plan comes first because it decides what blocks a
departed user: a default privilege it revokes does not, one the model declares for the user refuses it
(`user_defaults.py`). A departed user who owns objects nothing may take over fails the request, before any
change of that round.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from redshift_idc.runtime.access_state import IdentityProvider
from redshift_idc.runtime.apply_steps import StepApplier
from redshift_idc.runtime.catalog import (
    SECADMIN,
    Snapshot,
    ledger_schema_problem,
    other_database_policy_problem,
    other_ledger_models,
    other_ledger_queries,
    read_queries,
)
from redshift_idc.runtime.catalog_read import CatalogReader, Rows
from redshift_idc.runtime.data_api import DataApi, error_code, is_busy
from redshift_idc.runtime.fence_gate import FenceGate
from redshift_idc.runtime.idc_directory import Directory, Verdict
from redshift_idc.runtime.ledger import MAX_BATCH_STATEMENTS, LedgerTables, steps
from redshift_idc.runtime.limits import ESTIMATED_SECONDS_PER_BATCH
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.ownership import OwnershipError, declared_by_others, ownership_message
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.runtime.reconcile_request import (
    SCRIPT_STATEMENTS,
    Clock,
    Outcome,
    Pause,
    ReconcileError,
    Request,
    Script,
    model_prefix,
)
from redshift_idc.runtime.role_quota import quota_problem, role_peak
from redshift_idc.runtime.sql_text import quote_ident
from redshift_idc.runtime.statement_runner import StatementRunner, first_words
from redshift_idc.runtime.user_defaults import ModelDefaults
from redshift_idc.runtime.users import Departures, check_users, with_statements


class Reconciler:
    """One invocation's work on one request: the loop, and what each round checks before it plans (the fence's gate,
    ownership, the reconciler user's visibility, scripts, departed users)."""

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
        self.request = request
        clock_: Clock = clock or time
        self.tables = LedgerTables(request.ledger_schema)
        queries = (list(queries) if queries is not None
                   else read_queries(self.tables, request.model, bootstrap=not read_only,
                                     users_namespace=request.users_namespace))
        self.directory = directory
        self.verdicts: dict[str, Verdict] = {}  # the identity store's answers, per database user, this invocation
        self.user_warnings: list[str] = []
        started = clock_.monotonic()
        self.log = log or (lambda message: None)
        self.read_only = read_only
        start_ms = request.start_ms if request.start_ms is not None else int(clock_.time() * 1000)
        self.runner = StatementRunner(
            api, request.token, model_prefix(api.target.workgroup, api.target.database, request.model),
            clock=clock_, invocation_id=invocation_id, deadline=deadline, log=self.log,
            budget_end=started + budget_seconds if budget_seconds is not None else None)
        self.reader = CatalogReader(self.runner, queries, request.desired.case_sensitive, request.users_namespace)
        self.gate = FenceGate(self.runner, self.tables, request.model, start_ms)
        self.applier = StepApplier(self.runner, self.gate, self.tables, request.model,
                                   self.runner.recording(secrets) if secrets is not None else None)
        self.plans = 0
        self.granted_secadmin = False
        self.rounds: list[list[tuple[str, ...]]] = []  # the steps of each fully committed plan
        # Policies whose catalog text this invocation restored, with the hash their row held then.
        self.restored: dict[tuple[str, tuple[str, ...]], str] = {}

    @property
    def seq(self) -> int:
        """The next step's sequence number: the steps this request has used, plus one."""
        return self.runner.seq

    @property
    def recent_durations(self) -> tuple[float, ...]:
        """Seconds Redshift reported for the last few statements (the live test prints them)."""
        return self.runner.recent_durations

    def read(self) -> Snapshot:
        """One read batch, parsed: see `CatalogReader.read`."""
        return self.reader.read()

    def read_now(self, sleep: Callable[[float], None], timeout_seconds: float = 300.0) -> Snapshot:
        """One read outside CloudFormation (`plan --live`, drift): see `CatalogReader.read_now`."""
        return self.reader.read_now(sleep, timeout_seconds)

    def read_rows_now(self, sleep: Callable[[float], None], timeout_seconds: float = 300.0) -> Rows:
        """`read_now`, unparsed (`snapshot`)."""
        return self.reader.read_rows_now(sleep, timeout_seconds)

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
            return Outcome(False, str(pause), self.applier.statements_applied)
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
        runner = self.runner
        if runner.deadline is not None and runner.clock.time() + ESTIMATED_SECONDS_PER_BATCH >= runner.deadline:
            running = f"; {runner.in_flight} was still running" if runner.in_flight else ""
            raise ReconcileError(runner.deadline_message(f"continue: {reason}{running}"))
        return Outcome(False, f"{reason}; continuing at the next poll", self.applier.statements_applied)

    def _round(self, snapshot: Snapshot) -> Outcome | None:
        """Act on one read: finish, or apply steps (then None: read again)."""
        request = self.request
        if not self.gate.gate(snapshot.fence):
            return None
        if not snapshot.user:
            # SVV_USER_INFO shows every user its own row: without it, neither what the reader may see nor the database
            # it is connected to (which tells this database's policies from others') is known.
            raise ReconcileError("the read batch did not show who it reads as (SVV_USER_INFO gave no row for "
                                 "current_user), so neither its visibility nor its database is known; refusing to plan")
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
            self.granted_secadmin = self.applier.apply_batch([grant], "grant-secadmin")
            return None
        pending = self._pending_scripts(snapshot)
        if pending:
            self._plan(snapshot)  # a plan another model's objects refuse fails before any script runs
            for script in pending:
                record = self.tables.record_script_sql(request.model, script.name, script.checksum)
                self.log(f"applying script {script.name}")
                assert script.statements is not None  # _pending_scripts refused a script without them
                if not self.applier.apply_batch([*script.statements, record], "script"):
                    return None
            return None
        self.plans += 1
        planned = self._plan(snapshot)
        departed = self.departures(snapshot, planned)  # after the plan, before any statement of the round
        if departed is not None:
            planned = with_statements(planned, departed.statements)
        self._check_restored(planned)
        cut = steps(planned, request.model, self.tables)
        if not cut:
            return Outcome(True, "in sync", self.applier.statements_applied, [*snapshot.warnings, *self.user_warnings])
        shown = [step.sqls for step in cut]
        if len(self.rounds) >= 2 and all(r == shown for r in self.rounds[-2:]):
            raise ReconcileError("the same batch committed twice and the catalog still differs from the model "
                                 f"(first statement: {first_words(cut[0].sqls[0])}); check name case folding "
                                 "(enable_case_sensitive_identifier) and the reconciler user's visibility")
        self.log(f"plan: {sum(len(s.sqls) for s in cut)} statements in {len(cut)} steps")
        for number, step in enumerate(cut, start=1):
            if not self.applier.apply_step(step, number, len(cut)):
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
        """The round's plan, refused before any change of the round (scripts included) when another model's objects
        forbid it or when its roles would exceed the workgroup's quota."""
        try:
            planned = plan(self.request.desired, snapshot.state, snapshot.ledger, prune=self.request.prune,
                           identity_provider_drop_cascade=self.request.identity_provider_drop_cascade,
                           coalesce=self.request.coalesce,
                           definitions=snapshot.definitions, scope=self.request.scope,
                           stored=snapshot.stored_hashes(), owners=snapshot.owners)
        except OwnershipError as error:
            raise ReconcileError(f"access model '{self.request.model}': {error}") from None
        if self.request.role_quota is not None:
            problem = quota_problem(role_peak(snapshot.roles, planned.statements), self.request.role_quota)
            if problem:
                raise ReconcileError(f"access model '{self.request.model}': {problem}")
        return planned

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
        clash = other_database_policy_problem(request.desired, snapshot)  # a policy name another database uses
        if clash:
            raise ReconcileError(f"access model '{request.model}': {clash}")

    def other_ledger_models(self, snapshot: Snapshot) -> dict[str, list[str]]:
        """Schema -> the models whose rows it holds, for the other ledger schemas the read found: a second read,
        only when it found one (at most one batch of them)."""
        if not snapshot.other_ledger_schemas:
            return {}
        return other_ledger_models(self.reader.read_rows(
            other_ledger_queries(snapshot.other_ledger_schemas[:MAX_BATCH_STATEMENTS])))

    def departures(self, snapshot: Snapshot, planned: Plan) -> Departures | None:
        """With `deprovision_users`: which IdC users left (the identity store asked once per user and
        invocation) and the statements that remove them, against the round's plan (`planned`: the default
        privileges it revokes block no DROP USER). A departed user who cannot be removed (owns objects nothing
        may take over, is the creator of a default privilege the model declares) fails the request here, before
        this round changes anything."""
        settings = self.request.deprovision
        if settings is None:
            return None
        if snapshot.users is None:
            raise ReconcileError("deprovision_users is on, but the read batch did not read the users")
        if self.directory is None:
            raise ReconcileError("deprovision_users is on, but no identity store was given to check the users in "
                                 "(the custom resource needs its IdentityStoreId property: deploy with this version)")
        self.runner.check_time("check the users in IAM Identity Center")
        found = check_users(snapshot.users, settings, self.directory, reader=snapshot.user, cache=self.verdicts,
                            log=self.log, defaults=ModelDefaults.of(self.request.model, self.request.desired, planned))
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

"""One request at a time (`fence.py`): the gate a round passes before it plans.

The model's fence row names its current request. A request that is not the current one first claims the model
(a compare-and-swap on the row, only from an older request), then confirms that no statement of the model from an
earlier request can still run (it lists the model's running statements by name prefix, cancels them and waits
until they end) and resolves the statement the row says may be in flight outside a transaction; only then does it
plan. Every batch begins with a guard on the row (this request, the step it last committed) and ends by moving the
step on (`apply_steps.py`), so a batch of an earlier request, or of an earlier attempt whose place another took,
cannot commit: it fails at its guard, which the reconciler takes as "another attempt moved on" and reads again. A
request that finds a newer one current is superseded: it submits nothing more and fails, never reports success.

**Progress.** Every step of a request has a sequence number, and every batch writes its own into the fence row, in
its transaction. A read therefore says which step comes next; the reconciler lists statements only when it claims
the model, or resolves an intent (ListStatements is quota'd at 3 calls a second per account).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from redshift_idc.runtime import fence
from redshift_idc.runtime.data_api import TERMINAL, StatementInfo, is_transient
from redshift_idc.runtime.fence import FenceRow
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.limits import INTENT_GRACE_SECONDS
from redshift_idc.runtime.reconcile_request import ReconcileError
from redshift_idc.runtime.statement_runner import StatementRunner, guard_failed

INTENT_POLL_SECONDS = 5.0  # how often an intent whose statement has not appeared is looked for again


class FenceGate:
    """What this invocation knows of the model's fence: the step the row holds for this request (every batch's
    guard expects it), whether no earlier statement can still run, which intents it resolved."""

    def __init__(self, runner: StatementRunner, tables: LedgerTables, model: str, start_ms: int) -> None:
        """`start_ms`: when the request began (epoch ms): an older request's claim gives way to it."""
        self.runner = runner
        self.tables = tables
        self.model = model
        self.start_ms = start_ms
        self.fence_seq = 0  # the step the fence row holds for this request: every batch's guard expects it
        self.confirmed = False  # this invocation confirmed that no earlier statement of the model still runs
        self.settled: set[str] = set()  # intents (statement names) resolved by this invocation
        self.claimed_from: tuple[str, int] | None = None  # the row the last refused claim expected

    def gate(self, row: FenceRow | None) -> bool:
        """Before this round plans: the model belongs to this request (claimed if need be), no statement of
        an earlier request or invocation can still run, and the statement the row says may be in flight
        outside a transaction has ended or can no longer be sent. False: read again first (something ended
        since the read, or the claim found the row changed)."""
        token = self.runner.token
        if row is None or row.token != token:
            if row is not None and row.newer_than(self.start_ms, token):
                raise ReconcileError(self._superseded(row))
            if not self._claim(row):
                return False
            # A model never claimed has no earlier statement to wait for (of this version: names carry the prefix).
            self.confirmed = self.confirmed or row is None
            row = FenceRow(token, self.start_ms, 0, row.intent if row else "", row.intent_until_ms if row else 0)
        self.fence_seq = row.seq
        self.runner.seq = max(self.runner.seq, row.seq + 1)
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
                f"{self.model}; this request ({self.runner.token}, started {_iso(self.start_ms)}) submits "
                "nothing more and fails, so CloudFormation never reads success from it")

    def _claim(self, row: FenceRow | None) -> bool:
        """Make this request the model's current one, in a transaction of its own guarded by the row as it
        was read (compare-and-swap). False: the row changed since (read again)."""
        runner = self.runner
        runner.check_time("claim the model")
        model, token = self.model, runner.token
        expected = (row.token, row.seq) if row else ("", -1)
        if expected != self.claimed_from:
            runner.failures = 0  # the row moved on since a refused claim: the earlier request progressed, no fault
        self.claimed_from = expected
        sqls = [fence.guard_sql(self.tables, model, row.token if row else None, row.seq if row else None),
                fence.claim_sql(self.tables, model, token, self.start_ms, row_exists=row is not None)]
        digest = hashlib.sha256(f"{token}:{runner.invocation_id}:{runner.reads}".encode()).hexdigest()
        sent = runner.clock.monotonic()
        submitted = runner.submit(sqls, runner.name(0, "claim"), f"rsidc-claim-{digest[:40]}", transactional=True)
        description = runner.wait(submitted.id, "claiming the model", answered=submitted.status, since=sent)
        if description.get("Status") == "FINISHED":
            earlier = f"from request {row.token} (step {row.seq})" if row else "(its first request)"
            runner.log(f"claimed model {model} {earlier}")
            runner.failures = 0
            return True
        index, sql, error = runner.api.failure(description)
        if guard_failed(description) or description.get("_stuck") or is_transient(error):
            runner.count_failure(f"claiming the model failed ({runner.redact(error)}); reading again", error)
            return False
        raise ReconcileError(f"claiming model {model} failed at statement {index}: {sql} -- {runner.redact(error)}")

    def _confirm_earlier(self) -> bool:
        """Wait until no statement of this model from an earlier request (cancelled first) or an earlier
        invocation of this one can still run; reads are left alone (they change nothing). True when
        something was running (the caller reads again)."""
        runner = self.runner
        own = f"{runner.prefix}:{runner.token}:"
        running = [s for s in runner.api.running(f"{runner.prefix}:") if not s.name.endswith(":read")]
        for info in running:
            self._wait_out(info, cancel=not info.name.startswith(own))
        return bool(running)

    def _settle_intent(self, row: FenceRow) -> None:
        """The row's intent: wait for its statement to end, or when it never appeared, until it can no
        longer be sent (its recorded moment, plus the grace a call in flight and a lagging listing need)."""
        runner = self.runner
        name = row.intent
        last = row.intent_until_ms / 1000 + INTENT_GRACE_SECONDS
        while True:
            found = runner.api.find_named(name)
            if found:
                self._wait_out(found[0], cancel=False)
                break
            now = runner.clock.time()
            if now >= last:
                runner.log(f"{name} was never sent, and can no longer be")
                break
            runner.check_waiting(name, "was announced and may still be sent")
            runner.clock.sleep(min(last - now, INTENT_POLL_SECONDS))
        self.settled.add(name)

    def _wait_out(self, info: StatementInfo, *, cancel: bool) -> None:
        """Until the statement is terminal (cancelled first when it belongs to an earlier request)."""
        runner = self.runner
        if info.status in TERMINAL:
            return
        if cancel:
            runner.log(f"cancelling {info.name}, a statement of an earlier request that is still {info.status}")
            runner.send_cancel(info.id)
        polls = 0
        while True:
            started = runner.clock.monotonic()
            status = str(runner.describe(info.id, wait=True).get("Status"))
            if status in TERMINAL:
                runner.log(f"{info.name} ended: {status}")
                return
            runner.check_waiting(info.name, f"is still {status}")
            runner.pause(polls, started)
            polls += 1


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"

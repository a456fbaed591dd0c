"""Applying a plan's steps (`ledger.steps`): each batch one transaction between the fence's guard and its progress
(`fence_gate.py`), each statement that cannot run in a transaction block (identity providers, databases) alone.

A lone statement (ExecuteStatement, step `exec`) cannot carry the fence, and its ledger rows go in the batch that
follows (see `ledger.steps`): a fenced `intent` batch first records the statement's name and the last moment it may
be sent, so a later invocation or request knows to wait for it. Secrets it carries are read from Secrets Manager
just before, and are sent once: a later invocation finds the statement by its name.
"""

from __future__ import annotations

from collections.abc import Callable

from redshift_idc.runtime import fence
from redshift_idc.runtime.fence_gate import FenceGate
from redshift_idc.runtime.ledger import LedgerTables, Step
from redshift_idc.runtime.limits import INTENT_SUBMIT_SECONDS
from redshift_idc.runtime.reconcile_request import ReconcileError
from redshift_idc.runtime.secrets import SecretError
from redshift_idc.runtime.statement_runner import StatementRunner, covered_objects, first_words


class StepApplier:
    """Applies steps, counting the statements that committed."""

    def __init__(self, runner: StatementRunner, gate: FenceGate, tables: LedgerTables, model: str,
                 secrets: Callable[[str, str], str] | None) -> None:
        """`secrets(arn, key)`: resolves the secrets of identity provider statements (none: they cannot apply)."""
        self.runner = runner
        self.gate = gate
        self.tables = tables
        self.model = model
        self.secrets = secrets
        self.statements_applied = 0

    def apply_step(self, step: Step, number: int, count: int) -> bool:
        """One step of the plan; True when it committed (False: read again first)."""
        runner = self.runner
        if step.statement is None:
            ok = self.apply_batch(list(step.sqls), "apply", step=step)
            if ok:
                runner.log(f"applied batch {number} of {count} ({len(step.sqls)} statements)")
            return ok
        statement = step.statement
        if statement.secrets and self.secrets is None:
            raise ReconcileError(f"cannot apply {first_words(statement.sql)}: it needs secrets and no "
                                 "secret resolver was given")
        runner.check_time(f"apply step {number} of {count}")
        try:
            sql = statement.executable_sql(self.secrets)
        except SecretError as error:
            raise ReconcileError(f"cannot apply {first_words(statement.sql)}: {runner.redact(str(error))}") from None
        # Announce it first (fenced): a later invocation or request then finds it by name, or knows when it
        # could no longer have been sent. It is sent only soon after the announcement, never later.
        name = runner.name(runner.seq + 1, "exec")
        last_send = runner.clock.time() + INTENT_SUBMIT_SECONDS
        if not self.apply_batch([], "intent", intent=(name, int(last_send * 1000))):
            return False
        if runner.clock.time() > last_send:
            self.gate.settled.add(name)  # this invocation knows it never sent it; a later one waits out its moment
            runner.log(f"the intent to send {name} took over {INTENT_SUBMIT_SECONDS} s: not sent, reading again")
            return False
        runner.log(f"applying step {number} of {count} alone, outside a transaction: {first_words(statement.sql)[:80]}")
        result = runner.submit_and_wait([sql], "exec", transactional=False, shown=list(step.sqls))
        self.gate.settled.add(name)
        if result.committed:
            self.statements_applied += 1
            return True
        runner.failed(result, alone=True)
        return False

    def apply_batch(self, sqls: list[str], kind: str, *, intent: tuple[str, int] | None = None,
                    step: Step | None = None) -> bool:
        """One transaction between the fence's guard and its progress (or, with `intent`, the announcement of
        the statement to be sent alone next); True when it committed. `step`: the plan's step the batch applies
        (its statements come first, in order), to name what a failed statement covered."""
        runner = self.runner
        runner.check_time(f"submit a {kind} batch")
        seq, model = runner.seq, self.model
        guard = fence.guard_sql(self.tables, model, runner.token, self.gate.fence_seq)
        close = (fence.intent_sql(self.tables, model, seq, *intent) if intent is not None
                 else fence.advance_sql(self.tables, model, seq))
        result = runner.submit_and_wait([guard, *sqls, close], kind, transactional=True)
        if result.committed:
            self.gate.fence_seq = seq
            self.statements_applied += len(sqls)
            return True
        if result.refused:
            runner.count_failure(f"step {seq} was refused by the fence: another request or attempt moved model "
                                 f"{model} on since the read; reading again", result.error)
            return False
        if result.index is not None:
            result.index -= 1  # the guard is not one of the step's statements
            if step is not None and 1 <= result.index <= len(step.statements):
                result.covered = covered_objects(step.statements[result.index - 1])
        runner.failed(result, alone=False)
        return False

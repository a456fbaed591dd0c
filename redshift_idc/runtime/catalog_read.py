"""Reading the warehouse: one read batch (catalog, ledger, fence row, and the IdC users with `deprovision_users`)
submitted, waited for and parsed into a `Snapshot`; retried from scratch when it fails transiently or is stuck.
The reconciler reads this way in Lambda, and `plan --live`, drift, `verify` and `snapshot` read this way outside
it (`read_now`), so they all see the catalog exactly as a deploy does."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from redshift_idc.runtime.catalog import Snapshot, parse_snapshot
from redshift_idc.runtime.data_api import is_transient, redact_literals
from redshift_idc.runtime.limits import WAIT_GRACE_SECONDS
from redshift_idc.runtime.reconcile_request import Pause, ReconcileError
from redshift_idc.runtime.statement_runner import MAX_STUCK_RETRIES, MAX_TRANSIENT_RETRIES, StatementRunner
from redshift_idc.runtime.users import USERS_QUERY

Rows = dict[str, Sequence[tuple[Any, ...]]]


class CatalogReader:
    """Reads through the invocation's `StatementRunner`, so reads share its budget, retries and step numbers."""

    def __init__(self, runner: StatementRunner, queries: Sequence[tuple[str, str]], case_sensitive: bool,
                 users_namespace: str | None) -> None:
        """`queries`: the read batch as (name, SQL); `users_namespace`: the IdC namespace whose users it reads, if
        it reads them (`deprovision_users`)."""
        self.runner = runner
        self.queries = list(queries)
        self.case_sensitive = case_sensitive
        self.users_namespace = users_namespace

    def read(self) -> Snapshot:
        """Submit one read batch (one snapshot), wait for it, fetch its rows."""
        return parse_snapshot(self.read_rows(), self.case_sensitive, self._users_read())

    def _users_read(self) -> str | None:
        """The namespace whose users this reconciler's read batch holds (None: not read)."""
        names = {name for name, _ in self.queries}
        return self.users_namespace if USERS_QUERY in names else None

    def read_rows(self, queries: Sequence[tuple[str, str]] | None = None) -> Rows:
        """`read`, unparsed: each query's rows by name (queries that returned no rows are absent). What
        `snapshot` writes down, so `import` and `plan --snapshot` see the catalog exactly as `read` does.
        `queries`: another read-only batch instead of this reconciler's read (the other ledgers' models)."""
        runner = self.runner
        queries = self.queries if queries is None else list(queries)
        runner.check_time("read the current state")
        runner.reads += 1
        digest = hashlib.sha256(f"{runner.token}:{runner.invocation_id}:{runner.reads}".encode()).hexdigest()
        name = runner.name(runner.seq, "read")
        sent = runner.clock.monotonic()
        submitted = runner.api.submit([q for _, q in queries], name, f"rsidc-read-{digest[:40]}",
                                      wait=runner.long_polling)
        description = runner.wait(submitted.id, "reading the current state", answered=submitted.status,
                                  details=True, since=sent)  # its sub-statements say which results hold rows
        if description.get("Status") != "FINISHED":
            index, sql, error = runner.api.failure(description)
            if description.get("_stuck") and runner.stuck < MAX_STUCK_RETRIES:
                runner.stuck += 1
                return self.read_rows(queries)
            if is_transient(error) and runner.failures < MAX_TRANSIENT_RETRIES:
                runner.failures += 1
                runner.log(f"reading the current state failed transiently, reading again: {redact_literals(error)}")
                return self.read_rows(queries)
            raise ReconcileError(f"reading the current state failed at statement {index}: {sql} -- {error}")
        return self._rows(description, queries)

    def read_now(self, sleep: Callable[[float], None], timeout_seconds: float = 300.0) -> Snapshot:
        """One read outside CloudFormation (`plan --live`, drift): waits with `sleep`, gives up after
        `timeout_seconds`."""
        return parse_snapshot(self.read_rows_now(sleep, timeout_seconds), self.case_sensitive, self._users_read())

    def read_rows_now(self, sleep: Callable[[float], None], timeout_seconds: float = 300.0) -> Rows:
        """`read_now`, unparsed (`snapshot`)."""
        runner = self.runner
        runner.clock = _SleepClock(sleep)
        # This clock counts only the time `sleep` passed: a call that waits in the service would pass time it never
        # sees, so its timeout and the stuck bound would not hold. Reads outside Lambda poll (one read: a few calls).
        runner.long_polling = False
        runner.budget_end = runner.clock.monotonic() + timeout_seconds - WAIT_GRACE_SECONDS
        try:
            return self.read_rows()
        except Pause as pause:
            raise ReconcileError(f"reading the current state: {pause}") from None

    def _rows(self, description: dict[str, Any], queries: Sequence[tuple[str, str]]) -> Rows:
        """The rows of a finished read batch by query name; sub-statements that returned no rows are not fetched."""
        subs = description.get("SubStatements") or []
        rows: Rows = {}
        for (name, _), sub in zip(queries, subs, strict=False):
            if sub.get("HasResultSet") and sub.get("ResultRows", -1) != 0:
                rows[name] = self.runner.api.rows(sub["Id"])
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

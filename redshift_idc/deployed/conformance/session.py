"""The recorder's Data API calls: one batch (one transaction) or one statement alone, waited for, timed, with
their rows. Every call is recorded (`Session.calls`) with what it held, so a recording calibrates the apply
estimate (`access/estimate.py` prices Data API steps): statements, objects, bytes, the wall time the caller saw
and the `Duration` the service reports (nanoseconds; per sub-statement where it gives one).

Errors of Redshift come back as a failed `Outcome` (the recorder records them: many probes expect one), word for
word: the recorder's statements hold no secret (no identity provider PARAMETERS, no password), and the literals an
error may quote are the recorder's own, so nothing is redacted from the evidence. Errors of the Data API itself
(credentials, throttling after botocore's retries, a missing workgroup) are raised.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redshift_idc.runtime.data_api import TERMINAL, DataApi

POLL_SECONDS = 0.5
TIMEOUT_SECONDS = 600.0


class StuckError(Exception):
    """A statement that did not end in time (cancelled)."""


@dataclass
class Outcome:
    """What one call did: `ok`, else the error Redshift gave and the 1-based statement it failed at."""

    ok: bool
    error: str = ""
    failed_index: int | None = None
    sub_statuses: tuple[str, ...] = ()
    rows: list[list[tuple[Any, ...]] | None] = field(default_factory=list)  # per statement; None: no result set


def statement_kind(sql: str) -> str:
    """The form of a statement without its names and values (`GRANT SELECT ON TABLE "x"."x" TO ROLE "x"`):
    what the recording lists as covered, and what its timings are grouped by."""
    import re

    text = re.sub(r'"(?:[^"]|"")*"', '"x"', sql)
    text = re.sub(r"'(?:[^'\\]|''|\\.)*'", "'v'", text)
    text = re.sub(r"\((?:[^()]|\([^()]*\))*\)", "(...)", text)
    return re.sub(r"\b\d+\b", "n", text)[:160]


class Session:
    """Calls through the project's `DataApi`, waiting with `sleep` and timing with `clock`."""

    def __init__(self, api: DataApi, sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        self.api = api
        self.sleep = sleep
        self.clock = clock
        self.calls: list[dict[str, Any]] = []

    def batch(self, sqls: Sequence[str], phase: str, objects: int = 0) -> Outcome:
        """`sqls` as one BatchExecuteStatement (one transaction)."""
        return self._run(list(sqls), phase, objects, alone=False)

    def alone(self, sql: str, phase: str, objects: int = 0) -> Outcome:
        """`sql` alone with ExecuteStatement (outside any transaction block)."""
        return self._run([sql], phase, objects, alone=True)

    def _run(self, sqls: list[str], phase: str, objects: int, *, alone: bool) -> Outcome:
        token = uuid.uuid4().hex
        name = f"conformance-{phase}-{len(self.calls) + 1:04d}"
        start = self.clock()
        # Submitted without waiting, then polled: `seconds` stays comparable between recordings (submission to the
        # poll that saw the end, every 0.5 s), whatever the client's boto3 (data_api.accepts_long_polling).
        statement_id = (self.api.execute(sqls[0], name, token) if alone
                        else self.api.submit(sqls, name, token)).id
        description = self._wait(statement_id)
        seconds = self.clock() - start
        outcome = self._outcome(description, sqls, alone)
        subs = description.get("SubStatements") or []
        self.calls.append({
            "phase": phase, "call": "ExecuteStatement" if alone else "BatchExecuteStatement",
            "statements": len(sqls), "objects": objects, "bytes": sum(len(s.encode("utf-8")) for s in sqls),
            "kinds": dict(sorted(Counter(statement_kind(s).split(" (")[0][:60] for s in sqls).items())),
            "seconds": round(seconds, 3), "duration_ns": description.get("Duration"),
            "sub_durations_ns": [sub.get("Duration") for sub in subs] if subs else None,
            "ok": outcome.ok,
        })
        return outcome

    def _wait(self, statement_id: str) -> dict[str, Any]:
        waited = 0.0
        while True:
            description = self.api.describe(statement_id)
            if description.get("Status") in TERMINAL:
                return description
            if waited >= TIMEOUT_SECONDS:
                self.api.cancel(statement_id)
                raise StuckError(f"statement {statement_id} did not end within {TIMEOUT_SECONDS:.0f} s (cancelled)")
            self.sleep(POLL_SECONDS)
            waited += POLL_SECONDS

    def _outcome(self, description: dict[str, Any], sqls: list[str], alone: bool) -> Outcome:
        subs = description.get("SubStatements") or []
        statuses = tuple(str(sub.get("Status", "")) for sub in subs)
        if description.get("Status") != "FINISHED":
            index, _, error = self.api.failure(description)
            return Outcome(False, error, index, statuses)
        rows: list[list[tuple[Any, ...]] | None] = []
        if alone:
            rows.append(self.api.rows(description["Id"]) if description.get("HasResultSet") else None)
        else:
            for sub in subs:
                has_rows = sub.get("HasResultSet") and sub.get("ResultRows", -1) != 0
                rows.append(self.api.rows(sub["Id"]) if has_rows else ([] if sub.get("HasResultSet") else None))
        return Outcome(True, sub_statuses=statuses, rows=rows)

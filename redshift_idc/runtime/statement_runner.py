"""The Data API statements of one invocation, one at a time: each named after its model, request and step, submitted
once (its ClientToken is the digest of what it shows, so a repeated submission returns the earlier statement),
polled at the pace Redshift's reported durations suggest, and stopped at the invocation's budget (`Pause`), at the
request's deadline or when stuck (cancelled, `ReconcileError`). Also what a step that did not commit means: a
retry from a fresh read (transient, stuck once, refused by the fence, a CREATE ROLE whose role an IdC sign-in
created meanwhile), or the error, worded without secrets.

- **Idempotent submission.** A step is submitted with `ClientToken = <request token>-<seq>-<digest>`, the
  digest of what the step shows (its SQL, secrets masked), so a repeated token means the same content.
  If an earlier invocation already submitted that step (it was interrupted, or the read ran before the
  batch committed), the Data API answers with that statement instead of starting a second one, and the
  reconciler waits for it; no step is recognised by DescribeStatement's echo of its SQL. A sequence
  number is used once: a failed step's retry takes the next one.
- **Long polling** (where the client's boto3 has it: `data_api.accepts_long_polling`). A step is submitted with
  `WaitTimeSeconds`, so the submission's answer says FINISHED for a batch that ends within the wait: the step
  costs that one call, and no poll runs behind the service's own status. A batch still running (or failed: its
  error is in DescribeStatement's sub-statements) is described with `WaitTimeSeconds` until it ends; a call that
  came back sooner than the polling interval below is followed by the rest of it, so calls never come faster than
  plain polling's.
- **Pacing** (`Pacing`), without long polling. The first poll of a batch is timed from what earlier batches of
  the invocation showed: the shortest execution time Redshift reported (`Duration`) for the last few batches of
  as many statements (or the nearest count), plus the status lag (the Data API reports a batch a little after it
  ends, and `Duration` excludes that lag).
  Later polls are sub-second, backing off for long statements. A batch then costs about its execution time,
  its status lag and one DescribeStatement, far inside the Data API's 100 TPS for DescribeStatement.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from redshift_idc.runtime.data_api import (
    MISSING_IDENTITY_PROVIDER_FIX,
    RUNNING,
    TERMINAL,
    DataApi,
    Submitted,
    error_code,
    is_missing_identity_provider,
    is_role_created_meanwhile,
    is_transient,
    redact_literals,
)
from redshift_idc.runtime.limits import (
    CANCEL_WAIT_SECONDS,
    ESTIMATED_SECONDS_PER_BATCH,
    STATEMENT_STUCK_SECONDS,
    WAIT_GRACE_SECONDS,
)
from redshift_idc.runtime.planning.plan_types import Statement
from redshift_idc.runtime.reconcile_request import Clock, Pause, ReconcileError

MAX_TRANSIENT_RETRIES = 3
MAX_STUCK_RETRIES = 1
FIRST_POLL_SECONDS = 1.0  # before any batch has reported how long batches take here
POLL_SECONDS = 0.1  # then sub-second, backing off to MAX_POLL_SECONDS for long-running statements
MAX_POLL_SECONDS = 2.0
LAG_PRECISION_SECONDS = 0.02  # how closely `Pacing` narrows the status lag down before it stops probing
REMEMBERED = 5  # statements whose figures `Pacing` keeps


class Pacing:
    """When to poll a statement first, from what earlier statements of the invocation showed.

    The status lag cannot be seen directly: a poll that finds a statement ended says the lag is at most the
    poll's time past the reported `Duration`, one that finds it running says it is more. `Pacing` keeps both
    bounds and, while they are further apart than `LAG_PRECISION_SECONDS`, times the first poll in between: a
    probe that finds the statement running costs one more DescribeStatement and at most one poll interval, and
    each probe halves the bounds' distance. Every time is counted from the submission's answer
    (the frame cancels the call latency out)."""

    def __init__(self) -> None:
        self.durations: list[float] = []  # seconds Redshift reported for the last statements
        self.by_size: dict[int, list[float]] = {}  # the last reported durations of statements of so many SQL
        self.lag_above: list[float] = []  # recent statements' lags were more than these
        self.lag_at_most: list[float] = []  # and at most these

    def lag(self) -> float:
        """The status lag the first poll allows for: the upper bound, or halfway down to the lower one."""
        high = min(self.lag_at_most)
        low = max((x for x in self.lag_above if x < high), default=0.0)
        return high if high - low <= LAG_PRECISION_SECONDS else (low + high) / 2

    def first_poll(self, size: int) -> float:
        """Seconds after the submission's answer to poll a statement of `size` SQL statements first."""
        if not self.durations:
            return FIRST_POLL_SECONDS
        if not size or not self.by_size:
            return min(self.durations) + self.lag()
        nearest = min(self.by_size, key=lambda known: (abs(known - size), known))  # the same size, else the closest
        return min(self.by_size[nearest]) + self.lag()  # the shortest: one slow batch does not delay the next

    def learn(self, size: int, duration: float, seen: float, running: float | None) -> None:
        """A statement of `size` SQL statements ran `duration` s; the poll at `seen` found it ended, the one at
        `running` (if any) found it still running."""
        self.durations = [*self.durations[-REMEMBERED + 1:], duration]
        if size:
            self.by_size[size] = [*self.by_size.get(size, [])[-REMEMBERED + 1:], duration]
        self.lag_at_most = [*self.lag_at_most[-REMEMBERED + 1:], max(0.0, seen - duration)]
        if running is not None and running > duration:
            self.lag_above = [*self.lag_above[-REMEMBERED + 1:], running - duration]


@dataclass
class StepResult:
    """How one submitted step ended: `committed`; or `refused` by its fence guard (another request or
    attempt moved the model on: read again); or failed with `error` at `index`."""

    committed: bool
    refused: bool = False
    error: str = ""
    index: int | None = None
    sql: str = ""
    stuck: bool = False
    covered: str = ""  # the objects a failed statement for many objects covered (`covered_objects`)


class StatementRunner:
    """One invocation's statements and what it knows across them: the next step's number, the retries in a row,
    the secrets resolved (masked in every message), the durations Redshift reported."""

    def __init__(self, api: DataApi, token: str, prefix: str, *, clock: Clock, invocation_id: str,
                 budget_end: float | None, deadline: float | None, log: Callable[[str], None]) -> None:
        """`token`: the request's (`statement_token`); `prefix`: the model's (`model_prefix`). `budget_end`: no new
        Data API work after this moment (monotonic); `deadline`: the request's hard end (epoch)."""
        self.api = api
        self.token = token
        self.prefix = prefix
        self.clock = clock
        self.invocation_id = invocation_id  # makes each read's ClientToken unique (the Lambda request id)
        self.budget_end = budget_end
        self.deadline = deadline
        self.log = log
        self.resolved: set[str] = set()  # every secret value resolved: masked in any text this reports
        self.seq = 1  # the next step's sequence number (at least the fence row's step + 1)
        self.in_flight = ""  # the statement being waited for, named in a deadline's error
        self.failures = 0  # consecutive failed steps (transient, or refused by the fence), reset by a commit
        self.stuck = 0
        self.reads = 0
        self.pacing = Pacing()
        self._call_seconds = 0.0  # round trip of the last DescribeStatement that did not wait
        # Submissions and DescribeStatement wait in the service (module docstring), where the client has it.
        self.long_polling = api.long_polling

    @property
    def recent_durations(self) -> tuple[float, ...]:
        """Seconds Redshift reported for the last few statements (the live test prints them)."""
        return tuple(self.pacing.durations)

    @property
    def recent_status_lags(self) -> tuple[float, ...]:
        """For the last few statements, the most their status lag can have been: seconds from the end of the
        reported `Duration` (counted from the submission's answer) to the poll that found them ended."""
        return tuple(self.pacing.lag_at_most)

    # --------------------------------------------------------------------------------- naming, secrets

    def recording(self, secrets: Callable[[str, str], str]) -> Callable[[str, str], str]:
        """`secrets`, remembering each value it resolves, so that no message this reports shows one."""
        def resolve(arn: str, key: str) -> str:
            value = secrets(arn, key)
            self.resolved.add(value)
            return value
        return resolve

    def redact(self, text: str) -> str:
        return redact_literals(text, self.resolved)

    def name(self, seq: int, kind: str) -> str:
        return f"{self.prefix}:{self.token}:{seq:05d}:{kind}"

    def _client_token(self, seq: int, shown: Sequence[str]) -> str:
        """`<request>-<seq>-<digest of the step's displayable SQL>` (57 characters of the 64 allowed): an
        earlier attempt's statement comes back only for the same step with the same content."""
        digest = hashlib.sha256(json.dumps(list(shown)).encode("utf-8")).hexdigest()
        return f"{self.token}-{seq:05d}-{digest[:24]}"

    # --------------------------------------------------------------------------------- one step

    def submit_and_wait(self, sqls: list[str], kind: str, *, transactional: bool,
                        shown: Sequence[str] | None = None) -> StepResult:
        """Submit step `self.seq` (`shown`: its SQL as the ClientToken's digest and logs may see it, secrets
        masked; default `sqls`) and wait for it to end."""
        seq = self.seq
        name = self.name(seq, kind)
        sent = self.clock.monotonic()
        submitted = self.submit(sqls, name, self._client_token(seq, shown or sqls), transactional=transactional)
        self.seq = seq + 1  # used, whatever happens to it: a retry takes the next number
        self.in_flight = name
        description = self.wait(submitted.id, f"step {seq}", size=len(sqls), answered=submitted.status, since=sent)
        self.in_flight = ""
        if description.get("Status") == "FINISHED":
            self.failures = 0
            return StepResult(True)
        index, sql, error = self.api.failure(description)
        if transactional and guard_failed(description):
            return StepResult(False, refused=True, error=error)
        return StepResult(False, error=error, index=index, sql=sql, stuck=bool(description.get("_stuck")))

    def submit(self, sqls: list[str], name: str, client_token: str, *, transactional: bool) -> Submitted:
        """Send a step (waiting in the call, with long polling); its id, and the status the answer carried."""
        try:
            if transactional:
                return self.api.submit(sqls, name, client_token, wait=self.long_polling)
            return self.api.execute(sqls[0], name, client_token, wait=self.long_polling)
        except ClientError as error:
            if error_code(error) == "ValidationException":
                # If the Data API refuses a repeated ClientToken with other parameters (undocumented; a secret
                # rotated since), the step was submitted before: find that statement by its exact name.
                earlier = self.api.find_named(name)
                if earlier:
                    return Submitted(earlier[0].id)
            raise

    def failed(self, result: StepResult, *, alone: bool) -> None:
        """A step that did not commit: retried from a fresh read when that can help, else the error."""
        seq = self.seq - 1
        if result.stuck and self.stuck < MAX_STUCK_RETRIES:
            self.stuck += 1
            self.log(f"step {seq} was cancelled after {STATEMENT_STUCK_SECONDS} s; retrying from a fresh read")
            return
        if is_transient(result.error) and self.failures < MAX_TRANSIENT_RETRIES and not result.stuck:
            self.failures += 1
            self.log(f"step {seq} failed transiently, retrying from a fresh read: {self.redact(result.error)}")
            return
        if is_role_created_meanwhile(result.sql, result.error) and self.failures < MAX_TRANSIENT_RETRIES:
            self.failures += 1  # bounded like a transient error: a role that keeps "appearing" is not a race
            self.log(f"step {seq}: {self.redact(result.sql)} found the role already there (an IdC sign-in creates "
                     "its groups' roles itself: AUTO_CREATE_ROLES); reading again, the plan adopts it")
            return
        if result.stuck:
            raise ReconcileError(f"step {seq} was still running {STATEMENT_STUCK_SECONDS} s after it was submitted, "
                                 f"twice, and was cancelled (rolled back): {result.sql or 'a batch'}; another session "
                                 "may hold locks on what it changes (see SVV_TRANSACTIONS)")
        # The most common setup error has a cause the SQL does not show: say what to fix.
        advice = f". {MISSING_IDENTITY_PROVIDER_FIX}" if is_missing_identity_provider(result.error) else ""
        if alone:
            raise ReconcileError(f"statement {seq:05d} (alone, outside a transaction) failed: "
                                 f"{self.redact(result.sql)} -- Redshift said: {self.redact(result.error)}{advice}")
        where = f"statement {result.index} of batch {seq:05d}" if result.index else f"batch {seq:05d}"
        sql = self.redact(result.sql)
        if result.covered:  # a statement for many objects can be 16 KB: its start, then what it covered
            sql = (sql[:SHOWN_SQL_CHARACTERS] + "...") if len(sql) > SHOWN_SQL_CHARACTERS else sql
            sql += f" ({self.redact(result.covered)})"
        raise ReconcileError(f"{where} failed and was rolled back: {sql} -- Redshift said: "
                             f"{self.redact(result.error)}{advice}")

    def count_failure(self, message: str, error: str) -> None:
        """A step that did not commit for a reason a fresh read may cure (refused by the fence, transient):
        read again, at most `MAX_TRANSIENT_RETRIES` times in a row."""
        if self.failures >= MAX_TRANSIENT_RETRIES:
            raise ReconcileError(f"gave up after {MAX_TRANSIENT_RETRIES + 1} attempts in a row: {message.split(';')[0]}"
                                 f" -- {self.redact(error)}")
        self.failures += 1
        self.log(message)

    # --------------------------------------------------------------------------------- waiting

    def check_time(self, what: str) -> None:
        """Before new work: stop at the invocation budget, fail at the request's deadline."""
        if self.deadline is not None and self.clock.time() + ESTIMATED_SECONDS_PER_BATCH >= self.deadline:
            raise ReconcileError(self.deadline_message(what))
        if self.budget_end is not None and self.clock.monotonic() >= self.budget_end:
            raise Pause(f"this invocation's time budget is spent; continuing at the next poll (before: {what})")

    def deadline_message(self, what: str) -> str:
        return (f"stopped at the apply deadline, before it could {what}: CloudFormation allows a custom resource "
                f"3,600 s, and this request had used {self.seq - 1} step(s) of its plan by then. Each batch "
                "committed whole or not at all, so the warehouse holds a consistent part of the model, and the "
                "next deploy continues from there. To fit one deploy, make the model smaller: grant tables to "
                "one plain role and grant that role to the groups (role_grants), or use scoped grants "
                "(table_grants: all_tables_in)")

    def check_waiting(self, name: str, state: str) -> None:
        """While waiting for an earlier statement: fail at the request's deadline naming it; past the
        invocation's budget, "not complete yet"."""
        if self.deadline is not None and self.clock.time() >= self.deadline:
            raise ReconcileError(f"stopped at the apply deadline while statement {name} {state}: this request does "
                                 "not read or plan before it has ended, and neither does the model's next one (check "
                                 "SVV_TRANSACTIONS)")
        if self.budget_end is not None and self.clock.monotonic() >= self.budget_end + WAIT_GRACE_SECONDS:
            raise Pause(f"statement {name} {state}; the next invocation waits for it before reading")

    def wait(self, statement_id: str, what: str, *, size: int = 0, answered: str = "", details: bool = False,
             since: float | None = None) -> dict[str, Any]:
        """Until the statement (of `size` SQL statements, 0: unknown) is terminal: its DescribeStatement, or with
        long polling `{"Id", "Status": "FINISHED"}` when the submission's answer (`answered`) said so and the caller
        needs no `details` (sub-statements, their results). Without long polling: first when `Pacing` expects it
        to show as ended, then sub-second, backing off for long ones. Past the invocation budget (and its grace):
        Pause, the next invocation finds the statement again through its ClientToken. Past the stuck bound (counted
        from `since`, when it was submitted, with long polling: its submission waited) or the request's deadline:
        cancel it."""
        if self.long_polling:
            if answered == "FINISHED" and not details:
                return {"Id": statement_id, "Status": "FINISHED"}
            return self._wait_long(statement_id, what, waiting=answered not in TERMINAL,
                                   since=self.clock.monotonic() if since is None else since)
        first = max(POLL_SECONDS / 2, self.pacing.first_poll(size) - self._call_seconds / 2)  # arrives then
        waiting_since = self.clock.monotonic()
        polls = 0
        running: float | None = None  # when the last poll that found it running arrived
        while True:
            self.clock.sleep(first if polls == 0 else min(MAX_POLL_SECONDS, POLL_SECONDS * 1.5 ** (polls - 1)))
            polls += 1
            description = self.describe(statement_id)
            arrived = self.clock.monotonic() - self._call_seconds / 2 - waiting_since
            status = str(description.get("Status"))
            if status in TERMINAL:
                if status == "FINISHED":  # a failed or cancelled one says nothing of how long the next takes
                    self._remember_duration(description, size, arrived, running)
                return description
            running = arrived
            stuck = self._still_running(statement_id, what, status, waiting_since)
            if stuck is not None:
                return stuck

    def _wait_long(self, statement_id: str, what: str, *, waiting: bool, since: float) -> dict[str, Any]:
        """`wait` with long polling: DescribeStatement waits in the service (`waiting`: the statement may still
        run; a terminal one is described at once). `since`: when it was submitted."""
        waiting_since = since
        polls = 0
        while True:
            started = self.clock.monotonic()
            description = self.describe(statement_id, wait=waiting)
            status = str(description.get("Status"))
            if status in TERMINAL:
                return description
            waiting = True
            stuck = self._still_running(statement_id, what, status, waiting_since)
            if stuck is not None:
                return stuck
            self.pause(polls, started)
            polls += 1

    def _still_running(self, statement_id: str, what: str, status: str,
                       waiting_since: float) -> dict[str, Any] | None:
        """A poll found the statement running: cancel it at the request's deadline (and fail) or past the stuck
        bound (its description, marked `_stuck`, is returned); past the invocation's budget, Pause. None: poll on."""
        if status not in RUNNING:
            self.log(f"{what}: unexpected status {status!r}; polling on")
        age = self.clock.monotonic() - waiting_since
        if self.deadline is not None and self.clock.time() >= self.deadline:
            self._cancel(statement_id)
            raise ReconcileError(self.deadline_message(f"finish {what} (cancelled and rolled back)"))
        if age >= STATEMENT_STUCK_SECONDS:
            self.log(f"{what} has been running for {age:.0f} s: cancelling it")
            cancelled = self._cancel(statement_id)
            cancelled["_stuck"] = True
            return cancelled
        if self.budget_end is not None and self.clock.monotonic() >= self.budget_end + WAIT_GRACE_SECONDS:
            raise Pause(f"{what} is still running; the next invocation waits for it")
        return None

    def pause(self, polls: int, since: float) -> None:
        """Between two polls of a running statement (`polls` before this one, the last sent at `since`): the polling
        interval, sub-second and backing off; with long polling, only what the last call did not already wait."""
        interval = min(MAX_POLL_SECONDS, POLL_SECONDS * 1.5 ** polls)
        rest = interval - (self.clock.monotonic() - since) if self.long_polling else interval
        if rest > 0:
            self.clock.sleep(rest)

    def describe(self, statement_id: str, *, wait: bool = False) -> dict[str, Any]:
        """DescribeStatement; `wait`: in the service, with long polling."""
        wait = wait and self.long_polling
        started = self.clock.monotonic()
        description = self.api.describe(statement_id, wait=wait)
        if not wait:  # a call that waited says nothing of the round trip `Pacing` allows for
            self._call_seconds = self.clock.monotonic() - started
        return description

    def _cancel(self, statement_id: str) -> dict[str, Any]:
        """CancelStatement, then wait (bounded) until the statement reports a terminal status."""
        self.send_cancel(statement_id)
        waited = 0.0
        while True:
            description = self.describe(statement_id)
            if description.get("Status") in TERMINAL:
                return description
            if waited >= CANCEL_WAIT_SECONDS:
                raise ReconcileError(f"statement {self.in_flight or statement_id} (Id {statement_id}) did not stop "
                                     f"within {CANCEL_WAIT_SECONDS} s of CancelStatement; the model's next request "
                                     "waits until it has ended before it reads (check SVV_TRANSACTIONS)")
            self.clock.sleep(1.0)
            waited += 1.0

    def send_cancel(self, statement_id: str) -> None:
        try:
            self.api.cancel(statement_id)
        except ClientError as error:
            if error_code(error) != "ValidationException":  # already finished: nothing left to cancel
                raise

    def _remember_duration(self, description: dict[str, Any], size: int, seen: float, running: float | None) -> None:
        """How long the statement ran: Redshift's `Duration` (nanoseconds), else what the polling saw (`seen`: when
        the poll that found it ended arrived, `running`: the one before, from the submission's answer)."""
        duration = description.get("Duration")
        seconds = duration / 1e9 if isinstance(duration, int) and duration > 0 else seen
        self.pacing.learn(size, seconds, seen, running)


COVERED_SHOWN = 20  # objects a failure names before it counts the rest
SHOWN_SQL_CHARACTERS = 300  # of a failed statement for many objects, before the objects it covered


def covered_objects(statement: Statement) -> str:
    """What a statement for many objects covered, for the error when it fails (Redshift names none of them), and
    the way to find the one at fault; '' for a statement of one object."""
    if statement.covers < 2:
        return ""
    objects = [*statement.removes, *statement.adds]
    shown = ", ".join(o.describe() for o in objects[:COVERED_SHOWN])
    more = f", and {len(objects) - COVERED_SHOWN:,} more" if len(objects) > COVERED_SHOWN else ""
    return (f"one statement for {len(objects):,} objects: {shown}{more}; set coalesce_statements: false in the "
            "access model to send one statement per object and see which one fails")


def guard_failed(description: dict[str, Any]) -> bool:
    """Whether a batch failed at its first statement, the fence's guard (`fence.py`): the model's row no
    longer says what the batch expects. Known by position, never by Redshift's wording of the error."""
    subs = description.get("SubStatements") or []
    return description.get("Status") == "FAILED" and bool(subs) and subs[0].get("Status") == "FAILED"


def first_words(sql: str) -> str:
    """A statement as errors and logs show it: literals (which may hold secrets) masked, cut short."""
    return redact_literals(sql)[:200]

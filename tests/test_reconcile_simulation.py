"""The real handlers, driven the way the Provider framework drives them, against `tests/fake_redshift.py`
behind the Data API double of `tests/fake_data_api.py`, in simulated time: interrupts, lagging listings,
throttling, stuck batches, the apply deadline and a rollback.

The interrupt property: whatever Data API call the handler dies after, and however often, calling it
again converges the warehouse to the model, commits no statement twice, and leaves the ledger holding
exactly the objects the catalog shows for the model.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from redshift_idc.runtime import reconcile_handler
from redshift_idc.runtime.access_state import AccessState, RlsAttachment, RlsPolicy, Role, SchemaPrivilege
from redshift_idc.runtime.catalog import parse_snapshot
from redshift_idc.runtime.limits import STATEMENT_STUCK_SECONDS
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.reconcile_handler import model_document
from redshift_idc.runtime.reconcile_request import model_prefix
from tests.fake_data_api import (
    FakeDataApi,
    ProviderDriver,
    RequestRun,
    SimClock,
    cfn_event,
    resource_properties,
    svv_rows,
)
from tests.fake_redshift import FakeRedshift, differences
from tests.test_planner_properties import access_states, as_catalog_spells, transitions

MODEL = "sim"
PROPERTIES = resource_properties(MODEL, workgroup="sim-wg", namespace="sim-ns")
PHYSICAL_ID = f"access-model:sim-wg/dev/{MODEL}"
PREFIX = model_prefix("sim-wg", "dev", MODEL)
LEDGER_WRITES = ('"redshift_idc".', "CREATE SCHEMA IF NOT EXISTS")


class World:
    """One warehouse, its Data API and the Provider framework, across requests."""

    def __init__(self, *, batch_latency: float = 1.0, list_lag: float = 0.0, status_lag: float = 0.0,
                 long_polling: bool = True) -> None:
        """`long_polling=False`: the Data API client of a boto3 older than long polling (the runtime polls)."""
        self.fake = FakeRedshift()
        self.clock = SimClock()
        self.api = FakeDataApi(self.fake, self.clock, model=MODEL, batch_latency=batch_latency, list_lag=list_lag,
                               status_lag=status_lag, long_polling=long_polling)
        self.driver = ProviderDriver(self.api, self.clock)
        self.requests = 0

    def request(self, request_type: str, desired: AccessState | None, *, kills: list[int] | None = None,
                max_invocations: int = 1000) -> RequestRun:
        self.requests += 1
        event = cfn_event(request_type, {**PROPERTIES, "ModelHash": f"hash-{self.requests}"},
                          request_id=f"request-{self.requests:03d}",
                          physical_id=None if request_type == "Create" else PHYSICAL_ID)
        document = model_document(desired, []).encode("utf-8") if desired is not None else None
        start = self.api.total_calls
        return self.driver.run(event, document, kills=[start + k for k in kills or []],
                               max_invocations=max_invocations)

    def committed_ddl(self, since: int) -> list[str]:
        """The access statements committed from history position `since` on (not the ledger's)."""
        return [sql for sql in self.fake.history[since:] if not any(mark in sql for mark in LEDGER_WRITES)]

    def ledger_matches_catalog(self, desired: AccessState) -> bool:
        ledger = self.fake.ledger(MODEL)
        state = self.fake.state()
        present = {(item.KIND, key) for kind in state.objects for key, item in state.objects[kind].items()}
        return set(ledger) == {(item.KIND, item.key()) for item in desired} and set(ledger) <= present


OPERATIONS = ("BatchExecuteStatement", "DescribeStatement", "GetStatementResult", "ExecuteStatement", "ListStatements")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transition=transitions(), kills=st.lists(st.tuples(st.sampled_from(OPERATIONS), st.integers(1, 6)),
                                                max_size=4, unique=True),
       after_every_new_step=st.booleans(), slow=st.booleans(), status_lag=st.sampled_from([0.0, 0.3, 20.0]),
       long_polling=st.booleans())
def test_killed_after_any_data_api_call_it_converges_without_applying_a_statement_twice(
        transition: tuple[AccessState, AccessState], kills: list[tuple[str, int]], after_every_new_step: bool,
        slow: bool, status_lag: float, long_polling: bool) -> None:
    """`kills`: the handler dies right after the n-th call of an operation (in this request), and with
    `after_every_new_step` also right after the first submission of every step (the riskiest moment); with long
    polling that submission has waited for the step (up to its wait) before it died, and the dead invocation never
    described it."""
    a, b = transition
    # Slow batches outlive the Provider's 10 s pause: the next invocation then reads while the batch the
    # dead one submitted is still running, and plans that batch again.
    # A status lag (the Data API reports a batch ended that long after it did) longer than the Provider's pause
    # makes the next invocation find a committed batch still "running".
    world = World(batch_latency=15.0 if slow else 1.0, status_lag=status_lag, long_polling=long_polling)
    assert world.request("Create", a).complete
    since = len(world.fake.history)
    counts: Counter[str] = Counter()
    pending = set(kills)
    steps: set[str] = set()
    listings: list[tuple[str, str]] = []

    def dies_after(operation: str, params: dict[str, Any]) -> bool:
        counts[operation] += 1
        if operation == "ListStatements":
            listings.append((params["StatementName"], params["Status"]))
        name = str(params.get("StatementName", ""))
        new_step = operation.endswith("ExecuteStatement") and not name.endswith(":read") and name not in steps
        if after_every_new_step and new_step:
            steps.add(name)
            return True
        if (operation, counts[operation]) in pending:
            pending.discard((operation, counts[operation]))
            return True
        return False
    world.api.kill_on = dies_after
    run = world.request("Update", b, max_invocations=200)
    assert run.complete, run.error
    b = as_catalog_spells(b, a)  # a role B respells only in case stays as A spelled it (`planning/role_names.py`)
    assert differences(world.fake.state(), b) == []
    applied = world.committed_ddl(since)
    assert [sql for sql, n in Counter(applied).items() if n > 1] == []
    assert world.ledger_matches_catalog(b)
    # Progress comes from the warehouse; the only listings confirm the claim: no statement of the model still runs.
    assert listings and set(listings) == {(f"{PREFIX}:", status) for status in ("SUBMITTED", "PICKED", "STARTED")}
    assert len(listings) <= 3 * (world.driver.killed + 1)  # once per invocation that starts unconfirmed
    event(f"killed: {min(world.driver.killed, 2)}+, resubmitted a running step: {world.api.repeated_tokens > 0}")


@pytest.mark.parametrize("long_polling", [True, False])
def test_a_lagging_listing_cannot_cause_a_double_submission(long_polling: bool) -> None:
    """ListStatements that lags (here: shows nothing at all) does not matter: the reconciler never lists
    to find its place (only to confirm, after its first batch died, that nothing earlier still runs), so a
    kill right after a submission is recovered through the ClientToken. The batches run 35 s: longer than a
    submission's wait (long polling) and the Provider's pause together, so the next invocation reads while they
    run."""
    world = World(batch_latency=35.0, list_lag=10_000.0, long_polling=long_polling)
    desired = AccessState.of([Role(f"role {i}") for i in range(60)])
    since = len(world.fake.history)
    seen: set[str] = set()

    def right_after_a_new_batch(operation: str, params: dict[str, Any]) -> bool:
        """The handler dies right after first submitting each of the plan's two batches."""
        name = params.get("StatementName", "")
        if operation != "BatchExecuteStatement" or not name.endswith(":apply") or name in seen:
            return False
        seen.add(name)
        return True
    world.api.kill_on = right_after_a_new_batch
    run = world.request("Create", desired)
    assert run.complete and world.driver.killed == 2
    assert world.api.repeated_tokens == 2  # each batch was planned again, and answered with the running one
    assert differences(world.fake.state(), desired) == []
    applied = world.committed_ddl(since)
    assert len(applied) == len(set(applied)) == 60
    assert world.api.calls["ListStatements"] == 3  # the invocation after the first kill: the model was claimed


@pytest.mark.parametrize("long_polling", [True, False])
def test_throttling_beyond_botocores_retries_only_delays_the_request(long_polling: bool) -> None:
    """Every third call that waits for a batch (the submission with long polling, else DescribeStatement) is
    throttled beyond botocore's retries."""
    world = World(long_polling=long_polling)
    desired = AccessState.of([Role(f"role {i}") for i in range(200)])
    waits = "BatchExecuteStatement" if long_polling else "DescribeStatement"
    world.api.throttle = lambda operation, n: operation == waits and n % 3 == 0
    run = world.request("Create", desired)
    assert run.complete and run.invocations > 3  # each throttle ended an invocation, the next went on
    assert differences(world.fake.state(), desired) == []


def test_a_stuck_batch_is_cancelled_and_the_work_retried_from_a_fresh_read() -> None:
    world = World()
    desired = AccessState.of([Role("analyst"), SchemaPrivilege("sales", "USAGE", "analyst")])
    stuck_once = iter([True])
    world.api.stuck = lambda sqls: any(s.startswith("CREATE ROLE") for s in sqls) and next(stuck_once, False)
    started = world.clock.now
    run = world.request("Create", desired)
    assert run.complete
    assert differences(world.fake.state(), desired) == []
    assert world.api.calls["CancelStatement"] == 1
    assert [s.status for s in world.api.statements.values()].count("ABORTED") == 1
    assert world.clock.now - started >= STATEMENT_STUCK_SECONDS  # it ran that long before it was cancelled


def test_the_deadline_stops_a_request_before_cloudformations_hour_and_the_rollback_converges(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Model v2 cannot finish inside its window: the request fails on its own, with nothing of it left
    running, before CloudFormation would; the rollback (an Update back to v1) then converges to v1."""
    world = World()
    v1 = AccessState.of([Role(f"v1 role {i}") for i in range(10)])
    v2 = AccessState.of([*v1, *(Role(f"v2 role {i}") for i in range(400))])
    assert world.request("Create", v1).complete
    monkeypatch.setattr(reconcile_handler, "APPLY_WINDOW_SECONDS", 6)  # room for a read and a few batches
    failed = world.request("Update", v2)
    assert not failed.complete and "stopped at the apply deadline" in failed.error
    assert all(s.status != "STARTED" for s in world.api.statements.values())  # nothing left running
    partial = world.fake.state()
    assert 10 < len(partial.of_kind(Role.KIND)) < 410  # some of v2 committed, batch by batch
    monkeypatch.setattr(reconcile_handler, "APPLY_WINDOW_SECONDS", 3300)
    assert world.request("Update", v1).complete  # CloudFormation's rollback: back to the old properties
    assert differences(world.fake.state(), v1) == []
    assert world.ledger_matches_catalog(v1)


def test_a_delete_plans_and_applies_in_about_the_time_of_the_create() -> None:
    world = World()
    desired = AccessState.of([RlsPolicy("p", (("c", "INTEGER"),), "c > 0"),
                              *(item for i in range(100) for item in (
                                  Role(f"r{i}"), SchemaPrivilege("s", "USAGE", f"r{i}"),
                                  RlsAttachment("p", "s", "t", f"r{i}")))])
    start = world.clock.now
    assert world.request("Create", desired).complete
    created = world.clock.now - start
    start = world.clock.now
    assert world.request("Delete", None).complete
    assert world.clock.now - start <= 1.2 * created
    assert differences(world.fake.state(), AccessState()) == []


@settings(max_examples=40, deadline=None)
@given(state=access_states())
def test_the_doubles_catalog_rows_read_back_as_the_state(state: AccessState) -> None:
    """`svv_rows` is the double's answer to the reconciler's SVV queries: parsed, it is the state again, whether the
    policies and providers are listed by their definition rows (the read) or by the list queries of earlier
    versions (a snapshot of those versions)."""
    fake = FakeRedshift()
    fake.apply(plan(state, fake.state(), {}), MODEL)
    rows: dict[str, Any] = svv_rows(fake.state(), user="admin", superuser=True, secadmin=True)
    assert differences(parse_snapshot(rows).state, state) == []
    lists = ("rls_policies", "masking_policies", "identity_providers")
    read = {**{k: v for k, v in rows.items() if k not in lists}, **fake.definition_rows()}
    assert differences(parse_snapshot(read).state, state) == []

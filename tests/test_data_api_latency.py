"""The Data API double's latency model (per batch, per statement, per object; the status lag) and the
reconciler's polling against it (`statement_runner.Pacing`): a batch's status says it ended `status_lag`
after it did, its `Duration` excludes that lag, and the reconciler learns both so that a batch costs about one
DescribeStatement and little more than its execution time plus the lag. All in simulated time."""

from __future__ import annotations

from typing import Any

import pytest

from redshift_idc.runtime.data_api import DataApi, Target
from redshift_idc.runtime.statement_runner import (
    FIRST_POLL_SECONDS,
    LAG_PRECISION_SECONDS,
    POLL_SECONDS,
    Pacing,
    StatementRunner,
)
from tests.fake_data_api import FakeDataApi, SimClock
from tests.fake_redshift import FakeRedshift

TARGET = {"WorkgroupName": "wg-1", "Database": "dev", "SecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:s-AbCdEf"}


def roles(count: int, start: int = 0) -> list[str]:
    return [f'CREATE ROLE "r{n}"' for n in range(start, start + count)]


def double(batch_latency: float = 1.0, statement_latency: float = 0.0, object_latency: float = 0.0,
           status_lag: float = 0.0) -> tuple[FakeDataApi, SimClock]:
    clock = SimClock()
    return FakeDataApi(FakeRedshift(), clock, model="m", call_latency=0.0, batch_latency=batch_latency,
                       statement_latency=statement_latency, object_latency=object_latency,
                       status_lag=status_lag), clock


def submit(api: FakeDataApi, sqls: list[str]) -> str:
    return str(api.batch_execute_statement(Sqls=sqls, **TARGET)["Id"])


def ran_for(api: FakeDataApi, sqls: list[str]) -> float:
    """Seconds the batch ran, as DescribeStatement's Duration says once the batch has ended."""
    statement_id = submit(api, sqls)
    api.settle()
    description = api.describe_statement(Id=statement_id)
    assert description["Status"] == "FINISHED"
    return float(description["Duration"]) / 1e9


@pytest.mark.parametrize(("latency", "expected"), [
    ({"batch_latency": 1.0}, 1.0),
    ({"batch_latency": 1.0, "statement_latency": 0.1}, 1.3),
    ({"batch_latency": 1.0, "object_latency": 0.01}, 1.03),
    ({"batch_latency": 0.3, "statement_latency": 0.02, "object_latency": 0.001}, 0.363),
])
def test_a_batch_runs_its_batch_statement_and_object_terms(latency: dict[str, float], expected: float) -> None:
    api, _ = double(**latency)
    assert ran_for(api, roles(3)) == pytest.approx(expected)


def test_the_object_term_counts_what_each_statement_covers() -> None:
    """Objects are counted through `FakeRedshift.objects_in` (a coalesced statement covers many)."""
    api, _ = double(batch_latency=1.0, object_latency=0.01)
    api.fake.objects_in = lambda sql: 4  # type: ignore[method-assign]
    assert ran_for(api, roles(3)) == pytest.approx(1.0 + 0.01 * 12)


def test_with_a_status_lag_a_batch_shows_running_after_its_duration_and_duration_excludes_the_lag() -> None:
    api, clock = double(batch_latency=1.0, status_lag=0.3)
    started = clock.now
    statement_id = submit(api, roles(2))
    clock.now = started + 1.0  # a poll timed from the Duration alone
    early = api.describe_statement(Id=statement_id)
    assert early["Status"] == "STARTED" and early["Duration"] == -1
    assert api.statements[statement_id].status == "FINISHED"  # it committed at its end; the status lags
    listed = api.list_statements(StatementName="", Status="FINISHED")["Statements"]
    assert listed == []  # ListStatements does not show it finished either
    clock.now = started + 1.3
    late = api.describe_statement(Id=statement_id)
    assert late["Status"] == "FINISHED"
    assert late["Duration"] == int(1.0 * 1e9)  # the execution only, not the 1.3 s end to end
    assert [s["Status"] for s in late["SubStatements"]] == ["FINISHED", "FINISHED"]


def test_without_a_status_lag_the_first_poll_at_the_duration_finds_the_batch_ended() -> None:
    api, clock = double(batch_latency=1.0)
    started = clock.now
    statement_id = submit(api, roles(2))
    clock.now = started + 1.0
    assert api.describe_statement(Id=statement_id)["Status"] == "FINISHED"


class Counting:
    """The double, counting DescribeStatement calls per statement."""

    def __init__(self, api: FakeDataApi) -> None:
        self.api = api
        self.describes: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)

    def describe_statement(self, **params: Any) -> dict[str, Any]:
        self.describes[params["Id"]] = self.describes.get(params["Id"], 0) + 1
        return self.api.describe_statement(**params)


def run_batches(api: FakeDataApi, clock: SimClock, count: int) -> tuple[StatementRunner, Counting, list[float]]:
    """`count` batches of 40 statements through one runner; each batch's seconds from submission to its end
    being seen."""
    client = Counting(api)
    api_layer = DataApi(Target(TARGET["WorkgroupName"], "dev", TARGET["SecretArn"]), client)
    runner = StatementRunner(api_layer, "rsidc-test", "rsidc-m", clock=clock, invocation_id="i", budget_end=None,
                             deadline=None, log=lambda _: None)
    took = []
    for n in range(count):
        started = clock.now
        assert runner.submit_and_wait(roles(40, 40 * n), "apply", transactional=True).committed
        took.append(clock.now - started)
    return runner, client, took


def test_the_runner_learns_the_status_lag_and_then_polls_each_batch_once() -> None:
    api, clock = double(batch_latency=1.0, status_lag=0.3)
    api.call_latency = 0.05
    runner, client, took = run_batches(api, clock, 12)
    polls = list(client.describes.values())
    assert polls[0] > 1  # the first batch: polled at FIRST_POLL_SECONDS, found running (the lag)
    assert polls[-5:] == [1] * 5  # later ones: once each
    # Each later batch: execution (1.0) + lag (0.3) + half the submission's call and half the DescribeStatement's
    # (the other halves overlap the execution), within the precision the runner narrows the lag down to.
    assert took[-1] == pytest.approx(1.0 + 0.3 + 0.05, abs=LAG_PRECISION_SECONDS + 1e-9)
    assert max(runner.recent_durations) == pytest.approx(1.0)  # Duration: the execution alone
    assert min(runner.recent_status_lags) >= 0.3 - 0.05  # seen from the submission's answer, half a call later


def test_the_runner_times_a_batch_from_earlier_batches_of_its_size() -> None:
    """Model B's terms: a batch of 40 statements runs 0.3 + 40 x 0.02 + 40 x 0.001 = 1.14 s; polled once."""
    api, clock = double(batch_latency=0.3, statement_latency=0.02, object_latency=0.001, status_lag=0.3)
    api.call_latency = 0.05
    _, client, took = run_batches(api, clock, 12)
    assert list(client.describes.values())[-5:] == [1] * 5
    assert took[-1] == pytest.approx(1.14 + 0.3 + 0.05, abs=LAG_PRECISION_SECONDS + 1e-9)


def test_one_slow_batch_does_not_delay_the_first_poll_of_the_next() -> None:
    """A batch that waited on a lock for 30 s: the next batch of its size is still polled when such batches
    usually end, not 30 s after its submission."""
    api, clock = double(batch_latency=1.0, status_lag=0.3)
    api.call_latency = 0.05
    slow = iter([False] * 6 + [True])
    api.latency_of = lambda sqls: 30.0 if next(slow, False) else None
    _, client, took = run_batches(api, clock, 9)
    assert took[6] > 30
    assert took[7] == pytest.approx(1.35, abs=LAG_PRECISION_SECONDS + 1e-9)  # the next one
    assert list(client.describes.values())[7] == 1


def test_pacing_probes_between_the_lags_bounds_and_otherwise_polls_at_the_upper_one() -> None:
    pacing = Pacing()
    assert pacing.first_poll(40) == FIRST_POLL_SECONDS  # nothing learned yet
    pacing.learn(40, 1.0, seen=1.4, running=1.2)  # the lag is in (0.2, 0.4]
    assert pacing.first_poll(40) == pytest.approx(1.0 + 0.3)  # halfway: a probe
    pacing.learn(40, 1.0, seen=1.3, running=None)  # the probe found it ended: (0.2, 0.3]
    assert pacing.first_poll(40) == pytest.approx(1.0 + 0.25)
    pacing.learn(40, 1.0, seen=1.35, running=1.25)  # the next probe found it running: (0.25, 0.3]
    assert pacing.first_poll(40) == pytest.approx(1.0 + 0.275)
    pacing.learn(40, 1.0, seen=1.3, running=1.285)  # within the precision: the upper bound
    assert pacing.first_poll(40) == pytest.approx(1.3)
    pacing.learn(10, 0.5, seen=0.8, running=None)
    assert pacing.first_poll(10) == pytest.approx(0.8)  # its own size's duration
    pacing.learn(10, 9.5, seen=9.8, running=None)
    assert pacing.first_poll(10) == pytest.approx(0.8)  # the shortest of its size's recent ones
    assert pacing.first_poll(12) == pytest.approx(0.8)  # the nearest size's
    assert pacing.first_poll(0) == pytest.approx(0.8)  # unknown size: the shortest recent duration


def test_the_first_poll_waits_at_least_half_a_poll_interval() -> None:
    """Batches that end almost at once: once the runner has learnt so, it still leaves half a poll interval."""
    api, clock = double(batch_latency=0.01)
    _, client, took = run_batches(api, clock, 10)
    assert took[-1] == pytest.approx(POLL_SECONDS / 2)
    assert list(client.describes.values())[-1] == 1

"""The Data API double's latency model (per batch, per statement, per object; the status lag) and the
reconciler's polling against it (`statement_runner.Pacing`): a batch's status says it ended `status_lag`
after it did, its `Duration` excludes that lag, and the reconciler learns both so that a batch costs about one
DescribeStatement and little more than its execution time plus the lag. All in simulated time."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from redshift_idc.runtime.data_api import DataApi, Target
from redshift_idc.runtime.limits import STATEMENT_STUCK_SECONDS
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
           status_lag: float = 0.0, long_polling: bool = False) -> tuple[FakeDataApi, SimClock]:
    """The double; by default with a botocore model older than long polling, so the runner polls (`Pacing`)."""
    clock = SimClock()
    return FakeDataApi(FakeRedshift(), clock, model="m", call_latency=0.0, batch_latency=batch_latency,
                       statement_latency=statement_latency, object_latency=object_latency,
                       status_lag=status_lag, long_polling=long_polling), clock


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
    api, _ = double(**latency, long_polling=False)
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


# ------------------------------------------------------------------------------------------------ long polling


def test_a_submission_that_waits_answers_when_its_status_says_the_batch_ended() -> None:
    """With WaitTimeSeconds the answer comes once DescribeStatement would say FINISHED: the batch's run time and
    its status lag, not sooner; its status is in the answer."""
    api, clock = double(batch_latency=1.0, status_lag=0.3, long_polling=True)
    started = clock.now
    answer = api.batch_execute_statement(Sqls=roles(2), WaitTimeSeconds=10, **TARGET)
    assert answer["Status"] == "FINISHED" and clock.now == pytest.approx(started + 1.3)
    assert api.describe_statement(Id=answer["Id"])["Duration"] == int(1.0 * 1e9)
    assert "Status" not in api.batch_execute_statement(Sqls=roles(1, 5), **TARGET)  # without a wait: the Id only


def test_a_long_poll_answers_at_its_wait_while_the_statement_runs_on() -> None:
    api, clock = double(batch_latency=25.0, status_lag=0.3, long_polling=True)
    started = clock.now
    answer = api.batch_execute_statement(Sqls=roles(2), WaitTimeSeconds=10, **TARGET)
    assert answer["Status"] == "STARTED" and clock.now == pytest.approx(started + 10)
    assert api.describe_statement(Id=answer["Id"], WaitTimeSeconds=10)["Status"] == "STARTED"
    assert clock.now == pytest.approx(started + 20)
    assert api.describe_statement(Id=answer["Id"], WaitTimeSeconds=10)["Status"] == "FINISHED"
    assert clock.now == pytest.approx(started + 25.3)
    assert api.describe_statement(Id=answer["Id"], WaitTimeSeconds=10)["Status"] == "FINISHED"  # ended: at once
    assert clock.now == pytest.approx(started + 25.3)


def test_a_failed_statement_ends_a_long_poll_and_execute_statement_waits_too() -> None:
    api, clock = double(batch_latency=2.0, long_polling=True)
    failed = api.batch_execute_statement(Sqls=[*roles(1), 'DROP ROLE "nobody"'], WaitTimeSeconds=10, **TARGET)
    assert failed["Status"] == "FAILED"
    started = clock.now
    alone = api.execute_statement(Sql='CREATE ROLE "alone"', WaitTimeSeconds=10, **TARGET)
    assert alone["Status"] == "FINISHED" and clock.now == pytest.approx(started + 2.0)


def test_get_statement_result_waits_for_a_running_read_and_without_a_wait_finds_no_result() -> None:
    api, clock = double(batch_latency=3.0, status_lag=0.3, long_polling=True)
    read = list(api._read_sqls)
    whoami = read.index(next(sql for sql in read if "svv_user_info" in sql)) + 1
    statement_id = api.batch_execute_statement(Sqls=read, **TARGET)["Id"]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        api.get_statement_result(Id=f"{statement_id}:{whoami}")  # still running: no result yet
    started = clock.now
    rows = api.get_statement_result(Id=f"{statement_id}:{whoami}", WaitTimeSeconds=10)["Records"]
    assert rows and rows[0][0] == {"stringValue": "admin"} and clock.now == pytest.approx(started + 3.3)


def test_a_botocore_older_than_long_polling_refuses_the_parameter() -> None:
    """The double with the older model validates as such a client does, before anything is sent."""
    api, _ = double(long_polling=False)
    with pytest.raises(ParamValidationError, match="WaitTimeSeconds"):
        api.describe_statement(Id="x", WaitTimeSeconds=10)
    with pytest.raises(ParamValidationError, match="WaitTimeSeconds"):
        api.batch_execute_statement(Sqls=roles(1), WaitTimeSeconds=10, **TARGET)
    assert not api.statements  # refused before the service saw it
    assert not DataApi(Target("wg-1", "dev", "arn:s"), api).long_polling


def test_with_long_polling_a_batch_costs_one_call_and_ends_when_its_status_does() -> None:
    """Model A's terms: every batch is one BatchExecuteStatement that answers FINISHED after its run time, its
    status lag and the call; no DescribeStatement, no sleep."""
    api, clock = double(batch_latency=1.0, status_lag=0.3, long_polling=True)
    api.call_latency = 0.05
    runner, client, took = run_batches(api, clock, 5)
    assert runner.long_polling and client.describes == {} and api.calls["BatchExecuteStatement"] == 5
    assert took == pytest.approx([1.0 + 0.3 + 0.05] * 5)
    assert clock.slept == pytest.approx(5 * (1.3 + 0.05))  # the calls' own time: the runner never slept


def test_a_batch_longer_than_the_wait_is_described_with_a_wait_until_it_ends() -> None:
    api, clock = double(batch_latency=25.0, status_lag=0.3, long_polling=True)
    _, client, took = run_batches(api, clock, 1)
    assert list(client.describes.values()) == [2]  # STARTED at 20 s, FINISHED at 25.3 s
    assert took == pytest.approx([25.3])


class AnswersAtOnce:
    """A service that takes WaitTimeSeconds and does not wait (answers with the status of the moment)."""

    def __init__(self, api: FakeDataApi) -> None:
        self.api = api
        self.meta = api.meta  # the model has the parameter: the runner long-polls

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.api, name)

        def call(**params: Any) -> Any:
            waited = params.pop("WaitTimeSeconds", None) is not None
            response = method(**params)
            if waited and name.endswith("execute_statement"):
                response["Status"] = self.api.describe_statement(Id=response["Id"])["Status"]
            return response
        return call


def test_a_long_poll_that_does_not_wait_is_followed_by_the_polling_interval() -> None:
    """Calls never come faster than polling's: a 20 s batch takes no more DescribeStatement calls than the
    runner's plain polling would make of it (each call takes 0.05 s: without the interval, some 400)."""
    polled, polled_clock = double(batch_latency=20.0)
    polled.call_latency = 0.05
    _, counted, _ = run_batches(polled, polled_clock, 1)
    api, clock = double(batch_latency=20.0, long_polling=True)
    api.call_latency = 0.05
    client = Counting(AnswersAtOnce(api))  # type: ignore[arg-type]
    runner = StatementRunner(DataApi(Target("wg-1", "dev", "arn:s"), client), "rsidc-test", "rsidc-m",
                             clock=clock, invocation_id="i", budget_end=None, deadline=None, log=lambda _: None)
    assert runner.long_polling
    assert runner.submit_and_wait(roles(40), "apply", transactional=True).committed
    assert 0 < sum(client.describes.values()) <= sum(counted.describes.values()) + 1


def test_with_long_polling_a_stuck_batch_is_cancelled_when_it_has_run_the_bound_since_its_submission() -> None:
    """The submission's own wait counts: cancelled 300 s after it was sent, not 300 s after its answer."""
    api, clock = double(long_polling=True)
    api.stuck = lambda sqls: True
    runner = StatementRunner(DataApi(Target("wg-1", "dev", "arn:s"), api), "rsidc-test", "rsidc-m", clock=clock,
                             invocation_id="i", budget_end=None, deadline=None, log=lambda _: None)
    result = runner.submit_and_wait(roles(1), "apply", transactional=True)
    assert result.stuck and not result.committed
    (statement,) = api.statements.values()
    assert statement.status == "ABORTED" and statement.abort_at - statement.created == STATEMENT_STUCK_SECONDS

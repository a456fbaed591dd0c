"""No batch outlives its request: the real handlers, driven as the Provider framework drives them, against the
fake warehouse behind the Data API double (`tests/fake_data_api.py`), in simulated time.

A Lambda that dies mid-batch, a Delete or a rollback that starts while an earlier request's batch still runs,
a cancel that does not stop a batch at the deadline, an older request's invocation that runs on after a newer
request took the model: in each, nothing of the earlier request commits after the later one has read, the
later one reports success only once nothing earlier runs, and the earlier one never reports success. Also:
a Data API that cannot answer now means "not complete yet" until the deadline, and a statement sent alone
(with a client secret) is sent once, whatever DescribeStatement echoes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from redshift_idc.access.scripts import script_entry
from redshift_idc.runtime import reconcile_handler
from redshift_idc.runtime.access_state import AccessState, Role
from redshift_idc.runtime.custom_resource import CustomResourceError
from redshift_idc.runtime.data_api import DataApi, Target
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.limits import INTENT_GRACE_SECONDS, INTENT_SUBMIT_SECONDS
from redshift_idc.runtime.reconcile_handler import is_complete, model_document, on_event
from tests.fake_data_api import Context, FakeS3, cfn_event
from tests.fake_redshift import differences
from tests.test_identity_providers import AZURE, AZURE_SECRET_ARN, SECRET
from tests.test_reconcile_simulation import MODEL, PHYSICAL_ID, PROPERTIES, World


def roles(prefix: str, count: int) -> list[Role]:
    return [Role(f"{prefix} role {i:03d}") for i in range(count)]


def new_apply_batch(operation: str, params: dict[str, Any]) -> bool:
    return operation == "BatchExecuteStatement" and str(params.get("StatementName", "")).endswith(":apply")


def slow(marker: str, seconds: float) -> Callable[[Any], float | None]:
    """A run time for the statements that hold `marker` (the others take the double's batch latency)."""
    return lambda sqls: seconds if any(marker in sql for sql in sqls) else None


def running(world: World) -> list[str]:
    return [s.name for s in world.api.statements.values() if s.status == "STARTED"]


def nothing_of_the_model_left(world: World) -> bool:
    return differences(world.fake.state(), AccessState()) == [] and world.fake.ledger(MODEL) == {}


# ------------------------------------------------------------------------ batches that outlive their request


@pytest.mark.parametrize("cancel_delay", [0.0, 1000.0], ids=["cancel-stops-it", "cancel-ignored"])
def test_a_batch_orphaned_by_a_dead_lambda_cannot_outlive_the_rollback_delete(cancel_delay: float) -> None:
    """The Create's Lambda dies right after submitting its batch (22 roles and their ledger rows, still running a
    minute); CloudFormation rolls back with a Delete. The Delete claims the model, so the orphan can no longer
    commit, cancels it and reports success only once it has ended."""
    world = World()
    world.api.cancel_delay = cancel_delay
    world.api.latency_of = slow("CREATE ROLE", 60.0)
    world.api.kill_on = new_apply_batch
    create = world.request("Create", AccessState.of(roles("v1", 22)), max_invocations=2)
    assert not create.complete and world.driver.killed == 1
    world.api.kill_on = None
    [orphan] = [s for s in world.api.statements.values() if s.name.endswith(":apply")]
    assert orphan.status == "STARTED"  # when the rollback begins

    delete = world.request("Delete", None)
    assert delete.complete, delete.error
    assert running(world) == []  # success only once nothing of the model runs
    world.api.settle()
    assert orphan.status in ("ABORTED", "FAILED")  # cancelled, or refused by the fence when it came to commit
    assert nothing_of_the_model_left(world)


def test_a_delete_while_an_update_batch_is_in_flight_leaves_nothing_of_the_model() -> None:
    world = World()
    v1 = roles("v1", 5)
    assert world.request("Create", AccessState.of(v1)).complete
    world.api.latency_of = slow('"v2 role', 60.0)
    world.api.kill_on = new_apply_batch
    update = world.request("Update", AccessState.of([*v1, *roles("v2", 22)]), max_invocations=2)
    assert not update.complete and world.driver.killed == 1
    world.api.kill_on = None
    assert any(name.endswith(":apply") for name in running(world))

    delete = world.request("Delete", None)
    assert delete.complete, delete.error
    assert running(world) == []
    world.api.settle()
    assert nothing_of_the_model_left(world)
    assert not any('"v2 role' in sql for sql in world.fake.history)  # none of v2's batches ever committed


def test_a_batch_a_cancel_does_not_stop_at_the_deadline_never_commits_after_the_rollback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """v2 reaches its deadline with a batch running that CancelStatement does not stop within 30 s: v2 fails
    saying so; the rollback to v1 waits until that batch has ended (it is refused by the fence when it comes to
    commit), and the warehouse is v1 then and after: v2's roles never appear."""
    world = World()
    v1 = roles("v1", 10)
    assert world.request("Create", AccessState.of(v1)).complete
    since = len(world.fake.history)
    world.api.latency_of = slow('"v2 role', 120.0)  # past the deadline, the 30 s of the cancel, the rollback's read
    world.api.cancel_delay = 1000.0
    monkeypatch.setattr(reconcile_handler, "APPLY_WINDOW_SECONDS", 30)
    failed = world.request("Update", AccessState.of([*v1, *roles("v2", 100)]))
    assert not failed.complete and "did not stop within 30 s of CancelStatement" in failed.error
    [batch] = [s for s in world.api.statements.values() if s.status == "STARTED"]

    monkeypatch.setattr(reconcile_handler, "APPLY_WINDOW_SECONDS", 3300)
    rollback = world.request("Update", AccessState.of(v1))
    assert rollback.complete, rollback.error
    assert batch.status == "FAILED" and running(world) == []  # ended (refused) before the rollback said success
    world.api.settle()
    assert differences(world.fake.state(), AccessState.of(v1)) == []
    assert not any('"v2 role' in sql for sql in world.fake.history[since:])


# ------------------------------------------------------------------------------------ superseded requests


@dataclass
class Started:
    """A request on_event has stamped; the test runs its is-complete invocations itself."""

    event: dict[str, Any]
    document: bytes


def started(world: World, request_type: str, desired: AccessState) -> Started:
    world.requests += 1
    event = cfn_event(request_type, {**PROPERTIES, "ModelHash": f"hash-{world.requests}"},
                      request_id=f"request-{world.requests:03d}", physical_id=PHYSICAL_ID)
    return Started({**event, **on_event(event, clock=world.clock)}, model_document(desired, []).encode())


def invoke(world: World, request: Started) -> dict[str, Any]:
    props = request.event["ResourceProperties"]
    api = DataApi(Target(props["WorkgroupName"], props["Database"], props["SecretArn"]), world.api)
    world.driver.invocations += 1  # each Lambda invocation has its own request id
    return is_complete(request.event, Context(f"late-invocation-{world.driver.invocations}"), api=api,
                       s3=FakeS3(request.document), clock=world.clock)


def test_a_superseded_requests_invocation_commits_nothing_and_fails() -> None:
    """An older request's invocation planned v2, and a newer request (v3) took the model and ran to its end
    before the older one's batch was sent: that batch is refused by the fence, the older request fails as
    superseded, and an invocation of it that runs later still submits nothing but a read."""
    world = World()
    v1 = roles("v1", 5)
    assert world.request("Create", AccessState.of(v1)).complete
    since = len(world.fake.history)
    older = started(world, "Update", AccessState.of([*v1, *roles("v2", 5)]))
    world.clock.sleep(5.0)
    v3 = AccessState.of([*v1, *roles("v3", 5)])
    newer = []

    def the_newer_request_runs_first(operation: str, params: dict[str, Any]) -> None:
        if new_apply_batch(operation, params):
            world.api.before_call = None
            newer.append(world.request("Update", v3))
    world.api.before_call = the_newer_request_runs_first
    with pytest.raises(CustomResourceError, match=r"^superseded: request rsidc-\w+ .* submits nothing more"):
        invoke(world, older)
    assert newer and newer[0].complete, newer
    world.api.settle()
    assert differences(world.fake.state(), v3) == []
    assert not any('"v2 role' in sql for sql in world.fake.history[since:])

    before = set(world.api.statements)
    with pytest.raises(CustomResourceError, match=r"^superseded"):
        invoke(world, older)
    assert [s.name.rsplit(":", 1)[1] for i, s in world.api.statements.items() if i not in before] == ["read"]
    assert differences(world.fake.state(), v3) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(at=st.integers(1, 40), slow=st.booleans(), long_polling=st.booleans())
def test_a_newer_request_started_at_any_call_of_an_older_ones_invocations_is_what_stays(at: int, slow: bool,
                                                                                       long_polling: bool) -> None:
    """The newer request (v3) runs to its end right before the older one's (v2) `at`-th Data API call, whatever
    that call is (with long polling or without). The warehouse ends at v3 and stays there; the older request either
    had finished before, or fails as superseded: it never reports success once the newer one has taken the model
    and it goes on."""
    world = World(batch_latency=15.0 if slow else 1.0, long_polling=long_polling)
    v1 = roles("v1", 5)
    assert world.request("Create", AccessState.of(v1)).complete
    older = started(world, "Update", AccessState.of([*v1, *roles("v2", 45)]))  # two batches
    v3 = AccessState.of([*v1, *roles("v3", 5)])
    calls: list[str] = []
    newer = []
    before_newer: set[str] = set()  # the statements sent before the newer request ran
    of_newer: set[str] = set()

    def the_newer_request_runs_before_this_call(operation: str, params: dict[str, Any]) -> None:
        calls.append(operation)
        if len(calls) == at:
            world.api.before_call = None
            before_newer.update(world.api.statements)
            newer.append(world.request("Update", v3))
            of_newer.update(set(world.api.statements) - before_newer)
    world.api.before_call = the_newer_request_runs_before_this_call
    outcome: dict[str, Any] | str = {"IsComplete": False}
    for _ in range(50):
        try:
            outcome = invoke(world, older)
        except CustomResourceError as error:
            outcome = str(error)
        if outcome != {"IsComplete": False}:
            break
        world.clock.sleep(10.0)
    world.api.before_call = None
    if not newer:  # the older request finished first: the newer one comes after it
        assert outcome == {"IsComplete": True, "Data": {"Result": "in sync"}}
        newer.append(world.request("Update", v3))
    elif isinstance(outcome, str):
        assert outcome.startswith("superseded"), outcome
    else:
        # It had read in sync before the newer one ran, and only fetched that read's rows after: nothing sent.
        assert outcome["IsComplete"] and set(world.api.statements) - before_newer - of_newer == set()
    event(f"older: {'superseded' if isinstance(outcome, str) else 'done'}, "
          f"newer {'after' if not before_newer else 'during'}")
    assert newer[0].complete, newer[0].error
    world.api.settle()
    assert differences(world.fake.state(), v3) == []
    assert set(world.fake.ledger(MODEL)) == {(item.KIND, item.key()) for item in v3}


# --------------------------------------------------------------------- "not complete yet" until the deadline


ERRORS: dict[str, Callable[[], Exception]] = {
    "ReadTimeoutError": lambda: ReadTimeoutError(endpoint_url="https://redshift-data.us-east-1.amazonaws.com/"),
    "ActiveWaitingRequestsExceededException": lambda: ClientError(
        {"Error": {"Code": "ActiveWaitingRequestsExceededException", "Message": "too many waiting requests"}},
        "DescribeStatement"),
    "InternalServerException": lambda: ClientError(
        {"Error": {"Code": "InternalServerException", "Message": "internal error"}}, "DescribeStatement"),
}


@pytest.mark.parametrize("long_polling", [True, False])
@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_a_data_api_that_cannot_answer_now_means_not_complete_yet(kind: str, long_polling: bool) -> None:
    """After botocore's retries: a read timeout, too many waiting requests, an internal error, on the call that
    waits for a batch (the submission with long polling, else DescribeStatement). Each ends the invocation as "not
    complete yet"; the next one continues, and the request converges."""
    world = World(long_polling=long_polling)
    waits = "BatchExecuteStatement" if long_polling else "DescribeStatement"
    world.api.failure = lambda operation, n: ERRORS[kind]() if operation == waits and n in (2, 6) else None
    desired = AccessState.of(roles("v1", 60))
    run = world.request("Create", desired)
    assert run.complete, run.error
    assert run.invocations == 4  # on_event, two invocations that ended as "not complete yet", the last one
    assert differences(world.fake.state(), desired) == []


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_a_data_api_that_never_answers_fails_the_request_at_its_deadline(kind: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    world.api.failure = lambda operation, n: ERRORS[kind]() if operation == "DescribeStatement" else None
    monkeypatch.setattr(reconcile_handler, "APPLY_WINDOW_SECONDS", 60)
    run = world.request("Create", AccessState.of(roles("v1", 3)))
    assert not run.complete and run.error.startswith("stopped at the apply deadline"), run.error
    assert run.invocations > 4  # "not complete yet" each time before that
    assert differences(world.fake.state(), AccessState()) == []


# -------------------------------------------------------------------------------- statements sent alone


class FakeSecrets:
    """Secrets Manager: the Azure provider's client secret."""

    def __init__(self) -> None:
        self.calls = 0

    def get_secret_value(self, **params: Any) -> dict[str, Any]:
        assert params == {"SecretId": AZURE_SECRET_ARN}
        self.calls += 1
        return {"ARN": AZURE_SECRET_ARN, "SecretString": json.dumps({"secret": SECRET})}


def carrying_the_secret(world: World) -> list[dict[str, Any]]:
    """Every submission whose SQL holds the client secret, recorded as the double received it."""
    sent: list[dict[str, Any]] = []
    world.api.before_call = lambda operation, params: sent.append(params) if (
        operation.endswith("ExecuteStatement") and SECRET in json.dumps(params)) else None
    return sent


ECHOES: dict[str, Callable[[str], str]] = {
    "redacted": lambda sql: sql.replace(SECRET, "********"),
    "normalised": lambda sql: " ".join(sql.lower().split()),
    "none": lambda sql: "",
}


@pytest.mark.parametrize("echo", sorted(ECHOES))
def test_an_identity_provider_is_sent_once_with_its_secret_whatever_describe_echoes(echo: str) -> None:
    world = World()
    world.api.echo_sql = ECHOES[echo]
    world.driver.secretsmanager = FakeSecrets()
    sent = carrying_the_secret(world)
    run = world.request("Create", AccessState.of([AZURE]))
    assert run.complete, run.error
    assert [params["StatementName"].rsplit(":", 1)[1] for params in sent] == ["exec"]
    assert world.fake.identity_provider("Azure AD").parameters == {
        "audience": ["api://redshift"], "client_id": "c-123", "client_secret": SECRET,
        "issuer": "https://login.microsoftonline.com/tenant/v2.0"}
    assert world.fake.ledger(MODEL) == {(AZURE.KIND, AZURE.key()): AZURE.fingerprint()}


def test_killed_after_announcing_a_statement_it_is_sent_once_after_the_announced_moment() -> None:
    """The Lambda dies right after the intent batch, before the statement is sent. The next invocation cannot
    tell whether it was (the listing may lag): it waits until the announced moment and its grace have passed,
    then sends it, once."""
    world = World()
    world.driver.secretsmanager = FakeSecrets()
    sent = carrying_the_secret(world)
    world.api.kill_on = lambda operation, params: (
        operation == "BatchExecuteStatement" and params["StatementName"].endswith(":intent")
        and world.driver.killed == 0)
    run = world.request("Create", AccessState.of([AZURE]))
    assert run.complete and world.driver.killed == 1, run.error
    [first_intent, *_] = [s for s in world.api.statements.values() if s.name.endswith(":intent")]
    [statement] = [s for s in world.api.statements.values() if s.name.endswith(":exec")]
    assert len(sent) == 1 and sent[0]["StatementName"] == statement.name
    assert statement.created >= first_intent.created + INTENT_SUBMIT_SECONDS + INTENT_GRACE_SECONDS
    assert world.fake.ledger(MODEL) == {(AZURE.KIND, AZURE.key()): AZURE.fingerprint()}


# ----------------------------------------------------------------------- a refused repeated ClientToken


SCRIPT = script_entry("001_orders.sql", 'CREATE SCHEMA IF NOT EXISTS "sales";\n')


def test_a_refused_repeated_token_waits_for_the_exact_step_and_applies_it_once() -> None:
    """The Lambda dies right after submitting a script (slow); the next invocation reads while it runs and
    submits the same step again. A Data API that refuses the repeated ClientToken (undocumented; ValidationException
    here) leaves the reconciler to find the step by its exact name, kind included: the read of the same step
    number is never taken for it, and the script is waited for instead of being sent a second time."""
    world = World()
    world.api.secadmin = False  # the first batch grants it: the script is step 2 of the request
    world.api.refuse_repeated_tokens = True
    world.api.latency_of = slow("sales", 15.0)
    world.api.kill_on = lambda operation, params: (
        operation == "BatchExecuteStatement" and params["StatementName"].endswith(":script")
        and world.driver.killed == 0)
    event = cfn_event("Create", {**PROPERTIES, "ModelHash": "hash-script"}, request_id="request-script")
    run = world.driver.run(event, model_document(AccessState(), [SCRIPT]).encode())
    assert run.complete and world.driver.killed == 1, run.error
    scripts = [s for s in world.api.statements.values() if s.name.endswith(":script")]
    assert len(scripts) == 1 and scripts[0].status == "FINISHED"
    assert world.fake.execute(LedgerTables().select_scripts_sql(MODEL)) == [(SCRIPT["Name"], SCRIPT["Checksum"])]

"""Long polling (`WaitTimeSeconds`, issue 22): the runtime waits in the service where the client's boto3 has the
parameter, and polls as before where it does not (a Lambda runtime's boto3 may be older than long polling).

- Which: the client's own service model says (`data_api.accepts_long_polling`): botocore 1.44's has the parameter,
  a client built from the same model without it (what an older botocore loads) has not, and is never sent it.
- The conversations go through botocore's Stubber, which checks every call's parameters against the client's real
  model: a submission waits and its answer's status decides whether DescribeStatement is needed at all (a read
  needs it once, for its sub-statements; a batch answered FINISHED needs none); a statement still running is
  described with a wait; a failed one once, without.
- The double (`tests/fake_data_api.py`) long-polls as the service does: tests/test_data_api_latency.py.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest
from botocore.stub import Stubber

from redshift_idc.runtime.custom_resource import CustomResourceError
from redshift_idc.runtime.data_api import DataApi, Target, accepts_long_polling
from redshift_idc.runtime.statement_runner import POLL_SECONDS
from tests.fake_data_api import service_model
from tests.test_reconcile_handler import (
    DATABASE,
    EARLIER,
    SECRET_ARN,
    WORKGROUP,
    Harness,
    catalog,
    create_role,
    event,
    ledger_insert,
    roles_state,
    stubbed,
)

MODEL_PATH = Path(botocore.__file__).parent / "data" / "redshift-data" / "2019-12-20" / "service-2.json.gz"


def client_without_long_polling(folder: Path) -> Any:
    """A real redshift-data client whose model is botocore's without `WaitTimeSeconds`: the model of a botocore
    older than long polling (REDSHIFT_REFERENCE.md 7.1), loaded as botocore loads any model."""
    raw = json.loads(gzip.decompress(MODEL_PATH.read_bytes()))
    for shape in raw["shapes"].values():
        shape.get("members", {}).pop("WaitTimeSeconds", None)
    models = folder / "redshift-data" / "2019-12-20"
    models.mkdir(parents=True)
    (models / "service-2.json").write_text(json.dumps(raw), encoding="utf-8")
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(folder))
    return session.create_client("redshift-data", region_name="us-east-1", aws_access_key_id="x",
                                 aws_secret_access_key="x")


def harness_of(data_client: Any, data: Stubber) -> Iterator[Harness]:
    s3, s3_stub = stubbed("s3")
    serverless, serverless_stub = stubbed("redshift-serverless")
    with data, s3_stub, serverless_stub:
        yield Harness(DataApi(Target(WORKGROUP, DATABASE, SECRET_ARN), data_client), data, s3, s3_stub, serverless,
                      serverless_stub)
        data.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()
        serverless_stub.assert_no_pending_responses()


@pytest.fixture
def harness() -> Iterator[Harness]:
    """The Lambda's client as botocore 1.44 makes it: it long-polls."""
    data_client, data = stubbed("redshift-data")
    yield from harness_of(data_client, data)


@pytest.fixture
def older(tmp_path: Path) -> Iterator[Harness]:
    """The client of a botocore older than long polling."""
    data_client = client_without_long_polling(tmp_path)
    yield from harness_of(data_client, Stubber(data_client))


# ------------------------------------------------------------------------------------------------ which


def test_the_clients_own_model_decides_whether_the_runtime_long_polls(tmp_path: Path) -> None:
    current, _ = stubbed("redshift-data")
    assert accepts_long_polling(current)
    assert DataApi(Target(WORKGROUP, DATABASE, SECRET_ARN), current).long_polling
    assert not DataApi(Target(WORKGROUP, DATABASE, SECRET_ARN), current, long_polling=False).long_polling
    assert not accepts_long_polling(client_without_long_polling(tmp_path))
    assert not accepts_long_polling(object())  # no botocore model at all: a test's stand-in polls
    # The double answers with the same two models.
    assert accepts_long_polling(type("Client", (), {"meta": type("Meta", (), {"service_model": service_model()})}))
    assert not accepts_long_polling(type("Client", (), {"meta": type("Meta", (), {
        "service_model": service_model(long_polling=False)})}))


def test_an_older_client_is_never_sent_the_parameter_and_the_runtime_polls(older: Harness) -> None:
    """The Stubber checks each call against the older model: a WaitTimeSeconds anywhere would fail the call."""
    assert not older.api.long_polling
    update = event("Update", model_hash="hash-2")
    talk = older.conversation(update)
    assert not talk.long_polling
    older.expect_model(roles_state("analyst"))
    talk.read(catalog(["analyst"], ["analyst"], fence=(EARLIER, 9)), seq=1, running=1)
    talk.claim((EARLIER, 9))
    assert older.run(update) == {"IsComplete": True, "Data": {"Result": "in sync"}}
    assert older.clocks[-1].sleeps  # it polled: the first poll after a sleep, as before


# ------------------------------------------------------------------------------------------ conversations


def test_a_redeploy_without_change_waits_in_the_service_and_never_sleeps(harness: Harness) -> None:
    """The read: its submission waits and answers FINISHED, one DescribeStatement gives its sub-statements, then
    the rows; the claim: its submission alone; the confirmation: one listing per running status."""
    update = event("Update", model_hash="hash-2")
    talk = harness.conversation(update)
    assert talk.long_polling
    harness.expect_model(roles_state("analyst", "auditor"))
    talk.read(catalog(["analyst", "auditor"], ["analyst", "auditor"], fence=(EARLIER, 9)), seq=1)
    talk.claim((EARLIER, 9))
    assert harness.run(update) == {"IsComplete": True, "Data": {"Result": "in sync"}}
    assert harness.clocks[-1].sleeps == []


def test_a_batch_its_submission_saw_finish_costs_that_one_call(harness: Harness) -> None:
    create = event("Create")
    talk = harness.conversation(create)
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(), seq=1)
    talk.claim()
    talk.apply([create_role("analyst"), ledger_insert("analyst")], seq=1)  # answered FINISHED: no DescribeStatement
    talk.read(catalog(["analyst"], ["analyst"], fence=(talk.token, 1)), seq=2)
    assert harness.run(create) == {"IsComplete": True, "Data": {"Result": "in sync"}}
    assert harness.clocks[-1].sleeps == []


def test_a_batch_still_running_is_described_with_a_wait_until_it_ends(harness: Harness) -> None:
    """Answered STARTED by its submission, then DescribeStatement with WaitTimeSeconds until FINISHED. (The
    Stubber answers at once: each call that did not wait its polling interval is followed by the rest of it.)"""
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(fence=(EARLIER, 1)), seq=1, running=2)  # the read too: described twice with a wait
    talk.claim((EARLIER, 1))
    talk.apply([create_role("analyst"), ledger_insert("analyst")], seq=1, running=3)
    talk.read(catalog(["analyst"], ["analyst"], fence=(talk.token, 1)), seq=2)
    assert harness.run(update)["IsComplete"] is True
    assert harness.clocks[-1].sleeps == pytest.approx([POLL_SECONDS, POLL_SECONDS, POLL_SECONDS * 1.5])


def test_a_failed_batch_is_described_once_for_its_error_and_retried_from_a_fresh_read(harness: Harness) -> None:
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    cut = [create_role("analyst"), ledger_insert("analyst")]
    talk.read(catalog(fence=(EARLIER, 1)), seq=1)
    talk.claim((EARLIER, 1))
    talk.apply(cut, seq=1, status="FAILED", failed=2, error="ERROR: 57014 Query cancelled on user's request")
    talk.read(catalog(fence=(talk.token, 0)), seq=2)
    talk.apply(cut, seq=2, after=0)
    talk.read(catalog(["analyst"], ["analyst"], fence=(talk.token, 2)), seq=3)
    assert harness.run(update)["IsComplete"] is True


def test_a_failed_statement_is_reported_from_its_description(harness: Harness) -> None:
    update = event("Update")
    talk = harness.conversation(update)
    harness.expect_model(roles_state("analyst"))
    talk.read(catalog(fence=(EARLIER, 1)), seq=1)
    talk.claim((EARLIER, 1))
    talk.apply([create_role("analyst"), ledger_insert("analyst")], seq=1, status="FAILED", failed=2,
               error="ERROR: permission denied to create role")
    with pytest.raises(CustomResourceError, match=r"statement 1 of batch 00001 failed and was rolled back: CREATE "
                                                  r"ROLE \"analyst\" -- Redshift said: ERROR: permission denied"):
        harness.run(update)

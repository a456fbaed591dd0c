"""Too big for CloudFormation's hour is said before deploy: `validate`, `plan` and synth share one check
(the model loader's), and `make plan` prints every model's size and estimated apply time."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from redshift_idc.access import estimate as apply_estimate
from redshift_idc.access.estimate import ApplyBudgetError, first_deploy
from redshift_idc.access.model import parse_model
from redshift_idc.cdk.app import add_environment, new_app
from redshift_idc.cli.main import main
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.review.plan_report import offline_plan
from redshift_idc.runtime.access_state import AccessState, Role
from redshift_idc.runtime.ledger import LedgerTables, steps
from redshift_idc.runtime.limits import APPLY_ESTIMATE_LIMIT_SECONDS, ESTIMATED_SECONDS_PER_BATCH
from redshift_idc.runtime.planner import plan
from tests.test_identity_providers import AWSIDC

SOURCE = Path("access/big.yaml")


def model_data(roles: int, tables: int) -> dict[str, Any]:
    names = [f"team-{r:04d}" for r in range(roles)]
    table_names = [f"sales.t{t:02d}" for t in range(tables)]
    return {"tables": {t: ["region"] for t in table_names}, "roles": {"plain": names},
            "table_grants": [{"tables": table_names, "privileges": ["SELECT"], "to": names}]}


def test_the_plan_prints_the_size_and_the_estimated_apply_time() -> None:
    text = offline_plan(load_environment("demo"))
    last = next(line for line in text.splitlines() if line.startswith("-- first deploy: "))
    match = re.fullmatch(r"-- first deploy: (\d+) statements in (\d+) Data API batches; estimated apply time "
                         r"(\d+) s at 1\.5 s per batch \(a deploy may apply for 3,000 s of the 3,600 s "
                         r"CloudFormation gives a custom resource\)", last)
    assert match, last
    model_statements = [line for line in text.split("-- create roles", 1)[1].splitlines() if line.endswith(";")]
    assert int(match[1]) == len(model_statements)
    assert int(match[2]) >= 2  # at least the demo's script and one batch of the model
    assert int(match[3]) == round(int(match[2]) * ESTIMATED_SECONDS_PER_BATCH)


def test_a_model_too_big_for_one_deploy_is_refused_naming_its_size_and_the_way_out() -> None:
    with pytest.raises(ApplyBudgetError) as raised:
        parse_model(model_data(4000, 20), name="big", source=SOURCE)
    message = str(raised.value)
    assert message.startswith("access/big.yaml: the first deploy of this model is 84,000 statements in ")
    assert re.search(r"in 2,2\d\d Data API batches; estimated apply time 3,\d{3} s at 1.5 s per batch", message)
    assert "80,000 of the statements are table grants" in message
    assert "role_grants" in message and "all_tables_in" in message
    assert raised.value.estimated_seconds > APPLY_ESTIMATE_LIMIT_SECONDS


def test_the_same_model_with_a_role_hierarchy_fits() -> None:
    """The way out the message names: the tables granted once to a plain role, that role to the groups."""
    data = model_data(4000, 20)
    teams = data["roles"]["plain"]
    data["roles"]["plain"] = [*teams, "sales-reader"]
    data["table_grants"][0]["to"] = ["sales-reader"]
    data["role_grants"] = [{"grant": "sales-reader", "to": teams}]
    desired = parse_model(data, name="big", source=SOURCE).desired
    found = first_deploy(desired)
    assert found.within_budget and found.statements == 4000 + 1 + 20 + 4000
    assert found.seconds == found.batches * ESTIMATED_SECONDS_PER_BATCH


def test_validate_plan_and_synth_refuse_through_the_same_check(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(apply_estimate, "APPLY_ESTIMATE_LIMIT_SECONDS", 1)  # the demo's few seconds are over it
    for command in (["validate", "--env", "demo"], ["plan", "--env", "demo"]):
        assert main(command) == 2
        error = capsys.readouterr().err
        assert "access/demo.yaml: the first deploy of this model is" in error and "over the limit" in error
    with pytest.raises(ConfigError, match=r"access/demo.yaml: the first deploy of this model is"):
        add_environment(new_app(), load_environment("demo"), nag=False)


def test_a_statement_sent_alone_counts_with_its_announcement() -> None:
    """A statement that cannot run in a transaction (an identity provider) is its own Data API call, announced
    first by a fenced intent batch (runtime/fence.py), and followed by its ledger row: three steps, priced alike."""
    desired = AccessState.of([Role("analyst"), AWSIDC])
    found = first_deploy(desired)
    cut = steps(plan(desired, AccessState(), {}), "model", LedgerTables())
    assert [step.transactional for step in cut] == [False, True, True]  # the provider, its row, the role
    assert found.batches == len(cut) + 1 and found.seconds == found.batches * ESTIMATED_SECONDS_PER_BATCH

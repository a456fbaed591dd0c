"""Too big for CloudFormation's hour is said before deploy: `validate`, `plan` and synth share one check
(the model loader's), and `make plan` prints every model's size and estimated apply time."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from redshift_idc.access import estimate as apply_estimate
from redshift_idc.access.checked import checked_model
from redshift_idc.access.estimate import DEFAULT_TERMS, ApplyBudgetError, estimate, first_deploy
from redshift_idc.access.model import parse_model
from redshift_idc.cdk.app import add_environment
from redshift_idc.cdk.app_start import new_app
from redshift_idc.cli.main import main
from redshift_idc.config.apply_estimate import ApplyEstimateConfig
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.review.plan_report import offline_plan
from redshift_idc.runtime.access_state import AccessState, Role, TablePrivilege
from redshift_idc.runtime.catalog import read_queries
from redshift_idc.runtime.ledger import LedgerTables, steps
from redshift_idc.runtime.limits import APPLY_ESTIMATE_LIMIT_SECONDS, PROVIDER_QUERY_INTERVAL_SECONDS
from redshift_idc.runtime.planner import plan
from tests.test_config import demo, write
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
                         r"(\d+) s at 0\.3 s per batch \+ 0\.02 s per statement \+ 0\.001 s per object \+ 0\.3 s "
                         r"status lag \+ 0\.05 s per Data API call, x1\.25 margin \(a deploy may apply for 3,000 s of "
                         r"the 3,600 s CloudFormation gives a custom resource\)", last)
    assert match, last
    model_statements = [line for line in text.split("-- create roles", 1)[1].splitlines() if line.endswith(";")]
    assert int(match[1]) == len(model_statements)
    assert int(match[2]) >= 2  # at least the demo's script and one batch of the model
    checked = checked_model(load_environment("demo"), transition="skip")
    found = estimate(checked.first_deploy, checked.model.name, checked.model.ledger_schema, len(checked.scripts))
    assert int(match[3]) == round(found.seconds)


def test_a_model_too_big_for_one_deploy_is_refused_naming_its_size_and_the_way_out() -> None:
    """One statement per object (coalescing off): 84,000 statements. Coalesced, the same model fits."""
    data = {**model_data(4000, 20), "coalesce_statements": False}
    with pytest.raises(ApplyBudgetError) as raised:
        parse_model(data, name="big", source=SOURCE)
    message = str(raised.value)
    assert message.startswith("access/big.yaml: the first deploy of this model is 84,000 statements in ")
    assert re.search(r"in 2,2\d\d Data API batches; estimated apply time 4,\d{3} s at 0.3 s per batch \+ 0.02 s "
                     r"per statement \+ 0.001 s per object \+ 0.3 s status lag \+ 0.05 s per Data API call, x1.25 "
                     r"margin", message)
    assert "(The terms are the defaults; if your workgroup is faster, measure it and set apply_estimate:" in message
    assert "80,000 of the statements are table grants" in message
    assert "role_grants" in message and "all_tables_in" in message
    assert "turn coalesce_statements back on" in message
    assert raised.value.estimated_seconds > APPLY_ESTIMATE_LIMIT_SECONDS
    coalesced = parse_model(model_data(4000, 20), name="big", source=SOURCE).desired
    found = first_deploy(coalesced)
    assert found.within_budget and found.statements < 4100  # 4,000 CREATE ROLE, the grants in a few statements


def test_the_same_model_with_a_role_hierarchy_fits() -> None:
    """The way out the message names: the tables granted once to a plain role, that role to the groups."""
    data = model_data(4000, 20)
    teams = data["roles"]["plain"]
    data["roles"]["plain"] = [*teams, "sales-reader"]
    data["table_grants"][0]["to"] = ["sales-reader"]
    data["role_grants"] = [{"grant": "sales-reader", "to": teams}]
    data["coalesce_statements"] = False
    desired = parse_model(data, name="big", source=SOURCE).desired
    found = first_deploy(desired, coalesce=False)
    assert found.within_budget and found.statements == 4000 + 1 + 20 + 4000


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
    first by a fenced intent batch (runtime/fence.py), and followed by its ledger row: three steps, and the intent
    priced as a batch of the guard and the intent."""
    desired = AccessState.of([Role("analyst"), AWSIDC])
    found = first_deploy(desired)
    cut = steps(plan(desired, AccessState(), {}), "model", LedgerTables())
    assert [step.transactional for step in cut] == [False, True, True]  # the provider, its row, the role
    assert found.batches == len(cut) + 1
    per_batch = first_deploy(desired, terms=DEFAULT_TERMS.model_copy(update={"seconds_per_batch": 1.3}))
    reads = 2  # one invocation's read and the read back
    assert per_batch.seconds - found.seconds == pytest.approx(1.25 * (len(cut) + 1 + 1 + reads))  # with the claim


THREE_ROLES = AccessState.of([Role("a"), Role("b"), Role("c")])


def test_the_formula_prices_every_term() -> None:
    """Three roles: one batch of 3 CREATE ROLE and 1 ledger INSERT, plus the fence guard and progress (6 statements,
    each covering one object), the fence claim (2 statements), one invocation's read and the read back (each a
    batch of the read queries, a GetStatementResult per query that returns rows), one Provider pause. Each term
    is counted by hand and the estimate is their sum times the margin."""
    queries = read_queries(LedgerTables(), "model")
    results = sum(1 for name, _ in queries if not name.startswith("bootstrap_"))
    steps_priced = 1 + 1 + 2  # the batch, the claim, two reads
    statements = 6 + 2 + 2 * len(queries)
    calls = 2 * steps_priced + 2 * results  # submit and one DescribeStatement each, and the reads' results
    terms = ApplyEstimateConfig(seconds_per_batch=0.7, seconds_per_statement=0.011, seconds_per_object=0.003,
                                seconds_status_lag=0.2, seconds_per_call=0.04, margin=1.5)
    expected = (0.7 * steps_priced + 0.011 * statements + 0.003 * statements + 0.2 * steps_priced + 0.04 * calls
                + PROVIDER_QUERY_INTERVAL_SECONDS)
    assert first_deploy(THREE_ROLES, terms=terms).seconds == pytest.approx(expected * 1.5)


@pytest.mark.parametrize("term", ["seconds_per_batch", "seconds_per_statement", "seconds_per_object",
                                  "seconds_status_lag", "seconds_per_call"])
def test_each_term_raises_the_estimate(term: str) -> None:
    base = first_deploy(THREE_ROLES).seconds
    more = DEFAULT_TERMS.model_copy(update={term: getattr(DEFAULT_TERMS, term) + 0.1})
    assert first_deploy(THREE_ROLES, terms=more).seconds > base


def test_the_margin_multiplies_the_whole_estimate() -> None:
    plain = first_deploy(THREE_ROLES, terms=DEFAULT_TERMS.model_copy(update={"margin": 1.0})).seconds
    assert first_deploy(THREE_ROLES).seconds == pytest.approx(plain * 1.25)
    assert first_deploy(THREE_ROLES, terms=DEFAULT_TERMS.model_copy(update={"margin": 2.0})).seconds == \
        pytest.approx(plain * 2)


def test_a_statement_covering_several_objects_is_priced_per_object() -> None:
    """A coalesced statement lists every object it covers in `adds`/`removes`; one that lists none still covers
    one."""
    planned = plan(AccessState.of([Role("a"), Role("b"), TablePrivilege("s", "t", "SELECT", "a")]), AccessState(), {})
    grant = next(s for s in planned.statements if s.sql.startswith("GRANT"))
    assert grant.covers == 1
    covering = dataclasses.replace(grant, adds=(*grant.adds, TablePrivilege("s", "u", "SELECT", "a"),
                                               TablePrivilege("s", "t", "SELECT", "b"),
                                               TablePrivilege("s", "u", "SELECT", "b")))
    assert covering.covers == 4
    assert dataclasses.replace(grant, adds=(), removes=()).covers == 1
    coalesced = dataclasses.replace(planned, statements=[covering if s is grant else s for s in planned.statements])
    terms = DEFAULT_TERMS.model_copy(update={"seconds_per_object": 1.0, "margin": 1.0})
    assert (estimate(coalesced, "model", "redshift_idc", terms=terms).seconds
            - estimate(planned, "model", "redshift_idc", terms=terms).seconds) == pytest.approx(3.0)


def test_the_environments_terms_decide_and_the_refusal_names_them(tmp_path: Path) -> None:
    """`apply_estimate:` in the environment config reaches the shared check: slow enough terms refuse a model
    the defaults accept, and the message names the terms and where they were set."""
    data = model_data(1000, 20)
    assert first_deploy(parse_model(data, name="big", source=SOURCE).desired).within_budget
    config = demo()
    config["apply_estimate"] = {"seconds_per_batch": 120}
    write(tmp_path, config, name="slow")
    environment = load_environment("slow", tmp_path)
    with pytest.raises(ApplyBudgetError) as raised:
        parse_model(data, name="big", source=SOURCE, environment=environment)
    message = str(raised.value)
    assert "at 120 s per batch + 0.02 s per statement" in message
    assert "(The terms are config/slow.yaml's apply_estimate:;" in message
    assert "1,000 of the statements create roles, one each (CREATE ROLE takes one name)" in message
    assert "table grants" not in message  # coalesced, they are a few statements: not the way out


@pytest.mark.parametrize(("value", "expected"), [
    ({"margin": 0.9}, r"apply_estimate\.margin: must be at least 1: .* e\.g\. margin: 1\.25 \(1: none\) \(found: 0\.9"),
    ({"seconds_per_batch": 0}, r"apply_estimate\.seconds_per_batch: must be more than 0.* seconds_per_batch: 0\.3"),
    ({"seconds_per_object": -0.001}, r"apply_estimate\.seconds_per_object: too small: the least allowed is 0"),
    ({"seconds_status_lag": True}, r"apply_estimate\.seconds_status_lag: expected a number .* \(found: true\)"),
    ({"seconds_per_call": "0.05"}, r"apply_estimate\.seconds_per_call: expected a number .*without quotes"),
    ({"seconds_per_batch": 301}, r"apply_estimate\.seconds_per_batch: too large: the most allowed is 300"),
    ({"seconds_per_query": 1}, r"apply_estimate\.seconds_per_query: unknown key; did you mean 'seconds_per_object'"),
])
def test_bad_apply_estimate_settings_name_the_file_the_field_and_the_fix(tmp_path: Path, value: dict[str, Any],
                                                                          expected: str) -> None:
    config = demo()
    config["apply_estimate"] = value
    write(tmp_path, config)
    with pytest.raises(ConfigError, match=r"bad\.yaml: invalid configuration \(1 problem\):\n  " + expected):
        load_environment("bad", tmp_path)

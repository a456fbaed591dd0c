"""The transition check itself: what it catches, how it says so, and who refuses on it (plan --strict, validate,
synth). A planner that keeps the rule never trips it (`test_transition_properties.py`), so a faulty plan is made
here by reordering a real one."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from redshift_idc.access import checked
from redshift_idc.access.checked import TransitionError, checked_model
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.transition.check import check_plan, check_states
from redshift_idc.cli.main import main
from redshift_idc.config.environment import load_environment
from redshift_idc.review import plan_report
from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessState,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    Role,
    TablePrivilege,
)
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.phases import GRANT_PHASE
from redshift_idc.runtime.planning.plan_types import Plan

SCRIPT = """CREATE TABLE public.orders (region VARCHAR(8), email VARCHAR(64));
INSERT INTO public.orders VALUES ('EU', 'ann@eu.example'), ('US', 'bob@us.example'), ('APAC', 'cy@jp.example');"""
INPUTS = PreviewInputs("t", "AWSIDC", False, {"public.orders": ("region", "email")}, (("Ann", ("sales",)),),
                       ({"Name": "rows.sql", "Sql": SCRIPT, "Checksum": "0"},))
EU = RlsPolicy("eu", (("region", "VARCHAR(8)"),), "region = 'EU'")
HIDE = MaskingPolicy("hide", (("email", "VARCHAR(64)"),), "CAST('***' AS VARCHAR(64))")
SALES = "AWSIDC:sales"
MODEL = AccessState.of([
    Role(SALES), TablePrivilege("public", "orders", "SELECT", SALES), EU, RlsTable("public", "orders", "AND"),
    RlsAttachment("eu", "public", "orders", SALES), HIDE,
    MaskingAttachment("hide", "public", "orders", ("email",), SALES, (), 10)])


def grants_first(planned: Plan) -> Plan:
    """The plan with its grants moved to the front, each statement its own batch's worth (no groups): what a
    planner that grants before it restricts would do."""
    ordered = sorted(planned.statements, key=lambda s: (s.phase not in GRANT_PHASE.values(), s.phase, s.sort_key))
    return dataclasses.replace(planned, statements=[dataclasses.replace(s, group="") for s in ordered])


def test_a_grant_before_its_restrictions_is_a_widening_named_by_batch_principal_and_table() -> None:
    empty = AccessState()
    good = plan(MODEL, empty, {}, group_limit=2)
    assert check_plan(INPUTS, empty, good, "t", "redshift_idc", max_statements=5).ok
    verdict = check_plan(INPUTS, empty, grants_first(good), "t", "redshift_idc", max_statements=5)
    assert not verdict.ok
    first = verdict.widenings[0]
    assert (first.boundary, first.table) == (1, "public.orders")
    assert {w.principal for w in verdict.widenings} >= {"persona Ann", f"role {SALES}"}  # role names keep case
    assert "it sees neither before nor after" in first.what and "email='bob@us.example'" in first.what
    assert verdict.line().startswith(f"-- transition: WIDENS ACCESS after batch 1 of {verdict.batches}: ")


def test_an_or_attach_that_adds_rows_is_judged_by_rows_not_by_statement_kind() -> None:
    """Under OR each policy adds rows: attaching a second one in its own batch, before the first is detached,
    shows the union of old and new rows, within before-or-after; dropping RLS in between would not be."""
    us = RlsPolicy("us", (("region", "VARCHAR(8)"),), "region = 'US'")
    before = AccessState.of([Role(SALES), TablePrivilege("public", "orders", "SELECT", SALES), EU, us,
                             RlsTable("public", "orders", "OR"), RlsAttachment("eu", "public", "orders", SALES)])
    after = AccessState.of([*(i for i in before if not isinstance(i, RlsAttachment)),
                            RlsAttachment("us", "public", "orders", SALES)])
    both = AccessState.of([*before, RlsAttachment("us", "public", "orders", SALES)])
    assert check_states(INPUTS, [before, both, after]).ok
    open_ = AccessState.of([i for i in before if not isinstance(i, RlsTable | RlsAttachment)])
    assert not check_states(INPUTS, [before, open_, after]).ok


def test_an_undeclared_table_may_never_lose_a_restriction_not_even_at_the_end() -> None:
    hand = RlsPolicy("own", (("owner", "VARCHAR(64)"),), "owner = current_user")
    before = AccessState.of([TablePrivilege("hr", "vault", "SELECT", PUBLIC_GRANTEE), hand,
                             RlsTable("hr", "vault", "AND"), RlsAttachment("own", "hr", "vault", PUBLIC_GRANTEE)])
    lifted = AccessState.of([TablePrivilege("hr", "vault", "SELECT", PUBLIC_GRANTEE), hand])
    verdict = check_states(INPUTS, [before, lifted])
    assert not verdict.ok
    assert verdict.widenings[0].table == "hr.vault (not declared by the model)"
    assert "row-level security" in verdict.widenings[0].what or "RLS policy own" in verdict.widenings[0].what
    assert check_states(INPUTS, [before, before]).ok


# ------------------------------------------------------------------------------------------ who refuses


@pytest.fixture
def faulty_planner(monkeypatch: pytest.MonkeyPatch) -> None:
    """checked_model's planner commits every grant on its own, before anything else (as if each were a statement that
    runs alone, outside the batches): the model's tables are readable before their RLS and masking exist."""
    def faulty(*args: Any, **kwargs: Any) -> Plan:
        planned = plan(*args, **kwargs)
        first = [dataclasses.replace(s, phase=1, transactional=False) for s in planned.statements
                 if s.phase in GRANT_PHASE.values()]
        rest = [s for s in planned.statements if s.phase not in GRANT_PHASE.values()]
        return dataclasses.replace(planned, statements=first + rest)
    monkeypatch.setattr(checked, "plan", faulty)


@pytest.mark.usefixtures("faulty_planner")
def test_validate_and_synth_refuse_a_first_deploy_that_widens() -> None:
    with pytest.raises(TransitionError, match=r"the first deploy's plan has a batch boundary that widens access"):
        checked_model(load_environment("demo"))


@pytest.mark.usefixtures("faulty_planner")
def test_plan_prints_the_widening_and_fails_only_with_strict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--env", "demo"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip("\n").splitlines()[-1].startswith("-- transition: WIDENS ACCESS after batch ")
    assert "-- widening: after batch " in out
    assert main(["plan", "--env", "demo", "--strict"]) == 1
    assert capsys.readouterr().err.startswith("--strict: after batch ")


def test_plan_strict_passes_a_plan_that_keeps_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--env", "demo", "--strict"]) == 0
    assert capsys.readouterr().out.rstrip("\n").splitlines()[-1].startswith(
        "-- transition: no intermediate state widens access")


def test_the_snapshot_plan_is_checked_from_the_catalog_it_holds(tmp_path: Path) -> None:
    report = plan_report.snapshot_plan_report(load_environment("sample-lakehouse"),
                                           Path(__file__).parents[1] / "access" / "sample-lakehouse" /
                                           "catalog-before-rename.json")
    assert report.transition is not None and report.transition.ok and report.strict_error() == ""

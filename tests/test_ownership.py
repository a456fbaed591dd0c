"""One owner per object: access models sharing a database never adopt, change or remove each other's objects.

The planner's rules on pure states (`plan(..., owners=...)`), one by one, and the read (every model's ledger
rows, other ledger schemas). Two models on one warehouse, through the handlers and the reports, are in
tests/test_ownership_scenarios.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from redshift_idc.review.plan_text import render_for_review
from redshift_idc.runtime.access_state import (
    AccessState,
    ExternalSchema,
    LedgerEntry,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsLookupGrant,
    RlsPolicy,
    Role,
    RoleGrant,
    SchemaPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.catalog import (
    ledger_schema_problem,
    other_ledger_models,
    other_ledger_queries,
    parse_snapshot,
    read_queries,
)
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.ownership import OWNERSHIP_SHOWN, OwnershipError
from redshift_idc.runtime.planning.plan_types import Ledger, Owners, Plan
from tests.fake_redshift import FakeRedshift


def state(*items: Any) -> AccessState:
    return AccessState.of(items)


def key_of(item: Any) -> tuple[str, tuple[str, ...]]:
    return (item.KIND, item.key())


def owned(model: str, *items: Any) -> Owners:
    return {key_of(item): model for item in items}


def recorded(*items: Any) -> Ledger:
    return {key_of(item): item.fingerprint() for item in items}


ANALYSTS, AUDITORS = Role("analysts"), Role("auditors")
USAGE = SchemaPrivilege("sales", "USAGE", "analysts")
SELECT = TablePrivilege("sales", "orders", "SELECT", "analysts")


# --- the planner ------------------------------------------------------------------------------------


def test_declaring_an_object_another_model_manages_fails_naming_it_and_the_model() -> None:
    current = state(ANALYSTS, USAGE)
    with pytest.raises(OwnershipError) as raised:
        plan(state(ANALYSTS, AUDITORS), current, {}, owners=owned("one", ANALYSTS, USAGE))
    message = str(raised.value)
    assert "declares 1 object(s) that another access model manages: role analysts (access model 'one')" in message
    assert "declare each object in one model only" in message


def test_a_declared_grant_another_model_manages_is_refused_too_and_nothing_else_is_planned() -> None:
    with pytest.raises(OwnershipError, match=r"table_privilege sales\.orders\.SELECT\.analysts \(access model 'one'\)"):
        plan(state(ANALYSTS, SELECT), state(), {}, owners=owned("one", SELECT))


def test_without_owners_the_same_model_would_adopt_it() -> None:
    """The control of the tests above: what the planner did before (adopt an existing object) is what is refused."""
    planned = plan(state(ANALYSTS), state(ANALYSTS), {})
    assert [(e.kind, e.key) for e in planned.adopt] == [key_of(ANALYSTS)]


def test_prune_leaves_other_models_objects_alone_and_counts_them() -> None:
    current = state(ANALYSTS, USAGE, SELECT, AUDITORS, Role("by hand"))
    planned = plan(state(AUDITORS), current, recorded(AUDITORS), prune=True,
                   owners=owned("one", ANALYSTS, USAGE, SELECT))
    assert planned.sql == ['DROP ROLE "by hand" FORCE']
    assert planned.others_skipped == 3
    assert "-- 3 object(s) other access models manage: left to them" in render_for_review(planned, [])


def test_without_prune_other_models_objects_are_not_counted() -> None:
    planned = plan(state(), state(ANALYSTS, USAGE), {}, owners=owned("one", ANALYSTS, USAGE))
    assert (planned.sql, planned.others_skipped) == ([], 0)
    assert "other access models" not in render_for_review(planned, [])


def test_a_row_another_model_also_holds_is_forgotten_not_dropped() -> None:
    """Two owners, as an earlier version allowed: the model that no longer declares it releases it (its ledger row
    goes, without DDL); the other keeps it."""
    planned = plan(state(), state(ANALYSTS, USAGE), recorded(ANALYSTS, USAGE), owners=owned("two", ANALYSTS, USAGE))
    assert planned.sql == []
    assert sorted((e.kind, e.key) for e in planned.forget) == sorted([key_of(ANALYSTS), key_of(USAGE)])


def test_dropping_a_role_another_models_grant_names_fails_naming_the_grant() -> None:
    current = state(ANALYSTS, USAGE, SELECT)
    with pytest.raises(OwnershipError) as raised:
        plan(state(), current, recorded(ANALYSTS, USAGE), owners=owned("two", SELECT))
    message = str(raised.value)
    assert ("would take along 1 object(s) that another access model manages: table_privilege "
            "sales.orders.SELECT.analysts (access model 'two', by dropping role analysts)") in message
    assert "schema_privilege" not in message  # this model's own grant goes with its role, as before


def test_dropping_a_role_another_models_role_grant_names_fails() -> None:
    grant = RoleGrant("analysts", "auditors")
    with pytest.raises(OwnershipError, match=r"role_grant .* \(access model 'two', by dropping role analysts\)"):
        plan(state(AUDITORS), state(ANALYSTS, AUDITORS, grant), recorded(ANALYSTS, AUDITORS),
             owners=owned("two", grant))


def test_dropping_a_policy_another_models_attachment_uses_fails() -> None:
    policy = MaskingPolicy("mask_sku", (("sku", "VARCHAR(50)"),), "'XXXX'")
    attachment = MaskingAttachment("mask_sku", "sales", "orders", ("sku",), "analysts", priority=10)
    with pytest.raises(OwnershipError, match=r"by dropping masking_policy mask_sku"):
        plan(state(ANALYSTS), state(ANALYSTS, policy, attachment), recorded(ANALYSTS, policy),
             owners=owned("two", attachment))


def test_rebuilding_a_policy_another_models_attachment_uses_fails() -> None:
    """A changed WITH rebuilds the policy: detach, drop, create, attach; the other model's attachment would be
    detached and never attached again."""
    old = RlsPolicy("by_region", (("region", "VARCHAR(10)"),), "region = 'EU'")
    new = RlsPolicy("by_region", (("region", "VARCHAR(20)"),), "region = 'EU'")
    attachment = RlsAttachment("by_region", "sales", "orders", "analysts")
    with pytest.raises(OwnershipError, match=r"rls_attachment .* \(access model 'two', by rebuilding rls_policy "):
        plan(state(ANALYSTS, new), state(ANALYSTS, old, attachment), recorded(ANALYSTS, old),
             owners=owned("two", attachment))


def test_dropping_a_policy_another_model_granted_a_lookup_table_to_fails() -> None:
    """Grants to RLS policies have no catalog view: the other model's ledger row is what shows it."""
    policy = RlsPolicy("by_region", (("region", "VARCHAR(10)"),), "region = 'EU'")
    lookup = RlsLookupGrant("sales", "regions", "by_region")
    with pytest.raises(OwnershipError, match=r"rls_lookup_grant sales\.regions\.by_region .*dropping rls_policy"):
        plan(state(), state(policy), recorded(policy), owners=owned("two", lookup))


def test_replacing_or_dropping_an_external_schema_another_models_grant_names_fails() -> None:
    old = ExternalSchema("lake", "glue_db")
    new = ExternalSchema("lake", "other_glue_db")
    grant = SchemaPrivilege("lake", "USAGE", "analysts")
    with pytest.raises(OwnershipError, match=r"schema_privilege lake\.USAGE\.analysts .*by replacing external_schema"):
        plan(state(ANALYSTS, new), state(ANALYSTS, old, grant), recorded(ANALYSTS, old), owners=owned("two", grant))
    with pytest.raises(OwnershipError, match=r"by dropping external_schema lake"):
        plan(state(ANALYSTS), state(ANALYSTS, old, grant), recorded(ANALYSTS, old), owners=owned("two", grant))


def test_an_ownership_error_lists_a_few_objects_and_counts_the_rest() -> None:
    roles = [Role(f"r{n:02d}") for n in range(OWNERSHIP_SHOWN + 3)]
    with pytest.raises(OwnershipError) as raised:
        plan(state(*roles), state(), {}, owners=owned("one", *roles))
    message = str(raised.value)
    assert f"declares {OWNERSHIP_SHOWN + 3} object(s)" in message
    assert "role r00 (access model 'one')" in message and "role r12" not in message
    assert message.count("(access model 'one')") == OWNERSHIP_SHOWN and " and 3 more." in message


def test_every_kind_another_model_manages_is_refused_when_declared() -> None:
    """Whatever the kind, a declared object another model's ledger holds is never adopted, created or altered."""
    objects = [ANALYSTS, USAGE, SELECT, RoleGrant("analysts", "auditors"), ExternalSchema("lake", "glue_db"),
               RlsPolicy("p", (), "true"), MaskingPolicy("m", (("sku", "VARCHAR(5)"),), "'X'")]
    for item in objects:
        with pytest.raises(OwnershipError, match="access model 'one'"):
            plan(state(ANALYSTS, AUDITORS, item), state(), {}, owners=owned("one", item))


# --- the read ---------------------------------------------------------------------------------------


def test_the_read_holds_every_other_models_rows_and_other_ledger_schemas() -> None:
    fake = FakeRedshift()
    tables = LedgerTables()
    fake.execute_batch(tables.bootstrap_sql())
    fake.execute_batch([tables.insert_sql("one", [LedgerEntry("role", ("analysts",))]),
                        tables.insert_sql("two", [LedgerEntry("role", ("auditors",))]),
                        tables.insert_sql("three", [LedgerEntry("role", ("analysts",))])])
    elsewhere = LedgerTables("old_ledger")
    fake.execute_batch([*elsewhere.bootstrap_sql(), elsewhere.insert_sql("four", [LedgerEntry("role", ("x",))])])
    fake.execute_batch(LedgerTables("empty_ledger").bootstrap_sql())
    queries = dict(read_queries(tables, "one"))
    rows = {name: fake.execute(queries[name]) for name in ("ledger", "other_ledgers", "other_ledger_schemas")}
    snapshot = parse_snapshot(rows)
    assert snapshot.ledger == {("role", ("analysts",)): ""}
    # Two other models hold "analysts" (two owners, as earlier versions allowed): the first by name is named.
    assert snapshot.owners == {("role", ("analysts",)): "three", ("role", ("auditors",)): "two"}
    assert snapshot.other_ledger_schemas == ("empty_ledger", "old_ledger")
    follow_up = {name: fake.execute(sql) for name, sql in other_ledger_queries(snapshot.other_ledger_schemas)}
    models = other_ledger_models(follow_up)
    assert models == {"empty_ledger": [], "old_ledger": ["four"]}
    problem = ledger_schema_problem(models, "redshift_idc")
    assert problem.startswith("this database also keeps access model ledgers in schema \"old_ledger\" (access "
                              "model(s) 'four'), while this model keeps its ledger in schema \"redshift_idc\"")
    assert "empty_ledger" not in problem  # no model uses it: left by a refused deploy, it refuses nothing
    assert ledger_schema_problem({"empty_ledger": []}, "redshift_idc") == ""


def test_the_other_ledger_probe_ignores_a_table_without_model_name() -> None:
    """A user's table that happens to be named managed_object is not a ledger."""
    fake = FakeRedshift()
    fake.execute_batch(['CREATE SCHEMA IF NOT EXISTS "app"',
                        'CREATE TABLE IF NOT EXISTS "app"."managed_object" (kind VARCHAR(64) NOT NULL)'])
    assert fake.execute(LedgerTables().other_schemas_sql()) == []


def test_plan_renders_no_skip_line_for_an_empty_plan() -> None:
    assert render_for_review(Plan(), []) == "-- no changes: the warehouse already matches the model\n"

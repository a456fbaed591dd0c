"""Lookup-table RLS (issue 12 item 3): one subquery form in a policy, `col IN (SELECT col FROM <declared table>
WHERE ...)`, the `GRANT SELECT ... TO RLS POLICY` it needs planned in order and revoked on removal, Redshift's
rule that a lookup table takes no policy (and the reverse), the preview evaluating it, and a lint when roles
can read the entitlements themselves."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from redshift_idc.access.model import parse_model
from redshift_idc.access.preview.build import evaluate
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.config.errors import ConfigError
from redshift_idc.runtime.access_state import AccessState, RlsLookupGrant
from redshift_idc.runtime.planner import plan
from tests.fake_redshift import FakeRedshift

SOURCE = Path("access/lookup.yaml")
LOOKUP = "region IN (SELECT region FROM security.entitlements WHERE user_name = current_user)"
MODEL: dict[str, Any] = {
    "tables": {"public.sales": ["region", "amount"], "security.entitlements": ["user_name", "region"]},
    "roles": {"idc_groups": ["analysts", "auditors"]},
    "schema_grants": [{"schema": "public", "privileges": ["USAGE"], "to": ["analysts", "auditors"]}],
    "table_grants": [{"tables": ["public.sales"], "privileges": ["SELECT"], "to": ["analysts", "auditors"]}],
    "rls": {"policies": [{"name": "by_entitlement", "with": {"region": "VARCHAR(20)"}, "using": LOOKUP,
                          "attach": [{"table": "public.sales", "to": ["analysts"]}]}],
            "tables": [{"table": "public.sales"}]},
    "sample_data": {"public.sales": "sales.csv", "security.entitlements": "entitlements.csv"},
    "personas": [{"name": "frank", "groups": ["analysts"]}, {"name": "ming", "groups": ["analysts"]}],
}
SALES = "region,amount\nAMER,10\nEMEA,20\nAPAC,30\n"
ENTITLEMENTS = "user_name,region\nawsidc:frank,AMER\nawsidc:frank,EMEA\nawsidc:ming,APAC\n"


def compiled(data: dict[str, Any]) -> AccessState:
    return parse_model(data, name="lookup", source=SOURCE).desired


def test_the_policy_is_granted_its_lookup_table_between_create_and_attach() -> None:
    sql = plan(compiled(MODEL), AccessState()).sql
    create = sql.index(f'CREATE RLS POLICY "by_entitlement" WITH ("region" VARCHAR(20)) USING ({LOOKUP})')
    grant = sql.index('GRANT SELECT ON TABLE "security"."entitlements" TO RLS POLICY "by_entitlement"')
    attach = sql.index('ATTACH RLS POLICY "by_entitlement" ON "public"."sales" TO ROLE "AWSIDC:analysts"')
    rls_on = sql.index('ALTER TABLE "public"."sales" ROW LEVEL SECURITY ON CONJUNCTION TYPE AND')
    assert create < grant < attach < rls_on


def test_create_then_no_op_then_remove_on_the_fake() -> None:
    """No catalog view shows grants to policies: the ledger is their current state."""
    fake = FakeRedshift()
    desired = compiled(MODEL)
    fake.apply(plan(desired, fake.state()), "lookup")
    assert fake.lookup_grants == {("security", "entitlements", "by_entitlement")}
    assert plan(desired, fake.state(), fake.ledger("lookup")).statements == []
    gone = copy.deepcopy(MODEL)
    gone["rls"]["policies"] = []
    removal = plan(compiled(gone), fake.state(), fake.ledger("lookup"))
    assert removal.sql == [  # names as the catalog holds them (folded; role names keep their case)
        'DETACH RLS POLICY "by_entitlement" ON "public"."sales" FROM ROLE "AWSIDC:analysts"',
        'REVOKE SELECT ON TABLE "security"."entitlements" FROM RLS POLICY "by_entitlement"',
        'DROP RLS POLICY "by_entitlement"',
    ]
    fake.apply(removal, "lookup")
    assert fake.lookup_grants == set()


def test_a_new_lookup_table_is_granted_and_the_old_one_revoked() -> None:
    fake = FakeRedshift()
    fake.apply(plan(compiled(MODEL), fake.state()), "lookup")
    moved = copy.deepcopy(MODEL)
    moved["tables"]["security.entitlements_v2"] = ["user_name", "region"]
    moved["rls"]["policies"][0]["using"] = LOOKUP.replace("entitlements", "entitlements_v2")
    sql = plan(compiled(moved), fake.state(), fake.ledger("lookup")).sql
    # The new table is granted before the policy reads it, the old one revoked once nothing reads it.
    assert sql == ['GRANT SELECT ON TABLE "security"."entitlements_v2" TO RLS POLICY "by_entitlement"',
                   f'ALTER RLS POLICY "by_entitlement" USING ({moved["rls"]["policies"][0]["using"]})',
                   'REVOKE SELECT ON TABLE "security"."entitlements" FROM RLS POLICY "by_entitlement"']


def test_a_policy_dropped_by_hand_takes_its_grant_along() -> None:
    fake = FakeRedshift()
    desired = compiled(MODEL)
    fake.apply(plan(desired, fake.state()), "lookup")
    fake.execute('DETACH RLS POLICY "by_entitlement" ON "public"."sales" FROM ROLE "AWSIDC:analysts"')
    fake.execute('DROP RLS POLICY "by_entitlement"')
    again = plan(desired, fake.state(), fake.ledger("lookup")).sql
    assert 'GRANT SELECT ON TABLE "security"."entitlements" TO RLS POLICY "by_entitlement"' in again
    assert not any(s.startswith("REVOKE") for s in again)


@pytest.mark.parametrize(("using", "expected"), [
    ("region IN (SELECT region FROM security.nowhere)", "the lookup table security.nowhere is not declared"),
    ("region IN (SELECT region FROM security.entitlements e)", "without an alias"),
    ("region IN (SELECT region FROM security.entitlements LIMIT 1)", "without LIMIT"),
    ("EXISTS (SELECT 1 FROM security.entitlements)", "subqueries and statements cannot appear in a policy"),
    ("region = (SELECT region FROM security.entitlements)", "subqueries and statements cannot appear"),
    ("region IN (SELECT region FROM security.entitlements WHERE team = 'x')",
     "column(s) team not among the columns of the lookup table security.entitlements"),
    ("region IN (SELECT region FROM security.entitlements WHERE region IN (SELECT region FROM security.entitlements))",
     "subqueries and statements cannot appear"),
])
def test_other_subquery_forms_are_refused(using: str, expected: str) -> None:
    data = copy.deepcopy(MODEL)
    data["rls"]["policies"][0]["using"] = using
    with pytest.raises(ConfigError) as error:
        compiled(data)
    assert f"{SOURCE}: rls.policies[0].using: " in str(error.value) and expected in str(error.value)


def test_a_lookup_table_takes_no_policy() -> None:
    data = copy.deepcopy(MODEL)
    data["rls"]["policies"].append({"name": "own_rows", "with": {"user_name": "VARCHAR(64)"},
                                    "using": "user_name = current_user",
                                    "attach": [{"table": "security.entitlements", "to": ["auditors"]}]})
    with pytest.raises(ConfigError) as error:
        compiled(data)
    assert ("rls.policies[1].attach[0].table: security.entitlements is the lookup table of a policy "
            "(rls.policies[0].using)") in str(error.value)


def _preview(data: dict[str, Any], folder: Path) -> Any:
    (folder / "sales.csv").write_text(SALES)
    (folder / "entitlements.csv").write_text(ENTITLEMENTS)
    compiled = parse_model(data, name="lookup", source=SOURCE)
    model, desired = compiled.model, compiled.desired
    return evaluate(PreviewInputs.of_model(model, [], "AWSIDC", folder), desired)


def test_the_preview_reads_the_lookup_table_per_persona(tmp_path: Path) -> None:
    preview = _preview(MODEL, tmp_path)
    seen = {v.persona.name: [r["region"] for r in next(t for t in v.tables if t.table == "public.sales").rows]
            for v in preview.personas}
    assert seen == {"frank": ["AMER", "EMEA"], "ming": ["APAC"]}
    assert [w.code for w in preview.warnings] == []


def test_roles_that_can_read_the_lookup_table_are_warned_about(tmp_path: Path) -> None:
    data = copy.deepcopy(MODEL)
    data["table_grants"].append({"tables": ["security.entitlements"], "privileges": ["SELECT"], "to": ["auditors"]})
    warnings = [w for w in _preview(data, tmp_path).warnings if w.code == "readable-lookup-table"]
    assert len(warnings) == 1
    assert "security.entitlements is the lookup table of RLS policy by_entitlement" in warnings[0].message
    assert "awsidc:auditors may SELECT it" in warnings[0].message
    assert RlsLookupGrant("security", "entitlements", "by_entitlement") in list(compiled(data))

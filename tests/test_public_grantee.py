"""PUBLIC (every user) as a grantee (issue 12 item 4): object grants, RLS and masking attachments to PUBLIC,
planned as the keyword, applied to the fake warehouse, read back through the catalog reader, and never
revoked unless the ledger says we granted it (Redshift's own PUBLIC defaults are not ours)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc.access.model import ACCESS_DIR, load_scripts, parse_model
from redshift_idc.access.preview.build import evaluate
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessState,
    MaskingAttachment,
    Role,
    SchemaPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.catalog import parse_snapshot
from redshift_idc.runtime.planner import plan
from tests.fake_data_api import svv_rows
from tests.fake_redshift import FakeRedshift

ENV = load_environment("demo")
DEMO: dict[str, Any] = yaml.safe_load((ACCESS_DIR / "demo.yaml").read_text())
SOURCE = Path("access/test.yaml")
MASK_SKU: dict[str, Any] = {
    "name": "mask_sku", "with": {"sku": "VARCHAR(50)"}, "using": "'****'::VARCHAR(50)",
    "attach": [{"table": "public.sales_data", "columns": ["sku"], "to": "PUBLIC", "priority": 10}]}
SHOW_SKU: dict[str, Any] = {
    "name": "show_sku", "with": {"sku": "VARCHAR(50)"}, "using": "sku",
    "attach": [{"table": "public.sales_data", "columns": ["sku"], "to": "exec-global", "priority": 20}]}


def with_public(data: dict[str, Any]) -> dict[str, Any]:
    """The demo, plus: USAGE on sales_schema and SELECT on public.sales_data to PUBLIC, an RLS policy for
    PUBLIC, and the usual "masked for everyone, unmasked for exec" pair."""
    data = copy.deepcopy(data)
    data["schema_grants"].append({"schema": "sales_schema", "privileges": ["USAGE"], "to": ["public"]})
    data["table_grants"].append({"tables": ["public.sales_data"], "privileges": ["SELECT"], "to": ["PUBLIC"]})
    data["rls"]["policies"].append({"name": "nobody_else", "with": {"timezone": "VARCHAR(50)"},
                                    "using": "timezone = 'nowhere'",
                                    "attach": [{"table": "public.sales_data", "to": ["PUBLIC"]}]})
    data["masking"] = copy.deepcopy({"policies": [MASK_SKU, SHOW_SKU]})
    data.pop("expect", None)
    return data


def compiled(data: dict[str, Any]) -> AccessState:
    return parse_model(data, name="test", source=SOURCE, environment=ENV).desired


def test_public_grants_and_attachments_plan_as_the_keyword() -> None:
    sql = plan(compiled(with_public(DEMO)), AccessState()).sql
    assert 'GRANT USAGE ON SCHEMA "sales_schema" TO PUBLIC' in sql
    assert 'GRANT SELECT ON TABLE "public"."sales_data" TO PUBLIC' in sql
    assert 'ATTACH RLS POLICY "nobody_else" ON "public"."sales_data" TO PUBLIC' in sql
    assert ('ATTACH MASKING POLICY "mask_sku" ON "public"."sales_data" ("sku") USING ("sku") TO PUBLIC '
            "PRIORITY 10") in sql
    assert ('ATTACH MASKING POLICY "show_sku" ON "public"."sales_data" ("sku") USING ("sku") TO ROLE '
            '"AWSIDC:exec-global" PRIORITY 20') in sql
    assert not any('"PUBLIC"' in s or "ROLE PUBLIC" in s for s in sql)


def test_apply_read_back_and_converge_to_nothing() -> None:
    """Create, then no-op: the catalog reader turns identity_type 'public' rows back into PUBLIC."""
    desired = compiled(with_public(DEMO))
    fake = FakeRedshift()
    first = plan(desired, fake.state())
    fake.apply(first, "test")
    rows = svv_rows(fake.state(), user="admin", superuser=True, secadmin=True)
    assert ("sales_schema", "USAGE", "public", "SCHEMA", "public") in rows["schema_privileges"]
    current = parse_snapshot(rows).state
    assert current.get(TablePrivilege.KIND, TablePrivilege("public", "sales_data", "SELECT", PUBLIC_GRANTEE).key())
    again = plan(desired, current, fake.ledger("test"))
    assert again.statements == []


def test_change_and_remove_revoke_from_public_only_what_we_granted() -> None:
    desired = compiled(with_public(DEMO))
    fake = FakeRedshift()
    fake.apply(plan(desired, fake.state()), "test")
    # Redshift's own default: PUBLIC may use schema public. Not in the model, not in the ledger.
    fake.execute('GRANT USAGE ON SCHEMA "public" TO PUBLIC')
    data = with_public(DEMO)
    data["table_grants"][-1]["privileges"] = ["SELECT", "INSERT"]  # a change
    data["schema_grants"].pop()  # a removal
    changed = plan(compiled(data), fake.state(), fake.ledger("test"), prune=True)
    assert changed.sql == ['REVOKE USAGE ON SCHEMA "sales_schema" FROM PUBLIC',
                           'GRANT INSERT ON TABLE "public"."sales_data" TO PUBLIC']
    fake.apply(changed, "test")
    state = fake.state()
    assert state.get(SchemaPrivilege.KIND, SchemaPrivilege("public", "USAGE", PUBLIC_GRANTEE).key())  # kept
    assert not state.get(SchemaPrivilege.KIND, SchemaPrivilege("sales_schema", "USAGE", PUBLIC_GRANTEE).key())


def test_public_masking_moves_with_its_priority() -> None:
    data = with_public(DEMO)
    fake = FakeRedshift()
    fake.apply(plan(compiled(data), fake.state()), "test")
    data["masking"]["policies"][0]["attach"][0]["priority"] = 5
    sql = plan(compiled(data), fake.state(), fake.ledger("test")).sql
    assert sql == ['DETACH MASKING POLICY "mask_sku" ON "public"."sales_data" ("sku") FROM PUBLIC',
                   'ATTACH MASKING POLICY "mask_sku" ON "public"."sales_data" ("sku") USING ("sku") TO PUBLIC '
                   "PRIORITY 5"]


def test_the_preview_applies_public_attachments_to_every_persona() -> None:
    data = with_public(DEMO)
    data.pop("allow_warnings", None)
    compiled = parse_model(data, name="test", source=SOURCE, environment=ENV)
    model, desired = compiled.model, compiled.desired
    inputs = PreviewInputs.of_model(model, load_scripts(model), "AWSIDC", ACCESS_DIR)
    views = {v.persona.name: v for v in evaluate(inputs, desired).personas}

    def sales(name: str) -> Any:
        return next(t for t in views[name].tables if t.table == "public.sales_data")

    assert sales("Frank").access == "ok"  # SELECT to PUBLIC (besides amer-sales' own)
    assert sales("Frank").masking == {"sku": "mask_sku"}  # PUBLIC's masking reaches everyone ...
    assert sales("Ethan").masking == {"sku": "show_sku"}  # ... but exec-global's higher priority wins
    assert all(r["sku"].startswith("SKU-") for r in sales("Ethan").rows) and sales("Ethan").rows
    # PUBLIC's RLS policy applies to everyone too, AND-ed with amer-sales' on this table: Frank sees nothing.
    assert sales("Frank").rows == []
    assert "nobody_else" in sales("Frank").policies


@pytest.mark.parametrize(("change", "field", "expected"), [
    (lambda d: d["role_grants"].append({"grant": "amer-sales", "to": ["PUBLIC"]}), "role_grants[0].to[0]",
     "PUBLIC cannot receive this: Redshift grants it only to roles"),
    (lambda d: d["rls"].update(ignore_rls=["PUBLIC"]), "rls.ignore_rls[0]", "PUBLIC cannot receive this"),
    (lambda d: d["table_grants"][1].update(to=["PUBLIC"]), "table_grants[1].to[0]", "PUBLIC cannot receive this"),
    (lambda d: d["roles"].update(plain=["public"]), "roles.plain[0]",
     "PUBLIC is Redshift's name for every user, not a role to declare"),
    (lambda d: d["masking"]["policies"][0]["attach"][0].update(priority=30), "masking.policies[0].attach[0].priority",
     "the PUBLIC attachment on public.sales_data.sku has priority 30, not below every role attachment's on that "
     "column (lowest: 20)"),
    (lambda d: d["masking"]["policies"][0]["attach"][0].update(priority=20), "masking.policies[1].attach[0].priority",
     "priority 20 on public.sales_data.sku is already used by masking policy 'mask_sku'"),
])
def test_public_where_redshift_refuses_it(change: Any, field: str, expected: str) -> None:
    data = with_public(DEMO)
    data.setdefault("role_grants", [])
    change(data)
    with pytest.raises(ConfigError) as error:
        compiled(data)
    assert f"{SOURCE}: {field}: {expected}" in str(error.value)


def test_a_role_named_public_in_the_catalog_is_not_public() -> None:
    """Redshift folds names: a catalog row of identity type 'role' is a role, whatever its name."""
    rows = svv_rows(AccessState.of([Role("publicity"), TablePrivilege("s", "t", "SELECT", "publicity")]),
                    user="admin", superuser=True, secadmin=True)
    state = parse_snapshot(rows).state
    assert [i.grantee for i in state if isinstance(i, TablePrivilege)] == ["publicity"]
    assert not any(isinstance(i, MaskingAttachment) for i in state)

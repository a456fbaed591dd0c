"""The access model file: validation errors name file and field; the demo reproduces seeds 001 and 002."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc.access.model import ACCESS_DIR, load_model, load_scripts, parse_model
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.review.plan_report import offline_plan
from redshift_idc.runtime.access_state import AccessState, RlsAttachment, RlsPolicy, Role, SystemPrivilege
from redshift_idc.runtime.planner import plan, render

DEMO_ENV = load_environment("demo")
DEMO: dict[str, Any] = yaml.safe_load((ACCESS_DIR / "demo.yaml").read_text())
SOURCE = Path("access/test.yaml")


def compile_with(change: Any) -> AccessState:
    data = copy.deepcopy(DEMO)
    change(data)
    return parse_model(data, name="test", source=SOURCE, environment=DEMO_ENV).desired


def error_of(change: Any) -> str:
    with pytest.raises(ConfigError) as error:
        compile_with(change)
    message = str(error.value)
    assert message.startswith(str(SOURCE)), message
    return message


def test_demo_compiles_with_its_environment() -> None:
    compiled = load_model("demo", DEMO_ENV)
    model, state = compiled.model, compiled.desired
    roles = sorted(r.name for r in state if isinstance(r, Role))
    assert roles == ["AWSIDC:amer-sales", "AWSIDC:apac-sales", "AWSIDC:awssso-finance", "AWSIDC:awssso-sales",
                     "AWSIDC:emea-sales", "AWSIDC:exec-global"]
    assert [s["Name"] for s in load_scripts(model)] == ["demo/001_sales_data.sql",
                                                        "demo/002_sales_and_finance_schemas.sql"]


@pytest.mark.parametrize(("change", "field", "expected"), [
    (lambda d: d["table_grants"][0].update(to=["amer-sales", "amer-sale"]), "table_grants[0].to[1]",
     "unknown role 'amer-sale'"),
    (lambda d: d["rls"]["policies"][0]["attach"][0].update(to=["nobody"]), "rls.policies[0].attach[0].to[0]",
     "unknown role 'nobody'"),
    (lambda d: d["rls"]["policies"][0]["attach"][0].update(table="public.sales"), "rls.policies[0].attach[0].table",
     "unknown table 'public.sales'"),
    (lambda d: d["rls"]["policies"][0].update(using="region LIKE 'Europe%'"), "rls.policies[0].using",
     "column(s) region not declared in WITH"),
    (lambda d: d["rls"]["policies"][0].update(using="timezone LIKE 'Europe\\%'"), "rls.policies[0].using",
     "backslash"),
    (lambda d: d["rls"]["policies"][0].update(using="timezone = 'x'; DROP TABLE t"), "rls.policies[0].using",
     "';' is not allowed"),
    (lambda d: d["rls"]["policies"][0].update(using="timezone IN (SELECT tz FROM t)"), "rls.policies[0].using",
     "a lookup subquery reads one table named schema.table"),
    (lambda d: d["rls"]["policies"][1].update(name="EU_Region_Filter"), "rls.policies[1].name",
     "duplicate RLS policy"),
    (lambda d: d["rls"]["policies"][0]["with"].update(timezone="VARCHAR(50); --"), "rls.policies[0].with.timezone",
     "not a plain SQL type"),
    (lambda d: d["roles"]["idc_groups"].append("finance-team"), "roles.idc_groups[6]",
     "not among the groups the environment assigns"),
    (lambda d: d["roles"].update(plain=["reporting", "Reporting"]), "roles.plain[1]", "declared twice"),
    (lambda d: d["roles"].update(plain=["AMER-SALES"]), "roles.plain[0]", "declared twice"),  # = an IdC group
    (lambda d: d["roles"].update(plain=["sys:admin"]), "roles.plain[0]", "contains ':'"),
    (lambda d: d["roles"].update(plain=["é" * 64]), "roles.plain[0]",
     "128 bytes of UTF-8; Redshift allows at most 127"),
    (lambda d: d["roles"].update(plain=["tab\there"]), "roles.plain[0]", "U+0009"),
    (lambda d: d["table_grants"][0].update(tables=["sales_data"]), "table_grants[0].tables[0]",
     "not schema-qualified"),
    (lambda d: d.update(role_grants=[{"grant": "amer-sales", "to": ["emea-sales"]},
                                     {"grant": "emea-sales", "to": ["amer-sales"]}]), "role_grants", "cycle"),
])
def test_bad_references_name_the_field(change: Any, field: str, expected: str) -> None:
    message = error_of(change)
    assert f"{field}:" in message and expected in message, message


def test_of_several_bad_references_the_earliest_object_kind_is_reported() -> None:
    """The compiler runs one object kind after another; a model with several errors names the same one first
    (grants before RLS), whichever order the file lists them in."""
    def two_errors(d: dict[str, Any]) -> None:
        d["rls"]["policies"][0]["attach"][0].update(to=["nobody-rls"])
        d["table_grants"][0].update(to=["nobody-grant"])
    message = error_of(two_errors)
    assert "table_grants[0].to[0]: unknown role 'nobody-grant'" in message and "nobody-rls" not in message, message


def test_schema_errors_name_the_field_and_suggest_a_fix() -> None:
    message = error_of(lambda d: d.update(tabel_grants=[]))
    assert "tabel_grants: unknown key; did you mean 'table_grants'?" in message
    message = error_of(lambda d: d["rls"]["policies"][0].update(atach=[]))
    assert "rls.policies[0].atach: unknown key; did you mean 'attach'?" in message
    message = error_of(lambda d: d["table_grants"][0].update(privileges=["SELEKT"]))
    assert "table_grants[0].privileges[0]" in message


def test_masking_priorities_must_differ_per_column() -> None:
    def add_masking(d: dict[str, Any]) -> None:
        d["masking"] = {"policies": [
            {"name": "mask_a", "with": {"sku": "VARCHAR(50)"}, "using": "'X'::VARCHAR(50)",
             "attach": [{"table": "public.sales_data", "columns": ["sku"], "to": "amer-sales", "priority": 5}]},
            {"name": "mask_b", "with": {"sku": "VARCHAR(50)"}, "using": "'Y'::VARCHAR(50)",
             "attach": [{"table": "public.sales_data", "columns": ["sku"], "to": "emea-sales", "priority": 5}]},
        ]}
    message = error_of(add_masking)
    assert "masking.policies[1].attach[0].priority: priority 5 on public.sales_data.sku is already used" in message


def _normalize(sql: str) -> str:
    """Equivalence up to quoting, whitespace, the optional TABLE keyword and the implied public schema."""
    text = " ".join(sql.replace('"', "").split()).rstrip(";").lower()
    text = re.sub(r"\bon (table )?(public\.)?sales_data\b", "on sales_data", text)
    text = re.sub(r"^alter table (public\.)?sales_data", "alter table sales_data", text)
    return re.sub(r" conjunction type and$", "", text)  # AND is Redshift's default conjunction


SEED_002 = """
CREATE ROLE "AWSIDC:amer-sales";
CREATE ROLE "AWSIDC:emea-sales";
CREATE ROLE "AWSIDC:apac-sales";
CREATE ROLE "AWSIDC:exec-global";
CREATE RLS POLICY eu_region_filter WITH (timezone VARCHAR(50)) USING (timezone LIKE 'Europe%');
CREATE RLS POLICY apac_region_filter WITH (timezone VARCHAR(50)) USING (timezone LIKE 'Asia%');
CREATE RLS POLICY amer_region_filter WITH (timezone VARCHAR(50)) USING (timezone LIKE 'America%');
ATTACH RLS POLICY eu_region_filter ON sales_data TO ROLE "AWSIDC:emea-sales";
ATTACH RLS POLICY apac_region_filter ON sales_data TO ROLE "AWSIDC:apac-sales";
ATTACH RLS POLICY amer_region_filter ON sales_data TO ROLE "AWSIDC:amer-sales";
ALTER TABLE public.sales_data ROW LEVEL SECURITY ON;
GRANT IGNORE RLS TO ROLE "AWSIDC:exec-global";
"""


def test_demo_sql_contains_every_seed_002_statement() -> None:
    state = load_model("demo", DEMO_ENV).desired
    rendered = {_normalize(s) for s in plan(state, AccessState()).sql}
    for statement in filter(None, (s.strip() for s in SEED_002.split(";"))):
        assert _normalize(statement) in rendered, statement


def test_demo_orders_seed_002_as_redshift_needs() -> None:
    state = load_model("demo", DEMO_ENV).desired
    sql = plan(state, AccessState()).sql
    first_attach = min(i for i, s in enumerate(sql) if s.startswith("ATTACH RLS POLICY"))
    rls_on = next(i for i, s in enumerate(sql) if "ROW LEVEL SECURITY ON" in s)
    assert max(i for i, s in enumerate(sql) if s.startswith("CREATE ROLE")) < first_attach < rls_on
    assert max(i for i, s in enumerate(sql) if s.startswith("ATTACH RLS POLICY")) < rls_on
    assert sum(isinstance(o, RlsPolicy) for o in state) == 3
    assert sum(isinstance(o, RlsAttachment) for o in state) == 3
    assert [o.grantee for o in state if isinstance(o, SystemPrivilege)] == ["AWSIDC:exec-global"]


def test_demo_adds_seed_001_and_the_missing_select() -> None:
    sql = render(plan(load_model("demo", DEMO_ENV).desired, AccessState()))
    assert 'GRANT USAGE ON SCHEMA "sales_schema" TO ROLE "AWSIDC:awssso-sales";' in sql
    assert 'GRANT SELECT FOR TABLES IN SCHEMA "finance_schema" TO ROLE "AWSIDC:awssso-finance";' in sql
    for group in ("amer-sales", "emea-sales", "apac-sales", "exec-global"):
        assert f'GRANT SELECT ON TABLE "public"."sales_data" TO ROLE "AWSIDC:{group}";' in sql


def test_offline_plan_prints_scripts_then_phases() -> None:
    text = offline_plan(DEMO_ENV)
    assert text.index("-- script demo/001_sales_data.sql") < text.index("-- create roles")
    # The policies exist, are attached and RLS is on (one transaction) before anyone is granted the table.
    assert text.index("-- create RLS policies") < text.index("-- restriction changes")
    assert text.index("ROW LEVEL SECURITY ON") < text.index("-- grant table privileges")
    assert text.rstrip("\n").splitlines()[-1].startswith("-- transition: no intermediate state widens access")
    assert text == offline_plan(DEMO_ENV)  # deterministic


@pytest.mark.parametrize("literal", ["Americas  Test", "Americas\tTest", "Americas\u00a0Test", "Ame\nricas"])
def test_a_policy_literal_is_planned_byte_for_byte(literal: str) -> None:
    """Whitespace between tokens is folded to one space; inside a literal it is part of the value."""
    using = f"timezone   <>\n  '{literal}'"
    state = compile_with(lambda d: d["rls"]["policies"][0].update(using=using))
    planned = plan(state, AccessState(), {})
    name = DEMO["rls"]["policies"][0]["name"]
    create = next(s.sql for s in planned.statements if s.sql.startswith(f'CREATE RLS POLICY "{name}"'))
    assert create.endswith(f"USING (timezone <> '{literal}')"), create
    single = compile_with(lambda d: d["rls"]["policies"][0].update(using="timezone <> 'Americas Test'"))
    fingerprints = {p.fingerprint() for s in (state, single) for p in s if isinstance(p, RlsPolicy) and p.name == name}
    assert len(fingerprints) == 2  # a changed literal is a changed policy: the next deploy alters it

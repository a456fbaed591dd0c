"""Importing a lookup-table RLS policy (`region IN (SELECT region FROM security.entitlements WHERE ...)`, the one
subquery form a model writes): its stored text decoded, its lookup table declared under `tables` with the
columns the snapshot reads for it, its lookup grant adopted with it, and the round trip through the CLI:
`snapshot` -> `import` (exit 0) -> `plan --snapshot` (0 statements, objects adopted only).

What Redshift stores inside a lookup subquery is not documented (r_SVV_RLS_POLICY and r_SHOW_POLICIES show
predicates without one): the forms below are the ones `runtime/stored_lookups.py` reads, each marked assumed.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest
import yaml

from redshift_idc import project
from redshift_idc.access.checked import checked_model
from redshift_idc.cli.main import main
from redshift_idc.config.environment import load_environment
from redshift_idc.deployed.snapshot import load_snapshot, lookup_tables, snapshot_command
from redshift_idc.runtime.access_state import AccessState, RlsLookupGrant, RlsPolicy
from redshift_idc.runtime.catalog_import import decode_stored_predicate, rls_definition
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.stored_lookups import lookup_tables as stored_lookup_tables
from redshift_idc.runtime.stored_lookups import segments, strip_lookup_qualifiers
from tests.fake_catalog import CatalogDataApi
from tests.fake_data_api import SimClock
from tests.fake_redshift import FakeRedshift, stored_predicate

ROOT = Path(__file__).resolve().parents[1]
ENV = "sample-lakehouse"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:666666666666:secret:lakehouse-admin-AbCdEf"
COLUMNS = {("public", "orders"): ["order_id", "region", "customer_email", "amount"],
           ("security", "entitlements"): ["user_name", "region"]}
USING = "region IN (SELECT region FROM security.entitlements WHERE user_name = current_user)"
# r_SVV_RLS_POLICY (documented): the policy's WITH columns qualified with its alias (`"t"."c"`); inside the
# subquery, names as written (assumed: no documented example holds a subquery).
STORED = '"rls_table"."region" IN (SELECT region FROM security.entitlements WHERE user_name = current_user)'
DECODED = '"region" IN (SELECT region FROM security.entitlements WHERE user_name = current_user)'


# --- the stored text ------------------------------------------------------------------------------------------


def test_the_fake_stores_a_lookup_subquery_without_the_policy_alias_inside() -> None:
    """A bare name inside the subquery is the lookup table's column: qualifying it with the policy's alias (what
    the fake did) would make it the outer row's column, which no faithful stored form does."""
    assert stored_predicate(USING, ["region"]) == STORED


@pytest.mark.parametrize("stored", [
    STORED,
    # the lookup table and its columns quoted or qualified with its name (assumed forms, read the same way)
    '"rls_table"."region" IN (SELECT "entitlements"."region" FROM "security"."entitlements" '
    'WHERE "entitlements"."user_name" = current_user)',
    '"rls_table"."region" IN (SELECT security.entitlements.region FROM security.entitlements '
    'WHERE security.entitlements.user_name = current_user)',
])
def test_a_stored_lookup_predicate_decodes_to_the_lookup_form(stored: str) -> None:
    decoded = decode_stored_predicate(stored, "rls_table", ["region"])
    assert decoded.replace('"', "") == DECODED.replace('"', "")
    assert stored_lookup_tables(stored) == [("security", "entitlements")]


def test_the_alias_inside_a_subquery_is_kept_and_literals_are_unwrapped_everywhere() -> None:
    """A `"t".` inside the subquery would be a correlated reference to the outer row: kept (the model's checks
    then refuse it), never silently turned into the lookup table's column."""
    stored = ('"t"."region" IN (SELECT region FROM s.e WHERE user_name = CAST(\'x\' AS TEXT) '
              'AND "t"."region" = CAST(\'EU\' AS TEXT))')
    assert decode_stored_predicate(stored, "t", ["region"]) == (
        '"region" IN (SELECT region FROM s.e WHERE user_name = \'x\' AND "t"."region" = \'EU\')')


def test_segments_keep_the_text_byte_for_byte_and_skip_literals() -> None:
    stored = "\"t\".\"a\" = '(SELECT x FROM s.t)' OR \"t\".\"b\" IN ( select y FROM \"S\".\"T ) x\" )"
    pieces = segments(stored)
    assert "".join(p.text for p in pieces) == stored
    assert [(p.lookup, p.table) for p in pieces] == [(False, None), (True, ("S", "T ) x")), (False, None)]


def test_the_from_clause_is_never_stripped() -> None:
    assert strip_lookup_qualifiers("SELECT x.a FROM x.x WHERE x.b = 1", ("x", "x")) == "SELECT a FROM x.x WHERE b = 1"


@pytest.mark.parametrize(("stored", "decoded"), [
    (STORED, DECODED),
    ('"rls_table"."region" IN (SELECT "entitlements"."region" FROM security.entitlements '
     'WHERE "entitlements"."user_name" = current_user)',
     '"region" IN (SELECT "region" FROM security.entitlements WHERE "user_name" = current_user)'),
    # the fake's earlier form: the alias inside the subquery stays (a correlated reference the model refuses)
    ('"rls_table"."region" IN (SELECT "rls_table"."region" FROM security.entitlements WHERE user_name = current_user)',
     '"region" IN (SELECT "rls_table"."region" FROM security.entitlements WHERE user_name = current_user)'),
])
def test_a_policy_row_with_a_lookup_reads_as_the_lookup_policy(stored: str, decoded: str) -> None:
    policy = rls_definition(("orders_by_entitlement", "rls_table",
                             '[{"colname":"region","type":"character varying(16)"}]', stored))
    assert policy == RlsPolicy("orders_by_entitlement", (("region", "character varying(16)"),), decoded)


# --- the lookup grant -----------------------------------------------------------------------------------------


def _lookup_state(using: str) -> tuple[AccessState, AccessState]:
    policy = RlsPolicy("p", (("region", "character varying(16)"),), using)
    grant = RlsLookupGrant("security", "entitlements", "p")
    return AccessState.of([policy, grant]), AccessState.of([policy])


def test_a_lookup_grant_is_adopted_with_the_verified_policy_it_came_with() -> None:
    """No view shows grants to a policy; CREATE RLS POLICY grants SELECT on its lookup table (r_CREATE_RLS_POLICY).
    A policy adopted because the catalog's definition is the model's brings its grant along: no DDL."""
    desired, current = _lookup_state(DECODED)
    planned = plan(desired, current, {}, definitions=AccessState.of(
        [RlsPolicy("p", (("region", "character varying(16)"),), DECODED)]))
    assert planned.statements == []
    assert {e.kind for e in planned.adopt} == {RlsPolicy.KIND, RlsLookupGrant.KIND}


@pytest.mark.parametrize("catalog_using", [None, "region IN (SELECT region FROM security.other)"])
def test_a_lookup_grant_is_granted_when_the_catalog_does_not_vouch_for_the_policy(catalog_using: str | None) -> None:
    """Without the catalog's definition, or with another one (the policy is rebuilt), the grant is issued."""
    desired, current = _lookup_state(DECODED)
    definitions = AccessState.of([RlsPolicy("p", (("region", "character varying(16)"),), catalog_using)]
                                 ) if catalog_using else None
    planned = plan(desired, current, {}, definitions=definitions)
    assert 'GRANT SELECT ON TABLE "security"."entitlements" TO RLS POLICY "p"' in [s.sql for s in planned.statements]


# --- the CLI round trip ---------------------------------------------------------------------------------------


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project whose sample-lakehouse environment names no access model yet."""
    for folder in ("config", "access", "sql"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.setattr(project, "ROOT", tmp_path)
    return tmp_path


def set_model(root: Path, name: str | None) -> None:
    path = root / "config" / f"{ENV}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["access_model"] = name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def hand_made_lakehouse() -> FakeRedshift:
    """The sample-lakehouse model's objects, made by hand (its plan's statements run one by one, no ledger): the
    lookup-table policy and its grant, masking, the external schema and the datashare database."""
    desired = checked_model(load_environment(ENV)).desired
    fake = FakeRedshift()
    fake.execute('CREATE SCHEMA IF NOT EXISTS "security"')
    for statement in plan(desired, fake.state(), {}).statements:
        fake.execute(statement.sql)
    assert fake.lookup_grants == {("security", "entitlements", "orders_by_entitlement")}
    return fake


def test_the_snapshot_reads_the_columns_of_lookup_tables(root: Path) -> None:
    snapshot = root / "catalog.json"
    clock = SimClock()
    code = snapshot_command(ENV, SECRET_ARN, None, snapshot, client=CatalogDataApi(
        hand_made_lakehouse(), clock, columns=COLUMNS), sleep=clock.sleep, out=io.StringIO(), err=io.StringIO())
    assert code == 0
    read = load_snapshot(snapshot)
    assert lookup_tables(read.rows) == [("security", "entitlements")]
    assert read.columns()[("security", "entitlements")] == ["user_name", "region"]


def test_import_writes_a_lookup_policy_that_plans_to_no_ddl_through_the_cli(root: Path) -> None:
    warehouse = hand_made_lakehouse()
    set_model(root, None)  # an existing warehouse no model manages yet
    snapshot = root / "catalog.json"
    clock = SimClock()
    code = snapshot_command(ENV, SECRET_ARN, None, snapshot, client=CatalogDataApi(
        warehouse, clock, columns=COLUMNS), sleep=clock.sleep, out=io.StringIO(), err=io.StringIO())
    assert code == 0

    model = root / "access" / "imported.yaml"
    code, out, err = cli("import", "--env", ENV, "--from-snapshot", str(snapshot), "--out", str(model))
    assert code == 0, err
    assert "needs work" not in err
    # What the model cannot hold yet is left out, said as warnings only.
    assert "warning: 1 external_schema object(s) are left out" in err
    assert "warning: 1 external_database object(s) are left out" in err
    data = yaml.safe_load(model.read_text(encoding="utf-8"))
    assert data["tables"]["security.entitlements"] == ["user_name", "region"]  # svv_columns, table order
    [policy] = data["rls"]["policies"]
    assert policy["using"] == DECODED and policy["with"] == {"region": "character varying(16)"}
    assert "runs no DDL and records" in out

    set_model(root, "imported")
    code, out, err = cli("plan", "--env", ENV, "--snapshot", str(snapshot))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line for line in lines if not line.startswith("-- ")] == []  # no SQL at all
    assert any(line.startswith("-- against the snapshot: 0 statement(s)") for line in lines), out

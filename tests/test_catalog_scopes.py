"""Issue 21, contradictions 2 and 3: what the catalog reader takes from views that hold more than this database's
grants on the database itself.

- SVV_DATABASE_PRIVILEGES mixes scopes: `privilege_scope` is DATABASE, SCHEMAS, TABLES, FUNCTIONS or LANGUAGES
  (AWS r_SVV_DATABASE_PRIVILEGES, t_scoped-permissions). Only DATABASE rows are grants ON DATABASE; a scoped grant
  (`GRANT USAGE FOR SCHEMAS IN DATABASE d`) is not the model's and is left as it is, and a departed user's is
  revoked with the scoped form (`REVOKE ... FOR SCHEMAS IN DATABASE d FROM ...`, r_REVOKE).
- SVV_RLS_POLICY and SVV_MASKING_POLICY list the policies of every database, with `poldb` / `policy_database`
  (r_SVV_RLS_POLICY, r_SVV_MASKING_POLICY). Other databases' policies stay out of the model's view; a model policy
  whose name another database's policy uses is refused, naming both. Snapshots of earlier versions (no database
  column, no current_database row) read as before.

Rows copied from an AWS page carry the page's name beside them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from redshift_idc import project
from redshift_idc.access.importer.command import WRITTEN
from redshift_idc.deployed.snapshot import load_snapshot
from redshift_idc.runtime.access_state import (
    AccessState,
    DatabasePrivilege,
    ExternalDatabase,
    IdentityProvider,
    RlsAttachment,
    RlsPolicy,
    Role,
)
from redshift_idc.runtime.catalog import other_database_policy_problem, parse_snapshot, read_queries
from redshift_idc.runtime.catalog_import import definitions, stored_texts
from redshift_idc.runtime.catalog_rows import current_database, current_database_rows
from redshift_idc.runtime.idc_directory import Verdict
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.reconcile_handler import model_document
from redshift_idc.runtime.users import DeprovisionSettings, departures, parse_users, user_queries
from tests.fake_data_api import FakeDataApi, ProviderDriver, SimClock, cfn_event, fake_rows, resource_properties
from tests.fake_redshift import FakeRedshift
from tests.sample_snapshots import SNAPSHOT
from tests.test_import_model import (  # root: the fixture, a copy of the project (in tmp_path) with environment adopt
    compiled,
    hand_made,
    root,  # noqa: F401
    run_import,
    take_snapshot,
)

ARN = "arn:aws:redshift:us-east-1:123456789012:datashare:0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d/finance"


def read(fake: FakeRedshift, **extra: Any) -> dict[str, Any]:
    """The reconciler's read batch as the fake answers it (SVV rows, definitions, and `extra`)."""
    return {**fake_rows(fake, case_sensitive=False, user="admin", superuser=True, secadmin=True),
            **fake.definition_rows(), **extra}


def planned_sql(fake: FakeRedshift, desired: AccessState, *, prune: bool = False) -> list[str]:
    snapshot = parse_snapshot(read(fake))
    return [s.sql for s in plan(desired, snapshot.state, snapshot.ledger, prune=prune,
                                definitions=snapshot.definitions, stored=snapshot.stored_hashes()).statements]


# ------------------------------------------------------------------------ SVV_DATABASE_PRIVILEGES scopes


def test_only_database_scope_rows_are_grants_on_the_database() -> None:
    # r_SVV_DATABASE_PRIVILEGES, sample query (its role and public rows; the read asks for no user's): the
    # sample selects no privilege_scope, these are grants ON DATABASE, so DATABASE (the page's first value).
    documented = [("test_db", "CREATE", "role1", "role", "DATABASE"),
                  ("test_db", "TEMP", "public", "public", "DATABASE"),
                  ("test_db", "TEMP", "role1", "role", "DATABASE")]
    # A scoped grant, GRANT USAGE FOR SCHEMAS IN DATABASE test_db TO ROLE role1 (t_scoped-permissions: the view
    # shows its scope; "for privilege_scope values other than database, ... any permission type of the scope").
    scoped = [("test_db", "USAGE", "role1", "role", "SCHEMAS"), ("test_db", "SELECT", "role1", "role", "TABLES")]
    snapshot = parse_snapshot({"roles": [("role1",)], "database_privileges": documented + scoped})
    assert set(snapshot.state.of_kind(DatabasePrivilege.KIND)) == {
        ("test_db", "CREATE", "role1"), ("test_db", "TEMP", "public"), ("test_db", "TEMP", "role1")}
    assert snapshot.warnings == [
        f"{p} FOR {s} IN DATABASE test_db to role role1: a scoped grant, which access models do not manage; left as "
        "it is" for _, p, _, _, s in scoped]


def test_a_snapshot_row_without_the_scope_is_a_grant_on_the_database() -> None:
    """Snapshots of earlier versions read four columns: every row was a grant ON DATABASE to them."""
    snapshot = parse_snapshot({"roles": [("role1",)], "database_privileges": [("test_db", "CREATE", "role1", "role")]})
    assert set(snapshot.state.of_kind(DatabasePrivilege.KIND)) == {("test_db", "CREATE", "role1")}


def datashare_warehouse() -> FakeRedshift:
    fake = FakeRedshift()
    fake.execute(f"CREATE DATABASE \"shared_finance\" FROM ARN '{ARN}' WITH NO DATA CATALOG SCHEMA")
    fake.execute('CREATE ROLE "analysts"')
    fake.execute('GRANT USAGE FOR SCHEMAS IN DATABASE "shared_finance" TO ROLE "analysts"')
    return fake


def test_a_scoped_usage_does_not_stand_for_the_datashare_usage_the_model_declares() -> None:
    fake = datashare_warehouse()
    desired = AccessState.of([Role("analysts"), ExternalDatabase("shared_finance", ARN),
                              DatabasePrivilege("shared_finance", "USAGE", "analysts")])
    sql = planned_sql(fake, desired)
    assert 'GRANT USAGE ON DATABASE "shared_finance" TO ROLE "analysts"' in sql
    for statement in sql:
        if statement.startswith("GRANT "):
            fake.execute(statement)
    assert ("DATABASE", "shared_finance", "USAGE", "analysts") not in fake.view_rows()["database_privileges"]
    assert 'GRANT USAGE ON DATABASE "shared_finance" TO ROLE "analysts"' not in planned_sql(fake, desired)


def test_prune_leaves_a_scoped_database_grant_and_revokes_nothing_else_in_its_place() -> None:
    fake = datashare_warehouse()
    sql = planned_sql(fake, AccessState.of([Role("analysts")]), prune=True)
    assert not [s for s in sql if "shared_finance" in s]  # before: REVOKE USAGE ON DATABASE, the wrong object


NS = "AWSIDC"


def test_a_departed_users_scoped_database_grant_is_revoked_with_the_scoped_form_so_drop_user_succeeds() -> None:
    fake = FakeRedshift()
    fake.sign_in("AWSIDC:bob")
    fake.execute('GRANT USAGE FOR SCHEMAS IN DATABASE "dev" TO "AWSIDC:bob"')
    fake.execute('GRANT EXECUTE FOR FUNCTIONS IN DATABASE "dev" TO "AWSIDC:bob"')
    catalog = parse_snapshot(read(fake, **fake.user_rows(NS)), users_namespace=NS).users
    assert catalog is not None
    assert [g.describe() for g in catalog.grants_of("AWSIDC:bob")] == [
        "EXECUTE for functions in database dev", "USAGE for schemas in database dev"]
    gone = departures(catalog, DeprovisionSettings(NS), [Verdict("AWSIDC:bob", "gone", "left the company")])
    assert not gone.refused
    sql = [s.sql for s in gone.statements]
    assert sql == ['REVOKE EXECUTE FOR FUNCTIONS IN DATABASE "dev" FROM "AWSIDC:bob"',
                   'REVOKE USAGE FOR SCHEMAS IN DATABASE "dev" FROM "AWSIDC:bob"', 'DROP USER "AWSIDC:bob"']
    fake.execute_batch(sql)
    assert "AWSIDC:bob" not in fake.users


def test_the_user_query_reads_the_scope_and_an_unknown_scope_is_refused_by_name() -> None:
    privileges = dict(user_queries(NS))["idc_user_privileges"]
    assert "privilege_scope FROM svv_database_privileges" in privileges
    # A scope the view may grow (COPY JOBS has a scoped REVOKE in r_REVOKE but is not in the view's list): assumed.
    rows: dict[str, list[tuple[Any, ...]]] = {
        "idc_users": [("AWSIDC:bob", False)],
        "idc_user_privileges": [("database", "AWSIDC:bob", "ALTER", "dev", "", "", "COPY JOBS")]}
    gone = departures(parse_users(rows, NS), DeprovisionSettings(NS), [Verdict("AWSIDC:bob", "gone", "left")])
    assert [r.blockers for r in gone.refused] == [("holds ALTER for copy jobs in database dev (revoke it by hand)",)]
    assert not gone.statements


# -------------------------------------------------------------------------- policy views span databases

# r_SVV_RLS_POLICY, sample query (poldb, polname, polalias, polatts, polqual), and one policy of another database.
POL1 = ("pol1", "t", '[{"colname":"a","type":"integer"}]', '"t"."a" IS NOT NULL')
POL2 = ("pol2", "t", '[{"colname":"c","type":"character varying(10)"}]', '"t"."c" LIKE CAST(\'%public%\' AS TEXT)')
ELSEWHERE = ("pol3", "t", '[{"colname":"a","type":"integer"}]', '"t"."a" > 0')


def policy_rows() -> dict[str, list[tuple[Any, ...]]]:
    """The reconciler's read of these policies, connected to my_db (columns in `read_queries`' order: the
    database last)."""
    return {"whoami": [("admin", True, 1, "my_db")],
            "rls_policy_definitions": [(*POL1, "my_db"), (*POL2, "my_db"), (*ELSEWHERE, "sales_db")],
            # r_SVV_MASKING_POLICY (policy_database, policy_name, ...): the page shows no sample, names are ours
            "masking_policy_definitions": [("hide_email", '[{"colname":"email","type":"text"}]', "'***'", "my_db"),
                                           ("hide_ssn", '[{"colname":"ssn","type":"text"}]', "'***'", "sales_db")]}


def with_list_queries(rows: dict[str, Any]) -> dict[str, Any]:
    """`rows` as earlier versions read them: the policies and providers also listed by queries of their own (the
    policies with their database, after the name)."""
    listed = {"rls_policies": [(r[0], *r[4:5]) for r in rows.get("rls_policy_definitions", [])],
              "masking_policies": [(r[0], *r[3:4]) for r in rows.get("masking_policy_definitions", [])],
              "identity_providers": [(r[0], r[1], r[2], r[4]) for r in rows.get("identity_provider_definitions", [])]}
    return {**rows, **{name: value for name, value in listed.items() if value}}


def test_the_read_asks_for_the_database_of_every_policy_and_for_the_current_one() -> None:
    queries = dict(read_queries(LedgerTables(), "m"))
    assert queries["whoami"].startswith("SELECT u.user_name, u.superuser, (SELECT COUNT(*) FROM svv_user_grants g ")
    assert queries["whoami"].endswith(", current_database() FROM svv_user_info u WHERE u.user_name = current_user")
    assert "current_database" not in queries and "secadmin" not in queries  # the reader's row holds both
    assert queries["rls_policy_definitions"].endswith(", poldb FROM svv_rls_policy")
    assert queries["masking_policy_definitions"].endswith(", policy_database FROM svv_masking_policy")
    # One query per view: the definition queries list the policies and providers too (one GetStatementResult each).
    assert {"rls_policies", "masking_policies", "identity_providers"}.isdisjoint(queries)
    assert [sql for sql in queries.values() if "FROM svv_rls_policy" in sql] == [queries["rls_policy_definitions"]]
    assert [sql for sql in queries.values() if "FROM svv_masking_policy" in sql] == [
        queries["masking_policy_definitions"]]
    assert [sql for sql in queries.values() if "FROM svv_identity_providers" in sql] == [
        queries["identity_provider_definitions"]]


def test_the_policies_and_providers_are_listed_by_their_definitions_as_by_the_list_queries_before() -> None:
    rows = {**policy_rows(), "identity_provider_definitions": [
        ("idc", "awsidc", "AWSIDC", '{"iam_role":"arn:aws:iam::111111111111:role/r"}', True, "arn:app"),
        ("azure ad", "azure", "aad", '{"issuer":"https://x", "client_secret":, "client_id":"c"}', "f", "tenant")]}
    snapshot, earlier = parse_snapshot(rows), parse_snapshot(with_list_queries(rows))
    assert set(snapshot.state.of_kind(RlsPolicy.KIND)) == {("pol1",), ("pol2",)}
    assert set(snapshot.state.of_kind("masking_policy")) == {("hide_email",)}
    assert set(snapshot.state.of_kind(IdentityProvider.KIND)) == {("idc",), ("azure ad",)}
    assert snapshot.state.get(IdentityProvider.KIND, ("azure ad",)) == IdentityProvider("azure ad", "azure", "aad",
                                                                                          enabled=False)
    assert snapshot.state == earlier.state and snapshot.other_databases == earlier.other_databases
    # A list query of an earlier version is read as it is (it is what that version saw), not rebuilt.
    only_listed = parse_snapshot({**with_list_queries(rows), "rls_policies": [("pol1", "my_db")]})
    assert set(only_listed.state.of_kind(RlsPolicy.KIND)) == {("pol1",)}


def test_other_databases_policies_are_not_in_the_state_the_definitions_nor_the_stored_texts() -> None:
    rows = policy_rows()
    snapshot = parse_snapshot(rows)
    assert set(snapshot.state.of_kind(RlsPolicy.KIND)) == {("pol1",), ("pol2",)}
    assert set(snapshot.state.of_kind("masking_policy")) == {("hide_email",)}
    assert snapshot.other_databases == {("rls_policy", ("pol3",)): ("sales_db",),
                                        ("masking_policy", ("hide_ssn",)): ("sales_db",)}
    assert set(definitions(rows).of_kind(RlsPolicy.KIND)) == {("pol1",), ("pol2",)}
    assert set(stored_texts(rows)) == {("rls_policy", ("pol1",)), ("rls_policy", ("pol2",)),
                                       ("masking_policy", ("hide_email",))}


def test_the_stored_text_hash_is_the_one_earlier_versions_recorded() -> None:
    """Ledgers hold the hash of the policy's four (RLS) or three (masking) cells: the database cell is not hashed,
    so a ledger written before this change still matches and nothing is restored."""
    rows = policy_rows()
    earlier = {"rls_policy_definitions": [POL1, POL2], "masking_policy_definitions": [
        row[:3] for row in rows["masking_policy_definitions"] if row[3] == "my_db"]}
    assert stored_texts(rows) == stored_texts(earlier)


def old_format(rows: dict[str, Any]) -> dict[str, Any]:
    """`rows` as a snapshot of an earlier version holds them: the policies and providers also listed by queries of
    their own, the reader's row without its sys:secadmin count (a query of its own) and with no current database,
    no database column, four columns of database privileges."""
    widths = {"rls_policies": 1, "masking_policies": 1, "rls_policy_definitions": 4, "masking_policy_definitions": 3,
              "database_privileges": 4, "whoami": 2}
    older = {**with_list_queries(rows), "secadmin": [[row[2]] for row in rows["whoami"]]}
    return {name: [list(r)[:widths[name]] if name in widths else list(r) for r in value]
            for name, value in older.items()}


def test_a_snapshot_of_an_earlier_version_still_loads_and_reads_the_same(tmp_path: Path) -> None:
    shipped = project.ROOT / SNAPSHOT
    document = json.loads(shipped.read_text(encoding="utf-8"))
    assert len(document["rows"]["whoami"][0]) == 4 and len(document["rows"]["rls_policy_definitions"][0]) == 5
    assert "current_database" not in document["rows"] and "secadmin" not in document["rows"]
    assert "rls_policies" not in document["rows"] and "identity_providers" not in document["rows"]
    document["rows"] = old_format(document["rows"])
    document["version"] = 1
    assert document["rows"]["rls_policies"] and document["rows"]["identity_providers"]
    older = tmp_path / "older.json"
    older.write_text(json.dumps(document), encoding="utf-8")
    new, old = load_snapshot(shipped), load_snapshot(older)
    assert old.parsed().state == new.parsed().state
    assert old.definitions() == new.definitions()
    assert old.parsed().stored_hashes() == new.parsed().stored_hashes()
    assert (old.parsed().user, old.parsed().superuser, old.parsed().secadmin) == ("admin", True, True)
    assert current_database_rows(old.rows)["rls_policy_definitions"] == old.rows["rls_policy_definitions"]


def test_the_readers_row_holds_its_secadmin_and_its_database_as_the_queries_of_their_own_did() -> None:
    rows = policy_rows()
    earlier = {**{name: value for name, value in rows.items() if name != "whoami"}, "whoami": [("admin", True)],
               "secadmin": [(1,)], "current_database": [("my_db",)]}
    for form in (rows, earlier):
        snapshot = parse_snapshot(form)
        assert (snapshot.user, snapshot.superuser, snapshot.secadmin) == ("admin", True, True)
        assert current_database(form) == "my_db"
        assert set(snapshot.state.of_kind(RlsPolicy.KIND)) == {("pol1",), ("pol2",)}  # pol3 is sales_db's
    plain = parse_snapshot({**rows, "whoami": [("analyst", False, 0, "my_db")]})
    assert (plain.user, plain.superuser, plain.secadmin) == ("analyst", False, False)
    assert current_database({**rows, "whoami": [("admin", True, 1, "sales_db")]}) == "sales_db"
    unknown = parse_snapshot({name: value for name, value in rows.items() if name != "whoami"})
    assert (unknown.user, unknown.superuser, unknown.secadmin) == ("", False, False)


def test_prune_leaves_another_databases_policy_alone() -> None:
    fake = FakeRedshift()
    fake.create_policy_in("sales_db", "RLS", "q", (("a", "integer"),), '"a" > 0')
    sql = planned_sql(fake, AccessState.of([Role("analysts")]), prune=True)
    assert sql == ['CREATE ROLE "analysts"']  # before: DROP RLS POLICY "q", a policy this database does not hold


def test_a_model_policy_named_like_another_databases_is_refused_naming_both() -> None:
    rows = policy_rows()
    desired = AccessState.of([RlsPolicy("POL3", (("a", "integer"),), '"a" > 1'),
                              RlsPolicy("pol1", (("a", "integer"),), '"a" IS NOT NULL')])
    problem = other_database_policy_problem(desired, parse_snapshot(rows))
    assert problem.startswith('RLS policy "POL3" has the name of the RLS policy of database(s) \'sales_db\'. ')
    assert "rename the model's policy (or the other database's)" in problem
    assert other_database_policy_problem(AccessState.of([RlsPolicy("pol1")]), parse_snapshot(rows)) == ""


def test_a_deploy_declaring_another_databases_policy_name_is_refused_before_any_change() -> None:
    """Before: the other database's policy counted as present, so it was not created and ATTACH failed."""
    fake = FakeRedshift()
    fake.create_policy_in("sales_db", "RLS", "region_filter", (("region", "varchar(10)"),), "\"region\" = 'eu'")
    clock = SimClock()
    driver = ProviderDriver(FakeDataApi(fake, clock, model="sales"), clock)
    desired = AccessState.of([Role("analysts"),
                              RlsPolicy("region_filter", (("region", "varchar(10)"),), "\"region\" = 'us'"),
                              RlsAttachment("region_filter", "sales", "orders", "analysts")])
    properties = resource_properties("sales", workgroup="sales-wg", namespace="sales-ns", model_hash="h1")
    event = cfn_event("Create", properties, request_id="request-001")
    run = driver.run(event, model_document(desired, []).encode("utf-8"), max_invocations=50)
    assert not run.complete
    assert ("access model 'sales': RLS policy \"region_filter\" has the name of the RLS policy of database(s) "
            "'sales_db'") in run.error
    assert fake.state() == FakeRedshift().state()  # no role, no policy, no attachment


@pytest.mark.usefixtures("root")
def test_import_leaves_other_databases_policies_out_and_plans_to_no_ddl(tmp_path: Path) -> None:
    """`snapshot` then `import` on a warehouse whose other database holds policies: the model holds this
    database's only, and the snapshot plans it to no DDL."""
    fake = hand_made()
    fake.create_policy_in("sales_db", "RLS", "elsewhere_rls", (("a", "integer"),), '"a" > 0')
    fake.create_policy_in("sales_db", "MASKING", "elsewhere_mask", (("e", "text"),), "'***'")
    snapshot_path = tmp_path / "catalog.json"
    result, _ = take_snapshot(fake, snapshot_path)
    assert (result.code, result.err) == (0, "")
    model_path = tmp_path / "access" / "imported.yaml"
    assert run_import(snapshot_path, model_path).code == WRITTEN
    assert "elsewhere" not in model_path.read_text(encoding="utf-8")
    snapshot = load_snapshot(snapshot_path)
    assert any(row[-1] == "sales_db" for row in snapshot.rows["rls_policy_definitions"])  # recorded as read
    model, desired = compiled(model_path)
    planned = plan(desired, snapshot.parsed().state, snapshot.ledger_for("imported"), prune=model.prune,
                   definitions=snapshot.definitions())
    assert planned.statements == []
    assert other_database_policy_problem(desired, snapshot.parsed()) == ""

"""Default privileges as access-model entries (issue 23, item 2): `default_privileges:` validated, compiled, planned
(`ALTER DEFAULT PRIVILEGES FOR USER ... GRANT | REVOKE`), read back from SVV_DEFAULT_PRIVILEGES, never pruned unless
the model set them, imported and drifted.

The warehouse is `tests/fake_redshift.py` (a user must exist for FOR USER, a role for TO ROLE; DROP ROLE is refused
while a default privilege names the role: REDSHIFT_REFERENCE.md 9 question 11, the conservative reading).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc.access.importer.command import WRITTEN
from redshift_idc.access.model import parse_model
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.deployed.snapshot import load_snapshot
from redshift_idc.review.plan_report import snapshot_plan
from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessState,
    DefaultPrivilege,
    LedgerEntry,
    Role,
    recorded_fingerprint,
)
from redshift_idc.runtime.catalog import DEFAULT_PRIVILEGES_QUERY, default_privilege, parse_snapshot
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.object_sql import create_sql, remove_sql
from redshift_idc.runtime.planning.ownership import OwnershipError
from redshift_idc.runtime.planning.phases import GRANT_PHASE, REVOKE_PHASE
from redshift_idc.runtime.planning.plan_types import Plan
from tests.fake_data_api import svv_rows
from tests.fake_redshift import FakeRedshift, RedshiftError, differences
from tests.test_import_model import ENV, compiled, root, run_import, take_snapshot

__all__ = ["root"]  # the fixture, used by name

MODEL = "dp"
SOURCE = Path("access/dp.yaml")
LOADER, DBT = "loader", "dbt"
BASE = """
tables: {sales.orders: [id, amount]}
roles: {plain: [readers, writers]}
"""


def model_of(entries: str, base: str = BASE) -> AccessState:
    """The desired state of a model with `entries` (YAML lines) under `default_privileges:`."""
    data = yaml.safe_load(base + "default_privileges:\n" + entries)  # YAML 1.1, as the loader reads it
    return parse_model(data, name=MODEL, source=SOURCE).desired


def defaults(state: AccessState) -> list[tuple[str, ...]]:
    return sorted(state.of_kind(DefaultPrivilege.KIND))


def error_of(entries: str, base: str = BASE) -> str:
    with pytest.raises(ConfigError) as error:
        model_of(entries, base)
    return str(error.value)


# ------------------------------------------------------------------------------------------ the model entry


def test_an_entry_compiles_to_one_object_per_privilege_and_grantee() -> None:
    desired = model_of(
        "  - {creator: loader, schema: sales, on: tables, privileges: [SELECT, INSERT], to: [readers, PUBLIC]}\n"
        "  - {creator: dbt, on: procedures, privileges: [ALL], to: [writers]}\n"
        "  - {creator: dbt, on: Tables, privileges: [ALL], to: [writers]}\n")
    assert defaults(desired) == [
        (DBT, "", "PROCEDURES", "EXECUTE", "writers"),
        *((DBT, "", "TABLES", p, "writers")  # ALL written out: the catalog lists one row per privilege, never ALL
          for p in sorted(("SELECT", "INSERT", "UPDATE", "DELETE", "DROP", "REFERENCES", "TRUNCATE"))),
        (LOADER, "sales", "TABLES", "INSERT", "public"), (LOADER, "sales", "TABLES", "INSERT", "readers"),
        (LOADER, "sales", "TABLES", "SELECT", "public"), (LOADER, "sales", "TABLES", "SELECT", "readers"),
    ]


def test_an_idc_group_role_is_named_as_the_environment_names_it_and_the_creator_keeps_its_case() -> None:
    data = yaml.safe_load("""
roles: {idc_groups: [amer-sales]}
default_privileges:
  - {creator: "AWSIDC:Loader Bot", on: tables, privileges: [SELECT], to: [AMER-SALES]}
""")
    desired = parse_model(data, name=MODEL, source=SOURCE, environment=load_environment("demo")).desired
    [item] = desired.of_kind(DefaultPrivilege.KIND).values()
    assert item == DefaultPrivilege("AWSIDC:Loader Bot", "", "TABLES", "SELECT", "AWSIDC:amer-sales")
    assert create_sql(item) == ('ALTER DEFAULT PRIVILEGES FOR USER "AWSIDC:Loader Bot" GRANT SELECT ON TABLES TO ROLE '
                                '"AWSIDC:amer-sales"')


@pytest.mark.parametrize(("entry", "expected"), [
    ("{creator: dbt, on: functions, privileges: [SELECT], to: [readers]}",
     "default_privileges[0].privileges[0]: 'SELECT' is not a privilege on functions: write EXECUTE or ALL"),
    ("{creator: dbt, on: tables, privileges: [EXECUTE], to: [readers]}",
     "default_privileges[0].privileges[0]: 'EXECUTE' is not a privilege on tables: write SELECT, INSERT"),
    ("{creator: dbt, on: views, privileges: [SELECT], to: [readers]}",
     "default_privileges[0].on: 'views' is not one of tables, functions, procedures"),
    ("{creator: dbt, on: tables, privileges: [SELEC], to: [readers]}", "did you mean 'SELECT'?"),
    ("{creator: dbt, privileges: [SELECT], to: [readers]}", "default_privileges[0].on: required, but not set"),
    ("{creator: dbt, on: tables, privileges: [], to: [readers]}", "default_privileges[0].privileges"),
    ("{creator: dbt, on: tables, privileges: [SELECT], to: [reader]}",
     "default_privileges[0].to[0]: unknown role 'reader'; declare it under roles.idc_groups or roles.plain"),
    ("{creator: dbt, schema: salse, on: tables, privileges: [SELECT], to: [readers]}",
     "default_privileges[0].schema: unknown schema 'salse'; did you mean 'sales'?"),
    ("{creator: readers, on: tables, privileges: [SELECT], to: [writers]}",
     "default_privileges[0].creator: 'readers' is a role of the model; the creator is the database user"),
    ("{creator: public, on: tables, privileges: [SELECT], to: [writers]}",
     "default_privileges[0].creator: 'public' is PUBLIC; the creator is the database user"),
    ("{creator: \"a\\tb\", on: tables, privileges: [SELECT], to: [writers]}",
     "default_privileges[0].creator: user name 'a\\tb' contains the character U+0009"),
    ("{creator: dbt, on: functions, privileges: [EXECUTE], to: [readers, PUBLIC]}",
     "default_privileges[0].to[1]: PUBLIC has EXECUTE on every new function by default"),
    ("{creator: dbt, on: tables, objects: x, privileges: [SELECT], to: [readers]}",
     "default_privileges[0].objects: unknown key; allowed keys here: creator, on, privileges, schema, to"),
])
def test_a_bad_entry_names_the_file_the_field_and_the_fix(entry: str, expected: str) -> None:
    message = error_of(f"  - {entry}\n")
    assert message.startswith(str(SOURCE)), message
    assert expected in message, message


# ------------------------------------------------------------------------------------------------ the plan


def warehouse() -> FakeRedshift:
    fake = FakeRedshift()
    fake.sign_in(LOADER)
    fake.sign_in(DBT)
    return fake


def converge(fake: FakeRedshift, desired: AccessState, *, prune: bool = False) -> Plan:
    planned = plan(desired, fake.state(), fake.ledger(MODEL), prune=prune)
    fake.apply(planned, MODEL)
    assert fake.warnings == [], fake.warnings  # no duplicate GRANT, no REVOKE of what is not held
    return planned


def assert_in_sync(fake: FakeRedshift, desired: AccessState) -> None:
    assert differences(fake.state(), desired) == []
    ledger = fake.ledger(MODEL)
    assert {key for kind, key in ledger if kind == DefaultPrivilege.KIND} == set(desired.of_kind(DefaultPrivilege.KIND))
    again = plan(desired, fake.state(), ledger)
    assert again.statements == [] and again.adopt == [] and not again


TWO = ("  - {creator: loader, schema: sales, on: tables, privileges: [SELECT], to: [readers]}\n"
       "  - {creator: dbt, on: functions, privileges: [EXECUTE], to: [writers]}\n")


def test_create_grants_after_the_roles_and_a_second_plan_is_a_no_op() -> None:
    fake = warehouse()
    desired = model_of(TWO)
    planned = converge(fake, desired)
    assert planned.sql == [
        'CREATE ROLE "readers"', 'CREATE ROLE "writers"',
        'ALTER DEFAULT PRIVILEGES FOR USER "dbt" GRANT EXECUTE ON FUNCTIONS TO ROLE "writers"',
        'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales" GRANT SELECT ON TABLES TO ROLE "readers"',
    ]
    assert {s.phase for s in planned.statements if "DEFAULT" in s.sql} == {GRANT_PHASE[DefaultPrivilege.KIND]}
    assert_in_sync(fake, desired)


def test_a_privilege_added_and_one_removed() -> None:
    fake = warehouse()
    converge(fake, model_of(TWO))
    changed = model_of("  - {creator: loader, schema: sales, on: tables, privileges: [INSERT], to: [readers]}\n"
                       "  - {creator: dbt, on: functions, privileges: [EXECUTE], to: [writers]}\n")
    planned = converge(fake, changed)
    assert planned.sql == [
        'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales" REVOKE SELECT ON TABLES FROM ROLE "readers"',
        'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales" GRANT INSERT ON TABLES TO ROLE "readers"',
    ]
    assert [s.phase for s in planned.statements] == [REVOKE_PHASE[DefaultPrivilege.KIND],
                                                     GRANT_PHASE[DefaultPrivilege.KIND]]
    assert_in_sync(fake, changed)


def test_a_grantee_changed_revokes_first_then_grants() -> None:
    fake = warehouse()
    converge(fake, model_of(TWO))
    changed = model_of("  - {creator: loader, schema: sales, on: tables, privileges: [SELECT], to: [writers]}\n"
                       "  - {creator: dbt, on: functions, privileges: [EXECUTE], to: [writers]}\n")
    planned = converge(fake, changed)
    assert planned.sql == [
        'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales" REVOKE SELECT ON TABLES FROM ROLE "readers"',
        'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales" GRANT SELECT ON TABLES TO ROLE "writers"',
    ]
    assert_in_sync(fake, changed)


def test_a_schema_wide_entry_made_database_wide_is_another_entry() -> None:
    fake = warehouse()
    converge(fake, model_of(TWO))
    changed = model_of("  - {creator: loader, on: tables, privileges: [SELECT], to: [readers]}\n"
                       "  - {creator: dbt, on: functions, privileges: [EXECUTE], to: [writers]}\n")
    assert converge(fake, changed).sql == [
        'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales" REVOKE SELECT ON TABLES FROM ROLE "readers"',
        'ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT SELECT ON TABLES TO ROLE "readers"',
    ]
    assert_in_sync(fake, changed)


def test_removing_the_entry_revokes_it_and_removing_its_role_revokes_it_before_drop_role() -> None:
    fake = warehouse()
    converge(fake, model_of(TWO))
    without_entry = model_of("  - {creator: dbt, on: functions, privileges: [EXECUTE], to: [writers]}\n")
    assert converge(fake, without_entry).sql == [
        'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "sales" REVOKE SELECT ON TABLES FROM ROLE "readers"']
    assert_in_sync(fake, without_entry)
    without_role = model_of("  - {creator: loader, on: tables, privileges: [SELECT], to: [readers]}\n",
                            base="tables: {sales.orders: [id]}\nroles: {plain: [readers]}\n")
    planned = converge(fake, without_role)
    assert planned.sql == [
        'ALTER DEFAULT PRIVILEGES FOR USER "dbt" REVOKE EXECUTE ON FUNCTIONS FROM ROLE "writers"',
        'DROP ROLE "writers" FORCE',  # refused by the fake while the default privilege names the role
        'ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT SELECT ON TABLES TO ROLE "readers"',
    ]
    assert_in_sync(fake, without_role)


def test_a_default_privilege_made_by_hand_that_the_model_declares_is_adopted_without_ddl() -> None:
    fake = warehouse()
    fake.execute('CREATE ROLE "readers"')
    fake.execute('CREATE ROLE "writers"')
    desired = model_of(TWO)
    for item in desired.of_kind(DefaultPrivilege.KIND).values():
        fake.execute(create_sql(item))
    planned = converge(fake, desired)
    assert planned.statements == []
    assert sorted(e.key for e in planned.adopt if e.kind == DefaultPrivilege.KIND) == defaults(desired)
    assert_in_sync(fake, desired)


# ------------------------------------------------------------------------------- what the model did not set


def hand_made_defaults(fake: FakeRedshift) -> None:
    """A loader's and dbt's own default privileges, to a role the model declares and to one it does not."""
    fake.execute('CREATE ROLE "etl"')
    fake.execute('ALTER DEFAULT PRIVILEGES FOR USER "dbt" IN SCHEMA "marts" GRANT SELECT ON TABLES TO ROLE "readers"')
    fake.execute('ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT INSERT ON TABLES TO ROLE "etl"')
    fake.execute('ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT SELECT ON TABLES TO PUBLIC')


def test_prune_never_revokes_default_privileges_the_model_did_not_set_and_keeps_the_roles_they_name() -> None:
    fake = warehouse()
    desired = model_of(TWO)
    converge(fake, desired)
    hand_made_defaults(fake)
    before = fake.state()
    planned = plan(desired, before, fake.ledger(MODEL), prune=True)
    assert planned.statements == [], planned.sql  # etl is undeclared, but a default privilege names it
    assert ("role etl is kept: default_privilege INSERT on tables loader creates in the database, for etl names it, a "
            "default privilege this model did not set (1 in all), which no plan revokes; revoke them by hand (ALTER "
            "DEFAULT PRIVILEGES FOR USER ... REVOKE ...) to let the role go") in planned.notes
    assert ("prune leaves 3 default privilege(s) this model did not set (for objects dbt, loader creates): never "
            "revoked, even with prune") in planned.notes
    fake.apply(planned, MODEL)
    assert differences(fake.state(), before) == []


def test_a_role_the_model_drops_is_kept_while_a_default_privilege_it_did_not_set_names_it() -> None:
    fake = warehouse()
    converge(fake, model_of(TWO))
    fake.execute('ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT DELETE ON TABLES TO ROLE "writers"')  # by hand
    without_writers = model_of("  - {creator: loader, schema: sales, on: tables, privileges: [SELECT], to: [readers]}"
                               "\n", base="tables: {sales.orders: [id]}\nroles: {plain: [readers]}\n")
    planned = converge(fake, without_writers, prune=True)
    assert planned.sql == ['ALTER DEFAULT PRIVILEGES FOR USER "dbt" REVOKE EXECUTE ON FUNCTIONS FROM ROLE "writers"']
    assert any(note.startswith("role writers is kept: default_privilege DELETE on tables loader creates")
               for note in planned.notes)
    assert ("role", ("writers",)) in fake.ledger(MODEL)  # still the model's: dropped once the entry is revoked
    fake.execute('ALTER DEFAULT PRIVILEGES FOR USER "loader" REVOKE DELETE ON TABLES FROM ROLE "writers"')
    assert converge(fake, without_writers, prune=True).sql == ['DROP ROLE "writers" FORCE']
    assert_in_sync(fake, without_writers)


def test_another_models_default_privilege_is_never_revoked_and_removing_its_role_refuses_the_plan() -> None:
    fake = warehouse()
    desired = model_of(TWO)
    converge(fake, desired)
    theirs = DefaultPrivilege(LOADER, "", "TABLES", "UPDATE", "writers")
    fake.execute(create_sql(theirs))
    owners = {(theirs.KIND, theirs.key()): "other"}
    kept = plan(desired, fake.state(), fake.ledger(MODEL), prune=True, owners=owners)
    assert kept.statements == [] and kept.others_skipped == 1
    without_writers = model_of("  - {creator: loader, schema: sales, on: tables, privileges: [SELECT], to: [readers]}"
                               "\n", base="tables: {sales.orders: [id]}\nroles: {plain: [readers]}\n")
    taken = r"default_privilege loader\.\.TABLES\.UPDATE\.writers \(access model 'other'"
    with pytest.raises(OwnershipError, match=taken):
        plan(without_writers, fake.state(), fake.ledger(MODEL), owners=owners)


def test_a_ledger_row_of_a_default_privilege_gone_by_hand_is_forgotten_without_ddl() -> None:
    fake = warehouse()
    converge(fake, model_of(TWO))
    fake.execute('ALTER DEFAULT PRIVILEGES FOR USER "dbt" REVOKE EXECUTE ON FUNCTIONS FROM ROLE "writers"')
    only_loader = model_of("  - {creator: loader, schema: sales, on: tables, privileges: [SELECT], to: [readers]}\n")
    planned = plan(only_loader, fake.state(), fake.ledger(MODEL))
    assert planned.statements == []
    gone = DefaultPrivilege(DBT, "", "FUNCTIONS", "EXECUTE", "writers")
    assert planned.forget == [LedgerEntry(gone.KIND, gone.key(), recorded_fingerprint(gone))]


# ------------------------------------------------------------------------------------------- the catalog read


def rows_of(*rows: tuple[Any, ...]) -> dict[str, list[tuple[Any, ...]]]:
    return {"roles": [("readers",)], DEFAULT_PRIVILEGES_QUERY[0]: list(rows)}


def test_the_read_is_one_query_of_the_documented_columns_for_roles_and_public() -> None:
    assert DEFAULT_PRIVILEGES_QUERY == (
        "default_privileges", "SELECT schema_name, object_type, owner_name, privilege_type, grantee_name, grantee_type "
                              "FROM svv_default_privileges WHERE grantee_type IN ('role', 'public')")


@pytest.mark.parametrize("schema", [None, "", "  "], ids=["null", "empty", "blank"])
def test_a_database_wide_row_reads_the_same_whether_its_schema_is_null_or_empty(schema: Any) -> None:
    # REDSHIFT_REFERENCE.md 9 question 2: NULL (netcheck-de reads it so) or '' (netcheck accepts it too)
    state = parse_snapshot(rows_of((schema, "RELATION", "loader", "SELECT", "readers", "role"))).state
    assert defaults(state) == [(LOADER, "", "TABLES", "SELECT", "readers")]


def test_public_is_known_by_its_grantee_type_whatever_its_name_cell_says() -> None:
    for name in ("public", None, "", "PUBLIC"):
        item = default_privilege(("sales", "FUNCTION", "dbt", "EXECUTE", name, "public"))
        assert item == DefaultPrivilege(DBT, "sales", "FUNCTIONS", "EXECUTE", PUBLIC_GRANTEE)


def test_unknown_spellings_are_reported_never_planned_and_never_crash_a_plan() -> None:
    snapshot = parse_snapshot(rows_of(
        ("sales", "RELATION", "loader", "RULE", "readers", "role"),  # the page's list has RULE and TRIGGER
        ("sales", "RELATION", "loader", "select", "readers", "role"),  # case: read as SELECT
        ("sales", "SEQUENCE", "loader", "USAGE", "readers", "role"),  # an object type the page does not list
        ("sales", "RELATION", "loader", "ALTER", "readers", "role"),  # a privilege GRANT on TABLES does not take
    ))
    assert defaults(snapshot.state) == [(LOADER, "sales", "TABLES", "SELECT", "readers")]
    assert len(snapshot.warnings) == 3 and all("RULE" in w or "SEQUENCE" in w or "ALTER" in w
                                               for w in snapshot.warnings)
    planned = plan(AccessState.of([Role("readers")]), snapshot.state, {}, prune=True)
    assert planned.statements == []  # the one readable row is not the model's: left alone


def test_the_fake_answers_the_query_as_the_reader_reads_it() -> None:
    fake = warehouse()
    desired = model_of(TWO + "  - {creator: loader, on: tables, privileges: [TRUNCATE], to: [PUBLIC]}\n")
    converge(fake, desired)
    rows = svv_rows(fake.state(), user="admin", superuser=True, secadmin=True)[DEFAULT_PRIVILEGES_QUERY[0]]
    assert sorted(rows, key=str) == sorted([
        (None, "FUNCTION", "dbt", "EXECUTE", "writers", "role"),
        (None, "RELATION", "loader", "TRUNCATE", "public", "public"),
        ("sales", "RELATION", "loader", "SELECT", "readers", "role"),
    ], key=str)
    assert defaults(parse_snapshot({DEFAULT_PRIVILEGES_QUERY[0]: rows}).state) == defaults(desired)


def test_the_fake_refuses_what_redshift_refuses() -> None:
    fake = warehouse()
    fake.execute('CREATE ROLE "readers"')
    for sql in ('ALTER DEFAULT PRIVILEGES FOR USER "nobody" GRANT SELECT ON TABLES TO ROLE "readers"',  # no user
                'ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT SELECT ON TABLES TO ROLE "nobody"',  # no role
                'ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT EXECUTE ON TABLES TO ROLE "readers"',
                'ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT SELECT ON FUNCTIONS TO ROLE "readers"'):
        with pytest.raises(RedshiftError):
            fake.execute(sql)
    fake.execute('ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT SELECT ON TABLES TO ROLE "readers"')
    with pytest.raises(RedshiftError, match="2BP01"):
        fake.execute('DROP ROLE "readers" FORCE')
    with pytest.raises(RedshiftError, match="2BP01"):
        fake.execute('DROP USER "loader"')  # its default privileges block it (amazon-redshift-utils#492)


# ----------------------------------------------------------------------------------- the statements' forms


def test_each_form_quotes_every_name_and_spells_the_keywords() -> None:
    item = DefaultPrivilege('AWSIDC:o"neil', 'ventes "été"', "PROCEDURES", "EXECUTE", "r ''x")
    assert create_sql(item) == ('ALTER DEFAULT PRIVILEGES FOR USER "AWSIDC:o""neil" IN SCHEMA "ventes ""été""" GRANT '
                                "EXECUTE ON PROCEDURES TO ROLE \"r ''x\"")
    assert remove_sql(item) == ('ALTER DEFAULT PRIVILEGES FOR USER "AWSIDC:o""neil" IN SCHEMA "ventes ""été""" REVOKE '
                                "EXECUTE ON PROCEDURES FROM ROLE \"r ''x\"")
    public = DefaultPrivilege("loader", "", "TABLES", "DROP", PUBLIC_GRANTEE)
    assert remove_sql(public) == 'ALTER DEFAULT PRIVILEGES FOR USER "loader" REVOKE DROP ON TABLES FROM PUBLIC'
    for bad in (DefaultPrivilege("loader", "", "TABLES", "EXECUTE", "r"),
                DefaultPrivilege("loader", "", "VIEWS", "SELECT", "r"),
                DefaultPrivilege("bad\nname", "", "TABLES", "SELECT", "r")):
        with pytest.raises(ValueError):  # SqlTextError (a name Redshift would refuse) is one too
            create_sql(bad)


# -------------------------------------------------------------------------------------- import and drift


def test_import_writes_the_entries_and_the_model_plans_to_no_ddl(root: Path) -> None:
    fake = FakeRedshift()
    fake.sign_in(LOADER)
    fake.sign_in(DBT)
    for sql in ('CREATE ROLE "AWSIDC:exec-global"', 'CREATE ROLE "reporting"',
                'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "staging" GRANT SELECT ON TABLES TO ROLE '
                '"reporting"',
                'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "staging" GRANT INSERT ON TABLES TO ROLE '
                '"reporting"',
                'ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "staging" GRANT SELECT ON TABLES TO ROLE '
                '"AWSIDC:exec-global"',
                'ALTER DEFAULT PRIVILEGES FOR USER "dbt" GRANT EXECUTE ON PROCEDURES TO PUBLIC',
                'ALTER DEFAULT PRIVILEGES FOR USER "dbt" GRANT EXECUTE ON FUNCTIONS TO PUBLIC'):
        fake.execute(sql)
    snapshot = root / "catalog.json"
    taken, _ = take_snapshot(fake, snapshot)
    assert (taken.code, taken.err) == (0, "")
    model_path = root / "access" / "imported.yaml"
    result = run_import(snapshot, model_path)
    assert result.code == WRITTEN, result.err
    assert "for PUBLIC, is left out: PUBLIC has EXECUTE on new functions by default" in result.err
    data = yaml.safe_load(model_path.read_text(encoding="utf-8"))
    assert data["default_privileges"] == [
        {"creator": "dbt", "on": "procedures", "privileges": ["EXECUTE"], "to": ["PUBLIC"]},
        {"creator": "loader", "schema": "staging", "on": "tables", "privileges": ["SELECT"], "to": ["exec-global"]},
        {"creator": "loader", "schema": "staging", "on": "tables", "privileges": ["SELECT", "INSERT"],
         "to": ["reporting"]},
    ]
    assert data["schemas"] == ["staging"]  # a schema only a default privilege names is declared
    _, desired = compiled(model_path)
    loaded = load_snapshot(snapshot)
    planned = plan(desired, loaded.parsed().state, {}, definitions=loaded.definitions())
    assert planned.statements == []
    assert len([e for e in planned.adopt if e.kind == DefaultPrivilege.KIND]) == 4


def test_a_snapshot_of_an_earlier_version_reads_as_having_no_default_privilege_and_says_so(root: Path) -> None:
    fake = FakeRedshift()
    fake.sign_in(LOADER)
    fake.execute('CREATE ROLE "reporting"')
    fake.execute('ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT SELECT ON TABLES TO ROLE "reporting"')
    path = root / "catalog.json"
    assert take_snapshot(fake, path)[0].code == 0
    assert load_snapshot(path).reads_default_privileges
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["rows"].pop(DEFAULT_PRIVILEGES_QUERY[0])  # what an earlier version wrote: no such query
    path.write_text(json.dumps(document), encoding="utf-8")
    old = load_snapshot(path)
    assert not old.reads_default_privileges and defaults(old.parsed().state) == []
    result = run_import(path, root / "access" / "old.yaml")
    assert result.code == WRITTEN, result.err
    assert "this snapshot holds no default privileges (taken by an earlier version)" in result.err
    text = (root / "access" / "old.yaml").read_text(encoding="utf-8")
    assert "default_privileges" not in text


def test_plan_against_an_old_snapshot_warns(root: Path) -> None:
    from redshift_idc.access.importer.command import import_command

    fake = FakeRedshift()
    fake.execute('CREATE ROLE "reporting"')
    path = root / "catalog.json"
    assert take_snapshot(fake, path)[0].code == 0
    assert import_command(None, None, None, path, root / "access" / "imp.yaml", out=io.StringIO(),
                          err=io.StringIO()) == WRITTEN
    document = json.loads(path.read_text(encoding="utf-8"))
    document["rows"].pop(DEFAULT_PRIVILEGES_QUERY[0])
    path.write_text(json.dumps(document), encoding="utf-8")
    config_path = root / "config" / f"{ENV}.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["access_model"] = "imp"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    text = snapshot_plan(load_environment(ENV), path)
    assert "-- warning: this snapshot holds no default privileges (taken by an earlier version)" in text


"""Departing users and default privileges (issue 23, item 2): "revoke the default privileges the model granted for
them, and refuse to drop a user who is a declared creator, naming the entry".

- A user who left IAM Identity Center and is the `creator` of a `default_privileges:` entry the model still declares
  is refused before any DDL, the message naming the entry and the fix (remove it, or keep the user).
- A default privilege of that user which the model granted (the ledger has it) and no longer declares is revoked by
  the plan, in a model phase, before the user's DROP USER in the same deploy: it blocks nothing.
- One the model never granted (a loader's own) still blocks, as before (test_user_blockers.py).

The warehouse is `tests/fake_redshift.py`: DROP USER fails while the user owns a default privilege
(amazon-redshift-utils issue 492's `owner of default privileges on new relations belonging to user`).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc import project
from redshift_idc.access.model import parse_model
from redshift_idc.deployed.drift import drift_report
from redshift_idc.review.plan_text import wrapped
from redshift_idc.runtime.access_state import AccessState, DefaultPrivilege
from redshift_idc.runtime.idc_directory import Verdict
from redshift_idc.runtime.ledger import LedgerTables, steps
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.phases import REVOKE_PHASE, USER_DROP_PHASE, USER_REVOKE_PHASE
from redshift_idc.runtime.planning.plan_types import Plan, Statement
from redshift_idc.runtime.user_defaults import ModelDefaults, describe_entries
from redshift_idc.runtime.users import DeprovisionSettings, departures, parse_users, with_statements
from tests.fake_catalog import CatalogDataApi
from tests.fake_data_api import SimClock
from tests.fake_redshift import FakeRedshift, RedshiftError
from tests.test_deprovision_users import LAKEHOUSE, NS, SALES, STORE, Deploy, lakehouse_store

ERIN = "AWSIDC:erin"  # "erin" in the lakehouse store: u-3, in no group unless a test puts her in one
SOURCE = Path("access/sample-lakehouse.yaml")
ENTRY = {"creator": ERIN, "schema": "public", "on": "tables", "privileges": ["SELECT", "INSERT"], "to": ["sales"]}
SECRET = "arn:aws:secretsmanager:us-east-1:666666666666:secret:x"
MODEL_TEXT = (project.ROOT / SOURCE).read_text(encoding="utf-8")  # the sample as shipped (a test edits a copy)
GONE = (f"in identity store {STORE}, but in none of the groups the environment assigns (exec, finance, sales)")


def lakehouse(*entries: dict[str, Any], insert: bool = False) -> dict[str, Any]:
    """The lakehouse sample's model document with `entries` under `default_privileges:`; `insert`: its table grant
    also gives INSERT (to sales and exec: what coalescing merges into one REVOKE when it is taken away)."""
    data: dict[str, Any] = yaml.safe_load(MODEL_TEXT)
    if entries:
        data["default_privileges"] = list(entries)
    if insert:
        data["table_grants"] = [{"tables": ["public.orders"], "privileges": ["SELECT", "INSERT"],
                                 "to": ["sales", "exec"]}]
    return data


def desired_of(data: dict[str, Any]) -> AccessState:
    return parse_model(data, name="sample-lakehouse", source=SOURCE, environment=LAKEHOUSE).desired


# ------------------------------------------------------------------------------------------ the checks


def test_an_entry_is_named_as_the_model_file_writes_it() -> None:
    desired = desired_of(lakehouse(ENTRY, {"creator": ERIN, "on": "functions", "privileges": ["EXECUTE"],
                                           "to": ["sales", "exec"]}))
    items = [d for d in desired.of_kind(DefaultPrivilege.KIND).values() if isinstance(d, DefaultPrivilege)]
    assert len(items) == 4  # compiled one object per privilege and grantee
    assert describe_entries(items) == [
        "{creator: AWSIDC:erin, on: functions, privileges: [EXECUTE], to: [AWSIDC:exec, AWSIDC:sales]} "
        "(database-wide)",
        "{creator: AWSIDC:erin, schema: public, on: tables, privileges: [SELECT, INSERT], to: [AWSIDC:sales]}",
    ]
    # privileges that differ by grantee are never merged into one entry granting more than declared
    split = [DefaultPrivilege(ERIN, "", "TABLES", "SELECT", "a"), DefaultPrivilege(ERIN, "", "TABLES", "INSERT", "b")]
    assert describe_entries(split) == [
        "{creator: AWSIDC:erin, on: tables, privileges: [SELECT], to: [a]} (database-wide)",
        "{creator: AWSIDC:erin, on: tables, privileges: [INSERT], to: [b]} (database-wide)"]


def catalog_with_default(owner: str = ERIN, grantee: str = "AWSIDC:sales", privilege: str = "SELECT") -> Any:
    """A departing user who owns one default privilege to a role, as the blocker read returns it."""
    return parse_users({"idc_users": [(owner, False)], "idc_user_default_privileges": [
        (owner, "public", "RELATION", privilege, grantee, "role")]}, NS)


def test_a_declared_creator_is_refused_naming_the_entry_and_the_fix_in_any_case() -> None:
    desired = desired_of(lakehouse({**ENTRY, "creator": "awsidc:Erin"}))  # Redshift keeps a quoted name's case
    defaults = ModelDefaults.of("sample-lakehouse", desired, Plan())
    found = departures(catalog_with_default(), DeprovisionSettings(NS), [Verdict(ERIN, "gone", "left")], defaults)
    assert found.statements == [] and [r.user for r in found.refused] == [ERIN]
    refusal = found.refused[0]
    # the SELECT row the catalog holds is the declared entry's: named once, as the entry, not as a blocker to clear
    # by hand (which the next deploy would grant again)
    assert refusal.blockers == ("is the creator of the default_privileges entry {creator: awsidc:Erin, schema: "
                                "public, on: tables, privileges: [SELECT, INSERT], to: [AWSIDC:sales]} in "
                                "access/sample-lakehouse.yaml",)
    assert refusal.advice == ("remove it from access/sample-lakehouse.yaml (the deploy then revokes it before the "
                              "DROP USER, in the same deploy), or keep the user (assign it to the application "
                              "again in IAM Identity Center)")
    assert found.refusal_error("sample-lakehouse").startswith(
        "deprovision_users (access/sample-lakehouse.yaml): refusing to drop 1 user(s) who left IAM Identity Center, "
        "before any change: AWSIDC:erin (left): is the creator of the default_privileges entry {creator: "
        "awsidc:Erin, schema: public")


def test_a_declared_creator_with_a_blocker_of_its_own_gets_both_named_and_both_fixes() -> None:
    desired = desired_of(lakehouse(ENTRY))
    loaders = catalog_with_default(grantee="reporting")  # not the model's: clear it by hand
    found = departures(loaders, DeprovisionSettings(NS), [Verdict(ERIN, "gone", "left")],
                       ModelDefaults.of("sample-lakehouse", desired, Plan()))
    [refusal] = found.refused
    assert refusal.blockers[0].startswith("is the creator of the default_privileges entry {creator: AWSIDC:erin")
    assert refusal.blockers[1].startswith("owns default privileges: SELECT on new tables in schema public for "
                                          "reporting (clear it: ALTER DEFAULT PRIVILEGES")
    assert refusal.advice.startswith("remove it from access/sample-lakehouse.yaml")
    assert refusal.advice.endswith("; clear each by hand (as a superuser), as shown, then deploy again")


def revoking(item: DefaultPrivilege, phase: int) -> Plan:
    return Plan([Statement(phase, ("x",), "ALTER DEFAULT PRIVILEGES ... REVOKE ...", removes=(item,))])


def test_a_default_privilege_the_plan_revokes_before_the_user_phases_blocks_nothing() -> None:
    item = DefaultPrivilege(ERIN, "public", "TABLES", "SELECT", "AWSIDC:sales")
    settings, gone = DeprovisionSettings(NS), [Verdict(ERIN, "gone", "left")]
    before = departures(catalog_with_default(), settings, gone)
    assert [r.user for r in before.refused] == [ERIN]  # no plan: a blocker, as before

    revoked = ModelDefaults.of("m", AccessState(), revoking(item, REVOKE_PHASE[DefaultPrivilege.KIND]))
    found = departures(catalog_with_default(owner="awsidc:ERIN"), settings, [Verdict("awsidc:ERIN", "gone", "left")],
                       revoked)  # the user's name in another case: the same user (as blockers_of compares)
    assert found.refused == [] and [s.sql for s in found.statements] == ['DROP USER "awsidc:ERIN"']

    # only a revoke that runs before the user phases counts; another privilege or grantee still blocks
    late = ModelDefaults.of("m", AccessState(), revoking(item, USER_REVOKE_PHASE))
    assert departures(catalog_with_default(), settings, gone, late).refused
    assert departures(catalog_with_default(privilege="INSERT"), settings, gone, revoked).refused
    assert departures(catalog_with_default(grantee="AWSIDC:exec"), settings, gone, revoked).refused


@pytest.mark.parametrize("coalesce", [True, False])
def test_the_revoke_is_planned_before_the_drop_user_with_or_without_coalescing(coalesce: bool) -> None:
    """The merged plan and the batches the ledger cuts from it run the model's REVOKE first."""
    fake = FakeRedshift()
    fake.sign_in(ERIN)
    granted = desired_of(lakehouse(ENTRY, insert=True))
    fake.apply(plan(granted, AccessState(), coalesce=coalesce), "sample-lakehouse")
    dropped = desired_of(lakehouse())
    planned = plan(dropped, fake.state(), fake.ledger("sample-lakehouse"), coalesce=coalesce)
    catalog = parse_users(fake.user_rows(NS), NS)
    found = departures(catalog, DeprovisionSettings(NS), [Verdict(ERIN, "gone", "left")],
                       ModelDefaults.of("sample-lakehouse", dropped, planned))
    assert found.refused == []
    merged = with_statements(planned, found.statements)
    coalesced = [s for s in merged.statements if s.covers > 1]
    assert bool(coalesced) == coalesce  # INSERT revoked from sales and exec: one statement when coalescing
    sqls = [sql for step in steps(merged, "sample-lakehouse", LedgerTables()) for sql in step.sqls]
    revokes = [n for n, sql in enumerate(sqls) if sql.startswith(f'ALTER DEFAULT PRIVILEGES FOR USER "{ERIN}"')]
    # SELECT and INSERT from sales: one statement when coalescing, one per privilege otherwise
    assert [sqls[n] for n in revokes] == revoke_sql(coalesce)
    assert max(revokes) < sqls.index(f'DROP USER "{ERIN}"')
    assert merged.statements[-1].phase == USER_DROP_PHASE


def revoke_sql(coalesce: bool) -> list[str]:
    """The plan's REVOKE of ENTRY: one statement for both privileges when coalescing, else one per privilege."""
    head = f'ALTER DEFAULT PRIVILEGES FOR USER "{ERIN}" IN SCHEMA "public" REVOKE'
    tail = 'ON TABLES FROM ROLE "AWSIDC:sales"'
    return ([f"{head} INSERT, SELECT {tail}"] if coalesce
            else [f"{head} INSERT {tail}", f"{head} SELECT {tail}"])


# ----------------------------------------------------------------------------------- deploys, end to end


def access_ddl(sql: str) -> bool:
    """A statement that changes access or users (not the ledger's bootstrap, claim or records)."""
    return sql.startswith(("CREATE ROLE", "DROP ", "GRANT ", "REVOKE ", "ALTER ", "CREATE DATABASE", "CREATE EXTERNAL",
                           "CREATE RLS", "CREATE MASKING", "ATTACH ", "DETACH "))


def deploy_with(fake: FakeRedshift, *, coalesce: bool = True) -> tuple[Deploy, Any]:
    store = lakehouse_store()
    deploy = Deploy(fake, store)
    deploy.properties["CoalesceStatements"] = coalesce
    return deploy, store


def test_the_fake_refuses_drop_user_while_the_user_owns_a_default_privilege_to_a_role() -> None:
    """amazon-redshift-utils issue 492: Redshift refuses; the fake does too, so the deploys below prove the order."""
    fake = FakeRedshift()
    fake.sign_in(ERIN)
    fake.execute('CREATE ROLE "AWSIDC:sales"')
    fake.execute(f'ALTER DEFAULT PRIVILEGES FOR USER "{ERIN}" IN SCHEMA "public" GRANT SELECT ON TABLES TO ROLE '
                 '"AWSIDC:sales"')
    with pytest.raises(RedshiftError, match=re.escape(f"owner of default privileges on new relations belonging to "
                                                      f"user {ERIN}")):
        fake.execute(f'DROP USER "{ERIN}"')
    assert ERIN in fake.users


@pytest.mark.parametrize("coalesce", [True, False])
def test_a_default_privilege_the_model_granted_is_revoked_and_the_user_dropped_in_one_deploy(coalesce: bool) -> None:
    fake = FakeRedshift()
    fake.sign_in("admin")
    fake.sign_in(ERIN)
    deploy, store = deploy_with(fake, coalesce=coalesce)
    store.members["u-3"] = [SALES]  # erin still works here
    deploy.desired = desired_of(lakehouse(ENTRY, insert=True))
    first = deploy.run()
    assert first.complete, first.error
    assert {row[:2] for row in fake.state().of_kind(DefaultPrivilege.KIND)} == {(ERIN, "public")}
    assert ERIN in fake.users

    store.members["u-3"] = []  # erin left; the entry goes with her
    deploy.desired = desired_of(lakehouse())
    before = len(fake.history)
    done = deploy.run()
    assert done.complete, done.error
    assert ERIN not in fake.users and fake.state().of_kind(DefaultPrivilege.KIND) == {}
    ran = fake.history[before:]
    revokes = [n for n, sql in enumerate(ran) if sql.startswith(f'ALTER DEFAULT PRIVILEGES FOR USER "{ERIN}"')]
    assert [ran[n] for n in revokes] == revoke_sql(coalesce)
    assert max(revokes) < ran.index(f'DROP USER "{ERIN}"')
    assert any('REVOKE INSERT ON TABLE "public"."orders" FROM ROLE "AWSIDC:exec", ROLE "AWSIDC:sales"' in sql
               for sql in ran) == coalesce
    assert not [k for k, _ in fake.ledger("sample-lakehouse") if k == DefaultPrivilege.KIND]


def test_a_declared_creator_who_left_fails_the_deploy_before_any_change() -> None:
    fake = FakeRedshift()
    fake.sign_in("admin")
    fake.sign_in(ERIN)  # in no group: gone
    deploy, _ = deploy_with(fake)
    deploy.desired = desired_of(lakehouse(ENTRY))
    refused = deploy.run()
    assert not refused.complete
    assert refused.error.startswith(
        "deprovision_users (access/sample-lakehouse.yaml): refusing to drop 1 user(s) who left IAM Identity Center, "
        f"before any change: AWSIDC:erin ({GONE}): is the creator of the default_privileges entry {{creator: "
        "AWSIDC:erin, schema: public, on: tables, privileges: [SELECT, INSERT], to: [AWSIDC:sales]} in "
        "access/sample-lakehouse.yaml; remove it from access/sample-lakehouse.yaml"), refused.error
    assert "or keep the user" in refused.error
    assert not [sql for sql in fake.history if access_ddl(sql)]  # nothing ran, not even CREATE ROLE
    assert ERIN in fake.users


def test_a_loaders_own_default_privilege_still_refuses_and_nothing_changes() -> None:
    """The model's own default privilege of the user is revoked by the plan; the one made by hand is not the
    model's to revoke: the user is refused, naming only that one, before any change (the model's stays too)."""
    fake = FakeRedshift()
    fake.sign_in("admin")
    fake.sign_in(ERIN)
    deploy, store = deploy_with(fake)
    store.members["u-3"] = [SALES]
    deploy.desired = desired_of(lakehouse(ENTRY))
    assert deploy.run().complete
    fake.execute(f'ALTER DEFAULT PRIVILEGES FOR USER "{ERIN}" GRANT EXECUTE ON PROCEDURES TO ROLE "AWSIDC:exec"')

    store.members["u-3"] = []
    deploy.desired = desired_of(lakehouse())
    before = len(fake.history)
    refused = deploy.run()
    assert not refused.complete
    assert refused.error.endswith(
        f"AWSIDC:erin ({GONE}): owns default privileges: EXECUTE on new procedures in the database for AWSIDC:exec "
        f'(clear it: ALTER DEFAULT PRIVILEGES FOR USER "{ERIN}" REVOKE EXECUTE ON PROCEDURES FROM ROLE '
        '"AWSIDC:exec"); clear each by hand (as a superuser), as shown, then deploy again'), refused.error
    assert "schema public" not in refused.error  # the model's own: revoked by the plan, not a blocker
    assert not [sql for sql in fake.history[before:] if access_ddl(sql)] and ERIN in fake.users
    assert len(fake.state().of_kind(DefaultPrivilege.KIND)) == 3  # SELECT, INSERT and the loader's EXECUTE


# ------------------------------------------------------------------------------------------------ drift


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's config, models and scripts, so a test can edit the lakehouse model file."""
    for folder in ("config", "access", "sql"):
        shutil.copytree(project.ROOT / folder, tmp_path / folder)
    monkeypatch.setattr(project, "ROOT", tmp_path)
    return tmp_path


def write_model(root: Path, data: dict[str, Any]) -> None:
    (root / SOURCE).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def drifted(fake: FakeRedshift) -> Any:
    clock = SimClock()
    api = CatalogDataApi(fake, clock, model="sample-lakehouse", users_namespace="AWSIDC")
    return drift_report(LAKEHOUSE, SECRET, client=api, sleep=clock.sleep, identitystore=lakehouse_store())


def deployed_with_entry() -> FakeRedshift:
    """The lakehouse model with erin's entry deployed (the ledger holds it), its policy texts recorded."""
    fake = FakeRedshift()
    fake.sign_in(ERIN)
    desired = desired_of(lakehouse(ENTRY))
    fake.apply(plan(desired, AccessState()), "sample-lakehouse")
    fake.apply(plan(desired, fake.state(), fake.ledger("sample-lakehouse"), stored=fake.stored_hashes()),
               "sample-lakehouse")
    return fake


def test_drift_says_the_same_as_the_deploy(root: Path) -> None:
    fake = deployed_with_entry()
    write_model(root, lakehouse(ENTRY))  # erin left, and the model still names her
    declared = drifted(fake)
    lines = declared.text.splitlines()
    assert "-- users who left IAM Identity Center (deprovision_users): 0 removed, 1 refused" in lines
    assert any(line.startswith(f"--   refuse AWSIDC:erin ({GONE}): is the creator of the default_privileges entry "
                               "{creator: AWSIDC:erin, schema: public, on: tables") for line in lines), lines
    assert (declared.refused, declared.exit_code) == (1, 1)
    assert declared.summary == ("drift: the next deploy to lakehouse-wg/dev would fail: 1 user(s) who left IAM "
                                "Identity Center cannot be dropped (see above; nothing was changed)")

    write_model(root, lakehouse())  # the entry removed: its REVOKE, then the DROP USER
    removed = drifted(fake)
    lines = removed.text.splitlines()
    assert "-- users who left IAM Identity Center (deprovision_users): 1 removed, 0 refused" in lines
    [revoke] = revoke_sql(coalesce=True)  # the model coalesces (the default): one REVOKE for SELECT and INSERT
    assert "-- one statement for 2 objects" in lines
    assert removed.text.index(f"{wrapped(revoke)};\n") < removed.text.index(f'\nDROP USER "{ERIN}";\n')
    assert (removed.refused, removed.statements) == (0, 2)  # the REVOKE and the DROP USER
    assert ERIN in fake.users and fake.state().of_kind(DefaultPrivilege.KIND)  # the report changes nothing

"""The planner, end to end through an in-memory Redshift (`tests/fake_redshift.py`).

Every test plans, applies the plan batch by batch (each batch one transaction, ledger rows included),
reads the catalog and the ledger back the way the reconciler does, and asserts on what is there. The
fake refuses what Redshift refuses (DROP ROLE while privileges remain, DROP POLICY while attached,
GRANT to a missing role, clashing masking priorities, ...), so a wrongly ordered plan fails here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import pytest

from bench.scale_models import large_model
from redshift_idc.runtime.access_state import (
    LEDGER_ONLY_KINDS,
    TYPE_BY_KIND,
    AccessObject,
    AccessState,
    ColumnPrivilege,
    DatabasePrivilege,
    DefaultPrivilege,
    ExternalDatabase,
    ExternalSchema,
    IdentityProvider,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsLookupGrant,
    RlsPolicy,
    RlsTable,
    Role,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
    recorded_fingerprint,
)
from redshift_idc.runtime.ledger import MAX_BATCH_STATEMENTS, RESERVED_STATEMENTS, LedgerTables, batches
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning import removals as planner_module
from redshift_idc.runtime.planning.object_sql import alter_using_sql, create_sql, remove_sql
from redshift_idc.runtime.planning.phases import CREATE_ORDER, REMOVE_ORDER
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.runtime.planning.scope import Scope
from tests.fake_redshift import FakeRedshift, RedshiftError, differences, role_names

MODEL = "test model d'été"

REGION = RlsPolicy("region only", (("region", "VARCHAR(50)"),), "\"region\" = 'EMEA'")
OPEN = RlsPolicy("open", (), "true")
MASK_EMAIL = MaskingPolicy("mask email", (("email", "VARCHAR(256)"),), "SHA2(\"email\", 256)")
IDP = IdentityProvider("corp idc", "awsidc", "AWSIDC", "", "arn:aws:sso::111111111111:application/ssoins-1/apl-1",
                       "arn:aws:iam::111111111111:role/idc", True)
MASK_HIDE = MaskingPolicy("hide", (("value", "VARCHAR(256)"),), "CAST('***' AS VARCHAR(256))")
LOADER = "loader"  # the user whose later tables get the model's default privileges (signed in by `new_fake`)


def base_objects() -> list[AccessObject]:
    """A small model using every object type."""
    return [
        Role("analyst"), Role("engineer"), Role("auditor"),
        RoleGrant("analyst", "engineer"),
        SchemaPrivilege("sales", "USAGE", "analyst"),
        SchemaPrivilege("sales", "USAGE", "auditor"),
        TablePrivilege("sales", "orders", "SELECT", "analyst"),
        ScopedTablePrivilege("sales", "SELECT", "engineer"),
        ColumnPrivilege("sales", "customers", "email", "SELECT", "auditor"),
        SystemPrivilege("IGNORE RLS", "auditor"),
        REGION,
        RlsAttachment(REGION.name, "sales", "orders", "analyst"),
        RlsAttachment(REGION.name, "sales", "orders", "auditor"),
        RlsTable("sales", "orders", "AND"),
        RlsLookupGrant("sales", "entitlements", REGION.name),
        MASK_EMAIL,
        MaskingAttachment(MASK_EMAIL.name, "sales", "customers", ("email",), "analyst", (), 10),
        MaskingAttachment(MASK_EMAIL.name, "sales", "customers", ("email",), "auditor", (), 10),
        IDP,
        ExternalDatabase("shared sales", "arn:aws:redshift:us-east-1:111111111111:datashare:"
                                         "01234567-89ab-cdef-0123-456789abcdef/sales_share"),
        DatabasePrivilege("shared sales", "USAGE", "analyst"),
        ExternalSchema("lake", "lf_sales", "111111111111"),
        DefaultPrivilege(LOADER, "sales", "TABLES", "SELECT", "analyst"),
    ]


def state_of(items: Iterable[AccessObject], case_sensitive: bool = False) -> AccessState:
    return AccessState.of(items, case_sensitive)


BASE = state_of(base_objects())


# ------------------------------------------------------------------------------------------ helpers


def plan_for(fake: FakeRedshift, desired: AccessState, *, prune: bool = False, include_system: bool = False,
             scope: Scope | None = None) -> Plan:
    current = fake.state(desired.case_sensitive, include_system=include_system)
    return plan(desired, current, fake.ledger(MODEL), prune=prune, scope=scope)


def converge(fake: FakeRedshift, desired: AccessState, *, prune: bool = False, scope: Scope | None = None) -> Plan:
    """Plan and apply; the fake must not have seen a redundant GRANT/REVOKE."""
    planned = plan_for(fake, desired, prune=prune, scope=scope)
    fake.apply(planned, MODEL)
    assert fake.warnings == [], fake.warnings
    return planned


def ledger_keys(desired: AccessState) -> set[tuple[str, tuple[str, ...]]]:
    return {(item.KIND, item.key(desired.case_sensitive)) for item in desired}


def assert_in_sync(fake: FakeRedshift, desired: AccessState, *, prune: bool = False) -> None:
    """The catalog shows `desired`, the ledger holds each desired object once (with its fingerprint),
    and planning again gives nothing."""
    cs = desired.case_sensitive
    assert differences(fake.state(cs), desired) == []
    rows = [(kind, key) for kind, key, _ in fake.ledger_rows(MODEL)]
    assert len(rows) == len(set(rows)), "one ledger row per object"
    ledger = fake.ledger(MODEL)
    assert set(ledger) == ledger_keys(desired)
    for item in desired:
        assert ledger[(item.KIND, item.key(cs))] == recorded_fingerprint(item, cs)
    again = plan_for(fake, desired, prune=prune)
    assert again.sql == [] and again.adopt == [] and not again


def new_fake(case_sensitive: bool = False) -> FakeRedshift:
    """An empty warehouse with the loader user (default privileges are a user's: FOR USER must name one)."""
    fake = FakeRedshift(case_sensitive=case_sensitive)
    fake.sign_in(LOADER)
    return fake


def fresh(desired: AccessState = BASE, case_sensitive: bool = False) -> FakeRedshift:
    fake = new_fake(case_sensitive=case_sensitive)
    converge(fake, desired)
    assert_in_sync(fake, desired)
    return fake


def index(sqls: list[str], predicate: Callable[[str], bool]) -> list[int]:
    return [i for i, sql in enumerate(sqls) if predicate(sql)]


def mentions_role(sql: str, role: str) -> bool:
    return f'ROLE "{role}"' in sql


def without(items: Iterable[AccessObject], *drop: AccessObject) -> list[AccessObject]:
    return [i for i in items if i not in drop]


def without_role(items: Iterable[AccessObject], role: str) -> list[AccessObject]:
    return [i for i in items if role not in role_names(i)]


_NAME_FIELDS = ("name", "role", "grantee", "schema", "table", "column", "policy")


def renamed(item: AccessObject, change: Callable[[str], str]) -> AccessObject:
    """The same object with every name passed through `change` (privileges, types and text untouched)."""
    updates: dict[str, object] = {f: change(getattr(item, f)) for f in _NAME_FIELDS if hasattr(item, f)}
    for f in ("output_columns", "input_columns"):
        if hasattr(item, f):
            updates[f] = tuple(change(c) for c in getattr(item, f))
    if isinstance(item, RlsPolicy | MaskingPolicy):
        updates["columns"] = tuple((change(c), t) for c, t in item.columns)
    return dataclasses.replace(item, **updates)


def ascii_upper(name: str) -> str:
    return "".join(c.upper() if c.isascii() else c for c in name)


def ascii_mixed(name: str) -> str:
    return "".join(c.upper() if c.isascii() and i % 2 == 0 else c for i, c in enumerate(name))


# ------------------------------------------------------------------------------------ the fake itself


def test_fake_refuses_what_redshift_refuses() -> None:
    fake = fresh()
    refused = [
        'CREATE ROLE "analyst"',  # exists
        'CREATE ROLE "sys:mine"',  # reserved prefix
        'DROP ROLE "auditor" FORCE',  # still holds privileges (55006)
        'DROP ROLE "engineer"',  # in a role grant, no FORCE
        'GRANT USAGE ON SCHEMA "sales" TO ROLE "nobody"',  # missing role
        'GRANT ROLE "engineer" TO ROLE "analyst"',  # cycle
        f'DROP RLS POLICY "{REGION.name}"',  # attached
        f'DROP MASKING POLICY "{MASK_EMAIL.name}"',  # attached
        'ATTACH RLS POLICY "missing" ON "sales"."orders" TO ROLE "analyst"',
        f'CREATE RLS POLICY "{REGION.name}" USING (true)',  # exists
        'ALTER RLS POLICY "missing" USING (true)',
        f'DETACH RLS POLICY "{REGION.name}" ON "sales"."orders" FROM ROLE "engineer"',  # not attached
        # a different policy on the same column with the same priority
        'ATTACH MASKING POLICY "m2" ON "sales"."customers" ("email") USING ("email") TO ROLE "engineer" PRIORITY 10',
        'GRANT SELECT ON "sales"."orders" TO ROLE "analyst"',  # a form the planner does not emit
    ]
    fake.execute('CREATE MASKING POLICY "m2" WITH ("v" VARCHAR(256)) USING (v)')
    for sql in refused:
        before = fake.state()
        with pytest.raises(RedshiftError):
            fake.execute(sql)
        assert differences(fake.state(), before) == [], sql
    fake.execute('REVOKE USAGE ON SCHEMA "hr" FROM ROLE "analyst"')
    assert len(fake.warnings) == 1  # REVOKE of a privilege not held: a no-op, but noticed


def test_fake_batch_is_one_transaction() -> None:
    fake = fresh()
    before, ledger = fake.state(), fake.ledger(MODEL)
    with pytest.raises(RedshiftError, match="55006"):
        fake.execute_batch(['REVOKE ROLE "analyst" FROM ROLE "engineer"', 'DROP ROLE "analyst" FORCE'])
    assert differences(fake.state(), before) == [] and fake.ledger(MODEL) == ledger


# ----------------------------------------------------------------------------------------- creating


def test_create_from_empty_in_a_valid_order() -> None:
    fake = new_fake()
    planned = converge(fake, BASE)
    sqls = planned.sql
    assert planned.adopt == []
    creates, grants = index(sqls, lambda s: s.startswith("CREATE ROLE")), index(sqls, lambda s: s.startswith("GRANT"))
    assert len(creates) == 3 and max(creates) < min(grants)
    attaches = index(sqls, lambda s: s.startswith("ATTACH RLS"))
    [rls_on] = index(sqls, lambda s: "ROW LEVEL SECURITY ON" in s)
    assert len(attaches) == 2 and rls_on > max(attaches)
    assert index(sqls, lambda s: s.startswith("CREATE RLS")) < attaches
    assert max(index(sqls, lambda s: s.startswith("CREATE MASKING"))) < min(
        index(sqls, lambda s: s.startswith("ATTACH MASKING")))
    [ignore_rls] = index(sqls, lambda s: "IGNORE RLS" in s)
    [default] = index(sqls, lambda s: s.startswith("ALTER DEFAULT PRIVILEGES"))
    assert ignore_rls == len(sqls) - 2 and ignore_rls > max(creates)
    assert default == len(sqls) - 1  # what later tables get, after every grant (CREATE DATABASE runs alone, first)
    assert_in_sync(fake, BASE)
    assert fake.policy_text(RlsPolicy.KIND, REGION.name) == (REGION.columns, REGION.using)
    assert fake.state().of_kind(RlsPolicy.KIND)[("region only",)] == RlsPolicy("region only")  # no text read back


@pytest.mark.parametrize("change", [str, ascii_upper, ascii_mixed], ids=["same", "upper", "mixed"])
def test_no_change_plans_nothing(change: Callable[[str], str]) -> None:
    fake = fresh()
    desired = state_of(renamed(i, change) for i in base_objects())
    planned = plan_for(fake, desired)
    assert planned.statements == [] and planned.adopt == [] and not planned


def test_upper_case_model_keeps_role_case() -> None:
    """Role names keep their case in the catalog (`access_state.role_key`; other names fold); the model spelling
    this model's roles in lower case again plans nothing (the catalog's spelling is kept, and the plan says so)."""
    desired = state_of(renamed(i, ascii_upper) for i in base_objects())
    fake = fresh(desired)
    assert sorted(fake.state().of_kind(Role.KIND)) == [("ANALYST",), ("AUDITOR",), ("ENGINEER",)]
    assert sorted(fake.state().of_kind(SchemaPrivilege.KIND))[0] == ("sales", "USAGE", "ANALYST")
    again = plan_for(fake, BASE)  # and back to lower case: still nothing to do
    assert again.statements == [] and not again
    assert any("role analyst is this model's role ANALYST" in note for note in again.notes)


# ------------------------------------------------------------------------------------------- roles


def test_add_role() -> None:
    fake = fresh()
    extra = [Role("Reader"), SchemaPrivilege("sales", "USAGE", "Reader"), RoleGrant("analyst", "Reader")]
    desired = state_of([*base_objects(), *extra])
    planned = converge(fake, desired)
    assert planned.sql == ['CREATE ROLE "Reader"', 'GRANT ROLE "analyst" TO ROLE "Reader"',
                           'GRANT USAGE ON SCHEMA "sales" TO ROLE "Reader"']
    assert_in_sync(fake, desired)


def test_remove_role_revokes_and_detaches_everything_first() -> None:
    fake = fresh()
    fake.execute('GRANT SELECT ON TABLE "hr"."salaries" TO ROLE "analyst"')  # by hand: not in the ledger
    fake.execute('GRANT ROLE "analyst" TO ROLE "auditor"')
    desired = state_of(without_role(base_objects(), "analyst"))
    planned = converge(fake, desired)
    sqls = planned.sql
    [drop] = index(sqls, lambda s: s.startswith('DROP ROLE "analyst"'))
    assert drop == len(sqls) - 1
    assert set(index(sqls, lambda s: mentions_role(s, "analyst") or '"analyst"' in s)) == set(range(len(sqls)))
    assert 'REVOKE SELECT ON TABLE "hr"."salaries" FROM ROLE "analyst"' in sqls  # the hand-made grant too
    assert f'DETACH RLS POLICY "{REGION.name}" ON "sales"."orders" FROM ROLE "analyst"' in sqls
    assert f'DETACH MASKING POLICY "{MASK_EMAIL.name}" ON "sales"."customers" ("email") FROM ROLE "analyst"' in sqls
    assert_in_sync(fake, desired)


def test_rename_role_is_drop_and_create() -> None:
    fake = fresh()
    desired = state_of(renamed(i, lambda n: "data analyst" if n == "analyst" else n) for i in base_objects())
    planned = converge(fake, desired)
    sqls = planned.sql
    # The old role loses its privileges first (narrowing); "analyst" carries RLS and masking, so granting or
    # revoking it moves with the restriction changes of its tables; the new role gets its privileges last.
    assert sqls.index('REVOKE SELECT ON TABLE "sales"."orders" FROM ROLE "analyst"') < sqls.index(
        'CREATE ROLE "data analyst"')
    assert sqls.index('CREATE ROLE "data analyst"') < sqls.index('REVOKE ROLE "analyst" FROM ROLE "engineer"')
    assert sqls.index('REVOKE ROLE "analyst" FROM ROLE "engineer"') < sqls.index('DROP ROLE "analyst" FORCE')
    assert sqls.index('CREATE ROLE "data analyst"') < sqls.index('GRANT ROLE "data analyst" TO ROLE "engineer"')
    assert sqls.index('GRANT ROLE "data analyst" TO ROLE "engineer"') < sqls.index(
        'GRANT SELECT ON TABLE "sales"."orders" TO ROLE "data analyst"')
    assert_in_sync(fake, desired)


# ------------------------------------------------------------------------------------------ grants

EXTRA_GRANTS = [
    SchemaPrivilege("finance", "CREATE", "engineer"),
    TablePrivilege("sales", "orders", "INSERT", "engineer"),
    ColumnPrivilege("sales", "customers", "name", "UPDATE", "analyst"),
    ScopedTablePrivilege("finance", "SELECT", "auditor"),
    RoleGrant("auditor", "engineer"),
    SystemPrivilege("EXPLAIN RLS", "analyst"),
    DefaultPrivilege(LOADER, "", "FUNCTIONS", "EXECUTE", "engineer"),
]


@pytest.mark.parametrize("extra", EXTRA_GRANTS, ids=lambda g: g.KIND)
def test_add_and_remove_grant(extra: AccessObject) -> None:
    fake = fresh()
    desired = state_of([*base_objects(), extra])
    assert converge(fake, desired).sql == [create_sql(extra)]
    assert_in_sync(fake, desired)
    assert converge(fake, BASE).sql == [remove_sql(extra)]
    assert_in_sync(fake, BASE)


# ---------------------------------------------------------------------------------------- policies

NEW_RLS_ATTACHMENT = RlsAttachment(OPEN.name, "sales", "orders", "engineer")
NEW_MASKING_ATTACHMENT = MaskingAttachment(MASK_HIDE.name, "sales", "customers", ("phone",), "engineer", (), 5)
POLICY_CHANGES: dict[str, tuple[list[AccessObject], list[AccessObject]]] = {
    # name: (objects before, objects after)
    "rls_policy": (base_objects(), [*base_objects(), OPEN]),
    "rls_policy_and_attachment": (base_objects(), [*base_objects(), OPEN, NEW_RLS_ATTACHMENT]),
    "rls_attachment": ([*base_objects(), OPEN], [*base_objects(), OPEN, NEW_RLS_ATTACHMENT]),
    "masking_policy": (base_objects(), [*base_objects(), MASK_HIDE]),
    "masking_policy_and_attachment": (base_objects(), [*base_objects(), MASK_HIDE, NEW_MASKING_ATTACHMENT]),
    "masking_attachment": ([*base_objects(), MASK_HIDE], [*base_objects(), MASK_HIDE, NEW_MASKING_ATTACHMENT]),
    "rls_table": (without(base_objects(), RlsTable("sales", "orders", "AND")), base_objects()),
}


@pytest.mark.parametrize("name", sorted(POLICY_CHANGES))
def test_add_and_remove_policy_objects(name: str) -> None:
    before, after = (state_of(items) for items in POLICY_CHANGES[name])
    fake = fresh(before)
    added = [i for i in after if before.get(i.KIND, i.key()) is None]
    assert converge(fake, after).sql == [create_sql(i) for i in sorted(added, key=lambda i: CREATE_ORDER[i.KIND])]
    assert_in_sync(fake, after)
    assert converge(fake, before).sql == [remove_sql(i) for i in sorted(added, key=lambda i: REMOVE_ORDER[i.KIND])]
    assert_in_sync(fake, before)


def test_changed_rls_using_is_one_alter() -> None:
    fake = fresh()
    changed = dataclasses.replace(REGION, using="\"region\" IN ('EMEA', 'APAC')")
    desired = state_of([changed if i == REGION else i for i in base_objects()])
    planned = converge(fake, desired)
    assert planned.sql == [alter_using_sql(changed)]
    assert fake.policy_text(RlsPolicy.KIND, REGION.name)[1] == changed.using
    assert_in_sync(fake, desired)


def test_changed_masking_using_is_one_alter() -> None:
    fake = fresh()
    changed = dataclasses.replace(MASK_EMAIL, using="CAST('***' AS VARCHAR(256))")
    desired = state_of([changed if i == MASK_EMAIL else i for i in base_objects()])
    assert converge(fake, desired).sql == [alter_using_sql(changed)]
    assert_in_sync(fake, desired)


def test_whitespace_only_using_change_is_nothing() -> None:
    fake = fresh()
    spaced = dataclasses.replace(REGION, using="  \"region\"   =  'EMEA' ")
    assert plan_for(fake, state_of([spaced if i == REGION else i for i in base_objects()])).statements == []


@pytest.mark.parametrize("policy", [REGION, MASK_EMAIL], ids=["rls", "masking"])
def test_changed_with_columns_rebuilds_the_policy(policy: RlsPolicy | MaskingPolicy) -> None:
    fake = fresh()
    changed = dataclasses.replace(policy, columns=((policy.columns[0][0], "VARCHAR(100)"),))
    desired = state_of([changed if i == policy else i for i in base_objects()])
    planned = converge(fake, desired)
    related = [i for i in base_objects() if getattr(i, "policy", None) == policy.name]
    attachments = sorted((i for i in related if not isinstance(i, RlsLookupGrant)), key=lambda i: i.key())
    lookups = sorted((i for i in related if isinstance(i, RlsLookupGrant)), key=lambda i: i.key())
    assert bool(lookups) == isinstance(policy, RlsPolicy)
    # detach -> revoke its lookup tables -> drop -> create -> grant them again -> attach, in one batch
    assert planned.sql == [*(remove_sql(a) for a in attachments), *(remove_sql(g) for g in lookups),
                           remove_sql(policy), create_sql(changed), *(create_sql(g) for g in lookups),
                           *(create_sql(a) for a in attachments)]
    assert fake.lookup_grants == {("sales", "entitlements", "region only")}
    assert fake.policy_text(policy.KIND, policy.name)[0] == changed.columns
    assert_in_sync(fake, desired)


def test_changed_conjunction_type() -> None:
    fake = fresh()
    desired = state_of([RlsTable("sales", "orders", "or") if isinstance(i, RlsTable) else i for i in base_objects()])
    planned = converge(fake, desired)
    assert planned.sql == ['ALTER TABLE "sales"."orders" ROW LEVEL SECURITY ON CONJUNCTION TYPE OR']
    assert fake.state().of_kind(RlsTable.KIND)[("sales", "orders")].attributes() == ("OR",)
    assert_in_sync(fake, desired)
    assert len(fake.ledger_rows(MODEL)) == len(desired)


def test_changed_masking_priority_is_detach_then_attach() -> None:
    fake = fresh()
    old = MaskingAttachment(MASK_EMAIL.name, "sales", "customers", ("email",), "auditor", (), 10)
    new = dataclasses.replace(old, priority=20)
    desired = state_of([new if i == old else i for i in base_objects()])
    planned = converge(fake, desired)
    assert planned.sql == [remove_sql(old), create_sql(new)]
    assert_in_sync(fake, desired)


def test_swapped_masking_priorities_on_one_column() -> None:
    """Two policies on one column swap priorities: both detach before either attaches again."""
    first = MaskingAttachment(MASK_EMAIL.name, "sales", "customers", ("email",), "engineer", (), 1)
    second = MaskingAttachment(MASK_HIDE.name, "sales", "customers", ("email",), "analyst", (), 2)
    objects = [*without_role(base_objects(), "auditor"), MASK_HIDE]
    objects = [i for i in objects if not isinstance(i, MaskingAttachment)]
    before = state_of([*objects, first, second])
    fake = fresh(before)
    after = state_of([*objects, dataclasses.replace(first, priority=2), dataclasses.replace(second, priority=1)])
    converge(fake, after)
    assert_in_sync(fake, after)


# ------------------------------------------------------------------------------ drift and ownership


@pytest.mark.parametrize("by_hand", [
    ['REVOKE SELECT ON TABLE "sales"."orders" FROM ROLE "analyst"'],
    ['REVOKE ROLE "analyst" FROM ROLE "engineer"'],
    ['ALTER TABLE "sales"."orders" ROW LEVEL SECURITY OFF',
     f'DETACH RLS POLICY "{REGION.name}" ON "sales"."orders" FROM ROLE "auditor"'],
    [f'DETACH MASKING POLICY "{MASK_EMAIL.name}" ON "sales"."customers" ("email") FROM ROLE "analyst"'],
], ids=["table_grant", "role_grant", "rls", "masking"])
def test_drift_on_managed_objects_is_restored(by_hand: list[str]) -> None:
    fake = fresh()
    for sql in by_hand:
        fake.execute(sql)
    planned = converge(fake, BASE)
    assert len(planned.sql) == len(by_hand)
    assert differences(fake.state(), BASE) == []
    assert plan_for(fake, BASE).statements == []


def test_restoring_drift_keeps_one_ledger_row_per_object() -> None:
    """Re-creating a managed object that drifted away replaces its ledger row (was: a second row was inserted)."""
    fake = fresh()
    fake.execute('REVOKE SELECT ON TABLE "sales"."orders" FROM ROLE "analyst"')
    converge(fake, BASE)
    rows = [(kind, key) for kind, key, _ in fake.ledger_rows(MODEL)]
    assert len(rows) == len(set(rows)), sorted(r for r in rows if rows.count(r) > 1)


def test_restoring_a_dropped_policy_leaves_one_fingerprint() -> None:
    """A managed policy dropped by hand and re-created with a new definition keeps one fingerprint (was: the old
    one stayed next to the new one, and which one the ledger read returned depended on row order)."""
    fake = fresh()
    for sql in (f'DETACH RLS POLICY "{REGION.name}" ON "sales"."orders" FROM ROLE "analyst"',
                f'DETACH RLS POLICY "{REGION.name}" ON "sales"."orders" FROM ROLE "auditor"',
                f'DROP RLS POLICY "{REGION.name}"'):
        fake.execute(sql)
    changed = dataclasses.replace(REGION, using="\"region\" = 'APAC'")
    converge(fake, state_of([changed if i == REGION else i for i in base_objects()]))
    fingerprints = [fp for kind, key, fp in fake.ledger_rows(MODEL) if kind == RlsPolicy.KIND]
    assert fingerprints == [recorded_fingerprint(changed)]


def test_forgotten_object_is_not_managed_when_made_again_by_hand() -> None:
    """The ledger row of an object removed by hand and then from the model is forgotten (was: kept forever, so a
    later hand-made object with that key counted as managed and was revoked)."""
    fake = fresh()
    grant = TablePrivilege("sales", "orders", "SELECT", "analyst")
    fake.execute(remove_sql(grant))  # gone by hand ...
    desired = state_of(without(base_objects(), grant))
    converge(fake, desired)  # ... and from the model: nothing to do in the catalog
    fake.execute(create_sql(grant))  # someone grants it again, by hand: it is not ours
    assert plan_for(fake, desired).statements == []


HAND_MADE = [
    'CREATE ROLE "hand made"',
    'GRANT USAGE ON SCHEMA "sales" TO ROLE "hand made"',
    'GRANT ROLE "analyst" TO ROLE "hand made"',
    'GRANT SELECT ON TABLE "hr"."salaries" TO ROLE "analyst"',  # unmanaged grant on a managed role
    'GRANT SELECT ("ssn") ON TABLE "hr"."people" TO ROLE "engineer"',
    'GRANT IGNORE RLS TO ROLE "engineer"',
    'CREATE RLS POLICY "by hand" WITH ("dept" INTEGER) USING ("dept" = 7)',
    'ATTACH RLS POLICY "by hand" ON "hr"."people" TO ROLE "hand made"',
    'ATTACH RLS POLICY "by hand" ON "hr"."people" TO ROLE "analyst"',
    'ALTER TABLE "hr"."people" ROW LEVEL SECURITY ON CONJUNCTION TYPE OR',
    'CREATE MASKING POLICY "hand mask" WITH ("v" INTEGER) USING (0)',
    'ATTACH MASKING POLICY "hand mask" ON "hr"."people" ("salary") USING ("salary") TO ROLE "engineer" PRIORITY 3',
]


def test_unmanaged_objects_are_left_alone_and_pruned_on_request() -> None:
    fake = fresh()
    for sql in HAND_MADE:
        fake.execute(sql)
    with_hand_made = fake.state()
    viewable = [i for i in BASE if i.KIND not in LEDGER_ONLY_KINDS]  # no view shows grants to RLS policies
    assert len(with_hand_made) == len(viewable) + 12
    planned = plan_for(fake, BASE)
    assert planned.statements == [] and planned.adopt == []
    # Prune revokes the hand-made grants, but lifts no restriction on a table the model does not declare: the
    # RLS and masking on hr.people stay, and so does the role they are attached to.
    pruned = converge(fake, BASE, prune=True)
    assert sorted(pruned.sql) == sorted([
        'REVOKE USAGE ON SCHEMA "sales" FROM ROLE "hand made"', 'REVOKE ROLE "analyst" FROM ROLE "hand made"',
        'REVOKE SELECT ON TABLE "hr"."salaries" FROM ROLE "analyst"',
        'REVOKE SELECT ("ssn") ON TABLE "hr"."people" FROM ROLE "engineer"', 'REVOKE IGNORE RLS FROM ROLE "engineer"'])
    assert not any(s.note for s in pruned.statements)
    assert any('role hand made is kept' in note for note in pruned.notes)
    kept = fake.state()
    assert kept.get(RlsTable.KIND, ("hr", "people")) is not None and kept.get(Role.KIND, ("hand made",)) is not None
    assert plan_for(fake, BASE, prune=True).statements == []
    # Listed in lift_undeclared_restrictions, hr.people's restrictions go too, each statement labelled.
    scope = Scope(frozenset({("hr", "people"), ("sales", "orders")}), frozenset({("hr", "people")}))
    lifted = converge(fake, BASE, prune=True, scope=scope)
    assert len(lifted.sql) == 7  # the other hand-made objects
    assert lifted.sql[-1] == 'DROP ROLE "hand made" FORCE'
    labelled = [s.sql for s in lifted.statements if s.note.startswith("widens access")]
    assert sorted(labelled) == sorted([
        'ALTER TABLE "hr"."people" ROW LEVEL SECURITY OFF',
        'DETACH RLS POLICY "by hand" ON "hr"."people" FROM ROLE "hand made"',
        'DETACH RLS POLICY "by hand" ON "hr"."people" FROM ROLE "analyst"',
        'DETACH MASKING POLICY "hand mask" ON "hr"."people" ("salary") FROM ROLE "engineer"'])
    assert_in_sync(fake, BASE, prune=True)


def test_existing_objects_matching_the_model_are_adopted_not_recreated() -> None:
    fake = new_fake()
    desired = state_of(i for i in base_objects() if isinstance(i, Role | SchemaPrivilege | TablePrivilege))
    for item in sorted(desired, key=lambda i: CREATE_ORDER[i.KIND]):
        fake.execute(create_sql(item))
    planned = plan_for(fake, desired)
    assert planned.statements == [] and len(planned.adopt) == len(desired)
    fake.apply(planned, MODEL)
    assert_in_sync(fake, desired)


SYSTEM_HAND_MADE = [
    'GRANT ROLE "sys:secadmin" TO ROLE "auditor"',
    'GRANT ROLE "analyst" TO ROLE "sys:monitor"',
    'GRANT USAGE ON SCHEMA "sales" TO ROLE "sys:dba"',
    'GRANT EXPLAIN RLS TO ROLE "sys:secadmin"',
    f'ATTACH RLS POLICY "{REGION.name}" ON "sales"."orders" TO ROLE "sys:operator"',
]


@pytest.mark.parametrize("include_system", [False, True], ids=["as_read", "with_system_rows"])
def test_system_roles_are_never_touched(include_system: bool) -> None:
    fake = fresh()
    for sql in SYSTEM_HAND_MADE:
        fake.execute(sql)
    before = fake.state(include_system=True)
    assert ("sys:secadmin",) in before.of_kind(Role.KIND)
    planned = plan_for(fake, BASE, prune=True, include_system=include_system)
    assert not any("sys:" in sql for sql in planned.sql), planned.sql
    assert not any(entry.key[-1].startswith("sys:") for entry in planned.adopt)
    fake.apply(planned, MODEL)
    assert differences(fake.state(include_system=True), before) == []


# ------------------------------------------------------------------------------------- names, order

AWKWARD_ROLE = 'AWSIDC:amer sales "x"'
AWKWARD_OTHER = "o'neil-team \\ Été"
AWKWARD_SCHEMA = "ventes été"
AWKWARD_TABLE = 'commandes "2024"'
AWKWARD_COLUMN = "e-mail d'été"
AWKWARD_OBJECTS: list[AccessObject] = [
    Role(AWKWARD_ROLE), Role(AWKWARD_OTHER), Role("Ünïcødé"),
    RoleGrant(AWKWARD_OTHER, AWKWARD_ROLE),
    SchemaPrivilege(AWKWARD_SCHEMA, "USAGE", AWKWARD_ROLE),
    ScopedTablePrivilege(AWKWARD_SCHEMA, "SELECT", "Ünïcødé"),
    TablePrivilege(AWKWARD_SCHEMA, AWKWARD_TABLE, "SELECT", AWKWARD_OTHER),
    ColumnPrivilege(AWKWARD_SCHEMA, AWKWARD_TABLE, AWKWARD_COLUMN, "SELECT", AWKWARD_ROLE),
    SystemPrivilege("EXPLAIN MASKING", AWKWARD_OTHER),
    RlsPolicy('région "EMEA" only', (("région", "VARCHAR(50)"), ("montant total", "DECIMAL(12, 2)")),
              "\"région\" = 'EMEA' AND (\"montant total\" < 1000 OR current_user = 'o''neil \\\\ x')"),
    RlsAttachment('région "EMEA" only', AWKWARD_SCHEMA, AWKWARD_TABLE, AWKWARD_ROLE),
    RlsTable(AWKWARD_SCHEMA, AWKWARD_TABLE, "OR"),
    MaskingPolicy("masque 'haché'", (("valeur", "VARCHAR(256)"),), "SHA2(\"valeur\", 256)"),
    MaskingAttachment("masque 'haché'", AWKWARD_SCHEMA, AWKWARD_TABLE, (AWKWARD_COLUMN,), AWKWARD_OTHER, (), 4),
]


def test_awkward_names_round_trip() -> None:
    desired = state_of(AWKWARD_OBJECTS)
    fake = fresh(desired)
    roles = sorted(fake.state().of_kind(Role.KIND))
    # Role names keep their case (`access_state.role_key`); other names fold ASCII letters only
    assert roles == sorted([(AWKWARD_ROLE,), (AWKWARD_OTHER,), ("Ünïcødé",)])
    assert (AWKWARD_SCHEMA.lower(), "USAGE", AWKWARD_ROLE) in fake.state().of_kind(SchemaPrivilege.KIND)
    assert_in_sync(fake, desired)
    assert converge(fake, state_of([])).sql[-1].startswith("DROP ROLE")
    assert_in_sync(fake, state_of([]))


def test_case_sensitive_identifiers_keep_case() -> None:
    desired = state_of([Role("Sales"), Role("sales"), SchemaPrivilege("S", "USAGE", "Sales"),
                        SchemaPrivilege("s", "USAGE", "sales")], case_sensitive=True)
    fake = fresh(desired, case_sensitive=True)
    assert sorted(fake.state().of_kind(Role.KIND)) == [("Sales",), ("sales",)]
    assert_in_sync(fake, desired)


CASE_SENSITIVE_CHANGES: dict[str, tuple[list[AccessObject], list[AccessObject]]] = {
    # masking USING input column "email" -> "Email": another column once identifiers keep case
    "masking_inputs": ([Role("r"), MaskingPolicy("m", (("v", "VARCHAR(10)"),), "v"),
                        MaskingAttachment("m", "s", "t", ("Email",), "r", ("email",), 1)],
                       [Role("r"), MaskingPolicy("m", (("v", "VARCHAR(10)"),), "v"),
                        MaskingAttachment("m", "s", "t", ("Email",), "r", ("Email",), 1)]),
    # RLS WITH column "region" -> "Region": WITH changed, so the policy must be rebuilt
    "rls_with_column": ([RlsPolicy("p", (("region", "VARCHAR(10)"),), "true")],
                        [RlsPolicy("p", (("Region", "VARCHAR(10)"),), "true")]),
}


@pytest.mark.parametrize("name", sorted(CASE_SENSITIVE_CHANGES))
def test_case_sensitive_column_change_is_seen(name: str) -> None:
    """With case-sensitive identifiers, column names in masking inputs and WITH clauses keep their case when
    compared (was: folded, so these changes planned nothing)."""
    before, after = (state_of(items, case_sensitive=True) for items in CASE_SENSITIVE_CHANGES[name])
    fake = fresh(before, case_sensitive=True)
    assert plan_for(fake, after).statements != []


def test_plans_are_deterministic() -> None:
    fake = fresh()
    for sql in HAND_MADE:
        fake.execute(sql)
    target = state_of(AWKWARD_OBJECTS + without_role(base_objects(), "auditor"))
    shuffled = state_of(reversed(AWKWARD_OBJECTS + without_role(base_objects(), "auditor")))
    current, ledger = fake.state(), fake.ledger(MODEL)
    reversed_current = state_of(reversed(list(current)))
    first = plan(target, current, ledger, prune=True)
    for again in (plan(target, current, ledger, prune=True), plan(shuffled, reversed_current, dict(reversed(
            list(ledger.items()))), prune=True)):
        assert again.sql == first.sql and again.adopt == first.adopt
        assert batches(again, MODEL) == batches(first, MODEL)


# ------------------------------------------------------------------------------------------ batches


def many_roles(count: int) -> list[AccessObject]:
    return [item for i in range(count) for item in (Role(f"role {i:02d}"), SchemaPrivilege("s", "USAGE",
                                                                                             f"role {i:02d}"))]


def catalog_keys(fake: FakeRedshift) -> set[tuple[str, tuple[str, ...]]]:
    return {(item.KIND, item.key()) for item in fake.state()}


def test_large_plans_are_cut_into_batches_that_carry_their_own_ledger_rows() -> None:
    fake = new_fake()
    desired = state_of(many_roles(30))
    planned = plan_for(fake, desired)
    assert len(planned.statements) == 60
    cut = batches(planned, MODEL)
    assert len(cut) == 2 and all(len(b) <= MAX_BATCH_STATEMENTS for b in cut)
    assert all(b[-1].startswith('INSERT INTO "redshift_idc"."managed_object"') for b in cut)
    fake.execute_batch(LedgerTables().bootstrap_sql())
    for batch in cut:  # after every batch the ledger records exactly what the catalog holds
        fake.execute_batch(batch)
        assert set(fake.ledger(MODEL)) == catalog_keys(fake)
    assert_in_sync(fake, desired)
    removal = plan_for(fake, state_of([]))
    cut = batches(removal, MODEL)
    assert len(cut) == 2 and all(b[-1].startswith('DELETE FROM "redshift_idc"."managed_object"') for b in cut)
    for batch in cut:
        fake.execute_batch(batch)
        assert set(fake.ledger(MODEL)) == catalog_keys(fake)
    assert fake.ledger(MODEL) == {}


def test_failed_batch_rolls_back_its_ledger_rows_only() -> None:
    fake = new_fake()
    desired = state_of(many_roles(30))
    planned = plan_for(fake, desired)
    cut = batches(planned, MODEL)
    fake.fail_when = lambda sql: sql == cut[1][len(cut[1]) // 2]  # a statement in the middle of batch 2
    with pytest.raises(RedshiftError, match="injected"):
        fake.apply(planned, MODEL)
    first = {(s.ledger_add[0].kind, s.ledger_add[0].key) for s in planned.statements[:len(cut[0]) - 1]}
    # A batch: its DDL, one ledger INSERT, and room for the reconciler's fence guard and progress.
    assert len(first) == len(cut[0]) - 1 == MAX_BATCH_STATEMENTS - 1 - RESERVED_STATEMENTS
    assert set(fake.ledger(MODEL)) == first == catalog_keys(fake)
    fake.fail_when = None
    converge(fake, desired)  # the next run picks up where batch 1 left off
    assert_in_sync(fake, desired)


def test_adopting_many_long_named_objects_keeps_statements_under_100_kb() -> None:
    """200 adopted rows of long (legal, 127-byte) names pass 100 KB: the adopt INSERTs must be cut by size."""
    role, schema, table = "r" * 127, "s" * 127, "t" * 127
    desired = state_of([Role(role), *(ColumnPrivilege(schema, table, f"{i:03d}" + "c" * 124, "SELECT", role)
                                      for i in range(200))])
    fake = new_fake()
    for item in sorted(desired, key=lambda i: CREATE_ORDER[i.KIND]):
        fake.execute(create_sql(item))  # all made by hand: the plan adopts them
    planned = plan_for(fake, desired)
    assert planned.statements == [] and len(planned.adopt) == 201
    fake.apply(planned, MODEL)
    assert_in_sync(fake, desired)


SECOND_RESTRICTION = RlsPolicy("second restriction", (("amount", "INTEGER"),), "\"amount\" < 100")


@pytest.mark.parametrize("policy", [MASK_EMAIL, REGION], ids=["masking", "rls_and"])
def test_protection_holds_after_every_batch(policy: RlsPolicy | MaskingPolicy) -> None:
    """A big plan that also rebuilds a policy: after every committed batch, each attachment that exists both
    before and after the plan is in place (with AND, a missing RLS policy widens what a role sees)."""
    before = state_of([*base_objects(), SECOND_RESTRICTION,
                       RlsAttachment(SECOND_RESTRICTION.name, "sales", "orders", "analyst")])
    fake = fresh(before)
    changed = dataclasses.replace(policy, columns=((policy.columns[0][0], "VARCHAR(512)"),))
    desired = state_of([*(changed if i == policy else i for i in before),
                        *(Role(f"new role {i:02d}") for i in range(40))])
    kept = {kind: set(before.of_kind(kind)) for kind in (RlsAttachment.KIND, MaskingAttachment.KIND)}
    cut = batches(plan_for(fake, desired), MODEL)
    assert len(cut) == 2
    for batch in cut:
        fake.execute_batch(batch)
        for kind, keys in kept.items():
            assert keys <= set(fake.state().of_kind(kind)), f"{kind}: protection missing after a commit"
    assert_in_sync(fake, desired)


def test_every_kind_is_covered() -> None:
    kinds = {i.KIND for i in base_objects()}
    assert kinds == set(TYPE_BY_KIND)


def test_removing_roles_costs_linear_work_in_the_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing k roles visits each current object a bounded number of times (an index by the roles each
    object names), not k times: counted in calls of `_grantees`, so the test holds on any machine."""
    calls = 0
    original = planner_module._grantees

    def counting(item: AccessObject) -> tuple[str, ...]:
        nonlocal calls
        calls += 1
        return original(item)

    monkeypatch.setattr(planner_module, "_grantees", counting)
    visits = {}
    for roles in (100, 400):
        model = large_model(roles, 5)
        ledger = {(item.KIND, item.key()): item.fingerprint() for item in model}
        current = AccessState.of(o if not isinstance(o, RlsPolicy) else RlsPolicy(o.name) for o in model)
        calls = 0
        planned = plan(AccessState(), current, ledger)  # a Delete: every role leaves
        assert len(planned.statements) == len(current)
        visits[roles] = calls / len(current)
    assert visits[100] <= 3 and visits[400] <= 3  # quadratic removal made this grow with the role count


def test_a_restriction_group_of_the_default_size_fits_one_batch_with_the_reconcilers_statements() -> None:
    from redshift_idc.runtime.ledger import RESERVED_STATEMENTS as LEDGER_RESERVED
    from redshift_idc.runtime.planning.restriction_groups import DEFAULT_GROUP_LIMIT, LEDGER_STATEMENTS_PER_BATCH

    assert DEFAULT_GROUP_LIMIT + LEDGER_STATEMENTS_PER_BATCH + LEDGER_RESERVED == MAX_BATCH_STATEMENTS

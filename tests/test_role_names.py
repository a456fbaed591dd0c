"""Role names keep their case, and GRANT ROLE to a member fails (issue 21, contradictions 7 and 8).

Evidence: quoted user names keep their case (r_enable_case_sensitive_identifier, documented), session roles keep
theirs (`IAM:myGroup`, PG_GET_SESSION_ROLES, documented), an IdC deployment's SVV_ROLES showed
`D2IDC:redshift-users` (seen on a real cluster, REDSHIFT_REFERENCE.md 9.1); GRANT ROLE to a user who already holds
the role fails with `already a member` (seen on a real cluster: gravitational/teleport e2e/aws/redshift_test.go).
"""

from __future__ import annotations

import pytest

from redshift_idc.runtime.access_state import (
    AccessObject,
    AccessState,
    LedgerEntry,
    Role,
    RoleGrant,
    SchemaPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.catalog import parse_snapshot
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.runtime.sql_text import fold
from tests.fake_redshift import FakeRedshift, RedshiftError

MODEL = "roles"
SALES = "AWSIDC:Sales-Team"  # an IdC role, spelled as the IdC group is
ANALYSTS = "AWSIDC:Analysts"


def model(sales: str = SALES, analysts: str = ANALYSTS) -> AccessState:
    items: list[AccessObject] = [
        Role(sales), Role(analysts), RoleGrant(analysts, sales),
        SchemaPrivilege("sales", "USAGE", sales), TablePrivilege("sales", "orders", "SELECT", analysts),
    ]
    return AccessState.of(items)


def planned(fake: FakeRedshift, desired: AccessState) -> Plan:
    return plan(desired, fake.state(), fake.ledger(MODEL))


def deployed(desired: AccessState) -> FakeRedshift:
    fake = FakeRedshift()
    fake.apply(planned(fake, desired), MODEL)
    assert fake.warnings == []
    return fake


def ddl(result: Plan, verb: str) -> list[str]:
    return [sql for sql in result.sql if sql.startswith(verb)]


# ----------------------------------------------------------------------------------- the reader (contradiction 8)


def test_reader_keeps_role_case() -> None:
    """SVV_ROLES as an IdC deployment showed it (`D2IDC:redshift-users`, REDSHIFT_REFERENCE.md 9.1); a grant to it
    in SVV_SCHEMA_PRIVILEGES (columns as r_SVV_SCHEMA_PRIVILEGES documents them). Keys hold the name as written
    (was: folded, so the model's `D2IDC:redshift-users` and a hand-made `d2idc:redshift-users` were one role)."""
    snapshot = parse_snapshot({
        "roles": [("D2IDC:redshift-users",), ("d2idc:redshift-users",)],
        "schema_privileges": [("sales", "USAGE", "D2IDC:redshift-users", "SCHEMA", "role")],
    })
    assert sorted(snapshot.state.of_kind(Role.KIND)) == [("D2IDC:redshift-users",), ("d2idc:redshift-users",)]
    assert list(snapshot.state.of_kind(SchemaPrivilege.KIND)) == [("sales", "USAGE", "D2IDC:redshift-users")]


# ------------------------------------------------------------------------------------------------------ the fake


def test_fake_grant_role_to_a_member_fails() -> None:
    """GRANT ROLE to a member fails (teleport's Redshift e2e test: `already a member`), and takes its batch with it."""
    fake = FakeRedshift()
    fake.execute_batch(['CREATE ROLE "a"', 'CREATE ROLE "b"', 'GRANT ROLE "a" TO ROLE "b"'])
    with pytest.raises(RedshiftError, match="already a member"):
        fake.execute_batch(['CREATE ROLE "c"', 'GRANT ROLE "a" TO ROLE "b"'])
    assert ("c",) not in fake.state().of_kind(Role.KIND)


def test_fake_keeps_role_case() -> None:
    """Roles are stored as written (assumed for CREATE ROLE: the open question); other names fold."""
    fake = FakeRedshift()
    fake.execute_batch([f'CREATE ROLE "{SALES}"', f'CREATE ROLE "{fold(SALES)}"',
                        f'GRANT USAGE ON SCHEMA "Sales" TO ROLE "{SALES}"'])
    assert sorted(fake.state().of_kind(Role.KIND)) == sorted([(SALES,), (fold(SALES),)])
    assert list(fake.state().of_kind(SchemaPrivilege.KIND)) == [("sales", "USAGE", SALES)]
    with pytest.raises(RedshiftError, match="does not exist"):
        fake.execute('GRANT USAGE ON SCHEMA "sales" TO ROLE "AWSIDC:SALES-TEAM"')


# ------------------------------------------------------------------------------------------ the planner (8, then 7)


def test_model_role_is_created_once_as_written() -> None:
    fake = FakeRedshift()
    first = planned(fake, model())
    assert ddl(first, "CREATE ROLE") == [f'CREATE ROLE "{ANALYSTS}"', f'CREATE ROLE "{SALES}"']
    assert f'GRANT ROLE "{ANALYSTS}" TO ROLE "{SALES}"' in first.sql
    fake.apply(first, MODEL)
    assert (SALES,) in fake.state().of_kind(Role.KIND)
    again = planned(fake, model())
    assert again.statements == [] and not again


def test_a_role_differing_only_in_case_is_another_role() -> None:
    """The catalog holds `awsidc:sales-team` (made by hand, not this model's): the model's `AWSIDC:Sales-Team` is
    another role, created, and granted as written (was: taken for the hand-made one, so nothing was created and
    every GRANT ... TO ROLE "AWSIDC:Sales-Team" failed: no such role)."""
    fake = FakeRedshift()
    fake.execute(f'CREATE ROLE "{fold(SALES)}"')
    first = planned(fake, model())
    assert f'CREATE ROLE "{SALES}"' in first.sql
    assert any(f"catalog holds {fold(SALES)}, whose name differs only in case" in note for note in first.notes)
    fake.apply(first, MODEL)
    assert fake.warnings == []
    assert sorted(fake.state().of_kind(Role.KIND)) == sorted([(ANALYSTS,), (SALES,), (fold(SALES),)])
    assert not planned(fake, model())


def folded(kind: str, key: tuple[str, ...]) -> tuple[str, ...]:
    """A key as an earlier version wrote it: role names folded too (where this model's kinds hold them)."""
    parts = {Role.KIND: (0,), RoleGrant.KIND: (0, 1), SchemaPrivilege.KIND: (2,), TablePrivilege.KIND: (3,)}[kind]
    return tuple(fold(part) if i in parts else part for i, part in enumerate(key))


def folded_ledger(fake: FakeRedshift) -> None:
    """Rewrite the fake's ledger as an earlier version wrote it."""
    tables = LedgerTables()
    rows = [LedgerEntry(kind, key, fingerprint) for (kind, key), fingerprint in fake.ledger(MODEL).items()]
    folded_rows = [LedgerEntry(e.kind, folded(e.kind, e.key), e.fingerprint) for e in rows]
    fake.execute_batch([tables.delete_sql(MODEL, rows), tables.insert_sql(MODEL, folded_rows)])


@pytest.mark.parametrize("catalog", ["as written", "folded"])
def test_old_folded_ledger_converges_without_drop_or_create(catalog: str) -> None:
    """A ledger an earlier version wrote (role names folded), with the catalog holding the roles as written (what
    Redshift keeps) or folded (a workgroup that folds them after all, or the earlier fake): no DROP, no CREATE, no
    GRANT again (a GRANT ROLE to a member fails), and the ledger rows are rewritten as the catalog spells them."""
    spelled = model() if catalog == "as written" else model(fold(SALES), fold(ANALYSTS))
    fake = deployed(spelled)
    folded_ledger(fake)
    result = planned(fake, model())
    assert result.statements == []
    if catalog == "as written":
        assert {(e.kind, e.key) for e in result.adopt} == {(i.KIND, i.key()) for i in model()}
        assert {(e.kind, e.key) for e in result.forget} == {(i.KIND, folded(i.KIND, i.key())) for i in model()}
    fake.apply(result, MODEL)
    assert fake.warnings == []
    assert fake.ledger(MODEL) == {(i.KIND, i.key()): "" for i in spelled}
    assert not planned(fake, model())


def test_our_role_spelled_in_another_case_is_not_granted_again() -> None:
    """The catalog spells this model's roles in another case than the model now does (a respelled model, or a
    workgroup that folded our CREATE ROLE): the plan names them as the catalog does, so it neither creates them
    again nor re-emits a GRANT ROLE the catalog shows (which fails its whole batch: `already a member`)."""
    fake = deployed(model(fold(SALES), fold(ANALYSTS)))
    result = planned(fake, model())
    assert ddl(result, "CREATE") == [] and ddl(result, "GRANT") == [] and not result
    assert any(f"role {SALES} is this model's role {fold(SALES)}" in note for note in result.notes)
    more = AccessState.of([*model(), SchemaPrivilege("hr", "USAGE", SALES)])
    added = planned(fake, more)
    assert added.sql == [f'GRANT USAGE ON SCHEMA "hr" TO ROLE "{fold(SALES)}"']
    fake.apply(added, MODEL)
    assert fake.warnings == []


def test_prune_keeps_both_roles_apart() -> None:
    """With prune, a hand-made role differing only in case from the model's is another role: its grants are revoked
    and it is dropped, the model's stay (was: one key for both, so one of them was invisible)."""
    fake = deployed(model())
    fake.execute_batch([f'CREATE ROLE "{fold(SALES)}"', f'GRANT USAGE ON SCHEMA "sales" TO ROLE "{fold(SALES)}"'])
    pruned = plan(model(), fake.state(), fake.ledger(MODEL), prune=True)
    assert pruned.sql == [f'REVOKE USAGE ON SCHEMA "sales" FROM ROLE "{fold(SALES)}"',
                          f'DROP ROLE "{fold(SALES)}" FORCE']
    fake.apply(pruned, MODEL)
    assert fake.state().of_kind(Role.KIND).keys() == {(SALES,), (ANALYSTS,)}


def test_old_folded_ledger_still_removes_what_the_model_drops() -> None:
    """A row an earlier version wrote (role name folded) still makes the object this model's: dropped from the model,
    the grant is revoked and the role dropped, without prune (was, with exact names alone: the folded row matched
    nothing, so the object counted as someone else's and kept its access)."""
    fake = deployed(model())
    folded_ledger(fake)
    smaller = AccessState.of([Role(ANALYSTS), TablePrivilege("sales", "orders", "SELECT", ANALYSTS)])
    result = planned(fake, smaller)
    assert result.sql == [f'REVOKE USAGE ON SCHEMA "sales" FROM ROLE "{SALES}"',
                          f'REVOKE ROLE "{ANALYSTS}" FROM ROLE "{SALES}"', f'DROP ROLE "{SALES}" FORCE']
    fake.apply(result, MODEL)
    assert fake.warnings == []
    assert fake.ledger(MODEL) == {(i.KIND, i.key()): "" for i in smaller}
    assert not planned(fake, smaller)

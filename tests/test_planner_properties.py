"""Property: from any valid access state A to any valid B, the planner's plan applies cleanly on a
Redshift-like catalog (`tests/fake_redshift.py` refuses wrongly ordered DDL) and converges:

    empty --plan(A)--> A --plan(B, state(A), ledger(A))--> B, and plan(B, state(B), ledger(B)) is empty.

States are small but awkward: names with spaces, quotes, hyphens, upper case and non-ASCII letters,
referenced in varying ASCII case (Redshift folds them), except role names: a state spells each role one way
(role names keep their case, `access_state.role_key`), and a role B spells in another case than A keeps A's
spelling (`planning/role_names.py`); RLS policies with 1-2 WITH columns; masking
attachments with distinct priorities per column. B is either drawn independently or derived from A
(drops, a rename, changed USING/WITH/conjunction/priority/inputs), so in-place changes are exercised.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redshift_idc.runtime.access_state import (
    COLUMN_PRIVILEGES,
    SCHEMA_PRIVILEGES,
    SYSTEM_PRIVILEGES,
    TABLE_PRIVILEGES,
    AccessObject,
    AccessState,
    ColumnPrivilege,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
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
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.object_sql import remove_sql
from redshift_idc.runtime.planning.phases import REMOVE_ORDER
from redshift_idc.runtime.sql_text import fold, quote_ident
from tests.fake_redshift import FakeRedshift, differences, role_names

MODEL = "property"

# Base names are distinct once folded; a state may spell each in any ASCII case.
ROLE_NAMES = ("analyst", "Data Eng", 'qu"ote', "hy-phen", "o'neil", "équipe", "ÜBER straße", "x")
SCHEMAS = ("sales", "Été data")
TABLES = ("orders", 'line "items"')
COLUMNS = ("region", "Amount", "e-mail", "nom été")
TYPES = ("VARCHAR(50)", "INTEGER", "DECIMAL(10, 2)", "varchar( 20 )")
RLS_NAMES = ("rls a", 'rls "b"', "Rls-c")
MASKING_NAMES = ("mask a", "Mask 'b'")

CASES: tuple[Callable[[str], str], ...] = (
    lambda n: n,
    lambda n: "".join(c.upper() if c.isascii() else c for c in n),
    lambda n: "".join(c.lower() if c.isascii() else c for c in n),
)


@st.composite
def access_states(draw: st.DrawFn) -> AccessState:
    def spell(name: str) -> str:
        return draw(st.sampled_from(CASES))(name)

    def some(values: tuple[str, ...]) -> str:
        return spell(draw(st.sampled_from(values)))

    roles = draw(st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=5, unique=True))
    spelled = {r: spell(r) for r in roles}  # one spelling per role: role names keep their case
    items: list[AccessObject] = [Role(spelled[r]) for r in roles]

    def role() -> str:
        return spelled[draw(st.sampled_from(roles))]

    def few() -> int:
        return draw(st.integers(0, 3))

    # role -> role grants only "forward" in the drawn order: no cycles
    pairs = [(a, b) for i, a in enumerate(roles) for b in roles[i + 1:]]
    if pairs:
        for granted, grantee in draw(st.lists(st.sampled_from(pairs), max_size=3, unique=True)):
            items.append(RoleGrant(spelled[granted], spelled[grantee]))
    items += [SchemaPrivilege(some(SCHEMAS), draw(st.sampled_from(SCHEMA_PRIVILEGES)), role()) for _ in range(few())]
    items += [ScopedTablePrivilege(some(SCHEMAS), draw(st.sampled_from(TABLE_PRIVILEGES)), role())
              for _ in range(few())]
    items += [TablePrivilege(some(SCHEMAS), some(TABLES), draw(st.sampled_from(TABLE_PRIVILEGES)), role())
              for _ in range(few())]
    items += [ColumnPrivilege(some(SCHEMAS), some(TABLES), some(COLUMNS), draw(st.sampled_from(COLUMN_PRIVILEGES)),
                              role()) for _ in range(few())]
    items += [SystemPrivilege(draw(st.sampled_from(SYSTEM_PRIVILEGES)), role()) for _ in range(few())]

    rls = draw(st.lists(st.sampled_from(RLS_NAMES), max_size=2, unique=True))
    for name in rls:
        columns = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=2, unique=True))
        first = quote_ident(columns[0])
        using = draw(st.sampled_from((f"{first} IS NOT NULL", f"{first} = 'o''neil'", "current_user = 'x'",
                                      f"({first} IS NULL) OR  true")))
        items.append(RlsPolicy(spell(name), tuple((spell(c), draw(st.sampled_from(TYPES))) for c in columns), using))
    if rls:
        items += [RlsAttachment(some(tuple(rls)), some(SCHEMAS), some(TABLES), role()) for _ in range(few())]
    items += [RlsTable(some(SCHEMAS), some(TABLES), draw(st.sampled_from(("AND", "OR", "and"))))
              for _ in range(draw(st.integers(0, 2)))]

    masking = draw(st.lists(st.sampled_from(MASKING_NAMES), max_size=2, unique=True))
    for name in masking:
        type_ = draw(st.sampled_from(TYPES))
        using = draw(st.sampled_from((f"CAST(NULL AS {type_})", "\"v\"", "SHA2(\"v\", 256)")))
        items.append(MaskingPolicy(spell(name), (("v", type_),), using))
    if masking:
        taken: set[tuple[str, ...]] = set()  # (schema, table, column, role) and (schema, table, column, priority)
        for _ in range(few()):
            schema, table, column, grantee = some(SCHEMAS), some(TABLES), some(COLUMNS), role()
            priority = draw(st.integers(0, 3))
            where = (fold(schema), fold(table), fold(column))
            if {(*where, fold(grantee)), (*where, str(priority))} & taken:
                continue
            taken |= {(*where, fold(grantee)), (*where, str(priority))}
            inputs = draw(st.sampled_from(((), (spell(column),), (some(COLUMNS),))))
            items.append(MaskingAttachment(some(tuple(masking)), schema, table, (column,), grantee, inputs, priority))
    return AccessState.of(items)


def _replace_names(item: AccessObject, old: str, new: str) -> AccessObject:
    """`item` with role `old` (any spelling) renamed to `new`."""
    changes = {f: new for f in ("name", "role", "grantee") if fold(str(getattr(item, f, ""))) == fold(old)}
    if isinstance(item, RlsPolicy | MaskingPolicy):
        changes.pop("name", None)
    return dataclasses.replace(item, **changes)


@st.composite
def successors(draw: st.DrawFn, a: AccessState) -> AccessState:
    """B close to A, so the in-place changes get exercised: objects dropped (a role or policy with all
    that names it), a role renamed, USING and WITH changed, conjunctions flipped, masking priorities and
    inputs changed."""
    items = list(a)
    gone_roles = {fold(key[0]) for key in a.of_kind(Role.KIND) if draw(st.integers(0, 4)) == 0}
    gone_policies = {p.key()[0] for kind in (RlsPolicy.KIND, MaskingPolicy.KIND) for p in a.of_kind(kind).values()
                     if draw(st.integers(0, 3)) == 0}
    kept: list[AccessObject] = []
    for item in items:
        if any(fold(n) in gone_roles for n in role_names(item)):
            continue
        if fold(getattr(item, "policy", getattr(item, "name", ""))) in gone_policies and not isinstance(item, Role):
            continue
        if not isinstance(item, Role | RlsPolicy | MaskingPolicy) and draw(st.integers(0, 4)) == 0:
            continue
        kept.append(item)
    changed: list[AccessObject] = []
    for item in kept:
        if isinstance(item, RlsPolicy | MaskingPolicy) and draw(st.booleans()):
            if draw(st.booleans()):
                item = dataclasses.replace(item, using=f"({item.using}) AND current_user <> 'z'"
                                           if isinstance(item, RlsPolicy) else f"COALESCE({item.using}, NULL)")
            else:
                (name, type_), *rest = item.columns
                item = dataclasses.replace(item, columns=((name, "VARCHAR(99)" if type_ != "VARCHAR(99)" else
                                                           "INTEGER"), *rest))
        elif isinstance(item, RlsTable) and draw(st.booleans()):
            item = dataclasses.replace(item, conjunction="OR" if item.attributes() == ("AND",) else "AND")
        elif isinstance(item, MaskingAttachment) and draw(st.booleans()):
            if draw(st.booleans()):
                item = dataclasses.replace(item, priority=item.priority + 4)  # stays unique on its column
            else:
                item = dataclasses.replace(item, input_columns=(draw(st.sampled_from(COLUMNS)),))
        changed.append(item)
    unused = [n for n in ROLE_NAMES if fold(n) not in {fold(key[0]) for key in a.of_kind(Role.KIND)}]
    present = sorted(r.name for r in changed if isinstance(r, Role))
    rename: bool = draw(st.booleans())
    if unused and present and rename:
        old, new = draw(st.sampled_from(present)), draw(st.sampled_from(unused))
        changed = [_replace_names(i, old, new) for i in changed]
    return AccessState.of(changed)


@st.composite
def transitions(draw: st.DrawFn) -> tuple[AccessState, AccessState]:
    a = draw(access_states())
    return a, draw(st.one_of(access_states(), successors(a)))


def as_catalog_spells(b: AccessState, a: AccessState) -> AccessState:
    """B as the catalog holds it after A: a role B spells in another case than A is A's role, as A spelled it
    (this model's role, `planning/role_names.py`)."""
    spelling = {fold(key[0]): key[0] for key in a.of_kind(Role.KIND)}
    items = list(b)
    for (name,) in b.of_kind(Role.KIND):
        old = spelling.get(fold(name), name)
        if old != name:
            items = [dataclasses.replace(i, **{f: old for f in ("name", "role", "grantee")
                                               if getattr(i, f, None) == name and not
                                               isinstance(i, RlsPolicy | MaskingPolicy)}) for i in items]
    return AccessState.of(items)


def converge(fake: FakeRedshift, desired: AccessState) -> None:
    fake.apply(plan(desired, fake.state(), fake.ledger(MODEL)), MODEL)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transition=transitions())
def test_any_state_converges_to_any_other(transition: tuple[AccessState, AccessState]) -> None:
    a, b = transition
    fake = FakeRedshift()
    converge(fake, a)
    assert differences(fake.state(), a) == []
    converge(fake, b)
    held = as_catalog_spells(b, a)
    assert differences(fake.state(), held) == []
    assert fake.warnings == []  # no redundant GRANT/REVOKE/RLS OFF on the way
    rows = [(kind, key) for kind, key, _ in fake.ledger_rows(MODEL)]
    assert len(rows) == len(set(rows))
    ledger = fake.ledger(MODEL)
    assert ledger == {(item.KIND, item.key()): recorded_fingerprint(item) for item in held}
    again = plan(b, fake.state(), ledger)
    assert again.statements == [] and again.adopt == [] and not again


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transition=transitions(), prune=st.booleans(), data=st.data())
def test_converges_after_objects_were_removed_by_hand(transition: tuple[AccessState, AccessState], prune: bool,
                                                      data: st.DataObject) -> None:
    """Some of A's objects are removed by hand before planning B: the drifted ones B still wants are made
    again, the rest are forgotten, and the ledger ends up holding B exactly, one row per object."""
    a, b = transition
    fake = FakeRedshift()
    converge(fake, a)
    items = [i for i in a if not isinstance(i, Role)]
    gone = {(i.KIND, i.key()) for i in items if data.draw(st.integers(0, 3)) == 0}
    gone |= {(i.KIND, i.key()) for i in items if isinstance(i, RlsAttachment) and (RlsPolicy.KIND, i.key()[:1]) in gone}
    gone |= {(i.KIND, i.key()) for i in items
             if isinstance(i, MaskingAttachment) and (MaskingPolicy.KIND, i.key()[:1]) in gone}
    for item in sorted((i for i in items if (i.KIND, i.key()) in gone), key=lambda i: REMOVE_ORDER[i.KIND]):
        fake.execute(remove_sql(item))
    fake.apply(plan(b, fake.state(), fake.ledger(MODEL), prune=prune), MODEL)
    held = as_catalog_spells(b, a)
    assert differences(fake.state(), held) == []
    assert fake.warnings == []
    rows = [(kind, key) for kind, key, _ in fake.ledger_rows(MODEL)]
    assert len(rows) == len(set(rows))
    assert fake.ledger(MODEL) == {(item.KIND, item.key()): recorded_fingerprint(item) for item in held}
    assert not plan(b, fake.state(), fake.ledger(MODEL), prune=prune)

"""The states a plan passes through: one kept up to date delta by delta (each table's rules changed object
by object), the deltas between given states, and a state with the catalog's policy definitions."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence

from redshift_idc.access.transition.principals import Principal, effective_roles
from redshift_idc.access.transition.table_rules import Mark, Table, TableRules, grantee_affected
from redshift_idc.runtime.access_state import (
    AccessObject,
    AccessState,
    ColumnPrivilege,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.planning.scope import table_of


def with_definitions(state: AccessState, definitions: AccessState | None) -> AccessState:
    """`state` whose policies carry the catalog's definitions (their WITH columns and USING text), where read."""
    if definitions is None:
        return state
    result = AccessState.of(state, state.case_sensitive)
    for kind in (RlsPolicy.KIND, MaskingPolicy.KIND):
        for key in state.of_kind(kind):
            defined = definitions.get(kind, key)
            if defined is not None:
                result.add(defined)
    return result


class World:
    """One state, kept up to date delta by delta, with each table's rules changed object by object (a plan of 600
    batches changes a few tables per batch)."""

    def __init__(self, state: AccessState, tables: Iterable[Table]) -> None:
        self.cs = state.case_sensitive
        self.objects: dict[Mark, AccessObject] = {}
        self.policies: dict[Mark, AccessObject] = {}
        self.by_schema: dict[str, set[Table]] = {}
        for table in tables:
            self.by_schema.setdefault(table[0], set()).add(table)
        self.all_tables = {t for ts in self.by_schema.values() for t in ts}
        self.tables = {t: TableRules(t, self.policies) for t in self.all_tables}
        self.attached: dict[Mark, Counter[Table]] = {}  # (policy kind, (name,)) -> tables it is attached to
        self.granted: dict[str, set[str]] = {}
        self.apply((), state, False)

    def _tables_of(self, mark: Mark) -> set[Table]:
        kind, key = mark
        if kind in (TablePrivilege.KIND, ColumnPrivilege.KIND, RlsTable.KIND):
            return {(key[0], key[1])} & self.all_tables
        if kind in (RlsAttachment.KIND, MaskingAttachment.KIND):
            return {(key[1], key[2])} & self.all_tables
        if kind in (ScopedTablePrivilege.KIND, SchemaPrivilege.KIND):
            return set(self.by_schema.get(key[0], ()))
        if kind == SystemPrivilege.KIND and key[0] == "IGNORE RLS":
            return set(self.all_tables)
        if kind in (RlsPolicy.KIND, MaskingPolicy.KIND):
            return set(self.attached.get(mark, ()))
        return set()

    def _index(self, mark: Mark, item: AccessObject, *, add: bool) -> set[Table]:
        kind, key = mark
        if kind == RoleGrant.KIND:
            (self.granted.setdefault(key[1], set()).add if add else self.granted.get(key[1], set()).discard)(key[0])
            return set()
        if kind in (RlsPolicy.KIND, MaskingPolicy.KIND):
            if add:
                self.policies[mark] = item
            else:
                self.policies.pop(mark, None)
            return self._tables_of(mark)
        if kind in (RlsAttachment.KIND, MaskingAttachment.KIND):
            policy = (RlsPolicy.KIND if kind == RlsAttachment.KIND else MaskingPolicy.KIND, (key[0],))
            tables = self.attached.setdefault(policy, Counter())
            tables[(key[1], key[2])] += 1 if add else -1
            if tables[(key[1], key[2])] <= 0:
                del tables[(key[1], key[2])]
        touched = self._tables_of(mark)
        for table in touched:
            self.tables[table].change(mark, item, add=add)
        return touched

    def apply(self, removes: Iterable[AccessObject], adds: Iterable[AccessObject], cs: bool,
              ) -> tuple[dict[Table, set[str] | None], bool]:
        """Apply a delta; returns the tables whose rules changed, each with the grantees whose view of it may have
        changed (None: anyone's), and whether any role grant changed."""
        touched: dict[Table, set[str] | None] = {}
        roles = False
        for items, add in ((removes, False), (adds, True)):
            for item in items:
                mark = (item.KIND, item.key(cs))
                roles = roles or item.KIND == RoleGrant.KIND
                if add:
                    if mark in self.objects:
                        self._index(mark, self.objects[mark], add=False)
                    self.objects[mark] = item
                elif self.objects.pop(mark, None) is None:
                    continue
                grantee = grantee_affected(mark)
                for table in self._index(mark, item, add=add):
                    found = touched.setdefault(table, set())
                    if found is not None:
                        if grantee is None:
                            touched[table] = None
                        else:
                            found.add(grantee)
        return touched, roles

    def table_rules(self, table: Table) -> TableRules:
        return self.tables[table]

    def effective(self, principal: Principal) -> frozenset[str]:
        return effective_roles(self.granted, principal.direct)


def deltas_of_states(states: Sequence[AccessState]) -> list[tuple[list[AccessObject], list[AccessObject]]]:
    deltas = []
    for before, after in itertools.pairwise(states):
        removes, adds = [], []
        for kind in set(before.objects) | set(after.objects):
            old, new = before.of_kind(kind), after.of_kind(kind)
            removes += [item for key, item in old.items() if new.get(key) != item]
            adds += [item for key, item in new.items() if old.get(key) != item]
        deltas.append((removes, adds))
    return deltas


def tables_named(items: Iterable[AccessObject], cs: bool) -> set[Table]:
    return {table for item in items for table in [table_of(item, item.key(cs))] if table is not None}

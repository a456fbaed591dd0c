"""What ties restriction statements to tables, read from both states (a plan goes from one to the other): which
statements must commit together (`restriction_groups.py`), and which role grants are restriction changes rather
than plain grants (`state.PlanState.phase_of`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessObject,
    AccessState,
    ColumnPrivilege,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsLookupGrant,
    RlsPolicy,
    RlsTable,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.planning.plan_types import Statement
from redshift_idc.runtime.planning.scope import table_of


class Links:
    """What ties restriction statements to tables: the tables each policy is attached to, the roles each
    role reaches through role grants, and what those roles hold (both states: the plan goes from one to the
    other). `fold_name` and `key_of` are the planner's (names folded once, keys as the states hold them)."""

    def __init__(self, current: AccessState, desired: AccessState, declared_tables: Iterable[tuple[str, str]],
                 fold_name: Callable[[str], str], key_of: Callable[[AccessObject], tuple[str, ...]]) -> None:
        self.key_of = key_of
        states = (current, desired)
        self.policy_tables: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self.role_tables: dict[str, set[tuple[str, str]]] = {}
        self.restricting: set[str] = set()
        self.granted: dict[str, set[str]] = {}
        schema_tables: dict[str, set[tuple[str, str]]] = {}
        for s, t in declared_tables:
            schema_tables.setdefault(fold_name(s), set()).add((fold_name(s), fold_name(t)))
        for state in states:
            for kind in (RlsAttachment.KIND, MaskingAttachment.KIND, RlsTable.KIND, TablePrivilege.KIND,
                         ColumnPrivilege.KIND):
                for key in state.of_kind(kind):
                    table = (key[1], key[2]) if kind in (RlsAttachment.KIND, MaskingAttachment.KIND) else key[:2]
                    schema_tables.setdefault(table[0], set()).add((table[0], table[1]))
        for state in states:
            for kind, policy_kind in ((RlsAttachment.KIND, RlsPolicy.KIND), (MaskingAttachment.KIND,
                                                                             MaskingPolicy.KIND)):
                for key, item in state.of_kind(kind).items():
                    table = (key[1], key[2])
                    self.policy_tables.setdefault((policy_kind, key[0]), set()).add(table)
                    grantee = key[-1] if kind == RlsAttachment.KIND else key[4]
                    if getattr(item, "grantee", "") != PUBLIC_GRANTEE:
                        self.restricting.add(grantee)
                        self.role_tables.setdefault(grantee, set()).add(table)
            for key in state.of_kind(RoleGrant.KIND):
                self.granted.setdefault(key[1], set()).add(key[0])
            for kind in (TablePrivilege.KIND, ColumnPrivilege.KIND):
                for key in state.of_kind(kind):
                    self.role_tables.setdefault(key[-1], set()).add((key[0], key[1]))
            for kind in (ScopedTablePrivilege.KIND, SchemaPrivilege.KIND):
                for key in state.of_kind(kind):
                    self.role_tables.setdefault(key[-1], set()).update(schema_tables.get(key[0], ()))
        self._closures: dict[str, frozenset[str]] = {}

    def closure(self, role: str) -> frozenset[str]:
        """`role` and every role granted to it, transitively (in either state)."""
        found = self._closures.get(role)
        if found is None:
            seen = {role}
            todo = [role]
            while todo:
                for granted in self.granted.get(todo.pop(), ()):
                    if granted not in seen:
                        seen.add(granted)
                        todo.append(granted)
            found = self._closures[role] = frozenset(seen)
        return found

    def carries_restrictions(self, role: str) -> bool:
        """Whether granting or revoking `role` changes a principal's restrictions, not only its privileges."""
        return not self.restricting.isdisjoint(self.closure(role))

    def anchor(self, statement: Statement) -> tuple[str, str]:
        """What groups a restriction statement that reaches no table (a policy attached nowhere, a role grant of
        roles holding nothing): its policy, so a rebuild's drop and create stay together, or itself."""
        item = (statement.adds or statement.removes)[0]
        key = self.key_of(item)
        if isinstance(item, RlsLookupGrant):
            return ("", f"{RlsPolicy.KIND} {key[2]}")
        return ("", f"{item.KIND} {json.dumps(list(key))}")

    def tables_of(self, statement: Statement) -> set[tuple[str, str]]:
        """The tables whose view a restriction statement changes."""
        item = (statement.adds or statement.removes)[0]
        key = self.key_of(item)
        table = table_of(item, key)
        if table is not None:
            return {table}
        if isinstance(item, RlsPolicy | MaskingPolicy):
            return set(self.policy_tables.get((item.KIND, key[0]), ()))
        if isinstance(item, RlsLookupGrant):
            return set(self.policy_tables.get((RlsPolicy.KIND, key[2]), ()))
        if isinstance(item, RoleGrant):
            return set().union(*(self.role_tables.get(r, set()) for r in self.closure(key[0])))
        return set()

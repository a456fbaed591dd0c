"""The compiled desired state as the preview reads it: grants and policies indexed by (folded) role, table
and schema, and the roles a principal holds through role grants."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redshift_idc.runtime.access_state import (
    AccessState,
    ColumnPrivilege,
    DefaultPrivilege,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsLookupGrant,
    RlsPolicy,
    RlsTable,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.sql_text import fold

PUBLIC = "public"


class Rules:
    """The model's grants and policies, indexed by (folded) role, table and schema."""

    def __init__(self, desired: AccessState) -> None:
        self.cs = desired.case_sensitive
        f = self.fold
        self.granted: dict[str, set[str]] = {}  # grantee -> roles granted to it
        for item in desired.of_kind(RoleGrant.KIND).values():
            assert isinstance(item, RoleGrant)
            self.granted.setdefault(f(item.grantee), set()).add(f(item.role))
        self.table_select = {(f(i.schema), f(i.table), f(i.grantee)) for i in _of(desired, TablePrivilege)
                             if i.privilege == "SELECT"}
        self.scoped_select = {(f(i.schema), f(i.grantee)) for i in _of(desired, ScopedTablePrivilege)
                              if i.privilege == "SELECT"}
        self.usage = {(f(i.schema), f(i.grantee)) for i in _of(desired, SchemaPrivilege) if i.privilege == "USAGE"}
        self.column_select: dict[tuple[str, str, str], set[str]] = {}
        for c in _of(desired, ColumnPrivilege):
            if c.privilege == "SELECT":
                self.column_select.setdefault((f(c.schema), f(c.table), f(c.grantee)), set()).add(f(c.column))
        self.ignore_rls = {f(i.grantee) for i in _of(desired, SystemPrivilege) if i.privilege == "IGNORE RLS"}
        self.rls_tables = {(f(t.schema), f(t.table)): t.conjunction.upper() for t in _of(desired, RlsTable)}
        self.rls_policies = {f(p.name): p for p in _of(desired, RlsPolicy)}
        # table -> (grantee, policy) of each attachment, folded (every persona's view filters them), in key order
        self.rls_attached: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for a in sorted(_of(desired, RlsAttachment), key=lambda a: a.key(self.cs)):
            self.rls_attached.setdefault((f(a.schema), f(a.table)), []).append((f(a.grantee), f(a.policy)))
        self.lookups = sorted({(g.schema, g.table, g.policy) for g in _of(desired, RlsLookupGrant)})
        self.masking_policies = {f(p.name): p for p in _of(desired, MaskingPolicy)}
        self.masking_attached: dict[tuple[str, str], list[MaskingAttachment]] = {}
        for m in sorted(_of(desired, MaskingAttachment), key=lambda m: m.key(self.cs)):
            self.masking_attached.setdefault((f(m.schema), f(m.table)), []).append(m)
        # (creator, schema, objects) -> grantee -> privileges: what the model's default privileges give later objects
        self.defaults: dict[tuple[str, str, str], dict[str, set[str]]] = {}
        for d in _of(desired, DefaultPrivilege):
            by_grantee = self.defaults.setdefault((d.creator, d.schema, d.objects), {})
            by_grantee.setdefault(f(d.grantee), set()).add(d.privilege)

    def fold(self, name: str) -> str:
        return fold(name, self.cs)

    def has_usage(self, schema: str, roles: Iterable[str]) -> bool:
        """Whether any of `roles` (folded) may use the (folded) schema: granted USAGE, or `public`, whose USAGE
        everyone has by default [D24]."""
        return schema == PUBLIC or any((schema, role) in self.usage for role in roles)

    def roles_of(self, direct: Iterable[str]) -> tuple[str, ...]:
        """Direct roles, every role granted to them transitively, and PUBLIC."""
        held = {self.fold(r) for r in direct}
        todo = list(held)
        while todo:
            for role in self.granted.get(todo.pop(), ()):
                if role not in held:
                    held.add(role)
                    todo.append(role)
        return (*sorted(held), PUBLIC)


def _of(desired: AccessState, kind: type[Any]) -> list[Any]:
    return list(desired.of_kind(kind.KIND).values())

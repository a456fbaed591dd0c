"""One table's rules in one state: everything that decides what anyone sees of it, indexed by grantee and
changed object by object as a plan's batches are replayed."""

from __future__ import annotations

import functools
import json
from collections import Counter
from typing import Any

from redshift_idc.access.preview.rules import PUBLIC
from redshift_idc.access.transition.restrictions import Restrictions
from redshift_idc.runtime.access_state import (
    AccessObject,
    ColumnPrivilege,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)

Table = tuple[str, str]  # (schema, table), folded
Mark = tuple[str, tuple[str, ...]]  # (kind, key) of an access object


@functools.lru_cache(maxsize=4096)
def _definition(policy: AccessObject | None) -> str:
    if isinstance(policy, RlsPolicy | MaskingPolicy):
        return json.dumps([list(map(list, policy.columns)), policy.using])
    return ""


class TableRules:
    """Everything in one state that decides what anyone sees of one table (role grants aside), indexed by grantee
    and kept up to date object by object: its table, column and scoped grants, its schema's USAGE, IGNORE RLS, its
    RLS and masking (the policies' definitions are looked up in `policies`, shared by every table of a state)."""

    def __init__(self, table: Table, policies: dict[Mark, AccessObject]) -> None:
        self.table = table
        self.policies = policies
        self.members: dict[Mark, AccessObject] = {}
        self.select: set[str] = set()
        self.scoped: set[str] = set()
        self.usage: set[str] = set()
        self.columns: dict[str, set[str]] = {}
        self.ignore: set[str] = set()
        self.rls: RlsTable | None = None
        self.rls_attached: dict[str, set[str]] = {}  # grantee -> policy names
        self.masks: dict[str, dict[Mark, tuple[int, tuple[str, ...], str]]] = {}  # grantee -> attachment -> ...
        self.grantees: Counter[str] = Counter({PUBLIC: 1})
        self._signature: frozenset[AccessObject] | None = None
        self.profiles: dict[str, tuple[Any, ...]] = {}  # grantee -> what it holds here (cached until it changes)
        self.table_wide = 0  # counts changes that concern every grantee (RLS on or off, a policy's definition)

    def change(self, mark: Mark, item: AccessObject, *, add: bool) -> None:
        key = mark[1]
        self._signature = None
        grantee_of = grantee_affected(mark)
        if grantee_of is None:
            self.table_wide += 1
            self.profiles.pop(PUBLIC, None)
        else:
            self.profiles.pop(grantee_of, None)
        if add:
            self.members[mark] = item
        else:
            self.members.pop(mark, None)
        grantee: str | None = None
        if isinstance(item, TablePrivilege) and item.privilege == "SELECT":
            grantee = key[3]
            (self.select.add if add else self.select.discard)(grantee)
        elif isinstance(item, ScopedTablePrivilege) and item.privilege == "SELECT":
            grantee = key[2]
            (self.scoped.add if add else self.scoped.discard)(grantee)
        elif isinstance(item, SchemaPrivilege) and item.privilege == "USAGE":
            grantee = key[2]
            (self.usage.add if add else self.usage.discard)(grantee)
        elif isinstance(item, ColumnPrivilege) and item.privilege == "SELECT":
            grantee = key[4]
            self._in(self.columns, grantee, key[2], add)
        elif isinstance(item, SystemPrivilege) and item.privilege == "IGNORE RLS":
            grantee = key[1]
            (self.ignore.add if add else self.ignore.discard)(grantee)
        elif isinstance(item, RlsTable):
            self.rls = item if add else None
        elif isinstance(item, RlsAttachment):
            grantee = key[3]
            self._in(self.rls_attached, grantee, key[0], add)
        elif isinstance(item, MaskingAttachment):
            grantee = key[4]
            masks = self.masks.setdefault(grantee, {})
            if add:
                masks[mark] = (item.priority, tuple(key[3].split(",")), key[0])
            else:
                masks.pop(mark, None)
                if not masks:
                    del self.masks[grantee]
        if grantee is not None:
            self.grantees[grantee] += 1 if add else -1
            if self.grantees[grantee] <= 0:
                del self.grantees[grantee]

    @staticmethod
    def _in(index: dict[str, set[str]], grantee: str, value: str, add: bool) -> None:
        if add:
            index.setdefault(grantee, set()).add(value)
        else:
            index.get(grantee, set()).discard(value)
            if not index.get(grantee, True):
                del index[grantee]

    def _policy(self, kind: str, name: str) -> tuple[str, str]:
        return (name, _definition(self.policies.get((kind, (name,)))))

    def used_policies(self) -> list[AccessObject]:
        names = {(RlsPolicy.KIND, n) for ns in self.rls_attached.values() for n in ns}
        names |= {(MaskingPolicy.KIND, m[2]) for ms in self.masks.values() for m in ms.values()}
        return [self.policies[(kind, (n,))] for kind, n in sorted(names) if (kind, (n,)) in self.policies]

    @property
    def signature(self) -> frozenset[AccessObject]:
        """The table's objects and its policies: what the preview's evaluator takes, and what caches its views."""
        if self._signature is None:
            self._signature = frozenset([*self.members.values(), *self.used_policies()])
        return self._signature

    @property
    def unknown_text(self) -> list[str]:
        return sorted(p.name for p in self.used_policies() if isinstance(p, RlsPolicy | MaskingPolicy) and not p.using)

    def restricted(self, roles: frozenset[str]) -> frozenset[str]:
        """The roles of a principal that matter here: what it sees depends on them alone."""
        return frozenset(r for r in roles if r in self.grantees)

    def profile(self, role: str) -> tuple[Any, ...]:
        """What `role` holds here: two roles with one profile are interchangeable in any principal's view."""
        found = self.profiles.get(role)
        if found is None:
            found = self.profiles[role] = (
                role in self.select, role in self.scoped, role in self.usage, frozenset(self.columns.get(role, ())),
                role in self.ignore, frozenset(self.rls_attached.get(role, ())),
                frozenset(self.masks.get(role, {}).values()), role == PUBLIC)
        return found

    def view_key(self, roles: frozenset[str]) -> tuple[Any, ...]:
        """What decides the view of a principal holding `roles` (restricted): equal keys, equal views."""
        return (id(self), self.table_wide, frozenset(self.profile(r) for r in roles))

    def may_read(self, roles: frozenset[str]) -> bool:
        if not (self.table[0] == PUBLIC or roles & self.usage):
            return False
        return bool(roles & self.select or roles & self.scoped or any(r in self.columns for r in roles))

    def view(self, roles: frozenset[str]) -> Restrictions | None:
        whole = bool(roles & self.select) or bool(roles & self.scoped)
        columns = set().union(*(self.columns.get(r, set()) for r in roles))
        if not (self.table[0] == PUBLIC or roles & self.usage) or not (whole or columns):
            return None
        rows: Any = "all"
        if self.rls is not None and not roles & self.ignore:
            applied = frozenset(self._policy(RlsPolicy.KIND, n) for r in roles for n in self.rls_attached.get(r, ()))
            rows = (self.rls.conjunction.upper(), applied) if applied else "none"
        winners: dict[str, tuple[int, str]] = {}
        for role in roles:
            for priority, masked, name in self.masks.get(role, {}).values():
                for column in masked:
                    if column not in winners or winners[column][0] < priority:
                        winners[column] = (priority, name)
        return Restrictions(None if whole else frozenset(columns), rows, tuple(sorted(
            (c, self._policy(MaskingPolicy.KIND, name)) for c, (_, name) in winners.items())))

    def restrictions(self) -> dict[str, Mark]:
        """The table's restrictions, each as a phrase, with the object that holds it: RLS on (with AND, the
        stronger conjunction), and every RLS and masking attachment with its policy's definition (and priority)."""
        found: dict[str, Mark] = {}
        if self.rls is not None:
            mark = (RlsTable.KIND, self.table)
            found["row-level security"] = mark
            if self.rls.conjunction.upper() == "AND":
                found["its conjunction type AND"] = mark
        for grantee, names in self.rls_attached.items():
            for name in names:
                definition = self._policy(RlsPolicy.KIND, name)[1]
                found[f"RLS policy {name} for {grantee} ({definition or 'definition unknown'})"] = (
                    RlsAttachment.KIND, (name, *self.table, grantee))
        for grantee, masks in self.masks.items():
            for attachment, (priority, _, name) in masks.items():
                definition = self._policy(MaskingPolicy.KIND, name)[1]
                found[f"masking policy {name} for {grantee} ({definition or 'definition unknown'}, priority "
                      f"{priority})"] = attachment
        return found


def grantee_affected(mark: Mark) -> str | None:
    """The one grantee whose view a change of this object may change; None: anyone's (RLS on or off, a policy's
    text, anything of PUBLIC's)."""
    kind, key = mark
    at = {TablePrivilege.KIND: 3, ColumnPrivilege.KIND: 4, ScopedTablePrivilege.KIND: 2, SchemaPrivilege.KIND: 2,
          SystemPrivilege.KIND: 1, RlsAttachment.KIND: 3, MaskingAttachment.KIND: 4}.get(kind)
    if at is None or key[at] == PUBLIC:
        return None
    return key[at]

"""What a plan may touch beyond its ledger: the tables the model declares and those on which prune may lift
restrictions it did not make, and the roles prune leaves (`Scope`), the roles it never touches (Redshift's own,
`is_system_role`), and the table an object is about (`table_of`), which is what both are checked against."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redshift_idc.runtime.access_state import (
    AccessObject,
    ColumnPrivilege,
    IdentityProvider,
    MaskingAttachment,
    RlsAttachment,
    RlsTable,
    TablePrivilege,
)
from redshift_idc.runtime.sql_text import RESERVED_ROLE_PREFIXES, fold


@dataclass(frozen=True)
class AutoCreated:
    """The roles an identity provider the model manages creates at IdC sign-in (AUTO_CREATE_ROLES TRUE, AWS page
    redshift-iam-access-control-sso-autocreate): `<namespace>:<group>` for every group, for those a LIKE pattern
    of group names includes, or for all but those it excludes. Prune leaves them: dropping one would only see
    Redshift create it again at the next sign-in."""

    provider: str
    namespace: str
    groups: tuple[str, ...] = ()  # as IdentityProvider.auto_create_groups

    @classmethod
    def of(cls, provider: IdentityProvider) -> AutoCreated | None:
        return cls(provider.name, provider.namespace, provider.auto_create_groups) if provider.creates_roles() else None

    def creates(self, role: str) -> bool:
        prefix, colon, group = role.partition(":")
        if not colon or fold(prefix) != fold(self.namespace):  # generous on the namespace's case: leaving is safe
            return False
        return not self.groups or like_matches(self.groups[1], group) == (self.groups[0] == "INCLUDE")


@dataclass(frozen=True)
class Scope:
    """What the model declares besides its objects: the tables it names (`tables:`), and those on which `prune`
    may lift RLS and masking the model does not declare (`lift_undeclared_restrictions`). `tables` None: not known
    (a model document of an older version), so prune lifts no restriction it did not make."""

    tables: frozenset[tuple[str, str]] | None = None
    lift: frozenset[tuple[str, str]] = frozenset()
    ignore_roles: tuple[str, ...] = ()  # LIKE patterns: roles prune never drops nor revokes from (`ignored_by`)
    auto_created: tuple[AutoCreated, ...] = ()  # the model's providers that create roles: prune leaves those too

    def to_json(self) -> dict[str, Any]:
        """The scope in the model document; `ignore_roles` only when set, so a model without it keeps its bytes."""
        data: dict[str, Any] = {"tables": sorted([list(t) for t in self.tables or ()]),
                                "lift": sorted([list(t) for t in self.lift])}
        if self.ignore_roles:
            data["ignore_roles"] = list(self.ignore_roles)
        if self.auto_created:
            data["auto_created"] = [[a.provider, a.namespace, *a.groups] for a in self.auto_created]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Scope:
        if not data:
            return cls()
        return cls(frozenset((str(s), str(t)) for s, t in data.get("tables", ())),
                   frozenset((str(s), str(t)) for s, t in data.get("lift", ())),
                   tuple(str(p) for p in data.get("ignore_roles", ())),
                   tuple(AutoCreated(str(a[0]), str(a[1]), tuple(str(g) for g in a[2:]))
                         for a in data.get("auto_created", ())))

    @property
    def leaves_roles(self) -> bool:
        return bool(self.ignore_roles or self.auto_created)

    def ignored_by(self, role: str) -> str | None:
        """Why prune leaves `role` (as the catalog spells it): the first `prune_ignore_roles` pattern it matches, or
        the managed identity provider that creates it; None when prune may drop it."""
        pattern = _first_match(self.ignore_roles, role) if self.ignore_roles else None
        if pattern is not None:
            return f"prune_ignore_roles matches them ('{pattern}')"
        creator = next((a for a in self.auto_created if a.creates(role)), None)
        return None if creator is None else (f"identity provider {creator.provider} creates them at IdC sign-in "
                                             "(auto_create_roles)")


LIKE_ESCAPE = "\\"  # LIKE's default escape character (r_patternmatching_condition_like)


def like_pattern_problem(pattern: str) -> str | None:
    """Why Redshift's LIKE refuses `pattern` (an escape character with nothing after it), or None."""
    index = 0
    while index < len(pattern):
        if pattern[index] == LIKE_ESCAPE:
            if index + 1 == len(pattern):
                return "ends with the escape character \\ (write \\\\ for a backslash)"
            index += 1
        index += 1
    return None


@functools.lru_cache(maxsize=1024)
def _like_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == LIKE_ESCAPE:
            escaped = True
        else:
            parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def like_matches(pattern: str, text: str) -> bool:
    """Whether `text` matches `pattern` as Redshift's LIKE decides (r_patternmatching_condition_like): the whole
    text, case-sensitively, `%` any run of characters (none too), `_` exactly one, `\\` makes the next character
    literal. The one place the project matches a LIKE pattern."""
    return _like_regex(pattern).fullmatch(text) is not None


@functools.lru_cache(maxsize=65536)
def _first_match(patterns: tuple[str, ...], text: str) -> str | None:
    return next((p for p in patterns if like_matches(p, text)), None)


@functools.lru_cache(maxsize=65536)
def is_system_role(name: str) -> bool:
    return fold(name).startswith(RESERVED_ROLE_PREFIXES)


def table_of(item: AccessObject, key: tuple[str, ...]) -> tuple[str, str] | None:
    """The (folded) table a restriction or a table or column privilege is about, from its key."""
    if isinstance(item, RlsAttachment | MaskingAttachment):
        return (key[1], key[2])
    if isinstance(item, RlsTable | TablePrivilege | ColumnPrivilege):
        return (key[0], key[1])
    return None

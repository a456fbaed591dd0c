"""What a plan may touch beyond its ledger: the tables the model declares and those on which prune may lift
restrictions it did not make (`Scope`), the roles it never touches (Redshift's own, `is_system_role`), and the
table an object is about (`table_of`), which is what both are checked against."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redshift_idc.runtime.access_state import (
    AccessObject,
    ColumnPrivilege,
    MaskingAttachment,
    RlsAttachment,
    RlsTable,
    TablePrivilege,
)
from redshift_idc.runtime.sql_text import RESERVED_ROLE_PREFIXES, fold


@dataclass(frozen=True)
class Scope:
    """What the model declares besides its objects: the tables it names (`tables:`), and those on which `prune`
    may lift RLS and masking the model does not declare (`lift_undeclared_restrictions`). `tables` None: not known
    (a model document of an older version), so prune lifts no restriction it did not make."""

    tables: frozenset[tuple[str, str]] | None = None
    lift: frozenset[tuple[str, str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {"tables": sorted([list(t) for t in self.tables or ()]), "lift": sorted([list(t) for t in self.lift])}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Scope:
        if not data:
            return cls()
        return cls(frozenset((str(s), str(t)) for s, t in data.get("tables", ())),
                   frozenset((str(s), str(t)) for s, t in data.get("lift", ())))


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

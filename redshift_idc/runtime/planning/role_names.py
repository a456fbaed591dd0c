"""Role names keep their case (`access_state.role_key`): matching the model, the catalog and the ledger on them.

Redshift keeps the case of a quoted role name where a real catalog shows one (REDSHIFT_REFERENCE.md 9.1), so
keys compare role names exactly and statements name a role as written. Two kinds of rows do not fit that:

- Ledger rows written by earlier versions, which folded role names (`"AWSIDC:Sales"` recorded as
  `awsidc:sales`), and rows of a workgroup that stores role names folded after all (the open question: the
  AWS page r_names says every identifier folds). Each role name in a ledger row (this model's and other models')
  that the catalog does not hold exactly is read as the catalog's one role whose name differs only in case;
  this model's rows are rewritten (`Plan.forget` the old row, `Plan.adopt` the new one: no DDL). With none, or
  two such roles, the row is left as it is.
- A model role the catalog holds in another case only: when that catalog role is this model's own (its ledger
  row), it is the same role (our earlier CREATE of a differently spelled name, or a workgroup that folded it), and
  the plan names it as the catalog spells it, so nothing is created again and no role is granted twice (GRANT
  ROLE to a member fails, `already a member`). Otherwise it is another role: it is created, and the plan says
  which catalog role differs only in case, in case CREATE ROLE then fails with `already exists`.

With `enable_case_sensitive_identifier` on, nothing was ever folded: nothing to match.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from redshift_idc.runtime.access_state import (
    AccessObject,
    AccessState,
    ColumnPrivilege,
    DatabasePrivilege,
    DefaultPrivilege,
    LedgerEntry,
    MaskingAttachment,
    RlsAttachment,
    Role,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.planning.plan_types import Ledger, Owners
from redshift_idc.runtime.sql_text import fold

# Where each kind's key holds role names (the grantee may also be PUBLIC, whose key never changes), and the fields
# that hold them.
ROLE_PARTS: dict[str, tuple[int, ...]] = {
    Role.KIND: (0,), RoleGrant.KIND: (0, 1), SchemaPrivilege.KIND: (2,), TablePrivilege.KIND: (3,),
    ScopedTablePrivilege.KIND: (2,), ColumnPrivilege.KIND: (4,), SystemPrivilege.KIND: (1,),
    RlsAttachment.KIND: (3,), MaskingAttachment.KIND: (4,), DatabasePrivilege.KIND: (2,), DefaultPrivilege.KIND: (4,),
}
ROLE_FIELDS: dict[str, tuple[str, ...]] = {Role.KIND: ("name",), RoleGrant.KIND: ("role", "grantee")}


@dataclass
class RoleNames:
    """What `match_role_names` gives the planner: the model with its roles named as the catalog names this model's
    own, the ledger and other models' rows with role names as the catalog holds them, this model's rows to rewrite
    ((as recorded, as the catalog names it, or None when that row exists too)), and what the plan should say."""

    desired: AccessState
    ledger: Ledger
    owners: Owners
    renamed: list[tuple[LedgerEntry, LedgerEntry | None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def match_role_names(desired: AccessState, current: AccessState, ledger: Ledger, owners: Owners) -> RoleNames:
    if current.case_sensitive:
        return RoleNames(desired, ledger, owners)
    held = {key[0] for key in current.of_kind(Role.KIND)}
    by_folded: dict[str, list[str]] = {}
    for name in sorted(held):
        by_folded.setdefault(fold(name), []).append(name)

    def catalog_name(name: str) -> str:
        """The catalog's spelling of a role a row names: itself, or the one catalog role differing only in case."""
        if name in held:
            return name
        found = by_folded.get(fold(name), ())
        return found[0] if len(found) == 1 else name

    result = RoleNames(desired, {}, _mapped(owners, catalog_name))
    for (kind, key), fingerprint in sorted(ledger.items()):
        new = _key(kind, key, catalog_name)
        if new != key:  # two rows for one object (a folded and an exact one): the exact one stays
            result.renamed.append((LedgerEntry(kind, key, fingerprint),
                                   None if (kind, new) in ledger else LedgerEntry(kind, new, fingerprint)))
        if new == key or (kind, new) not in ledger:
            result.ledger[(kind, new)] = fingerprint
    ours = {key[0] for kind, key in result.ledger if kind == Role.KIND}
    rename: dict[str, str] = {}
    for (name,) in sorted(desired.of_kind(Role.KIND)):
        if name in held:
            continue
        others = by_folded.get(fold(name), [])
        if len(others) == 1 and others[0] in ours:
            rename[name] = others[0]
            result.notes.append(f"role {name} is this model's role {others[0]}, as the catalog spells it (role names "
                                "keep their case: only a role's name differing in case is not renamed); the plan "
                                f"names it {others[0]}")
        elif others:
            result.notes.append(f"role {name} is created though the catalog holds {', '.join(others)}, whose name "
                                "differs only in case: Redshift keeps role names' case, so they are two roles. If "
                                "CREATE ROLE fails with 'already exists', this workgroup folds role names: spell the "
                                "role as the catalog does")
    if rename:
        result.desired = AccessState.of((_renamed(item, rename) for item in desired), desired.case_sensitive)
    return result


def rewrite_rows(renamed: list[tuple[LedgerEntry, LedgerEntry | None]], keep: Callable[[str, tuple[str, ...]], bool],
                 ) -> tuple[list[LedgerEntry], list[LedgerEntry]]:
    """(rows to forget, rows to adopt) that rewrite `renamed`: every old row goes; its new one is written when `keep`
    says the object stays without a statement writing its row (present, not removed by the plan)."""
    forget = [old for old, _ in renamed]
    adopt = [new for _, new in renamed if new is not None and keep(new.kind, new.key)]
    return forget, adopt


def _key(kind: str, key: tuple[str, ...], name: Callable[[str], str]) -> tuple[str, ...]:
    parts = ROLE_PARTS.get(kind, ())
    return tuple(name(part) if i in parts else part for i, part in enumerate(key)) if parts else key


def _mapped(owners: Owners, name: Callable[[str], str]) -> Owners:
    return {(kind, _key(kind, key, name)): owner for (kind, key), owner in owners.items()}


def _renamed(item: AccessObject, rename: Mapping[str, str]) -> AccessObject:
    names = ROLE_FIELDS.get(item.KIND, ("grantee",) if item.KIND in ROLE_PARTS else ())
    changes = {f: rename[getattr(item, f)] for f in names if getattr(item, f) in rename}
    return dataclasses.replace(item, **changes) if changes else item

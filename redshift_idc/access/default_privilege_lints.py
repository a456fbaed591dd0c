"""`default-privileges-unrestricted`: default privileges that hand a restricted role every row of the next table.

A table created later has row-level security off and no masking policy attached (r_ALTER_TABLE: RLS is turned on
per table; r_ATTACH_MASKING_POLICY: attached per table) until a deploy that names it attaches them. So when
`default_privileges` give SELECT on the tables a creator makes later in a schema (or anywhere) to a role the model
restricts on that schema's tables (RLS on without IGNORE RLS for the role, or a masking policy attached to it or to
PUBLIC), that role reads the next table whole: the restriction the model keeps on today's tables does not follow the
data. Nothing is refused (a loader's staging schema may be meant that way); the lint names the entry, the role and
the restriction, and is accepted with a reason in `allow_warnings` like the others (`model_lints.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from redshift_idc.access.model_file import AccessModel, split_table
from redshift_idc.access.preview.results import PreviewWarning
from redshift_idc.runtime.access_state import PUBLIC_GRANTEE
from redshift_idc.runtime.sql_text import fold

CODE = "default-privileges-unrestricted"


@dataclass(frozen=True)
class _Restriction:
    table: str
    what: str  # as the message says it
    to: str | None  # the folded role (or PUBLIC) a masking attachment is for; None: RLS, for every role without IGNORE


def _restrictions(model: AccessModel) -> dict[str, list[_Restriction]]:
    """Folded schema -> the restrictions on its tables."""
    cs = model.case_sensitive_identifiers
    found: dict[str, list[_Restriction]] = {}
    for rls_table in model.rls.tables:
        schema, _ = split_table(rls_table.table)
        found.setdefault(fold(schema, cs), []).append(_Restriction(rls_table.table, "RLS", None))
    for policy in model.masking.policies:
        for attach in policy.attach:
            schema, _ = split_table(attach.table)
            found.setdefault(fold(schema, cs), []).append(
                _Restriction(attach.table, f"masking policy {policy.name}", fold(attach.to, cs)))
    return found


def _restricts(restriction: _Restriction, role: str, bypass: set[str]) -> bool:
    """Whether `restriction` holds for `role` (folded; PUBLIC stands for everyone, so any restriction holds)."""
    public = fold(PUBLIC_GRANTEE)
    if restriction.to is None:
        return role == public or role not in bypass
    return role == public or restriction.to in (role, public)


def default_privilege_lints(model: AccessModel) -> list[PreviewWarning]:
    """One warning per `default_privileges` entry on tables with SELECT and role it names that the model restricts
    on a table of the entry's schema (any schema, for a database-wide entry)."""
    cs = model.case_sensitive_identifiers
    restrictions = _restrictions(model)
    bypass = {fold(role, cs) for role in model.rls.ignore_rls}
    found: list[PreviewWarning] = []
    for index, entry in enumerate(model.default_privileges):
        if entry.on != "tables" or "SELECT" not in entry.expanded():
            continue
        schemas = [fold(entry.schema_, cs)] if entry.schema_ is not None else sorted(restrictions)
        where = f"in schema {entry.schema_}" if entry.schema_ is not None else "anywhere in the database"
        for position, grantee in enumerate(entry.to):
            role = fold(grantee, cs)
            held = [r for schema in schemas for r in restrictions.get(schema, ()) if _restricts(r, role, bypass)]
            if not held:
                continue
            shown = "; ".join(f"{r.what} on {r.table}" for r in held[:3]) + (
                f"; and {len(held) - 3} more" if len(held) > 3 else "")
            found.append(PreviewWarning(CODE, (
                f"access/{model.name}.yaml: default_privileges[{index}].to[{position}]: {grantee} gets SELECT on the "
                f"tables {entry.creator} creates later {where}, but the model restricts {grantee} there ({shown}): "
                "a new table has RLS off and no masking until a deploy attaches them, so it would read the next "
                f"table {entry.creator} creates whole. Give SELECT on later tables only to roles the model leaves "
                "unrestricted, add each new table to the model (rls.tables, masking attach) in the deploy after the "
                "load, or accept the warning in allow_warnings with the reason")))
    return found

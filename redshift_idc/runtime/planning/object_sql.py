"""The SQL of each object kind: how a plan creates (or grants), removes (or revokes) and alters it, identity
providers included. Keywords are emitted unquoted, so only known ones pass (`check_renderable`); names and
literals go through `sql_text.quote_*`.

Identity providers (REDSHIFT_REFERENCE.md 3.8): secrets in PARAMETERS are references; without `resolved` they
render as `***` (what a plan shows), with it as their values (what `Statement.executable_sql` sends)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redshift_idc.runtime.access_state import (
    COLUMN_PRIVILEGES,
    DATABASE_PRIVILEGES,
    DEFAULT_PRIVILEGES,
    IDENTITY_PROVIDER_TYPES,
    PUBLIC_GRANTEE,
    SCHEMA_PRIVILEGES,
    SYSTEM_PRIVILEGES,
    TABLE_PRIVILEGES,
    AccessObject,
    ColumnPrivilege,
    DatabasePrivilege,
    DefaultPrivilege,
    ExternalDatabase,
    ExternalSchema,
    IdentityProvider,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsLookupGrant,
    RlsPolicy,
    RlsTable,
    Role,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.planning.plan_types import SecretRef
from redshift_idc.runtime.sql_text import quote_ident, quote_literal, quote_qualified

SECRET_MASK = "***"  # noqa: S105 -- what a secret is shown as


def _role(name: str) -> str:
    """A grantee: `ROLE "name"`, or the keyword PUBLIC (every user), which is never quoted."""
    return PUBLIC_GRANTEE if name == PUBLIC_GRANTEE else f"ROLE {quote_ident(name)}"


def _columns_clause(columns: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{quote_ident(name)} {type_}" for name, type_ in columns)


_KNOWN_PRIVILEGES: dict[type[AccessObject], tuple[str, ...]] = {
    SchemaPrivilege: SCHEMA_PRIVILEGES, TablePrivilege: TABLE_PRIVILEGES, ScopedTablePrivilege: TABLE_PRIVILEGES,
    ColumnPrivilege: COLUMN_PRIVILEGES, SystemPrivilege: SYSTEM_PRIVILEGES, DatabasePrivilege: DATABASE_PRIVILEGES,
}


def check_renderable(item: AccessObject) -> None:
    """Keywords are emitted unquoted, so only known ones pass (catalog rows are input too)."""
    allowed = _KNOWN_PRIVILEGES.get(type(item))
    if allowed is not None and getattr(item, "privilege", None) not in allowed:
        raise ValueError(f"{item.KIND}: unknown privilege {getattr(item, 'privilege', None)!r}")
    if isinstance(item, RlsTable) and item.conjunction.upper() not in ("AND", "OR"):
        raise ValueError(f"rls_table: conjunction type must be AND or OR, not {item.conjunction!r}")
    if isinstance(item, MaskingAttachment) and not item.output_columns:
        raise ValueError("masking_attachment: no output columns")
    if isinstance(item, MaskingPolicy) and not item.columns:
        raise ValueError("masking_policy: a masking policy needs at least one input column")
    if isinstance(item, RoleGrant | ScopedTablePrivilege | SystemPrivilege) and PUBLIC_GRANTEE in (
            getattr(item, "grantee", None), getattr(item, "role", None)):
        raise ValueError(f"{item.KIND}: Redshift grants this only to roles (or users), not to PUBLIC")
    if isinstance(item, DefaultPrivilege) and item.privilege not in DEFAULT_PRIVILEGES.get(item.objects, ()):
        raise ValueError(f"{item.KIND}: unknown privilege {item.privilege!r} on {item.objects!r}")


def create_sql(item: AccessObject) -> str:
    if isinstance(item, LISTABLE):  # the list form with one of each (`coalesced_sql`)
        return coalesced_sql(item, "add", *_one(item))
    check_renderable(item)
    if isinstance(item, Role):
        return f"CREATE ROLE {quote_ident(item.name)}"
    if isinstance(item, ScopedTablePrivilege):
        return f"GRANT {item.privilege} FOR TABLES IN SCHEMA {quote_ident(item.schema)} TO {_role(item.grantee)}"
    if isinstance(item, ColumnPrivilege):
        return (f"GRANT {item.privilege} ({quote_ident(item.column)}) ON TABLE "
                f"{quote_qualified(item.schema, item.table)} TO {_role(item.grantee)}")
    if isinstance(item, SystemPrivilege):
        return f"GRANT {item.privilege} TO {_role(item.grantee)}"
    if isinstance(item, ExternalSchema):
        catalog_id = f" CATALOG_ID {quote_literal(item.catalog_id)}" if item.catalog_id else ""
        return (f"CREATE EXTERNAL SCHEMA {quote_ident(item.name)} FROM DATA CATALOG DATABASE "
                f"{quote_literal(item.catalog_database)}{catalog_id}")
    if isinstance(item, ExternalDatabase):
        return (f"CREATE DATABASE {quote_ident(item.name)} FROM ARN {quote_literal(item.arn)} "
                "WITH NO DATA CATALOG SCHEMA")
    if isinstance(item, RlsPolicy):
        with_clause = f" WITH ({_columns_clause(item.columns)})" if item.columns else ""
        return f"CREATE RLS POLICY {quote_ident(item.name)}{with_clause} USING ({item.using})"
    if isinstance(item, RlsLookupGrant):
        return (f"GRANT SELECT ON TABLE {quote_qualified(item.schema, item.table)} TO RLS POLICY "
                f"{quote_ident(item.policy)}")
    if isinstance(item, RlsTable):
        return (f"ALTER TABLE {quote_qualified(item.schema, item.table)} ROW LEVEL SECURITY ON "
                f"CONJUNCTION TYPE {item.conjunction.upper()}")
    if isinstance(item, MaskingPolicy):
        return (f"CREATE MASKING POLICY {quote_ident(item.name)} WITH ({_columns_clause(item.columns)}) "
                f"USING ({item.using})")
    if isinstance(item, IdentityProvider):
        return create_identity_provider_sql(item)
    if isinstance(item, MaskingAttachment):
        outputs = ", ".join(quote_ident(c) for c in item.output_columns)
        inputs = ", ".join(quote_ident(c) for c in (item.input_columns or item.output_columns))
        return (f"ATTACH MASKING POLICY {quote_ident(item.policy)} ON {quote_qualified(item.schema, item.table)} "
                f"({outputs}) USING ({inputs}) TO {_role(item.grantee)} PRIORITY {int(item.priority)}")
    raise TypeError(f"no CREATE form for {item!r}")


def remove_sql(item: AccessObject) -> str:
    if isinstance(item, LISTABLE):  # the list form with one of each (`coalesced_sql`)
        return coalesced_sql(item, "remove", *_one(item))
    if not isinstance(item, MaskingPolicy):
        check_renderable(item)
    if isinstance(item, Role):
        # FORCE drops the role's assignments to users and roles; object privileges were revoked before.
        return f"DROP ROLE {quote_ident(item.name)} FORCE"
    if isinstance(item, ScopedTablePrivilege):
        return f"REVOKE {item.privilege} FOR TABLES IN SCHEMA {quote_ident(item.schema)} FROM {_role(item.grantee)}"
    if isinstance(item, ColumnPrivilege):
        return (f"REVOKE {item.privilege} ({quote_ident(item.column)}) ON TABLE "
                f"{quote_qualified(item.schema, item.table)} FROM {_role(item.grantee)}")
    if isinstance(item, SystemPrivilege):
        return f"REVOKE {item.privilege} FROM {_role(item.grantee)}"
    if isinstance(item, ExternalSchema):
        return f"DROP SCHEMA {quote_ident(item.name)}"  # the reference only: the catalog database stays
    if isinstance(item, ExternalDatabase):
        return f"DROP DATABASE {quote_ident(item.name)}"
    if isinstance(item, RlsPolicy):
        return f"DROP RLS POLICY {quote_ident(item.name)}"
    if isinstance(item, RlsLookupGrant):
        return (f"REVOKE SELECT ON TABLE {quote_qualified(item.schema, item.table)} FROM RLS POLICY "
                f"{quote_ident(item.policy)}")
    if isinstance(item, RlsTable):
        return f"ALTER TABLE {quote_qualified(item.schema, item.table)} ROW LEVEL SECURITY OFF"
    if isinstance(item, MaskingPolicy):
        return f"DROP MASKING POLICY {quote_ident(item.name)}"
    if isinstance(item, IdentityProvider):
        return drop_identity_provider_sql(item)
    if isinstance(item, MaskingAttachment):
        outputs = ", ".join(quote_ident(c) for c in item.output_columns)
        return (f"DETACH MASKING POLICY {quote_ident(item.policy)} ON {quote_qualified(item.schema, item.table)} "
                f"({outputs}) FROM {_role(item.grantee)}")
    raise TypeError(f"no REMOVE form for {item!r}")


def alter_using_sql(item: RlsPolicy | MaskingPolicy) -> str:
    kind = "RLS" if isinstance(item, RlsPolicy) else "MASKING"
    return f"ALTER {kind} POLICY {quote_ident(item.name)} USING ({item.using})"


# ---------------------------------------------------------------------------------- identity providers

def _parameters_literal(item: IdentityProvider, resolved: Mapping[SecretRef, str] | None) -> str:
    values: dict[str, Any] = json.loads(item.parameters) if item.parameters else {}
    if not isinstance(values, dict):
        raise ValueError(f"identity_provider {item.name}: parameters are not a JSON object")
    for parameter, arn, key in item.secrets:
        values[parameter] = SECRET_MASK if resolved is None else resolved[(arn, key)]
    return quote_literal(json.dumps(values, sort_keys=True, ensure_ascii=False))


def uses_parameters(item: IdentityProvider) -> bool:
    """Whether the provider's statements carry PARAMETERS: when it has any, and always for Azure."""
    return bool(item.parameters or item.secrets or item.type.lower() == "azure")


def _auto_create_roles(item: IdentityProvider) -> str:
    """The model's value, else Redshift's default (FALSE for AWSIDC, TRUE for Azure); with TRUE, which groups:
    `INCLUDE | EXCLUDE GROUPS LIKE 'pattern'` (r_CREATE_IDENTITY_PROVIDER)."""
    if not item.creates_roles():
        return "AUTO_CREATE_ROLES FALSE"
    groups = item.auto_create_groups
    return "AUTO_CREATE_ROLES TRUE" + (f" {groups[0]} GROUPS LIKE {quote_literal(groups[1])}" if groups else "")


def create_identity_provider_sql(item: IdentityProvider, resolved: Mapping[SecretRef, str] | None = None) -> str:
    if item.type.lower() not in IDENTITY_PROVIDER_TYPES:
        raise ValueError(f"identity_provider {item.name}: type must be one of {IDENTITY_PROVIDER_TYPES}, "
                         f"not {item.type!r}")
    parts = [f"CREATE IDENTITY PROVIDER {quote_ident(item.name)} TYPE {item.type.upper()}",
             f"NAMESPACE {quote_literal(item.namespace)}"]
    if uses_parameters(item):
        parts.append(f"PARAMETERS {_parameters_literal(item, resolved)}")
    if item.application_arn:
        parts.append(f"APPLICATION_ARN {quote_literal(item.application_arn)}")
    if item.iam_role:
        parts.append(f"IAM_ROLE {quote_literal(item.iam_role)}")
    if item.auto_create_roles is not None:
        parts.append(_auto_create_roles(item))
    return " ".join(parts)


IDENTITY_PROVIDER_CLAUSES = ("parameters", "namespace", "iam_role", "auto", "enabled")


def alter_identity_provider_sql(item: IdentityProvider, clauses: Iterable[str],
                                resolved: Mapping[SecretRef, str] | None = None) -> str:
    """`ALTER IDENTITY PROVIDER` with the given clauses (names from IDENTITY_PROVIDER_CLAUSES), in the
    grammar's order; `enabled` renders ENABLE or DISABLE."""
    wanted = set(clauses)
    unknown = wanted - set(IDENTITY_PROVIDER_CLAUSES)
    if unknown or not wanted:
        raise ValueError(f"identity_provider {item.name}: no ALTER clause for {sorted(unknown) or 'nothing'}")
    parts = [f"ALTER IDENTITY PROVIDER {quote_ident(item.name)}"]
    if "parameters" in wanted:
        parts.append(f"PARAMETERS {_parameters_literal(item, resolved)}")
    if "namespace" in wanted:
        parts.append(f"NAMESPACE {quote_literal(item.namespace)}")
    if "iam_role" in wanted:
        parts.append(f"IAM_ROLE {quote_literal(item.iam_role)}")
    if "auto" in wanted:
        parts.append(_auto_create_roles(item))
    if "enabled" in wanted:
        parts.append("DISABLE" if item.enabled is False else "ENABLE")
    return " ".join(parts)


def drop_identity_provider_sql(item: IdentityProvider, cascade: bool = False) -> str:
    """CASCADE also deletes the users and roles of the provider [D46]: only when the model opts in."""
    return f"DROP IDENTITY PROVIDER {quote_ident(item.name)}{' CASCADE' if cascade else ''}"



# ------------------------------------------------------------------------- statements for many objects

# The kinds whose statements take lists of objects and of grantees (r_GRANT, r_REVOKE, r_ATTACH_RLS_POLICY,
# r_DETACH_RLS_POLICY) or of privileges and grantees (r_ALTER_DEFAULT_PRIVILEGES): one statement for one object is
# the list form with one of each.
LISTABLE = (TablePrivilege, SchemaPrivilege, DatabasePrivilege, RoleGrant, RlsAttachment, DefaultPrivilege)


def list_parts(item: AccessObject) -> tuple[tuple[str, ...], str, tuple[str, ...], str]:
    """(what every object of one list statement shares: the RLS policy, or a default privilege's creator, schema
    and object type, else nothing; the privilege, "" for kinds without one; the object, nothing for a default
    privilege, whose statement names none; the grantee) of an object of a LISTABLE kind."""
    if isinstance(item, TablePrivilege):
        return (), item.privilege, (item.schema, item.table), item.grantee
    if isinstance(item, SchemaPrivilege):
        return (), item.privilege, (item.schema,), item.grantee
    if isinstance(item, DatabasePrivilege):
        return (), item.privilege, (item.database,), item.grantee
    if isinstance(item, RoleGrant):
        return (), "", (item.role,), item.grantee
    if isinstance(item, RlsAttachment):
        return (item.policy,), "", (item.schema, item.table), item.grantee
    if isinstance(item, DefaultPrivilege):
        return (item.creator, item.schema, item.objects), item.privilege, (), item.grantee
    raise TypeError(f"{item.KIND} statements take no lists")


def _one(item: AccessObject) -> tuple[tuple[str], tuple[tuple[str, ...]], tuple[str], tuple[str, ...]]:
    fixed, privilege, target, grantee = list_parts(item)
    return (privilege,), (target,), (grantee,), fixed


def coalesced_sql(sample: AccessObject, action: str, privileges: Sequence[str], targets: Sequence[tuple[str, ...]],
                  grantees: Sequence[str], fixed: tuple[str, ...] = ()) -> str:
    """One statement for privileges x targets x grantees of `sample`'s kind (`planning/coalesce.py`), in the list
    forms of r_GRANT, r_REVOKE, r_ATTACH_RLS_POLICY, r_DETACH_RLS_POLICY and r_ALTER_DEFAULT_PRIVILEGES: each
    grantee `ROLE "name"` (a bare name after a comma would be a user) or PUBLIC. `fixed`: what `list_parts` says
    every object of the statement shares. `create_sql`/`remove_sql` of one object is this with one of each: one
    renderer for both.

    Default privileges: always FOR USER (the reconciler's own defaults are not the model's), and one creator, one
    schema and one object type per statement, though the grammar takes lists of users and schemas: their product
    could grant what the model does not ask."""
    if action not in ("add", "remove"):
        raise ValueError(f"coalesced statements add or remove, not {action!r}")
    adding = action == "add"
    check_renderable(sample)
    defaults = isinstance(sample, DefaultPrivilege)
    if defaults and (len(fixed) != 3 or list(targets) != [()]):
        raise ValueError("default_privilege: one statement names one creator, one schema and one object type")
    # A default privilege's object type is a keyword too: only one the grammar lists has privileges here.
    allowed = DEFAULT_PRIVILEGES.get(fixed[2], ()) if defaults else _KNOWN_PRIVILEGES.get(type(sample), ("",))
    unknown = [p for p in privileges if p not in allowed]
    if unknown or not privileges:
        raise ValueError(f"{sample.KIND}: unknown privilege {unknown[0] if unknown else 'none'!r}")
    to = ("TO " if adding else "FROM ") + ", ".join(_role(g) for g in grantees)
    verb = "GRANT" if adding else "REVOKE"
    listed = ", ".join(privileges)
    if isinstance(sample, TablePrivilege):
        return f"{verb} {listed} ON TABLE {', '.join(quote_qualified(*t) for t in targets)} {to}"
    if isinstance(sample, SchemaPrivilege):
        return f"{verb} {listed} ON SCHEMA {', '.join(quote_ident(t[0]) for t in targets)} {to}"
    if isinstance(sample, DatabasePrivilege):
        return f"{verb} {listed} ON DATABASE {', '.join(quote_ident(t[0]) for t in targets)} {to}"
    if isinstance(sample, RoleGrant):
        if PUBLIC_GRANTEE in grantees:
            raise ValueError(f"{sample.KIND}: Redshift grants this only to roles (or users), not to PUBLIC")
        return f"{verb} {', '.join('ROLE ' + quote_ident(t[0]) for t in targets)} {to}"
    if isinstance(sample, RlsAttachment):
        verb = "ATTACH" if adding else "DETACH"
        return (f"{verb} RLS POLICY {quote_ident(fixed[0])} ON {', '.join(quote_qualified(*t) for t in targets)} "
                f"{to}")
    if isinstance(sample, DefaultPrivilege):
        creator, schema, objects = fixed
        where = f" IN SCHEMA {quote_ident(schema)}" if schema else ""
        return f"ALTER DEFAULT PRIVILEGES FOR USER {quote_ident(creator)}{where} {verb} {listed} ON {objects} {to}"
    raise TypeError(f"no statement for many objects of kind {sample.KIND}")


"""Object privileges: `schema_grants`, `table_grants` (named tables, or scoped to `all_tables_in` a schema),
`column_grants`, each to declared roles or PUBLIC where Redshift takes it, and `default_privileges` (what a user's
later objects get)."""

from __future__ import annotations

from redshift_idc.access.compiler.resolver import Resolver, fail
from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    ColumnPrivilege,
    DefaultPrivilege,
    SchemaPrivilege,
    ScopedTablePrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.sql_text import SqlTextError, fold, validate_identifier


def compile_schema_grants(resolver: Resolver) -> None:
    for i, schema_spec in enumerate(resolver.model.schema_grants):
        resolver.schema(f"schema_grants[{i}].schema", schema_spec.schema_)
        for j, grantee in enumerate(schema_spec.to):
            role = resolver.role(f"schema_grants[{i}].to[{j}]", grantee, public=True)
            resolver.objects += [SchemaPrivilege(schema_spec.schema_, p, role) for p in schema_spec.privileges]


def compile_table_grants(resolver: Resolver) -> None:
    for i, table_spec in enumerate(resolver.model.table_grants):
        scoped = table_spec.all_tables_in is not None  # scoped grants go to roles and users only [D24]
        roles = [resolver.role(f"table_grants[{i}].to[{j}]", g, public=not scoped)
                 for j, g in enumerate(table_spec.to)]
        if table_spec.all_tables_in is not None:
            resolver.schema(f"table_grants[{i}].all_tables_in", table_spec.all_tables_in)
            resolver.objects += [ScopedTablePrivilege(table_spec.all_tables_in, p, r)
                                 for p in table_spec.privileges for r in roles]
        for k, qualified in enumerate(table_spec.tables):
            schema, name = resolver.table(f"table_grants[{i}].tables[{k}]", qualified)
            resolver.objects += [TablePrivilege(schema, name, p, r) for p in table_spec.privileges for r in roles]


def compile_column_grants(resolver: Resolver) -> None:
    for i, column_spec in enumerate(resolver.model.column_grants):
        schema, name = resolver.table(f"column_grants[{i}].table", column_spec.table, column_spec.columns)
        for j, grantee in enumerate(column_spec.to):
            role = resolver.role(f"column_grants[{i}].to[{j}]", grantee, public=True)
            resolver.objects += [ColumnPrivilege(schema, name, c, p, role)
                                 for c in column_spec.columns for p in column_spec.privileges]


def compile_default_privileges(resolver: Resolver) -> None:
    """One `DefaultPrivilege` per creator, schema, object type, privilege (ALL written out) and grantee. The creator
    is a user: a name the model declares as a role, or PUBLIC, is refused (roles and users share one name space,
    r_CREATE_ROLE, and ALTER DEFAULT PRIVILEGES takes FOR USER only). PUBLIC's EXECUTE on new functions is
    Redshift's own default (r_ALTER_DEFAULT_PRIVILEGES): declaring it would change nothing, and no catalog row would
    ever show it, so every deploy would grant it again; it is refused."""
    role_names = {fold(name, resolver.cs) for name in (*resolver.roles, *resolver.roles.values())}
    for i, spec in enumerate(resolver.model.default_privileges):
        where = f"default_privileges[{i}]"
        creator = spec.creator
        try:
            validate_identifier(creator, "user name")
        except SqlTextError as error:
            fail(f"{where}.creator", str(error))
        if fold(creator) == fold(PUBLIC_GRANTEE) or fold(creator, resolver.cs) in role_names:
            what = "PUBLIC" if fold(creator) == fold(PUBLIC_GRANTEE) else "a role of the model"
            fail(f"{where}.creator", f"'{creator}' is {what}; the creator is the database user whose later objects "
                 "get the privileges (ALTER DEFAULT PRIVILEGES FOR USER), e.g. the user a loader or dbt connects as")
        schema = resolver.schema(f"{where}.schema", spec.schema_) if spec.schema_ is not None else ""
        roles = [resolver.role(f"{where}.to[{j}]", g, public=True) for j, g in enumerate(spec.to)]
        objects = spec.on.upper()
        privileges = spec.expanded()
        if objects == "FUNCTIONS" and PUBLIC_GRANTEE in roles:
            fail(f"{where}.to[{roles.index(PUBLIC_GRANTEE)}]", "PUBLIC has EXECUTE on every new function by default "
                 "(r_ALTER_DEFAULT_PRIVILEGES): the entry would change nothing; remove PUBLIC")
        resolver.objects += [DefaultPrivilege(creator, schema, objects, p, r) for p in privileges for r in roles]

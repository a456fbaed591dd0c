"""Object privileges: `schema_grants`, `table_grants` (named tables, or scoped to `all_tables_in` a schema)
and `column_grants`, each to declared roles or PUBLIC where Redshift takes it."""

from __future__ import annotations

from redshift_idc.access.compiler.resolver import Resolver
from redshift_idc.runtime.access_state import ColumnPrivilege, SchemaPrivilege, ScopedTablePrivilege, TablePrivilege


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

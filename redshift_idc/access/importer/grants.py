"""The `schema_grants`, `table_grants`, `column_grants` and `default_privileges` sections: one entry for every
target, privilege and grantee that share a definition."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from redshift_idc.access.importer.reader import CatalogReader
from redshift_idc.runtime.access_state import (
    COLUMN_PRIVILEGES,
    DEFAULT_PRIVILEGES,
    PUBLIC_GRANTEE,
    SCHEMA_PRIVILEGES,
    TABLE_PRIVILEGES,
    ColumnPrivilege,
    DefaultPrivilege,
    SchemaPrivilege,
    ScopedTablePrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.sql_text import SqlTextError, fold, validate_identifier


def _privileges(names: Iterable[str], order: tuple[str, ...]) -> list[str]:
    return sorted(set(names), key=lambda p: (order.index(p) if p in order else len(order), p))


def _grouped(rights: Mapping[tuple[Any, str], set[str]], order: tuple[str, ...],
             ) -> dict[tuple[Any, tuple[str, ...]], list[str]]:
    """(target, grantee) -> privileges, regrouped as (target, privileges) -> grantees."""
    grouped: dict[tuple[Any, tuple[str, ...]], list[str]] = defaultdict(list)
    for (target, grantee), privileges in rights.items():
        grouped[(target, tuple(_privileges(privileges, order)))].append(grantee)
    return {k: sorted(v, key=fold) for k, v in grouped.items()}


def read_schema_grants(reader: CatalogReader) -> list[dict[str, Any]]:
    rights: dict[tuple[Any, str], set[str]] = defaultdict(set)
    for item in reader.state.of_kind(SchemaPrivilege.KIND).values():
        assert isinstance(item, SchemaPrivilege)
        grantee = reader.grantee(item.grantee)
        if grantee is not None and reader.schema_ok(item.schema, f"schema grant on {item.schema}"):
            rights[(item.schema, grantee)].add(item.privilege)
            reader.schemas.add(item.schema)
    return [{"schema": schema, "privileges": list(privileges), "to": to}
            for (schema, privileges), to in sorted(_grouped(rights, SCHEMA_PRIVILEGES).items())]


def read_table_grants(reader: CatalogReader) -> list[dict[str, Any]]:
    rights: dict[tuple[Any, str], set[str]] = defaultdict(set)
    for item in reader.state.of_kind(TablePrivilege.KIND).values():
        assert isinstance(item, TablePrivilege)
        grantee, key = reader.grantee(item.grantee), reader.table(item.schema, item.table)
        if grantee is not None and key is not None:
            rights[(key, grantee)].add(item.privilege)
    tables: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
    for (key, privileges), to in _grouped(rights, TABLE_PRIVILEGES).items():
        tables[(privileges, tuple(to))].append(key)
    named = [{"tables": sorted(keys, key=fold), "privileges": list(privileges), "to": list(to)}
             for (privileges, to), keys in tables.items()]
    named.sort(key=lambda e: (e["tables"], e["privileges"], e["to"]))
    scoped: dict[tuple[Any, str], set[str]] = defaultdict(set)
    for item in reader.state.of_kind(ScopedTablePrivilege.KIND).values():
        assert isinstance(item, ScopedTablePrivilege)
        grantee = reader.grantee(item.grantee)
        if grantee is not None and reader.schema_ok(item.schema, f"scoped grant on {item.schema}"):
            scoped[(item.schema, grantee)].add(item.privilege)
            reader.schemas.add(item.schema)
    return named + [{"all_tables_in": schema, "privileges": list(privileges), "to": to}
                    for (schema, privileges), to in sorted(_grouped(scoped, TABLE_PRIVILEGES).items())]


def read_column_grants(reader: CatalogReader) -> list[dict[str, Any]]:
    rights: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # (table, grantee, column) -> privileges
    for item in reader.state.of_kind(ColumnPrivilege.KIND).values():
        assert isinstance(item, ColumnPrivilege)
        grantee = reader.grantee(item.grantee)
        if grantee is None or not reader.column_ok(item.column, f"column grant on {item.schema}.{item.table}."
                                                              f"{item.column}"):
            continue
        key = reader.table(item.schema, item.table, [item.column])
        if key is not None:
            rights[(key, grantee, item.column)].add(item.privilege)
    by_privileges: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
    for (key, grantee, column), held in rights.items():
        by_privileges[(key, grantee, tuple(_privileges(held, COLUMN_PRIVILEGES)))].append(column)
    entries: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
    for (key, grantee, privileges), columns in by_privileges.items():
        entries[(key, tuple(sorted(columns, key=fold)), privileges)].append(grantee)
    return [{"table": key, "columns": list(columns), "privileges": list(privileges), "to": sorted(to, key=fold)}
            for (key, columns, privileges), to in sorted(entries.items())]


def read_default_privileges(reader: CatalogReader) -> list[dict[str, Any]]:
    """Every default privilege to a role the model names or to PUBLIC, one entry per creator, schema (none:
    database-wide), object type and set of privileges. PUBLIC's EXECUTE on new functions is left out: it is
    Redshift's own default, which the model refuses to declare (`compile_default_privileges`)."""
    rights: dict[tuple[Any, str], set[str]] = defaultdict(set)  # ((creator, schema, objects), grantee) -> privileges
    for item in reader.state.of_kind(DefaultPrivilege.KIND).values():
        assert isinstance(item, DefaultPrivilege)
        where = (f"default privilege {item.privilege} on {item.objects.lower()} {item.creator} creates"
                 f"{f' in schema {item.schema}' if item.schema else ''}")
        if item.objects == "FUNCTIONS" and item.grantee == PUBLIC_GRANTEE:
            reader.warnings.append(f"{where}, for PUBLIC, is left out: PUBLIC has EXECUTE on new functions by "
                                   "default (r_ALTER_DEFAULT_PRIVILEGES), which a model does not declare")
            continue
        try:
            validate_identifier(item.creator, "user name")
        except SqlTextError as error:
            reader.warnings.append(f"{where} is left out: {error}")
            continue
        if item.schema and not reader.schema_ok(item.schema, where):
            continue
        grantee = reader.grantee(item.grantee)
        if grantee is not None:
            rights[((item.creator, item.schema, item.objects), grantee)].add(item.privilege)
            if item.schema:
                reader.schemas.add(item.schema)
    entries: list[dict[str, Any]] = []
    for ((creator, schema, objects), privileges), to in sorted(
            _grouped(rights, tuple(p for ps in DEFAULT_PRIVILEGES.values() for p in ps)).items()):
        entry: dict[str, Any] = {"creator": creator}
        if schema:
            entry["schema"] = schema
        entries.append({**entry, "on": objects.lower(), "privileges": list(privileges), "to": to})
    return entries

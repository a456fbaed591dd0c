"""The model document: every section read from the catalog, in the order it is written (so two imports of
one catalog give the same file), with its header and comments, as YAML."""

from __future__ import annotations

import re
from typing import Any

from redshift_idc.access.importer.grants import (
    read_column_grants,
    read_default_privileges,
    read_schema_grants,
    read_table_grants,
)
from redshift_idc.access.importer.policies import read_masking, read_rls
from redshift_idc.access.importer.providers import read_identity_providers
from redshift_idc.access.importer.reader import CatalogReader
from redshift_idc.access.importer.roles import read_role_grants, read_roles
from redshift_idc.access.importer.yaml_text import Path_, emit
from redshift_idc.access.model_file import split_table
from redshift_idc.runtime.access_state import (
    ColumnPrivilege,
    DefaultPrivilege,
    IdentityProvider,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    Role,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.sql_text import fold

# The kinds this importer writes; anything else in the catalog's state is reported, never dropped silently.
IMPORTED_KINDS = frozenset({Role.KIND, RoleGrant.KIND, SchemaPrivilege.KIND, ScopedTablePrivilege.KIND,
                            TablePrivilege.KIND, ColumnPrivilege.KIND, SystemPrivilege.KIND, RlsPolicy.KIND,
                            RlsAttachment.KIND, RlsTable.KIND, MaskingPolicy.KIND, MaskingAttachment.KIND,
                            IdentityProvider.KIND, DefaultPrivilege.KIND})


def declared_tables(reader: CatalogReader) -> dict[str, list[str]]:
    read = reader.snapshot.columns()
    declared: dict[str, list[str]] = {}
    for (schema, table), referenced in sorted(reader.columns.items()):
        key = reader.keys[(schema, table)]
        if key is None:
            continue
        columns = [c for c in read.get((schema, table), []) if reader.column_ok(c, f"column {schema}.{table}.{c}")]
        missing = [c for c in referenced if fold(c) not in {fold(x) for x in columns}]
        if not read.get((schema, table)):
            reader.warnings.append(f"table {key}: svv_columns listed no columns; declared with the "
                                   f"{len(referenced)} column(s) grants and policies name")
        columns += missing
        declared[key] = columns
    return declared


def report_unknown_kinds(reader: CatalogReader) -> None:
    for kind in sorted(set(reader.state.objects) - IMPORTED_KINDS):
        count = len(reader.state.of_kind(kind))
        if count:
            reader.warnings.append(f"{count} {kind} object(s) are left out: this importer does not know that kind "
                                   "yet (they stay as they are)")


def _build(reader: CatalogReader) -> tuple[dict[str, Any], list[str]]:
    """The model mapping (in the order it is written) and the header."""
    data: dict[str, Any] = {}
    roles = read_roles(reader)
    sections: list[tuple[str, Any]] = [
        ("role_grants", read_role_grants(reader)), ("schema_grants", read_schema_grants(reader)),
        ("table_grants", read_table_grants(reader)), ("column_grants", read_column_grants(reader)),
        ("default_privileges", read_default_privileges(reader)),
        ("rls", read_rls(reader)), ("masking", read_masking(reader)),
        ("identity_providers", read_identity_providers(reader)),
    ]
    tables = declared_tables(reader)
    table_schemas = {fold(split_table(key)[0]) for key in tables} | {"public"}
    schemas = sorted({s for s in reader.schemas if fold(s) not in table_schemas}, key=fold)
    report_unknown_kinds(reader)
    data["prune"] = False
    data["removal_policy"] = "retain"
    data["case_sensitive_identifiers"] = False
    if tables:
        data["tables"] = tables
    if schemas:
        data["schemas"] = schemas
    if roles:
        data["roles"] = roles
    for key, value in sections:
        if value:
            data[key] = value
    reader.comments[("prune",)] = ["false: a deploy leaves alone what this model does not list."]
    reader.comments[("removal_policy",)] = [
        "retain: these objects existed before this tool adopted them; deleting the stack leaves them in place."]
    reader.comments[("case_sensitive_identifiers",)] = [
        "must match the workgroup's enable_case_sensitive_identifier (the catalog read does not show it)."]
    upper = sorted(n for n in [*reader.refs, *(f"{s}.{t}" for s, t in reader.columns)] if re.search("[A-Z]", n))
    if upper:
        reader.comments[("case_sensitive_identifiers",)].append(
            f"The catalog holds names with upper-case letters ({upper[0]}, ...): they are kept only with "
            "case-sensitive identifiers on; if so, set this to true.")
    for section in ("tables",):
        if section in data:
            reader.comments[(section,)] = ["every table the model names, with its columns (svv_columns, in table "
                                           "order)"]
    snapshot = reader.snapshot
    header = [
        f"Access model imported from the catalog of environment {snapshot.environment} (workgroup "
        f"{snapshot.workgroup},",
        f"namespace {snapshot.namespace}, database {snapshot.database}), read as {snapshot.read_as} by "
        "`python -m redshift_idc snapshot` / `import`.",
        f"Deploy it by naming it in config/{snapshot.environment}.yaml: access_model: {reader.name}",
        "Planned against that catalog it runs no DDL: a deploy records these objects in the ledger",
        f"(`python -m redshift_idc plan --env {snapshot.environment} --snapshot <file>` shows it). Review what "
        "the import",
        "reported as left out, and fill in the placeholders marked FILL IN.",
    ]
    return data, header


def _block(path: Path_) -> bool:
    """Which mappings are written in block style: the sections, each policy and provider."""
    return len(path) == 1 or (len(path) == 3 and path[1] == "policies") or (len(path) == 2 and
                                                                          path[0] == "identity_providers")


def model_text(reader: CatalogReader) -> str:
    """The model read from `reader`'s snapshot, as the YAML text the import writes."""
    data, header = _build(reader)
    return emit(data, reader.comments, header, _block)

"""The `rls` and `masking` sections: policies with the text Redshift returns, their attachments, RLS table
settings and IGNORE RLS."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from redshift_idc.access.expressions import ExpressionError, check_expression, lookup_references, policy_lookups
from redshift_idc.access.importer.reader import CatalogReader
from redshift_idc.runtime.access_state import (
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    SystemPrivilege,
)
from redshift_idc.runtime.catalog_import import masking_definition, rls_definition
from redshift_idc.runtime.sql_text import SqlTextError, fold, validate_identifier


def _policy_text(reader: CatalogReader, kind: str, policy: RlsPolicy | MaskingPolicy) -> bool:
    """Names and expression the model accepts; otherwise the policy is still written (as read) and the
    problem reported, so the person fixing it sees Redshift's text."""
    try:
        validate_identifier(policy.name, f"{kind} policy name")
    except SqlTextError as error:
        reader.warnings.append(f"{kind} policy {policy.name!r} is left out with its attachments: {error}")
        return False
    try:
        if isinstance(policy, RlsPolicy):  # the one subquery form, its tables declared (`_declare_lookups`)
            policy_lookups(policy.using, [c for c, _ in policy.columns], lambda s, t: reader.columns.get((s, t)))
        else:
            check_expression(policy.using, [c for c, _ in policy.columns])
    except ExpressionError as error:
        reader.problems.append(f"{kind} policy {policy.name}: the model's checks refuse the text Redshift "
                               f"returned ({error}); rewrite `using` by hand (the first deploy then recreates the "
                               "policy with your text)")
    return True


def _declare_lookups(reader: CatalogReader, policy: RlsPolicy) -> None:
    """Each table the policy's lookup subqueries read is declared under `tables` with its columns (svv_columns
    lists them: the snapshot reads the columns of lookup tables too, `snapshot.lookup_tables`), as the compiler
    requires; text that is no lookup form declares nothing (`_policy_text` reports it)."""
    try:
        found = lookup_references(policy.using)
    except ExpressionError:
        return
    for schema, table, columns in found:  # names as the catalog printed them: as stored
        if all(reader.column_ok(c, f"column {c} of the lookup table {schema}.{table} of RLS policy {policy.name}")
               for c in columns):
            reader.table(schema, table, columns)


def read_rls(reader: CatalogReader) -> dict[str, Any]:
    rows = reader.definition_rows("rls_policy_definitions")
    policies: list[dict[str, Any]] = []
    attached: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for item in reader.state.of_kind(RlsAttachment.KIND).values():
        assert isinstance(item, RlsAttachment)
        attached[fold(item.policy)][f"{item.schema}\x00{item.table}"].add(item.grantee)
    for item in sorted(reader.state.of_kind(RlsPolicy.KIND).values(), key=lambda p: fold(getattr(p, "name", ""))):
        assert isinstance(item, RlsPolicy)
        row = rows.get(fold(item.name))
        policy = rls_definition(row) if row is not None else None
        if policy is None:
            reader.warnings.append(f"RLS policy {item.name} is left out with its attachments: its definition "
                                   "(svv_rls_policy polatts, polqual) could not be read")
            continue
        index = len(policies)
        _declare_lookups(reader, policy)
        if not _policy_text(reader, "RLS", policy):
            continue
        entry: dict[str, Any] = {"name": policy.name}
        if policy.columns:
            entry["with"] = dict(policy.columns)
        entry["using"] = policy.using
        alias = row[1] if row is not None else None
        attach = []
        for target in sorted(attached.get(fold(policy.name), {})):
            schema, table = target.split("\x00")
            key = reader.table(schema, table, [c for c, _ in policy.columns])
            to = [g for g in (reader.grantee(n) for n in sorted(attached[fold(policy.name)][target])) if g]
            if key is not None and to:
                attach.append({"table": key, "to": sorted(to, key=fold)})
        if attach:
            entry["attach"] = attach
        reader.comments[("rls", "policies", index)] = [
            "with and using as Redshift returns them (svv_rls_policy polatts, polqual): Redshift rewrote",
            "the text the policy was created with; the alias "
            + (f"{alias!r} " if alias else "")
            + "was taken off its column names and the casts it adds to plain literals off them.",
            "Keep them as they are to adopt the policy unchanged.",
        ]
        policies.append(entry)
    tables = []
    for item in sorted(reader.state.of_kind(RlsTable.KIND).values(),
                       key=lambda t: (getattr(t, "schema", ""), getattr(t, "table", ""))):
        assert isinstance(item, RlsTable)
        key = reader.table(item.schema, item.table)
        if key is not None:
            tables.append({"table": key, "conjunction": item.conjunction.upper()})
    ignore: list[str] = []
    for item in reader.state.of_kind(SystemPrivilege.KIND).values():
        assert isinstance(item, SystemPrivilege)
        if item.privilege != "IGNORE RLS":
            reader.warnings.append(f"{item.privilege} granted to {item.grantee} is left out: the model has no field "
                                   "for it (it stays as it is)")
            continue
        grantee = reader.grantee(item.grantee)
        if grantee is not None:
            ignore.append(grantee)
    section: dict[str, Any] = {}
    if policies:
        section["policies"] = policies
    if tables:
        section["tables"] = tables
    if ignore:
        section["ignore_rls"] = sorted(ignore, key=fold)
    return section


def read_masking(reader: CatalogReader) -> dict[str, Any]:
    rows = reader.definition_rows("masking_policy_definitions")
    attachments: dict[str, list[MaskingAttachment]] = defaultdict(list)
    for item in reader.state.of_kind(MaskingAttachment.KIND).values():
        assert isinstance(item, MaskingAttachment)
        attachments[fold(item.policy)].append(item)
    policies: list[dict[str, Any]] = []
    for item in sorted(reader.state.of_kind(MaskingPolicy.KIND).values(),
                       key=lambda p: fold(getattr(p, "name", ""))):
        assert isinstance(item, MaskingPolicy)
        row = rows.get(fold(item.name))
        policy = masking_definition(row) if row is not None else None
        if policy is None:
            reader.warnings.append(f"masking policy {item.name} is left out with its attachments: its input columns "
                                   "(svv_masking_policy input_columns) could not be read")
            continue
        index = len(policies)
        if not _policy_text(reader, "masking", policy):
            continue
        attach = []
        for attachment in sorted(attachments.get(fold(policy.name), []),
                                 key=lambda a: (a.schema, a.table, a.output_columns, a.priority, a.grantee)):
            grantee = reader.grantee(attachment.grantee)
            inputs = list(attachment.input_columns)
            columns = list(attachment.output_columns)
            if not all(reader.column_ok(c, f"masking attachment of {policy.name} on {attachment.schema}."
                                         f"{attachment.table}.{c}") for c in columns + inputs):
                continue
            key = reader.table(attachment.schema, attachment.table, columns + inputs)
            if grantee is None or key is None:
                continue
            entry: dict[str, Any] = {"table": key, "columns": columns}
            if inputs and [fold(c) for c in inputs] != [fold(c) for c in columns]:
                entry["input_columns"] = inputs
            entry["to"] = grantee
            entry["priority"] = int(attachment.priority)
            attach.append(entry)
        policy_entry: dict[str, Any] = {"name": policy.name, "with": dict(policy.columns), "using": policy.using}
        if attach:
            policy_entry["attach"] = attach
        reader.comments[("masking", "policies", index)] = [
            "with and using as Redshift returns them (svv_masking_policy input_columns, policy_expression's",
            "expr): the alias 'masked_table' was taken off its column names and the casts Redshift adds to plain",
            "literals off them; the rest may differ from the text the policy was created with. Keep them to",
            "adopt it unchanged.",
        ]
        policies.append(policy_entry)
    return {"policies": policies} if policies else {}

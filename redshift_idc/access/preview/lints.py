"""The preview's warnings: grants that have no effect, personas that see nothing or less than each of their
groups alone, readable RLS lookup tables, sample rows no persona sees (which of them `--strict` fails on:
`model_lints.unaccepted`, shared with the model's own lints)."""

from __future__ import annotations

from redshift_idc.access.model_file import split_table
from redshift_idc.access.preview.evaluator import Evaluator
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.preview.results import Persona, PersonaView, PreviewWarning, TableView
from redshift_idc.access.preview.rules import Rules
from redshift_idc.access.preview.samples import quote_name, quoted_table


def find_warnings(inputs: PreviewInputs, rules: Rules, evaluator: Evaluator,
           views: list[PersonaView]) -> list[PreviewWarning]:
    warnings: list[PreviewWarning] = []
    singles = _single_group_views(inputs, rules, evaluator, views)
    for number, view in enumerate(views):
        for table in view.tables:
            if table.access == "ok" and table.rls and not table.ignore_rls and not table.policies:
                warnings.append(PreviewWarning("rls-no-policy", (
                    f"persona {view.persona.name} may SELECT {table.table}, which has row-level security on, but "
                    "no RLS policy applies to it and it has no IGNORE RLS: it sees no rows")))
            if table.access == "denied" and all(m.startswith("USAGE") for m in table.missing):
                warnings.append(PreviewWarning("select-without-usage", (
                    f"persona {view.persona.name} has SELECT on {table.table} but no USAGE on its schema: "
                    "the grant has no effect")))
            if _narrows(view, table):
                alone = [len(single.rows) for single in singles[(number, table.table)]
                         if single.access == "ok"]
                if alone and len(table.rows) < min(alone):
                    warnings.append(PreviewWarning("and-narrows", (
                        f"persona {view.persona.name} ({', '.join(view.persona.groups)}) sees {len(table.rows)} "
                        f"row(s) of {table.table}: its groups' policies ({', '.join(table.policies)}) combine with "
                        f"AND, while each group alone sees at least {min(alone)}")))
    for lookup_schema, lookup_table, policy in rules.lookups:
        folded = (rules.fold(lookup_schema), rules.fold(lookup_table))
        readers = sorted({role for (gs, gt, role) in rules.table_select if (gs, gt) == folded}
                         | {role for (gs, role) in rules.scoped_select if gs == folded[0]}
                         | {role for (gs, gt, role) in rules.column_select if (gs, gt) == folded})
        if readers:
            warnings.append(PreviewWarning("readable-lookup-table", (
                f"{lookup_schema}.{lookup_table} is the lookup table of RLS policy {policy}, and "
                f"{', '.join(readers)} may SELECT it: its users can read everyone's entitlements. Grant it to no "
                "role: the policy reads it through its own grant (GRANT SELECT ... TO RLS POLICY, in the plan)")))
    for qualified in sorted(inputs.tables):
        shown: set[int] = set()
        sample_rows = 0
        rls = False
        for persona_view in views:
            for t in persona_view.tables:
                if t.table == qualified:
                    sample_rows, rls = t.total_rows, rls or t.rls
                    if t.access == "ok" and not t.ignore_rls:
                        shown.update(t.row_ids)
        unseen = [i for i in range(sample_rows) if i not in shown]
        if rls and sample_rows and unseen:
            schema, name = split_table(qualified)
            first = inputs.tables[qualified][0]
            values = [str(row[0]) for row in evaluator.samples.db.execute(
                f"SELECT {quote_name(first)} FROM {quoted_table(schema, name)} ORDER BY rowid").fetchall()]
            which = ", ".join(f"{first}={values[i]}" for i in unseen)
            warnings.append(PreviewWarning("unseen-rows", (
                f"{qualified}: {len(unseen)} of {sample_rows} sample row(s) are seen by no persona except those with "
                f"IGNORE RLS ({which})")))
    return warnings


def _narrows(view: PersonaView, table: TableView) -> bool:
    """Whether the and-narrows lint compares this view with its persona's groups alone."""
    return (len(view.persona.groups) > 1 and table.conjunction == "AND" and len(table.policies) > 1
            and not table.ignore_rls)


def _single_group_views(inputs: PreviewInputs, rules: Rules, evaluator: Evaluator,
                        views: list[PersonaView]) -> dict[tuple[int, str], list[TableView]]:
    """(persona's position, table) -> the table's view for each of the persona's groups alone, where
    and-narrows asks for them; evaluated together (`Evaluator.views`), in the order the lint reads them."""
    wanted = [(number, Persona(view.persona.name, (group,), view.persona.user,
                               rules.roles_of([f"{inputs.identity_namespace}:{group}"])), table.table)
              for number, view in enumerate(views) for table in view.tables if _narrows(view, table)
              for group in view.persona.groups]
    singles: dict[tuple[int, str], list[TableView]] = {}
    found = evaluator.views([(persona, table) for _, persona, table in wanted])
    for (number, _, table), single in zip(wanted, found, strict=True):
        singles.setdefault((number, table), []).append(single)
    return singles


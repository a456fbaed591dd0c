"""The preview's inputs (`personas`, `sample_data`, `expect`), checked with the rest of the model so a
typo fails `plan` and synth, not only `preview`."""

from __future__ import annotations

from redshift_idc.access.compiler.resolver import Resolver, fail
from redshift_idc.access.expressions import ExpressionError, check_expression
from redshift_idc.runtime.sql_text import fold


def check_preview_inputs(resolver: Resolver) -> None:
    """Personas name groups the model declares; sample data goes to declared tables."""
    m = resolver.model
    cs = resolver.cs
    groups = {fold(g, cs) for g in m.roles.idc_groups}
    seen: set[str] = set()
    for i, persona in enumerate(m.personas):
        if fold(persona.name, cs) in seen:
            fail(f"personas[{i}].name", f"persona '{persona.name}' is named twice")
        seen.add(fold(persona.name, cs))
        for j, group in enumerate(persona.groups):
            if fold(group, cs) not in groups:
                fail(f"personas[{i}].groups[{j}]", f"'{group}' is not one of the model's roles.idc_groups "
                     f"(known: {', '.join(m.roles.idc_groups) or 'none'})")
    for table in m.sample_data:
        resolver.table(f"sample_data.{table}", table)
    personas = {fold(p.name, cs) for p in m.personas} or groups
    for i, expectation in enumerate(m.expect):
        if fold(expectation.persona, cs) not in personas:
            fail(f"expect[{i}].persona", f"no persona '{expectation.persona}' (personas: "
                 f"{', '.join(p.name for p in m.personas) or 'one per IdC group'})")
        schema, name = resolver.table(f"expect[{i}].table", expectation.table, expectation.masked or ())
        if expectation.rows_where is not None:
            columns = resolver.tables[(fold(schema, cs), fold(name, cs))][2]
            declared = m.tables.get(expectation.table, ())
            try:
                check_expression(expectation.rows_where, sorted(columns), cs,
                                 f"columns of {expectation.table} ({', '.join(declared)})")
            except ExpressionError as error:
                fail(f"expect[{i}].rows_where", str(error))
            resolver.functions(f"expect[{i}].rows_where", expectation.rows_where)
        if {expectation.access, expectation.rows, expectation.rows_where, expectation.masked} == {None}:
            fail(f"expect[{i}]", "says nothing to check; give access, rows, rows_where or masked")

"""One persona's view of one table: its grants decide access and columns, its RLS policies the rows (a
DuckDB query over the sample rows), its masking policies the values shown."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import duckdb
from sqlglot import exp

from redshift_idc.access.expressions import ExpressionError, parse_expression
from redshift_idc.access.model_file import split_table
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.preview.results import Persona, PersonaView, PreviewError, Rows, TableView
from redshift_idc.access.preview.rules import Rules
from redshift_idc.access.preview.samples import Samples, quote_name, quoted_table
from redshift_idc.access.preview.translate import translate
from redshift_idc.runtime.sql_text import fold

# A table's branches per query: DuckDB binds a long UNION ALL as a deep tree; a few hundred keep it shallow.
BRANCHES_PER_QUERY = 200


def personas_of(inputs: PreviewInputs, rules: Rules) -> list[Persona]:
    personas = []
    for name, groups in inputs.personas:
        direct = [f"{inputs.identity_namespace}:{g}" for g in groups]
        personas.append(Persona(name, groups, fold(f"{inputs.identity_namespace}:{name}"), rules.roles_of(direct)))
    return personas


class Evaluator:
    """Personas' views of tables. `views` evaluates all the personas asked of a table at once (the preview, the
    lints' single groups); `view` one persona and one table alone (the transition check's cells, and the
    reference the set-based evaluation must agree with)."""

    def __init__(self, inputs: PreviewInputs, rules: Rules, samples: Samples) -> None:
        self.inputs = inputs
        self.rules = rules
        self.samples = samples
        self.source = inputs.source
        self.checked_blanks: set[str] = set()

    def persona_views(self, personas: Sequence[Persona], tables: Sequence[str]) -> list[PersonaView]:
        """Every persona's view of every table (`views`, persona by persona, then table by table)."""
        views = iter(self.views([(persona, table) for persona in personas for table in tables]))
        return [PersonaView(persona, [next(views) for _ in tables]) for persona in personas]

    def views(self, pairs: Sequence[tuple[Persona, str]]) -> list[TableView]:
        """Each (persona, table) pair's view, evaluated a table at a time, in a few queries per table.

        Which error is reported is the first one met in the order of `pairs`, as when each pair was evaluated
        alone: on any error the set-based pass is dropped and the pairs are evaluated one by one, by a fresh
        evaluator, in that order; that raises the error each pair alone would."""
        by_table: dict[str, list[int]] = {}
        for index, (_, table) in enumerate(pairs):
            by_table.setdefault(table, []).append(index)
        found: dict[int, TableView] = {}
        try:
            for table, indexes in by_table.items():
                found.update(zip(indexes, self._table_views([pairs[i][0] for i in indexes], table), strict=True))
        except PreviewError:
            alone = Evaluator(self.inputs, self.rules, self.samples)
            return [alone.view(persona, table) for persona, table in pairs]
        return [found[index] for index in range(len(pairs))]

    def view(self, persona: Persona, table: str) -> TableView:
        view, select, where = self._plan(persona, table)
        if select is None:
            return view
        schema, name = split_table(table)
        query = f"SELECT rowid, {select} FROM {quoted_table(schema, name)} WHERE {where} ORDER BY rowid"
        try:
            result = self.samples.db.execute(query).fetchall()
        except duckdb.Error as error:
            raise PreviewError(f"{self.source}: {table} for persona {persona.name}: the preview cannot evaluate "
                               f"its policies in DuckDB: {error}") from None
        view.row_ids = tuple(int(row[0]) for row in result)
        view.rows = Rows(view.columns, [row[1:] for row in result])
        return view

    def _table_views(self, personas: Sequence[Persona], table: str) -> list[TableView]:
        """Each persona's view of `table`. Personas whose select list and filter come out the same share one
        branch; the branches with one select list (hence one row type: the filter does not type the output)
        are one `UNION ALL` query, each branch the query `view` would run for its personas alone."""
        planned = [self._plan(persona, table) for persona in personas]
        sharing: dict[tuple[str, str], list[TableView]] = {}
        for view, select, where in planned:
            if select is not None:
                sharing.setdefault((select, where), []).append(view)
        filters: dict[str, list[str]] = {}
        for select, where in sharing:
            filters.setdefault(select, []).append(where)
        source = quoted_table(*split_table(table))
        for select, wheres in filters.items():
            for start in range(0, len(wheres), BRANCHES_PER_QUERY):
                chunk = wheres[start:start + BRANCHES_PER_QUERY]
                query = " UNION ALL ".join(f"SELECT {i}, rowid, {select} FROM {source} WHERE {where}"
                                           for i, where in enumerate(chunk)) + " ORDER BY 1, 2"
                try:
                    result = self.samples.db.execute(query).fetchall()
                except duckdb.Error as error:
                    raise PreviewError(f"{self.source}: {table}: the preview cannot evaluate its policies in "
                                       f"DuckDB: {error}") from None
                found: list[list[tuple[Any, ...]]] = [[] for _ in chunk]
                for row in result:
                    found[row[0]].append(row[1:])
                for where, rows in zip(chunk, found, strict=True):
                    row_ids = tuple(int(row[0]) for row in rows)
                    values = [row[1:] for row in rows]
                    for view in sharing[(select, where)]:
                        view.row_ids, view.rows = row_ids, Rows(view.columns, values)
        return [view for view, _, _ in planned]

    def _plan(self, persona: Persona, table: str) -> tuple[TableView, str | None, str]:
        """The persona's view of `table` but its rows, and what selects them: the select list after rowid and
        the filter (no select list: access denied, no rows to select)."""
        r, f = self.rules, self.rules.fold
        schema, name = split_table(table)
        s, t = f(schema), f(name)
        declared = self.inputs.tables[table]
        roles = set(persona.roles)
        total = self.samples.count(schema, name)
        whole = any((s, t, role) in r.table_select or (s, role) in r.scoped_select for role in roles)
        granted_columns = set().union(*(r.column_select.get((s, t, role), set()) for role in roles))
        usage = r.has_usage(s, roles)
        missing = []
        if not whole and not granted_columns:
            missing.append(f"SELECT on {table}")
        if not usage:
            missing.append(f"USAGE on schema {schema}")
        if missing:
            denied = TableView(table, "denied", tuple(missing), denied_columns=tuple(declared), total_rows=total)
            return denied, None, ""
        columns = tuple(c for c in declared if whole or f(c) in granted_columns)
        view = TableView(table, "ok", columns=columns, denied_columns=tuple(c for c in declared if c not in columns),
                         total_rows=total)
        where = self._rls(persona, view, s, t)
        select = [self._masked(persona, view, s, t, column) for column in columns]
        if where not in ("TRUE", "FALSE") or view.masking:
            self._refuse_trailing_blanks(table, schema, name)
        return view, ", ".join(select), where

    def _refuse_trailing_blanks(self, table: str, schema: str, name: str) -> None:
        """Redshift ignores trailing blanks when it compares CHAR and VARCHAR values
        (r_Examples_with_character_types), DuckDB does not: a policy over such a sample value could be
        decided differently, so the preview refuses it (once per table) instead of guessing."""
        if table in self.checked_blanks:
            return
        self.checked_blanks.add(table)
        db = self.samples.db
        for column, kind, *_ in db.execute(f"DESCRIBE {quoted_table(schema, name)}").fetchall():
            if str(kind) != "VARCHAR":
                continue
            found = db.execute(f"SELECT {quote_name(column)} FROM {quoted_table(schema, name)} WHERE "
                               f"{quote_name(column)} LIKE '% ' ORDER BY rowid LIMIT 1").fetchone()
            if found is not None:
                raise PreviewError(f"{self.source}: {table}: the sample value {found[0]!r} of column {column} ends "
                                   "in blanks, which Redshift ignores when it compares text and DuckDB does not: "
                                   "trim it in the sample rows")

    def _rls(self, persona: Persona, view: TableView, s: str, t: str) -> str:
        r = self.rules
        conjunction = r.rls_tables.get((s, t))
        if conjunction is None:
            return "TRUE"
        view.rls, view.conjunction = True, conjunction
        if any(role in r.ignore_rls for role in persona.roles):
            view.ignore_rls = True
            return "TRUE"
        roles = set(persona.roles)
        names = list(dict.fromkeys(policy for grantee, policy in r.rls_attached.get((s, t), ()) if grantee in roles))
        view.policies = tuple(r.rls_policies[n].name for n in names if n in r.rls_policies)
        if not names:
            return "FALSE"
        policies = [r.rls_policies[n] for n in names]
        predicates = ["(" + translate(p.using, f"{self.source}: rls policy {p.name}", persona, None, p.columns) + ")"
                      for p in policies]
        return f" {conjunction} ".join(predicates)

    def _masked(self, persona: Persona, view: TableView, s: str, t: str, column: str) -> str:
        r = self.rules
        candidates = [m for m in r.masking_attached.get((s, t), ())
                      if r.fold(m.grantee) in persona.roles and r.fold(column) in {r.fold(c) for c in m.output_columns}]
        if not candidates:
            return quote_name(column)
        winner = max(candidates, key=lambda m: m.priority)
        where = f"{self.source}: masking policy {winner.policy}"
        if len(winner.output_columns) != 1:
            raise PreviewError(f"{where}: an attachment with several output columns cannot be evaluated by the "
                               "preview")
        policy = r.masking_policies.get(r.fold(winner.policy))
        if policy is None:
            raise PreviewError(f"{where}: the policy is not in the model")
        inputs = winner.input_columns or winner.output_columns
        if len(inputs) != len(policy.columns):
            raise PreviewError(f"{where}: takes {len(policy.columns)} input column(s), the attachment gives "
                               f"{len(inputs)}")
        mapping = {r.fold(name): inp for (name, _), inp in zip(policy.columns, inputs, strict=True)}
        view.masking[column] = policy.name
        if _passes_through(policy.using, policy.columns, r.fold, r.fold(column), mapping):
            view.passed_through.add(column)
        return f"({translate(policy.using, where, persona, mapping, policy.columns)}) AS {quote_name(column)}"


@functools.lru_cache(maxsize=4096)
def _bare_column(using: str) -> str | None:
    """The column a masking expression is, when it is nothing but one unqualified column."""
    try:
        tree = parse_expression(using)
    except ExpressionError:
        return None
    return str(tree.name) if isinstance(tree, exp.Column) and not tree.table else None


def _passes_through(using: str, columns: Sequence[tuple[str, str]], fold_name: Any, column: str,
                    mapping: dict[str, str]) -> bool:
    """A masking expression that is one of its input columns, fed from the masked column itself."""
    name = _bare_column(using)
    if name is None:
        return False
    source = mapping.get(fold_name(name))
    return source is not None and fold_name(source) == column and fold_name(name) in {
        fold_name(c) for c, _ in columns}


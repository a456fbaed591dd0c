"""Who sees what: an offline access preview of the compiled model, evaluated on sample rows in DuckDB.

It reads the same compiled desired state (`AccessState`) the planner diffs, never the YAML again, and
applies Redshift's rules (REDSHIFT_REFERENCE.md):

- Roles: a persona holds its IdC groups' roles `<namespace>:<group>`, every role granted to those
  (transitively, `GRANT ROLE ... TO ROLE`, section 3.2) and PUBLIC.
- Table access (3.3): SELECT on the table (a table grant or a scoped `FOR TABLES IN SCHEMA` grant) and
  USAGE on its schema; everyone has USAGE on schema `public` by default [D24]. With column grants only,
  just those columns are visible.
- RLS (3.6, [D32][D34], 1 [D37]): on a table with ROW LEVEL SECURITY ON, IGNORE RLS from any role
  shows every row; otherwise the policies attached to the persona's roles or PUBLIC apply, combined by
  the table's conjunction type; none applies: no rows. Predicates see the unmasked row; `current_user`
  is the persona's user (`<namespace>:<name>`, folded), `user_is_member_of(current_user, 'role')` is
  evaluated from the persona's roles.
- Masking (3.7, [D40][D43]): per column, of the attachments to the persona's roles or PUBLIC, the one
  with the highest priority wins; its expression is evaluated over its input columns.

Sample rows are the `INSERT ... VALUES` of the model's scripts (translated from Redshift SQL by sqlglot)
and the model's `sample_data` CSV files. A construct the preview cannot evaluate faithfully (a parse
error, a function DuckDB lacks, `user_is_member_of` about another user) is a `PreviewError` naming it,
never a guess.
"""

from __future__ import annotations

import csv
import functools
import json
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify_columns import qualify_columns

from redshift_idc.access.expressions import ExpressionError, parse_expression
from redshift_idc.access.model import AccessModel, split_table
from redshift_idc.config.errors import ConfigError
from redshift_idc.runtime.access_state import (
    AccessState,
    ColumnPrivilege,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsLookupGrant,
    RlsPolicy,
    RlsTable,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.reconciler import ScriptEntry
from redshift_idc.runtime.sql_text import fold

PUBLIC = "public"
INPUTS_SUFFIX = ".preview.json"  # <stack artifact id><suffix> in a cloud assembly: the stack's PreviewInputs


class PreviewError(ConfigError):
    """Something the preview cannot evaluate faithfully; the message names it and where it is."""


@dataclass(frozen=True)
class Persona:
    name: str
    groups: tuple[str, ...]
    user: str  # what current_user returns for this persona
    roles: tuple[str, ...]  # folded: its groups' roles, roles granted to them, and public


@dataclass
class TableView:
    table: str
    access: str  # "ok" or "denied"
    missing: tuple[str, ...] = ()  # the privileges a denied persona lacks
    columns: tuple[str, ...] = ()  # visible columns, in declared order
    denied_columns: tuple[str, ...] = ()
    rows: list[dict[str, Any]] = field(default_factory=list)
    row_ids: tuple[int, ...] = ()  # which sample rows (0-based), for the lints
    total_rows: int = 0
    rls: bool = False
    ignore_rls: bool = False
    conjunction: str = ""
    policies: tuple[str, ...] = ()
    masking: dict[str, str] = field(default_factory=dict)  # column -> the policy that won
    # Columns whose winning policy returns its input unchanged (`using: col`): the "unmasked for exec" form.
    passed_through: set[str] = field(default_factory=set)

    @property
    def masked_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c in self.masking and c not in self.passed_through)

    def why(self) -> list[str]:
        """What decided the rows and values: RLS and its policies, IGNORE RLS, masking, column grants."""
        reasons = []
        if self.ignore_rls:
            reasons.append("IGNORE RLS: every row")
        elif self.rls:
            reasons.append(f"RLS {self.conjunction}: {', '.join(self.policies) or 'no policy applies'}")
        if self.masking:
            reasons.append("masked " + ", ".join(
                f"{c} by {m}" + (" (passes the value through)" if c in self.passed_through else "")
                for c, m in sorted(self.masking.items())))
        if self.denied_columns:
            reasons.append(f"columns granted: {', '.join(self.columns)}")
        return reasons

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "access": self.access, "missing": list(self.missing),
                "columns": list(self.columns), "row_count": len(self.rows), "rows": self.rows,
                "sample_rows": self.total_rows, "masked_columns": list(self.masked_columns),
                "denied_columns": list(self.denied_columns),
                "why": {"rls": self.rls, "ignore_rls": self.ignore_rls, "conjunction": self.conjunction or None,
                        "policies": list(self.policies), "masking": dict(sorted(self.masking.items()))}}


@dataclass
class PersonaView:
    persona: Persona
    tables: list[TableView]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.persona.name, "user": self.persona.user, "groups": list(self.persona.groups),
                "roles": list(self.persona.roles), "tables": [t.to_json() for t in self.tables]}


@dataclass(frozen=True)
class PreviewWarning:
    code: str
    message: str


@dataclass
class Preview:
    model: str
    personas: list[PersonaView]
    warnings: list[PreviewWarning]
    samples: Any = field(default=None, repr=False)  # the DuckDB connection holding the sample rows
    failures: list[str] = field(default_factory=list)  # expectations the preview contradicts

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "personas": [p.to_json() for p in self.personas],
                "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
                "failed_expectations": self.failures}


# ------------------------------------------------------------------------------------------ the inputs


@dataclass(frozen=True)
class PreviewInputs:
    """What the rules are evaluated on: the tables, the personas and the sample rows' sources.

    They are kept apart from the rules (the compiled `AccessState`) so that `make review` can evaluate the
    base branch's rules on the head's sample rows: synth writes them into the cloud assembly beside the
    template (`<stack>.preview.json`), and the review reads them back with `from_json`."""

    model: str
    identity_namespace: str
    case_sensitive: bool
    tables: dict[str, tuple[str, ...]]  # schema.table -> declared columns, in order
    personas: tuple[tuple[str, tuple[str, ...]], ...]  # (name, IdC groups); the default one per group resolved
    scripts: tuple[ScriptEntry, ...] = ()  # the model's scripts (their INSERT ... VALUES are sample rows)
    csv: dict[str, tuple[str, str]] = field(default_factory=dict)  # table -> (file name, CSV text)

    @property
    def source(self) -> str:
        return f"access/{self.model}.yaml"

    @classmethod
    def of_model(cls, model: AccessModel, scripts: Sequence[ScriptEntry], identity_namespace: str,
                 access_dir: Path) -> PreviewInputs:
        """The model's personas (or one per IdC group, named after it) and its sample data files read."""
        personas = tuple((p.name, tuple(p.groups)) for p in model.personas) or tuple(
            (g, (g,)) for g in model.roles.idc_groups)
        csv_texts: dict[str, tuple[str, str]] = {}
        for table, relative in sorted(model.sample_data.items()):
            where = f"access/{model.name}.yaml: sample_data.{table}"
            path = access_dir / relative
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise PreviewError(f"{where}: no such file access/{relative} (CSV files sit beside the model)"
                                   ) from None
            except (OSError, UnicodeDecodeError) as error:
                raise PreviewError(f"{where}: cannot read access/{relative} as UTF-8 text: {error}") from None
            header = next(csv.reader(text.splitlines()), [])
            declared = {fold(c, model.case_sensitive_identifiers) for c in model.tables.get(table, ())}
            unknown = [h for h in header if fold(h, model.case_sensitive_identifiers) not in declared]
            if unknown:
                raise PreviewError(f"{where}: access/{relative} has columns {', '.join(unknown)} that `tables` "
                                   f"does not declare for {table}")
            csv_texts[table] = (relative, text)
        return cls(model.name, identity_namespace, model.case_sensitive_identifiers,
                   {t: tuple(c) for t, c in model.tables.items()}, personas, tuple(scripts), csv_texts)

    def to_json(self) -> dict[str, Any]:
        """Everything but the scripts, which the assembly's model document already holds."""
        return {"model": self.model, "identity_namespace": self.identity_namespace,
                "case_sensitive": self.case_sensitive,
                "tables": {t: list(c) for t, c in sorted(self.tables.items())},
                "personas": [{"name": n, "groups": list(g)} for n, g in self.personas],
                "csv": {t: {"file": f, "text": text} for t, (f, text) in sorted(self.csv.items())}}

    @classmethod
    def from_json(cls, data: dict[str, Any], scripts: Sequence[ScriptEntry]) -> PreviewInputs:
        return cls(str(data["model"]), str(data["identity_namespace"]), bool(data["case_sensitive"]),
                   {str(t): tuple(str(c) for c in cs) for t, cs in data["tables"].items()},
                   tuple((str(p["name"]), tuple(str(g) for g in p["groups"])) for p in data["personas"]),
                   tuple(scripts), {str(t): (str(v["file"]), str(v["text"])) for t, v in data["csv"].items()})


def write_inputs(assembly: Path, artifact_id: str, inputs: PreviewInputs) -> Path:
    """Writes the inputs into a cloud assembly directory, sorted, so the same model gives the same bytes."""
    assembly.mkdir(parents=True, exist_ok=True)
    path = assembly / f"{artifact_id}{INPUTS_SUFFIX}"
    path.write_text(json.dumps(inputs.to_json(), indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ the rules


class _Rules:
    """The model's grants and policies, indexed by (folded) role, table and schema."""

    def __init__(self, desired: AccessState) -> None:
        self.cs = desired.case_sensitive
        f = self.fold
        self.granted: dict[str, set[str]] = {}  # grantee -> roles granted to it
        for item in desired.of_kind(RoleGrant.KIND).values():
            assert isinstance(item, RoleGrant)
            self.granted.setdefault(f(item.grantee), set()).add(f(item.role))
        self.table_select = {(f(i.schema), f(i.table), f(i.grantee)) for i in _of(desired, TablePrivilege)
                             if i.privilege == "SELECT"}
        self.scoped_select = {(f(i.schema), f(i.grantee)) for i in _of(desired, ScopedTablePrivilege)
                              if i.privilege == "SELECT"}
        self.usage = {(f(i.schema), f(i.grantee)) for i in _of(desired, SchemaPrivilege) if i.privilege == "USAGE"}
        self.column_select: dict[tuple[str, str, str], set[str]] = {}
        for c in _of(desired, ColumnPrivilege):
            if c.privilege == "SELECT":
                self.column_select.setdefault((f(c.schema), f(c.table), f(c.grantee)), set()).add(f(c.column))
        self.ignore_rls = {f(i.grantee) for i in _of(desired, SystemPrivilege) if i.privilege == "IGNORE RLS"}
        self.rls_tables = {(f(t.schema), f(t.table)): t.conjunction.upper() for t in _of(desired, RlsTable)}
        self.rls_policies = {f(p.name): p for p in _of(desired, RlsPolicy)}
        self.rls_attached: dict[tuple[str, str], list[RlsAttachment]] = {}
        for a in sorted(_of(desired, RlsAttachment), key=lambda a: a.key(self.cs)):
            self.rls_attached.setdefault((f(a.schema), f(a.table)), []).append(a)
        self.lookups = sorted({(g.schema, g.table, g.policy) for g in _of(desired, RlsLookupGrant)})
        self.masking_policies = {f(p.name): p for p in _of(desired, MaskingPolicy)}
        self.masking_attached: dict[tuple[str, str], list[MaskingAttachment]] = {}
        for m in sorted(_of(desired, MaskingAttachment), key=lambda m: m.key(self.cs)):
            self.masking_attached.setdefault((f(m.schema), f(m.table)), []).append(m)

    def fold(self, name: str) -> str:
        return fold(name, self.cs)

    def roles_of(self, direct: Iterable[str]) -> tuple[str, ...]:
        """Direct roles, every role granted to them transitively, and PUBLIC."""
        held = {self.fold(r) for r in direct}
        todo = list(held)
        while todo:
            for role in self.granted.get(todo.pop(), ()):
                if role not in held:
                    held.add(role)
                    todo.append(role)
        return (*sorted(held), PUBLIC)


def _of(desired: AccessState, kind: type[Any]) -> list[Any]:
    return list(desired.of_kind(kind.KIND).values())


# ------------------------------------------------------------------------------------- sample data


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(schema: str, table: str) -> str:
    return f"{_quote(schema)}.{_quote(table)}"


class _Samples:
    """An in-memory DuckDB holding the model's tables with their sample rows."""

    def __init__(self, inputs: PreviewInputs) -> None:
        self.db = duckdb.connect(":memory:")
        self.inputs = inputs
        self.cs = inputs.case_sensitive
        self.created: set[tuple[str, str]] = set()
        for script in inputs.scripts:
            self._load_script(script["Name"], script["Sql"])
        for table, columns in inputs.tables.items():
            schema, name = split_table(table)
            if (fold(schema, self.cs), fold(name, self.cs)) not in self.created:
                self._create(schema, name, [(c, "VARCHAR") for c in columns])
        if inputs.csv:
            with tempfile.TemporaryDirectory(prefix="redshift-idc-preview-") as folder:
                for index, (table, (file_name, text)) in enumerate(sorted(inputs.csv.items())):
                    path = Path(folder) / f"{index}.csv"
                    path.write_text(text, encoding="utf-8")
                    self._load_csv(table, file_name, path)

    def _create(self, schema: str, name: str, columns: Sequence[tuple[str, str]]) -> None:
        self.db.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
        definition = ", ".join(f"{_quote(c)} {t}" for c, t in columns)
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {_qualified(schema, name)} ({definition})")
        self.created.add((fold(schema, self.cs), fold(name, self.cs)))

    def _load_script(self, name: str, text: str) -> None:
        """CREATE SCHEMA / CREATE TABLE (names and types only) and INSERT ... VALUES; other statements
        hold no sample rows and are left out."""
        try:
            statements = [s for s in sqlglot.parse(text, read="redshift") if s is not None]
        except sqlglot.errors.ParseError as error:
            raise PreviewError(f"sql/{name}: the preview cannot read this script: {error}") from None
        for statement in statements:
            if isinstance(statement, exp.Create) and statement.args.get("kind") == "TABLE":
                schema_node = statement.this
                if not isinstance(schema_node, exp.Schema) or not isinstance(schema_node.this, exp.Table):
                    continue  # CREATE TABLE ... AS SELECT: no declared columns to take
                table = schema_node.this
                columns = [(c.name, c.args["kind"].sql(dialect="duckdb")) for c in schema_node.expressions
                           if isinstance(c, exp.ColumnDef) and c.args.get("kind") is not None]
                self._create(table.db or "public", table.name, columns)
            elif isinstance(statement, exp.Insert) and isinstance(statement.expression, exp.Values):
                target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
                if not isinstance(target, exp.Table):
                    continue
                if (fold(target.db or "public", self.cs), fold(target.name, self.cs)) not in self.created:
                    continue  # a table the model does not declare: no verdict is asked of it
                try:
                    self.db.execute(statement.sql(dialect="duckdb"))
                except duckdb.Error as error:
                    raise PreviewError(f"sql/{name}: the preview cannot load the rows of "
                                       f"{target.sql(dialect='redshift')}: {error}") from None

    def _load_csv(self, table: str, file_name: str, path: Path) -> None:
        schema, name = split_table(table)
        where = f"{self.inputs.source}: sample_data.{table} ({file_name})"
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
        columns = ", ".join(_quote(h) for h in header)
        try:  # DuckDB reads the file itself (as text; the INSERT casts to the table's types)
            self.db.execute(f"INSERT INTO {_qualified(schema, name)} ({columns}) SELECT {columns} FROM "
                            "read_csv(?, header = true, all_varchar = true)", [str(path)])
        except duckdb.Error as error:
            raise PreviewError(f"{where}: its rows do not fit {table}: {error}") from None


# ----------------------------------------------------------------------------------- expressions


def _translate(expression: str, where: str, persona: Persona, columns: dict[str, str] | None = None,
               types: Sequence[tuple[str, str]] = ()) -> str:
    """A Redshift expression as DuckDB SQL for this persona: current_user is its user, user_is_member_of
    is decided from its roles, `columns` renames column references (masking inputs). `types`: the
    expression's columns and their Redshift types (a policy's `WITH` columns), for division."""
    try:  # the parser validation uses: what the model accepted, the preview reads the same way
        tree = parse_expression(expression, lookups=True)
    except ExpressionError as error:
        raise PreviewError(f"{where}: the preview cannot read {expression!r}: {error}") from None
    for literal in tree.find_all(exp.Literal):
        if literal.is_string and literal.this != literal.this.rstrip(" "):
            raise PreviewError(f"{where}: the string {literal.sql(dialect='redshift')} ends in blanks, which "
                               "Redshift ignores when it compares text and DuckDB does not")
    if tree.find(exp.Div) is not None:
        tree = _redshift_division(tree, where, types)

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.CurrentUser) or (isinstance(node, exp.Column) and node.name.lower() == "current_user"
                                                 and not node.table):
            return exp.Literal.string(persona.user)
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "user_is_member_of":
            args = node.expressions
            if len(args) != 2 or not isinstance(args[1], exp.Literal):
                raise PreviewError(f"{where}: user_is_member_of needs a user and a role name literal")
            user = args[0]
            is_persona = isinstance(user, exp.CurrentUser) or (
                isinstance(user, exp.Literal) and fold(user.this) == fold(persona.user))
            if not is_persona:
                raise PreviewError(f"{where}: user_is_member_of about another user than current_user cannot be "
                                   "evaluated by the preview")
            return exp.Boolean(this=fold(args[1].this) in persona.roles)
        if columns is not None and isinstance(node, exp.Column) and not node.table:
            mapped = columns.get(fold(node.name))
            if mapped is not None:
                return exp.column(mapped, quoted=True)
        return node

    return str(tree.transform(rewrite).sql(dialect="duckdb"))


def _redshift_division(tree: exp.Expr, where: str, types: Sequence[tuple[str, str]]) -> exp.Expr:
    """Redshift divides an integer by an integer to an integer (truncated), DuckDB's `/` to a double: an
    integer division becomes DuckDB's `//`. The operand types come from the declared column types; a
    division whose operand types sqlglot cannot infer is refused rather than guessed."""
    schema: dict[str, object] = {"policy_input": {fold(name): kind for name, kind in types}}
    select = exp.select(tree.copy()).from_("policy_input")
    try:
        select = qualify_columns(select, schema=schema, dialect="redshift")
    except sqlglot.errors.SqlglotError as error:
        raise PreviewError(f"{where}: the preview cannot type the columns of {tree.sql(dialect='redshift')!r} "
                           f"to decide its division: {error}") from None
    annotate_types(select, schema=schema, dialect="redshift")
    typed = select.selects[0]
    integers = exp.DataType.INTEGER_TYPES
    for division in typed.find_all(exp.Div):
        left, right = division.this.type, division.expression.type
        if left is None or right is None or left.is_type(exp.DataType.Type.UNKNOWN) or right.is_type(
                exp.DataType.Type.UNKNOWN):
            shown = division.copy()
            for column in shown.find_all(exp.Column):
                column.set("table", None)
            raise PreviewError(f"{where}: the preview cannot tell whether {shown.sql(dialect='redshift')} "
                               "divides integers (Redshift truncates those, DuckDB does not)")
        if left.is_type(*integers) and right.is_type(*integers):
            division.replace(exp.IntDiv(this=division.this, expression=division.expression))
    for column in typed.find_all(exp.Column):
        column.set("table", None)
    return typed.unalias() if isinstance(typed, exp.Alias) else typed


# ----------------------------------------------------------------------------------------- preview


def personas_of(inputs: PreviewInputs, rules: _Rules) -> list[Persona]:
    personas = []
    for name, groups in inputs.personas:
        direct = [f"{inputs.identity_namespace}:{g}" for g in groups]
        personas.append(Persona(name, groups, fold(f"{inputs.identity_namespace}:{name}"), rules.roles_of(direct)))
    return personas


class _Evaluator:
    def __init__(self, inputs: PreviewInputs, rules: _Rules, samples: _Samples) -> None:
        self.inputs = inputs
        self.rules = rules
        self.samples = samples
        self.source = inputs.source
        self.checked_blanks: set[str] = set()

    def view(self, persona: Persona, table: str) -> TableView:
        r, f = self.rules, self.rules.fold
        schema, name = split_table(table)
        s, t = f(schema), f(name)
        declared = self.inputs.tables[table]
        roles = set(persona.roles)
        counted = self.samples.db.execute(f"SELECT COUNT(*) FROM {_qualified(schema, name)}").fetchone()
        total = int(counted[0]) if counted else 0
        whole = any((s, t, role) in r.table_select or (s, role) in r.scoped_select for role in roles)
        granted_columns = set().union(*(r.column_select.get((s, t, role), set()) for role in roles))
        usage = s == PUBLIC or any((s, role) in r.usage for role in roles)
        missing = []
        if not whole and not granted_columns:
            missing.append(f"SELECT on {table}")
        if not usage:
            missing.append(f"USAGE on schema {schema}")
        if missing:
            return TableView(table, "denied", tuple(missing), denied_columns=tuple(declared), total_rows=total)
        columns = tuple(c for c in declared if whole or f(c) in granted_columns)
        view = TableView(table, "ok", columns=columns, denied_columns=tuple(c for c in declared if c not in columns),
                         total_rows=total)
        where = self._rls(persona, view, s, t)
        select = [self._masked(persona, view, s, t, column) for column in columns]
        if where not in ("TRUE", "FALSE") or view.masking:
            self._refuse_trailing_blanks(table, schema, name)
        query = (f"SELECT rowid, {', '.join(select)} FROM {_qualified(schema, name)} WHERE {where} ORDER BY rowid")
        try:
            result = self.samples.db.execute(query).fetchall()
        except duckdb.Error as error:
            raise PreviewError(f"{self.source}: {table} for persona {persona.name}: the preview cannot evaluate "
                               f"its policies in DuckDB: {error}") from None
        view.row_ids = tuple(int(row[0]) for row in result)
        view.rows = [{c: _plain(v) for c, v in zip(columns, row[1:], strict=True)} for row in result]
        return view

    def _refuse_trailing_blanks(self, table: str, schema: str, name: str) -> None:
        """Redshift ignores trailing blanks when it compares CHAR and VARCHAR values
        (r_Examples_with_character_types), DuckDB does not: a policy over such a sample value could be
        decided differently, so the preview refuses it (once per table) instead of guessing."""
        if table in self.checked_blanks:
            return
        self.checked_blanks.add(table)
        db = self.samples.db
        for column, kind, *_ in db.execute(f"DESCRIBE {_qualified(schema, name)}").fetchall():
            if str(kind) != "VARCHAR":
                continue
            found = db.execute(f"SELECT {_quote(column)} FROM {_qualified(schema, name)} WHERE {_quote(column)} "
                               "LIKE '% ' ORDER BY rowid LIMIT 1").fetchone()
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
        applied = [a for a in r.rls_attached.get((s, t), ()) if r.fold(a.grantee) in persona.roles]
        names = list(dict.fromkeys(r.fold(a.policy) for a in applied))
        view.policies = tuple(r.rls_policies[n].name for n in names if n in r.rls_policies)
        if not names:
            return "FALSE"
        policies = [r.rls_policies[n] for n in names]
        predicates = ["(" + _translate(p.using, f"{self.source}: rls policy {p.name}", persona, None, p.columns) + ")"
                      for p in policies]
        return f" {conjunction} ".join(predicates)

    def _masked(self, persona: Persona, view: TableView, s: str, t: str, column: str) -> str:
        r = self.rules
        candidates = [m for m in r.masking_attached.get((s, t), ())
                      if r.fold(m.grantee) in persona.roles and r.fold(column) in {r.fold(c) for c in m.output_columns}]
        if not candidates:
            return _quote(column)
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
        return f"({_translate(policy.using, where, persona, mapping, policy.columns)}) AS {_quote(column)}"


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


def _plain(value: Any) -> Any:
    """A DuckDB value as JSON would show it (decimals and times as text)."""
    if isinstance(value, Decimal | datetime | date):
        return str(value)
    return value


def build_preview(model: AccessModel, desired: AccessState, scripts: Sequence[ScriptEntry],
                  identity_namespace: str, access_dir: Path) -> Preview:
    """The model's preview, with its expectations checked (`failures`)."""
    result = evaluate(PreviewInputs.of_model(model, scripts, identity_namespace, access_dir), desired)
    result.failures = failed_expectations(model, result)
    return result


def evaluate(inputs: PreviewInputs, desired: AccessState) -> Preview:
    """Who sees what: the rules of `desired` on the tables, personas and sample rows of `inputs`."""
    rules = _Rules(desired)
    samples = _Samples(inputs)
    evaluator = _Evaluator(inputs, rules, samples)
    personas = personas_of(inputs, rules)
    views = [PersonaView(p, [evaluator.view(p, table) for table in sorted(inputs.tables)]) for p in personas]
    return Preview(inputs.model, views, _lints(inputs, rules, evaluator, views), samples.db)


def unaccepted(model: AccessModel, preview: Preview) -> list[PreviewWarning]:
    """The warnings `--strict` fails on: those whose code the model does not accept (`allow_warnings`)."""
    allowed = {a.code for a in model.allow_warnings}
    return [w for w in preview.warnings if w.code not in allowed]


def raise_failed_expectations(preview: Preview) -> None:
    """One error naming the model file first, then each failure (persona, table, difference)."""
    if preview.failures:
        source = f"access/{preview.model}.yaml"
        lines = [f.removeprefix(f"{source}: ") for f in preview.failures]
        raise PreviewError(f"{source}: {len(lines)} expectation(s) failed:\n  " + "\n  ".join(lines))


# ------------------------------------------------------------------------------------------- lints


def _lints(inputs: PreviewInputs, rules: _Rules, evaluator: _Evaluator,
           views: list[PersonaView]) -> list[PreviewWarning]:
    namespace = inputs.identity_namespace
    warnings: list[PreviewWarning] = []
    for view in views:
        for table in view.tables:
            if table.access == "ok" and table.rls and not table.ignore_rls and not table.policies:
                warnings.append(PreviewWarning("rls-no-policy", (
                    f"persona {view.persona.name} may SELECT {table.table}, which has row-level security on, but "
                    "no RLS policy applies to it and it has no IGNORE RLS: it sees no rows")))
            if table.access == "denied" and all(m.startswith("USAGE") for m in table.missing):
                warnings.append(PreviewWarning("select-without-usage", (
                    f"persona {view.persona.name} has SELECT on {table.table} but no USAGE on its schema: "
                    "the grant has no effect")))
            if (len(view.persona.groups) > 1 and table.conjunction == "AND" and len(table.policies) > 1
                    and not table.ignore_rls):
                alone = []
                for group in view.persona.groups:
                    single = Persona(view.persona.name, (group,), view.persona.user,
                                     rules.roles_of([f"{namespace}:{group}"]))
                    single_view = evaluator.view(single, table.table)
                    if single_view.access == "ok":
                        alone.append(len(single_view.rows))
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
                f"SELECT {_quote(first)} FROM {_qualified(schema, name)} ORDER BY rowid").fetchall()]
            which = ", ".join(f"{first}={values[i]}" for i in unseen)
            warnings.append(PreviewWarning("unseen-rows", (
                f"{qualified}: {len(unseen)} of {sample_rows} sample row(s) are seen by no persona except those with "
                f"IGNORE RLS ({which})")))
    return warnings


# ------------------------------------------------------------------------------------------- output


def render_text(preview: Preview, limit: int = 20) -> str:
    lines = [f"-- access preview of access/{preview.model}.yaml on its sample rows (offline)"]
    for view in preview.personas:
        p = view.persona
        lines.append(f"{p.name} (user {p.user}; roles {', '.join(p.roles)})")
        for t in view.tables:
            if t.access == "denied":
                lines.append(f"  {t.table}: denied, missing {' and '.join(t.missing)}")
                continue
            why = t.why()
            lines.append(f"  {t.table}: ok, {len(t.rows)} of {t.total_rows} row(s)"
                         + (f" ({'; '.join(why)})" if why else ""))
            for row in t.rows[:limit]:
                lines.append("    " + ", ".join(f"{k}={v}" for k, v in row.items()))
            if len(t.rows) > limit:
                lines.append(f"    ... {len(t.rows) - limit} more")
    for w in preview.warnings:
        lines.append(f"warning [{w.code}]: {w.message}")
    lines += [f"failed expectation: {f}" for f in preview.failures]
    return "\n".join(lines) + "\n"


def render_markdown(preview: Preview) -> str:
    lines = [f"### Who sees what (access/{preview.model}.yaml, sample rows)", "",
             "| persona | table | access | rows | masked | why |", "|---|---|---|---|---|---|"]
    for view in preview.personas:
        for t in view.tables:
            if t.access == "denied":
                missing = " and ".join(t.missing)
                lines.append(f"| {view.persona.name} | {t.table} | denied | - | - | missing {missing} |")
                continue
            why = ("IGNORE RLS" if t.ignore_rls else f"RLS {t.conjunction}: {', '.join(t.policies) or 'none'}"
                   if t.rls else "")
            lines.append(f"| {view.persona.name} | {t.table} | ok | {len(t.rows)} of {t.total_rows} | "
                         f"{', '.join(t.masked_columns) or '-'} | {why} |")
    if preview.warnings:
        lines += ["", *(f"- **{w.code}**: {w.message}" for w in preview.warnings)]
    return "\n".join(lines) + "\n"


def render_json(preview: Preview) -> str:
    return json.dumps(preview.to_json(), indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------- expectations


def failed_expectations(model: AccessModel, preview: Preview, samples_db: Any = None) -> list[str]:
    """Each expectation of the model the preview contradicts, naming the persona, the table and the
    difference (rows missing or extra, columns)."""
    failures = []
    db = samples_db if samples_db is not None else preview.samples
    for i, expectation in enumerate(model.expect):
        where = f"access/{model.name}.yaml: expect[{i}]: persona {expectation.persona}, {expectation.table}"
        view = next((p for p in preview.personas if p.persona.name.lower() == expectation.persona.lower()), None)
        table = next((t for t in view.tables if t.table == expectation.table), None) if view else None
        if view is None or table is None:
            failures.append(f"{where}: not in the preview")
            continue
        if expectation.access is not None and table.access != expectation.access:
            failures.append(f"{where}: access is {table.access}" + (
                f" (missing {' and '.join(table.missing)})" if table.missing else "") +
                f", expected {expectation.access}")
        if expectation.rows is not None and len(table.rows) != expectation.rows:
            failures.append(f"{where}: sees {len(table.rows)} row(s), expected {expectation.rows}")
        if expectation.rows_where is not None:
            schema, name = split_table(expectation.table)
            types = [(str(r[0]), str(r[1])) for r in db.execute(
                f"DESCRIBE {_qualified(schema, name)}").fetchall()]
            predicate = _translate(expectation.rows_where, f"{where}: rows_where", view.persona, None, types)
            wanted = {int(r[0]) for r in db.execute(
                f"SELECT rowid FROM {_qualified(schema, name)} WHERE {predicate}").fetchall()}
            seen = set(table.row_ids)
            first = model.tables[expectation.table][0]
            values = {int(r[0]): str(r[1]) for r in db.execute(
                f"SELECT rowid, {_quote(first)} FROM {_qualified(schema, name)}").fetchall()}
            missing = [f"{first}={values[i]}" for i in sorted(wanted - seen)]
            extra = [f"{first}={values[i]}" for i in sorted(seen - wanted)]
            if missing or extra:
                failures.append(f"{where}: rows_where {expectation.rows_where!r}: " + "; ".join(
                    part for part in (f"rows missing: {', '.join(missing)}" if missing else "",
                                      f"rows extra: {', '.join(extra)}" if extra else "") if part))
        if expectation.masked is not None:
            expected = {c.lower() for c in expectation.masked}
            actual = {c.lower() for c in table.masked_columns}
            if expected != actual:
                failures.append(f"{where}: masked columns are {', '.join(sorted(actual)) or 'none'}, expected "
                                f"{', '.join(sorted(expected)) or 'none'}")
    return failures

"""A policy's Redshift expression as DuckDB SQL for one persona: `current_user` and `user_is_member_of`
decided, masking inputs renamed, and Redshift's integer division kept.

Translating is most of a preview's Python time when done per persona: the same few policies meet every
persona of every table. So it is done in two cached steps. `_template` does what depends on the expression
alone (parse, checks, division; and the DuckDB text itself when the expression never names the user) once
per expression, masking input mapping and column types; `_personal` renders an expression that names the
user once per user and per answer to the role memberships it tests. Neither caches a refusal: the error
names where the expression is (`where`), which the caches leave out of their keys."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify_columns import qualify_columns

from redshift_idc.access.expressions import ExpressionError, parse_expression
from redshift_idc.access.functions import preview_blocker
from redshift_idc.access.preview.results import Persona, PreviewError
from redshift_idc.runtime.sql_text import fold

_Mapping = tuple[tuple[str, str], ...] | None  # masking inputs: folded name -> the column it reads, sorted
_Types = tuple[tuple[str, str], ...]


class _Refusal(Exception):
    """What the preview cannot translate, without where it is: `translate` says where (the caches key on the
    expression, not on the policy or expectation that holds it)."""


def translate(expression: str, where: str, persona: Persona, columns: dict[str, str] | None = None,
              types: Sequence[tuple[str, str]] = ()) -> str:
    """A Redshift expression as DuckDB SQL for this persona: current_user is its user, user_is_member_of
    is decided from its roles, `columns` renames column references (masking inputs). `types`: the
    expression's columns and their Redshift types (a policy's `WITH` columns), for division."""
    mapping = None if columns is None else tuple(sorted(columns.items()))
    try:
        template = _template(expression, mapping, tuple((str(n), str(k)) for n, k in types))
        if template.sql is not None:
            return template.sql
        return _personal(template, persona.user, frozenset(r for r in template.roles if r in persona.roles))
    except _Refusal as refusal:
        raise PreviewError(f"{where}: {refusal}") from None


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: `_template` hands out one per key
class _Template:
    tree: exp.Expr  # parsed, checked, integer division made explicit; never modified (transform copies)
    mapping: _Mapping
    sql: str | None  # the DuckDB text, when the expression names neither current_user nor user_is_member_of
    roles: frozenset[str]  # the (folded) role literals its user_is_member_of calls test


@functools.lru_cache(maxsize=4096)
def _template(expression: str, mapping: _Mapping, types: _Types) -> _Template:
    try:  # the parser validation uses: what the model accepted, the preview reads the same way
        tree = parse_expression(expression, lookups=True)
    except ExpressionError as error:
        raise _Refusal(f"the preview cannot read {expression!r}: {error}") from None
    for literal in tree.find_all(exp.Literal):
        if literal.is_string and literal.this != literal.this.rstrip(" "):
            raise _Refusal(f"the string {literal.sql(dialect='redshift')} ends in blanks, which Redshift ignores "
                           "when it compares text and DuckDB does not")
    if tree.find(exp.Div) is not None:
        tree = _redshift_division(tree, types)
    blocker = preview_blocker(expression)
    if blocker is not None:  # said here, before DuckDB would answer with an error of its own
        raise _Refusal(f"the preview cannot evaluate {blocker}(): the preview (DuckDB, on the sample rows) evaluates "
                       "only the Redshift functions it is known to evaluate as Redshift does (redshift_functions.py), "
                       "not this one nor those the model's scripts create; the model is valid, only its preview is "
                       "not available")
    members = [node for node in tree.find_all(exp.Anonymous) if _is_membership(node)]
    personal = bool(members) or any(_is_current_user(node) for node in tree.find_all(exp.CurrentUser, exp.Column))
    roles = frozenset(fold(node.expressions[1].this) for node in members
                      if len(node.expressions) == 2 and isinstance(node.expressions[1], exp.Literal))
    return _Template(tree, mapping, None if personal else _render(tree, mapping, None), roles)


@functools.lru_cache(maxsize=4096)
def _personal(template: _Template, user: str, member_of: frozenset[str]) -> str:
    """`template` for a user who is a member of `member_of` (of the roles it tests) and of no other."""
    return _render(template.tree, template.mapping, (user, member_of))


def _is_membership(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this).lower() == "user_is_member_of"


def _is_current_user(node: exp.Expression) -> bool:
    return isinstance(node, exp.CurrentUser) or (isinstance(node, exp.Column) and node.name.lower() == "current_user"
                                                 and not node.table)


def _render(tree: exp.Expr, mapping: _Mapping, persona: tuple[str, frozenset[str]] | None) -> str:
    """The DuckDB text of `tree`: current_user and user_is_member_of decided for `persona` (user, the roles
    it holds of those tested), masking inputs renamed by `mapping`."""
    columns = dict(mapping) if mapping is not None else None

    def rewrite(node: exp.Expression) -> exp.Expression:
        if persona is not None and _is_current_user(node):
            return exp.Literal.string(persona[0])
        if persona is not None and _is_membership(node):
            args = node.expressions
            if len(args) != 2 or not isinstance(args[1], exp.Literal):
                raise _Refusal("user_is_member_of needs a user and a role name literal")
            user = args[0]
            is_persona = isinstance(user, exp.CurrentUser) or (
                isinstance(user, exp.Literal) and fold(user.this) == fold(persona[0]))
            if not is_persona:
                raise _Refusal("user_is_member_of about another user than current_user cannot be evaluated by "
                               "the preview")
            return exp.Boolean(this=fold(args[1].this) in persona[1])
        if columns is not None and isinstance(node, exp.Column) and not node.table:
            mapped = columns.get(fold(node.name))
            if mapped is not None:
                return exp.column(mapped, quoted=True)
        return node

    return str(tree.transform(rewrite).sql(dialect="duckdb"))


def _redshift_division(tree: exp.Expr, types: _Types) -> exp.Expr:
    """Redshift divides an integer by an integer to an integer (truncated), DuckDB's `/` to a double: an
    integer division becomes DuckDB's `//`. The operand types come from the declared column types; a
    division whose operand types sqlglot cannot infer is refused rather than guessed."""
    schema: dict[str, object] = {"policy_input": {fold(name): kind for name, kind in types}}
    select = exp.select(tree.copy()).from_("policy_input")
    try:
        select = qualify_columns(select, schema=schema, dialect="redshift")
    except sqlglot.errors.SqlglotError as error:
        raise _Refusal(f"the preview cannot type the columns of {tree.sql(dialect='redshift')!r} to decide its "
                       f"division: {error}") from None
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
            raise _Refusal(f"the preview cannot tell whether {shown.sql(dialect='redshift')} divides integers "
                           "(Redshift truncates those, DuckDB does not)")
        if left.is_type(*integers) and right.is_type(*integers):
            division.replace(exp.IntDiv(this=division.this, expression=division.expression))
    for column in typed.find_all(exp.Column):
        column.set("table", None)
    return typed.unalias() if isinstance(typed, exp.Alias) else typed

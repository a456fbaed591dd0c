"""A policy's Redshift expression as DuckDB SQL for one persona: `current_user` and `user_is_member_of`
decided, masking inputs renamed, and Redshift's integer division kept."""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify_columns import qualify_columns

from redshift_idc.access.expressions import ExpressionError, parse_expression
from redshift_idc.access.functions import preview_blocker
from redshift_idc.access.preview.results import Persona, PreviewError
from redshift_idc.runtime.sql_text import fold


def translate(expression: str, where: str, persona: Persona, columns: dict[str, str] | None = None,
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
    blocker = preview_blocker(expression)
    if blocker is not None:  # said here, before DuckDB would answer with an error of its own
        raise PreviewError(f"{where}: the preview cannot evaluate {blocker}(): the preview (DuckDB, on the sample "
                           "rows) evaluates only the Redshift functions it is known to evaluate as Redshift does "
                           "(redshift_functions.py), not this one nor those the model's scripts create; the model "
                           "is valid, only its preview is not available")

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

"""Checks on the SQL expressions a model embeds verbatim (RLS `USING` predicates, masking expressions).

They are written by reviewers, but a typo or a smuggled statement must fail validation, not a deploy.
Each expression is parsed with sqlglot's Redshift dialect (the parser the access preview uses too), and
what the parser accepts is narrowed to what Redshift accepts and this tool can keep safe:

- exactly one expression: no statement separators, no comments, no `AS` alias, no subqueries, except in
  an RLS policy the one lookup form `col IN (SELECT col FROM <declared table> [WHERE <predicate>])`, whose
  predicate follows the same rules over the lookup table's columns (`current_user` and `user_is_member_of`
  included); the planner grants the policy SELECT on that table;
- string literals in plain single quotes, without backslashes (Redshift reads `\\'` as an escaped quote,
  so the literal would not end where the reviewer sees it end) and without NUL;
- none of the parser's leniencies Redshift rejects: `==`, adjacent string literals, empty or trailing
  commas in lists, `IN ()`;
- every column it names is one of the policy's `WITH` columns, unqualified;
- every type it casts to is one of Redshift's (redshift_types.py); the functions it calls are checked by
  functions.py, which needs the model's scripts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import Token, TokenType, exp
from sqlglot.errors import ParseError, TokenError

from redshift_idc.access.redshift_types import DataTypeError, check_cast_type, suggest_type
from redshift_idc.runtime.sql_text import fold

STRING_TOKENS = frozenset({TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.RAW_STRING,
                           TokenType.HEREDOC_STRING, TokenType.BYTE_STRING, TokenType.BIT_STRING,
                           TokenType.HEX_STRING, TokenType.UNICODE_STRING})
FORBIDDEN_NODES: tuple[tuple[type[exp.Expr], str], ...] = (
    (exp.Query, "subqueries and statements cannot appear in a policy"),
    (exp.Subquery, "subqueries cannot appear in a policy"),
    (exp.DML, "statements cannot appear in a policy"),
    (exp.DDL, "statements cannot appear in a policy"),
    (exp.Command, "statements cannot appear in a policy"),
    (exp.Alias, "an alias (AS ..., or two terms side by side) has no place in a policy expression"),
    (exp.Star, "'*' is not an expression"),
    (exp.Placeholder, "placeholders (? or :name) are not allowed"),
    (exp.Parameter, "parameters ($1, @x) are not allowed"),
)


_REQUIRED = re.compile(r"Required keyword: '(\w+)' missing for <class '[\w.]*\.(\w+)'>")
OPERATOR_WORDS = {"And": "AND", "Or": "OR", "Not": "NOT", "EQ": "=", "NEQ": "<>", "GT": ">", "GTE": ">=", "LT": "<",
                  "LTE": "<=", "Like": "LIKE", "ILike": "ILIKE", "Between": "BETWEEN", "In": "IN", "Is": "IS",
                  "Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "Mod": "%", "DPipe": "||", "SimilarTo": "SIMILAR TO"}


class ExpressionError(ValueError):
    pass


def _position(expression: str, offset: int) -> str:
    line = expression.count("\n", 0, offset) + 1
    column = offset - (expression.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}" if "\n" in expression else f"column {column}"


def _check_tokens(expression: str, tokens: list[Token]) -> None:
    previous: Token | None = None
    for token in tokens:
        where = _position(expression, token.start)
        if token.comments:
            raise ExpressionError("comments are not allowed in policy expressions")
        if token.token_type == TokenType.SEMICOLON:
            raise ExpressionError(f"';' is not allowed ({where}): an expression is not a statement")
        if token.token_type in STRING_TOKENS:
            opening = expression[token.start]
            if token.token_type != TokenType.STRING or opening != "'":
                kind = "dollar-quoted strings" if opening == "$" else f"{opening}'...' strings"
                raise ExpressionError(f"{kind} are not allowed ({where}); use plain '...' literals")
            if "\\" in expression[token.start:token.end + 1]:
                raise ExpressionError(f"the literal {expression[token.start:token.end + 1]} contains a backslash, "
                                      "which Redshift reads as an escape character; write the value without it")
            if previous is not None and previous.token_type in STRING_TOKENS:
                raise ExpressionError(f"two string literals side by side ({where}); join them into one, or "
                                      "use || to concatenate")
        if token.token_type == TokenType.EQ and token.text == "==":
            raise ExpressionError(f"'==' is not an SQL operator ({where}); write '='")
        if token.token_type == TokenType.COMMA and previous is not None and previous.token_type in (
                TokenType.COMMA, TokenType.L_PAREN):
            raise ExpressionError(f"an empty item in a list ({where})")
        if token.token_type == TokenType.R_PAREN and previous is not None and previous.token_type == TokenType.COMMA:
            raise ExpressionError(f"a trailing comma before ')' ({where})")
        previous = token


def _parse_error(expression: str, error: ParseError) -> ExpressionError:
    """sqlglot's message in the reviewer's words: what is wrong, and where."""
    first: dict[str, object] = dict(error.errors[0]) if error.errors else {}
    description = str(first.get("description") or error)
    highlight = str(first.get("highlight") or "").strip()
    required = _REQUIRED.match(description)
    if required:
        part, node = required.groups()
        word = OPERATOR_WORDS.get(node, highlight or node)
        if part == "this" and node != "Not":
            what = f"'{word}' has nothing before it"
            first = {}  # where the parser stopped is not where the operand is missing
        elif part in ("expression", "high", "low"):
            what = f"'{word}' has nothing after it"
        else:
            what = f"'{word}' is incomplete"
    elif description.startswith(("Expected type", "Expected TYPE after CAST")):
        what = f"unknown data type {highlight!r}{suggest_type(highlight)}" if highlight else "a data type is missing"
    elif description.startswith("Expecting )"):
        what = "a '(' is not closed"
    elif description.startswith("Invalid expression / Unexpected token"):
        what = f"'{highlight}' is not expected there" if highlight else "an unexpected token"
    else:
        what = description.split(". Line ")[0]
    line, column = first.get("line"), first.get("col")
    place = f" (line {line}, column {column})" if "\n" in expression else f" (column {column})"
    return ExpressionError(f"not a valid SQL expression: {what}{place if column else ''}")


@dataclass(frozen=True)
class Lookup:
    """A lookup subquery of an RLS policy: `column IN (SELECT <column> FROM <schema>.<table> WHERE ...)`."""

    schema: str
    table: str
    column: str


LOOKUP_FORM = "col IN (SELECT col FROM schema.table WHERE <predicate>)"
# A lookup table's declared columns, or None when the model does not declare it.
TableColumns = Callable[[str, str], Sequence[str] | None]


def _lookup_select(node: exp.In) -> exp.Select:
    """The one subquery form a policy may hold, or ExpressionError naming what departs from it."""
    query = node.args.get("query")
    select = query.this if isinstance(query, exp.Subquery) else query
    shown = node.sql(dialect="redshift")
    if not isinstance(select, exp.Select):
        raise ExpressionError(f"{shown!r}: the only subquery a policy may hold is {LOOKUP_FORM}")
    extra = sorted(k for k, v in select.args.items() if v and k not in ("expressions", "from_", "where"))
    if extra:
        raise ExpressionError(f"{shown!r}: a lookup subquery is {LOOKUP_FORM}, without "
                              f"{', '.join(e.upper().rstrip('_') for e in extra)}")
    source = select.args.get("from_")
    table = source.this if isinstance(source, exp.From) else None
    if not isinstance(table, exp.Table) or table.args.get("alias") or not table.db or table.catalog:
        raise ExpressionError(f"{shown!r}: a lookup subquery reads one table named schema.table, without an "
                              f"alias ({LOOKUP_FORM})")
    projected = select.expressions
    if len(projected) != 1 or not isinstance(projected[0], exp.Column) or projected[0].table:
        raise ExpressionError(f"{shown!r}: a lookup subquery selects exactly one column of its table, by its "
                              f"name alone ({LOOKUP_FORM})")
    if not isinstance(node.this, exp.Column):
        raise ExpressionError(f"{shown!r}: the left side of a lookup is one WITH column ({LOOKUP_FORM})")
    return select


def _check_nodes(tree: exp.Expr, skip: set[int]) -> None:
    for node in tree.walk(prune=lambda n: id(n) in skip):
        if id(node) in skip:
            continue
        for kind, reason in FORBIDDEN_NODES:
            if isinstance(node, kind):
                raise ExpressionError(f"{node.sql(dialect='redshift')!r}: {reason}")
        if isinstance(node, exp.DataType) and not isinstance(node.parent, exp.DataType):
            try:
                check_cast_type(node)
            except DataTypeError as error:
                raise ExpressionError(str(error)) from None
        if isinstance(node, exp.In) and not node.expressions and node.args.get("query") is None and node.args.get(
                "unnest") is None and node.args.get("field") is None:
            raise ExpressionError("IN () needs at least one value")


def parse_expression(expression: str, *, lookups: bool = False) -> exp.Expr:
    """The expression's syntax tree, or ExpressionError saying what is wrong and where. `lookups` admits the
    RLS lookup subquery form (checked here for its shape; `policy_lookups` checks what it names)."""
    if not expression.strip():
        raise ExpressionError("the expression is empty")
    if "\x00" in expression:
        raise ExpressionError("the expression contains a NUL character (U+0000), which no SQL text may hold")
    try:
        tokens = sqlglot.tokenize(expression, read="redshift")
    except TokenError:
        raise ExpressionError("not a valid SQL expression: a quote (' or \") is not closed, or a character is not "
                              "SQL") from None
    _check_tokens(expression, tokens)
    try:
        trees = [tree for tree in sqlglot.parse(expression, read="redshift") if tree is not None]
    except ParseError as error:
        raise _parse_error(expression, error) from None
    if len(trees) != 1:
        raise ExpressionError("';' is not allowed: an expression is not a statement")
    tree = trees[0]
    subqueries = [node for node in tree.find_all(exp.In) if node.args.get("query") is not None] if lookups else []
    skip: set[int] = set()
    for node in subqueries:
        select = _lookup_select(node)
        query = node.args["query"]
        skip.add(id(query))
        where = select.args.get("where")
        if where is not None:
            _check_nodes(where.this, set())  # no subquery inside a lookup
    _check_nodes(tree, skip)
    return tree


def lookups_of(tree: exp.Expr) -> list[tuple[exp.In, exp.Select]]:
    """The lookup subqueries of a tree `parse_expression(..., lookups=True)` accepted, in order."""
    return [(node, _lookup_select(node)) for node in tree.find_all(exp.In) if node.args.get("query") is not None]


def lookup_references(expression: str) -> list[tuple[str, str, list[str]]]:
    """The tables an RLS predicate's lookup subqueries read, as written (schema, table), with the columns each
    subquery names (what `import` declares under `tables`); ExpressionError when it is not a policy expression."""
    found: list[tuple[str, str, list[str]]] = []
    for _, select in lookups_of(parse_expression(expression, lookups=True)):
        table = select.args["from_"].this
        found.append((table.db, table.name, _unqualified(list(select.find_all(exp.Column)))))
    return found


def _outer_columns(tree: exp.Expr) -> list[exp.Column]:
    """Columns of the policy's own row: those outside any lookup subquery."""
    inner = {id(node.args["query"]) for node, _ in lookups_of(tree)}
    return [n for n in tree.walk(prune=lambda n: id(n) in inner) if isinstance(n, exp.Column) and id(n) not in inner]


def referenced_columns(expression: str) -> list[str]:
    """Validate `expression` and return the column names it references, in order of appearance."""
    return _unqualified(list(parse_expression(expression).find_all(exp.Column)), "the WITH column")


def _unqualified(columns: Sequence[exp.Column], what: str = "the column") -> list[str]:
    """The names, each once, in order; a qualified one is refused (names are resolved by the policy's scope)."""
    names: list[str] = []
    for column in columns:
        if column.table:
            raise ExpressionError(f"qualified names ({column.sql(dialect='redshift')}) are not supported: name "
                                  f"{what} alone")
        if column.name not in names:
            names.append(column.name)
    return names


def _unknown(names: Sequence[str], allowed: Sequence[str], case_sensitive: bool) -> list[str]:
    known = {fold(c, case_sensitive) for c in allowed}
    return sorted({n for n in names if fold(n, case_sensitive) not in known})


def policy_lookups(expression: str, with_columns: list[str], table_columns: TableColumns,
                   case_sensitive: bool = False) -> list[Lookup]:
    """Check an RLS predicate that may hold lookup subqueries, and return the tables they read: each must be
    declared (`table_columns` gives its columns), select one of its columns, and filter on its columns only;
    outside them, only WITH columns."""
    tree = parse_expression(expression, lookups=True)
    found: list[Lookup] = []
    for _, select in lookups_of(tree):
        table = select.args["from_"].this
        schema, name = table.db, table.name
        columns = table_columns(schema, name)
        shown = f"{schema}.{name}"
        if columns is None:
            raise ExpressionError(f"the lookup table {shown} is not declared; declare it with its columns under "
                                  "`tables`")
        unknown = _unknown(_unqualified(list(select.find_all(exp.Column))), list(columns), case_sensitive)
        if unknown:
            raise ExpressionError(f"column(s) {', '.join(unknown)} not among the columns of the lookup table {shown} "
                                  f"({', '.join(columns)})")
        found.append(Lookup(schema, name, select.expressions[0].name))
    outer = _unknown(_unqualified(_outer_columns(tree)), with_columns, case_sensitive)
    if outer:
        declared = ", ".join(with_columns) or "nothing"
        raise ExpressionError(f"column(s) {', '.join(outer)} not declared in WITH ({declared}); add them to `with`")
    return found


def check_expression(expression: str, with_columns: list[str], case_sensitive: bool = False,
                     scope: str | None = None) -> None:
    """Raise ExpressionError if the expression is unsafe or names a column outside `with_columns` (a
    policy's WITH columns, or `scope` names where they come from)."""
    unknown = _unknown(referenced_columns(expression), with_columns, case_sensitive)
    if unknown:
        where = scope or f"declared in WITH ({', '.join(with_columns) or 'nothing'}); add them to `with`"
        raise ExpressionError(f"column(s) {', '.join(unknown)} not {where}")

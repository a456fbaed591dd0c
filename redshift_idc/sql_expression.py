"""Checks on the SQL expressions a model embeds verbatim (RLS `USING` predicates, masking expressions).

They are written by reviewers, but a typo or a smuggled statement must fail validation, not a deploy.
Each expression is parsed with sqlglot's Redshift dialect (the parser the access preview uses too), and
what the parser accepts is narrowed to what Redshift accepts and this tool can keep safe:

- exactly one expression: no statement separators, no comments, no `AS` alias, no subqueries (they need
  grants to the policy, which the model does not manage);
- string literals in plain single quotes, without backslashes (Redshift reads `\\'` as an escaped quote,
  so the literal would not end where the reviewer sees it end) and without NUL;
- none of the parser's leniencies Redshift rejects: `==`, adjacent string literals, empty or trailing
  commas in lists, `IN ()`;
- every column it names is one of the policy's `WITH` columns, unqualified.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import Token, TokenType, exp
from sqlglot.errors import ParseError, TokenError

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
    elif description.startswith("Expecting )"):
        what = "a '(' is not closed"
    elif description.startswith("Invalid expression / Unexpected token"):
        what = f"'{highlight}' is not expected there" if highlight else "an unexpected token"
    else:
        what = description.split(". Line ")[0]
    line, column = first.get("line"), first.get("col")
    place = f" (line {line}, column {column})" if "\n" in expression else f" (column {column})"
    return ExpressionError(f"not a valid SQL expression: {what}{place if column else ''}")


def parse_expression(expression: str) -> exp.Expr:
    """The expression's syntax tree, or ExpressionError saying what is wrong and where."""
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
    for node in tree.walk():
        for kind, reason in FORBIDDEN_NODES:
            if isinstance(node, kind):
                raise ExpressionError(f"{node.sql(dialect='redshift')!r}: {reason}")
        if isinstance(node, exp.In) and not node.expressions and node.args.get("query") is None and node.args.get(
                "unnest") is None and node.args.get("field") is None:
            raise ExpressionError("IN () needs at least one value")
    return tree


def referenced_columns(expression: str) -> list[str]:
    """Validate `expression` and return the column names it references, in order of appearance."""
    columns: list[str] = []
    for column in parse_expression(expression).find_all(exp.Column):
        if column.table:
            raise ExpressionError(f"qualified names ({column.sql(dialect='redshift')}) are not supported: name the "
                                  "WITH column alone")
        if column.name not in columns:
            columns.append(column.name)
    return columns


def check_expression(expression: str, with_columns: list[str], case_sensitive: bool = False,
                     scope: str | None = None) -> None:
    """Raise ExpressionError if the expression is unsafe or names a column outside `with_columns` (a
    policy's WITH columns, or `scope` names where they come from)."""
    allowed = {fold(c, case_sensitive) for c in with_columns}
    unknown = [c for c in referenced_columns(expression) if fold(c, case_sensitive) not in allowed]
    if unknown:
        where = scope or f"declared in WITH ({', '.join(with_columns) or 'nothing'}); add them to `with`"
        raise ExpressionError(f"column(s) {', '.join(sorted(set(unknown)))} not {where}")

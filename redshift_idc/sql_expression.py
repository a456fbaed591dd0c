"""Checks on the SQL expressions a model embeds verbatim (RLS `USING` predicates, masking expressions).

They are written by reviewers, but a typo or a smuggled statement must fail review-time validation,
not a deploy: no statement separators or comments, balanced parentheses, string literals without
backslashes (Redshift reads `\\'` as an escaped quote, so the literal would not end where the reviewer
sees it end), no subqueries (they would need grants to the policy, which the model does not manage yet),
and every column the expression names must be one of the policy's `WITH` columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redshift_idc.runtime.sql_text import fold

KEYWORDS = frozenset({
    "and", "or", "not", "like", "ilike", "similar", "to", "in", "is", "null", "true", "false", "between", "case",
    "when", "then", "else", "end", "cast", "as", "escape", "current_user", "current_user_id", "session_user", "user",
    "current_date", "current_time", "current_timestamp", "sysdate", "getdate", "distinct", "any", "all", "some",
    "interval", "at", "time", "zone", "with", "without",
})
FORBIDDEN_KEYWORDS = frozenset({"select", "from", "insert", "update", "delete", "drop", "grant", "revoke",
                                "create", "alter", "into", "union", "commit", "rollback"})

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<unterminated>')
  | (?P<quoted>"(?:[^"]|"")+")
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_\u00C0-\uFFFF][A-Za-z0-9_$\u00C0-\uFFFF]*)
  | (?P<cast>::)
  | (?P<op><>|!=|<=|>=|\|\||[-+*/%=<>(),.~!^&|\[\]])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


class ExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(expression):
        kind = match.lastgroup or "other"
        text = match.group()
        if kind == "space":
            continue
        if kind == "unterminated":
            raise ExpressionError("a string literal is not closed (')")
        if kind == "other":
            if text == ";":
                raise ExpressionError("';' is not allowed: an expression is not a statement")
            raise ExpressionError(f"unexpected character {text!r}")
        tokens.append(_Token(kind, text))
    return tokens


def referenced_columns(expression: str) -> list[str]:
    """Validate `expression` and return the column names it references, in order of appearance."""
    if "--" in expression or "/*" in expression:
        raise ExpressionError("comments are not allowed in policy expressions")
    if "$$" in expression or re.search(r"\$[A-Za-z_]*\$", expression):
        raise ExpressionError("dollar-quoted strings are not allowed; use '...' literals")
    tokens = _tokens(expression)
    if not tokens:
        raise ExpressionError("the expression is empty")
    depth = 0
    columns: list[str] = []
    skip_type = False
    for index, token in enumerate(tokens):
        nxt = tokens[index + 1] if index + 1 < len(tokens) else None
        prev = tokens[index - 1] if index > 0 else None
        if token.kind == "string" and "\\" in token.text:
            raise ExpressionError(f"the literal {token.text} contains a backslash, which Redshift reads as an "
                                  "escape character; write the value without it")
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
            if depth < 0:
                raise ExpressionError("unbalanced parentheses: ')' without '('")
        if token.kind == "cast" or (token.kind == "word" and token.text.lower() == "as"):
            skip_type = True
            continue
        if token.kind not in ("word", "quoted"):
            if token.text != "(":
                skip_type = False
            continue
        if skip_type:
            skip_type = False  # a type name such as VARCHAR in ::VARCHAR(50) or CAST(x AS VARCHAR)
            continue
        word = token.text[1:-1].replace('""', '"') if token.kind == "quoted" else token.text
        lowered = word.lower()
        if token.kind == "word" and lowered in FORBIDDEN_KEYWORDS:
            raise ExpressionError(f"'{word}' is not allowed: subqueries and statements cannot appear in a policy")
        if nxt is not None and nxt.text == ".":
            raise ExpressionError(f"qualified names ({word}.…) are not supported: name the WITH column alone")
        if prev is not None and prev.text == ".":
            continue
        if token.kind == "word" and (lowered in KEYWORDS or (nxt is not None and nxt.text == "(")):
            continue  # a keyword or a function call
        columns.append(word)
    if depth != 0:
        raise ExpressionError("unbalanced parentheses: '(' without ')'")
    return columns


def check_expression(expression: str, with_columns: list[str], case_sensitive: bool = False) -> None:
    """Raise ExpressionError if the expression is unsafe or names a column outside WITH."""
    allowed = {fold(c, case_sensitive) for c in with_columns}
    unknown = [c for c in referenced_columns(expression) if fold(c, case_sensitive) not in allowed]
    if unknown:
        raise ExpressionError(f"column(s) {', '.join(sorted(set(unknown)))} not declared in WITH "
                              f"({', '.join(with_columns) or 'nothing'}); add them to `with`")

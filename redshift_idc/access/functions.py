"""The functions a policy expression calls, checked against the functions Redshift documents
(`redshift_functions.py`) and those the model's scripts create (`CREATE FUNCTION` in its `sql/` scripts).

A misspelled function (`lowerr(timezone)`) used to pass validate, plan and synth and fail at deploy, or reach
the preview as a raw DuckDB error without a field path. It is refused here with the nearest valid name, by the
compiler (so validate, plan and synth agree). A known function the preview cannot evaluate is not an error: the
preview says so (`preview_blocker`).

What counts as a call: a name followed by `(`. sqlglot's tree marks where each function's name was written,
except for the functions it parses with a grammar of their own (CAST, TRIM, SUBSTRING, EXTRACT, ...), whose
names are read from the tokens; names sqlglot maps to another function (NVL to COALESCE, GETDATE to
CURRENT_TIMESTAMP) are checked as written, since Redshift receives them as written.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import TokenType, exp
from sqlglot.dialects.redshift import Redshift
from sqlglot.errors import ParseError, TokenError

from redshift_idc.access.expressions import ExpressionError, parse_expression
from redshift_idc.access.redshift_functions import FUNCTIONS, refusal
from redshift_idc.runtime.reconcile_request import ScriptEntry
from redshift_idc.runtime.sql_text import fold

# Names the preview decides itself (preview/translate.py), whatever DuckDB has.
PREVIEW_DECIDED = frozenset({"CURRENT_USER", "USER", "USER_IS_MEMBER_OF"})
_GRAMMAR_FUNCTIONS = frozenset(Redshift.Parser.FUNCTION_PARSERS)
_NAME = r'(?:"(?:[^"]|"")+"|[^\s(."]+)'
_CREATE_FUNCTION = re.compile(rf"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:EXTERNAL\s+)?FUNCTION\s+({_NAME})"
                              rf"(?:\s*\.\s*({_NAME}))?\s*\(", re.IGNORECASE)
# A script's functions: name -> the schemas it is created in (None: unqualified, created in the search path).
ScriptFunctions = Mapping[str, frozenset[str | None]]


@dataclass(frozen=True)
class Call:
    name: str  # as written, without quotes
    schema: str | None  # the qualifier written before it, if any


def _unquoted(name: str) -> str:
    return name[1:-1].replace('""', '"') if len(name) > 1 and name.startswith('"') and name.endswith('"') else name


def _folded(name: str) -> str:
    """A function name as Redshift looks it up: ASCII letters lower-cased (as for every identifier, quoted or
    not, unless case-sensitive identifiers are on: generous here)."""
    return fold(_unquoted(name))


def calls(expression: str) -> list[Call]:
    """The functions `expression` calls, in order of appearance, each once. The expression must already have
    passed `parse_expression` (the compiler checks it first)."""
    tree = parse_expression(expression, lookups=True)
    starts: dict[int, Call] = {}
    for node in tree.walk():
        if not isinstance(node, exp.Func):
            continue
        start, end = node.meta.get("start"), node.meta.get("end")
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        if not expression[end + 1:].lstrip().startswith("("):
            continue  # a function written without parentheses (SYSDATE, CURRENT_USER)
        parent = node.parent
        schema = parent.this.name if isinstance(parent, exp.Dot) and parent.expression is node else None
        starts[start] = Call(_unquoted(expression[start:end + 1]), schema)
    tokens = sqlglot.tokenize(expression, read="redshift")
    for i, token in enumerate(tokens[:-1]):
        if token.start in starts or tokens[i + 1].token_type != TokenType.L_PAREN:
            continue
        before = tokens[i - 1].token_type if i else None
        if before in (TokenType.DCOLON, TokenType.ALIAS):
            continue  # a type's parameters: x::VARCHAR(10), CAST(x AS DECIMAL(10,2))
        grammar = token.text.upper() in _GRAMMAR_FUNCTIONS
        if grammar or token.token_type in (TokenType.VAR, TokenType.IDENTIFIER):
            schema = tokens[i - 2].text if before == TokenType.DOT and i >= 2 else None
            starts[token.start] = Call(token.text, schema)
    found: list[Call] = []
    for _, call in sorted(starts.items()):
        if call not in found:
            found.append(call)
    return found


def script_functions(scripts: Sequence[ScriptEntry]) -> dict[str, frozenset[str | None]]:
    """The functions the scripts create (`CREATE [OR REPLACE] [EXTERNAL] FUNCTION [schema.]name(`): SQL,
    Python and Lambda UDFs (r_CREATE_FUNCTION, r_CREATE_EXTERNAL_FUNCTION), by name as Redshift folds it."""
    found: dict[str, set[str | None]] = {}
    for script in scripts:
        for statement in script["Statements"]:
            match = _CREATE_FUNCTION.match(statement)
            if match is None:
                continue
            first, second = match.groups()
            schema, name = (first, second) if second is not None else (None, first)
            found.setdefault(_folded(name), set()).add(_folded(schema) if schema is not None else None)
    return {name: frozenset(schemas) for name, schemas in found.items()}


@dataclass(frozen=True)
class ScriptFunction:
    """A function a script creates, as the last `CREATE [OR REPLACE] FUNCTION` of its signature left it."""

    schema: str | None  # folded; None: created unqualified (in the search path's first schema)
    name: str  # folded
    arguments: tuple[str, ...]  # the argument types as sqlglot renders them (a signature: Redshift overloads)
    language: str  # lower case, as written after LANGUAGE: sql, plpythonu
    script: str  # the `scripts:` entry that creates it (a file under sql/)


def created_functions(scripts: Sequence[ScriptEntry]) -> list[ScriptFunction]:
    """The SQL and Python UDFs the scripts create (r_CREATE_FUNCTION), each signature once, as the last script to
    create it left it: a later `CREATE OR REPLACE FUNCTION` of the same signature in another language (a Python
    UDF rewritten in SQL) replaces the earlier one. Statements are found as `script_functions` finds them and
    parsed with sqlglot's Redshift parser; one it cannot parse, and Lambda UDFs (`CREATE EXTERNAL FUNCTION`),
    have no LANGUAGE and are left out. A `DROP FUNCTION` is not followed."""
    found: dict[tuple[str | None, str, tuple[str, ...]], ScriptFunction] = {}
    for script in scripts:
        for statement in script["Statements"]:
            if _CREATE_FUNCTION.match(statement) is None or _is_external(statement):
                continue
            try:
                tree = sqlglot.parse_one(statement, read="redshift")
            except (ParseError, TokenError):
                continue
            function = tree.this if isinstance(tree, exp.Create) else None
            language = tree.find(exp.LanguageProperty) if function is not None else None
            if not isinstance(function, exp.UserDefinedFunction) or language is None:
                continue
            table = function.this
            schema = fold(table.db) if isinstance(table, exp.Table) and table.db else None
            name = fold(table.name if isinstance(table, exp.Table) else function.name)
            arguments = tuple(_argument_type(a) for a in function.expressions)
            key = (schema, name, arguments)
            found[key] = ScriptFunction(schema, name, arguments, language.name.lower(), script["Name"])
    return list(found.values())


def _is_external(statement: str) -> bool:
    """A Lambda UDF (`CREATE [OR REPLACE] EXTERNAL FUNCTION`), which sqlglot cannot parse and has no LANGUAGE."""
    words = [t.text.upper() for t in sqlglot.tokenize(statement, read="redshift")[:5]]
    return "EXTERNAL" in words[:words.index("FUNCTION")] if "FUNCTION" in words else False


def _argument_type(argument: exp.Expr) -> str:
    """An argument's type, the same for `(FLOAT)` and `(a FLOAT8)` (r_CREATE_FUNCTION takes both forms), without
    a length (as PostgreSQL, a signature ignores it)."""
    kind = argument.args.get("kind") if isinstance(argument, exp.ColumnDef) else argument
    text = kind.sql(dialect="redshift") if isinstance(kind, exp.Expr) else str(kind)
    try:
        built = exp.DataType.build(text, dialect="redshift")
    except (ParseError, ValueError):
        return text.upper()
    built.set("expressions", None)
    return built.sql(dialect="redshift")


def called_udfs(call: Call, functions: Sequence[ScriptFunction]) -> list[ScriptFunction]:
    """The script functions `call` may reach: those of its name, in its schema when it names one. An
    unqualified call reaches any schema's (which one runs depends on the search path)."""
    return [f for f in functions if f.name == _folded(call.name)
            and (call.schema is None or f.schema is None or f.schema == _folded(call.schema))]


def _shown(name: str, like: str) -> str:
    return name.lower() if like == like.lower() else name


def _unknown(call: Call, udfs: ScriptFunctions) -> ExpressionError:
    written = f"{call.schema}.{call.name}" if call.schema else call.name
    candidates = [*FUNCTIONS, *(n.upper() for n in udfs)]
    close = difflib.get_close_matches(call.name.upper(), candidates, n=1, cutoff=0.75)
    hint = f"; did you mean '{_shown(close[0], call.name)}'?" if close else ""
    what = ("neither a function Redshift documents nor one the model's scripts create" if not call.schema else
            "not a function the model's scripts create in that schema")
    return ExpressionError(f"unknown function '{written}' ({what}: CREATE FUNCTION in a file under `scripts`){hint}")


def check_functions(expression: str, udfs: Callable[[], ScriptFunctions]) -> None:
    """Raise ExpressionError for a call Redshift would refuse: an unknown name (with the nearest valid one), or
    a documented function a policy cannot use (aggregate, window, leader node-only). `udfs` gives the
    functions the model's scripts create; it is asked only when a name is not one of Redshift's."""
    for call in calls(expression):
        upper = call.name.upper()
        builtin = call.schema is None or call.schema.lower() == "pg_catalog"
        if builtin and upper in FUNCTIONS:
            continue
        reason = refusal(upper) if builtin else None
        if reason is not None:
            raise ExpressionError(f"{call.name}(): {reason}")
        created = udfs()
        schemas = created.get(_folded(call.name))
        if schemas is not None and (call.schema is None or None in schemas or _folded(call.schema) in schemas):
            continue
        raise _unknown(call, created)


def preview_blocker(expression: str) -> str | None:
    """The first function of `expression` the preview cannot evaluate, as written, or None: a function the
    model's scripts create, or a Redshift function DuckDB has no equivalent of (`preview` False)."""
    for call in calls(expression):
        upper = call.name.upper()
        known = FUNCTIONS.get(upper) if call.schema is None else None
        if upper in PREVIEW_DECIDED or (known is not None and known.preview):
            continue
        return f"{call.schema}.{call.name}" if call.schema else call.name
    return None

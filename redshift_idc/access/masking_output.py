"""Does a masking expression's output fit the column it masks?

Redshift masks a column with the value of the policy's `USING` expression, and that value must fit the
column: "the input and output data types must match", "a constant expression must be cast to the input
type" (CREATE MASKING POLICY, REDSHIFT_REFERENCE.md 3.7 [D38][D39]), and the output must fit the target
column's type and size, with some INT/NUMERIC exceptions [D43]. A policy whose output does not fit, such
as the boolean `sku = 'x'` on a VARCHAR column, would fail the deploy (or never deploy the access the
model describes): it is refused here, at validation, with the fix.

The model declares no column types for its tables, but the masked column takes the value of the
policy's input at the same place, and Redshift requires the two types to match: so the output is
compared with the type of the WITH column the masked column maps to. For a one-column policy that is
its only WITH column; for a policy of several, each attachment maps its output columns to its input
columns (`input_columns`, or the output columns themselves), by name, and so to WITH columns by position.
An output column that is none of its attachment's inputs has no known type and is not checked.

What is refused, and only when it can be told:
- an output that is a bare string literal or NULL: a constant must be cast to the input type [D38], and
  these two have no type until cast (a number or TRUE/FALSE has one, and is judged by its family);
- another type family: boolean, number, text and date-time, as sqlglot (the parser validation uses)
  infers the expression's type from the WITH columns' declared types. Within the number family nothing
  is refused: Redshift documents exceptions for INT/NUMERIC outputs [D43] without saying which, so a
  narrower or wider number is left to Redshift. Date and time types count as one family: a DATE output
  on a TIMESTAMP column is left to Redshift too;
- text longer than the column's VARCHAR(n)/CHAR(n) (bytes, as Redshift counts them): a string literal,
  a CAST (or `::`) to a longer VARCHAR/CHAR, or a longer WITH column, returned directly or as a branch of
  CASE, COALESCE/NVL, NVL2 or NULLIF. A length Redshift does not say (TEXT, VARCHAR without a length,
  a function's result, a concatenation) is not counted.

What cannot be typed is accepted, not guessed: a function sqlglot does not know (a UDF, DECODE, Redshift
functions it leaves untyped), a type outside the four families (SUPER, VARBYTE, GEOMETRY ...), a NULL
branch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types

from redshift_idc.access.expressions import ExpressionError, parse_expression
from redshift_idc.runtime.sql_text import fold

FAMILIES: tuple[tuple[str, frozenset[object]], ...] = (
    ("boolean", frozenset({exp.DataType.Type.BOOLEAN})),
    ("number", frozenset(exp.DataType.NUMERIC_TYPES)),
    ("text", frozenset(exp.DataType.TEXT_TYPES | {exp.DataType.Type.BPCHAR})),
    ("date-time", frozenset(exp.DataType.TEMPORAL_TYPES)),
)
# What a reviewer can write in the ELSE branch of a CASE that keeps the column's type.
EXAMPLE_VALUE = {"boolean": "FALSE", "number": "0", "text": "'***'", "date-time": "NULL"}
VARCHAR_MAX_BYTES = 65535  # VARCHAR(MAX)
SHOWN_CHARACTERS = 60


@dataclass(frozen=True)
class Attachment:
    """What the check needs of one attachment: where it is, and which columns it masks and reads."""

    where: str  # e.g. attach[0]
    table: str
    output_columns: Sequence[str]
    input_columns: Sequence[str]  # empty: the output columns are the inputs


@dataclass(frozen=True)
class _Target:
    """One output of the expression, and the WITH column whose type the column it masks has."""

    output: exp.Expr
    position: int | None  # the output's place in a tuple expression (None: the whole expression)
    column: str
    type_text: str
    masked: str  # how the message names the column it masks
    via: str  # why that column has the WITH column's type


def check_masking_output(expression: str, columns: Sequence[tuple[str, str]], attachments: Sequence[Attachment],
                         case_sensitive: bool = False) -> None:
    """Raise ExpressionError if an output of `expression` does not fit the column it masks (see the module
    docstring for what is compared and what is accepted for want of a type). `columns` are the policy's
    WITH columns and their types; the expression has already passed `check_expression`."""
    tree = parse_expression(expression)
    outputs = list(tree.expressions) if isinstance(tree, exp.Tuple) else [tree]
    types = {fold(name, case_sensitive): type_text for name, type_text in columns}
    for target in _targets(outputs, columns, attachments, case_sensitive):
        wanted = _data_type(target.type_text)
        if wanted is None:
            continue
        _check_family(target, _inferred(target.output, types, case_sensitive), wanted)
        _check_length(target, wanted, types, case_sensitive)
        _check_constant(target)


def _targets(outputs: list[exp.Expr], columns: Sequence[tuple[str, str]], attachments: Sequence[Attachment],
             case_sensitive: bool) -> Iterator[_Target]:
    several = len(outputs) > 1
    if len(columns) == 1:
        name, type_text = columns[0]
        for k, output in enumerate(outputs):
            yield _Target(output, k if several else None, name, type_text, "the column it masks",
                          f"the type of its WITH column {name}")
        return
    seen: set[tuple[int, int]] = set()
    for attachment in attachments:
        inputs = [fold(c, case_sensitive) for c in attachment.input_columns or attachment.output_columns]
        if len(inputs) != len(columns) or len(attachment.output_columns) != len(outputs):
            continue  # the attachment's own checks refuse it
        for k, column in enumerate(attachment.output_columns):
            folded = fold(column, case_sensitive)
            if folded not in inputs or (k, inputs.index(folded)) in seen:
                continue
            seen.add((k, inputs.index(folded)))
            name, type_text = columns[inputs.index(folded)]
            yield _Target(outputs[k], k if several else None, name, type_text,
                          f"{attachment.table}.{column}, which {attachment.where} masks,",
                          f"the type of WITH column {name}, as which {attachment.where} reads it")


def _data_type(type_text: str) -> exp.DataType | None:
    try:
        return exp.DataType.build(type_text, dialect="redshift")
    except SqlglotError:
        return None


def _family(data_type: exp.DataType | None) -> str | None:
    if data_type is None:
        return None
    return next((name for name, kinds in FAMILIES if data_type.this in kinds), None)


def _inferred(output: exp.Expr, types: dict[str, str], case_sensitive: bool) -> exp.DataType | None:
    """The output's type as sqlglot infers it, each WITH column standing for a NULL of its declared type
    (so no name resolution is needed: the names are the model's, folded as the model folds them)."""
    def typed(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table:
            data_type = _data_type(types.get(fold(node.name, case_sensitive), ""))
            if data_type is not None:
                return exp.Cast(this=exp.Null(), to=data_type)
        return node

    copy = output.copy().transform(typed)
    try:
        annotate_types(copy, dialect="redshift")
    except SqlglotError:
        return None
    return copy.type if isinstance(copy.type, exp.DataType) else None


def _shown(node: exp.Expr) -> str:
    text = str(node.sql(dialect="redshift"))
    return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS - 1] + "…"


def _subject(target: _Target) -> str:
    if target.position is None:
        return "the expression"
    return f"output {target.position + 1} of the expression ({_shown(target.output)})"


def _check_family(target: _Target, inferred: exp.DataType | None, wanted: exp.DataType) -> None:
    got, expected = _family(inferred), _family(wanted)
    if got is None or expected is None or got == expected:
        return
    assert inferred is not None
    raise ExpressionError(
        f"{_subject(target)} returns {inferred.sql(dialect='redshift')} ({got}), but {target.masked} is "
        f"{target.type_text} ({expected}), {target.via}; "
        f"Redshift requires a masking policy's output to fit the column it masks: return the column's type, e.g. "
        f"CASE WHEN ... THEN {target.column} ELSE {EXAMPLE_VALUE[expected]} END, or cast it: "
        f"CAST(... AS {target.type_text})")


def _branches(node: exp.Expr) -> Iterator[exp.Expr]:
    """The sub-expressions whose value the expression can return as it is."""
    if isinstance(node, exp.Paren):
        yield from _branches(node.this)
    elif isinstance(node, exp.Case):
        for case in node.args.get("ifs") or ():
            yield from _branches(case.args["true"])
        if node.args.get("default") is not None:
            yield from _branches(node.args["default"])
    elif isinstance(node, exp.Coalesce):
        for value in (node.this, *node.expressions):
            yield from _branches(value)
    elif isinstance(node, exp.Nvl2):
        for key in ("true", "false"):
            if node.args.get(key) is not None:
                yield from _branches(node.args[key])
    elif isinstance(node, exp.Nullif):
        yield from _branches(node.this)
    else:
        yield node


def _declared_bytes(data_type: exp.DataType | None) -> int | None:
    """The length a text type is written with (VARCHAR(n), CHAR(n), VARCHAR(MAX)); None when unsaid."""
    if data_type is None or _family(data_type) != "text" or not data_type.expressions:
        return None
    size = data_type.expressions[0]
    size = size.this if isinstance(size, exp.DataTypeParam) else size
    if isinstance(size, exp.Var) and str(size.this).upper() == "MAX":
        return VARCHAR_MAX_BYTES
    return int(size.this) if isinstance(size, exp.Literal) and not size.is_string else None


def _branch_bytes(branch: exp.Expr, types: dict[str, str], case_sensitive: bool) -> tuple[int, str] | None:
    """How many bytes a returned branch can hold, and how to name it; None when that is not written."""
    if isinstance(branch, exp.Literal) and branch.is_string:
        return len(str(branch.this).encode("utf-8")), f"the string {_shown(branch)}"
    if isinstance(branch, exp.Cast):
        size = _declared_bytes(branch.to)
        return (size, f"{_shown(branch)}, a {branch.to.sql(dialect='redshift')}") if size is not None else None
    if isinstance(branch, exp.Column) and not branch.table:
        type_text = types.get(fold(branch.name, case_sensitive))
        size = _declared_bytes(_data_type(type_text)) if type_text else None
        return (size, f"WITH column {branch.name}, a {type_text}") if size is not None else None
    return None


def _check_length(target: _Target, wanted: exp.DataType, types: dict[str, str], case_sensitive: bool) -> None:
    limit = _declared_bytes(wanted)
    if limit is None:
        return
    for branch in _branches(target.output):
        found = _branch_bytes(branch, types, case_sensitive)
        if found is not None and found[0] > limit:
            size, shown = found
            raise ExpressionError(
                f"{_subject(target)} can return {shown}: {size} bytes, but {target.masked} is {target.type_text}, "
                f"{target.via}: at most {limit} bytes; Redshift requires a masking policy's output to fit the "
                f"column it masks: shorten it, or cast it: CAST(... AS {target.type_text})")


def _check_constant(target: _Target) -> None:
    """A bare string literal or NULL has no type of its own until it is cast, and Redshift asks for that cast
    when a constant is the masking expression [D38][D39]."""
    output = target.output.unnest()
    if (isinstance(output, exp.Literal) and output.is_string) or isinstance(output, exp.Null):
        raise ExpressionError(
            f"{_subject(target)} is the constant {_shown(output)}, and Redshift requires a constant masking "
            f"expression to be cast to the input type: cast it: CAST({_shown(output)} AS {target.type_text})")

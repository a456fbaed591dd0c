"""Redshift's data types, by the names and aliases AWS documents, for the types a model writes: a policy's WITH
columns (RLS and masking input columns) and the types its expressions cast to.

A type Redshift does not know (`VARCHR(50)`, `INTEGR`) used to pass validate, plan and synth, since the runtime
checks only a type's shape (`runtime/sql_text.py: validate_data_type`, which keeps the Lambda self-contained),
and failed at deploy. The list is checked here, on the compiler's side, so validate, plan and synth refuse it
with the nearest valid name.

Sources (documented), docs.aws.amazon.com/redshift/latest/dg/<page>.html:
- c_Supported_data_types: the types and their aliases;
- r_Numeric_types201: DECIMAL(precision, scale), precision at most 38, scale at most 37 and not above it;
- r_Character_types: CHAR at most 4096 bytes, VARCHAR at most 65535; BPCHAR and TEXT are converted to
  CHAR(256) and VARCHAR(256) (written without a length here); MAX for character types (CREATE TABLE);
- r_VARBYTE_type: VARBYTE(n), n from 1 to 16,777,216;
- r_interval_data_types: INTERVAL with a year-to-month or day-to-second qualifier, fractional precision only
  with SECOND, at most six digits.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.expressions import DType


@dataclass(frozen=True)
class Parameters:
    """What may follow a type name in parentheses: how many numbers, and up to which value each."""

    most: int = 0  # how many numbers at most (0: none)
    limits: tuple[int, ...] = ()  # the largest value of each
    smallest: tuple[int, ...] = ()  # the smallest value of each (default 1)
    max_word: int | None = None  # the value MAX stands for (character types), None: MAX not allowed


NONE = Parameters()
DECIMAL = Parameters(2, (38, 37), (1, 0))
CHAR = Parameters(1, (4096,), max_word=4096)
VARCHAR = Parameters(1, (65535,), max_word=65535)
VARBYTE = Parameters(1, (16_777_216,))
SECONDS = Parameters(1, (6,), (0,))

# The documented name of each type, and every spelling of it (c_Supported_data_types, r_interval_data_types).
TYPES: dict[str, tuple[tuple[str, ...], Parameters]] = {
    "SMALLINT": (("SMALLINT", "INT2"), NONE),
    "INTEGER": (("INTEGER", "INT", "INT4"), NONE),
    "BIGINT": (("BIGINT", "INT8"), NONE),
    "DECIMAL": (("DECIMAL", "NUMERIC"), DECIMAL),
    "REAL": (("REAL", "FLOAT4"), NONE),
    "DOUBLE PRECISION": (("DOUBLE PRECISION", "FLOAT8", "FLOAT"), NONE),
    "BOOLEAN": (("BOOLEAN", "BOOL"), NONE),
    "CHAR": (("CHAR", "CHARACTER", "NCHAR", "BPCHAR"), CHAR),
    "VARCHAR": (("VARCHAR", "CHARACTER VARYING", "NVARCHAR", "TEXT"), VARCHAR),
    "DATE": (("DATE",), NONE),
    "TIME": (("TIME", "TIME WITHOUT TIME ZONE"), NONE),
    "TIMETZ": (("TIMETZ", "TIME WITH TIME ZONE"), NONE),
    "TIMESTAMP": (("TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE"), NONE),
    "TIMESTAMPTZ": (("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"), NONE),
    "INTERVAL YEAR TO MONTH": (("INTERVAL YEAR TO MONTH", "INTERVAL YEAR", "INTERVAL MONTH"), NONE),
    "INTERVAL DAY TO SECOND": (("INTERVAL DAY TO SECOND", "INTERVAL HOUR TO SECOND", "INTERVAL MINUTE TO SECOND",
                                "INTERVAL SECOND", "INTERVAL DAY TO MINUTE", "INTERVAL DAY TO HOUR",
                                "INTERVAL HOUR TO MINUTE", "INTERVAL DAY", "INTERVAL HOUR", "INTERVAL MINUTE"),
                               SECONDS),
    "HLLSKETCH": (("HLLSKETCH",), NONE),
    "SUPER": (("SUPER",), NONE),
    "VARBYTE": (("VARBYTE", "VARBINARY", "BINARY VARYING"), VARBYTE),
    "GEOMETRY": (("GEOMETRY",), NONE),
    "GEOGRAPHY": (("GEOGRAPHY",), NONE),
}
# Converted to a fixed size, documented without a length (r_Character_types).
NO_LENGTH = frozenset({"BPCHAR", "TEXT"})
SPELLINGS: dict[str, tuple[str, Parameters]] = {
    spelling: (name, parameters) for name, (spellings, parameters) in TYPES.items() for spelling in spellings}

_TYPE_TEXT = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_ ]*?)\s*(?:\(([^()]*)\))?\s*$")


class DataTypeError(ValueError):
    """A type Redshift does not document, or parameters it does not take."""


def _suggestion(name: str, arguments: str | None = None) -> str:
    """'; did you mean ...?' with the nearest documented spelling, or the list of Redshift's types."""
    close = difflib.get_close_matches(name, sorted(SPELLINGS), n=1, cutoff=0.6)
    if not close:
        return f" (Redshift's types: {', '.join(TYPES)}; page c_Supported_data_types)"
    return f"; did you mean {close[0] + (f'({arguments})' if arguments is not None else '')!r}?"


def check_data_type(type_text: str) -> str:
    """The documented name of the type `type_text` spells (e.g. `int4` -> INTEGER), or DataTypeError naming
    what is wrong and the nearest valid spelling. Parameters are checked against the documented limits; MAX
    is refused here (the model writes the number: what Redshift stores, so the catalog reads the same back)."""
    match = _TYPE_TEXT.match(type_text)
    if match is None:
        raise DataTypeError(f"data type {type_text!r} is not a plain SQL type such as VARCHAR(50) or DECIMAL(10,2)")
    name = re.sub(r"\s+", " ", match.group(1)).upper()
    arguments = match.group(2)
    known = SPELLINGS.get(name)
    if known is None:
        written = f"{name}({arguments})" if arguments is not None else name
        raise DataTypeError(f"unknown data type {written!r}{_suggestion(name, arguments)}")
    documented, parameters = known
    if arguments is None:
        return documented
    values = [a.strip().upper() for a in arguments.split(",")]
    if name in NO_LENGTH or parameters.most == 0 or (parameters is SECONDS and not name.endswith("SECOND")):
        raise DataTypeError(f"{type_text.strip()!r}: {name} takes no parameters in Redshift; write {name}"
                            + (f" or {documented}(n)" if name in NO_LENGTH else ""))
    if len(values) > parameters.most:
        raise DataTypeError(f"{type_text.strip()!r}: {name} takes at most {parameters.most} parameter(s)")
    for index, value in enumerate(values):
        if value == "MAX" and parameters.max_word is not None and index == 0:
            raise DataTypeError(f"{type_text.strip()!r}: write the length as a number: {name}"
                                f"({parameters.max_word}) is what MAX stands for")
        if not value.isdigit():
            raise DataTypeError(f"{type_text.strip()!r}: {value!r} is not a number")
        smallest = parameters.smallest[index] if index < len(parameters.smallest) else 1
        number = int(value)
        if not smallest <= number <= parameters.limits[index]:
            raise DataTypeError(f"{type_text.strip()!r}: {number} is outside {smallest}..{parameters.limits[index]}, "
                                f"what Redshift allows for {name}")
    if documented == "DECIMAL" and len(values) == 2 and int(values[1]) > int(values[0]):
        raise DataTypeError(f"{type_text.strip()!r}: the scale ({values[1]}) is larger than the precision "
                            f"({values[0]}); Redshift requires scale <= precision")
    return documented


def _kinds() -> frozenset[DType]:
    """sqlglot's kinds for every documented spelling: what a cast in an expression may name. A bare INTERVAL
    too: Redshift reads `'1 day'::INTERVAL` (r_interval_literals)."""
    kinds: set[DType] = {exp.DataType.Type.INTERVAL}
    for spelling in SPELLINGS:
        try:
            kinds.add(exp.DataType.build(spelling, dialect="redshift").this)
        except SqlglotError:  # pragma: no cover - every spelling parses today; a new sqlglot may differ
            continue
    kinds.discard(exp.DataType.Type.USERDEFINED)
    return frozenset(kinds)


CAST_KINDS = _kinds()


def check_cast_type(data_type: exp.DataType) -> None:
    """A type an expression casts to (`CAST(x AS t)`, `x::t`, `CONVERT(t, x)`) must be one of Redshift's:
    sqlglot also reads types of other databases (JSON, UUID, TINYINT, arrays), which Redshift would refuse.
    The message names the kind sqlglot read (the written text is not kept in its tree)."""
    if data_type.this not in CAST_KINDS or data_type.args.get("nested"):
        kind = str(data_type.this.value)
        raise DataTypeError(f"unknown data type {kind!r} in a cast{_suggestion(kind)}")


def suggest_type(word: str) -> str:
    """'; did you mean ...?' for a word the parser could not read as a type, or ''."""
    return _suggestion(re.sub(r"\s+", " ", word).upper())

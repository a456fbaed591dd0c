"""Identifiers and literals for Redshift SQL, built only from validated input.

Every name is validated against an allow-list before it is quoted (quoting alone does not make a name
one Redshift accepts), then always emitted double-quoted with `"` doubled. Literals double `'` and
`\\`: Redshift reads a backslash inside `'...'` as an escape, so `\\'` would otherwise end the string
early. Reference: REDSHIFT_REFERENCE.md sections 0.6 and 5.
"""

from __future__ import annotations

import functools
import re
import unicodedata

MAX_IDENTIFIER_BYTES = 127
RESERVED_ROLE_PREFIXES = ("sys:", "ds:")
FORBIDDEN_COLUMN_NAMES = frozenset({"oid", "tableoid", "xmin", "cmin", "xmax", "cmax", "ctid"})
_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class SqlTextError(ValueError):
    """A name or literal Redshift would reject or misread."""


def fold(name: str, case_sensitive: bool = False) -> str:
    """The form Redshift stores a delimited identifier in: ASCII letters lower-cased, nothing else.

    With `enable_case_sensitive_identifier` on, names keep their case.
    """
    return name if case_sensitive else name.translate(_ASCII_FOLD)


def validate_identifier(name: str, what: str = "identifier") -> str:
    """Accept what Redshift accepts in a delimited identifier; return the name unchanged.

    Allowed: 1-127 bytes of UTF-8, printable characters (letters, digits, punctuation, symbols and the
    ASCII space). Refused: empty names, control and format characters (NUL, newlines, zero-width),
    other whitespace, and lone surrogates. A `"` is allowed: it is doubled when quoted.
    """
    if not isinstance(name, str) or not name:
        raise SqlTextError(f"{what} is empty")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise SqlTextError(f"{what} {name!r} is not valid UTF-8") from None
    if size > MAX_IDENTIFIER_BYTES:
        raise SqlTextError(f"{what} {name!r} is {size} bytes of UTF-8; Redshift allows at most {MAX_IDENTIFIER_BYTES}")
    for char in name:
        category = unicodedata.category(char)
        if char != " " and (category[0] in ("C", "Z")):
            raise SqlTextError(f"{what} {name!r} contains the character U+{ord(char):04X} ({category}), "
                               "which Redshift identifiers cannot hold")
    if name != name.strip():
        raise SqlTextError(f"{what} {name!r} starts or ends with a space")
    return name


def validate_role_name(name: str) -> str:
    validate_identifier(name, "role name")
    if fold(name).startswith(RESERVED_ROLE_PREFIXES):
        raise SqlTextError(f"role name {name!r}: the prefixes {', '.join(RESERVED_ROLE_PREFIXES)} "
                           "are reserved by Redshift")
    return name


def validate_column_name(name: str) -> str:
    validate_identifier(name, "column name")
    if fold(name) in FORBIDDEN_COLUMN_NAMES:
        raise SqlTextError(f"column name {name!r} is a Redshift system column name")
    return name


@functools.lru_cache(maxsize=65536)
def quote_ident(name: str) -> str:
    """`name` as a delimited identifier. Always quoted, so reserved words and mixed case are safe.
    Cached: a large plan quotes the same few thousand names tens of thousands of times, and checking
    each character was most of its time (a refused name raises every time: errors are not cached)."""
    validate_identifier(name)
    return '"' + name.replace('"', '""') + '"'


def quote_qualified(schema: str, relation: str) -> str:
    """Always schema-qualified: an unqualified name would resolve through search_path."""
    return f"{quote_ident(schema)}.{quote_ident(relation)}"


def quote_literal(value: str) -> str:
    """A string literal Redshift reads back as `value` (both `'` and `\\` doubled; no NUL)."""
    if "\x00" in value:
        raise SqlTextError("a string literal cannot contain NUL")
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


# A SQL data type as written in WITH (...) clauses: a name of letters, spaces and underscores, with an
# optional (precision[, scale]) part, e.g. VARCHAR(50), DECIMAL(10,2), TIMESTAMP WITH TIME ZONE.
_DATA_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]{0,62}(\(\s*\d{1,5}\s*(,\s*\d{1,5}\s*)?\))?$")


def validate_data_type(type_text: str) -> str:
    if not _DATA_TYPE.match(type_text) or "  " in type_text:
        raise SqlTextError(f"data type {type_text!r} is not a plain SQL type such as VARCHAR(50) or DECIMAL(10,2)")
    return type_text


def normalize_data_type(type_text: str) -> str:
    """Upper-case and collapse spaces so `varchar( 50 )` and `VARCHAR(50)` compare equal."""
    return re.sub(r"\s+", " ", re.sub(r"\s*([(),])\s*", r"\1", type_text.strip())).upper()


_SQL_SPACE = frozenset(" \t\n\r\f\v")


def collapse_whitespace(expression: str) -> str:
    """The expression on one line: each run of whitespace between tokens becomes one space, while the text
    inside '...' literals and "..." names is kept byte for byte (a policy matching 'Americas  Test' must
    not be planned as 'Americas Test'). Only SQL's whitespace is collapsed; any other character, NBSP
    included, is left where it is. The model loader has already refused what is not one valid expression."""
    out: list[str] = []
    space = False
    i, n = 0, len(expression)
    while i < n:
        char = expression[i]
        if char in _SQL_SPACE:
            space = True
            i += 1
            continue
        if space and out:
            out.append(" ")
        space = False
        if char in ("'", '"'):
            end = i + 1
            while end < n:
                if expression[end] == char:
                    if end + 1 < n and expression[end + 1] == char:  # a doubled quote inside
                        end += 2
                        continue
                    break
                end += 1
            out.append(expression[i:end + 1])
            i = end + 1
            continue
        out.append(char)
        i += 1
    return "".join(out)

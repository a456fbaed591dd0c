"""The lookup subqueries of an RLS predicate as the catalog stores it (SVV_RLS_POLICY `polqual`): where they are,
which table each reads, and the names inside them, so `import` and adoption can decode a lookup-table policy
(`col IN (SELECT col FROM schema.table WHERE ...)`, the one subquery form a model may write) and the snapshot
can read the lookup tables' columns.

What Redshift stores inside a lookup subquery is not documented: r_SVV_RLS_POLICY and r_SHOW_POLICIES show
predicates without one. What is relied on:

- the policy's alias qualifies the policy's own WITH columns (`"t"."c"`, r_SVV_RLS_POLICY: documented);
- inside the subquery a bare name resolves to the lookup table's column first (SQL's scoping of subqueries, as
  in PostgreSQL, whose rewriter Redshift's stored form follows). A stored form must read back with the same
  meaning, so a column of the lookup table is never stored qualified with the policy's alias: that would name
  the outer row's column. Only references outside the subquery lose the alias (`strip_alias` runs on them
  alone); a `"t".` left inside one (a correlated reference) stays, and the model's checks refuse it (assumed);
- the lookup table may be stored bare (`security.entitlements`) or quoted (`"security"."entitlements"`), and
  its columns bare or qualified with its name (`"entitlements"."region"`, `security.entitlements.region`):
  both are read, the qualifier taken off, which keeps the meaning (the subquery reads one table) (assumed).

Standard library only, like the rest of `runtime/`: a small scanner over literals, quoted names and
parentheses, never a parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redshift_idc.runtime.sql_text import fold

_WORD = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*")


@dataclass(frozen=True)
class Segment:
    """A piece of a stored predicate: outside any lookup subquery (`table` None), or the inside of one (between
    its parentheses) with the table it reads (schema, table as stored) when its FROM names one."""

    text: str
    table: tuple[str, str] | None = None
    lookup: bool = False


def quoted_end(text: str, i: int) -> int:
    """The index after the string literal (`'`, with `''` and backslash escapes) or quoted name (`"`) at `i`."""
    quote, end, n = text[i], i + 1, len(text)
    while end < n:
        if quote == "'" and text[end] == "\\":
            end += 2
            continue
        if text[end] == quote:
            if end + 1 < n and text[end + 1] == quote:
                end += 2
                continue
            return end + 1
        end += 1
    return n


def _name(text: str, i: int) -> tuple[str, int, bool] | None:
    """The name at `i` (unquoted), the index after it and whether it was quoted; None if no name starts there."""
    if i < len(text) and text[i] == '"':
        end = quoted_end(text, i)
        return (text[i + 1:end - 1].replace('""', '"'), end, True) if end - i > 2 and text[end - 1] == '"' else None
    word = _WORD.match(text, i)
    return (word.group(0), word.end(), False) if word else None


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _dotted(text: str, i: int) -> tuple[list[str], int]:
    """The dotted name at `i` (`a.b`, `"a"."b"`, spaces around dots allowed) as its parts and the end."""
    parts: list[str] = []
    while True:
        found = _name(text, i)
        if found is None:
            return parts, i
        parts.append(found[0])
        after = _skip_space(text, found[1])
        if after < len(text) and text[after] == "." and _name(text, _skip_space(text, after + 1)) is not None:
            i = _skip_space(text, after + 1)
            continue
        return parts, found[1]


def _closing(text: str, i: int) -> int:
    """The index of the `)` closing the `(` at `i` (len(text) when none does)."""
    depth, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in "'\"":
            i = quoted_end(text, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return n


def _from_table(inner: str) -> tuple[str, str] | None:
    """The `schema.table` the subquery's own FROM names (outside nested parentheses), as stored."""
    i, n, depth = 0, len(inner), 0
    while i < n:
        char = inner[i]
        if char in "'\"":
            i = quoted_end(inner, i)
            continue
        if char in "()":
            depth += 1 if char == "(" else -1
            i += 1
            continue
        word = _WORD.match(inner, i) if char.isalpha() or char == "_" else None
        if word is None:
            i += 1
            continue
        if depth == 0 and word.group(0).upper() == "FROM" and (i == 0 or not inner[i - 1].isalnum()):
            parts, _ = _dotted(inner, _skip_space(inner, word.end()))
            return (parts[0], parts[1]) if len(parts) == 2 else None
        i = word.end()
    return None


def segments(predicate: str) -> list[Segment]:
    """`predicate` cut into what lies outside lookup subqueries and the insides of each `(SELECT ...)` group;
    joined back, the pieces are the predicate byte for byte. Literals and quoted names are never searched."""
    pieces: list[Segment] = []
    start, i, n = 0, 0, len(predicate)
    while i < n:
        char = predicate[i]
        if char in "'\"":
            i = quoted_end(predicate, i)
            continue
        if char == "(":
            first = _WORD.match(predicate, _skip_space(predicate, i + 1))
            if first is not None and first.group(0).upper() == "SELECT":
                end = _closing(predicate, i)
                inner = predicate[i + 1:end]
                pieces.append(Segment(predicate[start:i + 1]))
                pieces.append(Segment(inner, _from_table(inner), lookup=True))
                start = i = end
                continue
        i += 1
    pieces.append(Segment(predicate[start:]))
    return [p for p in pieces if p.text or p.lookup]


def lookup_tables(predicate: str) -> list[tuple[str, str]]:
    """The tables a stored predicate's lookup subqueries read, (schema, table) as stored, each once, in order."""
    found: list[tuple[str, str]] = []
    for piece in segments(predicate):
        if piece.table is not None and piece.table not in found:
            found.append(piece.table)
    return found


def strip_lookup_qualifiers(inner: str, table: tuple[str, str] | None) -> str:
    """The inside of a lookup subquery without the lookup table's name before its columns
    (`"entitlements"."region"` or `security.entitlements.region` -> `"region"` / `region`); the FROM clause, literals
    and every other name are copied as they are."""
    if table is None:
        return inner
    schema, name = fold(table[0]), fold(table[1])
    out: list[str] = []
    i, n = 0, len(inner)
    previous_word = ""
    while i < n:
        char = inner[i]
        if char == "'":
            end = quoted_end(inner, i)
            out.append(inner[i:end])
            i, previous_word = end, ""
            continue
        if char == '"' or char.isalpha() or char == "_" or ord(char) > 127:
            parts, end = _dotted(inner, i)
            if not parts:
                out.append(char)
                i += 1
                continue
            text = inner[i:end]
            folded = [fold(p) for p in parts]
            qualifier = 2 if folded[:2] == [schema, name] and len(parts) == 3 else (
                1 if folded[:1] == [name] and len(parts) == 2 else 0)
            if qualifier and previous_word.upper() != "FROM":
                text = _after_dots(inner, i, qualifier)
            out.append(text)
            previous_word = parts[-1] if len(parts) == 1 else ""
            i = end
            continue
        out.append(char)
        if not char.isspace():
            previous_word = ""
        i += 1
    return "".join(out)


def _after_dots(text: str, i: int, count: int) -> str:
    """The dotted name at `i` without its first `count` parts and their dots (the column, as written)."""
    for _ in range(count):
        found = _name(text, i)
        assert found is not None
        i = _skip_space(text, _skip_space(text, found[1]) + 1)
    _, end = _dotted(text, i)
    return text[i:end]

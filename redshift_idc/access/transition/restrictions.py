"""A principal's view of a table as its grants and restrictions decide it (columns, rows, masking), and
whether one such view is surely within another whatever the rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Restrictions:
    """What a principal may read of a table, by its grants and restrictions: `columns` None = every column;
    `rows` 'all', 'none', or (conjunction, policies); masks: column -> the winning policy (name, definition)."""

    columns: frozenset[str] | None
    rows: Any
    masks: tuple[tuple[str, tuple[str, str]], ...]


def _rows_within(rows: Any, other: Any) -> bool:
    """Whether the rows `rows` admits are surely among those `other` admits (policies compared by name and text)."""
    if rows == "none" or other == "all" or rows == other:
        return True
    if rows == "all" or other == "none":
        return False
    (conjunction, policies), (other_conjunction, others) = rows, other
    if conjunction == "AND" and other_conjunction == "AND":
        return bool(policies >= others)
    if conjunction == "OR" and other_conjunction == "OR":
        return bool(policies <= others)
    if conjunction == "AND":
        return bool(policies & others)
    return bool(policies == others and len(policies) == 1)


def _column_within(view: Restrictions, column: str, other: Restrictions | None) -> bool:
    if other is None:
        return False
    if other.columns is not None and (view.columns is None or column not in other.columns):
        return False
    return _rows_within(view.rows, other.rows) and dict(view.masks).get(column) == dict(other.masks).get(column)


def widening(view: Restrictions | None, before: Restrictions | None, after: Restrictions | None) -> str:
    """'' when every column `view` shows is surely shown as restricted (or more) before or after, else what is not."""
    if view is None:
        return ""
    columns = sorted(view.columns) if view.columns is not None else ["*", *sorted(dict(view.masks))]
    for column in columns:
        if not (_column_within(view, column, before) or _column_within(view, column, after)):
            rows = view.rows if isinstance(view.rows, str) else f"{view.rows[0]} of {len(view.rows[1])} polic(ies)"
            mask = dict(view.masks).get(column)
            shown = "every column" if column == "*" else f"column {column}"
            return (f"{shown} with rows: {rows}, masking: {mask[0] if mask else 'none'}, less restricted than before "
                    "and after the deploy")
    return ""

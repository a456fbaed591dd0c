"""What a query returns: typed rows, as records for code or as a psql-like table for a terminal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Cell = str | int | float | bool | None


def typed_cell(value_field: dict[str, Any]) -> Cell:
    """A Data API result field as str/int/float/bool/None (DECIMAL and dates arrive as strings and stay ones)."""
    if value_field.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "booleanValue", "doubleValue"):
        if key in value_field:
            value: Cell = value_field[key]
            return value
    return None


@dataclass(frozen=True)
class QueryResult:
    """A statement's columns and typed rows, and its Data API id (to find it in SYS_QUERY_HISTORY)."""

    columns: list[str]
    rows: list[tuple[Cell, ...]]
    statement_id: str | None = None

    def records(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]

    def to_table(self, *, max_width: int = 60) -> str:
        """A psql-like text table: numbers right-aligned, NULL for nulls, a row count below."""
        if not self.columns:
            return "(no result set)"
        width = len(self.columns)
        rows = [tuple(row[:width]) + (None,) * (width - len(row)) for row in self.rows]
        header = [_render(name, max_width) for name in self.columns]
        text = [[_render(cell, max_width) for cell in row] for row in rows]
        widths = [max([len(header[i]), *(len(line[i]) for line in text)]) for i in range(width)]
        numeric = [_is_numeric_column([row[i] for row in rows]) for i in range(width)]
        lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
                 "-+-".join("-" * w for w in widths)]
        for line in text:
            lines.append(" | ".join(cell.rjust(w) if right else cell.ljust(w)
                                    for cell, w, right in zip(line, widths, numeric, strict=True)).rstrip())
        count = len(self.rows)
        lines.append(f"({count} row{'' if count == 1 else 's'})")
        return "\n".join(lines)


def _is_numeric_column(values: list[Cell]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)


def _render(cell: Cell, max_width: int) -> str:
    if cell is None:
        text = "NULL"
    elif isinstance(cell, bool):
        text = "true" if cell else "false"
    else:
        text = str(cell).replace("\r", " ").replace("\n", " ")
    return text if len(text) <= max_width else text[: max(max_width - 1, 1)] + "…"

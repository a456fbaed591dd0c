"""What a preview returns: each persona's view of each table, the warnings, the failed expectations; and the
error for what it cannot evaluate faithfully."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, overload

from redshift_idc.config.errors import ConfigError


class PreviewError(ConfigError):
    """Something the preview cannot evaluate faithfully; the message names it and where it is."""


@dataclass(frozen=True)
class Persona:
    name: str
    groups: tuple[str, ...]
    user: str  # what current_user returns for this persona
    roles: tuple[str, ...]  # folded: its groups' roles, roles granted to them, and public


class Rows(Sequence[dict[str, Any]]):
    """A view's visible rows, each a dict of column to value as JSON would show it, built only when read.

    A preview of many personas counts far more rows than it shows (text shows the first 20 of each view,
    markdown none), and personas with the same policies share one query's values: each view keeps the
    values DuckDB returned and builds its dicts on first read (all of them on iteration, kept)."""

    __slots__ = ("_built", "columns", "values")

    def __init__(self, columns: tuple[str, ...] = (), values: Sequence[tuple[Any, ...]] = ()) -> None:
        self.columns = columns
        self.values = values  # per row, the visible columns' values in `columns` order, as DuckDB returned them
        self._built: list[dict[str, Any]] | None = None

    def _row(self, values: tuple[Any, ...]) -> dict[str, Any]:
        return {c: _plain(v) for c, v in zip(self.columns, values, strict=True)}

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if self._built is not None:
            return self._built[index]
        if isinstance(index, slice):
            return [self._row(v) for v in self.values[index]]
        return self._row(self.values[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._built is None:
            self._built = [self._row(v) for v in self.values]
        return iter(self._built)

    def __eq__(self, other: object) -> bool:
        """Equal to rows (or a list of dicts) showing the same dicts in the same order, as a list would be."""
        if isinstance(other, Rows) and other.values is self.values and other.columns == self.columns:
            return True
        if isinstance(other, Rows | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking and compared by content, as a list

    def __repr__(self) -> str:
        return repr(list(self))


@dataclass
class TableView:
    table: str
    access: str  # "ok" or "denied"
    missing: tuple[str, ...] = ()  # the privileges a denied persona lacks
    columns: tuple[str, ...] = ()  # visible columns, in declared order
    denied_columns: tuple[str, ...] = ()
    rows: Rows = field(default_factory=Rows)
    row_ids: tuple[int, ...] = ()  # which sample rows (0-based), for the lints
    total_rows: int = 0
    rls: bool = False
    ignore_rls: bool = False
    conjunction: str = ""
    policies: tuple[str, ...] = ()
    masking: dict[str, str] = field(default_factory=dict)  # column -> the policy that won
    # Columns whose winning policy returns its input unchanged (`using: col`): the "unmasked for exec" form.
    passed_through: set[str] = field(default_factory=set)

    @property
    def masked_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c in self.masking and c not in self.passed_through)

    def why(self) -> list[str]:
        """What decided the rows and values: RLS and its policies, IGNORE RLS, masking, column grants."""
        reasons = []
        if self.ignore_rls:
            reasons.append("IGNORE RLS: every row")
        elif self.rls:
            reasons.append(f"RLS {self.conjunction}: {', '.join(self.policies) or 'no policy applies'}")
        if self.masking:
            reasons.append("masked " + ", ".join(
                f"{c} by {m}" + (" (passes the value through)" if c in self.passed_through else "")
                for c, m in sorted(self.masking.items())))
        if self.denied_columns:
            reasons.append(f"columns granted: {', '.join(self.columns)}")
        return reasons

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "access": self.access, "missing": list(self.missing),
                "columns": list(self.columns), "row_count": len(self.rows), "rows": list(self.rows),
                "sample_rows": self.total_rows, "masked_columns": list(self.masked_columns),
                "denied_columns": list(self.denied_columns),
                "why": {"rls": self.rls, "ignore_rls": self.ignore_rls, "conjunction": self.conjunction or None,
                        "policies": list(self.policies), "masking": dict(sorted(self.masking.items()))}}


@dataclass(frozen=True)
class LaterView:
    """One persona's view of what `creator` makes later, in `schema` ("" anywhere in the database): its default
    privileges (`later.py`)."""

    creator: str
    schema: str
    objects: str  # TABLES, FUNCTIONS or PROCEDURES, as the statement spells them
    privileges: tuple[str, ...]  # what the persona's roles or PUBLIC get, in the grammar's order
    usage: bool | None  # USAGE on the schema (None: database-wide, so it depends on the schema)

    @property
    def title(self) -> str:
        where = f"in schema {self.schema}" if self.schema else "anywhere in the database"
        return f"{self.objects.lower()} {self.creator} creates later {where}"

    @property
    def access(self) -> str:
        """"ok", "denied" (privileges but no USAGE on the schema) or "none" (no default privilege reaches it)."""
        if not self.privileges:
            return "none"
        return "denied" if self.usage is False else "ok"

    def describe(self) -> str:
        if self.access == "none":
            return "nothing (no default privilege names its roles or PUBLIC)"
        granted = ", ".join(self.privileges)
        if self.access == "denied":
            return f"denied, missing USAGE on schema {self.schema} (default privileges give {granted})"
        reach = "" if self.usage else " where it has USAGE on the schema"
        restriction = ("; a new table has RLS off and no masking: every row, unmasked, until a deploy attaches "
                       "policies to it") if self.objects == "TABLES" else ""
        return f"{granted}{reach} (default privileges{restriction})"

    def to_json(self) -> dict[str, Any]:
        return {"creator": self.creator, "schema": self.schema or None, "objects": self.objects,
                "access": self.access, "privileges": list(self.privileges), "schema_usage": self.usage}


@dataclass
class PersonaView:
    persona: Persona
    tables: list[TableView]
    later: list[LaterView] = field(default_factory=list)  # what it gets on objects created later (`later.py`)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.persona.name, "user": self.persona.user, "groups": list(self.persona.groups),
                "roles": list(self.persona.roles), "tables": [t.to_json() for t in self.tables],
                "later": [v.to_json() for v in self.later]}


@dataclass(frozen=True)
class PreviewWarning:
    code: str
    message: str


@dataclass
class Preview:
    model: str
    personas: list[PersonaView]
    warnings: list[PreviewWarning]
    samples: Any = field(default=None, repr=False)  # the DuckDB connection holding the sample rows
    failures: list[str] = field(default_factory=list)  # expectations the preview contradicts

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "personas": [p.to_json() for p in self.personas],
                "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
                "failed_expectations": self.failures}


def _plain(value: Any) -> Any:
    """A DuckDB value as JSON would show it (decimals and times as text)."""
    if isinstance(value, Decimal | datetime | date):
        return str(value)
    return value

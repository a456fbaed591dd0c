"""What the transition check returns: the widenings found at batch boundaries, what it could not evaluate,
and the comment lines `plan` prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from redshift_idc.wording import plural

MAX_SHOWN = 5  # widenings listed in full; the rest are counted


@dataclass(frozen=True)
class Widening:
    boundary: int  # after this many steps
    principal: str
    table: str
    what: str


@dataclass
class TransitionVerdict:
    batches: int  # Data API steps replayed: every boundary after one is checked
    principals: int
    widenings: list[Widening] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # what could not be evaluated, and why

    @property
    def ok(self) -> bool:
        return not self.widenings

    def line(self) -> str:
        """The one line `plan` ends with."""
        counted = f"{plural(self.batches, 'batch', 'batches')}, {plural(self.principals, 'principal')} checked"
        if self.ok:
            caveat = f"; not evaluated: {'; '.join(self.unchecked)}" if self.unchecked else ""
            return f"-- transition: no intermediate state widens access ({counted}){caveat}"
        first = self.widenings[0]
        return (f"-- transition: WIDENS ACCESS after batch {first.boundary} of {self.batches}: "
                f"{first.principal} on {first.table} would see {first.what} "
                f"({plural(len(self.widenings), 'widening')}; {counted})")

    def details(self) -> list[str]:
        shown = [f"after batch {w.boundary}: {w.principal} on {w.table} would see {w.what}"
                 for w in self.widenings[:MAX_SHOWN]]
        if len(self.widenings) > MAX_SHOWN:
            shown.append(f"... and {len(self.widenings) - MAX_SHOWN} more")
        return shown

    def render(self) -> str:
        """The verdict as plan comment lines: the widenings first, then the line."""
        return "".join(f"-- widening: {d}\n" for d in (self.details() if not self.ok else [])) + self.line() + "\n"

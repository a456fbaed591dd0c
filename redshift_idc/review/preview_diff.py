"""Who sees what, base branch against head: both branches' rules evaluated on the same personas and sample rows.

The pull request review (`make review`) needs more than the SQL a change runs: it shows what the change
means for people. The head's preview inputs (its tables, personas and sample rows, written into the cloud
assembly at synth) are evaluated twice, with the base's compiled rules and with the head's, so a change of
sample data alone never shows up as a change of access. A model without a base side (new) is compared with
no rules at all: everything it grants is gained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redshift_idc.access.preview.build import evaluate
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.preview.results import Preview, PreviewError, TableView
from redshift_idc.runtime.access_state import AccessState


@dataclass(frozen=True)
class AccessChange:
    """One persona and table whose access, rows or masking differ between the two branches."""

    persona: str
    table: str
    before: TableView
    after: TableView

    @property
    def access(self) -> str:
        if self.before.access == self.after.access:
            return self.after.access
        return f"{self.before.access} → {self.after.access} ({'gained' if self.after.access == 'ok' else 'lost'})"

    @property
    def rows(self) -> str:
        def count(view: TableView) -> str:
            return str(len(view.rows)) if view.access == "ok" else "-"
        before, after = count(self.before), count(self.after)
        text = before if before == after else f"{before} → {after}"
        if before == after and self.before.row_ids != self.after.row_ids:
            text += ", other rows"
        return f"{text} of {self.after.total_rows}"

    @property
    def newly_masked(self) -> tuple[str, ...]:
        return tuple(c for c in self.after.masked_columns if c not in self.before.masked_columns)

    @property
    def unmasked(self) -> tuple[str, ...]:
        return tuple(c for c in self.before.masked_columns if c not in self.after.masked_columns
                     and c in self.after.columns)

    @property
    def columns_gained(self) -> tuple[str, ...]:
        return tuple(c for c in self.after.columns if c not in self.before.columns)

    @property
    def columns_lost(self) -> tuple[str, ...]:
        return tuple(c for c in self.before.columns if c not in self.after.columns)


@dataclass
class WhoSeesWhat:
    personas: int
    tables: int
    changes: list[AccessChange] = field(default_factory=list)
    new_warnings: list[str] = field(default_factory=list)  # "code: message", in the head and not in the base
    note: str = ""  # why there is no comparison (an inputs file missing, a rule the preview cannot evaluate)


def _differs(before: TableView, after: TableView) -> bool:
    return (before.access != after.access or before.row_ids != after.row_ids or before.columns != after.columns
            or before.masked_columns != after.masked_columns or before.rows != after.rows)


def compare(inputs: PreviewInputs, base: AccessState | None, head: AccessState) -> WhoSeesWhat:
    """`inputs` evaluated with the base's rules (none when the model is new) and with the head's."""
    before_rules = base if base is not None else AccessState(case_sensitive=head.case_sensitive)
    try:
        before, after = evaluate(inputs, before_rules), evaluate(inputs, head)
    except PreviewError as error:
        return WhoSeesWhat(len(inputs.personas), len(inputs.tables),
                           note=f"the preview cannot compare the two branches: {error}")
    result = WhoSeesWhat(len(inputs.personas), len(inputs.tables))
    for old, new in zip(before.personas, after.personas, strict=True):
        for old_table, new_table in zip(old.tables, new.tables, strict=True):
            if _differs(old_table, new_table):
                result.changes.append(AccessChange(new.persona.name, new_table.table, old_table, new_table))
    result.new_warnings = _new_warnings(before, after)
    return result


def _new_warnings(before: Preview, after: Preview) -> list[str]:
    known = {(w.code, w.message) for w in before.warnings}
    return [f"{w.code}: {w.message}" for w in after.warnings if (w.code, w.message) not in known]


def render(result: WhoSeesWhat) -> list[str]:
    """Markdown lines: a table of what changes, per persona and table."""
    lines = ["**Who sees what** (both branches' rules on the head's personas and sample rows, offline):", ""]
    if result.note:
        return [*lines, f"Not shown: {result.note}.", ""]
    if not result.changes:
        lines += [f"No change: the {result.personas} persona(s) see the same rows and columns of the "
                  f"{result.tables} table(s).", ""]
    else:
        lines += ["| persona | table | access | rows | newly masked | unmasked | columns |",
                  "|---|---|---|---|---|---|---|"]
        for change in result.changes:
            columns = [*(f"+{c}" for c in change.columns_gained), *(f"-{c}" for c in change.columns_lost)]
            lines.append(f"| {change.persona} | {change.table} | {change.access} | {change.rows} | "
                         f"{', '.join(change.newly_masked) or '-'} | {', '.join(change.unmasked) or '-'} | "
                         f"{', '.join(columns) or '-'} |")
        lines.append("")
    if result.new_warnings:
        lines += ["New preview warnings:", "", *(f"- {w}" for w in result.new_warnings), ""]
    return lines

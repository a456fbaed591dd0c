"""The replay: a plan's batches (or a sequence of states) applied one by one, and at every boundary each
principal whose view may have changed judged against its views before and after the deploy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redshift_idc.access.model_file import split_table
from redshift_idc.access.preview.inputs import PreviewInputs
from redshift_idc.access.preview.results import PreviewError
from redshift_idc.access.transition.cells import Cells, describe_cells
from redshift_idc.access.transition.principals import Principal, principals
from redshift_idc.access.transition.restrictions import widening
from redshift_idc.access.transition.states import World, deltas_of_states, tables_named
from redshift_idc.access.transition.table_rules import Mark, Table, TableRules
from redshift_idc.access.transition.verdict import TransitionVerdict, Widening
from redshift_idc.runtime.access_state import AccessObject, AccessState
from redshift_idc.runtime.ledger import LedgerTables, steps
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.runtime.sql_text import fold


def _holders(roles: dict[Principal, frozenset[str]]) -> dict[tuple[str, Table | None], list[Principal]]:
    """(role, None) -> the principals checked on every table that hold it (directly or through role grants);
    (role, table) -> those checked on that table only (pairs of roles)."""
    found: dict[tuple[str, Table | None], list[Principal]] = {}
    for principal, held in roles.items():
        for role in held:
            for table in principal.tables if principal.tables is not None else (None,):
                found.setdefault((role, table), []).append(principal)
    return found


class _Checker:
    def __init__(self, inputs: PreviewInputs | None, before: AccessState,
                 deltas: Sequence[tuple[Sequence[AccessObject], Sequence[AccessObject]]],
                 managed: set[Mark] | None = None) -> None:
        self.cs = before.case_sensitive
        self.managed = managed or set()  # restrictions the model made and may remove, wherever they are
        after = AccessState.of(before, self.cs)
        named = tables_named(before, self.cs)
        for removes, adds in deltas:
            for item in removes:
                after.discard(item)
            for item in adds:
                after.add(item)
            named |= tables_named(adds, self.cs)
        self.deltas = deltas
        self.people = principals(inputs, [before, after])
        self.verdict = TransitionVerdict(len(deltas), len(self.people))
        self.cells: Cells | None = None
        self.declared: dict[Table, str] = {}
        if inputs is not None:
            try:
                self.cells = Cells(inputs)
            except PreviewError as error:
                self.verdict.unchecked.append(f"the model's sample rows ({error})")
            else:
                self.declared = {(fold(s, self.cs), fold(t, self.cs)): name for name in inputs.tables
                                 for s, t in [split_table(name)]}
        self.tables = named | set(self.declared)
        self.before = World(before, self.tables)
        self.after = World(after, self.tables)
        self.start = before
        self.seen: set[tuple[str, str]] = set()
        self.unknown: set[str] = set()
        # Each principal's roles and view of a table before and after the deploy: fixed for the whole check.
        self.bounds: dict[tuple[Principal, Table], tuple[frozenset[str], Any, frozenset[str], Any]] = {}
        # What the restrictions alone cannot vouch for ('' when they can), by what decides the three views
        # (see `view_key`).
        self.widened: dict[tuple[Any, ...], str] = {}

    def _name(self, table: Table) -> str:
        return self.declared.get(table) or f"{table[0]}.{table[1]} (not declared by the model)"

    def run(self) -> TransitionVerdict:
        world = World(self.start, self.tables)
        before_roles = {p: self.before.effective(p) for p in self.people}
        after_roles = {p: self.after.effective(p) for p in self.people}
        roles = dict(before_roles)
        holders = _holders(roles)
        last = len(self.deltas)
        for boundary, (removes, adds) in enumerate(self.deltas, start=1):
            touched, regranted = world.apply(removes, adds, self.cs)
            if regranted:
                roles = {p: world.effective(p) for p in self.people}
                holders = _holders(roles)
                touched = dict.fromkeys(self.tables)
            for table, grantees in sorted(touched.items()):
                if boundary < last:
                    people = self.people if grantees is None else list(
                        {p for g in grantees for at in (None, table) for p in holders.get((g, at), ())})
                    self._judge(boundary, table, world.table_rules(table), people, roles, before_roles, after_roles)
                if table not in self.declared:
                    self._kept(boundary, table, world.table_rules(table))
        for name in sorted(self.unknown):
            self.verdict.unchecked.append(name)
        self.verdict.widenings.sort(key=lambda w: (w.boundary, w.table, w.principal))
        return self.verdict

    def _judge(self, boundary: int, table: Table, rules: TableRules, people: Sequence[Principal],
               roles: dict[Principal, frozenset[str]], before_roles: dict[Principal, frozenset[str]],
               after_roles: dict[Principal, frozenset[str]]) -> None:
        """The view of `table` at this boundary of each of `people` (those whose view may have changed since the
        last boundary: the others were judged then) within its view before or after the deploy."""
        name = self._name(table)
        first, final = self.before.table_rules(table), self.after.table_rules(table)
        for principal in people:
            if principal.tables is not None and table not in principal.tables:
                continue
            if (principal.name, name) in self.seen:
                continue
            now = rules.restricted(roles[principal])
            if not rules.may_read(now):
                continue  # it cannot read the table at all: nothing to contain
            bounds = self.bounds.get((principal, table))
            if bounds is None:
                old = first.restricted(before_roles[principal])
                new = final.restricted(after_roles[principal])
                bounds = self.bounds[(principal, table)] = (old, first.view_key(old), new, final.view_key(new))
            old, old_key, new, new_key = bounds
            verdict_key = (rules.view_key(now), old_key, new_key)
            what = self.widened.get(verdict_key)
            if what is None:
                what = self.widened[verdict_key] = widening(rules.view(now), first.view(old), final.view(new))
            if not what:
                continue  # surely within before or after, whatever the rows
            if self.cells is not None and table in self.declared:
                what = self._cells_widened(name, principal, (rules, now), (first, old), (final, new))
            if what:
                self.seen.add((principal.name, name))
                self.verdict.widenings.append(Widening(boundary, principal.name, name, what))

    def _cells_widened(self, name: str, principal: Principal, *views: tuple[TableRules, frozenset[str]]) -> str:
        """The restrictions alone could not vouch for the view of a declared table: evaluate the sample rows."""
        assert self.cells is not None
        unknown = sorted({n for rules, _ in views for n in rules.unknown_text})
        if unknown:
            self.unknown.add(f"{name} (the text of {', '.join(unknown)} is not known)")
            return ""
        try:
            seen = [self.cells.cells(rules, name, roles, principal.user, self.cs) for rules, roles in views]
        except PreviewError as error:
            self.unknown.add(f"{name} ({error})")
            return ""
        extra = seen[0] - seen[1] - seen[2]
        return describe_cells(extra) if extra else ""

    def _kept(self, boundary: int, table: Table, rules: TableRules) -> None:
        """On a table the model does not declare, every restriction it had before stays, at every boundary (the last
        included): the model declares none of them, so no deploy may lift or weaken one."""
        name = self._name(table)
        had, has = self.before.table_rules(table).restrictions(), rules.restrictions()
        lifted = [phrase for phrase, mark in had.items() if phrase not in has and mark not in self.managed]
        if lifted and ("anyone", name) not in self.seen:
            self.seen.add(("anyone", name))
            self.verdict.widenings.append(Widening(
                boundary, "anyone the catalog lets read it", name,
                f"it without {sorted(lifted)[0]}, a restriction the model does not declare"))


def check_states(inputs: PreviewInputs | None, states: Sequence[AccessState]) -> TransitionVerdict:
    """The rule over a sequence of states: `states[0]` before the deploy, `states[-1]` after it, every other one
    a batch boundary in between (on tables the model does not declare the last is judged too: a deploy may only
    keep their restrictions)."""
    return _Checker(inputs, states[0], deltas_of_states(states)).run()


def check_plan(inputs: PreviewInputs | None, before: AccessState, planned: Plan, model: str,
               ledger_schema: str, max_statements: int | None = None) -> TransitionVerdict:
    """Replay `planned` from `before` batch by batch (as `ledger.steps` cuts it) and check every boundary."""
    tables = LedgerTables(ledger_schema)
    cut = steps(planned, model, tables) if max_statements is None else steps(planned, model, tables, max_statements)
    deltas = [([i for s in step.statements for i in s.removes], [i for s in step.statements for i in s.adds])
              for step in cut]
    # A restriction the model's own ledger records (its removal deletes a ledger row) is the model's to lift.
    managed = {(i.KIND, i.key(before.case_sensitive)) for s in planned.statements if s.ledger_remove for i in s.removes}
    return _Checker(inputs, before, deltas, managed).run()

"""The transition check: a plan replayed batch by batch, and at every boundary what each principal sees compared
with what it saw before the deploy and what it sees after it.

The rule (README, "Safety guarantees"): after every committed batch, for every role, PUBLIC, every persona of the
model and every pair of roles that share an RLS-protected table, what it sees of each table (each row, column and
shown value, with RLS and masking applied) is contained in what it saw before the deploy or what it sees after it.
A first deploy's "before" is nothing, so restrictions must be in force before the grants that expose a table.

Two judges, over the same replayed states:

- Every table is first judged by its restrictions: a principal that may read it at a boundary is surely within
  the rule when, column by column, it is at least as restricted as before or as after (the same rows or fewer:
  RLS on, its policies by name and text, combined by the conjunction type; each column with the same masking
  policy). That settles almost every boundary without rows.
- What the restrictions cannot vouch for, on a table the model declares, is evaluated on the model's sample rows
  by the preview's evaluator (DuckDB): the cells a principal sees at a boundary must each be a cell it saw before
  or sees after, value included (so the union of old and new rows under OR passes, and a masking swap that would
  show the raw value for a moment does not).
- Tables the model does not declare have no columns or rows here: they are treated as readable by anyone the
  catalog grants them to, and besides the check above, every restriction they had before must still be there at
  every boundary, the last included, unless it is the model's own (its ledger records it): so a prune that turns
  their RLS off while PUBLIC keeps SELECT is caught.

Only the tables a batch changed, and the principals holding a role the change names, are judged again at each
boundary (a 1,000-role model's 600 batches are checked in about 2 s: `bench/transition_scale.py`).

What it cannot see: grants to users (the catalog read covers roles and PUBLIC), table owners and superusers, and
anything a `sql/` script does that the model's declared tables and sample rows do not show.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redshift_idc.access.model_file import split_table
from redshift_idc.access.preview import (
    PUBLIC,
    Persona,
    PreviewError,
    PreviewInputs,
    _Evaluator,
    _Rules,
    _Samples,
)
from redshift_idc.runtime.access_state import (
    AccessObject,
    AccessState,
    ColumnPrivilege,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    Role,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.ledger import LedgerTables, steps
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.runtime.planning.scope import is_system_role, table_of
from redshift_idc.runtime.sql_text import fold

MAX_SHOWN = 5  # widenings listed in full; the rest are counted

Table = tuple[str, str]  # (schema, table), folded
Mark = tuple[str, tuple[str, ...]]  # (kind, key) of an access object
Cell = tuple[int, str, str]  # (sample row id, column, shown value as JSON)


# ------------------------------------------------------------------------------------------- states


def with_definitions(state: AccessState, definitions: AccessState | None) -> AccessState:
    """`state` whose policies carry the catalog's definitions (their WITH columns and USING text), where read."""
    if definitions is None:
        return state
    result = AccessState.of(state, state.case_sensitive)
    for kind in (RlsPolicy.KIND, MaskingPolicy.KIND):
        for key in state.of_kind(kind):
            defined = definitions.get(kind, key)
            if defined is not None:
                result.add(defined)
    return result


# ------------------------------------------------------------------------------------------- verdict


@dataclass(frozen=True)
class Widening:
    boundary: int  # after this many steps
    principal: str
    table: str
    what: str


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


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
        batches = f"{self.batches:,} batch" if self.batches == 1 else f"{self.batches:,} batches"
        counted = f"{batches}, {_plural(self.principals, 'principal')} checked"
        if self.ok:
            caveat = f"; not evaluated: {'; '.join(self.unchecked)}" if self.unchecked else ""
            return f"-- transition: no intermediate state widens access ({counted}){caveat}"
        first = self.widenings[0]
        return (f"-- transition: WIDENS ACCESS after batch {first.boundary} of {self.batches}: "
                f"{first.principal} on {first.table} would see {first.what} "
                f"({_plural(len(self.widenings), 'widening')}; {counted})")

    def details(self) -> list[str]:
        shown = [f"after batch {w.boundary}: {w.principal} on {w.table} would see {w.what}"
                 for w in self.widenings[:MAX_SHOWN]]
        if len(self.widenings) > MAX_SHOWN:
            shown.append(f"... and {len(self.widenings) - MAX_SHOWN} more")
        return shown

    def render(self) -> str:
        """The verdict as plan comment lines: the widenings first, then the line."""
        return "".join(f"-- widening: {d}\n" for d in (self.details() if not self.ok else [])) + self.line() + "\n"


# ------------------------------------------------------------------------------------------- principals


@dataclass(frozen=True)
class Principal:
    """Who is checked: the roles it holds directly (its effective roles follow each state's role grants), the
    user `current_user` names, and the tables it is checked on (None: every table)."""

    name: str
    direct: tuple[str, ...]
    user: str
    tables: frozenset[Table] | None = None


ROLE_USER = "principal"  # current_user of a role, PUBLIC or pair principal: no sample row names it


def principals(inputs: PreviewInputs | None, states: Sequence[AccessState]) -> list[Principal]:
    """Every role of the states, PUBLIC, every persona, and every pair of roles both restricted on one table (RLS
    or masking attachments there, in any state), checked on the tables they share."""
    cs = states[0].case_sensitive
    roles: set[str] = set()
    for state in states:
        roles |= {key[0] for key in state.of_kind(Role.KIND) if not is_system_role(key[0])}
    found = [Principal("PUBLIC", (), ROLE_USER)]
    found += [Principal(f"role {r}", (r,), ROLE_USER) for r in sorted(roles)]
    if inputs is not None:
        found += [Principal(f"persona {name}", tuple(fold(f"{inputs.identity_namespace}:{g}", cs) for g in groups),
                            fold(f"{inputs.identity_namespace}:{name}", cs)) for name, groups in inputs.personas]
    shared: dict[Table, set[str]] = {}
    for state in states:
        for kind, at in ((RlsAttachment.KIND, 3), (MaskingAttachment.KIND, 4)):
            for key in state.of_kind(kind):
                if key[at] != PUBLIC:
                    shared.setdefault((key[1], key[2]), set()).add(key[at])
    pairs: dict[tuple[str, str], set[Table]] = {}
    for table, grantees in shared.items():
        ordered = sorted(grantees)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:]:
                pairs.setdefault((a, b), set()).add(table)
    found += [Principal(f"roles {a} and {b}", (a, b), ROLE_USER, frozenset(tables))
              for (a, b), tables in sorted(pairs.items())]
    return found


def _effective(granted: dict[str, set[str]], direct: Iterable[str]) -> frozenset[str]:
    """Folded: the direct roles, the roles granted to them (transitively), and PUBLIC."""
    held = set(direct)
    todo = list(held)
    while todo:
        for role in granted.get(todo.pop(), ()):
            if role not in held:
                held.add(role)
                todo.append(role)
    return frozenset({*held, PUBLIC})


# ------------------------------------------------------------------------------------------- one table's rules


@functools.lru_cache(maxsize=4096)
def _definition(policy: AccessObject | None) -> str:
    if isinstance(policy, RlsPolicy | MaskingPolicy):
        return json.dumps([list(map(list, policy.columns)), policy.using])
    return ""


@dataclass(frozen=True)
class _Restrictions:
    """What a principal may read of a table, by its grants and restrictions: `columns` None = every column;
    `rows` 'all', 'none', or (conjunction, policies); masks: column -> the winning policy (name, definition)."""

    columns: frozenset[str] | None
    rows: Any
    masks: tuple[tuple[str, tuple[str, str]], ...]


class _TableRules:
    """Everything in one state that decides what anyone sees of one table (role grants aside), indexed by grantee
    and kept up to date object by object: its table, column and scoped grants, its schema's USAGE, IGNORE RLS, its
    RLS and masking (the policies' definitions are looked up in `policies`, shared by every table of a state)."""

    def __init__(self, table: Table, policies: dict[Mark, AccessObject]) -> None:
        self.table = table
        self.policies = policies
        self.members: dict[Mark, AccessObject] = {}
        self.select: set[str] = set()
        self.scoped: set[str] = set()
        self.usage: set[str] = set()
        self.columns: dict[str, set[str]] = {}
        self.ignore: set[str] = set()
        self.rls: RlsTable | None = None
        self.rls_attached: dict[str, set[str]] = {}  # grantee -> policy names
        self.masks: dict[str, dict[Mark, tuple[int, tuple[str, ...], str]]] = {}  # grantee -> attachment -> ...
        self.grantees: Counter[str] = Counter({PUBLIC: 1})
        self._signature: frozenset[AccessObject] | None = None
        self.profiles: dict[str, tuple[Any, ...]] = {}  # grantee -> what it holds here (cached until it changes)
        self.table_wide = 0  # counts changes that concern every grantee (RLS on or off, a policy's definition)

    def change(self, mark: Mark, item: AccessObject, *, add: bool) -> None:
        key = mark[1]
        self._signature = None
        grantee_of = _grantee_of(mark)
        if grantee_of is None:
            self.table_wide += 1
            self.profiles.pop(PUBLIC, None)
        else:
            self.profiles.pop(grantee_of, None)
        if add:
            self.members[mark] = item
        else:
            self.members.pop(mark, None)
        grantee: str | None = None
        if isinstance(item, TablePrivilege) and item.privilege == "SELECT":
            grantee = key[3]
            (self.select.add if add else self.select.discard)(grantee)
        elif isinstance(item, ScopedTablePrivilege) and item.privilege == "SELECT":
            grantee = key[2]
            (self.scoped.add if add else self.scoped.discard)(grantee)
        elif isinstance(item, SchemaPrivilege) and item.privilege == "USAGE":
            grantee = key[2]
            (self.usage.add if add else self.usage.discard)(grantee)
        elif isinstance(item, ColumnPrivilege) and item.privilege == "SELECT":
            grantee = key[4]
            self._in(self.columns, grantee, key[2], add)
        elif isinstance(item, SystemPrivilege) and item.privilege == "IGNORE RLS":
            grantee = key[1]
            (self.ignore.add if add else self.ignore.discard)(grantee)
        elif isinstance(item, RlsTable):
            self.rls = item if add else None
        elif isinstance(item, RlsAttachment):
            grantee = key[3]
            self._in(self.rls_attached, grantee, key[0], add)
        elif isinstance(item, MaskingAttachment):
            grantee = key[4]
            masks = self.masks.setdefault(grantee, {})
            if add:
                masks[mark] = (item.priority, tuple(key[3].split(",")), key[0])
            else:
                masks.pop(mark, None)
                if not masks:
                    del self.masks[grantee]
        if grantee is not None:
            self.grantees[grantee] += 1 if add else -1
            if self.grantees[grantee] <= 0:
                del self.grantees[grantee]

    @staticmethod
    def _in(index: dict[str, set[str]], grantee: str, value: str, add: bool) -> None:
        if add:
            index.setdefault(grantee, set()).add(value)
        else:
            index.get(grantee, set()).discard(value)
            if not index.get(grantee, True):
                del index[grantee]

    def _policy(self, kind: str, name: str) -> tuple[str, str]:
        return (name, _definition(self.policies.get((kind, (name,)))))

    def used_policies(self) -> list[AccessObject]:
        names = {(RlsPolicy.KIND, n) for ns in self.rls_attached.values() for n in ns}
        names |= {(MaskingPolicy.KIND, m[2]) for ms in self.masks.values() for m in ms.values()}
        return [self.policies[(kind, (n,))] for kind, n in sorted(names) if (kind, (n,)) in self.policies]

    @property
    def signature(self) -> frozenset[AccessObject]:
        """The table's objects and its policies: what the preview's evaluator takes, and what caches its views."""
        if self._signature is None:
            self._signature = frozenset([*self.members.values(), *self.used_policies()])
        return self._signature

    @property
    def unknown_text(self) -> list[str]:
        return sorted(p.name for p in self.used_policies() if isinstance(p, RlsPolicy | MaskingPolicy) and not p.using)

    def restricted(self, roles: frozenset[str]) -> frozenset[str]:
        """The roles of a principal that matter here: what it sees depends on them alone."""
        return frozenset(r for r in roles if r in self.grantees)

    def profile(self, role: str) -> tuple[Any, ...]:
        """What `role` holds here: two roles with one profile are interchangeable in any principal's view."""
        found = self.profiles.get(role)
        if found is None:
            found = self.profiles[role] = (
                role in self.select, role in self.scoped, role in self.usage, frozenset(self.columns.get(role, ())),
                role in self.ignore, frozenset(self.rls_attached.get(role, ())),
                frozenset(self.masks.get(role, {}).values()), role == PUBLIC)
        return found

    def view_key(self, roles: frozenset[str]) -> tuple[Any, ...]:
        """What decides the view of a principal holding `roles` (restricted): equal keys, equal views."""
        return (id(self), self.table_wide, frozenset(self.profile(r) for r in roles))

    def may_read(self, roles: frozenset[str]) -> bool:
        if not (self.table[0] == PUBLIC or roles & self.usage):
            return False
        return bool(roles & self.select or roles & self.scoped or any(r in self.columns for r in roles))

    def view(self, roles: frozenset[str]) -> _Restrictions | None:
        whole = bool(roles & self.select) or bool(roles & self.scoped)
        columns = set().union(*(self.columns.get(r, set()) for r in roles))
        if not (self.table[0] == PUBLIC or roles & self.usage) or not (whole or columns):
            return None
        rows: Any = "all"
        if self.rls is not None and not roles & self.ignore:
            applied = frozenset(self._policy(RlsPolicy.KIND, n) for r in roles for n in self.rls_attached.get(r, ()))
            rows = (self.rls.conjunction.upper(), applied) if applied else "none"
        winners: dict[str, tuple[int, str]] = {}
        for role in roles:
            for priority, masked, name in self.masks.get(role, {}).values():
                for column in masked:
                    if column not in winners or winners[column][0] < priority:
                        winners[column] = (priority, name)
        return _Restrictions(None if whole else frozenset(columns), rows, tuple(sorted(
            (c, self._policy(MaskingPolicy.KIND, name)) for c, (_, name) in winners.items())))

    def restrictions(self) -> dict[str, Mark]:
        """The table's restrictions, each as a phrase, with the object that holds it: RLS on (with AND, the
        stronger conjunction), and every RLS and masking attachment with its policy's definition (and priority)."""
        found: dict[str, Mark] = {}
        if self.rls is not None:
            mark = (RlsTable.KIND, self.table)
            found["row-level security"] = mark
            if self.rls.conjunction.upper() == "AND":
                found["its conjunction type AND"] = mark
        for grantee, names in self.rls_attached.items():
            for name in names:
                definition = self._policy(RlsPolicy.KIND, name)[1]
                found[f"RLS policy {name} for {grantee} ({definition or 'definition unknown'})"] = (
                    RlsAttachment.KIND, (name, *self.table, grantee))
        for grantee, masks in self.masks.items():
            for attachment, (priority, _, name) in masks.items():
                definition = self._policy(MaskingPolicy.KIND, name)[1]
                found[f"masking policy {name} for {grantee} ({definition or 'definition unknown'}, priority "
                      f"{priority})"] = attachment
        return found


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


def _column_within(view: _Restrictions, column: str, other: _Restrictions | None) -> bool:
    if other is None:
        return False
    if other.columns is not None and (view.columns is None or column not in other.columns):
        return False
    return _rows_within(view.rows, other.rows) and dict(view.masks).get(column) == dict(other.masks).get(column)


def _widened(view: _Restrictions | None, before: _Restrictions | None, after: _Restrictions | None) -> str:
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


# ------------------------------------------------------------------------------------------- the states


class _World:
    """One state, kept up to date delta by delta, with each table's rules changed object by object (a plan of 600
    batches changes a few tables per batch)."""

    def __init__(self, state: AccessState, tables: Iterable[Table]) -> None:
        self.cs = state.case_sensitive
        self.objects: dict[Mark, AccessObject] = {}
        self.policies: dict[Mark, AccessObject] = {}
        self.by_schema: dict[str, set[Table]] = {}
        for table in tables:
            self.by_schema.setdefault(table[0], set()).add(table)
        self.all_tables = {t for ts in self.by_schema.values() for t in ts}
        self.tables = {t: _TableRules(t, self.policies) for t in self.all_tables}
        self.attached: dict[Mark, Counter[Table]] = {}  # (policy kind, (name,)) -> tables it is attached to
        self.granted: dict[str, set[str]] = {}
        self.apply((), state, False)

    def _tables_of(self, mark: Mark) -> set[Table]:
        kind, key = mark
        if kind in (TablePrivilege.KIND, ColumnPrivilege.KIND, RlsTable.KIND):
            return {(key[0], key[1])} & self.all_tables
        if kind in (RlsAttachment.KIND, MaskingAttachment.KIND):
            return {(key[1], key[2])} & self.all_tables
        if kind in (ScopedTablePrivilege.KIND, SchemaPrivilege.KIND):
            return set(self.by_schema.get(key[0], ()))
        if kind == SystemPrivilege.KIND and key[0] == "IGNORE RLS":
            return set(self.all_tables)
        if kind in (RlsPolicy.KIND, MaskingPolicy.KIND):
            return set(self.attached.get(mark, ()))
        return set()

    def _index(self, mark: Mark, item: AccessObject, *, add: bool) -> set[Table]:
        kind, key = mark
        if kind == RoleGrant.KIND:
            (self.granted.setdefault(key[1], set()).add if add else self.granted.get(key[1], set()).discard)(key[0])
            return set()
        if kind in (RlsPolicy.KIND, MaskingPolicy.KIND):
            if add:
                self.policies[mark] = item
            else:
                self.policies.pop(mark, None)
            return self._tables_of(mark)
        if kind in (RlsAttachment.KIND, MaskingAttachment.KIND):
            policy = (RlsPolicy.KIND if kind == RlsAttachment.KIND else MaskingPolicy.KIND, (key[0],))
            tables = self.attached.setdefault(policy, Counter())
            tables[(key[1], key[2])] += 1 if add else -1
            if tables[(key[1], key[2])] <= 0:
                del tables[(key[1], key[2])]
        touched = self._tables_of(mark)
        for table in touched:
            self.tables[table].change(mark, item, add=add)
        return touched

    def apply(self, removes: Iterable[AccessObject], adds: Iterable[AccessObject], cs: bool,
              ) -> tuple[dict[Table, set[str] | None], bool]:
        """Apply a delta; returns the tables whose rules changed, each with the grantees whose view of it may have
        changed (None: anyone's), and whether any role grant changed."""
        touched: dict[Table, set[str] | None] = {}
        roles = False
        for items, add in ((removes, False), (adds, True)):
            for item in items:
                mark = (item.KIND, item.key(cs))
                roles = roles or item.KIND == RoleGrant.KIND
                if add:
                    if mark in self.objects:
                        self._index(mark, self.objects[mark], add=False)
                    self.objects[mark] = item
                elif self.objects.pop(mark, None) is None:
                    continue
                grantee = _grantee_of(mark)
                for table in self._index(mark, item, add=add):
                    found = touched.setdefault(table, set())
                    if found is not None:
                        if grantee is None:
                            touched[table] = None
                        else:
                            found.add(grantee)
        return touched, roles

    def table_rules(self, table: Table) -> _TableRules:
        return self.tables[table]

    def effective(self, principal: Principal) -> frozenset[str]:
        return _effective(self.granted, principal.direct)


def _grantee_of(mark: Mark) -> str | None:
    """The one grantee whose view a change of this object may change; None: anyone's (RLS on or off, a policy's
    text, anything of PUBLIC's)."""
    kind, key = mark
    at = {TablePrivilege.KIND: 3, ColumnPrivilege.KIND: 4, ScopedTablePrivilege.KIND: 2, SchemaPrivilege.KIND: 2,
          SystemPrivilege.KIND: 1, RlsAttachment.KIND: 3, MaskingAttachment.KIND: 4}.get(kind)
    if at is None or key[at] == PUBLIC:
        return None
    return key[at]


def _deltas_of_states(states: Sequence[AccessState]) -> list[tuple[list[AccessObject], list[AccessObject]]]:
    deltas = []
    for before, after in itertools.pairwise(states):
        removes, adds = [], []
        for kind in set(before.objects) | set(after.objects):
            old, new = before.of_kind(kind), after.of_kind(kind)
            removes += [item for key, item in old.items() if new.get(key) != item]
            adds += [item for key, item in new.items() if old.get(key) != item]
        deltas.append((removes, adds))
    return deltas


def _tables_named(items: Iterable[AccessObject], cs: bool) -> set[Table]:
    return {table for item in items for table in [table_of(item, item.key(cs))] if table is not None}


# ------------------------------------------------------------------------------------------- the check


class _Cells:
    """What a principal sees of a declared table, as cells, by the preview's evaluator; cached by what decides
    them (the table's rules, the roles that matter there, the user)."""

    def __init__(self, inputs: PreviewInputs) -> None:
        self.inputs = inputs
        self.samples = _Samples(inputs)
        self.cache: dict[tuple[Any, ...], frozenset[Cell]] = {}

    def cells(self, rules: _TableRules, name: str, roles: frozenset[str], user: str, cs: bool) -> frozenset[Cell]:
        key = (name, rules.signature, roles, user)
        found = self.cache.get(key)
        if found is None:
            evaluator = _Evaluator(self.inputs, _Rules(AccessState.of(rules.signature, cs)), self.samples)
            view = evaluator.view(Persona(user, (), user, tuple(sorted(roles))), name)
            found = frozenset() if view.access != "ok" else frozenset(
                (row_id, column, json.dumps(value, default=str, sort_keys=True))
                for row_id, row in zip(view.row_ids, view.rows, strict=True) for column, value in row.items())
            self.cache[key] = found
        return found


def _describe_cells(extra: frozenset[Cell]) -> str:
    rows = sorted({row for row, _, _ in extra})
    first = sorted(extra)[:3]
    shown = ", ".join(f"{column}={json.loads(value)!r}" for _, column, value in first)
    return f"{len(extra)} cell(s) of {len(rows)} sample row(s) it sees neither before nor after ({shown}, ...)"


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
        named = _tables_named(before, self.cs)
        for removes, adds in deltas:
            for item in removes:
                after.discard(item)
            for item in adds:
                after.add(item)
            named |= _tables_named(adds, self.cs)
        self.deltas = deltas
        self.people = principals(inputs, [before, after])
        self.verdict = TransitionVerdict(len(deltas), len(self.people))
        self.cells: _Cells | None = None
        self.declared: dict[Table, str] = {}
        if inputs is not None:
            try:
                self.cells = _Cells(inputs)
            except PreviewError as error:
                self.verdict.unchecked.append(f"the model's sample rows ({error})")
            else:
                self.declared = {(fold(s, self.cs), fold(t, self.cs)): name for name in inputs.tables
                                 for s, t in [split_table(name)]}
        self.tables = named | set(self.declared)
        self.before = _World(before, self.tables)
        self.after = _World(after, self.tables)
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
        world = _World(self.start, self.tables)
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

    def _judge(self, boundary: int, table: Table, rules: _TableRules, people: Sequence[Principal],
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
                what = self.widened[verdict_key] = _widened(rules.view(now), first.view(old), final.view(new))
            if not what:
                continue  # surely within before or after, whatever the rows
            if self.cells is not None and table in self.declared:
                what = self._cells_widened(name, principal, (rules, now), (first, old), (final, new))
            if what:
                self.seen.add((principal.name, name))
                self.verdict.widenings.append(Widening(boundary, principal.name, name, what))

    def _cells_widened(self, name: str, principal: Principal, *views: tuple[_TableRules, frozenset[str]]) -> str:
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
        return _describe_cells(extra) if extra else ""

    def _kept(self, boundary: int, table: Table, rules: _TableRules) -> None:
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
    return _Checker(inputs, states[0], _deltas_of_states(states)).run()


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

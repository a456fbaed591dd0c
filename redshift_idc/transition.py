"""The transition check: a plan replayed batch by batch, and at every boundary what each principal sees compared
with what it saw before the deploy and what it sees after it.

The rule (README, "Safety guarantees"): after every committed batch, for every role, PUBLIC, every persona of the
model and every pair of roles that share an RLS-protected table, what it sees of each table (each row, column and
shown value, with RLS and masking applied) is contained in what it saw before the deploy or what it sees after it.
A first deploy's "before" is nothing, so restrictions must be in force before the grants that expose a table.

Two judges, both over the same replayed states:

- Tables the model declares are evaluated on the model's sample rows by the preview's evaluator (DuckDB): the
  cells a principal sees at a boundary must each be a cell it saw before or sees after, value included. It knows
  the conjunction type, IGNORE RLS, masking priorities and PUBLIC exactly as the preview does.
- Tables the model does not declare have no columns or rows here: they are treated as readable by anyone the
  catalog grants them to, and judged by their restrictions. A principal that may read one at a boundary must be
  at least as restricted as before, or as after: the same rows or fewer (RLS on, its policies by name and text,
  combined by the conjunction type), each column shown with the same masking policy. So a prune that turns their
  RLS off while PUBLIC keeps SELECT is caught, since the model declares nothing there to make it legitimate.

What it cannot see: grants to users (the catalog read covers roles and PUBLIC), table owners and superusers, and
anything a `sql/` script does that the model's declared tables and sample rows do not show.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redshift_idc.access_model import split_table
from redshift_idc.preview import (
    PUBLIC,
    Persona,
    PreviewError,
    PreviewInputs,
    _Evaluator,
    _Rules,
    _Samples,
)
from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
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
from redshift_idc.runtime.ledger import LedgerTables, Step, steps
from redshift_idc.runtime.planner import Plan, Statement, is_system_role
from redshift_idc.runtime.sql_text import fold

MAX_SHOWN = 5  # widenings listed in full; the rest are counted

Table = tuple[str, str]  # (schema, table), folded
Cell = tuple[int, str, str]  # (sample row id, column, shown value as JSON)


# ------------------------------------------------------------------------------------------- replay


def replay(state: AccessState, statements: Iterable[Statement]) -> AccessState:
    """`state` after `statements` commit: each removes, then adds, what its effects say."""
    result = AccessState.of(state, state.case_sensitive)
    for statement in statements:
        for item in statement.removes:
            result.discard(item)
        for item in statement.adds:
            result.add(item)
    return result


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


def plan_states(before: AccessState, planned: Plan, model: str, ledger_schema: str,
                max_statements: int | None = None) -> tuple[list[AccessState], list[Step]]:
    """The state before the plan and after each Data API step of it, and the steps."""
    cut = (steps(planned, model, LedgerTables(ledger_schema)) if max_statements is None else
           steps(planned, model, LedgerTables(ledger_schema), max_statements))
    states = [before]
    for step in cut:
        states.append(replay(states[-1], step.statements) if step.statements else states[-1])
    return states, cut


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
    """Who is checked: the roles it holds directly (its effective roles follow each state's role grants)."""

    name: str
    direct: tuple[str, ...]
    user: str


def principals(inputs: PreviewInputs | None, states: Sequence[AccessState]) -> list[Principal]:
    """Every role of any state, PUBLIC, every persona, and every pair of roles attached to one RLS table."""
    cs = states[0].case_sensitive
    roles: set[str] = set()
    for state in states:
        roles |= {key[0] for key in state.of_kind(Role.KIND) if not is_system_role(key[0])}
    found = [Principal("PUBLIC", (), "principal:public")]
    found += [Principal(f"role {r}", (r,), f"principal:{r}") for r in sorted(roles)]
    if inputs is not None:
        found += [Principal(f"persona {name}", tuple(fold(f"{inputs.identity_namespace}:{g}", cs) for g in groups),
                            fold(f"{inputs.identity_namespace}:{name}", cs)) for name, groups in inputs.personas]
    shared: dict[Table, set[str]] = {}
    rls_tables = {key for state in states for key in state.of_kind(RlsTable.KIND)}
    for state in states:
        for key, item in state.of_kind(RlsAttachment.KIND).items():
            assert isinstance(item, RlsAttachment)
            if (key[1], key[2]) in rls_tables and item.grantee != PUBLIC_GRANTEE:
                shared.setdefault((key[1], key[2]), set()).add(key[3])
    pairs = sorted({(a, b) for grantees in shared.values() for a in grantees for b in grantees if a < b})
    found += [Principal(f"roles {a} and {b}", (a, b), f"principal:{a}+{b}") for a, b in pairs]
    return found


def _effective(state: AccessState, direct: Iterable[str]) -> frozenset[str]:
    """Folded: the direct roles, the roles granted to them (transitively, in `state`), and PUBLIC."""
    granted: dict[str, set[str]] = {}
    for key in state.of_kind(RoleGrant.KIND):
        granted.setdefault(key[1], set()).add(key[0])
    held = set(direct)
    todo = list(held)
    while todo:
        for role in granted.get(todo.pop(), ()):
            if role not in held:
                held.add(role)
                todo.append(role)
    return frozenset({*held, PUBLIC})


# ------------------------------------------------------------------------------------------- declared tables


class _Cells:
    """What a principal sees of a declared table, as cells, by the preview's evaluator; views are cached by
    what decides them (the table's rules in that state, the principal's roles and user)."""

    def __init__(self, inputs: PreviewInputs) -> None:
        self.inputs = inputs
        self.samples = _Samples(inputs)
        self.cs = inputs.case_sensitive
        self.cache: dict[tuple[Any, ...], frozenset[Cell]] = {}
        self.tables = {tuple(fold(p, self.cs) for p in split_table(t)): t for t in inputs.tables}

    def cells(self, state: AccessState, signature: frozenset[AccessObject], table: str, roles: frozenset[str],
              user: str) -> frozenset[Cell]:
        key = (table, signature, roles, user)
        found = self.cache.get(key)
        if found is None:
            evaluator = _Evaluator(self.inputs, _Rules(AccessState.of(signature, state.case_sensitive)), self.samples)
            view = evaluator.view(Persona(user, (), user, tuple(sorted(roles))), table)
            found = frozenset() if view.access != "ok" else frozenset(
                (row_id, column, json.dumps(value, default=str, sort_keys=True))
                for row_id, row in zip(view.row_ids, view.rows, strict=True) for column, value in row.items())
            self.cache[key] = found
        return found


def _signature(state: AccessState, table: Table) -> frozenset[AccessObject]:
    """Everything in `state` that decides what anyone sees of `table` (role grants aside: the principal's
    effective roles are part of the cache key): its grants, its schema's, IGNORE RLS, its RLS and masking with the
    policies' definitions."""
    schema = table[0]
    found: list[AccessObject] = []
    for key, item in state.of_kind(TablePrivilege.KIND).items():
        if key[:2] == table:
            found.append(item)
    for key, item in state.of_kind(ColumnPrivilege.KIND).items():
        if key[:2] == table:
            found.append(item)
    for kind in (ScopedTablePrivilege.KIND, SchemaPrivilege.KIND):
        found += [item for key, item in state.of_kind(kind).items() if key[0] == schema]
    found += [i for i in state.of_kind(SystemPrivilege.KIND).values() if isinstance(i, SystemPrivilege)
              and i.privilege == "IGNORE RLS"]
    rls = state.get(RlsTable.KIND, table)
    if rls is not None:
        found.append(rls)
    for kind, policy_kind in ((RlsAttachment.KIND, RlsPolicy.KIND), (MaskingAttachment.KIND, MaskingPolicy.KIND)):
        for key, item in state.of_kind(kind).items():
            if (key[1], key[2]) == table:
                found.append(item)
                policy = state.get(policy_kind, (key[0],))
                if policy is not None:
                    found.append(policy)
    return frozenset(found)


# ------------------------------------------------------------------------------------------- undeclared tables


@dataclass(frozen=True)
class _Restrictions:
    """What a principal may read of an undeclared table, by its restrictions: `columns` None = every column;
    `rows` 'all', 'none', or (conjunction, policies); masks: column -> the winning policy (name, definition)."""

    columns: frozenset[str] | None
    rows: Any
    masks: tuple[tuple[str, tuple[str, str]], ...]


def _restrictions(state: AccessState, table: Table, roles: frozenset[str]) -> _Restrictions | None:
    schema, _ = table
    whole = any(key[:2] == table and key[2] == "SELECT" and key[3] in roles
                for key in state.of_kind(TablePrivilege.KIND)) or any(
        key[0] == schema and key[1] == "SELECT" and key[2] in roles for key in state.of_kind(ScopedTablePrivilege.KIND))
    columns = frozenset(key[2] for key in state.of_kind(ColumnPrivilege.KIND)
                        if key[:2] == table and key[3] == "SELECT" and key[4] in roles)
    usage = schema == PUBLIC or any(key[0] == schema and key[1] == "USAGE" and key[2] in roles
                                    for key in state.of_kind(SchemaPrivilege.KIND))
    if not usage or not (whole or columns):
        return None
    rls = state.get(RlsTable.KIND, table)
    ignore = any(key[0] == "IGNORE RLS" and key[1] in roles for key in state.of_kind(SystemPrivilege.KIND))
    rows: Any = "all"
    if isinstance(rls, RlsTable) and not ignore:
        applied = frozenset((key[0], _definition(state.get(RlsPolicy.KIND, (key[0],))))
                            for key in state.of_kind(RlsAttachment.KIND)
                            if (key[1], key[2]) == table and key[3] in roles)
        rows = (rls.conjunction.upper(), applied) if applied else "none"
    winners: dict[str, tuple[int, tuple[str, str]]] = {}
    for key, item in state.of_kind(MaskingAttachment.KIND).items():
        assert isinstance(item, MaskingAttachment)
        if (key[1], key[2]) != table or key[4] not in roles:
            continue
        policy = (key[0], _definition(state.get(MaskingPolicy.KIND, (key[0],))))
        for column in key[3].split(","):
            if column not in winners or winners[column][0] < item.priority:
                winners[column] = (item.priority, policy)
    return _Restrictions(None if whole else columns, rows,
                         tuple(sorted((c, p) for c, (_, p) in winners.items())))


def _definition(policy: AccessObject | None) -> str:
    if isinstance(policy, RlsPolicy | MaskingPolicy):
        return json.dumps([list(map(list, policy.columns)), policy.using])
    return ""


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
    if other is None or (other.columns is not None and column not in other.columns and view.columns is not None):
        return False
    if other.columns is not None and view.columns is None:
        return False
    return _rows_within(view.rows, other.rows) and dict(view.masks).get(column) == dict(other.masks).get(column)


def _widened(view: _Restrictions | None, before: _Restrictions | None, after: _Restrictions | None) -> str:
    """'' when every column `view` shows is shown as restricted (or more) before or after, else what is not."""
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


# ------------------------------------------------------------------------------------------- the check


def check_states(inputs: PreviewInputs | None, states: Sequence[AccessState]) -> TransitionVerdict:
    """The rule over a sequence of states: `states[0]` before the deploy, `states[-1]` after it, every other one
    a batch boundary in between (the last is judged too: on tables the model does not declare, the deploy may
    only narrow)."""
    people = principals(inputs, states)
    verdict = TransitionVerdict(len(states) - 1, len(people))
    cs = states[0].case_sensitive
    declared: dict[Table, str] = {}
    cells: _Cells | None = None
    if inputs is not None:
        try:
            cells = _Cells(inputs)
        except PreviewError as error:
            verdict.unchecked.append(f"the model's sample rows ({error})")
        else:
            declared = {(fold(s, cs), fold(t, cs)): name for name in inputs.tables
                        for s, t in [split_table(name)]}
    tables: set[Table] = set(declared)
    for state in states:
        tables |= _tables_named(state)
    seen: set[tuple[str, str]] = set()
    for table in sorted(tables):
        if table in declared:
            assert cells is not None
            _check_declared(verdict, cells, states, people, table, declared[table], seen)
        else:
            _check_undeclared(verdict, states, people, table, seen)
    verdict.widenings.sort(key=lambda w: (w.boundary, w.table, w.principal))
    return verdict


def _tables_named(state: AccessState) -> set[Table]:
    found: set[Table] = set()
    for kind in (TablePrivilege.KIND, ColumnPrivilege.KIND, RlsTable.KIND):
        found |= {(key[0], key[1]) for key in state.of_kind(kind)}
    for kind in (RlsAttachment.KIND, MaskingAttachment.KIND):
        found |= {(key[1], key[2]) for key in state.of_kind(kind)}
    return found


def _check_declared(verdict: TransitionVerdict, cells: _Cells, states: Sequence[AccessState],
                    people: Sequence[Principal], table: Table, name: str, seen: set[tuple[str, str]]) -> None:
    signatures = [_signature(state, table) for state in states]
    unknown = sorted({p.name for sig in signatures for p in sig if isinstance(p, RlsPolicy | MaskingPolicy)
                      and not p.using})
    if unknown:
        verdict.unchecked.append(f"{name} (the text of {', '.join(unknown)} is not known)")
        return
    try:
        for principal in people:
            views = [cells.cells(state, signature, name, _effective(state, principal.direct), principal.user)
                     for state, signature in zip(states, signatures, strict=True)]
            allowed = views[0] | views[-1]
            for boundary, view in enumerate(views[1:-1], start=1):
                extra = view - allowed
                if extra and (principal.name, name) not in seen:
                    seen.add((principal.name, name))
                    verdict.widenings.append(Widening(boundary, principal.name, name, _describe_cells(extra)))
    except PreviewError as error:
        verdict.unchecked.append(f"{name} ({error})")


def _describe_cells(extra: frozenset[Cell]) -> str:
    rows = sorted({row for row, _, _ in extra})
    first = sorted(extra)[:3]
    shown = ", ".join(f"{column}={json.loads(value)!r}" for _, column, value in first)
    return f"{len(extra)} cell(s) of {len(rows)} sample row(s) it sees neither before nor after ({shown}, ...)"


def _check_undeclared(verdict: TransitionVerdict, states: Sequence[AccessState], people: Sequence[Principal],
                      table: Table, seen: set[tuple[str, str]]) -> None:
    """Between batches, each principal as restricted as before or after; and at every boundary, the last one
    included, every restriction the table had before still in place: the model declares none of them, so no deploy
    may lift or weaken one (its grants, scoped ones included, may still open or close the table)."""
    name = f"{table[0]}.{table[1]} (not declared by the model)"
    for principal in people:
        views = [_restrictions(state, table, _effective(state, principal.direct)) for state in states]
        for boundary, view in enumerate(views[1:-1], start=1):
            what = _widened(view, views[0], views[-1])
            if what and (principal.name, name) not in seen:
                seen.add((principal.name, name))
                verdict.widenings.append(Widening(boundary, principal.name, name, what))
                break
    kept = _table_restrictions(states[0], table)
    for boundary, state in enumerate(states[1:], start=1):
        lifted = kept - _table_restrictions(state, table)
        if lifted and ("anyone", name) not in seen:
            seen.add(("anyone", name))
            verdict.widenings.append(Widening(boundary, "anyone the catalog lets read it", name,
                                              f"it without {sorted(lifted)[0]}, a restriction the model does not "
                                              "declare"))
            break


def _table_restrictions(state: AccessState, table: Table) -> frozenset[str]:
    """A table's restrictions, each as a phrase: RLS on (with AND, the stronger conjunction), and every RLS and
    masking attachment with its policy's definition."""
    found: set[str] = set()
    rls = state.get(RlsTable.KIND, table)
    if isinstance(rls, RlsTable):
        found.add("row-level security")
        if rls.conjunction.upper() == "AND":
            found.add("its conjunction type AND")
    for kind, policy_kind, what in ((RlsAttachment.KIND, RlsPolicy.KIND, "RLS policy"),
                                    (MaskingAttachment.KIND, MaskingPolicy.KIND, "masking policy")):
        for key, item in state.of_kind(kind).items():
            if (key[1], key[2]) == table:
                definition = _definition(state.get(policy_kind, (key[0],)))
                found.add(f"{what} {key[0]} for {getattr(item, 'grantee', '?')} "
                          f"({definition or 'definition unknown'}{_priority(item)})")
    return frozenset(found)


def _priority(item: AccessObject) -> str:
    return f", priority {item.priority}" if isinstance(item, MaskingAttachment) else ""


def check_plan(inputs: PreviewInputs | None, before: AccessState, planned: Plan, model: str,
               ledger_schema: str, max_statements: int | None = None) -> TransitionVerdict:
    """Replay `planned` from `before` batch by batch (as `ledger.steps` cuts it) and check every boundary."""
    states, _ = plan_states(before, planned, model, ledger_schema, max_statements)
    return check_states(inputs, states)

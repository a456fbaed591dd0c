"""Fewer, larger statements: where Redshift's grammar takes lists, one statement covers many objects.

`GRANT privilege [, ...] ON [TABLE] t [, ...] TO ROLE "a", ROLE "b" [, ...]` and its REVOKE twin, the same for
schemas and databases, `GRANT ROLE "r" [, ...] TO ROLE "g" [, ...]` and `REVOKE ROLE ... FROM ROLE ...` (r_GRANT,
r_REVOKE; REDSHIFT_REFERENCE.md 3.2, 3.3), `ATTACH RLS POLICY p ON t [, ...] TO ROLE "a" [, ...]` and DETACH
(r_ATTACH_RLS_POLICY, r_DETACH_RLS_POLICY; 3.6), `ALTER DEFAULT PRIVILEGES FOR USER "u" [IN SCHEMA "s"] GRANT
privilege [, ...] ON TABLES TO ROLE "a" [, ...]` and its REVOKE twin (r_ALTER_DEFAULT_PRIVILEGES; 3.5): there one
statement is a box privileges x grantees of one creator, one schema and one object type (the grammar also takes
lists of users and schemas, but their product could grant what the model does not ask). Everything else stays one
statement per object: CREATE/DROP ROLE, masking ATTACH/DETACH (one grantee each, 3.7), `ALTER TABLE ... ROW LEVEL
SECURITY`, policy DDL, scoped `FOR TABLES IN SCHEMA` grants, column and system privileges, lookup grants.

Why it is safe:
- A coalesced statement covers exactly a box of privileges x objects x grantees that the plan needs, every cell of
  it a statement the plan already holds: never a grant the model does not ask for, never a GRANT ROLE to a
  grantee that is already a member (the planner only plans missing ones, and an existing member is an error).
- Only statements of one phase, one restriction group (or none), one note and one action on one kind are merged,
  and only within a run of consecutive statements: the order `phases.py` gives still holds between runs, a group's
  statements stay in it and no statement spans two groups. Within such a run the statements are independent
  (distinct objects, one verb), so their order does not matter.
- A statement's ledger rows are the union of its parts' and commit with it (`ledger.steps`); its `adds` and
  `removes` list every covered object, so the transition check replays it exactly.
- Each statement stays under `COALESCED_STATEMENT_BYTES`, well below the Data API's 100 KB statement limit, so that
  several fit one batch with their ledger rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from redshift_idc.runtime.access_state import AccessObject
from redshift_idc.runtime.planning.object_sql import LISTABLE, coalesced_sql, list_parts
from redshift_idc.runtime.planning.plan_types import Statement

T = TypeVar("T")
COALESCED_STATEMENT_BYTES = 16_384  # a sixth of the Data API's 100 KB: several fit one batch with their ledger rows


@dataclass(frozen=True)
class Cell:
    """One object of a coalescible statement, as its parts: what every statement of a box shares (`fixed`: the
    RLS policy; a default privilege's creator, schema and object type), the privilege (empty for kinds without
    one), the object (empty for a default privilege) and the grantee."""

    fixed: tuple[str, ...]
    privilege: str
    target: tuple[str, ...]
    grantee: str


def cell_of(item: AccessObject) -> Cell:
    return Cell(*list_parts(item))


def _single(statement: Statement) -> tuple[str, AccessObject] | None:
    """('add' | 'remove', the object) of a statement that may be merged, else None: one object of a coalescible
    kind, in a transaction, with no secrets. Every such statement the planner writes is that object's
    `create_sql`/`remove_sql` (`PlanState.emit`, the lockdown), which is `coalesced_sql` of one object."""
    if not statement.transactional or statement.secrets or len(statement.adds) + len(statement.removes) != 1:
        return None
    action, item = ("add", statement.adds[0]) if statement.adds else ("remove", statement.removes[0])
    return (action, item) if isinstance(item, LISTABLE) else None


def coalesce(statements: Sequence[Statement], limit: int = COALESCED_STATEMENT_BYTES) -> list[Statement]:
    """`statements` (in plan order) with every run of mergeable statements replaced by as few statements as
    exact boxes allow, each under `limit` bytes; the rest unchanged, in place."""
    result: list[Statement] = []
    run: list[Statement] = []
    run_key: tuple[object, ...] | None = None
    for statement in statements:
        single = _single(statement)
        key = (statement.phase, statement.group, single[0], single[1].KIND) if single else None
        if key is None or key != run_key:
            result += _merged(run, limit)
            run = []
        run_key = key
        if key is None:
            result.append(statement)
        else:
            run.append(statement)
    result += _merged(run, limit)
    return result


def _merged(run: list[Statement], limit: int) -> list[Statement]:
    if len(run) < 2:
        return run
    by_note: dict[tuple[str, tuple[str, ...]], dict[Cell, Statement]] = {}
    for statement in run:
        cell = cell_of((statement.adds or statement.removes)[0])
        by_note.setdefault((statement.note, cell.fixed), {})[cell] = statement
    merged: list[Statement] = []
    for (_, fixed), by_cell in by_note.items():
        merged += _boxes(by_cell, fixed, limit)
    return sorted(merged, key=lambda s: s.sort_key)


def _boxes(by_cell: dict[Cell, Statement], fixed: tuple[str, ...], limit: int) -> list[Statement]:
    """The statements of `by_cell` as boxes privileges x targets x grantees (each grantee's set of (privilege,
    target) cells, grantees with the same set together, then targets with the same privileges together; or the
    same the other way round, whichever gives fewer), then split to stay under `limit`."""
    first = next(iter(by_cell.values()))
    action = "add" if first.adds else "remove"
    sample = (first.adds or first.removes)[0]
    cells = sorted(by_cell, key=lambda c: (c.privilege, c.target, c.grantee))
    boxes = min(_by_grantee(cells), _by_target(cells), key=len)
    result: list[Statement] = []
    for privileges, targets, grantees in boxes:
        for part_targets, part_grantees in _split(privileges, targets, grantees, fixed, action, sample, limit):
            covered = [by_cell[Cell(fixed, p, t, g)] for t in part_targets for p in privileges for g in part_grantees]
            result.append(_statement(covered, privileges, part_targets, part_grantees, action))
    return result


Box = tuple[tuple[str, ...], tuple[tuple[str, ...], ...], tuple[str, ...]]  # privileges, targets, grantees


def _by_grantee(cells: list[Cell]) -> list[Box]:
    of_grantee: dict[str, set[tuple[str, tuple[str, ...]]]] = {}
    for c in cells:
        of_grantee.setdefault(c.grantee, set()).add((c.privilege, c.target))
    together: dict[frozenset[tuple[str, tuple[str, ...]]], list[str]] = {}
    for grantee, held in of_grantee.items():
        together.setdefault(frozenset(held), []).append(grantee)
    boxes: list[Box] = []
    for cells_held, grantees in together.items():
        for privileges, targets in _privilege_blocks(cells_held):
            boxes.append((privileges, targets, tuple(sorted(grantees))))
    return sorted(boxes)


def _by_target(cells: list[Cell]) -> list[Box]:
    of_target: dict[tuple[str, tuple[str, ...]], set[str]] = {}
    for c in cells:
        of_target.setdefault((c.privilege, c.target), set()).add(c.grantee)
    together: dict[frozenset[str], set[tuple[str, tuple[str, ...]]]] = {}
    for pair, grantees in of_target.items():
        together.setdefault(frozenset(grantees), set()).add(pair)
    boxes: list[Box] = []
    for sharing, pairs in together.items():
        for privileges, targets in _privilege_blocks(pairs):
            boxes.append((privileges, targets, tuple(sorted(sharing))))
    return sorted(boxes)


def _privilege_blocks(held: frozenset[tuple[str, tuple[str, ...]]] | set[tuple[str, tuple[str, ...]]],
                      ) -> list[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]]:
    """(privileges, targets) blocks that cover `held` exactly: targets holding the same privileges together."""
    of_target: dict[tuple[str, ...], set[str]] = {}
    for privilege, target in held:
        of_target.setdefault(target, set()).add(privilege)
    together: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for target, privileges in of_target.items():
        together.setdefault(tuple(sorted(privileges)), []).append(target)
    return sorted((privileges, tuple(sorted(targets))) for privileges, targets in together.items())


def _split(privileges: tuple[str, ...], targets: tuple[tuple[str, ...], ...], grantees: tuple[str, ...],
           fixed: tuple[str, ...], action: str, sample: AccessObject, limit: int,
           ) -> list[tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]]:
    """(targets, grantees) parts of one box whose statements each stay under `limit` bytes: the targets in parts
    of at most half the room, then the grantees in chunks that fit beside each part."""
    def size(part_targets: Sequence[tuple[str, ...]], part_grantees: Sequence[str]) -> int:
        return len(coalesced_sql(sample, action, privileges, part_targets, part_grantees, fixed).encode("utf-8"))

    if size(targets, grantees) <= limit:
        return [(targets, grantees)]
    one = size(targets[:1], grantees[:1])

    # What one more target or grantee adds (its text and the ", " before it). A lone target is in `one` already
    # (and a default privilege's statement takes no second one).
    def target_cost(target: tuple[str, ...]) -> int:
        return size((targets[0], target), grantees[:1]) - one if len(targets) > 1 else 0

    def grantee_cost(grantee: str) -> int:
        return size(targets[:1], (grantees[0], grantee)) - one

    room = limit - one
    result = []
    for part in _chunks(targets, target_cost, room // 2):
        left = room - sum(target_cost(t) for t in part)
        result += [(part, chunk) for chunk in _chunks(grantees, grantee_cost, left)]
    return result


def _chunks(items: Sequence[T], cost: Callable[[T], int], room: int) -> list[tuple[T, ...]]:
    """Consecutive chunks whose summed cost stays within `room` (each chunk holds at least one item)."""
    chunks: list[tuple[T, ...]] = []
    current: list[T] = []
    used = 0
    for item in items:
        weight = cost(item)
        if current and used + weight > room:
            chunks.append(tuple(current))
            current, used = [], 0
        current.append(item)
        used += weight
    if current:
        chunks.append(tuple(current))
    return chunks


def _statement(covered: list[Statement], privileges: tuple[str, ...], targets: tuple[tuple[str, ...], ...],
               grantees: tuple[str, ...], action: str) -> Statement:
    if len(covered) == 1:
        return covered[0]
    first = min(covered, key=lambda s: s.sort_key)
    item = (first.adds or first.removes)[0]
    return dataclasses.replace(
        first,
        sql=coalesced_sql(item, action, privileges, targets, grantees, cell_of(item).fixed),
        ledger_add=tuple(e for s in covered for e in s.ledger_add),
        ledger_remove=tuple(e for s in covered for e in s.ledger_remove),
        adds=tuple(o for s in covered for o in s.adds),
        removes=tuple(o for s in covered for o in s.removes),
    )

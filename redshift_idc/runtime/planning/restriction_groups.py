"""Restriction changes (phase RESTRICTION_PHASE) grouped per set of tables they link, so each table goes from its
old restrictions to its new ones at once: a group commits in one transaction, or, when it is larger than one
transaction holds, applies while its tables are locked down (SELECT revoked from everyone before, granted again
after). What links a statement to tables is `links.Links`."""

from __future__ import annotations

import dataclasses

from redshift_idc.runtime.access_state import (
    ColumnPrivilege,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsLookupGrant,
    RlsPolicy,
    RlsTable,
    RoleGrant,
    ScopedTablePrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.ledger import MAX_BATCH_STATEMENTS, MAX_STATEMENT_BYTES, RESERVED_STATEMENTS, statement_cost
from redshift_idc.runtime.planning.coalesce import coalesce
from redshift_idc.runtime.planning.object_sql import create_sql, remove_sql
from redshift_idc.runtime.planning.phases import LOCKDOWN_PHASE, RESTORE_PHASE, RESTRICTION_PHASE
from redshift_idc.runtime.planning.plan_types import Statement
from redshift_idc.runtime.planning.scope import is_system_role, table_of
from redshift_idc.runtime.planning.state import PlanState

# Statements of one restriction group in an order Redshift accepts inside one transaction (and across batches,
# for a locked-down group): detach before drop, drop before create, create before attach, a masking policy
# detached from a column before another takes its priority.
_GROUP_STEP: dict[tuple[str, str], int] = {
    ("remove", RoleGrant.KIND): 0, ("remove", MaskingAttachment.KIND): 1, ("remove", RlsTable.KIND): 2,
    ("remove", RlsAttachment.KIND): 3, ("remove", RlsLookupGrant.KIND): 4, ("remove", RlsPolicy.KIND): 5,
    ("remove", MaskingPolicy.KIND): 6, ("add", RlsPolicy.KIND): 7, ("add", MaskingPolicy.KIND): 8,
    ("add", RlsLookupGrant.KIND): 9, ("alter", RlsPolicy.KIND): 10, ("alter", MaskingPolicy.KIND): 11,
    ("add", RlsAttachment.KIND): 12, ("alter", RlsTable.KIND): 13, ("add", RlsTable.KIND): 13,
    ("add", MaskingAttachment.KIND): 14, ("add", RoleGrant.KIND): 15,
}
# A restriction group holds at most this many statements, so that with its ledger rows (one DELETE, one INSERT)
# and the reconciler's own statements it fits one Data API batch (`ledger.steps` checks it).
# The reconciler's own statements in every batch (the fence's guard and the progress) are the ledger's
# RESERVED_STATEMENTS: one number, read from where the batches are cut.
LEDGER_STATEMENTS_PER_BATCH = 2
DEFAULT_GROUP_LIMIT = MAX_BATCH_STATEMENTS - RESERVED_STATEMENTS - LEDGER_STATEMENTS_PER_BATCH
# And at most this many bytes, its ledger rows included (`ledger.statement_cost`, priced with the longest model name
# the ledger holds): statements for many objects fill a batch's bytes long before its count.
GROUP_BYTES_LIMIT = MAX_STATEMENT_BYTES * 3 // 4
_LONGEST_MODEL = "m" * 256


def statement_action(statement: Statement) -> str:
    """'add', 'remove' or 'alter' (both: ALTER ... USING, a new conjunction type), from its effects."""
    if statement.adds and statement.removes:
        return "alter"
    return "add" if statement.adds else "remove"


def group_restrictions(state: PlanState) -> None:
    """Put the restriction statements (phase RESTRICTION_PHASE) into groups, one per set of tables they
    link, each contiguous and in an order Redshift accepts: one transaction when it holds at most
    `group_limit` statements, else the tables are locked down while it applies across batches."""
    members = [i for i, s in enumerate(state.statements) if s.phase == RESTRICTION_PHASE]
    if not members:
        return
    links = state.links()
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(table: tuple[str, str]) -> tuple[str, str]:
        root = parent.setdefault(table, table)
        while root != parent[root]:
            root = parent[root]
        while parent[table] != root:
            parent[table], table = root, parent[table]
        return root

    tables_of: dict[int, set[tuple[str, str]]] = {}
    for i in members:
        tables = links.tables_of(state.statements[i]) or {links.anchor(state.statements[i])}
        tables_of[i] = tables
        first, *rest = sorted(tables)
        for table in rest:
            parent[find(table)] = find(first)
    groups: dict[tuple[str, str], list[int]] = {}
    for i in members:
        groups.setdefault(find(min(tables_of[i])), []).append(i)
    ordered = sorted(groups.values(), key=lambda g: min(min(tables_of[i]) for i in g))
    _note_unreplaced_masking(state, members)
    for number, group in enumerate(ordered):
        name = f"restrictions-{number}"
        for i in group:
            statement = state.statements[i]
            kind = (statement.adds or statement.removes)[0].KIND
            rank = _GROUP_STEP[(statement_action(statement), kind)]
            state.statements[i] = dataclasses.replace(
                statement, sort_key=(f"{number:06d}", f"{rank:02d}", *statement.sort_key), group=name)
        # The size that counts is what the group sends: its statements once coalesced, when they will be.
        placed = sorted((state.statements[i] for i in group), key=lambda s: s.sort_key)
        sent = coalesce(placed) if state.coalesce else placed
        locked = (len(sent) > state.group_limit
                  or sum(statement_cost(s, _LONGEST_MODEL) for s in sent) > GROUP_BYTES_LIMIT)
        if locked:
            for i in group:
                state.statements[i] = dataclasses.replace(state.statements[i], group="")
            tables = set().union(*(tables_of[i] for i in group))
            _lockdown(state, tables, number, len(group))


def _note_unreplaced_masking(state: PlanState, members: list[int]) -> None:
    """A masking detach that no attach replaces on the same column and grantee lifts the masking."""
    attached = set()
    for i in members:
        for item in state.statements[i].adds:
            if isinstance(item, MaskingAttachment):
                for column in item.output_columns:
                    attached.add((state.fold(item.schema), state.fold(item.table), state.fold(column),
                                  item.grantee))  # role names keep their case
    for i in members:
        statement = state.statements[i]
        if statement.note or statement.adds or not statement.removes:
            continue
        item = statement.removes[0]
        if isinstance(item, MaskingAttachment) and any(
                (state.fold(item.schema), state.fold(item.table), state.fold(c), item.grantee)
                not in attached for c in item.output_columns):
            state.statements[i] = dataclasses.replace(
                statement, note="widens access: the column is no longer masked for this grantee by this policy")


def _lockdown(state: PlanState, tables: set[tuple[str, str]], number: int, size: int) -> None:
    """Revoke SELECT on `tables` from everyone who holds it (table, column and scoped grants, PUBLIC's
    included) before the group applies, and grant it again after: while a restriction change too large for
    one transaction applies, nobody but the tables' owners and superusers can read them."""
    shown = ", ".join(f"{s}.{t}" for s, t in sorted(tables) if s)
    note = (f"lockdown: {shown} unreadable while {size} restriction changes (more than one transaction holds) "
            "apply, then granted again")
    schemas = {s for s, _ in tables}
    for kind in (ScopedTablePrivilege.KIND, TablePrivilege.KIND, ColumnPrivilege.KIND):
        for item in state.current_items(kind):
            key = state.key(item)
            if (kind, key) in state.removed or (kind, key) in state.locked:
                continue
            # A table privilege names one role, its grantee (PUBLIC is none of the system roles).
            if getattr(item, "privilege", "") != "SELECT" or is_system_role(getattr(item, "grantee", "")):
                continue
            if (key[0] in schemas) if kind == ScopedTablePrivilege.KIND else (table_of(item, key) in tables):
                state.locked.add((kind, key))
                state.statements.append(Statement(
                    phase=LOCKDOWN_PHASE, sort_key=(f"{number:06d}", kind, *key), sql=remove_sql(item),
                    removes=(item,), note=note))
                state.statements.append(Statement(
                    phase=RESTORE_PHASE, sort_key=(kind, *key), sql=create_sql(item), adds=(item,),
                    note=f"lockdown of {shown} ends"))

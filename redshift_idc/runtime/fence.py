"""The model's fence row: which CloudFormation request may change the model now, and what it may have in flight.

A Lambda that dies, a request stopped at its deadline while a batch runs, a rollback or a Delete that starts
while an earlier request's batch is still queued: in each, a batch submitted for an earlier request could
commit after a later request has read and planned, and undo what that request reported. The fence row makes
that impossible for every batch, and makes what cannot be fenced findable.

`<ledger schema>.apply_fence` holds one row per model: the *current* request's token and start (epoch ms,
stamped by `on_event`, so every invocation of a request knows it), the sequence number of its last committed
step, and the one statement it may have sent outside a transaction (an intent: that statement's name and the
moment, epoch ms, after which the reconciler no longer sends it).

- Claim: a request that is not the current one takes the row in a small transaction of its own, guarded by
  the row exactly as it read it (request and step: a compare-and-swap), and only from an older request
  (ordered by start, then token). A request that finds a newer one current is superseded: it submits nothing
  more and fails. The claim keeps the earlier request's intent, which the new request resolves first.
- Fence: every transactional batch begins with a guard that fails the whole transaction unless the row still
  names this request and the step it last committed, and ends by moving the step on (`advance_sql`). A batch
  whose request was superseded, or whose place another attempt of its request took, cannot commit: either
  its guard sees the new row and fails, or it read the row before the other transaction committed, and the
  two writes of one row make Redshift's serializable isolation abort one of them (ERROR 1023, "Serializable
  isolation violation": AWS Knowledge Center, redshift-serializable-isolation), which the reconciler retries
  from a fresh read.
- Intents: a statement that cannot run in a transaction (identity providers, databases: `ledger.steps`) cannot
  carry the guard. Before sending one, the reconciler commits (fenced) its name and the last moment it may be
  sent (`intent_sql`); whoever reads the row later waits for that statement, found by name, or when it never
  appeared, until that moment (and `limits.INTENT_GRACE_SECONDS`) has passed.

The guard fails by casting a word to INTEGER, an error in Redshift as in PostgreSQL (r_CAST_function; the
wording of the error is unconfirmed, so the reconciler recognises a refusal by its position, the batch's first
statement, never by its text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.sql_text import quote_literal

REFUSAL = "superseded"  # the word the guard casts to INTEGER when the row is not as expected
COLUMNS = ("request_token", "request_start", "seq", "intent_name", "intent_until")


@dataclass(frozen=True)
class FenceRow:
    """The model's row as a read saw it."""

    token: str
    start_ms: int
    seq: int
    intent: str = ""  # the name of a statement sent (or about to be) outside a transaction; "" when none
    intent_until_ms: int = 0  # the last moment (epoch ms) it may have been sent

    def newer_than(self, start_ms: int, token: str) -> bool:
        """Whether this row's request started after (`start_ms`, `token`): requests are ordered by start, and
        by token when two started in the same millisecond, so two requests never both take precedence."""
        return (self.start_ms, self.token) > (start_ms, token)


def select_sql(tables: LedgerTables, model: str) -> str:
    return (f"SELECT {', '.join(COLUMNS)} FROM {tables.fence} "
            f"WHERE model_name = {quote_literal(model)} ORDER BY request_token")


def parse(rows: Sequence[tuple[Any, ...]]) -> FenceRow | None:
    """The row a read returned (None: the model was never claimed). Claims are compare-and-swaps on one
    row, so there is at most one; should there be more, the newest request's counts."""
    found = [FenceRow(str(token), int(start or 0), int(seq or 0), str(intent or ""), int(until or 0))
             for token, start, seq, intent, until in rows]
    return max(found, key=lambda row: (row.start_ms, row.token)) if found else None


def guard_sql(tables: LedgerTables, model: str, token: str | None, seq: int | None) -> str:
    """The first statement of a fenced batch: fails (and with it the transaction) unless the model's row names
    `token` at step `seq`, or with `token` None, unless the model has no row yet."""
    where = f"model_name = {quote_literal(model)}"
    expected = 0
    if token is not None:
        expected = 1
        where += f" AND request_token = {quote_literal(token)} AND seq = {int(seq or 0)}"
    return (f"SELECT CAST(CASE WHEN COUNT(*) = {expected} THEN '1' ELSE {quote_literal(REFUSAL)} END AS INTEGER) "
            f"FROM {tables.fence} WHERE {where}")


def advance_sql(tables: LedgerTables, model: str, seq: int) -> str:
    """The last statement of a fenced batch: its step committed, and no statement is in flight any more."""
    return (f"UPDATE {tables.fence} SET seq = {int(seq)}, intent_name = '', intent_until = 0 "
            f"WHERE model_name = {quote_literal(model)}")


def intent_sql(tables: LedgerTables, model: str, seq: int, name: str, until_ms: int) -> str:
    """The last statement of an intent batch: statement `name` may be sent alone until `until_ms`."""
    return (f"UPDATE {tables.fence} SET seq = {int(seq)}, intent_name = {quote_literal(name)}, "
            f"intent_until = {int(until_ms)} WHERE model_name = {quote_literal(model)}")


def claim_sql(tables: LedgerTables, model: str, token: str, start_ms: int, *, row_exists: bool) -> str:
    """Make `token` the model's current request, at step 0. The earlier request's intent stays in the row
    until this request has resolved it (its first committed batch clears it)."""
    if row_exists:
        return (f"UPDATE {tables.fence} SET request_token = {quote_literal(token)}, request_start = {int(start_ms)}, "
                f"seq = 0 WHERE model_name = {quote_literal(model)}")
    return (f"INSERT INTO {tables.fence} (model_name, {', '.join(COLUMNS)}) VALUES "
            f"({quote_literal(model)}, {quote_literal(token)}, {int(start_ms)}, 0, '', 0)")

"""The reconciler's own tables in the warehouse, and how a plan is cut into Data API batches.

The ledger (`<schema>.managed_object`) records every object the reconciler created or adopted, with the
fingerprint of its definition. It is what makes "only remove what we manage" possible without the
previous template, also for `plan --live`, and it is written in the same transaction as the DDL it
records: a batch that fails changes neither the warehouse nor the ledger.

`<schema>.applied_script` records the `sql/` scripts applied (name and checksum), each once.

`<schema>.apply_fence` holds one row per model: the CloudFormation request that may change the model now,
the sequence number of its last committed step, and what it may have in flight outside a transaction
(`fence.py`). Every batch begins with a guard on that row and ends by moving its step on, in its own
transaction, so a batch of a request that is no longer the model's current one cannot commit, and a new
is-complete invocation learns from one read where its request stands. Each batch reserves two of its 40
statements for it (`RESERVED_STATEMENTS`). The table it replaces, `<schema>.apply_progress`, is left in
place in warehouses that have it, unused.

Statements that cannot run inside a transaction block (identity providers) are steps of their own, sent
alone with ExecuteStatement: those of the create/alter phase before every batch, drops after every
batch. Their ledger rows cannot share their transaction, so each is followed by a ledger-only batch
(DDL first, then its record). Every gap between the two heals on the next read, because the planner
re-derives from the catalog: a provider created but not recorded is altered to the model and recorded
(idempotent), one altered but not recorded is altered again, one dropped but still recorded is forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redshift_idc.runtime.access_state import LedgerEntry
from redshift_idc.runtime.planner import IDENTITY_PROVIDER_PHASE, SWAP_PHASES, Plan, Statement
from redshift_idc.runtime.sql_text import quote_ident, quote_literal

DEFAULT_LEDGER_SCHEMA = "redshift_idc"
MAX_BATCH_STATEMENTS = 40  # BatchExecuteStatement's limit
MAX_STATEMENT_BYTES = 90_000  # the Data API's limit is 100 KB per statement; keep a margin
ADOPT_ROWS = 200  # ledger rows per INSERT (each row is well under 450 bytes)
PROGRESS_STATEMENTS = 1  # every batch ends with its progress: the fence row's step moved on
FENCE_STATEMENTS = 1  # and begins with the fence's guard (`fence.py`)
RESERVED_STATEMENTS = PROGRESS_STATEMENTS + FENCE_STATEMENTS


@dataclass(frozen=True)
class LedgerTables:
    schema: str = DEFAULT_LEDGER_SCHEMA

    @property
    def objects(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident('managed_object')}"

    @property
    def scripts(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident('applied_script')}"

    @property
    def fence(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident('apply_fence')}"

    def bootstrap_sql(self) -> list[str]:
        """Idempotent: safe at the start of every read batch (no-ops once the tables exist)."""
        return [
            f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema)}",
            f"CREATE TABLE IF NOT EXISTS {self.objects} (model_name VARCHAR(256) NOT NULL, "
            "kind VARCHAR(64) NOT NULL, object_key VARCHAR(4096) NOT NULL, fingerprint VARCHAR(256) NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.scripts} (model_name VARCHAR(256) NOT NULL, "
            "script_name VARCHAR(256) NOT NULL, checksum VARCHAR(64) NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.fence} (model_name VARCHAR(256) NOT NULL, "
            "request_token VARCHAR(64) NOT NULL, request_start BIGINT NOT NULL, seq INTEGER NOT NULL, "
            "intent_name VARCHAR(256) NOT NULL, intent_until BIGINT NOT NULL)",
        ]

    def select_objects_sql(self, model: str) -> str:
        return (f"SELECT kind, object_key, fingerprint FROM {self.objects} "
                f"WHERE model_name = {quote_literal(model)} ORDER BY kind, object_key")

    def select_scripts_sql(self, model: str) -> str:
        return (f"SELECT script_name, checksum FROM {self.scripts} "
                f"WHERE model_name = {quote_literal(model)} ORDER BY script_name")

    def delete_sql(self, model: str, entries: Sequence[LedgerEntry]) -> str:
        if not entries:
            raise ValueError("delete_sql needs at least one ledger entry")
        keys = ", ".join(quote_literal(f"{e.kind} {e.key_text}") for e in entries)
        return (f"DELETE FROM {self.objects} WHERE model_name = {quote_literal(model)} "
                f"AND kind || ' ' || object_key IN ({keys})")

    def insert_sql(self, model: str, entries: Sequence[LedgerEntry]) -> str:
        if not entries:
            raise ValueError("insert_sql needs at least one ledger entry")
        rows = ", ".join(
            f"({quote_literal(model)}, {quote_literal(e.kind)}, {quote_literal(e.key_text)}, "
            f"{quote_literal(e.fingerprint)})"
            for e in entries
        )
        return f"INSERT INTO {self.objects} (model_name, kind, object_key, fingerprint) VALUES {rows}"

    def record_script_sql(self, model: str, name: str, checksum: str) -> str:
        return (f"INSERT INTO {self.scripts} (model_name, script_name, checksum) VALUES "
                f"({quote_literal(model)}, {quote_literal(name)}, {quote_literal(checksum)})")


def _ledger_sql(tables: LedgerTables, model: str, statements: Sequence[Statement],
                extra_add: Sequence[LedgerEntry] = ()) -> list[str]:
    removes = [e for s in statements for e in s.ledger_remove]
    adds = [e for s in statements for e in s.ledger_add] + list(extra_add)
    sql: list[str] = []
    if removes:
        sql.append(tables.delete_sql(model, removes))
    if adds:
        sql.append(tables.insert_sql(model, adds))
    return sql


@dataclass(frozen=True)
class Step:
    """One Data API call of a plan: a batch (one transaction), or with `statement` set, that one
    non-transactional statement alone (`sqls` holds its displayable SQL, secrets masked)."""

    sqls: tuple[str, ...]
    statement: Statement | None = None

    @property
    def transactional(self) -> bool:
        return self.statement is None


def steps(plan: Plan, model: str, tables: LedgerTables | None = None,
          max_statements: int = MAX_BATCH_STATEMENTS, reserved: int = RESERVED_STATEMENTS) -> list[Step]:
    """The plan as Data API calls: non-transactional statements of the first phases alone (each followed
    by a batch with its ledger rows), then the batches (`transactional_batches`), then the remaining
    non-transactional statements (drops) the same way. Each batch leaves `reserved` statements free for
    the caller (the reconciler's fence guard and progress)."""
    tables = tables or LedgerTables()
    alone = [s for s in plan.statements if not s.transactional]

    def single(statement: Statement) -> list[Step]:
        ledger = _ledger_sql(tables, model, [statement])
        return [Step((statement.sql,), statement), *([Step(tuple(ledger))] if ledger else [])]

    result = [step for s in alone if s.phase <= IDENTITY_PROVIDER_PHASE for step in single(s)]
    result += [Step(tuple(batch)) for batch in transactional_batches(plan, model, tables, max_statements, reserved)]
    result += [step for s in alone if s.phase > IDENTITY_PROVIDER_PHASE for step in single(s)]
    return result


def batches(plan: Plan, model: str, tables: LedgerTables | None = None,
            max_statements: int = MAX_BATCH_STATEMENTS, reserved: int = RESERVED_STATEMENTS) -> list[list[str]]:
    """`steps` as lists of SQL (a non-transactional statement is a list of one, masked)."""
    return [list(step.sqls) for step in steps(plan, model, tables, max_statements, reserved)]


def transactional_batches(plan: Plan, model: str, tables: LedgerTables | None = None,
                          max_statements: int = MAX_BATCH_STATEMENTS,
                          reserved: int = RESERVED_STATEMENTS) -> list[list[str]]:
    """Cut the plan's transactional statements into batches of at most `max_statements - reserved`, each
    one transaction that also writes the ledger rows of its own statements (one DELETE if any of them
    removes a row, one INSERT if any adds one); then the ledger-only changes."""
    tables = tables or LedgerTables()
    room = max_statements - reserved
    groups: list[list[Statement]] = []
    current: list[Statement] = []
    size = 0
    removes = adds = False

    def cost_of(statement: Statement) -> int:
        return len(statement.sql.encode("utf-8")) + 200 * (len(statement.ledger_add) + len(statement.ledger_remove))

    def slots(run: Sequence[Statement]) -> int:
        """Statements a group needs with `run` added: its DDL and one ledger statement per direction."""
        with_removes = removes or any(s.ledger_remove for s in run)
        with_adds = adds or any(s.ledger_add for s in run)
        return len(current) + len(run) + int(with_removes) + int(with_adds)

    statements = [s for s in plan.statements if s.transactional]
    for index, statement in enumerate(statements):
        run = [statement]
        if statement.phase in SWAP_PHASES and (index == 0 or statements[index - 1].phase != statement.phase):
            # A policy swap is one unit: it starts a new batch unless it fits whole in this one.
            run = [s for s in statements[index:] if s.phase == statement.phase]
        if current and (slots(run) > room or size + sum(cost_of(s) for s in run) > MAX_STATEMENT_BYTES):
            groups.append(current)
            current, size, removes, adds = [], 0, False, False
        current.append(statement)
        size += cost_of(statement)
        removes = removes or bool(statement.ledger_remove)
        adds = adds or bool(statement.ledger_add)
    if current:
        groups.append(current)
    result = [[s.sql for s in group] + _ledger_sql(tables, model, group) for group in groups]
    # Ledger-only changes (forgotten rows deleted, adopted objects recorded) go after the DDL, in
    # statements cut by row count and by size so none exceeds the Data API's statement limit.
    ledger_only = [tables.delete_sql(model, c) for c in _chunks(plan.forget, lambda e: tables.delete_sql(model, [e]))]
    ledger_only += [tables.insert_sql(model, c) for c in _chunks(plan.adopt, lambda e: tables.insert_sql(model, [e]))]
    for sql in ledger_only:
        if result and len(result[-1]) < room:
            result[-1].append(sql)
        else:
            result.append([sql])
    return result


def _chunks(entries: Sequence[LedgerEntry], render_one: Callable[[LedgerEntry], str]) -> list[list[LedgerEntry]]:
    """Groups of at most ADOPT_ROWS entries whose statement stays under MAX_STATEMENT_BYTES (a statement
    of one entry, header included, is an upper bound of what each entry adds)."""
    chunks: list[list[LedgerEntry]] = []
    size = 0
    for entry in entries:
        row = len(render_one(entry).encode("utf-8"))
        if not chunks or len(chunks[-1]) >= ADOPT_ROWS or size + row > MAX_STATEMENT_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += row
    return chunks

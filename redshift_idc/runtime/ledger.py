"""The reconciler's own tables in the warehouse, and how a plan is cut into Data API batches.

The ledger (`<schema>.managed_object`) records every object the reconciler created or adopted, with the
fingerprint of its definition (a policy's also holds the hash of its catalog text, see
`access_state.recorded_fingerprint`). It is what makes "only remove what we manage" possible without the
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

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redshift_idc.runtime.access_state import LedgerEntry, json_string
from redshift_idc.runtime.planning.phases import IDENTITY_PROVIDER_PHASE
from redshift_idc.runtime.planning.plan_types import Plan, Statement
from redshift_idc.runtime.sql_text import fold, quote_ident, quote_literal

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
        """One row per entry listed; `delete_parts_sql` says the same of rows that form boxes in fewer bytes."""
        if not entries:
            raise ValueError("delete_sql needs at least one ledger entry")
        keys = ", ".join(quote_literal(f"{e.kind} {e.key_text}") for e in entries)
        return f"{self._delete_head(model)}({keys})"

    def insert_sql(self, model: str, entries: Sequence[LedgerEntry]) -> str:
        """One VALUES row per entry; `insert_parts_sql` says the same of rows that form boxes in fewer bytes."""
        if not entries:
            raise ValueError("insert_sql needs at least one ledger entry")
        rows = ", ".join(
            f"({quote_literal(model)}, {quote_literal(e.kind)}, {quote_literal(e.key_text)}, "
            f"{quote_literal(e.fingerprint)})"
            for e in entries
        )
        return f"{self._insert_head()} VALUES {rows}"

    def _insert_head(self) -> str:
        return f"INSERT INTO {self.objects} (model_name, kind, object_key, fingerprint)"

    def _delete_head(self, model: str) -> str:
        return f"DELETE FROM {self.objects} WHERE model_name = {quote_literal(model)} AND kind || ' ' || object_key IN "

    def insert_parts_sql(self, model: str, parts: Sequence[LedgerPart]) -> str:
        """The rows of `parts` (each a box of key prefixes x key ends: `ledger_parts`) in one INSERT ... SELECT, each
        box a cross join of two lists of literals: a coalesced statement's thousands of rows in a few KB."""
        if not parts:
            raise ValueError("insert_parts_sql needs at least one part")
        selects = []
        for part in parts:
            head = f"SELECT {quote_literal(model)}, {quote_literal(part.kind)}, "
            if part.rows == 1:
                selects.append(f"{head}{quote_literal(part.prefixes[0] + part.ends[0])}, "
                               f"{quote_literal(part.fingerprint)}")
            else:
                selects.append(f"{head}o.k || g.k, {quote_literal(part.fingerprint)} FROM {_crossed(part)}")
        return f"{self._insert_head()} {' UNION ALL '.join(selects)}"

    def delete_parts_sql(self, model: str, parts: Sequence[LedgerPart]) -> str:
        """The rows of `parts` deleted, the keys of each box made the way `insert_parts_sql` makes them."""
        if not parts:
            raise ValueError("delete_parts_sql needs at least one part")
        selects = []
        for part in parts:
            if part.rows == 1:
                selects.append(f"SELECT {quote_literal(f'{part.kind} {part.prefixes[0]}{part.ends[0]}')}")
            else:
                selects.append(f"SELECT {quote_literal(part.kind + ' ')} || o.k || g.k FROM {_crossed(part)}")
        return f"{self._delete_head(model)}({' UNION ALL '.join(selects)})"

    def record_script_sql(self, model: str, name: str, checksum: str) -> str:
        return (f"INSERT INTO {self.scripts} (model_name, script_name, checksum) VALUES "
                f"({quote_literal(model)}, {quote_literal(name)}, {quote_literal(checksum)})")

    # -- one owner per object: the other models of the database, and ledgers kept in other schemas

    def select_other_objects_sql(self, model: str) -> str:
        """Every other model's rows (no fingerprint: only who owns what matters to this model)."""
        return (f"SELECT model_name, kind, object_key FROM {self.objects} "
                f"WHERE model_name <> {quote_literal(model)} ORDER BY model_name, kind, object_key")

    def other_schemas_sql(self) -> str:
        """Schemas other than this one holding a ledger table (a `managed_object` with a `model_name`
        column): models keeping their ledger there could not see this one's objects, nor it theirs.
        `svv_columns` is a documented AWS view that REDSHIFT_REFERENCE.md does not cover (unconfirmed)."""
        return ("SELECT DISTINCT table_schema FROM svv_columns WHERE table_name = 'managed_object' "
                f"AND column_name = 'model_name' AND table_schema <> {quote_literal(fold(self.schema))} "
                "ORDER BY table_schema")

    def select_models_sql(self) -> str:
        """The models whose rows this ledger holds (read for ledger tables `other_schemas_sql` found)."""
        return f"SELECT DISTINCT model_name FROM {self.objects} ORDER BY model_name"


@dataclass(frozen=True)
class LedgerPart:
    """Ledger rows of one kind and fingerprint whose keys are every prefix followed by every end: `prefixes` hold
    the JSON text of a key up to its last component (`["sales","t1","SELECT",`), `ends` the rest (`"AWSIDC:a"]`)."""

    kind: str
    fingerprint: str
    prefixes: tuple[str, ...]
    ends: tuple[str, ...]

    @property
    def rows(self) -> int:
        return len(self.prefixes) * len(self.ends)


def _split_key(entry: LedgerEntry) -> tuple[str, str]:
    """(the key's JSON text up to its last component, the rest): `key_text` ends with the last component's JSON
    and `]`, the component before it with a comma (one component: the prefix is `[`)."""
    text = entry.key_text
    end = json_string(entry.key[-1]) + "]"
    if not text.endswith(end):
        raise ValueError(f"ledger key {text!r} does not end with {end!r}")
    return text[:-len(end)], end


@functools.lru_cache(maxsize=256)  # a batch's statements are costed, then rendered: each statement's rows twice
def ledger_parts(entries: tuple[LedgerEntry, ...]) -> tuple[LedgerPart, ...]:
    """`entries` as boxes covering them exactly: per kind and fingerprint, the prefixes that share the same set of
    ends together (a coalesced statement's rows are one box; so are many roles' rows)."""
    ends_of: dict[tuple[str, str], dict[str, set[str]]] = {}
    for entry in entries:
        prefix, end = _split_key(entry)
        ends_of.setdefault((entry.kind, entry.fingerprint), {}).setdefault(prefix, set()).add(end)
    parts = []
    for (kind, fingerprint), prefixes in ends_of.items():
        together: dict[frozenset[str], list[str]] = {}
        for prefix, ends in prefixes.items():
            together.setdefault(frozenset(ends), []).append(prefix)
        parts += [LedgerPart(kind, fingerprint, tuple(sorted(ps)), tuple(sorted(ends)))
                  for ends, ps in together.items()]
    return tuple(sorted(parts, key=lambda p: (p.kind, p.fingerprint, p.prefixes, p.ends)))


def _crossed(part: LedgerPart) -> str:
    """A box's FROM clause: its prefixes (`o.k`) crossed with its ends (`g.k`)."""
    return f"{_listed(part.prefixes, 'o')} CROSS JOIN {_listed(part.ends, 'g')}"


def _listed(values: Sequence[str], alias: str) -> str:
    rest = "".join(f" UNION ALL SELECT {quote_literal(v)}" for v in values[1:])
    return f"(SELECT {quote_literal(values[0])} AS k{rest}) AS {alias}"


def _ledger_sql(tables: LedgerTables, model: str, statements: Sequence[Statement],
                extra_add: Sequence[LedgerEntry] = ()) -> list[str]:
    """One DELETE and one INSERT at most: a row per entry while every entry stands alone, else each statement's
    rows as boxes (`ledger_parts`): what `statement_cost` charged each."""
    sql: list[str] = []
    removes = [s.ledger_remove for s in statements if s.ledger_remove]
    adds = [s.ledger_add for s in statements if s.ledger_add] + ([tuple(extra_add)] if extra_add else [])
    if removes:
        sql.append(_rendered(removes, lambda entries: tables.delete_sql(model, entries),
                             lambda parts: tables.delete_parts_sql(model, parts)))
    if adds:
        sql.append(_rendered(adds, lambda entries: tables.insert_sql(model, entries),
                             lambda parts: tables.insert_parts_sql(model, parts)))
    return sql


def _rendered(by_statement: Sequence[Sequence[LedgerEntry]], rows: Callable[[Sequence[LedgerEntry]], str],
              boxes: Callable[[Sequence[LedgerPart]], str]) -> str:
    if all(len(entries) == 1 for entries in by_statement):
        return rows([entry for entries in by_statement for entry in entries])
    return boxes([part for entries in by_statement for part in ledger_parts(entries)])


@dataclass(frozen=True)
class Step:
    """One Data API call of a plan: a batch (one transaction), or with `statement` set, that one
    non-transactional statement alone (`sqls` holds its displayable SQL, secrets masked). `statements`: the
    plan's statements the step applies (what the transition check replays; none for a ledger-only batch)."""

    sqls: tuple[str, ...]
    statement: Statement | None = None
    statements: tuple[Statement, ...] = ()

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
        return [Step((statement.sql,), statement, (statement,)), *([Step(tuple(ledger))] if ledger else [])]

    result = [step for s in alone if s.phase <= IDENTITY_PROVIDER_PHASE for step in single(s)]
    groups = statement_batches(plan, max_statements, reserved, model)
    sqls = _batch_sql(plan, model, tables, groups, max_statements - reserved)
    result += [Step(tuple(batch), None, tuple(groups[i]) if i < len(groups) else ()) for i, batch in enumerate(sqls)]
    result += [step for s in alone if s.phase > IDENTITY_PROVIDER_PHASE for step in single(s)]
    return result


def batches(plan: Plan, model: str, tables: LedgerTables | None = None,
            max_statements: int = MAX_BATCH_STATEMENTS, reserved: int = RESERVED_STATEMENTS) -> list[list[str]]:
    """`steps` as lists of SQL (a non-transactional statement is a list of one, masked)."""
    return [list(step.sqls) for step in steps(plan, model, tables, max_statements, reserved)]


def statement_cost(statement: Statement, model: str) -> int:
    """What a statement adds to its batch: its SQL and its ledger rows as INSERT boxes (`ledger_parts`). That bounds
    what `_ledger_sql` writes for it: boxes of this statement's own rows, or a row each only when every statement's
    rows stand alone (shorter than a box of one row); a DELETE's boxes are shorter than the INSERT's."""
    size = len(statement.sql.encode("utf-8"))
    tables = LedgerTables()
    head = len(tables._insert_head()) + 1
    for entries in (statement.ledger_add, statement.ledger_remove):
        if entries:
            boxes = len(tables.insert_parts_sql(model, ledger_parts(entries)).encode("utf-8")) - head
            size += boxes + len(" UNION ALL ")
    return size


def _units(statements: Sequence[Statement]) -> list[list[Statement]]:
    """Consecutive statements of one group (`Statement.group`) as one unit; every other statement alone."""
    units: list[list[Statement]] = []
    for statement in statements:
        if statement.group and units and units[-1][0].group == statement.group:
            units[-1].append(statement)
        else:
            units.append([statement])
    return units


def statement_batches(plan: Plan, max_statements: int = MAX_BATCH_STATEMENTS,
                      reserved: int = RESERVED_STATEMENTS, model: str = "model") -> list[list[Statement]]:
    """The plan's transactional statements cut into batches of at most `max_statements - reserved`
    statements, their ledger statements (one DELETE if any of them removes a row, one INSERT if any adds one)
    included, and of at most MAX_STATEMENT_BYTES. A group (statements that must commit together: a
    restriction group, see planning/restriction_groups.py) is never split: it starts a new batch unless it fits
    whole in this one, and one that fits no batch is an error (the planner locks such a change down instead)."""
    room = max_statements - reserved
    result: list[list[Statement]] = []
    current: list[Statement] = []
    size = 0
    removes = adds = False
    for unit in _units([s for s in plan.statements if s.transactional]):
        unit_removes = removes or any(s.ledger_remove for s in unit)
        unit_adds = adds or any(s.ledger_add for s in unit)
        needed = len(current) + len(unit) + int(unit_removes) + int(unit_adds)
        unit_size = sum(statement_cost(s, model) for s in unit)
        if current and (needed > room or size + unit_size > MAX_STATEMENT_BYTES):
            result.append(current)
            current, size, removes, adds = [], 0, False, False
        alone = len(unit) + int(any(s.ledger_remove for s in unit)) + int(any(s.ledger_add for s in unit))
        if alone > room or unit_size > MAX_STATEMENT_BYTES:
            raise ValueError(f"a group of {len(unit)} statements ({unit_size:,} bytes with its ledger rows) that must "
                             f"commit together does not fit a batch of {room} statements and {MAX_STATEMENT_BYTES:,} "
                             f"bytes ({unit[0].sql[:80]}...): plan with a group_limit of at most {room - 2}")
        current += unit
        size += unit_size
        removes = removes or any(s.ledger_remove for s in unit)
        adds = adds or any(s.ledger_add for s in unit)
    if current:
        result.append(current)
    return result


def transactional_batches(plan: Plan, model: str, tables: LedgerTables | None = None,
                          max_statements: int = MAX_BATCH_STATEMENTS,
                          reserved: int = RESERVED_STATEMENTS) -> list[list[str]]:
    """`statement_batches` as SQL, each batch with the ledger rows of its own statements; then the
    ledger-only changes."""
    tables = tables or LedgerTables()
    return _batch_sql(plan, model, tables, statement_batches(plan, max_statements, reserved, model),
                      max_statements - reserved)


def _batch_sql(plan: Plan, model: str, tables: LedgerTables, groups: Sequence[Sequence[Statement]],
               room: int) -> list[list[str]]:
    result = [[s.sql for s in group] + _ledger_sql(tables, model, group) for group in groups]
    # Ledger-only changes (forgotten rows deleted, adopted objects recorded, rows recorded again) go after the
    # DDL, in statements cut by row count and by size so none exceeds the Data API's statement limit.
    for group in _ledger_only(plan, model, tables):
        if result and len(result[-1]) + len(group) <= room:
            result[-1].extend(group)
        else:
            result.append(list(group))
    return result


def _ledger_only(plan: Plan, model: str, tables: LedgerTables) -> list[list[str]]:
    """The plan's ledger-only statements, in groups that share one transaction: a row recorded again is its
    DELETE and INSERT together (split, a failure between them would leave a managed policy unrecorded)."""
    groups = [[tables.delete_sql(model, c)] for c in _chunks(plan.forget, lambda e: tables.delete_sql(model, [e]))]
    groups += [[tables.insert_sql(model, c)] for c in _chunks(plan.adopt, lambda e: tables.insert_sql(model, [e]))]
    groups += [[tables.delete_sql(model, c), tables.insert_sql(model, c)]
               for c in _chunks(plan.record, lambda e: tables.insert_sql(model, [e]))]
    return groups


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

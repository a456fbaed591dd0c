"""The read's rows as every reader takes them, whichever version wrote them (a snapshot file may be older than the
code reading it): the lists of policies and identity providers, which the read takes from their definition queries;
the database the read was connected to; and the policy rows of that database only (the policy views span databases).

Standard library only, like the rest of `runtime/`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Row = tuple[Any, ...]


# SVV_RLS_POLICY and SVV_MASKING_POLICY list the policies of every database, each with the database it was created in
# (`poldb`, `policy_database`: r_SVV_RLS_POLICY, r_SVV_MASKING_POLICY; netcheck-de's rls_policy_sql.go and
# masking_policy_sql.go always filter on them). The policy queries read that column last, and the batch reads
# `current_database()` (the reader's row, `catalog.WHOAMI_QUERY`, last cell; in snapshots written before, a query
# of its own: CURRENT_DATABASE_QUERY); `current_database_rows` drops the other databases' rows and the column, so
# the decoders and the stored-text hash see the rows they always saw. A snapshot of an earlier version has neither
# the column nor the database: its rows are kept as they are (nothing tells the databases apart).
CURRENT_DATABASE_QUERY = ("current_database", "SELECT current_database()")
WHOAMI_DATABASE_CELL = 3  # current_database() in the reader's row (user, superuser, secadmin count, database)
# Query -> the cells before its database column (the policy name first). `catalog.read_queries` has the first two.
POLICY_DATABASE_COLUMN: dict[str, int] = {"rls_policies": 1, "masking_policies": 1,
                                          "rls_policy_definitions": 4, "masking_policy_definitions": 3}


# The lists of policies and identity providers come from the definition queries' rows: one query per view instead
# of two (every query that returns rows costs the read a GetStatementResult). List query -> (definition query,
# the cells of its rows the list holds). A snapshot of an earlier version also holds the list queries: taken as
# they are.
LISTS_IN_DEFINITIONS: dict[str, tuple[str, tuple[int, ...]]] = {
    "rls_policies": ("rls_policy_definitions", (0, 4)),  # polname, poldb
    "masking_policies": ("masking_policy_definitions", (0, 3)),  # policy_name, policy_database
    "identity_providers": ("identity_provider_definitions", (0, 1, 2, 4)),  # name, type, namespc, enabled
}


def with_lists(rows: Mapping[str, Sequence[Row]]) -> dict[str, Sequence[Row]]:
    """`rows` with the lists of policies and providers (`LISTS_IN_DEFINITIONS`) taken from the definition rows
    where the read did not send the list query. A definition row of an earlier version without its database cell
    gives a list row without it, which counts as the current database's (`split_by_database`)."""
    found: dict[str, Sequence[Row]] = dict(rows)
    for listed, (query, cells) in LISTS_IN_DEFINITIONS.items():
        if listed not in rows and query in rows:
            found[listed] = [tuple(row[i] for i in cells if i < len(row)) for row in rows[query]]
    return found


def current_database(rows: Mapping[str, Sequence[Row]]) -> str | None:
    """The database the batch read (the reader's row, or `CURRENT_DATABASE_QUERY` in snapshots written before);
    None when it was not read (an older snapshot)."""
    whoami = [tuple(row) for row in rows.get("whoami", ())]
    if whoami and len(whoami[0]) > WHOAMI_DATABASE_CELL:
        cell = whoami[0][WHOAMI_DATABASE_CELL]
    else:
        found = list(rows.get(CURRENT_DATABASE_QUERY[0], ()))
        cell = found[0][0] if found and found[0] else None
    return str(cell).strip() if cell is not None else None


def split_by_database(rows: Mapping[str, Sequence[Row]]) -> tuple[dict[str, list[Row]], dict[str, list[Row]]]:
    """The policy queries' rows of the current database, without their database cell, and the other databases'
    rows (with it), by query. A row without the cell (older snapshot) counts as the current database's."""
    here = current_database(rows)  # both names come from the catalog: compared as stored
    mine: dict[str, list[Row]] = {}
    others: dict[str, list[Row]] = {}
    for query, width in POLICY_DATABASE_COLUMN.items():
        for row in rows.get(query, ()):
            row = tuple(row)
            if len(row) <= width:
                mine.setdefault(query, []).append(row)
            elif here is None or row[width] is None or str(row[width]).strip() == here:
                mine.setdefault(query, []).append(row[:width])
            else:
                others.setdefault(query, []).append(row)
    return mine, others


def current_database_rows(rows: Mapping[str, Sequence[Row]]) -> dict[str, Sequence[Row]]:
    """`rows` with the policy queries' rows of the current database only, in their width without the database
    column: what the decoders, `stored_texts` and the catalog reader read."""
    mine, _ = split_by_database(rows)
    return {**rows, **{query: mine.get(query, []) for query in POLICY_DATABASE_COLUMN if query in rows}}

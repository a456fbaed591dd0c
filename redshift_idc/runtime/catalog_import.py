"""Policy and identity provider definitions as the catalog shows them (so `import` can write them into a
model, and `plan --snapshot` and the deploy can adopt an object the ledger does not know yet), whether the
ledger table exists, and the columns of the tables the catalog's grants and policies name.

The reconciler compares the model's definitions of objects in its ledger with the fingerprint it recorded,
never with Redshift's rewritten text; the catalog's definitions decide whether an object the ledger does not
know equals the model's (REDSHIFT_REFERENCE.md sections 2.10, 2.13, 2.15). The catalog's policy text is also
hashed raw (`stored_texts`, never decoded): the ledger records that hash after our CREATE/ALTER, and a later
read whose hash differs is a hand edit. `catalog.read_queries` includes `definition_queries()`:

- `svv_rls_policy`: `polalias`, `polatts` (JSON, `[{"colname":"c","type":"character varying(10)"}]`) and
  `polqual`, the USING predicate as Redshift rewrote it, its columns qualified with the alias
  (`"t"."c" LIKE CAST('%x%' AS TEXT)`). The model names WITH columns unqualified, so `strip_alias` takes the
  alias off; everything else stays byte for byte.
- Both policy views list every database's policies (`poldb`, `policy_database`): `current_database_rows`
  keeps the current database's (see CURRENT_DATABASE_QUERY).
- `svv_masking_policy`: `input_columns` (documented as JSON; its shape is unconfirmed, so `attributes` also
  takes `["c type"]` and `(c type, ...)`) and `policy_expression` (the "stored form"; how it differs from
  the text a policy was created with is unconfirmed).
- `svv_identity_providers`: `params` (JSON, the client secret blanked [D15]). The provider's IAM role,
  application ARN and AUTO_CREATE_ROLES are not in the documented columns.

`svv_tables` (the ledger probe) and `svv_columns` (table_schema, table_name, column_name, ordinal_position)
are documented AWS views that REDSHIFT_REFERENCE.md does not cover: unconfirmed on a live workgroup.

The same functions build the model text (`import`) and the catalog's definitions the planner compares it
with (`plan --snapshot`, the deploy), so a model written from a catalog matches that catalog exactly.
Standard library only, like the rest of `runtime/`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redshift_idc.runtime.access_state import AccessState, IdentityProvider, MaskingPolicy, RlsPolicy, stored_digest
from redshift_idc.runtime.sql_text import fold, quote_literal

Row = tuple[Any, ...]
SECRET_PARAMETER_NAMES = frozenset({"client_secret"})  # as access_model.SECRET_PARAMETERS (runtime: no pydantic)
DEFINITION_QUERIES: tuple[tuple[str, str], ...] = (
    ("rls_policy_definitions", "SELECT polname, polalias, polatts, polqual, poldb FROM svv_rls_policy"),
    ("masking_policy_definitions", "SELECT policy_name, input_columns, policy_expression, policy_database "
                                   "FROM svv_masking_policy"),
    ("identity_provider_definitions", "SELECT name, type, namespc, params, enabled FROM svv_identity_providers"),
)


COLUMN_QUERY_BYTES = 60_000  # per statement; the Data API allows 100 KB


def definition_queries() -> list[tuple[str, str]]:
    """(name, SQL): SELECTs only, read in the same batch as `catalog.read_queries(..., bootstrap=False)`."""
    return list(DEFINITION_QUERIES)


# --- policies of other databases -----------------------------------------------------------------------------
# SVV_RLS_POLICY and SVV_MASKING_POLICY list the policies of every database, each with the database it was created in
# (`poldb`, `policy_database`: r_SVV_RLS_POLICY, r_SVV_MASKING_POLICY; netcheck-de's rls_policy_sql.go and
# masking_policy_sql.go always filter on them). The policy queries read that column last, and the batch reads
# `current_database()`; `current_database_rows` drops the other databases' rows and the column, so the decoders
# and the stored-text hash see the rows they always saw. A snapshot of an earlier version has neither the column
# nor the query: its rows are kept as they are (nothing tells the databases apart).
CURRENT_DATABASE_QUERY = ("current_database", "SELECT current_database()")
# Query -> the cells before its database column (the policy name first). `catalog.read_queries` has the first two.
POLICY_DATABASE_COLUMN: dict[str, int] = {"rls_policies": 1, "masking_policies": 1,
                                          "rls_policy_definitions": 4, "masking_policy_definitions": 3}


def current_database(rows: Mapping[str, Sequence[Row]]) -> str | None:
    """The database the batch read (`CURRENT_DATABASE_QUERY`); None when it was not read (an older snapshot)."""
    found = list(rows.get(CURRENT_DATABASE_QUERY[0], ()))
    return str(found[0][0]).strip() if found and found[0] and found[0][0] is not None else None


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


def ledger_table_query(schema: str) -> tuple[str, str]:
    """Whether the ledger table exists: a never-deployed warehouse has none, and reading it would fail."""
    return ("ledger_table", "SELECT COUNT(*) FROM svv_tables WHERE table_schema = "
                            f"{quote_literal(fold(schema))} AND table_name = 'managed_object'")


def column_queries(tables: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """`svv_columns` limited to `tables` (schema, table as stored), in as few statements as fit the Data
    API's statement size; their rows are (schema, table, column, ordinal position)."""
    queries: list[tuple[str, str]] = []
    terms: list[str] = []
    size = 0

    def flush() -> None:
        if terms:
            queries.append((f"columns_{len(queries)}", "SELECT table_schema, table_name, column_name, "
                            "ordinal_position FROM svv_columns WHERE " + " OR ".join(terms)))
            terms.clear()

    for schema, table in tables:
        term = f"(table_schema = {quote_literal(schema)} AND table_name = {quote_literal(table)})"
        if terms and size + len(term.encode("utf-8")) > COLUMN_QUERY_BYTES:
            flush()
            size = 0
        terms.append(term)
        size += len(term.encode("utf-8")) + 4
    flush()
    return queries


def _split_top_level(text: str) -> list[str]:
    """`a varchar(10), b numeric(10,2)` -> the two items: commas inside parentheses do not split."""
    items: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    items.append(text[start:])
    return [item.strip() for item in items if item.strip()]


def _name_and_type(text: str) -> tuple[str, str] | None:
    """`"my col" character varying(10)` or `c integer` -> (name, type)."""
    text = text.strip()
    if text.startswith('"'):
        match = re.match(r'"((?:[^"]|"")+)"\s+(.+)$', text, re.DOTALL)
        return (match[1].replace('""', '"'), match[2].strip()) if match else None
    name, _, type_ = text.partition(" ")
    return (name, type_.strip()) if name and type_.strip() else None


def attributes(value: Any) -> tuple[tuple[str, str], ...] | None:
    """A policy's WITH columns as (name, type) from `polatts` / `input_columns`; None when the value has
    none of the shapes below (the caller reports it: a guess would give a policy other columns).

    Accepted: JSON `[{"colname": "c", "type": "t"}]` (the documented polatts shape; `name`/`column_name` and
    `data_type` also taken), JSON `["c t"]`, and text `(c t, d u)` or `c t, d u`."""
    if value is None:
        return None
    parsed: Any = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            text = value.strip()
            if text.startswith("(") and text.endswith(")"):
                text = text[1:-1]
            pairs = [_name_and_type(item) for item in _split_top_level(text)]
            return tuple(p for p in pairs if p) if pairs and all(pairs) else None
    if not isinstance(parsed, list):
        return None
    result: list[tuple[str, str]] = []
    for item in parsed:
        if isinstance(item, dict):
            name = item.get("colname") or item.get("name") or item.get("column_name")
            type_ = item.get("type") or item.get("data_type")
            if not isinstance(name, str) or not isinstance(type_, str) or not name or not type_.strip():
                return None
            result.append((name, type_.strip()))
        elif isinstance(item, str) and (pair := _name_and_type(item)) is not None:
            result.append(pair)
        else:
            return None
    return tuple(result)


_WORD = re.compile(r"[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_$\u0080-\U0010ffff]*")


def strip_alias(predicate: str, alias: str | None) -> str:
    """`predicate` without the `alias.` Redshift puts before each column (`"t"."c"` -> `"c"`, `t.c` -> `c`).

    String literals (`'...'`, with `''` and backslash escapes, as Redshift reads them) and quoted names other
    than the alias are copied, never searched, so a literal holding `"t".` is kept. Nothing else changes:
    spacing, casts and parentheses stay as Redshift wrote them."""
    if not alias:
        return predicate
    out: list[str] = []
    i, n = 0, len(predicate)
    previous = ""  # the last character copied that is not whitespace
    while i < n:
        char = predicate[i]
        if char == "'":
            end = i + 1
            while end < n:
                if predicate[end] == "\\":
                    end += 2
                    continue
                if predicate[end] == "'":
                    if end + 1 < n and predicate[end + 1] == "'":
                        end += 2
                        continue
                    break
                end += 1
            out.append(predicate[i:end + 1])
            previous, i = "'", end + 1
            continue
        if char == '"':
            end = i + 1
            while end < n:
                if predicate[end] == '"':
                    if end + 1 < n and predicate[end + 1] == '"':
                        end += 2
                        continue
                    break
                end += 1
            name = predicate[i + 1:end].replace('""', '"')
            if name == alias and end + 1 < n and predicate[end + 1] == "." and previous != ".":
                i = end + 2  # the alias and its dot
                continue
            out.append(predicate[i:end + 1])
            previous, i = '"', end + 1
            continue
        word = _WORD.match(predicate, i) if (char.isalpha() or char == "_" or ord(char) > 127) else None
        if word is not None:
            after = word.end()
            if (fold(word.group(0)) == fold(alias) and after < n and predicate[after] == "." and previous != "."
                    and not (i > 0 and (predicate[i - 1].isalnum() or predicate[i - 1] in "_$"))):
                i = after + 1
                continue
            out.append(word.group(0))
            previous, i = word.group(0)[-1], after
            continue
        out.append(char)
        if not char.isspace():
            previous = char
        i += 1
    return "".join(out)


def provider_parameters(value: Any) -> tuple[dict[str, Any] | None, bool]:
    """`params` of SVV_IDENTITY_PROVIDERS as a JSON object without its secrets, and whether it named one.
    None when it is not a JSON object (never echoed: it might hold a secret the view did not blank)."""
    if value is None or value == "":
        return {}, False
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return None, False
    if not isinstance(parsed, dict):
        return None, False
    secret = any(str(k).lower() in SECRET_PARAMETER_NAMES for k in parsed)
    return {str(k): v for k, v in parsed.items() if str(k).lower() not in SECRET_PARAMETER_NAMES}, secret


def canonical_parameters(parameters: Mapping[str, Any]) -> str:
    """The compiled model's form of PARAMETERS (`access_model._Compiler._parameters`): sorted, compact."""
    if not parameters:
        return ""
    return json.dumps(dict(parameters), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    return {"t": True, "true": True, "1": True, "f": False, "false": False, "0": False}.get(text)


def rls_definition(row: Row) -> RlsPolicy | None:
    """A `rls_policy_definitions` row as the model would declare it; None if its WITH columns cannot be read."""
    name, alias, polatts, polqual = row
    columns = attributes(polatts) if polatts not in (None, "", "[]") else ()
    if columns is None or not polqual:
        return None
    return RlsPolicy(str(name), columns, strip_alias(str(polqual), str(alias) if alias else None))


def masking_definition(row: Row) -> MaskingPolicy | None:
    """A `masking_policy_definitions` row as the model would declare it; None if its inputs cannot be read."""
    name, inputs, expression = row
    columns = attributes(inputs)
    if not columns or not expression:
        return None
    return MaskingPolicy(str(name), columns, str(expression))


def provider_definition(row: Row) -> IdentityProvider | None:
    """A provider as far as the catalog shows it: type, namespace, non-secret PARAMETERS (a type that takes
    none, AWSIDC, declares none), enabled. None when `params` is not a JSON object."""
    name, type_, namespace, params, enabled = row
    kind = str(type_ or "").strip().lower()
    parameters, _ = provider_parameters(params)
    if parameters is None:
        return None
    return IdentityProvider(str(name), kind, str(namespace or ""),
                            canonical_parameters(parameters) if kind == "azure" else "", enabled=_flag(enabled))


def definitions(rows: Mapping[str, Sequence[Row]], case_sensitive: bool = False) -> AccessState:
    """The catalog's policies and providers with their definitions (what `planner.plan(definitions=...)`
    compares a model with). Rows that cannot be read are left out: the planner then rebuilds or re-sets
    that object, as it does without definitions."""
    rows = current_database_rows(rows)  # other databases' policies are not this model's (CURRENT_DATABASE_QUERY)
    items: list[RlsPolicy | MaskingPolicy | IdentityProvider | None] = []
    items += [rls_definition(tuple(r)) for r in rows.get("rls_policy_definitions", ())]
    items += [masking_definition(tuple(r)) for r in rows.get("masking_policy_definitions", ())]
    items += [provider_definition(tuple(r)) for r in rows.get("identity_provider_definitions", ())]
    return AccessState.of((i for i in items if i is not None), case_sensitive)


PolicyKey = tuple[str, tuple[str, ...]]  # (kind, key), as the ledger and the states name a policy
# The definition queries of policies and the kind of their rows; a row is (name, *definition cells).
STORED_TEXT_QUERIES: tuple[tuple[str, str], ...] = (
    (RlsPolicy.KIND, "rls_policy_definitions"), (MaskingPolicy.KIND, "masking_policy_definitions"))


@dataclass(frozen=True)
class StoredText:
    """A policy's definition as the catalog stores it, never decoded: `digest` hashes every cell of its row
    (RLS: alias, WITH columns, predicate; masking: input columns, expression), `expression` is the predicate
    or masking expression as stored, for a report to show."""

    expression: str
    digest: str


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def stored_texts(rows: Mapping[str, Sequence[Row]], case_sensitive: bool = False) -> dict[PolicyKey, StoredText]:
    """Each policy's catalog text, keyed like the state's policies: one pass over the definition rows, plain
    Python, whatever the number of policies. Only this database's rows count (`current_database_rows`); rows of
    one name (a snapshot of an earlier version, whose rows name no database) are hashed together,
    sorted, so their order never changes the hash."""
    found: dict[PolicyKey, list[tuple[str | None, ...]]] = {}
    rows = current_database_rows(rows)  # the hash of this database's text, as earlier versions recorded it
    for kind, query in STORED_TEXT_QUERIES:
        for name, *cells in rows.get(query, ()):
            key: PolicyKey = (kind, (fold(str(name), case_sensitive),))
            found.setdefault(key, []).append(tuple(_text(c) for c in cells))
    texts: dict[PolicyKey, StoredText] = {}
    for key, cell_rows in found.items():
        ordered = sorted(cell_rows, key=lambda cells: [c or "" for c in cells])
        expression = "\n".join(cells[-1] or "" for cells in ordered)
        digest = stored_digest(json.dumps(ordered, ensure_ascii=False, separators=(",", ":")))
        texts[key] = StoredText(expression, digest)
    return texts

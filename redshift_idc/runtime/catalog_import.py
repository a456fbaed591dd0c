"""Policy and identity provider definitions as the catalog shows them (so `import` can write them into a
model, and `plan --snapshot` and the deploy can adopt an object the ledger does not know yet), whether the
ledger table exists, and the columns of the tables the catalog's grants and policies name.

The reconciler compares the model's definitions of objects in its ledger with the fingerprint it recorded,
never with Redshift's rewritten text; the catalog's definitions decide whether an object the ledger does not
know equals the model's (REDSHIFT_REFERENCE.md sections 2.10, 2.13, 2.15). The catalog's policy text is also
hashed raw (`stored_texts`, never decoded): the ledger records that hash after our CREATE/ALTER, and a later
read whose hash differs is a hand edit. `catalog.read_queries` includes `definition_queries()`:

- `svv_rls_policy`: `polalias`, `polatts` (JSON, `[{"colname":"c","type":"character varying(10)"}]`) and
  `polqual`, the USING predicate as Redshift rewrote it, its columns qualified with the alias and its literals
  cast (`"t"."c" LIKE CAST('%x%' AS TEXT)`, r_SVV_RLS_POLICY; `rls_table` when none was given, r_SHOW_POLICIES).
- Both policy views list every database's policies (`poldb`, `policy_database`):
  `catalog_rows.current_database_rows` keeps the current database's, in Python, so snapshots without the column read.
- `svv_masking_policy`: `input_columns` (the same JSON as polatts, r_SHOW_POLICIES; `attributes` also takes
  `["c type"]` and `(c type, ...)`) and `policy_expression`, a JSON array with one `{"expr", "type"}` per
  output, each `expr` in the same stored form with the alias `masked_table` (r_SHOW_POLICIES:
  `[{"expr":"SHA2((\\"masked_table\\".\\"credit_card\\" + CAST('testSalt' AS TEXT)), CAST(256 AS INT4))",...}]`;
  netcheck-de/terraform-provider-redshift `masking_policy_sql.go` decodes `expr` the same way).
  `decode_stored_expression` turns both back into the text a model writes: the alias taken off the WITH
  columns (`strip_alias`), the casts Redshift adds to plain literals taken off (`unwrap_literal_casts`);
  everything else (spacing, parentheses Redshift added, casts a person wrote on other types) stays byte for
  byte, so `import` writes it and adoption compares it with the model's text exactly. RLS lookup subqueries
  keep their own names (`decode_stored_predicate`, `stored_lookups.py` says what is assumed).
- `svv_identity_providers`: `params`, a JSON object whose client secret the view blanks, in the documented
  example by leaving the value out (`"client_secret":,`, r_SVV_IDENTITY_PROVIDERS: not JSON, so
  `parse_params` reads that shape), and `instanceid`: for AWSIDC the application ARN, with the IAM role in
  `params.iam_role` (netcheck-de/terraform-provider-redshift `identity_provider_resource.go`, which read them
  on real clusters). AUTO_CREATE_ROLES is not in the documented columns. `params` is never echoed.

`svv_tables` (the ledger probe) and `svv_columns` (table_schema, table_name, column_name, ordinal_position)
are documented AWS views that REDSHIFT_REFERENCE.md does not cover: unconfirmed on a live workgroup.

The same functions build the model text (`import`) and the catalog's definitions the planner compares it
with (`plan --snapshot`, the deploy), so a model written from a catalog matches that catalog exactly.
Standard library only, like the rest of `runtime/`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from redshift_idc.runtime.access_state import AccessState, IdentityProvider, MaskingPolicy, RlsPolicy, stored_digest
from redshift_idc.runtime.catalog_rows import current_database_rows
from redshift_idc.runtime.sql_text import fold, quote_literal
from redshift_idc.runtime.stored_lookups import quoted_end, segments, strip_lookup_qualifiers

Row = tuple[Any, ...]
SECRET_PARAMETER_NAMES = frozenset({"client_secret"})  # as access_model.SECRET_PARAMETERS (runtime: no pydantic)
DEFINITION_QUERIES: tuple[tuple[str, str], ...] = (
    # Both policy views list the policies of every database (r_SVV_RLS_POLICY poldb, r_SVV_MASKING_POLICY
    # policy_database; netcheck-de/terraform-provider-redshift filters on them): read last, filtered in Python
    # (`catalog_rows.current_database_rows`), so rows of snapshots written before they were read still parse.
    ("rls_policy_definitions", "SELECT polname, polalias, polatts, polqual, poldb FROM svv_rls_policy"),
    ("masking_policy_definitions", "SELECT policy_name, input_columns, policy_expression, policy_database "
                                   "FROM svv_masking_policy"),
    # instanceid last, so the rows of snapshots written before it was read (five cells) still parse.
    ("identity_provider_definitions",
     "SELECT name, type, namespc, params, enabled, instanceid FROM svv_identity_providers"),
)
RLS_DEFAULT_ALIAS = "rls_table"  # polalias when CREATE RLS POLICY gave none (r_SHOW_POLICIES; [O12])
MASKING_ALIAS = "masked_table"  # the alias of masking expressions as stored (r_SHOW_POLICIES)


COLUMN_QUERY_BYTES = 60_000  # per statement; the Data API allows 100 KB


def definition_queries() -> list[tuple[str, str]]:
    """(name, SQL): SELECTs only, read in the same batch as `catalog.read_queries(..., bootstrap=False)`."""
    return list(DEFINITION_QUERIES)


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


def _name_at(text: str, i: int) -> str | None:
    """The name (quoted: unquoted; bare: as written) that starts at `i`, if one does."""
    if i < len(text) and text[i] == '"':
        match = re.match(r'"((?:[^"]|"")+)"', text[i:])
        return match[1].replace('""', '"') if match else None
    word = _WORD.match(text, i)
    return word.group(0) if word else None


def strip_alias(predicate: str, alias: str | None, columns: Collection[str] | None = None) -> str:
    """`predicate` without the `alias.` Redshift puts before each column (`"t"."c"` -> `"c"`, `t.c` -> `c`);
    given `columns` (the policy's WITH columns), only before one of them, so a qualified name that is not an
    input stays as it is (and then differs from the model's text: the policy is rebuilt, never misread).

    String literals (`'...'`, with `''` and backslash escapes, as Redshift reads them) and quoted names other
    than the alias are copied, never searched, so a literal holding `"t".` is kept. Nothing else changes:
    spacing, casts and parentheses stay as Redshift wrote them."""
    if not alias:
        return predicate
    wanted = {fold(c) for c in columns} if columns is not None else None

    def qualifies(at: int) -> bool:  # the name after the alias and its dot, at `at`, is a WITH column
        if wanted is None:
            return True
        name = _name_at(predicate, at)
        return name is not None and fold(name) in wanted
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
            if (name == alias and end + 1 < n and predicate[end + 1] == "." and previous != "."
                    and qualifies(end + 2)):
                i = end + 2  # the alias and its dot
                continue
            out.append(predicate[i:end + 1])
            previous, i = '"', end + 1
            continue
        word = _WORD.match(predicate, i) if (char.isalpha() or char == "_" or ord(char) > 127) else None
        if word is not None:
            after = word.end()
            if (fold(word.group(0)) == fold(alias) and after < n and predicate[after] == "." and previous != "."
                    and not (i > 0 and (predicate[i - 1].isalnum() or predicate[i - 1] in "_$"))
                    and qualifies(after + 1)):
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


# Literals Redshift casts when it stores a policy (r_SVV_RLS_POLICY, r_SHOW_POLICIES): a string literal to TEXT,
# an integer literal to INT4. An integer too large for INT4 is taken to be cast to INT8 (PostgreSQL's rule for
# integer literals: assumed, no example shows one). Any other cast is kept: a person may have written it.
_LITERAL_CAST = re.compile(
    r"CAST\s*\(\s*(?:(?P<string>'(?:[^'\\]|''|\\.)*')\s+AS\s+TEXT|(?P<integer>\d+)\s+AS\s+(?P<int_type>INT[48]))"
    r"\s*\)", re.IGNORECASE | re.DOTALL)
_INT4_MAX = 2**31 - 1


def unwrap_literal_casts(expression: str) -> str:
    """`expression` with the casts Redshift adds to plain literals taken off: `CAST('x' AS TEXT)` -> `'x'`,
    `CAST(256 AS INT4)` -> `256` (r_SHOW_POLICIES). Literals and quoted names are copied, never searched;
    a cast to any other type (`CAST('5' AS INT4)`, `CAST(1 AS INT8)`) is kept."""
    out: list[str] = []
    i, n = 0, len(expression)
    while i < n:
        char = expression[i]
        if char in "'\"":
            end = quoted_end(expression, i)
            out.append(expression[i:end])
            i = end
            continue
        starts_word = not (i > 0 and (expression[i - 1].isalnum() or expression[i - 1] in "_$.\""))
        match = _LITERAL_CAST.match(expression, i) if starts_word and char in "cC" else None
        if match is not None and match["string"] is not None:
            out.append(match["string"])
            i = match.end()
            continue
        if match is not None and match["integer"] is not None:
            value = int(match["integer"])
            if (match["int_type"].upper() == "INT4") == (value <= _INT4_MAX):
                out.append(match["integer"])
                i = match.end()
                continue
        word = _WORD.match(expression, i) if (char.isalpha() or char == "_" or ord(char) > 127) else None
        end = word.end() if word is not None else i + 1
        out.append(expression[i:end])
        i = end
    return "".join(out)


def decode_stored_expression(text: str, alias: str | None, columns: Collection[str]) -> str:
    """A policy's expression as Redshift stores it, as the model writes it: the alias taken off the WITH
    columns, the casts of plain literals taken off (module docstring). One decoder for RLS `polqual` and each
    masking `expr`: both are stored the same way (r_SHOW_POLICIES)."""
    return unwrap_literal_casts(strip_alias(text, alias, columns))


def decode_stored_predicate(text: str, alias: str | None, columns: Collection[str]) -> str:
    """An RLS `polqual` as the model writes it: `decode_stored_expression`, with the alias taken off only outside
    lookup subqueries and the lookup table's name off the columns inside them (`stored_lookups`)."""
    pieces = [strip_lookup_qualifiers(p.text, p.table) if p.lookup else strip_alias(p.text, alias, columns)
              for p in segments(text)]
    return unwrap_literal_casts("".join(pieces))


def masking_expressions(value: Any) -> tuple[str, ...] | None:
    """The `expr` of each output in `policy_expression` (r_SHOW_POLICIES: `[{"expr": "...", "type": "text"}]`),
    in order. Text that is not a JSON array is taken as the expression itself (the shape an older Redshift may
    return; netcheck does the same); an array of any other shape is None (unreadable, never guessed)."""
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return (text,)
    if not isinstance(parsed, list):
        return (text,)
    found = tuple(item.get("expr") for item in parsed if isinstance(item, dict))
    if not found or len(found) != len(parsed) or not all(isinstance(e, str) and e.strip() for e in found):
        return None
    return tuple(str(e) for e in found)


def _blanked_keys(text: str) -> tuple[str, frozenset[str]]:
    """`text` with every value the view left out (`"client_secret":,`) made `null`, and those keys. Strings are
    copied, never searched."""
    out: list[str] = []
    blanked: set[str] = set()
    last_string: str | None = None
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            end = min(end + 1, n)
            out.append(text[i:end])
            try:
                last_string = json.loads(text[i:end])
            except json.JSONDecodeError:
                last_string = None
            i = end
            continue
        out.append(char)
        if char == ":":
            ahead = i + 1
            while ahead < n and text[ahead] in " \t\r\n":
                ahead += 1
            if ahead >= n or text[ahead] in ",}":
                out.append("null")
                if last_string is not None:
                    blanked.add(last_string)
        i += 1
    return "".join(out), frozenset(blanked)


def parse_params(value: Any) -> tuple[dict[str, Any], frozenset[str]] | None:
    """`params` of SVV_IDENTITY_PROVIDERS as a JSON object and the keys whose value the view left out (the
    documented example, r_SVV_IDENTITY_PROVIDERS: `{"issuer":"...", "client_id":"...", "client_secret":,
    "audience":[...]}`, which is not JSON). None when it is neither: never echoed, it may hold a secret."""
    if value is None or value == "":
        return {}, frozenset()
    if isinstance(value, dict):
        return dict(value), frozenset()
    if not isinstance(value, str):
        return None
    try:
        parsed = json.loads(value)
        blanked: frozenset[str] = frozenset()
    except json.JSONDecodeError:
        repaired, blanked = _blanked_keys(value)
        try:
            parsed = json.loads(repaired)
        except json.JSONDecodeError:
            return None
    if not isinstance(parsed, dict):
        return None
    return {str(k): v for k, v in parsed.items()}, frozenset(k for k in blanked if k in parsed)


def provider_parameters(value: Any) -> tuple[dict[str, Any] | None, bool]:
    """`params` of SVV_IDENTITY_PROVIDERS without its secrets, and whether it named one (blanked or not). None
    when it is not a JSON object in any shape `parse_params` reads, or when the view left out a value that is
    not a secret (what it was cannot be known): never echoed, it might hold a secret the view did not blank."""
    parsed = parse_params(value)
    if parsed is None:
        return None, False
    params, blanked = parsed
    if any(str(k).lower() not in SECRET_PARAMETER_NAMES for k in blanked):
        return None, False
    secret = any(str(k).lower() in SECRET_PARAMETER_NAMES for k in params)
    return {str(k): v for k, v in params.items() if str(k).lower() not in SECRET_PARAMETER_NAMES}, secret


class ProviderRow(NamedTuple):
    """An `identity_provider_definitions` row; `instanceid` is None in a snapshot written before it was read."""

    name: Any
    type: Any
    namespace: Any
    params: Any
    enabled: Any
    instanceid: Any = None


def provider_row(row: Sequence[Any]) -> ProviderRow:
    """A row of five cells (older snapshots) or six (with `instanceid`)."""
    return ProviderRow(*row[:6])


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
    """A `rls_policy_definitions` row as the model would declare it (`decode_stored_predicate`, with the
    row's alias, `rls_table` when the row has none); None if its WITH columns cannot be read."""
    name, alias, polatts, polqual = row
    columns = attributes(polatts) if polatts not in (None, "", "[]") else ()
    if columns is None or not polqual:
        return None
    using = decode_stored_predicate(str(polqual), str(alias) if alias else RLS_DEFAULT_ALIAS, [c for c, _ in columns])
    return RlsPolicy(str(name), columns, using)


def masking_definition(row: Row) -> MaskingPolicy | None:
    """A `masking_policy_definitions` row as the model would declare it: each output's `expr` decoded
    (`decode_stored_expression`, alias `masked_table`), several joined with `, ` as the USING tuple of a
    policy with several outputs is written (r_CREATE_MASKING_POLICY). None if its inputs or its expression
    cannot be read."""
    name, inputs, expression = row
    columns = attributes(inputs)
    expressions = masking_expressions(expression)
    if not columns or not expressions:
        return None
    names = [c for c, _ in columns]
    return MaskingPolicy(str(name), columns,
                         ", ".join(decode_stored_expression(e, MASKING_ALIAS, names) for e in expressions))


def provider_definition(row: Row) -> IdentityProvider | None:
    """A provider as far as the catalog shows it: type, namespace, non-secret PARAMETERS (a type that takes
    none, AWSIDC, declares none), enabled, and for AWSIDC its application ARN (`instanceid`) and IAM role
    (`params.iam_role`), empty when not shown. None when `params` cannot be read."""
    cells = provider_row(row)
    kind = str(cells.type or "").strip().lower()
    parameters, _ = provider_parameters(cells.params)
    if parameters is None:
        return None
    application = iam_role = ""
    if kind == "awsidc":
        application = str(cells.instanceid or "").strip()
        role = parameters.get("iam_role")
        iam_role = role.strip() if isinstance(role, str) else ""
    return IdentityProvider(str(cells.name), kind, str(cells.namespace or ""),
                            canonical_parameters(parameters) if kind == "azure" else "",
                            application_arn=application, iam_role=iam_role, enabled=_flag(cells.enabled))


def definitions(rows: Mapping[str, Sequence[Row]], case_sensitive: bool = False) -> AccessState:
    """The catalog's policies and providers with their definitions (what `planner.plan(definitions=...)`
    compares a model with). Rows that cannot be read are left out: the planner then rebuilds or re-sets
    that object, as it does without definitions."""
    rows = current_database_rows(rows)  # other databases' policies are not this model's (`current_database`)
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
    or the masking expressions (`expr`, out of their JSON) as stored, for a report to show."""

    expression: str
    digest: str


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _shown(kind: str, stored: str | None) -> str:
    """The text a report shows: RLS `polqual` as stored; a masking policy's `expr`s as stored, joined like
    its outputs (the JSON around them says nothing a reader needs)."""
    expressions = masking_expressions(stored) if kind == MaskingPolicy.KIND else None
    return ", ".join(expressions) if expressions else (stored or "")


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
        expression = "\n".join(_shown(key[0], cells[-1]) for cells in ordered)
        digest = stored_digest(json.dumps(ordered, ensure_ascii=False, separators=(",", ":")))
        texts[key] = StoredText(expression, digest)
    return texts

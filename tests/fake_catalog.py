"""The Data API double of `tests/fake_data_api.py`, also answering the read-only batches `snapshot` sends
(never used by the runtime).

`FakeDataApi` recognises one read batch, the reconciler's own. `CatalogDataApi` also answers any batch of
SELECTs, as of the moment it starts, query by query:

- the reconciler's SVV queries, by their SQL, with the rows `fake_data_api.svv_rows` gives;
- the definition queries of `catalog_import`, with each policy's definition as Redshift stores it rather
  than as it was created (REDSHIFT_REFERENCE.md 2.10): WITH types in PostgreSQL's names
  (`character varying(50)`), every WITH column in the predicate qualified with the policy alias
  (`"rls_table"."c"`, the alias a public session log shows when none was given: unconfirmed), every string
  literal cast (`CAST('x' AS TEXT)`). Masking expressions are returned unchanged (their stored form is
  unconfirmed). Identity providers' params have the client secret blanked, as SVV_IDENTITY_PROVIDERS does;
- the ledger probe (`svv_tables`), and `svv_columns` for the tables the test declares in `columns`;
- identity providers only to a superuser, as SVV_IDENTITY_PROVIDERS [D15];
- with `users_namespace`, the user queries of `deprovision_users` (`FakeRedshift.user_rows`);
- anything else (the ledger SELECTs) is run by the fake, so a missing ledger table fails the batch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlglot
from sqlglot import TokenType

from redshift_idc.runtime.access_state import IdentityProvider, MaskingPolicy, RlsPolicy
from redshift_idc.runtime.catalog import read_queries
from redshift_idc.runtime.catalog_import import definition_queries
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.sql_text import fold
from redshift_idc.runtime.users import user_queries
from tests.fake_data_api import FakeDataApi, Row, SimClock, _Statement, svv_rows
from tests.fake_redshift import LIT, FakeRedshift, RedshiftError, unquote_literal

ALIAS = "rls_table"
_PG_TYPES = ((r"VARCHAR", "character varying"), (r"CHAR", "character"), (r"INTEGER|INT4|INT", "integer"),
             (r"BIGINT|INT8", "bigint"), (r"DECIMAL|NUMERIC", "numeric"), (r"BOOL|BOOLEAN", "boolean"),
             (r"TIMESTAMP", "timestamp without time zone"))


def stored_type(type_: str) -> str:
    """A WITH type as polatts reports it: `VARCHAR(50)` -> `character varying(50)`."""
    match = re.match(r"^\s*([A-Za-z0-9 ]+?)\s*(\(.*\))?\s*$", type_)
    if not match:
        return type_.lower()
    name, size = match[1].upper(), (match[2] or "").replace(" ", "")
    for pattern, stored in _PG_TYPES:
        if re.fullmatch(pattern, name):
            return f"{stored}{size}"
    return f"{name.lower()}{size}"


def stored_predicate(using: str, columns: Sequence[str], alias: str = ALIAS) -> str:
    """`using` as Redshift rewrites it: WITH columns qualified with the alias, literals cast to TEXT. Only the
    tokens change; the text between them (spaces, comments) is kept."""
    wanted = {fold(c) for c in columns}
    tokens = sqlglot.tokenize(using, read="redshift")
    out: list[str] = []
    at = 0
    for index, token in enumerate(tokens):
        before = tokens[index - 1] if index else None
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        text = using[token.start:token.end + 1]
        replacement = text
        if token.token_type == TokenType.STRING:
            replacement = f"CAST({text} AS TEXT)"
        elif (token.token_type in (TokenType.VAR, TokenType.IDENTIFIER) and fold(token.text) in wanted
              and (before is None or before.token_type != TokenType.DOT)
              and (after is None or after.token_type not in (TokenType.DOT, TokenType.L_PAREN))):
            replacement = '"{}"."{}"'.format(alias.replace('"', '""'), token.text.replace('"', '""'))
        out.append(using[at:token.start] + replacement)
        at = token.end + 1
    out.append(using[at:])
    return "".join(out)


def definition_rows(fake: FakeRedshift, alias: str = ALIAS, blank_secrets: bool = True) -> dict[str, list[Row]]:
    """What svv_rls_policy, svv_masking_policy and svv_identity_providers show for the fake's catalog
    (`blank_secrets=False`: a view that would leak the client secret, to test that the snapshot does not)."""
    state = fake.state(include_system=True)
    rows: dict[str, list[Row]] = {name: [] for name, _ in definition_queries()}
    for item in state.of_kind(RlsPolicy.KIND).values():
        assert isinstance(item, RlsPolicy)
        columns, using = fake.policy_text(RlsPolicy.KIND, item.name)
        attributes = json.dumps([{"colname": c, "type": stored_type(t)} for c, t in columns])
        rows["rls_policy_definitions"].append(
            (item.name, alias, attributes, stored_predicate(using, [c for c, _ in columns], alias)))
    for item in state.of_kind(MaskingPolicy.KIND).values():
        assert isinstance(item, MaskingPolicy)
        columns, using = fake.policy_text(MaskingPolicy.KIND, item.name)
        attributes = json.dumps([{"colname": c, "type": stored_type(t)} for c, t in columns])
        rows["masking_policy_definitions"].append((item.name, attributes, using))
    for item in state.of_kind(IdentityProvider.KIND).values():
        assert isinstance(item, IdentityProvider)
        idp = fake.identity_provider(item.name)
        params = {k: ("" if blank_secrets and k.lower() == "client_secret" else v)
                  for k, v in (idp.parameters or {}).items()}
        rows["identity_provider_definitions"].append(
            (item.name, idp.type, idp.namespace, json.dumps(params) if params else "", idp.enabled))
    return rows


class CatalogDataApi(FakeDataApi):
    """`FakeDataApi` that also answers SELECT-only batches (see the module docstring). `columns`: the
    tables' columns as svv_columns lists them, (schema, table) as stored -> names in table order."""

    def __init__(self, fake: FakeRedshift, clock: SimClock, *, model: str = "snapshot",
                 columns: Mapping[tuple[str, str], Sequence[str]] | None = None, alias: str = ALIAS,
                 blank_secrets: bool = True, **options: Any) -> None:
        super().__init__(fake, clock, model=model, **options)
        self.blank_secrets = blank_secrets
        self.columns = {key: list(value) for key, value in (columns or {}).items()}
        self.alias = alias
        self.selects: list[list[str]] = []  # every read-only batch, as sent
        self._answered: set[str] = set()

    def _rows_for(self, sql: str) -> list[Row]:
        state = self.fake.state(self.case_sensitive)
        svv = svv_rows(state, user=self.user, superuser=self.superuser, secadmin=self.secadmin)
        names = {q: n for n, q in read_queries(LedgerTables(), "x", bootstrap=False)}
        definitions = {q: n for n, q in definition_queries()}
        if not self.superuser and names.get(sql, definitions.get(sql)) in ("identity_providers",
                                                                          "identity_provider_definitions"):
            return []  # SVV_IDENTITY_PROVIDERS: superusers only [D15]
        if sql in names and names[sql] in svv:
            return svv[names[sql]]
        if sql in definitions:
            return definition_rows(self.fake, self.alias, self.blank_secrets)[definitions[sql]]
        if self.users_namespace is not None:
            users = {q: n for n, q in user_queries(self.users_namespace)}
            if sql in users:
                return self.fake.user_rows(self.users_namespace)[users[sql]]
        if sql.startswith("SELECT COUNT(*) FROM svv_tables WHERE "):
            schema = unquote_literal(re.search(rf"table_schema = ({LIT})", sql)[1])  # type: ignore[index]
            return [(1 if (schema, "managed_object") in self.fake._catalog.tables else 0,)]
        if sql.startswith("SELECT table_schema, table_name, column_name, ordinal_position FROM svv_columns WHERE "):
            pairs = re.findall(rf"\(table_schema = ({LIT}) AND table_name = ({LIT})\)", sql)
            rows: list[Row] = []
            for schema, table in pairs:
                key = (unquote_literal(schema), unquote_literal(table))
                rows += [(*key, column, position)
                         for position, column in enumerate(self.columns.get(key, []), start=1)]
            return rows
        return [tuple(r) for r in self.fake.execute(sql)]

    def _start(self, sqls: Sequence[str], name: str, token: str, batch: bool) -> dict[str, Any]:
        selects = batch and bool(sqls) and all(s.startswith("SELECT ") for s in sqls)
        fresh = token not in self._tokens
        response = super()._start(sqls, name, token, batch)
        if selects and fresh and tuple(sqls) != self._read_sqls:
            statement = self.statements[response["Id"]]
            self.selects.append(list(sqls))
            self._answered.add(statement.id)
            self._answer(statement)
        return response

    def _answer(self, statement: _Statement) -> None:
        """Every query's rows as of now (the batch's snapshot); the first that fails fails the batch."""
        results: list[list[Row] | None] = []
        for index, sql in enumerate(statement.sqls, start=1):
            try:
                results.append(self._rows_for(sql))
            except RedshiftError as error:
                statement.status, statement.error, statement.failed_index = "FAILED", f"ERROR: {error}", index
                return
        statement.results = results

    def _execute(self, statement: _Statement) -> None:
        if statement.id in self._answered:
            statement.status = "FINISHED"  # its rows were taken when it started
            return
        super()._execute(statement)

"""The Data API double of `tests/fake_data_api.py`, also answering the read-only batches `snapshot` sends
(never used by the runtime).

`FakeDataApi` recognises one read batch, the reconciler's own. `CatalogDataApi` also answers any batch of
SELECTs, as of the moment it starts, query by query:

- the reconciler's SVV queries, by their SQL, with the rows `fake_data_api.svv_rows` gives (each row shape's
  source and status: tests/fake_shapes.py);
- the definition queries of `catalog_import`, with each policy's definition as Redshift stores it rather
  than as it was created, and identity providers' params with the client secret blanked, as
  SVV_IDENTITY_PROVIDERS does (`FakeRedshift.definition_rows`: the one rendering, which the reconciler's read
  in `FakeDataApi` also returns);
- the ledger probe (`svv_tables`: r_SVV_TABLES, documented), and `svv_columns` for the tables the test declares in
  `columns` (table_schema, table_name, column_name, ordinal_position: r_SVV_COLUMNS, documented);
- identity providers only to a superuser, as SVV_IDENTITY_PROVIDERS [D15] (documented: "visible only to
  superusers"; zero rows to anyone else, not an error: assumed);
- with `users_namespace`, the user queries of `deprovision_users` (`FakeRedshift.user_rows`);
- anything else (the ledger SELECTs) is run by the fake, so a missing ledger table fails the batch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from redshift_idc.runtime.catalog import read_queries
from redshift_idc.runtime.catalog_import import definition_queries
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.users import user_queries
from tests.fake_data_api import FakeDataApi, Row, SimClock, _Statement, fake_rows
from tests.fake_redshift import LIT, FakeRedshift, RedshiftError, unquote_literal


class CatalogDataApi(FakeDataApi):
    """`FakeDataApi` that also answers SELECT-only batches (see the module docstring). `columns`: the
    tables' columns as svv_columns lists them, (schema, table) as stored -> names in table order."""

    def __init__(self, fake: FakeRedshift, clock: SimClock, *, model: str = "snapshot",
                 columns: Mapping[tuple[str, str], Sequence[str]] | None = None,
                 blank_secrets: bool = True, **options: Any) -> None:
        super().__init__(fake, clock, model=model, **options)
        self.blank_secrets = blank_secrets
        self.columns = {key: list(value) for key, value in (columns or {}).items()}
        self.selects: list[list[str]] = []  # every read-only batch, as sent
        self._answered: set[str] = set()

    def _rows_for(self, sql: str) -> list[Row]:
        svv = fake_rows(self.fake, case_sensitive=self.case_sensitive, user=self.user, superuser=self.superuser,
                        secadmin=self.secadmin)
        names = {q: n for n, q in read_queries(LedgerTables(), "x", bootstrap=False)}
        definitions = {q: n for n, q in definition_queries()}
        if not self.superuser and definitions.get(sql) == "identity_provider_definitions":
            return []  # SVV_IDENTITY_PROVIDERS: superusers only [D15]
        if sql in names and names[sql] in svv:
            return svv[names[sql]]
        if sql in definitions:
            return self.fake.definition_rows(blank_secrets=self.blank_secrets)[definitions[sql]]
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

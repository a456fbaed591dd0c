"""The conformance recorder against the fake warehouse (never used by the product): `ConformanceDataApi` answers
what `CatalogDataApi` does, plus the few queries and statements only the recorder sends, and
`record_with_fake` runs `python -m redshift_idc conformance` on it. `python -m tests.fake_conformance` rewrites
the shipped recording, tests/fixtures/conformance/fake.json (marked `"source": "fake"`).

What the recorder sends that the planner never does, answered here from the fake's state:
- the scratch check's queries, one column each as the SELECTs name them: svv_all_schemas (local and external
  schemas: r_SVV_ALL_SCHEMAS, documented; which system schemas a new database has besides public,
  information_schema, catalog_history and pg_*: assumed), svv_tables (r_SVV_TABLES: documented), svv_user_info
  (r_SVV_USER_INFO: documented; that a new workgroup lists rdsdb and the admin only: assumed);
- `SELECT version()`: a made-up answer naming the fake (assumed: any text);
- `svv_columns` for the recorder's tables, from the fake's tables (r_SVV_COLUMNS: documented);
- `DROP SCHEMA IF EXISTS "s" CASCADE` (r_DROP_SCHEMA: documented; that the grants, RLS settings and attachments
  on the schema's tables go with them: assumed);
- the creator owns the tables it creates (r_CREATE_TABLE: documented), and the namespace admin is a user.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redshift_idc.deployed.conformance.command import Arguments, conformance_command
from redshift_idc.deployed.conformance.objects import LEDGER, MODEL, USERS_NAMESPACE, Extras
from redshift_idc.deployed.conformance.recorder import SCRATCH_QUERIES, VERSION_QUERY
from tests.fake_catalog import CatalogDataApi
from tests.fake_data_api import Row, SimClock, _Statement
from tests.fake_redshift import IDENT, LIT, FakeRedshift, RedshiftError, unquote_ident, unquote_literal

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "conformance"
FAKE_RECORDING = FIXTURES / "fake.json"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:conformance-AbCdEf"
FAKE_VERSION = "fake_redshift (tests/fake_redshift.py), not Redshift"
_DROP_SCHEMA = re.compile(rf"DROP SCHEMA IF EXISTS (?P<schema>{IDENT}) CASCADE")
_CREATE_TABLE = re.compile(rf"CREATE TABLE IF NOT EXISTS (?P<schema>{IDENT})\.(?P<table>{IDENT}) ")
_SCRATCH = {sql: name for name, sql in SCRATCH_QUERIES}


class ConformanceDataApi(CatalogDataApi):
    """`CatalogDataApi` for the recorder's model, ledger and users namespace, with the module docstring's extras.
    `admin`: the user the secret signs in as; `users`: other users the database has."""

    def __init__(self, fake: FakeRedshift, clock: SimClock, *, admin: str = "admin",
                 users: Sequence[str] = (), **options: Any) -> None:
        super().__init__(fake, clock, model=MODEL, tables=LEDGER, users_namespace=USERS_NAMESPACE, user=admin,
                         **options)
        self.other_users = list(users)
        fake.sign_in(admin, superuser=True)  # the namespace admin, who owns what it creates

    def _own_tables(self, statement: _Statement) -> None:
        """The tables a committed batch created belong to the admin (r_CREATE_TABLE: the creator owns a table)."""
        for sql in statement.sqls:
            match = _CREATE_TABLE.match(sql)
            if match and ("table", match["schema"], match["table"]) not in self.fake.owners:
                self.fake.create_owned(self.user, "table", unquote_ident(match["schema"]),
                                       unquote_ident(match["table"]))

    def _rows_for(self, sql: str) -> list[Row]:
        catalog = self.fake._catalog
        name = _SCRATCH.get(sql)
        if name == "scratch_schemas":
            # local and external schemas (r_SVV_ALL_SCHEMAS lists both: documented)
            return [(s,) for s in sorted({"public", "pg_catalog", "information_schema", *catalog.schemas,
                                          *catalog.external_schemas})]
        if name == "scratch_tables":
            return [(s, t) for s, t in sorted(catalog.tables)]
        if name == "scratch_users":
            return [(u,) for u in ["rdsdb", self.user, *self.other_users]]
        if sql == VERSION_QUERY:
            return [(FAKE_VERSION,)]
        if sql.startswith("SELECT table_schema, table_name, column_name, ordinal_position FROM svv_columns WHERE "):
            pairs = re.findall(rf"\(table_schema = ({LIT}) AND table_name = ({LIT})\)", sql)
            wanted = [(unquote_literal(s), unquote_literal(t)) for s, t in pairs]
            return [(s, t, column, position) for s, t in wanted
                    for position, (column, _) in enumerate(catalog.tables.get((s, t), ()), start=1)]
        return super()._rows_for(sql)

    def _start(self, sqls: Sequence[str], name: str, token: str, batch: bool) -> dict[str, Any]:
        if not batch and sqls and sqls[0] == VERSION_QUERY and token not in self._tokens:
            response = super()._start([sqls[0]], name, token, batch)
            statement = self.statements[response["Id"]]
            statement.results = [[(FAKE_VERSION,)]]
            self._answered.add(statement.id)
            return response
        return super()._start(sqls, name, token, batch)

    def _execute(self, statement: _Statement) -> None:
        match = _DROP_SCHEMA.fullmatch(statement.sqls[0]) if len(statement.sqls) == 1 else None
        if match is None:
            super()._execute(statement)
            if statement.status == "FINISHED":
                self._own_tables(statement)
            return
        try:
            drop_schema_cascade(self.fake, unquote_ident(match["schema"]))
        except RedshiftError as error:
            statement.status, statement.error = "FAILED", f"ERROR: {error}"
            return
        statement.status, statement.results = "FINISHED", [None]


def drop_schema_cascade(fake: FakeRedshift, schema: str) -> None:
    """DROP SCHEMA IF EXISTS ... CASCADE on the fake: the schema, its tables and every grant, RLS setting and
    attachment naming them (r_DROP_SCHEMA: CASCADE drops the objects in the schema)."""
    c = fake._catalog
    name = schema.lower()
    c.schemas.discard(name)
    for key in [k for k in c.tables if k[0] == name]:
        del c.tables[key]
        c.rows.pop(key, None)
    c.schema_privileges = {k for k in c.schema_privileges if k[0] != name}
    c.scoped_privileges = {k for k in c.scoped_privileges if k[0] != name}
    c.table_privileges = {k for k in c.table_privileges if k[0] != name}
    c.column_privileges = {k for k in c.column_privileges if k[0] != name}
    c.rls_attachments = {k for k in c.rls_attachments if k[1] != name}
    c.lookup_grants = {k for k in c.lookup_grants if k[0] != name}
    c.rls_tables = {k: v for k, v in c.rls_tables.items() if k[0] != name}
    c.masking_attachments = {k: v for k, v in c.masking_attachments.items() if k[1] != name}
    c.owners = {k: v for k, v in c.owners.items() if k[1] != name}
    fake.history.append(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def record_with_fake(out: Path, fake: FakeRedshift | None = None, *, force: bool = False,
                     extras: Extras = Extras(), users: Sequence[str] = (),  # noqa: B008 -- frozen default
                     api: ConformanceDataApi | None = None) -> tuple[int, str, str, ConformanceDataApi]:
    """`conformance` against the fake, in simulated time: (exit code, stdout, stderr, the double)."""
    clock = SimClock()
    fake = fake or FakeRedshift()
    api = api or ConformanceDataApi(fake, clock, users=users)
    stdout, stderr = io.StringIO(), io.StringIO()
    code = conformance_command(
        Arguments("conformance-wg", SECRET_ARN, "dev", "us-east-1", out, force, extras), client=api,
        sleep=api.clock.sleep, clock=api.clock.monotonic, now_ms=lambda: int(api.clock.time() * 1000),
        source="fake", out=stdout, err=stderr)
    return code, stdout.getvalue(), stderr.getvalue(), api


def main() -> int:
    """Rewrite tests/fixtures/conformance/fake.json from the fake."""
    code, out, err, _ = record_with_fake(FAKE_RECORDING, force=True)
    print(out + err, end="", file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

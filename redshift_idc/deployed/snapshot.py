"""`python -m redshift_idc snapshot`: the live catalog's rows, written down as JSON. Changes nothing.

A snapshot is what `import` turns into an access model and what `plan --snapshot` plans against, so both
work on a machine without credentials and the tests drive them from the same file. It holds the rows of:

1. the reconciler's own read (`catalog.read_queries(..., bootstrap=False)`: the same SQL, parsed by the same
   `catalog.parse_snapshot`), without its ledger queries;
2. the catalog's policy and identity provider definitions (`catalog_import.definition_queries()`, part of that
   read), which also list them: an import writes them, and they let `plan --snapshot` adopt policies and
   providers instead of rebuilding them. The policy views list every database's policies: the rows keep their
   database and `current_database()`, and every reader filters them (`catalog_rows.current_database_rows`); a
   file of an earlier version has neither and reads as before, and one of format version 1 also lists them by
   queries of their own (`catalog_rows.with_lists`); a file without the default privileges reads as if there
   were none, and `plan --snapshot` and `import` say so;
3. whether the ledger table exists (`svv_tables`), and if so the ledger and applied scripts of the
   environment's current access model and every other model's ledger rows (one owner per object), so
   `plan --snapshot` of that model sees what a deploy would see; and the other schemas holding a ledger
   table, with the models each one holds;
4. the columns of every table a grant, policy or RLS setting names, and of the lookup tables RLS policies read
   (found in their stored text, `lookup_tables`) (`svv_columns`, in a second read that lists those tables):
   the model declares each table it references with its columns.

All of it is SELECTs, in two Data API batches (each one transaction, so one consistent view; a table
created between the two is the only thing a second read can add). The caller's user must hold
`sys:secadmin` (RLS attachments and masking are invisible otherwise) and be a superuser to see identity
providers, as for `drift`. `svv_tables` and `svv_columns` are documented AWS views that
REDSHIFT_REFERENCE.md does not cover (columns as in the AWS Developer Guide: table_schema, table_name,
column_name, ordinal_position): unconfirmed on a live workgroup.

The file is deterministic (sorted keys, rows sorted), names its environment, warehouse and format version,
and holds no secret: SVV_IDENTITY_PROVIDERS blanks the client secret, and any value under a secret's
parameter name is blanked again before writing.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.deployed.session import LiveError, admin_secret_arn, data_api_error
from redshift_idc.runtime.access_state import (
    AccessState,
    ColumnPrivilege,
    MaskingAttachment,
    RlsAttachment,
    RlsTable,
    TablePrivilege,
)
from redshift_idc.runtime.catalog import (
    DEFAULT_PRIVILEGES_QUERY,
    SECADMIN,
    Snapshot,
    ledger_schema_problem,
    other_ledger_models,
    other_ledger_queries,
    parse_snapshot,
    read_queries,
    reader,
)
from redshift_idc.runtime.catalog_import import (
    SECRET_PARAMETER_NAMES,
    column_queries,
    definition_queries,
    definitions,
    ledger_table_query,
    parse_params,
    provider_row,
)
from redshift_idc.runtime.catalog_rows import current_database_rows
from redshift_idc.runtime.data_api import RETRIES, DataApi, Target, is_transient
from redshift_idc.runtime.ledger import DEFAULT_LEDGER_SCHEMA, MAX_BATCH_STATEMENTS, LedgerTables
from redshift_idc.runtime.planning.plan_types import Ledger, Owners
from redshift_idc.runtime.reconcile_request import ReconcileError, Request, statement_token
from redshift_idc.runtime.reconciler import Reconciler
from redshift_idc.runtime.stored_lookups import lookup_tables as stored_lookup_tables
from redshift_idc.wording import plural

SNAPSHOT_FORMAT = "redshift-idc-catalog-snapshot"
# 2: the policies and identity providers are listed by their definition queries only (`catalog_rows.with_lists`),
# and the reader's row holds whether it has sys:secadmin and the current database (`catalog.WHOAMI_QUERY`). Version
# 1 files (with the list queries, `secadmin` and `current_database`) are read as before; an earlier version of this
# tool refuses a version 2 file instead of reading it without its policies.
SNAPSHOT_VERSION = 2
READ_VERSIONS = (1, 2)
LEDGER_QUERIES = ("ledger", "other_ledgers", "scripts")  # read only where the ledger table exists
Row = tuple[Any, ...]
OK, ERROR = 0, 2


class SnapshotError(LiveError):
    """A snapshot that cannot be read or written, worded for the person running the command."""


@dataclass(frozen=True)
class CatalogSnapshot:
    """What `snapshot` read: rows by query name, and where they came from."""

    environment: str
    account: str
    region: str
    workgroup: str
    namespace: str
    database: str
    identity_namespace: str
    read_as: str
    rows: Mapping[str, Sequence[Row]]
    model: str | None = None  # the access model whose ledger rows `rows` holds (None: no ledger read)
    ledger_schema: str = DEFAULT_LEDGER_SCHEMA
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def where(self) -> str:
        return f"{self.workgroup}/{self.database}"

    def parsed(self, case_sensitive: bool = False) -> Snapshot:
        """The state, as the reconciler's own read would parse these rows."""
        return parse_snapshot(self.rows, case_sensitive)

    def definitions(self, case_sensitive: bool = False) -> AccessState:
        return definitions(self.rows, case_sensitive)

    def ledger_for(self, model: str) -> Ledger:
        """The ledger of `model` as read; empty for any other model (the rows are one model's)."""
        return self.parsed().ledger if model == self.model else {}

    def owners_for(self, model: str) -> Owners:
        """What every model but `model` manages, (kind, key) -> model: the other models' rows, and the snapshot's
        own model's when `model` is another one (a renamed model does not own what its old name recorded)."""
        parsed = self.parsed()
        owners = {entry: owner for entry, owner in parsed.owners.items() if owner != model}
        if self.model is not None and self.model != model:
            owners.update(dict.fromkeys(parsed.ledger, self.model))
        return owners

    @property
    def reads_default_privileges(self) -> bool:
        """Whether the snapshot read SVV_DEFAULT_PRIVILEGES (files of earlier versions did not: they read as if the
        catalog held no default privilege, so a plan against one grants every declared one again)."""
        return DEFAULT_PRIVILEGES_QUERY[0] in self.rows

    @property
    def reads_other_ledgers(self) -> bool:
        """Whether the snapshot holds the other models' ledger rows (files of earlier versions do not)."""
        return self.model is None or "other_ledgers" in self.rows

    def ledger_schema_problem(self) -> str:
        """`catalog.ledger_schema_problem` for the other ledger schemas this snapshot found ('' when none)."""
        return ledger_schema_problem(other_ledger_models(self.rows), self.ledger_schema)

    def scripts_for(self, model: str) -> dict[str, str]:
        return self.parsed().scripts if model == self.model else {}

    def columns(self) -> dict[tuple[str, str], list[str]]:
        """(schema, table) -> column names in table order, from `svv_columns`."""
        found: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for schema, table, column, position in self.rows.get("columns", ()):
            found.setdefault((str(schema), str(table)), []).append((int(position or 0), str(column)))
        return {key: [c for _, c in sorted(items)] for key, items in found.items()}

    def to_json(self) -> str:
        document = {
            "format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION, "environment": self.environment,
            "account": self.account, "region": self.region, "workgroup": self.workgroup,
            "namespace": self.namespace, "database": self.database, "identity_namespace": self.identity_namespace,
            "read_as": self.read_as, "model": self.model, "ledger_schema": self.ledger_schema,
            "rows": {name: sorted(([_cell(v) for v in row] for row in rows), key=_row_order)
                     for name, rows in self.rows.items()},
        }
        return json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _row_order(row: list[Any]) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True)


# ------------------------------------------------------------------------------------------ the reads


def catalog_queries(tables: LedgerTables, model: str) -> list[tuple[str, str]]:
    """The first read: the reconciler's catalog queries (not its ledger ones), the definitions, the probe."""
    reconciler = [(n, q) for n, q in read_queries(tables, model, bootstrap=False) if n not in LEDGER_QUERIES]
    named = dict(reconciler)  # the reconciler reads the definitions too (to adopt an imported model's policies)
    return [*reconciler, *((n, q) for n, q in definition_queries() if n not in named),
            ledger_table_query(tables.schema)]


def referenced_tables(state: AccessState) -> list[tuple[str, str]]:
    """Every table a grant, policy attachment or RLS setting names: the model must declare each one."""
    found: set[tuple[str, str]] = set()
    for kind in (TablePrivilege.KIND, ColumnPrivilege.KIND, RlsAttachment.KIND, RlsTable.KIND, MaskingAttachment.KIND):
        for item in state.of_kind(kind).values():
            assert isinstance(item, TablePrivilege | ColumnPrivilege | RlsAttachment | RlsTable | MaskingAttachment)
            found.add((item.schema, item.table))
    return sorted(found)


def lookup_tables(rows: Mapping[str, Sequence[Row]]) -> list[tuple[str, str]]:
    """The tables this database's RLS policies read in lookup subqueries, from their stored text (`polqual`,
    `stored_lookups.lookup_tables`): no view lists them, and the model must declare them with their columns."""
    found: set[tuple[str, str]] = set()
    for row in current_database_rows(rows).get("rls_policy_definitions", ()):
        if len(row) > 3 and row[3]:
            found.update(stored_lookup_tables(str(row[3])))
    return sorted(found)


def _scrub(rows: dict[str, list[Row]]) -> list[str]:
    """Blank every secret parameter in the providers' `params` (the view blanks the client secret, in the
    documented example by leaving its value out, which `parse_params` reads; this makes sure no value reaches
    the file). A `params` that cannot be read, or with a non-secret value left out, is left out, not echoed."""
    warnings: list[str] = []
    scrubbed: list[Row] = []
    for row in rows.get("identity_provider_definitions", []):
        cells = provider_row(row)
        value: Any = cells.params
        if cells.params not in (None, ""):
            parsed = parse_params(cells.params)
            params, blanked = parsed if parsed is not None else ({}, frozenset())
            if parsed is not None and all(str(k).lower() in SECRET_PARAMETER_NAMES for k in blanked):
                value = json.dumps({k: ("" if str(k).lower() in SECRET_PARAMETER_NAMES else v)
                                    for k, v in params.items()}, sort_keys=True, ensure_ascii=False)
            else:
                value = None
                warnings.append(f"identity provider {cells.name}: its params are not a JSON object; left out of "
                                "the snapshot (it might hold a secret)")
        scrubbed.append((*row[:3], value, *row[4:]))
    if "identity_provider_definitions" in rows:
        rows["identity_provider_definitions"] = scrubbed
    return warnings


def _ledger_model(config: EnvironmentConfig) -> tuple[str | None, str, list[str]]:
    """(model, ledger schema) whose ledger to read: the environment's current access model, if it loads."""
    from redshift_idc.access.checked import model_for

    if config.access_model is None:
        return None, DEFAULT_LEDGER_SCHEMA, []
    try:
        model = model_for(config).model
    except ConfigError as error:
        return None, DEFAULT_LEDGER_SCHEMA, [f"the ledger was not read: the environment's access model does not "
                                             f"load ({str(error).splitlines()[0]})"]
    return model.name, model.ledger_schema, []


def read_snapshot(config: EnvironmentConfig, secret_arn: str, client: Any = None,
                  sleep: Callable[[float], None] | None = None) -> CatalogSnapshot:
    """Read the catalog (SELECTs only, two batches); raises SnapshotError or botocore's errors."""
    model, ledger_schema, warnings = _ledger_model(config)
    tables = LedgerTables(ledger_schema)
    target = Target(config.warehouse.workgroup_name, config.warehouse.database_name, secret_arn)
    api = DataApi(target, client or boto3.client("redshift-data", region_name=config.region, config=RETRIES))
    where = f"{target.workgroup}/{target.database}"

    def read(queries: list[tuple[str, str]]) -> dict[str, list[Row]]:
        request = Request(model=model or "snapshot", desired=AccessState(),
                          token=statement_token(f"snapshot:{time.time_ns()}"), ledger_schema=ledger_schema)
        try:
            got = Reconciler(api, request, read_only=True, queries=queries).read_rows_now(sleep or time.sleep)
        except ReconcileError as error:
            hint = ("\nThis looks transient (a paused workgroup resuming, a cancelled first query): run again."
                    if is_transient(str(error)) else "")
            raise SnapshotError(f"{where}: {error}{hint}") from None
        return {name: [tuple(r) for r in got.get(name, [])] for name, _ in queries}

    rows = read(catalog_queries(tables, model or "snapshot"))
    user, superuser, secadmin = reader(rows)
    if not secadmin:
        raise SnapshotError(f"{where}: user {user or '(unknown)'} lacks {SECADMIN}, so RLS attachments and masking "
                            "are invisible to it and the snapshot would be incomplete; grant it (GRANT ROLE "
                            f"\"{SECADMIN}\" TO \"{user}\") or read as the namespace admin")
    if not superuser:
        warnings.append(f"user {user} is not a superuser: SVV_IDENTITY_PROVIDERS shows it no identity provider, so "
                        "the snapshot has none")
    ledger_exists = any(int(r[0] or 0) for r in rows.get("ledger_table", []))
    second = column_queries(sorted({*referenced_tables(parse_snapshot(rows).state), *lookup_tables(rows)}))
    if model is not None and ledger_exists:
        second += [(n, q) for n, q in read_queries(tables, model, bootstrap=False) if n in LEDGER_QUERIES]
    second += other_ledger_queries(sorted({str(s) for (s,) in rows.get("other_ledger_schemas", [])}))
    for start in range(0, len(second), MAX_BATCH_STATEMENTS):
        rows.update(read(second[start:start + MAX_BATCH_STATEMENTS]))
    columns = [r for name in sorted(rows) if name.startswith("columns_") for r in rows.pop(name)]
    rows["columns"] = columns
    warnings += _scrub(rows)
    warehouse = config.warehouse
    return CatalogSnapshot(config.name, config.account, config.region, warehouse.workgroup_name,
                           warehouse.namespace_name, warehouse.database_name,
                           config.redshift_idc_application.identity_namespace, user, rows,
                           model if ledger_exists else None, ledger_schema, tuple(warnings))


# ------------------------------------------------------------------------------------------ the file


def load_snapshot(path: Path) -> CatalogSnapshot:
    """A snapshot file; every problem names the file and how to get a good one."""
    fix = "write one with `python -m redshift_idc snapshot --env <env> --secret-arn <arn> --out <file>`"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SnapshotError(f"{path}: no such snapshot file; {fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SnapshotError(f"{path}: not a readable snapshot ({error}); {fix}") from None
    if not isinstance(document, dict) or document.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError(f"{path}: not a catalog snapshot (no \"format\": \"{SNAPSHOT_FORMAT}\"); {fix}")
    if document.get("version") not in READ_VERSIONS:
        raise SnapshotError(f"{path}: snapshot format version {document.get('version')!r}; this version reads "
                            f"{' and '.join(str(v) for v in READ_VERSIONS)}: {fix} again")
    rows = document.get("rows")
    texts = ("environment", "account", "region", "workgroup", "namespace", "database", "identity_namespace",
             "read_as")
    bad = [key for key in texts if not isinstance(document.get(key), str)]
    if not isinstance(rows, dict) or any(not isinstance(v, list) or any(not isinstance(r, list) for r in v)
                                         for v in rows.values()):
        bad.append("rows")
    if bad:
        raise SnapshotError(f"{path}: {', '.join(bad)}: missing or malformed; {fix}")
    assert isinstance(rows, dict)
    model = document.get("model")
    text = {key: str(document[key]) for key in texts}
    return CatalogSnapshot(
        environment=text["environment"], account=text["account"], region=text["region"],
        workgroup=text["workgroup"], namespace=text["namespace"], database=text["database"],
        identity_namespace=text["identity_namespace"], read_as=text["read_as"],
        rows={str(name): [tuple(r) for r in value] for name, value in rows.items()},
        model=model if isinstance(model, str) else None,
        ledger_schema=str(document.get("ledger_schema") or DEFAULT_LEDGER_SCHEMA))


def write_new(path: Path, text: str, force: bool, what: str) -> None:
    """Write `text` to `path`, refusing to replace an existing file unless `force`."""
    if path.exists() and not force:
        raise SnapshotError(f"{path}: already exists; pass --force to replace it, or choose another --out")
    if path.is_dir():
        raise SnapshotError(f"{path}: is a directory; --out names the {what} file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise SnapshotError(f"{path}: cannot write the {what}: {error.strerror or error}") from None


def snapshot_command(env: str, secret_arn: str | None, outputs: Path | None, out_path: Path, *, force: bool = False,
                     client: Any = None, sleep: Callable[[float], None] | None = None,
                     config_dir: Path | None = None,
                     out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The CLI: writes the snapshot, prints one line (and warnings on `err`); returns 0, or 2 on error."""
    out = out or sys.stdout
    err = err or sys.stderr
    where = f"snapshot --env {env}"
    try:
        config = load_environment(env, config_dir)
        where = f"{config.warehouse.workgroup_name}/{config.warehouse.database_name}"
        if out_path.exists() and not force:  # before any call: reading the warehouse costs time
            raise SnapshotError(f"{out_path}: already exists; pass --force to replace it, or choose another --out")
        snapshot = read_snapshot(config, admin_secret_arn(config, secret_arn, outputs, "snapshot"), client, sleep)
        write_new(out_path, snapshot.to_json(), force, "snapshot")
    except (ConfigError, LiveError) as error:
        print(f"error: {error}", file=err)
        return ERROR
    except (ClientError, BotoCoreError) as error:
        print(f"error: {data_api_error(error, where, 'snapshot')}", file=err)
        return ERROR
    for warning in snapshot.warnings:
        print(f"warning: {warning}", file=err)
    counts = {name: len(rows) for name, rows in current_database_rows(snapshot.rows).items()}  # this database's
    found = [plural(counts.get("roles", 0), "role"),
             plural(counts.get("rls_policy_definitions", 0), "RLS policy", "RLS policies"),
             plural(counts.get("masking_policy_definitions", 0), "masking policy", "masking policies"),
             plural(len(snapshot.columns()), "table's columns", "tables' columns")]
    print(f"wrote {out_path}: the catalog of {snapshot.where} as {snapshot.read_as} ({', '.join(found)}); nothing was "
          "changed", file=out)
    return OK

"""A Redshift Data API double over `tests/fake_redshift.py`, in simulated time, and a Provider-framework
driver that calls the real `on_event` / `is_complete` handlers against it (never used by the runtime).

`FakeDataApi` answers like a boto3 `redshift-data` client (parameters validated against botocore's
service model) and keeps the behaviour the reconciler relies on:

- It answers as the client of botocore's redshift-data model would let it be called (its `meta.service_model`,
  which the runtime reads to decide on long polling), or with `long_polling=False` as the model of a botocore
  older than long polling (no `WaitTimeSeconds` anywhere: a call with it raises ParamValidationError, as such a
  client does before sending anything; `service_model`).
- Long polling: BatchExecuteStatement, ExecuteStatement, DescribeStatement and GetStatementResult with
  `WaitTimeSeconds` answer when the statement's status says it ended (so `status_lag` after it did) or after that
  many seconds, whichever comes first, with the status then (a submission's answer then holds `Status`; a
  GetStatementResult of a statement still running is ResourceNotFoundException, as REDSHIFT_REFERENCE.md 7.3 notes
  of a long-polled one). Statements due meanwhile run. A repeated ClientToken waits for the statement it names
  (assumed: the documentation does not say).
- A statement starts when the service receives the call and runs `batch_latency + statement_latency x
  statements + object_latency x objects` seconds (objects: what its statements cover, `FakeRedshift.objects_in`);
  every call takes `call_latency` (half on the way in, half on the way out). Nothing runs in the background:
  statements due by the time a call arrives are executed first, in the order they finish.
- Its status says so `status_lag` seconds after it ended (DescribeStatement, ListStatements and
  GetStatementResult see it running until then), and its `Duration` is the execution time only, as the Data
  API reports it: a poller timed from `Duration` alone finds a batch still running.
- A read batch (the reconciler's SVV queries) sees the catalog as it was when it *started*, like a
  Redshift transaction's snapshot, policies' text as stored (`FakeRedshift.definition_rows`); any other batch
  of SELECTs only (the reconciler's second read, of the models in other ledger schemas) is answered by the
  fake when it finishes; a write batch is one transaction applied when it *finishes*
  (`FakeRedshift.execute_batch`: all or nothing), ExecuteStatement auto-commits.
- A repeated `ClientToken` returns the statement it first started, whatever the other parameters (the
  reconciler's reading of the documented idempotency); with `refuse_repeated_tokens`, a ValidationException
  instead (what a reused token does is undocumented: REDSHIFT_REFERENCE.md 9.1).
- `GetStatementResult` pages by `page_bytes` of records; `ListStatements` can lag (`list_lag`), filters by
  name prefix and status, and pages by `MaxResults` with NextToken, newest first (the order is unconfirmed;
  the reconciler does not rely on it).
- Faults: `throttle(operation, n)` raises ThrottlingException on chosen calls, `failure(operation, n)` any
  exception it returns (a botocore `ReadTimeoutError`, a ClientError of another code), `stuck(sqls)` makes
  a statement run until cancelled, `latency_of(sqls)` gives chosen statements their own run time,
  `cancel_delay` makes CancelStatement take effect that many seconds late (a statement that finishes first
  runs to its end and commits, as one a cancel did not stop in time would), `echo_sql(sql)` changes the SQL
  DescribeStatement and ListStatements echo (a service that normalises it, or echoes nothing), `kill_after`
  raises `Killed` right after the N-th call (its effect done), as a Lambda that dies there would;
  `before_call(operation, params)` runs before a call is handled (another request's invocation, run there,
  interleaves with this one); `fake.fail_when` fails chosen statements. `settle()` runs time on until every
  statement has ended.

`ProviderDriver` plays CloudFormation and the Provider framework: on_event, then is_complete every
`query_interval` seconds until complete, counting invocations and plans.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import types
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import ServiceModel
from botocore.validate import ParamValidator

from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessState,
    ColumnPrivilege,
    DatabasePrivilege,
    DefaultPrivilege,
    ExternalDatabase,
    ExternalSchema,
    IdentityProvider,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    Role,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
)
from redshift_idc.runtime.catalog import SECADMIN, read_queries
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.sql_text import quote_ident
from tests.fake_redshift import DATABASE, SYSTEM_ROLES, FakeRedshift, RedshiftError

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
_MODEL = botocore.session.get_session().get_service_model("redshift-data")
_VALIDATOR = ParamValidator()


def service_model(long_polling: bool = True) -> ServiceModel:
    """botocore's redshift-data model; `long_polling=False`: the same without `WaitTimeSeconds` on any operation, the
    model of a botocore older than long polling (1.43.11's lacks it: REDSHIFT_REFERENCE.md 7.1)."""
    if long_polling:
        return _MODEL
    loader = botocore.session.get_session().get_component("data_loader")
    raw = copy.deepcopy(loader.load_service_model("redshift-data", "service-2"))
    for shape in raw["shapes"].values():
        shape.get("members", {}).pop("WaitTimeSeconds", None)
    return ServiceModel(raw, service_name="redshift-data")
Row = tuple[Any, ...]


class Killed(BaseException):
    """The Lambda died right after a Data API call."""


@dataclass
class SimClock:
    """Simulated time for the handlers (`monotonic`, `time`, `sleep`) and the double alike."""

    now: float = T0
    slept: float = 0.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        self.slept += max(0.0, seconds)


def svv_rows(state: AccessState, *, user: str, superuser: bool, secadmin: bool,
             database: str = DATABASE) -> dict[str, list[Row]]:
    """What the reconciler's SVV queries return for `state` (the inverse of `catalog.parse_snapshot`), read while
    connected to `database`. `fake_rows` adds what a `FakeRedshift` holds beyond its state. Each query's row shape,
    its source (AWS page or peer file) and status (documented, seen on a real cluster, assumed) is in
    `tests/fake_shapes.py` (ROW_SHAPES, checked complete by tests/test_fake_evidence.py); the comments name them.

    Policies and identity providers are listed as the list queries of earlier versions returned them
    (`rls_policies`, `masking_policies`, `identity_providers`: a snapshot of those versions holds them, and
    `parse_snapshot` still reads them, `catalog_rows.with_lists`): a state read back has no policy text, and the
    read lists them by the definition queries, whose rows carry the text as stored (`FakeRedshift.definition_rows`,
    what the doubles answer)."""
    rows: dict[str, list[Row]] = {name: [] for name in (
        "roles", "role_grants", "schema_privileges", "relation_privileges", "column_privileges",
        "system_privileges", "rls_policies", "rls_attachments", "rls_relations", "masking_policies",
        "masking_attachments", "identity_providers", "external_schemas", "external_databases", "database_privileges",
        "default_privileges")}
    # user_name, superuser boolean (r_SVV_USER_INFO), COUNT(*) of its svv_user_grants rows for sys:secadmin
    # (r_SVV_USER_GRANTS), current_database() (r_CURRENT_DATABASE): documented, one row (fake_shapes.py's whoami)
    rows["whoami"] = [(user, superuser, 1 if secadmin else 0, database)]
    rows["roles"] = [(r,) for r in SYSTEM_ROLES]

    def grantee(name: str) -> tuple[str, str]:
        """(identity name, identity type) as the SVV views show a grantee."""
        return ("public", "public") if name == PUBLIC_GRANTEE else (name, "role")

    for item in state:
        if isinstance(item, Role):  # role_name (r_SVV_ROLES: documented)
            rows["roles"].append((item.name,))
        elif isinstance(item, RoleGrant):  # grantee role, granted role (r_SVV_ROLE_GRANTS: documented)
            rows["role_grants"].append((item.grantee, item.role))
        elif isinstance(item, ScopedTablePrivilege):  # privilege_scope TABLES (r_SVV_SCHEMA_PRIVILEGES: documented)
            name, kind = grantee(item.grantee)
            rows["schema_privileges"].append((item.schema, item.privilege, name, "TABLES", kind))
        elif isinstance(item, SchemaPrivilege):  # privilege_scope SCHEMA (r_SVV_SCHEMA_PRIVILEGES: documented)
            name, kind = grantee(item.grantee)
            rows["schema_privileges"].append((item.schema, item.privilege, name, "SCHEMA", kind))
        elif isinstance(item, ColumnPrivilege):  # r_SVV_COLUMN_PRIVILEGES: documented
            name, kind = grantee(item.grantee)
            rows["column_privileges"].append((item.schema, item.table, item.column, item.privilege, name, kind))
        elif isinstance(item, TablePrivilege):  # r_SVV_RELATION_PRIVILEGES: documented
            name, kind = grantee(item.grantee)
            rows["relation_privileges"].append((item.schema, item.table, item.privilege, name, kind))
        elif isinstance(item, SystemPrivilege):  # GRANT's spelling (r_SVV_SYSTEM_PRIVILEGES: documented; netcheck)
            rows["system_privileges"].append((item.privilege, item.grantee))
        elif isinstance(item, RlsPolicy):  # polname, poldb (r_SVV_RLS_POLICY: documented, every database's)
            rows["rls_policies"].append((item.name, database))
        elif isinstance(item, RlsAttachment):  # kind role (r_SVV_RLS_ATTACHED_POLICY: documented); PUBLIC's: assumed
            rows["rls_attachments"].append((item.schema, item.table, item.policy, *grantee(item.grantee)))
        elif isinstance(item, RlsTable):  # is_rls_on true, TRIM(rls_conjunction_type) in lower case: `and`, `or`
            # (r_SVV_RLS_RELATION: documented, its example shows `t` and `and`)
            rows["rls_relations"].append((item.schema, item.table, True, item.conjunction.lower()))
        elif isinstance(item, MaskingPolicy):  # policy_name, policy_database (r_SVV_MASKING_POLICY: documented)
            rows["masking_policies"].append((item.name, database))
        elif isinstance(item, MaskingAttachment):  # column lists as JSON arrays of names, `["email"]` (seen on a
            # real cluster: netcheck-de masking_policy_attachment_sql.go); compact, inputs = outputs w/o USING: assumed
            rows["masking_attachments"].append((
                item.policy, item.schema, item.table, *grantee(item.grantee), item.priority,
                _json_names(item.input_columns or item.output_columns), _json_names(item.output_columns)))
        elif isinstance(item, IdentityProvider):  # type in lower case (r_SVV_IDENTITY_PROVIDERS: documented)
            rows["identity_providers"].append((item.name, item.type, item.namespace, item.enabled))
        elif isinstance(item, ExternalSchema):  # schemaname, databasename (r_SVV_EXTERNAL_SCHEMAS: documented)
            rows["external_schemas"].append((item.name, item.catalog_database))
        elif isinstance(item, ExternalDatabase):  # listed as not 'local' (r_SVV_REDSHIFT_DATABASES: assumed)
            rows["external_databases"].append((item.name,))
        elif isinstance(item, DatabasePrivilege):  # a grant ON DATABASE: privilege_scope DATABASE
            # (r_SVV_DATABASE_PRIVILEGES: documented; the page's example shows TEMP, and public as "public")
            rows["database_privileges"].append((item.database, item.privilege, *grantee(item.grantee), "DATABASE"))
        elif isinstance(item, DefaultPrivilege):  # one row per privilege, object_type in the singular, schema_name
            # NULL database-wide (r_SVV_DEFAULT_PRIVILEGES: documented; NULL seen on a real cluster: netcheck-de);
            # grantee_name (in the page's sample output, read by netcheck-de and dbsystel), PUBLIC's 'public': assumed
            objects = {"TABLES": "RELATION", "FUNCTIONS": "FUNCTION", "PROCEDURES": "PROCEDURE"}[item.objects]
            rows["default_privileges"].append((item.schema or None, objects, item.creator, item.privilege,
                                               *grantee(item.grantee)))
    return rows


def _json_names(columns: Sequence[str]) -> str:
    """A masking attachment's column list as SVV_ATTACHED_MASKING_POLICY shows it: a JSON array of names, compact
    like the view's other JSON (polatts: r_SVV_RLS_POLICY)."""
    return json.dumps(list(columns), ensure_ascii=False, separators=(",", ":"))


def fake_rows(fake: FakeRedshift, *, case_sensitive: bool, user: str, superuser: bool,
              secadmin: bool) -> dict[str, list[Row]]:
    """`svv_rows` of the fake's state, with what the views show beyond it (`FakeRedshift.view_rows`: other
    databases' policies, scoped grants on a database)."""
    rows = svv_rows(fake.state(case_sensitive), user=user, superuser=superuser, secadmin=secadmin,
                    database=fake.database)
    for name, extra in fake.view_rows().items():
        rows[name] = [*rows.get(name, []), *extra]
    return rows


def cell(value: Any) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    return {"stringValue": str(value)}


@dataclass
class _Statement:
    id: str
    name: str
    sqls: tuple[str, ...]
    batch: bool
    created: float
    finish: float  # float("inf"): runs until cancelled
    status: str = "STARTED"
    abort_at: float = float("inf")  # when a CancelStatement takes effect (`cancel_delay` after it)
    error: str = ""
    failed_index: int | None = None
    results: list[list[Row] | None] = field(default_factory=list)  # per sub-statement; None: no result set


class FakeDataApi:
    """See the module docstring. `tables`/`model` say which SQL is the reconciler's read batch."""

    def __init__(self, fake: FakeRedshift, clock: SimClock, *, model: str, tables: LedgerTables | None = None,
                 batch_latency: float = 1.0, call_latency: float = 0.05, statement_latency: float = 0.0,
                 object_latency: float = 0.0, status_lag: float = 0.0, page_bytes: int = 1_000_000,
                 user: str = "admin", superuser: bool = True, secadmin: bool = True, list_lag: float = 0.0,
                 case_sensitive: bool = False, users_namespace: str | None = None, long_polling: bool = True) -> None:
        self.fake = fake
        self.meta = types.SimpleNamespace(service_model=service_model(long_polling))  # what a boto3 client has
        self.clock = clock
        self.tables = tables or LedgerTables()
        self.batch_latency = batch_latency
        self.call_latency = call_latency
        self.statement_latency = statement_latency
        self.object_latency = object_latency
        self.status_lag = status_lag
        self.page_bytes = page_bytes
        self.user = user
        self.superuser = superuser
        self.secadmin = secadmin
        self.list_lag = list_lag
        self.case_sensitive = case_sensitive
        self.users_namespace = users_namespace  # the read also holds this namespace's users (deprovision_users)
        self.calls: Counter[str] = Counter()
        self.throttle: Callable[[str, int], bool] | None = None
        self.failure: Callable[[str, int], Exception | None] | None = None
        self.stuck: Callable[[Sequence[str]], bool] | None = None
        self.latency_of: Callable[[Sequence[str]], float | None] | None = None
        self.cancel_delay = 0.0
        self.echo_sql: Callable[[str], str] | None = None
        self.refuse_repeated_tokens = False
        self.before_call: Callable[[str, dict[str, Any]], None] | None = None
        self.kill_after: int | None = None  # total call count after which `Killed` is raised
        self.kill_on: Callable[[str, dict[str, Any]], bool] | None = None  # or after a call this matches
        self.repeated_tokens = 0  # submissions answered with the statement an earlier one started
        self.statements: dict[str, _Statement] = {}
        self._tokens: dict[str, str] = {}
        self._ids = (str(uuid.UUID(int=n)) for n in itertools.count(0x5EED0000))
        queries = read_queries(self.tables, model, users_namespace=users_namespace)
        self._read_sqls = tuple(sql for _, sql in queries)
        self._read_names = tuple(name for name, _ in queries)
        self._grant_secadmin = f"GRANT ROLE {quote_ident(SECADMIN)} TO {quote_ident(user)}"

    # ----------------------------------------------------------------------------------- plumbing

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def _call(self, operation: str, params: dict[str, Any], handle: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        report = _VALIDATOR.validate(params, self.meta.service_model.operation_model(operation).input_shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
        if self.before_call is not None:
            self.before_call(operation, params)
        self.calls[operation] += 1
        self.clock.sleep(self.call_latency / 2)
        self._run_due()
        if self.throttle is not None and self.throttle(operation, self.calls[operation]):
            self.clock.sleep(self.call_latency / 2)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)
        injected = self.failure(operation, self.calls[operation]) if self.failure is not None else None
        if injected is not None:
            self.clock.sleep(self.call_latency / 2)
            raise injected
        try:
            return handle()
        finally:
            self.clock.sleep(self.call_latency / 2)
            if self.kill_after is not None and self.total_calls >= self.kill_after:
                self.kill_after = None
                raise Killed(f"killed after {operation}")
            if self.kill_on is not None and self.kill_on(operation, params):
                raise Killed(f"killed after {operation}")

    def _run_due(self) -> None:
        """Execute (or abort, when a cancel took effect first) every statement due by now, in time order."""
        due = sorted((s for s in self.statements.values()
                      if s.status == "STARTED" and min(s.finish, s.abort_at) <= self.clock.now),
                     key=lambda s: (min(s.finish, s.abort_at), s.created))
        for statement in due:
            if statement.abort_at <= statement.finish:
                statement.status = "ABORTED"
            else:
                self._execute(statement)

    def settle(self) -> None:
        """Run time on until every statement has ended and says so (one that runs until cancelled must have been)."""
        while True:
            running = [min(s.finish, s.abort_at) for s in self.statements.values() if s.status == "STARTED"]
            if not running:
                break
            assert min(running) < float("inf"), "a statement runs until cancelled and was not"
            self.clock.now = max(self.clock.now, min(running))
            self._run_due()
        if self.statements:
            self.clock.now = max(self.clock.now, max(_ended(s) for s in self.statements.values()) + self.status_lag)

    def latency(self, sqls: Sequence[str]) -> float:
        """How long a batch of `sqls` runs: per batch, per statement, per object its statements cover."""
        objects = sum(self.fake.objects_in(sql) for sql in sqls)
        return self.batch_latency + self.statement_latency * len(sqls) + self.object_latency * objects

    def _shown(self, statement: _Statement) -> str:
        """The status the API reports: running until `status_lag` after the statement ended."""
        if statement.status == "STARTED" or self.clock.now < _ended(statement) + self.status_lag:
            return "STARTED"
        return statement.status

    def _execute(self, statement: _Statement) -> None:
        if statement.sqls == self._read_sqls:
            statement.status = "FINISHED"  # its rows were taken when it started
            return
        if statement.batch and all(sql.startswith("SELECT ") for sql in statement.sqls):
            self._select_batch(statement)
            return
        sqls = list(statement.sqls)
        grants_secadmin = self._grant_secadmin in sqls
        sqls = [sql for sql in sqls if sql != self._grant_secadmin]
        try:
            if not statement.batch:
                self.fake.execute(sqls[0])
            elif sqls:
                self.fake.execute_batch(sqls)
        except RedshiftError as error:
            statement.status, statement.error = "FAILED", f"ERROR: {error}"
            statement.failed_index = error.index if statement.batch else None
            return
        if grants_secadmin:
            self.secadmin = True
        statement.status = "FINISHED"
        statement.results = [None] * len(statement.sqls)

    def _select_batch(self, statement: _Statement) -> None:
        """A batch of SELECTs the fake answers query by query; the first that fails fails the batch."""
        results: list[list[Row] | None] = []
        for index, sql in enumerate(statement.sqls, start=1):
            try:
                results.append([tuple(r) for r in self.fake.execute(sql)])
            except RedshiftError as error:
                statement.status, statement.error, statement.failed_index = "FAILED", f"ERROR: {error}", index
                return
        statement.status, statement.results = "FINISHED", results

    def _snapshot_read(self, statement: _Statement) -> None:
        """A read's rows as of its start: the ledger bootstrap, then every query."""
        bootstrap = [sql for name, sql in zip(self._read_names, self._read_sqls, strict=True)
                     if name.startswith("bootstrap_")]
        self.fake.execute_batch(bootstrap)
        svv = fake_rows(self.fake, case_sensitive=self.case_sensitive, user=self.user, superuser=self.superuser,
                        secadmin=self.secadmin)
        svv.update(self.fake.definition_rows(superuser=self.superuser))  # the catalog's text, as stored
        if self.users_namespace is not None:
            svv.update(self.fake.user_rows(self.users_namespace))
        results: list[list[Row] | None] = []
        for name, sql in zip(self._read_names, self._read_sqls, strict=True):
            if name.startswith("bootstrap_"):
                results.append(None)
            elif name in svv:
                results.append(svv[name])
            else:
                results.append([tuple(r) for r in self.fake.execute(sql)])
        statement.results = results

    def _start(self, sqls: Sequence[str], name: str, token: str, batch: bool) -> dict[str, Any]:
        if token in self._tokens:
            existing = self.statements[self._tokens[token]]
            self.repeated_tokens += 1
            if self.refuse_repeated_tokens:
                raise ClientError({"Error": {"Code": "ValidationException",
                                             "Message": "ClientToken was already used"}}, "BatchExecuteStatement")
        else:
            latency = self.latency_of(sqls) if self.latency_of is not None else None
            existing = _Statement(next(self._ids), name, tuple(sqls), batch, self.clock.now,
                                  float("inf") if self.stuck and self.stuck(sqls) else
                                  self.clock.now + (self.latency(sqls) if latency is None else latency))
            self.statements[existing.id] = existing
            self._tokens[token] = existing.id
            if existing.sqls == self._read_sqls:
                self._snapshot_read(existing)
        return {"Id": existing.id, "CreatedAt": _at(existing.created), "Database": "dev", "WorkgroupName": "wg"}

    # ---------------------------------------------------------------------------------- the API

    def batch_execute_statement(self, **params: Any) -> dict[str, Any]:
        return self._call("BatchExecuteStatement", params, lambda: self._submitted(params, params["Sqls"], True))

    def execute_statement(self, **params: Any) -> dict[str, Any]:
        return self._call("ExecuteStatement", params, lambda: self._submitted(params, [params["Sql"]], False))

    def _submitted(self, params: dict[str, Any], sqls: Sequence[str], batch: bool) -> dict[str, Any]:
        """A submission's answer; with `WaitTimeSeconds`, once the statement ended or the wait is over, with its
        status then."""
        response = self._start(sqls, params.get("StatementName", ""), params.get("ClientToken") or str(uuid.uuid4()),
                               batch)
        if params.get("WaitTimeSeconds"):
            statement = self.statements[response["Id"]]
            self._long_poll(statement, params)
            response["Status"] = self._shown(statement)
        return response

    def describe_statement(self, **params: Any) -> dict[str, Any]:
        return self._call("DescribeStatement", params, lambda: self._describe(self._long_poll(self._get(params["Id"]),
                                                                                              params)))

    def _long_poll(self, statement: _Statement, params: dict[str, Any]) -> _Statement:
        """Long polling (`WaitTimeSeconds` in `params`): time passes until the statement's status says it ended
        (`status_lag` after it did), or the wait is over; statements due meanwhile run, in time order."""
        until = self.clock.now + float(params.get("WaitTimeSeconds") or 0)
        while self._shown(statement) == "STARTED" and self.clock.now < until:
            shown = _ended(statement) + self.status_lag  # when its status will say so: inf while it runs on
            self.clock.sleep(min(until, shown) - self.clock.now)
            self._run_due()
        return statement

    def cancel_statement(self, **params: Any) -> dict[str, Any]:
        def cancel() -> dict[str, Any]:
            statement = self._get(params["Id"])
            if statement.status != "STARTED":
                return {"Status": False}
            statement.abort_at = min(statement.abort_at, self.clock.now + self.cancel_delay)
            self._run_due()
            return {"Status": True}
        return self._call("CancelStatement", params, cancel)

    def get_statement_result(self, **params: Any) -> dict[str, Any]:
        def result() -> dict[str, Any]:
            parent, _, number = params["Id"].partition(":")
            statement = self._long_poll(self._get(parent), params)
            rows = statement.results[int(number or 1) - 1] if self._shown(statement) == "FINISHED" else None
            if rows is None:
                raise ClientError({"Error": {"Code": "ResourceNotFoundException",
                                             "Message": "Query does not have result"}}, "GetStatementResult")
            start = int(params.get("NextToken") or 0)
            page: list[list[dict[str, Any]]] = []
            size, end = 0, start
            for row in rows[start:]:
                cells = [cell(v) for v in row]
                size += len(json.dumps(cells))
                if page and size > self.page_bytes:
                    break
                page.append(cells)
                end += 1
            response: dict[str, Any] = {"Records": page, "TotalNumRows": len(rows), "ColumnMetadata": []}
            if end < len(rows):
                response["NextToken"] = str(end)
            return response
        return self._call("GetStatementResult", params, result)

    def list_statements(self, **params: Any) -> dict[str, Any]:
        def listing() -> dict[str, Any]:
            prefix, status = params.get("StatementName", ""), params.get("Status", "FINISHED")
            found = [s for s in sorted(self.statements.values(), key=lambda s: -s.created)
                     if s.name.startswith(prefix) and s.created <= self.clock.now - self.list_lag
                     and (status == "ALL" or self._shown(s) == status)]
            start = int(params.get("NextToken") or 0)
            end = start + int(params.get("MaxResults") or 100)
            items = [{"Id": s.id, "StatementName": s.name, "Status": self._shown(s), "CreatedAt": _at(s.created),
                      "UpdatedAt": _at(s.created), "IsBatchStatement": s.batch,
                      **({"QueryStrings": [self._echo(q) for q in s.sqls]} if s.batch
                         else {"QueryString": self._echo(s.sqls[0])})}
                     for s in found[start:end]]
            return {"Statements": items, **({"NextToken": str(end)} if end < len(found) else {})}
        return self._call("ListStatements", params, listing)

    # ---------------------------------------------------------------------------------- helpers

    def _get(self, statement_id: str) -> _Statement:
        if statement_id not in self.statements:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "Query does not exist"}},
                              "DescribeStatement")
        return self.statements[statement_id]

    def _echo(self, sql: str) -> str:
        return self.echo_sql(sql) if self.echo_sql is not None else sql

    def _describe(self, statement: _Statement) -> dict[str, Any]:
        status = self._shown(statement)
        done = status in ("FINISHED", "FAILED", "ABORTED")
        ran = _ended(statement) - statement.created  # execution only: the status lag is not in it
        response: dict[str, Any] = {
            "Id": statement.id, "Status": status, "CreatedAt": _at(statement.created),
            "UpdatedAt": _at(self.clock.now), "Duration": int(ran * 1e9) if done else -1,
            "HasResultSet": any(r is not None for r in statement.results)}
        if statement.error:
            response["Error"] = statement.error
        if not statement.batch:
            response["QueryString"] = self._echo(statement.sqls[0])
            return response
        subs = []
        for number, sql in enumerate(statement.sqls, start=1):
            rows = statement.results[number - 1] if len(statement.results) >= number else None
            if status == "FAILED":
                sub_status = ("FINISHED" if statement.failed_index and number < statement.failed_index else
                              "FAILED" if number == statement.failed_index else "ABORTED")
            else:
                sub_status = status
            sub: dict[str, Any] = {"Id": f"{statement.id}:{number}", "Status": sub_status,
                                   "QueryString": self._echo(sql), "HasResultSet": rows is not None,
                                   "ResultRows": len(rows) if rows is not None else 0}
            if sub_status == "FAILED":
                sub["Error"] = statement.error
            subs.append(sub)
        response["SubStatements"] = subs
        return response


def _ended(statement: _Statement) -> float:
    """When a statement stopped running: it finished, or a cancel took effect first."""
    return min(statement.finish, statement.abort_at)


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# ------------------------------------------------------------------------------------ the Provider


@dataclass
class FakeS3:
    """`get_object` of the one compiled model document."""

    document: bytes

    def get_object(self, **_: Any) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.document)}


@dataclass
class Context:
    aws_request_id: str


@dataclass
class RequestRun:
    complete: bool
    invocations: int  # on_event included
    result: dict[str, Any] | None = None
    error: str = ""


@dataclass
class ProviderDriver:
    """CloudFormation plus the Provider framework: on_event, then is_complete every `query_interval` s."""

    api: FakeDataApi
    clock: SimClock
    query_interval: float = 10.0
    identitystore: Any = None  # the identity store client is_complete gets (deprovision_users)
    secretsmanager: Any = None  # the Secrets Manager client is_complete gets (identity provider secrets)
    invocations: int = 0
    killed: int = 0
    # What the handlers get instead of the double and the clock (a recorder, for the benchmark), and
    # hooks around every is_complete invocation: before(event, context id, document), after().
    client: Any = None
    handler_clock: Any = None
    before: Callable[[dict[str, Any], str, bytes], None] | None = None
    after: Callable[[], None] | None = None

    def run(self, event: dict[str, Any], document: bytes | None, *, max_invocations: int = 1000,
            kills: Iterable[int] = (), between: Callable[[], None] | None = None) -> RequestRun:
        """One request to the end. `kills`: total Data API call counts after which an invocation dies;
        the driver then calls is_complete again with the same event (what the test of interrupts wants)."""
        from redshift_idc.runtime.custom_resource import CustomResourceError
        from redshift_idc.runtime.data_api import DataApi, Target
        from redshift_idc.runtime.reconcile_handler import is_complete, on_event

        pending_kills = sorted(kills)
        clock = self.handler_clock or self.clock
        merged = {**event, **on_event(event, clock=clock)}
        self.invocations += 1
        count = 1
        props = event["ResourceProperties"]
        api = DataApi(Target(props["WorkgroupName"], props["Database"], props["SecretArn"]), self.client or self.api)
        s3 = FakeS3(document or b"{}")
        while count < max_invocations:
            while pending_kills and pending_kills[0] <= self.api.total_calls:
                pending_kills.pop(0)
            self.api.kill_after = pending_kills.pop(0) if pending_kills else None
            self.invocations += 1
            count += 1
            context_id = f"invocation-{self.invocations:05d}"
            if self.before is not None:
                self.before(merged, context_id, s3.document)
            try:
                result = is_complete(merged, Context(context_id), api=api, s3=s3, clock=clock,
                                     identitystore=self.identitystore, secretsmanager=self.secretsmanager)
            except Killed:
                self.killed += 1
                self.clock.sleep(self.query_interval)
                continue
            except CustomResourceError as error:
                return RequestRun(False, count, error=str(error))
            finally:
                self.api.kill_after = None
                if self.after is not None:
                    self.after()
            if result["IsComplete"]:
                return RequestRun(True, count, result)
            if between is not None:
                between()
            self.clock.sleep(self.query_interval)
        return RequestRun(False, count, error="too many invocations")


def resource_properties(model: str, *, workgroup: str, namespace: str, model_hash: str = "") -> dict[str, Any]:
    """The `Custom::AccessModel` properties the construct sets, for a simulated warehouse."""
    properties = {
        "WorkgroupName": workgroup, "NamespaceName": namespace, "Database": "dev",
        "SecretArn": f"arn:aws:secretsmanager:us-east-1:111111111111:secret:{workgroup}-AbCdEf", "ModelName": model,
        "LedgerSchema": "redshift_idc", "Prune": "false", "CaseSensitive": "false", "RemovalPolicy": "destroy",
        "ModelBucket": "cdk-assets", "ModelKey": "model.json",
    }
    return {**properties, "ModelHash": model_hash} if model_hash else properties


def cfn_event(request_type: str, properties: dict[str, Any], *, request_id: str, physical_id: str | None = None,
              old: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request_type, "RequestId": request_id, "ResourceType": "Custom::AccessModel",
        "LogicalResourceId": "AccessModel", "ResourceProperties": dict(properties),
        "StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/access/0a1b2c3d"}
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old is not None:
        event["OldResourceProperties"] = dict(old)
    return event

"""The run: refuse a workgroup that is not a scratch one, deploy the conformance model twice as the reconciler
would (ledger, fence, the planner's statements in its steps), read back every catalog query, ask the probes,
and clean up everything, whatever happened. `record` returns the recording (`conformance/__init__.py` documents
its format); nothing here writes a file or prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from redshift_idc.deployed.conformance.objects import (
    EXTRAS_MODEL,
    LEDGER,
    MODEL,
    PREFIX,
    USERS_NAMESPACE,
    Extras,
    extras_model,
    first_model,
    second_model,
    setup_sql,
    tables_declared,
    teardown_sql,
)
from redshift_idc.deployed.conformance.probes import Probe, batch_size_probe, probes, run_probe
from redshift_idc.deployed.conformance.session import Session, StuckError, statement_kind
from redshift_idc.runtime import fence
from redshift_idc.runtime.access_state import AccessState, recorded_fingerprint
from redshift_idc.runtime.catalog import identity_queries, other_ledger_queries, parse_snapshot, read_queries
from redshift_idc.runtime.catalog_import import column_queries, definition_queries, ledger_table_query
from redshift_idc.runtime.catalog_rows import with_lists
from redshift_idc.runtime.ledger import MAX_BATCH_STATEMENTS, steps
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.plan_types import Ledger
from redshift_idc.runtime.planning.scope import Scope, is_system_role
from redshift_idc.runtime.reconcile_handler import model_document
from redshift_idc.runtime.reconcile_request import statement_token
from redshift_idc.runtime.users import user_queries

FORMAT = "redshift-idc-conformance"
VERSION = 1
Rows = dict[str, list[tuple[Any, ...]]]
# What a new workgroup's database holds besides the admin: these schemas (and pg_* ones), Redshift's own roles
# (`sys:`, `ds:`) and the internal superuser.
SCRATCH_SCHEMAS = frozenset({"public", "information_schema", "catalog_history"})
SCRATCH_USERS = frozenset({"rdsdb"})
SCRATCH_QUERIES: tuple[tuple[str, str], ...] = (
    ("scratch_schemas", "SELECT schema_name FROM svv_all_schemas WHERE database_name = current_database()"),
    ("scratch_tables", "SELECT table_schema, table_name FROM svv_tables WHERE table_catalog = current_database()"),
    ("scratch_users", "SELECT user_name FROM svv_user_info"),
)
VERSION_QUERY = "SELECT version()"


def ours(name: object) -> bool:
    """A name the recorder gives (its own leftovers are not another's objects)."""
    return str(name).lower().startswith(PREFIX)


class NotScratchError(Exception):
    """The database holds objects a new workgroup does not have: the recorder would work next to them."""


class RecorderError(Exception):
    """A read the recorder cannot do without (the scratch check, the deploy's read)."""


def read_set() -> list[tuple[str, str]]:
    """Every catalog query the reconciler, `verify`, `snapshot` and `import` send, by name (each once): the
    reconciler's read with the users of `deprovision_users` and the fence row, the identity and definition
    queries, the ledger probe, the columns of the recorder's tables and the other-ledger models."""
    queries = [*read_queries(LEDGER, MODEL, bootstrap=False, users_namespace=USERS_NAMESPACE),
               ("fence", fence.select_sql(LEDGER, MODEL)), *identity_queries(), *definition_queries(),
               *user_queries(USERS_NAMESPACE), ledger_table_query(LEDGER.schema),
               *column_queries(tables_declared()), *other_ledger_queries([LEDGER.schema])]
    return list(dict(queries).items())


class Recorder:
    """One recording run over a `Session`; `now_ms` stamps the fence claims (epoch milliseconds)."""

    def __init__(self, session: Session, extras: Extras, now_ms: Callable[[], int] | None = None) -> None:
        self.session = session
        self.extras = extras
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.admin = ""
        self.fences: dict[str, tuple[str, int]] = {}  # model -> its request's token and last committed step
        self.deploys: list[dict[str, Any]] = []

    # ------------------------------------------------------------------------------------------ reads

    def read(self, queries: Sequence[tuple[str, str]], phase: str = "read") -> Rows:
        """The rows of each query, in batches of at most 40 SELECTs; RecorderError if one fails."""
        rows: Rows = {}
        for start in range(0, len(queries), MAX_BATCH_STATEMENTS):
            chunk = list(queries[start:start + MAX_BATCH_STATEMENTS])
            outcome = self.session.batch([sql for _, sql in chunk], phase)
            if not outcome.ok:
                name = chunk[(outcome.failed_index or 1) - 1][0]
                raise RecorderError(f"reading the catalog failed at query {name!r}: {outcome.error}")
            for (name, _), found in zip(chunk, outcome.rows, strict=False):
                rows[name] = list(found or [])
        return rows

    def read_named(self, names: Sequence[str]) -> Rows:
        wanted = set(names)
        return self.read([(n, q) for n, q in read_set() if n in wanted], "probe-read")

    def scratch_check(self, force: bool) -> dict[str, Any]:
        """What the database holds beyond a new workgroup's objects (and the recorder's own leftovers); raises
        NotScratchError unless `force`."""
        rows = self.read([*SCRATCH_QUERIES, *[(n, q) for n, q in read_queries(LEDGER, MODEL, bootstrap=False)
                                               if n in ("whoami", "roles")]], "scratch-check")
        whoami = rows.get("whoami") or [("", False)]
        self.admin = str(whoami[0][0] or "")
        schemas = sorted({str(s) for (s,) in rows.get("scratch_schemas", [])
                          if str(s) not in SCRATCH_SCHEMAS and not str(s).startswith("pg_") and not ours(s)})
        tables = sorted({f"{s}.{t}" for s, t in rows.get("scratch_tables", [])
                         if str(s) not in SCRATCH_SCHEMAS - {"public"} and not str(s).startswith("pg_")
                         and not ours(s)})
        roles = sorted({str(r) for (r,) in rows.get("roles", []) if not is_system_role(str(r)) and not ours(r)})
        users = sorted({str(u) for (u,) in rows.get("scratch_users", []) if str(u) not in SCRATCH_USERS | {self.admin}})
        found = {"schemas": schemas, "tables": tables, "roles": roles, "users": users}
        leftovers = any(ours(name) for name, *_ in [*rows.get("roles", []), *rows.get("scratch_schemas", [])])
        if any(found.values()) and not force:
            listed = "; ".join(f"{kind}: {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}"
                               for kind, names in found.items() if names)
            raise NotScratchError(
                f"this database is not a scratch one: it holds {listed}. The recorder creates, grants, attaches and "
                f"drops objects (all named {PREFIX}...); run it on the database of a new workgroup, or pass --force "
                "if these objects may sit next to it")
        return {"found": found, "forced": bool(force and any(found.values())), "leftovers": leftovers}

    # ------------------------------------------------------------------------------------------ deploys

    def prepare(self) -> bool:
        """The scratch schema and tables, the ledger tables, and the fence row claimed by a first request."""
        ok = self.session.batch(setup_sql(), "setup").ok
        return ok and self.session.batch(LEDGER.bootstrap_sql(), "ledger").ok

    def _claim(self, model: str) -> bool:
        """Make a new request the model's current one (its fence row), as each deploy's first invocation does."""
        token = statement_token(f"conformance:{model}:{len(self.deploys)}:{self.now_ms()}")
        current = self.fences.get(model)
        guard = fence.guard_sql(LEDGER, model, *(current or (None, None)))
        outcome = self.session.batch([guard, fence.claim_sql(LEDGER, model, token, self.now_ms(),
                                                             row_exists=current is not None)], "fence")
        if outcome.ok:
            self.fences[model] = (token, 0)
        return outcome.ok

    def deploy(self, desired: AccessState, label: str, model: str = MODEL, *, coalesce: bool = True) -> bool:
        """Read, plan and apply `desired` as the reconciler does: each step fenced, lone statements announced
        by an intent first. Records the plan's statements and the first failure. `coalesce`: statements for many
        objects, as deploys send them by default; off, one statement per object (`coalesce_statements: false`)."""
        if not self._claim(model):
            self.deploys.append({"label": label, "ok": False, "error": "claiming the fence row failed"})
            return False
        token, seq = self.fences[model]
        snapshot = parse_snapshot(self.read(read_queries(LEDGER, model, bootstrap=False), "plan-read"))
        try:
            planned = plan(desired, snapshot.state, snapshot.ledger, definitions=snapshot.definitions,
                           stored=snapshot.stored_hashes(), owners=snapshot.owners,
                           scope=Scope(frozenset(tables_declared())), coalesce=coalesce)
        except ValueError as error:  # the planner's refusals (OwnershipError, a group too large) are evidence too
            self.deploys.append({"label": label, "ok": False, "error": f"the planner refused: {error}"})
            return False
        record: dict[str, Any] = {"label": label, "statements": [s.sql for s in planned.statements], "ok": True}
        self.deploys.append(record)
        for step in steps(planned, model, LEDGER):
            objects = sum(len(s.ledger_add) + len(s.ledger_remove) for s in step.statements)
            if step.statement is not None:
                intent = fence.intent_sql(LEDGER, model, seq + 1, f"conformance-{label}", self.now_ms() + 900_000)
                outcome = self.session.batch([fence.guard_sql(LEDGER, model, token, seq), intent], "fence")
                if outcome.ok:
                    seq += 1
                    outcome = self.session.alone(step.statement.executable_sql(), label, objects)
            else:
                sqls = [fence.guard_sql(LEDGER, model, token, seq), *step.sqls,
                        fence.advance_sql(LEDGER, model, seq + 1)]
                outcome = self.session.batch(sqls, label, objects)
                if outcome.ok:
                    seq += 1
            self.fences[model] = (token, seq)
            if not outcome.ok:
                # A batch's index counts the fence guard first; a lone statement has none.
                index = outcome.failed_index
                failed = (step.statement.sql if step.statement is not None and index is None
                          else step.sqls[index - 2] if index is not None and 2 <= index <= len(step.sqls) + 1
                          else None)
                record.update(ok=False, error=outcome.error, failed_sql=failed)
                return False
        return True

    # ------------------------------------------------------------------------------------------ cleanup

    def left_behind(self) -> list[str]:
        """What cleanup could not remove, read once more after it."""
        roles = [(n, q) for n, q in read_set() if n in ("roles", "rls_policy_definitions", "masking_policy_definitions",
                                                         "identity_provider_definitions", "external_databases",
                                                         "default_privileges")]
        try:
            return _left_behind(self.read([SCRATCH_QUERIES[0], *roles], "cleanup-check"))
        except (ClientError, BotoCoreError, StuckError, RecorderError) as error:
            return [f"unknown: the check after cleanup failed ({type(error).__name__}: {error})"]

    def cleanup(self, probe_list: Sequence[Probe] = ()) -> list[dict[str, Any]]:
        """Remove everything the recorder may have made, each statement alone, failures recorded and passed over:
        the planner's removal of both models' objects and the probes' roles (as if the ledger held all of them),
        then the schemas with what is left in them."""
        everything = AccessState.of([*first_model(self.admin), *second_model(self.admin), *extras_model(self.extras),
                                     *extras_model(self.extras, second=True),
                                     *(item for p in probe_list for item in p.objects)])
        ledger: Ledger = {(item.KIND, item.key()): recorded_fingerprint(item) for item in everything}
        removal = plan(AccessState(), everything, ledger)
        errors: list[dict[str, Any]] = []
        for sql in [*(s.executable_sql() for s in removal.statements), *teardown_sql()]:
            try:  # one statement's failure, of Redshift or of the Data API, never stops the others
                outcome = self.session.alone(sql, "cleanup")
            except (ClientError, BotoCoreError, StuckError) as error:
                errors.append({"sql": sql, "error": f"{type(error).__name__}: {error}"})
                continue
            if not outcome.ok:
                errors.append({"sql": sql, "error": outcome.error})
        return errors


def _cell(value: Any) -> Any:
    """A cell as JSON holds it (the Data API returns str, int, float, bool or None; anything else as text)."""
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


def _left_behind(read: Rows) -> list[str]:
    """The recorder's schemas, roles, policies, providers, databases and default privileges a read still shows."""
    rows = with_lists(read)  # the policies and providers, listed by their definition queries
    names = [f"schema {s[0]}" for s in rows.get("scratch_schemas", [])]
    names += [f"role {r[0]}" for r in rows.get("roles", [])]
    # The policy views' rows carry their database (poldb, policy_database) after the name: any database counts.
    names += [f"RLS policy {p[0]}" for p in rows.get("rls_policies", [])]
    names += [f"masking policy {p[0]}" for p in rows.get("masking_policies", [])]
    names += [f"identity provider {p[0]}" for p in rows.get("identity_providers", [])]
    names += [f"database {d[0]}" for d in rows.get("external_databases", [])]
    # schema_name, object_type, owner_name, privilege_type, grantee_name, grantee_type: its schema or grantee is ours
    names += [f"default privilege {d[3]} on {d[1]} in {d[0] or 'the database'} for {d[4]}"
              for d in rows.get("default_privileges", []) if len(d) > 4]
    return sorted(name for name in names if PREFIX in name.lower())


def covered_forms(deploys: Sequence[dict[str, Any]]) -> list[str]:
    """The statement forms the deploys applied (names and values left out), sorted."""
    return sorted({statement_kind(sql) for deploy in deploys for sql in deploy.get("statements", [])})


def record(session: Session, extras: Extras, *, force: bool, source: str, database: str, region: str,
           now_ms: Callable[[], int] | None = None) -> dict[str, Any]:
    """One recording (see the package docstring). Raises NotScratchError (before changing anything) or
    RecorderError; everything created is removed in any case."""
    recorder = Recorder(session, extras, now_ms)
    scratch = recorder.scratch_check(force)
    probe_list = probes(extras, recorder.admin)
    recording: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "source": source, "database": database, "region": region,
        "read_as": recorder.admin, "flags": extras.flags(), "scratch_check": scratch,
    }
    if scratch["leftovers"]:
        recording["leftovers_removed"] = recorder.cleanup(probe_list)
    try:
        version = session.alone(VERSION_QUERY, "version")
        recording["redshift_version"] = str(version.rows[0][0][0]) if version.ok and version.rows and version.rows[0] \
            else None
        applied = recorder.prepare()
        applied = applied and recorder.deploy(first_model(recorder.admin), "deploy-1")
        # The first deploy sends statements for many objects, the second one per object: both forms recorded.
        applied = applied and recorder.deploy(second_model(recorder.admin), "deploy-2", coalesce=False)
        if any(extras.flags().values()):
            applied = applied and recorder.deploy(extras_model(extras), "extras-1", EXTRAS_MODEL)
            applied = applied and recorder.deploy(extras_model(extras, second=True), "extras-2", EXTRAS_MODEL)
        recording["model_applied"] = applied
        recording["deploys"] = recorder.deploys
        recording["covered_forms"] = covered_forms(recorder.deploys)
        queries = read_set()
        rows = recorder.read(queries)
        # Rows sorted (as `snapshot` writes them): no query's meaning depends on their order, and a file that
        # does not change from run to run diffs well.
        recording["reads"] = {name: {"sql": sql, "rows": sorted(([_cell(c) for c in r] for r in rows.get(name, [])),
                                                                key=lambda r: json.dumps(r, sort_keys=True))}
                              for name, sql in queries}
        recording["model"] = {
            "name": MODEL, "ledger_schema": LEDGER.schema, "users_namespace": USERS_NAMESPACE,
            "document": json.loads(model_document(second_model(recorder.admin), [],
                                                  scope=Scope(frozenset(tables_declared()))))}
        recording["probes"] = [run_probe(session, p, recorder.read_named) for p in probe_list]
        recording["batch_size"] = batch_size_probe(session)
    finally:
        # Once more for what a first pass could not remove (a statement that failed transiently, a role whose
        # revoke failed): the second pass finds it in the same order.
        errors = recorder.cleanup(probe_list)
        left = recorder.left_behind()
        if left:
            errors += recorder.cleanup(probe_list)
            left = recorder.left_behind()
        recording.update(cleanup_errors=errors, left_behind=left, calls=session.calls)
    return scrubbed(recording, extras)


def scrubbed(recording: dict[str, Any], extras: Extras) -> dict[str, Any]:
    """The recording with every resource the caller named replaced by a placeholder (ARNs name an account)."""
    text = json.dumps(recording, sort_keys=True, ensure_ascii=False)
    for value, placeholder in sorted(extras.placeholders().items(), key=lambda kv: -len(kv[0])):
        text = text.replace(json.dumps(value, ensure_ascii=False)[1:-1], placeholder)
    result: dict[str, Any] = json.loads(text)
    return result

"""One owner per object, end to end: two access models on one `tests/fake_redshift.py` warehouse, each deployed
through the real handlers (`tests/fake_data_api.py`'s ProviderDriver), and the reports (`drift`, `plan
--snapshot`) on the same warehouse. The planner's rules one by one are in tests/test_ownership.py.

Rows "written by an earlier version" are ledger rows inserted directly: what a model that adopted another
model's object recorded before the rule existed. Only names that existed before the rule are imported, so this
file runs against earlier versions too (where each of these tests fails).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from redshift_idc.access.checked import model_for
from redshift_idc.access.model import CompiledAccess, load_scripts
from redshift_idc.access.scripts import script_entry
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.deployed.drift import ERROR, IN_SYNC, drift_command
from redshift_idc.deployed.snapshot import snapshot_command
from redshift_idc.review.plan_report import snapshot_plan
from redshift_idc.runtime.access_state import AccessState, LedgerEntry, Role, SchemaPrivilege, TablePrivilege
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.plan_types import Ledger
from redshift_idc.runtime.reconcile_handler import model_document
from tests.fake_catalog import CatalogDataApi
from tests.fake_data_api import FakeDataApi, ProviderDriver, RequestRun, SimClock, cfn_event, resource_properties
from tests.fake_redshift import FakeRedshift

WORKGROUP, NAMESPACE = "shared-wg", "shared-ns"
ANALYSTS, AUDITORS = Role("analysts"), Role("auditors")
USAGE = SchemaPrivilege("sales", "USAGE", "analysts")
SELECT = TablePrivilege("sales", "orders", "SELECT", "analysts")


def state(*items: Any) -> AccessState:
    return AccessState.of(items)


def key_of(item: Any) -> tuple[str, tuple[str, ...]]:
    return (item.KIND, item.key())


# --- two models on one warehouse, through the handlers -------------------------------------------------


class Warehouse:
    """One fake warehouse and one Provider per (model, ledger schema), in one simulated clock."""

    def __init__(self) -> None:
        self.fake = FakeRedshift()
        self.clock = SimClock()
        self.drivers: dict[tuple[str, str], ProviderDriver] = {}
        self.requests = 0

    def request(self, model: str, request_type: str, desired: AccessState | None, *, prune: bool = False,
                schema: str = "redshift_idc", scripts: list[Any] | None = None) -> RequestRun:
        self.requests += 1
        driver = self.drivers.get((model, schema))
        if driver is None:
            api = FakeDataApi(self.fake, self.clock, model=model, tables=LedgerTables(schema))
            driver = self.drivers[(model, schema)] = ProviderDriver(api, self.clock)
        properties = {**resource_properties(model, workgroup=WORKGROUP, namespace=NAMESPACE,
                                            model_hash=f"hash-{self.requests}"),
                      "Prune": str(prune).lower(), "LedgerSchema": schema}
        event = cfn_event(request_type, properties, request_id=f"request-{self.requests:03d}",
                          physical_id=None if request_type == "Create" else f"access-model:{WORKGROUP}/dev/{model}")
        document = model_document(desired, scripts or []).encode("utf-8") if desired is not None else None
        return driver.run(event, document, max_invocations=50)

    def record(self, model: str, *items: Any) -> None:
        """Ledger rows as an earlier version wrote them when `model` adopted objects another model had made."""
        self.fake.execute_batch([LedgerTables().insert_sql(model, [LedgerEntry(*key_of(i)) for i in items])])

    def seen(self) -> tuple[AccessState, Ledger, Ledger]:
        return self.fake.state(), self.fake.ledger("one"), self.fake.ledger("two")


def names(current: AccessState) -> set[tuple[str, tuple[str, ...]]]:
    return {key_of(item) for item in current}


ONE = state(ANALYSTS, USAGE)


def test_a_model_declaring_a_role_another_model_made_fails_naming_both_and_changes_nothing() -> None:
    warehouse = Warehouse()
    assert warehouse.request("one", "Create", ONE).complete
    before = warehouse.seen()
    committed = len(warehouse.fake.committed_batches)
    run = warehouse.request("two", "Create", state(ANALYSTS, AUDITORS, SchemaPrivilege("sales", "USAGE", "auditors")))
    assert not run.complete
    assert "access model 'two': this model declares 1 object(s) that another access model manages: role analysts " \
           "(access model 'one')" in run.error
    assert warehouse.seen() == before  # no role, no grant, no ledger row, for either model
    # Nothing but the read's idempotent ledger bootstrap and the request's claim of its fence row ran.
    assert all((sql.startswith("CREATE ") and " IF NOT EXISTS " in sql) or '"apply_fence"' in sql
               for batch in warehouse.fake.committed_batches[committed:] for sql in batch)


def test_a_refused_model_changes_nothing_even_with_a_pending_script() -> None:
    """A removal that would take another model's grant along is found by the plan: before any script runs."""
    warehouse = Warehouse()
    assert warehouse.request("one", "Create", ONE).complete
    warehouse.fake.execute('GRANT SELECT ON TABLE "sales"."orders" TO ROLE "analysts"')
    warehouse.record("two", SELECT)
    before = warehouse.seen()
    script = script_entry("001_role.sql", 'CREATE ROLE "from_script";')
    run = warehouse.request("one", "Update", state(), scripts=[script])
    assert not run.complete and "by dropping role analysts" in run.error
    assert warehouse.seen() == before and Role("from_script").key() not in warehouse.fake.state().of_kind("role")


def test_dropping_a_role_another_models_grant_names_fails_and_keeps_both() -> None:
    warehouse = Warehouse()
    assert warehouse.request("one", "Create", ONE).complete
    warehouse.fake.execute('GRANT SELECT ON TABLE "sales"."orders" TO ROLE "analysts"')
    warehouse.record("two", SELECT)
    run = warehouse.request("one", "Update", state(AUDITORS))
    assert not run.complete
    assert ("table_privilege sales.orders.SELECT.analysts (access model 'two', by dropping role analysts)"
            in run.error)
    assert {key_of(ANALYSTS), key_of(SELECT)} <= names(warehouse.fake.state())
    assert key_of(AUDITORS) not in names(warehouse.fake.state())  # refused before anything was applied


def test_deleting_one_model_does_not_drop_a_role_the_other_model_also_recorded() -> None:
    """Two owners from an earlier version: the Delete releases its row, the role stays with the other model."""
    warehouse = Warehouse()
    assert warehouse.request("one", "Create", ONE).complete
    warehouse.record("two", ANALYSTS)
    run = warehouse.request("one", "Delete", None)
    assert run.complete, run.error
    current, ledger_one, ledger_two = warehouse.seen()
    assert key_of(ANALYSTS) in names(current) and key_of(USAGE) not in names(current)  # its own grant went
    assert ledger_one == {} and set(ledger_two) == {key_of(ANALYSTS)}


def test_deleting_a_pruning_model_does_not_drop_what_the_other_model_owns() -> None:
    warehouse = Warehouse()
    assert warehouse.request("one", "Create", ONE, prune=True).complete
    two = state(AUDITORS, SchemaPrivilege("sales", "USAGE", "auditors"))
    assert warehouse.request("two", "Create", two).complete
    run = warehouse.request("one", "Delete", None, prune=True)
    assert run.complete, run.error
    current, ledger_one, ledger_two = warehouse.seen()
    assert names(current) == names(two) and ledger_one == {} and set(ledger_two) == names(two)


def test_prune_on_the_second_model_does_not_remove_the_first_models_objects() -> None:
    warehouse = Warehouse()
    assert warehouse.request("one", "Create", ONE).complete
    warehouse.fake.execute('CREATE ROLE "by hand"')
    two = state(AUDITORS)
    run = warehouse.request("two", "Create", two, prune=True)
    assert run.complete, run.error
    assert names(warehouse.fake.state()) == names(ONE) | names(two)  # the hand-made role was pruned, ONE's stay
    assert set(warehouse.fake.ledger("one")) == names(ONE)


def test_a_second_ledger_schema_in_the_database_fails_the_deploy_naming_it() -> None:
    warehouse = Warehouse()
    assert warehouse.request("one", "Create", ONE).complete
    run = warehouse.request("two", "Create", state(AUDITORS), schema="two_ledger")
    assert not run.complete
    assert ("access model 'two': this database also keeps access model ledgers in schema \"redshift_idc\" (access "
            "model(s) 'one'), while this model keeps its ledger in schema \"two_ledger\"") in run.error
    assert "must use the same ledger_schema" in run.error
    assert key_of(AUDITORS) not in names(warehouse.fake.state())
    # CloudFormation rolls the refused Create back: its Delete has nothing to remove and completes, and the
    # ledger tables the refused read left behind (empty) refuse no other model's deploy.
    assert warehouse.request("two", "Delete", None, schema="two_ledger").complete
    run = warehouse.request("one", "Update", state(ANALYSTS, USAGE, AUDITORS))
    assert run.complete, run.error
    assert key_of(AUDITORS) in names(warehouse.fake.state())


def test_the_first_model_is_refused_too_once_the_second_schema_holds_rows() -> None:
    warehouse = Warehouse()
    assert warehouse.request("one", "Create", ONE).complete
    other = LedgerTables("two_ledger")
    warehouse.fake.execute_batch([*other.bootstrap_sql(),
                                  other.insert_sql("two", [LedgerEntry(*key_of(AUDITORS))])])
    run = warehouse.request("one", "Update", state(ANALYSTS))
    assert not run.complete and "schema \"two_ledger\" (access model(s) 'two')" in run.error
    assert names(warehouse.fake.state()) == names(ONE)  # USAGE was not revoked


# --- the reports: drift (plan --live) and plan --snapshot --------------------------------------------------

ENV = "dev"
CONFIG = load_environment(ENV)
compiled = model_for(CONFIG)
MODEL, DESIRED = compiled.model, compiled.desired
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{CONFIG.account}:secret:redshift!dev-admin-AbCdEf"


def deployed() -> FakeRedshift:
    """The dev environment's model deployed, with its scripts recorded (the drift report then shows none)."""
    fake = FakeRedshift()
    tables = LedgerTables(MODEL.ledger_schema)
    fake.apply(plan(DESIRED, AccessState(case_sensitive=DESIRED.case_sensitive), {}, prune=MODEL.prune),
               MODEL.name, tables)
    fake.execute_batch([tables.record_script_sql(MODEL.name, s["Name"], s["Checksum"]) for s in load_scripts(MODEL)])
    return fake


def drift(fake: FakeRedshift) -> tuple[int, str, str]:
    clock = SimClock()
    out, err = io.StringIO(), io.StringIO()
    code = drift_command(ENV, SECRET_ARN, None, client=CatalogDataApi(fake, clock), sleep=clock.sleep, out=out,
                         err=err)
    return code, out.getvalue(), err.getvalue()


def a_declared_role() -> Role:
    return next(item for item in DESIRED if isinstance(item, Role))


def test_drift_is_in_sync_on_its_own_warehouse() -> None:
    """The control: the reports below fail because of the other model, not because of the setup."""
    code, out, err = drift(deployed())
    assert (code, err) == (IN_SYNC, ""), out


def test_drift_reports_a_declared_object_another_model_manages_as_the_deploy_would() -> None:
    fake = deployed()
    role = a_declared_role()
    fake.execute_batch([LedgerTables().insert_sql("other", [LedgerEntry(*key_of(role))])])
    code, out, err = drift(fake)
    assert (code, out) == (ERROR, "")
    assert f"access model '{MODEL.name}': this model declares 1 object(s) that another access model manages: " \
           f"role {role.key()[0]} (access model 'other')" in err


def test_drift_counts_what_other_models_manage_when_prune_would_skip_it(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = deployed()
    fake.execute_batch(['CREATE ROLE "theirs"', LedgerTables().insert_sql("other", [LedgerEntry("role", ("theirs",))])])
    monkeypatch.setattr("redshift_idc.deployed.drift.model_for",
                        lambda config: CompiledAccess(MODEL.model_copy(update={"prune": True}), DESIRED, None))
    code, out, err = drift(fake)
    assert (code, err) == (IN_SYNC, "")
    assert out.endswith("; 1 object(s) other access models manage left to them\n")


def test_drift_reports_a_second_ledger_schema() -> None:
    fake = deployed()
    other = LedgerTables("team_ledger")
    fake.execute_batch([*other.bootstrap_sql(), other.insert_sql("team", [LedgerEntry("role", ("theirs",))])])
    code, out, err = drift(fake)
    assert (code, out) == (ERROR, "")
    assert "schema \"team_ledger\" (access model(s) 'team')" in err and "must use the same ledger_schema" in err


def take_snapshot(fake: FakeRedshift, path: Path) -> None:
    clock = SimClock()
    out, err = io.StringIO(), io.StringIO()
    code = snapshot_command(ENV, SECRET_ARN, None, path, client=CatalogDataApi(fake, clock), sleep=clock.sleep,
                            out=out, err=err)
    assert code == 0, err.getvalue()


def test_plan_snapshot_sees_the_other_models_rows_and_fails_like_the_deploy(tmp_path: Path) -> None:
    fake = deployed()
    role = a_declared_role()
    take_snapshot(fake, tmp_path / "alone.json")
    assert "-- against the snapshot: 0 statement(s)" in snapshot_plan(CONFIG, tmp_path / "alone.json")
    fake.execute_batch([LedgerTables().insert_sql("other", [LedgerEntry(*key_of(role))])])
    take_snapshot(fake, tmp_path / "shared.json")
    rows = json.loads((tmp_path / "shared.json").read_text(encoding="utf-8"))["rows"]
    assert rows["other_ledgers"] == [["other", "role", json.dumps(list(role.key()), ensure_ascii=False,
                                                                  separators=(",", ":"))]]
    with pytest.raises(ConfigError, match=f"access model '{MODEL.name}': this model declares 1 object"):
        snapshot_plan(CONFIG, tmp_path / "shared.json")


def test_plan_snapshot_refuses_a_second_ledger_schema(tmp_path: Path) -> None:
    fake = deployed()
    other = LedgerTables("team_ledger")
    fake.execute_batch([*other.bootstrap_sql(), other.insert_sql("team", [LedgerEntry("role", ("theirs",))])])
    take_snapshot(fake, tmp_path / "catalog.json")
    with pytest.raises(ConfigError, match="schema \"team_ledger\" \\(access model\\(s\\) 'team'\\)"):
        snapshot_plan(CONFIG, tmp_path / "catalog.json")


def test_a_snapshot_of_an_earlier_version_is_planned_with_a_warning(tmp_path: Path) -> None:
    take_snapshot(deployed(), tmp_path / "catalog.json")
    document = json.loads((tmp_path / "catalog.json").read_text(encoding="utf-8"))
    del document["rows"]["other_ledgers"]
    (tmp_path / "catalog.json").write_text(json.dumps(document), encoding="utf-8")
    assert "holds no other access model's ledger rows" in snapshot_plan(CONFIG, tmp_path / "catalog.json")

"""Policy text drift: a managed policy edited by hand is drift, `drift` shows it, the next deploy undoes it.

The ledger row of a policy records the hash of the policy's text as the catalog stores it, read after our
CREATE/ALTER (`stored=pending` until then); each read compares the catalog's text with that hash in plain
Python. The scenarios run the real handlers (`ProviderDriver`) and the real `drift` command against
`tests/fake_redshift.py`, whose catalog keeps each policy's text as Redshift stores it; the model is the dev
environment's, pointed at a small model with one RLS and one masking policy.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc import project
from redshift_idc.access.checked import model_for
from redshift_idc.config.environment import load_environment
from redshift_idc.deployed.drift import DRIFT, IN_SYNC, drift_command
from redshift_idc.runtime.access_state import (
    STORED_PENDING,
    AccessState,
    LedgerEntry,
    MaskingPolicy,
    RlsAttachment,
    RlsPolicy,
    Role,
    policy_parts,
    recorded_fingerprint,
)
from redshift_idc.runtime.catalog import parse_snapshot, read_queries
from redshift_idc.runtime.catalog_import import stored_texts
from redshift_idc.runtime.ledger import LedgerTables, transactional_batches
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.plan_types import Plan, Statement, TextDrift
from redshift_idc.runtime.reconcile_handler import model_document
from tests.fake_catalog import CatalogDataApi
from tests.fake_data_api import (
    FakeDataApi,
    ProviderDriver,
    RequestRun,
    SimClock,
    cfn_event,
    resource_properties,
    svv_rows,
)
from tests.fake_redshift import FakeRedshift, RedshiftError

ROOT = Path(__file__).resolve().parent.parent
ENV = "dev"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:333333333333:secret:analytics-dev-admin-AbCdEf"
MODEL_TEXT = """\
tables:
  public.orders: [order_id, region, email]
roles:
  idc_groups: [amer-sales, exec-global]
table_grants:
  - {tables: [public.orders], privileges: [SELECT], to: [amer-sales, exec-global]}
rls:
  policies:
    - name: p
      with: {region: VARCHAR(16)}
      using: region = 'AMER'
      attach: [{table: public.orders, to: [amer-sales]}]
  tables: [{table: public.orders}]
  ignore_rls: [exec-global]
masking:
  policies:
    - name: m
      with: {email: VARCHAR(256)}
      using: "'***'::VARCHAR(256)"
      attach: [{table: public.orders, columns: [email], to: amer-sales, priority: 10}]
"""
RLS_KEY = (RlsPolicy.KIND, ("p",))
MASKING_KEY = (MaskingPolicy.KIND, ("m",))


# ------------------------------------------------------------------------------------------- harness


@pytest.fixture
def project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project whose dev environment deploys access/textdrift.yaml (MODEL_TEXT)."""
    for folder in ("config", "access", "sql"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "access" / "textdrift.yaml").write_text(MODEL_TEXT, encoding="utf-8")
    dev = tmp_path / "config" / f"{ENV}.yaml"
    data = yaml.safe_load(dev.read_text(encoding="utf-8"))
    data["access_model"] = "textdrift"
    dev.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(project, "ROOT", tmp_path)
    return tmp_path


@dataclass
class DriftRun:
    code: int
    out: str
    err: str


@dataclass
class Warehouse:
    """The fake warehouse, deployed to by the real handlers and read by the real `drift` command."""

    desired: AccessState
    model: str
    fake: FakeRedshift = field(default_factory=FakeRedshift)
    clock: SimClock = field(default_factory=SimClock)
    requests: int = 0

    def __post_init__(self) -> None:
        self.api = FakeDataApi(self.fake, self.clock, model=self.model)
        self.driver = ProviderDriver(self.api, self.clock)

    def request(self, desired: AccessState | None = None) -> RequestRun:
        """One CloudFormation request (Create, then Updates) to the end."""
        self.requests += 1
        properties = resource_properties(self.model, workgroup="analytics-dev", namespace="analytics-dev")
        event = cfn_event("Create" if self.requests == 1 else "Update",
                          {**properties, "ModelHash": f"hash-{self.requests}"}, request_id=f"request-{self.requests}",
                          physical_id=None if self.requests == 1 else f"access-model:analytics-dev/dev/{self.model}")
        return self.driver.run(event, model_document(desired or self.desired, []).encode("utf-8"))

    def deploy(self, desired: AccessState | None = None) -> list[str]:
        """A request that completes; the statements it committed, ledger and progress rows left out."""
        since = len(self.fake.history)
        run = self.request(desired)
        assert run.complete, run.error
        return [sql for sql in self.fake.history[since:] if '"redshift_idc"' not in sql]

    def drift(self) -> DriftRun:
        out, err = io.StringIO(), io.StringIO()
        code = drift_command(ENV, SECRET_ARN, None, client=CatalogDataApi(self.fake, self.clock, model=self.model),
                             sleep=self.clock.sleep, out=out, err=err)
        return DriftRun(code, out.getvalue(), err.getvalue())

    def next_plan(self, desired: AccessState | None = None) -> Plan:
        """What the reconciler would plan from a read now (its read batch's rows, parsed the same way)."""
        rows = {**svv_rows(self.fake.state(), user="admin", superuser=True, secadmin=True),
                **self.fake.definition_rows(), "ledger": self.fake.ledger_rows(self.model)}
        snapshot = parse_snapshot(rows)
        return plan(desired or self.desired, snapshot.state, snapshot.ledger, definitions=snapshot.definitions,
                    stored=snapshot.stored_hashes())

    def stored_hash(self, key: tuple[str, tuple[str, ...]]) -> str:
        """The hash of the policy's text as the catalog stores it now."""
        return stored_texts(self.fake.definition_rows())[key].digest


@pytest.fixture
def warehouse(project_root: Path) -> Warehouse:
    compiled = model_for(load_environment(ENV))
    model, desired = compiled.model, compiled.desired
    return Warehouse(desired, model.name)


# ------------------------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize(("hand_edit", "key", "named", "now", "restore"), [
    ('ALTER RLS POLICY "p" USING (true)', RLS_KEY, "RLS policy p", "true",
     "ALTER RLS POLICY \"p\" USING (region = 'AMER')"),
    # the catalog's text: the expr out of SVV_MASKING_POLICY's JSON, as stored (r_SHOW_POLICIES)
    ('ALTER MASKING POLICY "m" USING (email)', MASKING_KEY, "masking policy m", '"masked_table"."email"',
     "ALTER MASKING POLICY \"m\" USING ('***'::VARCHAR(256))"),
])
def test_a_hand_edit_is_drift_and_the_next_deploy_restores_the_models_text(
        warehouse: Warehouse, hand_edit: str, key: tuple[str, tuple[str, ...]], named: str, now: str,
        restore: str) -> None:
    warehouse.deploy()
    as_created = warehouse.fake.definition_rows()
    assert warehouse.drift().code == IN_SYNC

    warehouse.fake.execute(hand_edit)
    assert warehouse.fake.definition_rows() != as_created

    # (a) drift reports it: exit 1, the policy named with its text as the catalog has it now, and the ALTER.
    report = warehouse.drift()
    assert (report.code, report.err) == (DRIFT, "")
    lines = report.out.splitlines()
    assert any(line.startswith(f"-- {named}: its text in the catalog changed since a deploy recorded it")
               for line in lines), report.out
    assert f"--   in the catalog now: {now}" in lines
    assert f"{restore};" in lines
    assert lines[-1].startswith("drift: 1 statement(s) would converge analytics-dev/dev")

    # (b) the next deploy runs that ALTER alone, and the catalog holds what the model's CREATE stored.
    assert warehouse.deploy() == [restore]
    assert warehouse.fake.definition_rows() == as_created
    fingerprint = warehouse.fake.ledger(warehouse.model)[key]
    assert policy_parts(fingerprint)[1] == warehouse.stored_hash(key)

    # (c) after that, in sync.
    report = warehouse.drift()
    assert (report.code, report.out) == (IN_SYNC, "in sync: analytics-dev/dev matches access/textdrift.yaml\n")


def test_a_deploy_that_creates_or_alters_a_policy_records_its_catalog_text(warehouse: Warehouse) -> None:
    warehouse.deploy()
    ledger = warehouse.fake.ledger(warehouse.model)
    for key in (RLS_KEY, MASKING_KEY):
        definition, stored = policy_parts(ledger[key])
        assert stored == warehouse.stored_hash(key)  # read after the CREATE, not `pending`
        assert definition == warehouse.desired.of_kind(key[0])[key[1]].fingerprint()
    assert not warehouse.next_plan()

    # A changed predicate is an ALTER; the deploy also ends with the hash of the altered text recorded.
    policy = warehouse.desired.of_kind(RlsPolicy.KIND)[("p",)]
    assert isinstance(policy, RlsPolicy)
    changed = replace(policy, using="region IN ('AMER', 'LATAM')")
    desired = AccessState.of([changed if item == policy else item for item in warehouse.desired])
    before = warehouse.stored_hash(RLS_KEY)
    assert warehouse.deploy(desired) == ["ALTER RLS POLICY \"p\" USING (region IN ('AMER', 'LATAM'))"]
    assert warehouse.stored_hash(RLS_KEY) != before
    assert warehouse.fake.ledger(warehouse.model)[RLS_KEY] == recorded_fingerprint(
        changed, stored=warehouse.stored_hash(RLS_KEY))
    assert not warehouse.next_plan(desired)


def test_a_row_of_an_older_version_is_restored_once(warehouse: Warehouse) -> None:
    """Rows written before the catalog's text was recorded cannot vouch for it: `drift` says so, the next
    deploy sets the model's text again (once) and records its hash; then it is in sync."""
    warehouse.deploy()
    tables = LedgerTables()
    older = [LedgerEntry(kind, key, policy_parts(fingerprint)[0])
             for (kind, key), fingerprint in warehouse.fake.ledger(warehouse.model).items()
             if key == ("p",) and kind == RlsPolicy.KIND]
    warehouse.fake.execute_batch([tables.delete_sql(warehouse.model, older),
                                  tables.insert_sql(warehouse.model, older)])
    report = warehouse.drift()
    assert report.code == DRIFT
    assert "-- RLS policy p: recorded by an older version, which kept no hash of its text in the catalog; the ALTER " \
           "below restores the model's text once, then the deploy records the hash" in report.out
    assert warehouse.deploy() == ["ALTER RLS POLICY \"p\" USING (region = 'AMER')"]
    assert policy_parts(warehouse.fake.ledger(warehouse.model)[RLS_KEY])[1] == warehouse.stored_hash(RLS_KEY)
    assert warehouse.drift().code == IN_SYNC


def test_an_alter_retried_after_a_transient_failure_is_not_taken_for_a_text_that_changes_again(
        warehouse: Warehouse) -> None:
    warehouse.deploy()
    warehouse.fake.execute('ALTER RLS POLICY "p" USING (true)')
    conflicts: list[str] = []

    def conflict_once(sql: str) -> bool:
        if sql.startswith("ALTER RLS POLICY") and not conflicts:
            conflicts.append(sql)
            raise RedshiftError("40001", "serializable isolation violation on table policy")
        return False

    warehouse.fake.fail_when = conflict_once
    assert warehouse.deploy() == ["ALTER RLS POLICY \"p\" USING (region = 'AMER')"]
    assert len(conflicts) == 1
    assert warehouse.drift().code == IN_SYNC


def test_a_catalog_text_that_changes_after_every_restore_fails_the_deploy_naming_the_policy(
        warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the stored text were not a function of the text given (unconfirmed either way), restoring it would
    loop until the apply deadline: the deploy stops the second time instead."""
    warehouse.deploy()
    reads: list[int] = []
    as_stored = FakeRedshift.definition_rows

    def drifting(fake: FakeRedshift, **options: Any) -> dict[str, list[tuple[Any, ...]]]:
        rows = as_stored(fake, **options)
        reads.append(1)
        rows["rls_policy_definitions"] = [(*row[:3], f"{row[3]} /* {len(reads)} */")
                                          for row in rows["rls_policy_definitions"]]
        return rows

    monkeypatch.setattr(FakeRedshift, "definition_rows", drifting)
    run = warehouse.request()
    assert not run.complete
    assert "the catalog's text of rls_policy p changed again after this deploy restored and recorded it" in run.error
    assert warehouse.fake.history.count("ALTER RLS POLICY \"p\" USING (region = 'AMER')") == 1


def test_many_policies_are_recorded_from_one_read_in_one_ledger_batch() -> None:
    """The read batch does not grow with the policies, and recording their hashes after the CREATEs is one
    transaction of a DELETE and an INSERT per 200 rows."""
    count = 250
    desired = AccessState.of(RlsPolicy(f"policy {i:03d}", (("c", "INTEGER"),), f"c > {i}") for i in range(count))
    world = Warehouse(desired, "many")
    world.deploy()
    reads = [s for s in world.api.statements.values() if s.name.endswith(":read")]
    assert {len(s.sqls) for s in reads} == {len(read_queries(LedgerTables(), "many"))}
    recorded = [b for b in world.fake.committed_batches if any("stored=" in sql and "stored=pending" not in sql
                                                               for sql in b)]
    assert len(recorded) == 1
    ledger_statements = [sql for sql in recorded[0] if "managed_object" in sql]
    assert [sql.split(" ", 1)[0] for sql in ledger_statements] == ["DELETE", "INSERT"] * 2
    ledger = world.fake.ledger("many")
    assert len(ledger) == count
    assert all(policy_parts(fp)[1] == world.stored_hash(key) for key, fp in ledger.items())
    assert not world.next_plan()


# ------------------------------------------------------------------------------------------- the planner's rules


RLS = RlsPolicy("p", (("region", "VARCHAR(16)"),), "region = 'AMER'")
MASK = MaskingPolicy("m", (("email", "VARCHAR(256)"),), "'***'::VARCHAR(256)")


def policy_plan(policy: RlsPolicy | MaskingPolicy, recorded: str | None, stored: dict[str, str] | None, *,
                desired: RlsPolicy | MaskingPolicy | None = None, verified: bool = False) -> Plan:
    """`policy` exists in the catalog; the ledger holds `recorded` for it (None: no row); `stored`: the hashes
    the read gave, by policy name (None: the catalog's text was not read)."""
    ledger = {(policy.KIND, policy.key()): recorded} if recorded is not None else {}
    return plan(AccessState.of([desired or policy]), AccessState.of([type(policy)(policy.name)]), ledger,
                definitions=AccessState.of([policy]) if verified else AccessState(),
                stored=None if stored is None else {(policy.KIND, (name,)): h for name, h in stored.items()})


def alter(policy: RlsPolicy | MaskingPolicy) -> str:
    kind = "RLS" if isinstance(policy, RlsPolicy) else "MASKING"
    return f'ALTER {kind} POLICY "{policy.name}" USING ({policy.using})'


POLICIES = pytest.mark.parametrize("policy", [RLS, MASK], ids=["rls", "masking"])


@POLICIES
def test_pending_takes_the_hash_the_read_gave_without_ddl(policy: RlsPolicy | MaskingPolicy) -> None:
    planned = policy_plan(policy, recorded_fingerprint(policy), {policy.name: "h1"})
    assert planned.statements == [] and planned.text_drift == []
    assert planned.record == [LedgerEntry(policy.KIND, policy.key(), recorded_fingerprint(policy, stored="h1"))]
    assert planned  # a ledger-only change still needs a batch


@POLICIES
def test_the_recorded_hash_read_again_is_in_sync(policy: RlsPolicy | MaskingPolicy) -> None:
    assert not policy_plan(policy, recorded_fingerprint(policy, stored="h1"), {policy.name: "h1"})


@POLICIES
def test_another_hash_is_drift_altered_back_and_recorded_pending(policy: RlsPolicy | MaskingPolicy) -> None:
    planned = policy_plan(policy, recorded_fingerprint(policy, stored="h1"), {policy.name: "h2"})
    [statement] = planned.statements
    assert statement.sql == alter(policy)
    assert statement.ledger_add == (LedgerEntry(policy.KIND, policy.key(), recorded_fingerprint(policy)),)
    assert [e.key for e in statement.ledger_remove] == [policy.key()]  # the row is replaced, never doubled
    assert planned.text_drift == [TextDrift(policy.KIND, policy.key(), "h1")]
    assert planned.record == []


@POLICIES
def test_a_row_of_an_older_version_is_altered_once(policy: RlsPolicy | MaskingPolicy) -> None:
    planned = policy_plan(policy, policy.fingerprint(), {policy.name: "h1"})
    assert planned.sql == [alter(policy)]
    assert planned.statements[0].ledger_add[0].fingerprint == recorded_fingerprint(policy)  # pending: once
    assert planned.text_drift == [TextDrift(policy.KIND, policy.key(), "")]


@POLICIES
def test_a_row_of_an_older_version_whose_catalog_text_is_the_models_takes_its_hash(
        policy: RlsPolicy | MaskingPolicy) -> None:
    planned = policy_plan(policy, policy.fingerprint(), {policy.name: "h1"}, verified=True)
    assert planned.statements == [] and planned.text_drift == []
    assert planned.record == [LedgerEntry(policy.KIND, policy.key(), recorded_fingerprint(policy, stored="h1"))]


@POLICIES
@pytest.mark.parametrize("recorded", ["older", "pending", "hash"])
def test_without_the_catalogs_text_nothing_is_compared(policy: RlsPolicy | MaskingPolicy, recorded: str) -> None:
    """Offline plans (no read) and a policy the read did not return a text for: as before this change."""
    fingerprint = {"older": policy.fingerprint(), "pending": recorded_fingerprint(policy),
                   "hash": recorded_fingerprint(policy, stored="h1")}[recorded]
    assert not policy_plan(policy, fingerprint, None)
    assert not policy_plan(policy, fingerprint, {"another": "h2"})


@POLICIES
def test_a_changed_model_is_an_alter_whatever_the_catalogs_text(policy: RlsPolicy | MaskingPolicy) -> None:
    changed = replace(policy, using="NULL")
    for seen in ("h1", "h2"):
        planned = policy_plan(policy, recorded_fingerprint(policy, stored="h1"), {policy.name: seen}, desired=changed)
        assert planned.sql == [alter(changed)]
        assert planned.statements[0].ledger_add[0].fingerprint == recorded_fingerprint(changed)
        assert planned.text_drift == [] and planned.record == []


@POLICIES
def test_changed_with_columns_still_rebuild_the_policy(policy: RlsPolicy | MaskingPolicy) -> None:
    changed = replace(policy, columns=((policy.columns[0][0], "VARCHAR(512)"),))
    planned = policy_plan(policy, recorded_fingerprint(policy, stored="h1"), {policy.name: "h1"}, desired=changed)
    kind = "RLS" if isinstance(policy, RlsPolicy) else "MASKING"
    assert [s.split(" (")[0].split(" USING")[0] for s in planned.sql] == [
        f'DROP {kind} POLICY "{policy.name}"', f'CREATE {kind} POLICY "{policy.name}" WITH']
    assert planned.statements[1].ledger_add[0].fingerprint == recorded_fingerprint(changed)


@POLICIES
def test_an_adopted_policy_records_the_hash_the_read_gave(policy: RlsPolicy | MaskingPolicy) -> None:
    adopted = policy_plan(policy, None, {policy.name: "h1"}, verified=True)
    assert adopted.statements == []
    assert adopted.adopt == [LedgerEntry(policy.KIND, policy.key(), recorded_fingerprint(policy, stored="h1"))]
    unread = policy_plan(policy, None, None, verified=True)
    assert unread.adopt == [LedgerEntry(policy.KIND, policy.key(), recorded_fingerprint(policy, stored=STORED_PENDING))]


def test_recording_a_hash_is_one_transaction_even_at_a_batch_boundary() -> None:
    """The DELETE and INSERT of a row recorded again never straddle two batches: a failure between them
    would leave a managed policy unrecorded, and the next plan would rebuild it."""
    tables = LedgerTables()
    ddl = [Statement(phase=50, sort_key=(f"r{i}",), sql=f'CREATE ROLE "r{i}"') for i in range(38)]
    entry = LedgerEntry(RlsPolicy.KIND, ("p",), recorded_fingerprint(RLS, stored="h1"))
    cut = transactional_batches(Plan(ddl, record=[entry]), "m", tables)
    assert [len(batch) for batch in cut] == [38, 2]  # one free slot in the first: not enough for the pair
    assert cut[1] == [tables.delete_sql("m", [entry]), tables.insert_sql("m", [entry])]
    shorter = transactional_batches(Plan(ddl[:30], record=[entry]), "m", tables)
    assert shorter == [[s.sql for s in ddl[:30]] + cut[1]]


def test_the_catalogs_text_is_hashed_whole_and_in_any_row_order() -> None:
    rows: dict[str, list[tuple[Any, ...]]] = {
        "rls_policy_definitions": [("P", "rls_table", '[{"colname":"c","type":"integer"}]', '"rls_table"."c" > 0')],
        "masking_policy_definitions": [("m", '[{"colname":"e","type":"text"}]', "e"),
                                       ("m", '[{"colname":"e","type":"text"}]', None)]}
    texts = stored_texts(rows)
    assert set(texts) == {RLS_KEY, MASKING_KEY}  # names folded as the state folds them
    assert texts[RLS_KEY].expression == '"rls_table"."c" > 0'
    swapped = {**rows, "masking_policy_definitions": rows["masking_policy_definitions"][::-1]}
    assert stored_texts(swapped)[MASKING_KEY] == texts[MASKING_KEY]  # rows of one name: sorted before hashing
    for index in (1, 2, 3):  # alias, WITH columns, predicate: any cell changes the hash
        cells = list(rows["rls_policy_definitions"][0])
        cells[index] = f"{cells[index]} "
        assert stored_texts({"rls_policy_definitions": [tuple(cells)]})[RLS_KEY].digest != texts[RLS_KEY].digest
    assert stored_texts({"rls_policy_definitions": rows["rls_policy_definitions"]}, case_sensitive=True).keys() == {
        (RlsPolicy.KIND, ("P",))}


def test_snapshot_rows_without_definitions_give_no_stored_text() -> None:
    """A read that holds no definition query (older snapshots, `verify`) compares nothing."""
    rows = svv_rows(AccessState.of([Role("r"), RLS, RlsAttachment("p", "s", "t", "r")]), user="admin",
                    superuser=True, secadmin=True)
    assert parse_snapshot(rows).stored is None and parse_snapshot(rows).stored_hashes() is None

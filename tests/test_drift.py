"""`python -m redshift_idc drift` against botocore's Stubber: in sync (0), drift (1), errors (2).

The warehouse is `tests/fake_redshift.py` after a deploy of the dev environment's model (the offline plan
applied); its catalog is served as the rows of the drift read batch, which must be SELECTs only.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from redshift_idc.access.checked import model_for
from redshift_idc.access.model import load_scripts
from redshift_idc.cli.main import main
from redshift_idc.config.environment import load_environment
from redshift_idc.deployed.drift import DRIFT, ERROR, IN_SYNC, drift_command
from redshift_idc.runtime.access_state import (
    AccessState,
)
from redshift_idc.runtime.catalog import read_queries
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.planner import plan
from tests.fake_data_api import cell, svv_rows
from tests.fake_redshift import FakeRedshift

ROOT = Path(__file__).resolve().parent.parent
ENV = "dev"
CONFIG = load_environment(ENV)
compiled = model_for(CONFIG)
MODEL, DESIRED = compiled.model, compiled.desired
SCRIPTS = load_scripts(MODEL)
TABLES = LedgerTables(MODEL.ledger_schema)
QUERIES = read_queries(TABLES, MODEL.name, bootstrap=False)
WORKGROUP, DATABASE = CONFIG.warehouse.workgroup_name, CONFIG.warehouse.database_name
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{CONFIG.account}:secret:redshift!{WORKGROUP}-admin-AbCdEf"
SYSTEM_ROLES = ("sys:dba", "sys:operator", "sys:secadmin", "sys:superuser")
T0 = datetime(2025, 1, 1, tzinfo=UTC)

Row = tuple[Any, ...]


def deployed() -> FakeRedshift:
    """A warehouse the dev environment's access model was deployed to."""
    fake = FakeRedshift()
    fake.apply(plan(DESIRED, AccessState(case_sensitive=DESIRED.case_sensitive), {}, prune=MODEL.prune),
               MODEL.name, TABLES)
    # The deploy's read back records each policy's text as stored in the ledger, without DDL, as the reconciler's
    # verifying round does (the drift read holds the definition queries).
    fake.apply(plan(DESIRED, fake.state(), fake.ledger(MODEL.name, TABLES), prune=MODEL.prune,
                    stored=fake.stored_hashes()), MODEL.name, TABLES)
    return fake


def catalog_rows(fake: FakeRedshift, ledger: Sequence[Row], scripts: Sequence[Row], *,
                 secadmin: bool = True) -> dict[str, list[Row]]:
    """What each query of the read batch returns for the fake's catalog (the inverse of `catalog.parse_snapshot`):
    its policies and providers listed by their definition rows."""
    rows: dict[str, list[Row]] = {name: [] for name, _ in QUERIES}
    rows.update(svv_rows(fake.state(), user="admin", superuser=True, secadmin=secadmin))
    rows.update(fake.definition_rows())
    rows["ledger"] = list(ledger)
    rows["scripts"] = list(scripts)
    return rows


def in_sync_rows(fake: FakeRedshift, *, secadmin: bool = True) -> dict[str, list[Row]]:
    return catalog_rows(fake, fake.ledger_rows(MODEL.name, TABLES),
                        [(s["Name"], s["Checksum"]) for s in SCRIPTS], secadmin=secadmin)


@dataclass
class DataApi:
    """Queues the Data API's answers to one drift read: BatchExecuteStatement, DescribeStatement (polled),
    GetStatementResult per query."""

    stubber: Stubber
    client: Any
    sent: list[dict[str, Any]] = field(default_factory=list)
    batch_id: str = "d7a1e0c2-0000-4000-8000-000000000001"

    def submit(self) -> None:
        self.stubber.add_response(
            "batch_execute_statement",
            {"Id": self.batch_id, "CreatedAt": T0, "Database": DATABASE, "WorkgroupName": WORKGROUP,
             "SecretArn": SECRET_ARN},
            {"WorkgroupName": WORKGROUP, "Database": DATABASE, "SecretArn": SECRET_ARN,
             "Sqls": [sql for _, sql in QUERIES], "StatementName": ANY, "ClientToken": ANY},
        )

    def describe(self, status: str, subs: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        response = {"Id": self.batch_id, "Status": status, "CreatedAt": T0, "UpdatedAt": T0, "Database": DATABASE,
                    "WorkgroupName": WORKGROUP, "SecretArn": SECRET_ARN, "SubStatements": subs or [], **extra}
        self.stubber.add_response("describe_statement", response, {"Id": self.batch_id})

    def read(self, rows: dict[str, list[Row]], *, running_first: bool = False) -> None:
        """A read that finishes (after one poll with `running_first`) with these rows."""
        self.submit()
        if running_first:
            self.describe("STARTED")
        subs = [{"Id": f"{self.batch_id}:{n}", "Status": "FINISHED", "QueryString": sql, "HasResultSet": True,
                 "ResultRows": len(rows[name])} for n, (name, sql) in enumerate(QUERIES, start=1)]
        self.describe("FINISHED", subs, HasResultSet=True)  # polled: finished, with its sub-statements
        for (name, _), sub in zip(QUERIES, subs, strict=True):
            records = rows[name]
            if not records:
                continue  # a query that returned no rows is not fetched
            self.stubber.add_response(
                "get_statement_result",
                {"Records": [[cell(v) for v in row] for row in records], "TotalNumRows": len(records)},
                {"Id": sub["Id"]})

    def read_fails(self, failed: int, error: str) -> None:
        """A read whose sub-statement `failed` (1-based) fails; the batch fails with it."""
        self.submit()
        subs = [{"Id": f"{self.batch_id}:{n}", "QueryString": sql, "HasResultSet": False,
                 "Status": "FINISHED" if n < failed else "FAILED" if n == failed else "ABORTED",
                 **({"Error": error} if n == failed else {})}
                for n, (_, sql) in enumerate(QUERIES, start=1)]
        self.describe("FAILED", subs, Error=error)


@pytest.fixture
def api() -> Iterator[DataApi]:
    client = boto3.client("redshift-data", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield DataApi(stubber, client)
        stubber.assert_no_pending_responses()


@dataclass
class Run:
    code: int
    out: str
    err: str
    sleeps: list[float]


def run(api: DataApi, env: str = ENV, secret_arn: str | None = SECRET_ARN, outputs: Path | None = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    sleeps: list[float] = []
    code = drift_command(env, secret_arn, outputs, client=api.client, sleep=sleeps.append, out=out, err=err)
    return Run(code, out.getvalue(), err.getvalue(), sleeps)


# --- in sync and drift ------------------------------------------------------------------------------


def test_the_read_is_selects_only() -> None:
    sqls = [sql for _, sql in QUERIES]
    assert sqls and all(sql.startswith("SELECT ") for sql in sqls)
    # The reconciler's read without its bookkeeping: no ledger bootstrap, no fence row.
    assert [name for name, _ in QUERIES] == [n for n, _ in read_queries(TABLES, MODEL.name) if
                                             not n.startswith("bootstrap_") and n != "fence"]


def test_in_sync_exits_0_with_one_line(api: DataApi) -> None:
    api.read(in_sync_rows(deployed()), running_first=True)
    result = run(api)
    assert (result.code, result.err) == (IN_SYNC, "")
    assert result.out == f"in sync: {WORKGROUP}/{DATABASE} matches access/{MODEL.name}.yaml\n"
    assert result.sleeps == [1.0, 0.1]  # polled the running read, then sub-second until it finished


def test_drift_exits_1_printing_the_statements_that_converge(api: DataApi) -> None:
    fake = deployed()
    # By hand: a grant revoked, a managed role created by an earlier model version still there, one script
    # not applied yet.
    fake.execute('REVOKE SELECT ON TABLE "public"."sales_data" FROM ROLE "AWSIDC:amer-sales"')
    fake.execute('CREATE ROLE "legacy"')
    ledger = [*fake.ledger_rows(MODEL.name, TABLES), ("role", '["legacy"]', "")]
    rows = catalog_rows(fake, ledger, [(SCRIPTS[0]["Name"], SCRIPTS[0]["Checksum"])])
    api.read(rows)
    result = run(api)
    assert (result.code, result.err) == (DRIFT, "")
    lines = result.out.splitlines()
    assert lines[0] == (f"-- drift report for {WORKGROUP}/{DATABASE} as admin, model access/{MODEL.name}.yaml; "
                        "what the next deploy would run:")
    assert f"-- script {SCRIPTS[1]['Name']} (sha256 {SCRIPTS[1]['Checksum'][:12]}), applied once before the model" \
        in lines
    assert 'DROP ROLE "legacy" FORCE;' in lines
    assert 'GRANT SELECT ON TABLE "public"."sales_data" TO ROLE "AWSIDC:amer-sales";' in lines
    # The next deploy's plan replayed from the live catalog: granting back what was revoked widens nothing.
    assert lines[-2].startswith("-- transition: no intermediate state widens access (")
    assert lines[-1] == (f"drift: 2 statement(s) and 1 script(s) would converge {WORKGROUP}/{DATABASE} to "
                         f"access/{MODEL.name}.yaml (nothing was changed)")


def test_unrecorded_objects_that_match_are_not_drift(api: DataApi) -> None:
    fake = deployed()
    ledger = fake.ledger_rows(MODEL.name, TABLES)
    rows = catalog_rows(fake, [r for r in ledger if r[0] != "role"], [(s["Name"], s["Checksum"])
                                                                             for s in SCRIPTS])
    api.read(rows)
    result = run(api)
    roles = sum(1 for r in ledger if r[0] == "role")
    assert result.code == IN_SYNC
    assert result.out.endswith(f"; {roles} ledger record(s) the next deploy would update without DDL\n")


def test_default_privileges_the_model_did_not_set_are_not_drift_and_one_it_set_and_dropped_is(api: DataApi) -> None:
    """Read from SVV_DEFAULT_PRIVILEGES like the other grants: a loader's own default privilege is left alone (never
    pruned, not drift); one the ledger says the model set, which the model no longer declares, is drift, and the
    report shows its REVOKE."""
    fake = deployed()
    fake.sign_in("loader")
    fake.execute('ALTER DEFAULT PRIVILEGES FOR USER "loader" IN SCHEMA "public" GRANT SELECT ON TABLES TO ROLE '
                 '"AWSIDC:amer-sales"')
    fake.execute('ALTER DEFAULT PRIVILEGES FOR USER "loader" GRANT EXECUTE ON PROCEDURES TO ROLE "AWSIDC:exec-global"')
    scripts = [(s["Name"], s["Checksum"]) for s in SCRIPTS]
    api.read(catalog_rows(fake, fake.ledger_rows(MODEL.name, TABLES), scripts))
    result = run(api)
    assert result.code == IN_SYNC, result.out
    set_by_model = ("default_privilege", '["loader","","PROCEDURES","EXECUTE","AWSIDC:exec-global"]', "")
    api.read(catalog_rows(fake, [*fake.ledger_rows(MODEL.name, TABLES), set_by_model], scripts))
    result = run(api)
    assert (result.code, result.err) == (DRIFT, "")
    lines = result.out.splitlines()
    assert "-- revoke default privileges (ALTER DEFAULT PRIVILEGES ... REVOKE: what objects created later get)" in lines
    assert ('ALTER DEFAULT PRIVILEGES FOR USER "loader" REVOKE EXECUTE ON PROCEDURES FROM ROLE "AWSIDC:exec-global";'
            in lines)
    assert lines[-1].startswith("drift: 1 statement(s) would converge")


# --- errors -----------------------------------------------------------------------------------------


def test_a_never_deployed_warehouse_is_an_error(api: DataApi) -> None:
    ledger = next(n for n, (name, _) in enumerate(QUERIES, start=1) if name == "ledger")
    api.read_fails(ledger, 'ERROR: relation "redshift_idc.managed_object" does not exist')
    result = run(api)
    assert (result.code, result.out) == (ERROR, "")
    assert result.err.startswith(f"error: {WORKGROUP}/{DATABASE}: reading the current state failed at statement "
                                 f"{ledger}: SELECT kind, object_key, fingerprint FROM")
    assert "the access model has never been deployed to this warehouse" in result.err


def test_a_data_api_error_is_an_error(api: DataApi) -> None:
    api.stubber.add_client_error("batch_execute_statement", service_error_code="ValidationException",
                                 service_message=f"Workgroup {WORKGROUP} not found.", http_status_code=400)
    result = run(api)
    assert (result.code, result.out) == (ERROR, "")
    assert result.err == (f"error: {WORKGROUP}/{DATABASE}: BatchExecuteStatement failed: ValidationException: "
                          f"Workgroup {WORKGROUP} not found. (check your AWS credentials, the region, the workgroup "
                          "name and the secret ARN)\n")


def test_a_user_without_secadmin_is_an_error_not_a_wrong_report(api: DataApi) -> None:
    api.read(in_sync_rows(deployed(), secadmin=False))
    result = run(api)
    assert (result.code, result.out) == (ERROR, "")
    assert 'lacks sys:secadmin' in result.err and 'GRANT ROLE "sys:secadmin" TO "admin"' in result.err


def test_an_environment_without_access_model_is_an_error_before_any_call(api: DataApi) -> None:
    result = run(api, env="sample-existing-vpc")
    assert result.code == ERROR
    assert "access_model: not set" in result.err


def test_a_missing_secret_is_an_error_naming_both_ways(api: DataApi) -> None:
    result = run(api, secret_arn=None)
    assert result.code == ERROR
    assert "drift needs --secret-arn or --outputs" in result.err and "DevWarehouse.AdminSecretArn" in result.err


@pytest.mark.parametrize(("secret_arn", "expected"), [
    ("not-an-arn", "--secret-arn 'not-an-arn' is not a Secrets Manager secret ARN; expected "
                   "arn:aws:secretsmanager:us-east-1:333333333333:secret:<name>"),
    (SECRET_ARN.replace("us-east-1", "eu-west-1"), "--secret-arn is in region eu-west-1, but config/dev.yaml deploys "
                                                   "to us-east-1"),
])
def test_a_malformed_secret_arn_is_refused_before_any_call(api: DataApi, secret_arn: str, expected: str) -> None:
    result = run(api, secret_arn=secret_arn)  # no response queued: a call would fail the stub
    assert result.code == ERROR and expected in result.err


def test_missing_credentials_name_what_is_needed_and_how_to_give_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = boto3.client("redshift-data", region_name="us-east-1")
    err = io.StringIO()
    code = drift_command(ENV, SECRET_ARN, None, client=client, out=io.StringIO(), err=err)
    assert code == ERROR
    assert "no AWS credentials found" in err.getvalue() and "aws sso login" in err.getvalue()
    assert "NoCredentialsError" not in err.getvalue()


def test_the_secret_can_come_from_the_deploy_outputs(api: DataApi, tmp_path: Path) -> None:
    outputs = tmp_path / "cdk-outputs.json"
    outputs.write_text(json.dumps({"DevWarehouse": {"AdminSecretArn": SECRET_ARN, "WorkgroupName": WORKGROUP}}))
    api.read(in_sync_rows(deployed()))  # the stub checks SecretArn
    assert run(api, secret_arn=None, outputs=outputs).code == IN_SYNC

    outputs.write_text(json.dumps({"ProdWarehouse": {"AdminSecretArn": SECRET_ARN}}))
    result = run(api, secret_arn=None, outputs=outputs)
    assert result.code == ERROR
    assert f"{outputs}: missing output DevWarehouse.AdminSecretArn (stacks in the file: ProdWarehouse)" in result.err
    result = run(api, secret_arn=None, outputs=tmp_path / "nope.json")
    assert result.code == ERROR and "no such outputs file" in result.err


# --- the command line and make ----------------------------------------------------------------------


def test_main_runs_drift_and_returns_its_exit_code(api: DataApi, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    clients: list[tuple[str, str]] = []

    def client(service: str, region_name: str, config: Any) -> Any:
        clients.append((service, region_name))
        return api.client

    monkeypatch.setattr("redshift_idc.deployed.drift.boto3.client", client)
    api.read(in_sync_rows(deployed()))
    assert main(["drift", "--env", ENV, "--secret-arn", SECRET_ARN]) == IN_SYNC
    assert capsys.readouterr().out.startswith("in sync: ")
    assert clients == [("redshift-data", CONFIG.region)]
    assert main(["drift", "--env", "no-such-env", "--secret-arn", SECRET_ARN]) == ERROR
    assert "no such environment 'no-such-env'" in capsys.readouterr().err


MAKE = shutil.which("make")


@pytest.mark.skipif(MAKE is None, reason="needs make")
def test_make_targets_call_the_cli_and_cdk_diff() -> None:
    def dry_run(*args: str) -> list[str]:
        result = subprocess.run([str(MAKE), "-n", *args], cwd=ROOT, capture_output=True, text=True,  # noqa: S603
                                check=True, timeout=60)
        return [" ".join(line.split()) for line in result.stdout.splitlines()]

    assert f".venv/bin/python -m redshift_idc drift --env dev --secret-arn '{SECRET_ARN}'" in dry_run(
        "drift", "ENV=dev", f"SECRET_ARN={SECRET_ARN}")
    assert ".venv/bin/python -m redshift_idc drift --env prod --outputs 'cdk-outputs.json'" in dry_run(
        "drift", "ENV=prod", "OUTPUTS=cdk-outputs.json")
    assert "npx cdk diff --no-notices -c env=dev" in dry_run("diff", "ENV=dev")
    assert ".venv/bin/python -m redshift_idc verify --env prod --outputs 'out.json'" in " ".join(
        dry_run("verify", "ENV=prod", "OUTPUTS=out.json")).replace(" \\ ", " ")
    # bootstrap installs the project's execution policy first and hands its ARNs to cdk bootstrap.
    bootstrap = "\n".join(dry_run("bootstrap", "ENV=prod", "TRUST=555555555555"))
    assert "$(.venv/bin/python -m redshift_idc deployer-policy --env prod --apply)" in bootstrap
    assert ('npx cdk bootstrap --no-notices -c env=prod --cloudformation-execution-policies "$policies" '
            "--trust 555555555555") in bootstrap.replace("\\\n", "").replace("  ", " ")
    assert "deployer-policy --pipeline --apply" in "\n".join(dry_run("bootstrap", "PIPELINE=yes"))
    assert ("npx cdk deploy --all --no-notices -c env=prod --require-approval broadening --outputs-file "
            "'cdk-outputs.json'") in dry_run("deploy", "ENV=prod", "OUTPUTS=cdk-outputs.json")
    plain = dry_run("deploy", "ENV=prod")
    assert "npx cdk deploy --all --no-notices -c env=prod --require-approval broadening" in plain
    # A failed synth keeps the previous cdk.out: it synthesizes elsewhere and moves the result over.
    synth = dry_run("synth", "ENV=dev")
    assert any(line.startswith("npx cdk synth --quiet --no-notices -o cdk.out.new -c env=dev") for line in synth)
    assert "rm -rf cdk.out && mv cdk.out.new cdk.out" in synth


def test_plan_live_is_the_drift_report_and_a_difference_is_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    from redshift_idc.cli import plan as plan_command

    calls: list[tuple[str, str | None, Path | None]] = []

    def fake_drift(env: str, secret_arn: str | None, outputs: Path | None, *, strict: bool = False) -> int:
        calls.append((env, secret_arn, outputs))
        return DRIFT

    monkeypatch.setattr(plan_command, "drift_command", fake_drift)
    assert main(["plan", "--env", "dev", "--live", "--secret-arn", "arn:secret"]) == 0
    assert calls == [("dev", "arn:secret", None)]

"""The conformance recorder and its recordings.

Every recording under tests/fixtures/conformance/ (the one generated from the fake, and those contributed from
real workgroups) is replayed through the reader: its raw rows parsed as the reconciler parses its read
(`catalog.parse_snapshot`, the `catalog_import` decoders, `users.parse_users`), and the model it lists planned
against them, as the deploy after the recorder's second deploy would: 0 DDL. The recorder itself runs end to end
against the fake warehouse (`tests/fake_conformance.py`): it refuses a database that is not a scratch one, runs
next to other objects with --force, and removes what it created also when a deploy or a read fails.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from redshift_idc.cli.main import main
from redshift_idc.deployed.conformance.command import Arguments, conformance_command
from redshift_idc.deployed.conformance.objects import Extras, first_model, second_model
from redshift_idc.deployed.conformance.probes import batch_size_statements
from redshift_idc.deployed.conformance.recorder import FORMAT, VERSION
from redshift_idc.deployed.conformance.session import statement_kind
from redshift_idc.runtime.access_state import AccessState, MaskingPolicy, RlsPolicy
from redshift_idc.runtime.catalog import parse_snapshot
from redshift_idc.runtime.catalog_import import masking_definition, rls_definition
from redshift_idc.runtime.catalog_rows import current_database_rows
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.object_sql import alter_using_sql, create_sql, remove_sql
from redshift_idc.runtime.planning.scope import Scope
from tests.fake_conformance import FAKE_RECORDING, FIXTURES, SECRET_ARN, record_with_fake
from tests.fake_redshift import FakeRedshift

RECORDINGS = sorted(FIXTURES.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert document.get("format") == FORMAT and document.get("version") == VERSION, f"{path}: not a recording"
    assert document.get("source") in ("fake", "redshift"), f"{path}: source must say fake or redshift"
    return document


def replayed_rows(document: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    return {name: [tuple(row) for row in read["rows"]] for name, read in document["reads"].items()}


def conformance_objects(fake: FakeRedshift) -> list[str]:
    """What the fake still holds of the recorder's: roles, policies, schemas, tables."""
    catalog = fake._catalog
    names = [*catalog.roles, *catalog.rls_policies, *catalog.masking_policies, *catalog.schemas,
             *(f"{s}.{t}" for s, t in catalog.tables)]
    return sorted(n for n in names if "conformance" in n.lower())


# ------------------------------------------------------------------------------------------------ the replay


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.name for p in RECORDINGS])
def test_each_recording_replays_through_the_reader_and_its_model_plans_to_no_ddl(path: Path) -> None:
    document = load(path)
    assert document["model_applied"], (f"{path.name}: the recorder's deploy failed on that workgroup: "
                                       f"{[d for d in document['deploys'] if not d['ok']]}")
    model = document["model"]
    rows = replayed_rows(document)
    snapshot = parse_snapshot(rows, users_namespace=model["users_namespace"])
    assert snapshot.users is not None and snapshot.definitions is not None and snapshot.fence is not None
    desired = AccessState.from_json(model["document"]["desired"])
    planned = plan(desired, snapshot.state, snapshot.ledger, definitions=snapshot.definitions,
                   stored=snapshot.stored_hashes(), owners=snapshot.owners,
                   scope=Scope.from_json(model["document"].get("scope")))
    assert planned.sql == [], f"{path.name}: the recorded model does not plan to 0 DDL against its catalog"
    assert not snapshot.warnings, snapshot.warnings


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.name for p in RECORDINGS])
def test_each_recorded_policy_definition_decodes(path: Path) -> None:
    """Every policy row the catalog returned is read by the import's decoders (a None would leave the policy to
    be rebuilt on adoption, and out of an imported model)."""
    rows = current_database_rows(replayed_rows(load(path)))  # this database's policies, as every reader takes them
    rls = rows.get("rls_policy_definitions", [])
    masking = rows.get("masking_policy_definitions", [])
    assert rls and masking
    assert [r[0] for r in rls if rls_definition(r) is None] == []
    assert [r[0] for r in masking if masking_definition(r) is None] == []


def test_the_shipped_fake_recording_is_marked_and_is_what_the_fake_answers_today(tmp_path: Path) -> None:
    document = load(FAKE_RECORDING)
    assert document["source"] == "fake" and "not Redshift" in document["redshift_version"]
    code, _, err, _ = record_with_fake(tmp_path / "fake.json")
    assert code == 0, err
    assert answers(load(tmp_path / "fake.json")) == answers(document), (
        "the fake answers differently now: rewrite the recording with `.venv/bin/python -m tests.fake_conformance`")


def answers(document: dict[str, Any]) -> dict[str, Any]:
    """What a recording says, without the fake's error wording (some name the first item of a set, whose order
    changes from run to run)."""
    probes = {p["name"]: [step["ok"] for step in p["steps"]] for p in document["probes"]}
    return {"reads": document["reads"], "deploys": document["deploys"], "model": document["model"],
            "covered_forms": document["covered_forms"], "probes": probes, "batch_size": document["batch_size"]["ok"],
            "calls": [(c["phase"], c["statements"], c["objects"], c["ok"]) for c in document["calls"]]}


ADMIN = "admin"  # the user the fake recording signs in as (tests/fake_conformance.py)


def test_the_recording_covers_every_form_the_two_deploys_can_emit() -> None:
    """The first deploy's statements (for many objects where they can be), each new object's CREATE of the second
    (one per object), REMOVE (what the second deploy drops) and ALTER form was applied."""
    covered = set(load(FAKE_RECORDING)["covered_forms"])
    first, second = first_model(ADMIN), second_model(ADMIN)  # default privileges too: the admin creates objects
    expected = {statement_kind(s.sql) for s in plan(first, AccessState(), {}, coalesce=True).statements}
    assert any(", ROLE" in form or '"x", "x"' in form for form in expected)  # statements for many objects among them
    expected |= {statement_kind(create_sql(item)) for kind, objects in second.objects.items()
                 for key, item in objects.items() if key not in first.objects.get(kind, {})}
    expected |= {statement_kind(remove_sql(item)) for kind, objects in first.objects.items()
                 for key, item in objects.items() if key not in second.objects.get(kind, {})}
    expected |= {statement_kind(alter_using_sql(item)) for item in second
                 if isinstance(item, RlsPolicy | MaskingPolicy) and item.fingerprint() != first_fingerprint(item)}
    assert expected - covered == set()


def first_fingerprint(item: RlsPolicy | MaskingPolicy) -> str:
    found = first_model(ADMIN).get(item.KIND, item.key())
    return found.fingerprint() if found is not None else ""


def test_a_recording_names_no_account_arn_or_secret() -> None:
    text = FAKE_RECORDING.read_text(encoding="utf-8")
    assert "111111111111" not in text and "arn:aws" not in text and "secretsmanager" not in text


# ------------------------------------------------------------------------------------------------ the recorder


def test_a_database_that_is_not_scratch_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    fake = FakeRedshift()
    fake.execute('CREATE ROLE "finance"')
    fake.execute('CREATE SCHEMA IF NOT EXISTS "sales"')
    fake.execute('CREATE TABLE IF NOT EXISTS "sales"."orders" (id INTEGER NOT NULL)')
    before = list(fake.history)
    code, out, err, _ = record_with_fake(tmp_path / "c.json", fake, users=["IAM:alice"])
    assert code == 2 and out == ""
    assert "is not a scratch one" in err and "roles: finance" in err and "tables: sales.orders" in err
    assert "schemas: sales" in err and "users: IAM:alice" in err and "--force" in err
    assert [h for h in fake.history if not h.startswith("-- ")] == before  # SELECTs only
    assert not (tmp_path / "c.json").exists()


def test_force_runs_next_to_other_objects_and_leaves_them_alone(tmp_path: Path) -> None:
    fake = FakeRedshift()
    fake.execute('CREATE ROLE "finance"')
    code, _, err, _ = record_with_fake(tmp_path / "c.json", fake, force=True)
    assert code == 0, err
    document = load(tmp_path / "c.json")
    assert document["scratch_check"]["forced"] and document["scratch_check"]["found"]["roles"] == ["finance"]
    assert "finance" in fake._catalog.roles
    assert conformance_objects(fake) == [] and document["left_behind"] == []
    # The reads are the reconciler's, whole (the replay needs them): with --force they name the other objects.
    assert ["finance"] in document["reads"]["roles"]["rows"]


def test_everything_is_removed_when_a_deploy_fails(tmp_path: Path) -> None:
    fake = FakeRedshift()
    fake.fail_when = lambda sql: sql.startswith('ATTACH RLS POLICY "conformance_p_lookup"')
    code, _, err, _ = record_with_fake(tmp_path / "c.json", fake)
    assert code == 1 and "a deploy failed (deploy-1)" in err and "injected failure" in err
    document = load(tmp_path / "c.json")
    assert not document["model_applied"] and document["deploys"][0]["failed_sql"].startswith("ATTACH RLS POLICY")
    assert conformance_objects(fake) == [] and document["left_behind"] == []


def test_everything_is_removed_when_a_read_fails_midway(tmp_path: Path) -> None:
    fake = FakeRedshift()
    fake.fail_when = lambda sql: sql.startswith("SELECT DISTINCT model_name FROM")  # only the final read has it
    code, out, err, _ = record_with_fake(tmp_path / "c.json", fake)
    assert code == 2 and out == ""
    assert "reading the catalog failed at query 'ledger_models:conformance_ledger'" in err
    assert conformance_objects(fake) == []
    assert not (tmp_path / "c.json").exists()


def test_leftovers_of_an_interrupted_run_are_removed_first(tmp_path: Path) -> None:
    fake = FakeRedshift()
    fake.execute('CREATE ROLE "conformance_reader"')
    code, _, err, _ = record_with_fake(tmp_path / "c.json", fake)
    assert code == 0, err
    document = load(tmp_path / "c.json")
    assert document["scratch_check"]["leftovers"] and not document["scratch_check"]["forced"]
    assert conformance_objects(fake) == []


def test_idc_glue_and_datashare_forms_run_only_with_their_flags(tmp_path: Path) -> None:
    extras = Extras("arn:aws:sso::111111111111:application/ssoins-1/apl-1",
                    "arn:aws:iam::111111111111:role/redshift-idc", "lake_db",
                    "arn:aws:redshift:us-east-1:111111111111:datashare:ns/share")
    code, _, err, api = record_with_fake(tmp_path / "c.json", extras=extras)
    assert code == 0, err
    document = load(tmp_path / "c.json")
    assert document["flags"] == {"idc": True, "glue": True, "datashare": True}
    forms = set(document["covered_forms"])
    assert {'CREATE IDENTITY PROVIDER "x" TYPE AWSIDC NAMESPACE \'v\' APPLICATION_ARN \'v\' IAM_ROLE \'v\'',
            'CREATE EXTERNAL SCHEMA "x" FROM DATA CATALOG DATABASE \'v\'',
            'CREATE DATABASE "x" FROM ARN \'v\' WITH NO DATA CATALOG SCHEMA',
            'GRANT USAGE ON DATABASE "x" TO ROLE "x"'} <= forms
    assert "arn:aws" not in (tmp_path / "c.json").read_text(encoding="utf-8")
    probe = next(p for p in document["probes"] if p["name"] == "identity_provider_in_batch")
    assert "cannot run inside a transaction block" in probe["steps"][0]["error"]
    assert not api.fake._catalog.identity_providers and not api.fake._catalog.external_databases
    plain = load(FAKE_RECORDING)
    assert not any("IDENTITY PROVIDER" in f or "EXTERNAL" in f or "FROM ARN" in f for f in plain["covered_forms"])


def test_every_call_is_timed_with_its_statement_and_object_counts() -> None:
    calls = load(FAKE_RECORDING)["calls"]
    deploys = [c for c in calls if c["phase"].startswith("deploy")]
    assert deploys and all(c["statements"] > 0 and c["seconds"] > 0 and c["duration_ns"] for c in deploys)
    assert sum(c["objects"] for c in deploys) > 0
    assert {"setup", "ledger", "fence", "read", "probe", "batch-size", "cleanup"} <= {c["phase"] for c in calls}


def test_the_batch_size_probe_sends_forty_small_statements_just_over_90_kb() -> None:
    statements = batch_size_statements()
    total = sum(len(s.encode("utf-8")) for s in statements)
    assert len(statements) == 40 and 90_000 < total < 100_000
    assert max(len(s.encode("utf-8")) for s in statements) < 3_000
    assert load(FAKE_RECORDING)["batch_size"]["ok"]


# ------------------------------------------------------------------------------------------------ the CLI


def test_help_says_what_it_does_what_it_needs_and_that_it_refuses_a_non_scratch_database(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["conformance", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "SCRATCH database" in text and "REFUSES a database holding schemas, tables, roles or users" in text
    assert "unless --force" in text and "AWS credentials" in text and "secretsmanager:GetSecretValue" in text
    assert "--with-idc" in text and "--with-glue" in text and "--with-datashare" in text


def test_without_credentials_it_exits_2_with_the_usual_message(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = boto3.client("redshift-data", region_name="us-east-1")
    err = io.StringIO()
    code = conformance_command(Arguments("scratch-wg", SECRET_ARN, out=tmp_path / "c.json"), client=client,
                               out=io.StringIO(), err=err)
    assert code == 2
    assert "no AWS credentials found. conformance reads the warehouse" in err.getvalue()
    assert "aws sso login" in err.getvalue() and "NoCredentialsError" not in err.getvalue()
    assert SECRET_ARN not in err.getvalue()


@pytest.mark.parametrize(("arguments", "expected"), [
    (Arguments("Scratch_WG", SECRET_ARN), "--workgroup 'Scratch_WG': a Redshift Serverless workgroup name"),
    (Arguments("scratch-wg", "my-secret"), "--secret-arn is not a Secrets Manager secret ARN"),
    (Arguments("scratch-wg", SECRET_ARN, extras=Extras(datashare_arn="share")), "--with-datashare 'share'"),
])
def test_arguments_are_checked_before_any_call(arguments: Arguments, expected: str) -> None:
    err = io.StringIO()
    assert conformance_command(arguments, client=object(), out=io.StringIO(), err=err) == 2
    assert expected in err.getvalue()
    assert "my-secret" not in err.getvalue()


@pytest.mark.parametrize(("operation", "count", "code"), [
    ("BatchExecuteStatement", 12, 2),  # a probe's read: the run ends (exit 2), after the cleanup
    ("ExecuteStatement", 40, 0),  # a cleanup statement: the others still run, and a second pass removes the rest
    ("ExecuteStatement", 70, 0),
])
def test_everything_is_removed_when_the_data_api_fails_midway(tmp_path: Path, operation: str, count: int,
                                                              code: int) -> None:
    from botocore.exceptions import ClientError

    from tests.fake_conformance import ConformanceDataApi
    from tests.fake_data_api import SimClock

    fake = FakeRedshift()
    api = ConformanceDataApi(fake, SimClock())
    api.failure = lambda called, number: (ClientError(
        {"Error": {"Code": "ValidationException", "Message": "workgroup is busy"}}, called)
        if called == operation and number == count else None)
    exit_code, _, err, _ = record_with_fake(tmp_path / "c.json", fake, api=api)
    assert exit_code == code, err
    if code == 2:
        assert "BatchExecuteStatement failed: ValidationException: workgroup is busy" in err
    assert api.calls["ExecuteStatement"] > 20  # the cleanup, each statement alone
    assert conformance_objects(fake) == []


def test_what_cleanup_cannot_remove_is_named_and_exits_1(tmp_path: Path) -> None:
    fake = FakeRedshift()
    fake.fail_when = lambda sql: sql.startswith('DROP ROLE "conformance_reader"')
    code, out, err, _ = record_with_fake(tmp_path / "c.json", fake)
    assert code == 1
    assert "warning: cleanup left role conformance_reader: drop them by hand" in err and "see the warning" in out
    assert load(tmp_path / "c.json")["left_behind"] == ["role conformance_reader"]


def test_the_replay_sees_what_a_reader_would_miss() -> None:
    """The replay is not vacuous: with the role grants' rows gone (a reader that lost them), the model plans the
    GRANT ROLE again."""
    document = load(FAKE_RECORDING)
    document["reads"]["role_grants"]["rows"] = []
    snapshot = parse_snapshot(replayed_rows(document), users_namespace=document["model"]["users_namespace"])
    planned = plan(AccessState.from_json(document["model"]["document"]["desired"]), snapshot.state, snapshot.ledger,
                   definitions=snapshot.definitions, stored=snapshot.stored_hashes(), owners=snapshot.owners)
    assert planned.sql == ['GRANT ROLE "conformance_reader" TO ROLE "conformance_analyst"']


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize(("variables", "expected"), [
    (("WORKGROUP=", "SECRET_ARN=arn"), "WORKGROUP is empty: name a scratch Redshift Serverless workgroup"),
    (("WORKGROUP=wg", "SECRET_ARN= "), "SECRET_ARN is empty: pass the ARN of the namespace's admin secret"),
])
def test_make_conformance_refuses_empty_required_variables(variables: tuple[str, ...], expected: str) -> None:
    result = make_dry_run("conformance", *variables)
    assert result.returncode == 2 and result.stdout == "" and expected in result.stderr


def test_make_conformance_passes_its_variables() -> None:
    result = make_dry_run("conformance", "WORKGROUP=wg", f"SECRET_ARN={SECRET_ARN}", "DATABASE=scratch", "FORCE=yes")
    assert result.returncode == 0, result.stderr
    assert (f"-m redshift_idc conformance --workgroup 'wg' --secret-arn '{SECRET_ARN}' --database 'scratch' --force"
            in result.stdout)


def make_dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    """`make -n` as from a shell (not inheriting a `make test`'s level and flags)."""
    inherited = {"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}
    environment = {k: v for k, v in os.environ.items() if k not in inherited}
    root = Path(__file__).resolve().parent.parent
    return subprocess.run([str(shutil.which("make")), "-n", *args], cwd=root,  # noqa: S603
                          capture_output=True, text=True, check=False, timeout=60, env=environment)

"""Adopting an existing warehouse: `snapshot` -> `import` -> `plan --snapshot` gives no DDL.

The warehouse is `tests/fake_redshift.py` with a catalog made by hand (statements run on it directly, as a
person would have run them), behind the Data API double (`tests/fake_catalog.py`, which returns policy text
rewritten the way SVV_RLS_POLICY shows it). Names are awkward on purpose: mixed case, spaces, quotes,
colons, non-ASCII letters, YAML's own words (`yes`, `null`, `on`), a schema of digits. The catalog has role
grants, schema, table, column and scoped grants, PUBLIC, both RLS conjunction types, IGNORE RLS, masking
policies on one column with different priorities and an attachment whose input column is another column,
an Azure identity provider with a client secret, and the objects an import must leave alone (system roles,
another identity provider's roles, a group the environment does not assign, IAM Identity Center's own
provider).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc import project
from redshift_idc.access.importer.command import NEEDS_WORK, WRITTEN, import_command
from redshift_idc.access.importer.round_trip import import_model
from redshift_idc.access.importer.yaml_text import _flow, _scalar
from redshift_idc.access.model import parse_model
from redshift_idc.access.model_file import AccessModel
from redshift_idc.cli.main import main
from redshift_idc.config.environment import load_environment
from redshift_idc.deployed.snapshot import SNAPSHOT_FORMAT, SNAPSHOT_VERSION, load_snapshot, snapshot_command
from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessObject,
    AccessState,
    IdentityProvider,
    MaskingPolicy,
    RlsPolicy,
)
from redshift_idc.runtime.catalog_import import attributes, strip_alias
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.planner import plan
from tests.fake_catalog import CatalogDataApi
from tests.fake_data_api import SimClock
from tests.fake_redshift import FakeRedshift, stored_predicate

ROOT = Path(__file__).resolve().parents[1]
ENV = "adopt"
ACCOUNT = "444444444444"
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:adopt-admin-AbCdEf"
CLIENT_SECRET = "s3cr3t-never-in-any-file"  # the value the tests look for: it must leak nowhere
GROUPS = ["Amer-Sales", "Ventes Été 2024", "exec-global", "yes"]

HAND_MADE = [
    # roles: four IdC group roles, plain roles named with a quote and with YAML's null, and ones to leave alone
    'CREATE ROLE "AWSIDC:Amer-Sales"', 'CREATE ROLE "AWSIDC:Ventes Été 2024"', 'CREATE ROLE "AWSIDC:exec-global"',
    'CREATE ROLE "AWSIDC:yes"', 'CREATE ROLE "Reporting ""Q1"""', 'CREATE ROLE "null"',
    'CREATE ROLE "corp:finance"', 'CREATE ROLE "AWSIDC:contractors"',
    'GRANT ROLE "Reporting ""Q1""" TO ROLE "AWSIDC:exec-global"', 'GRANT ROLE "null" TO ROLE "AWSIDC:exec-global"',
    # schema, table, scoped and column grants
    'GRANT USAGE ON SCHEMA "Finance-EU" TO ROLE "AWSIDC:Amer-Sales"',
    'GRANT USAGE ON SCHEMA "sales_schema" TO ROLE "Reporting ""Q1"""',
    'GRANT CREATE ON SCHEMA "sales_schema" TO ROLE "Reporting ""Q1"""',
    'GRANT USAGE ON SCHEMA "2024" TO PUBLIC',
    'GRANT SELECT FOR TABLES IN SCHEMA "sales_schema" TO ROLE "Reporting ""Q1"""',
    'GRANT SELECT ON TABLE "public"."sales_data" TO ROLE "AWSIDC:Amer-Sales"',
    'GRANT SELECT ON TABLE "public"."sales_data" TO ROLE "AWSIDC:Ventes Été 2024"',
    'GRANT SELECT ON TABLE "public"."sales_data" TO ROLE "AWSIDC:exec-global"',
    'GRANT SELECT ON TABLE "Finance-EU"."Sales 2024" TO ROLE "null"',
    'GRANT INSERT ON TABLE "Finance-EU"."Sales 2024" TO ROLE "null"',
    'GRANT SELECT ON TABLE "2024"."on" TO ROLE "AWSIDC:yes"',
    'GRANT SELECT ON TABLE "2024"."on" TO PUBLIC',
    'GRANT SELECT ("sku") ON TABLE "public"."sales_data" TO ROLE "Reporting ""Q1"""',
    'GRANT SELECT ("Prix €") ON TABLE "public"."sales_data" TO ROLE "Reporting ""Q1"""',
    'GRANT UPDATE ("Amount: net") ON TABLE "Finance-EU"."Sales 2024" TO ROLE "null"',
    'GRANT SELECT ON TABLE "public"."sales_data" TO ROLE "corp:finance"',
    'GRANT SELECT ON TABLE "public"."sales_data" TO ROLE "AWSIDC:contractors"',
    'GRANT IGNORE RLS TO ROLE "AWSIDC:exec-global"',
    # RLS: three policies, both conjunction types
    """CREATE RLS POLICY "Amer filter" WITH ("timezone" VARCHAR(50)) USING (timezone LIKE 'America%')""",
    """CREATE RLS POLICY "région_eu" WITH ("region" VARCHAR(10), "timezone" VARCHAR(50)) """
    """USING (region = 'EU' OR timezone LIKE 'Europe/%')""",
    """CREATE RLS POLICY "owner_only" WITH ("owner" VARCHAR(64)) USING (owner = current_user)""",
    'ATTACH RLS POLICY "Amer filter" ON "public"."sales_data" TO ROLE "AWSIDC:Amer-Sales"',
    'ATTACH RLS POLICY "région_eu" ON "public"."sales_data" TO ROLE "AWSIDC:Ventes Été 2024"',
    'ATTACH RLS POLICY "owner_only" ON "Finance-EU"."Sales 2024" TO ROLE "null"',
    'ATTACH RLS POLICY "owner_only" ON "Finance-EU"."Sales 2024" TO PUBLIC',
    'ALTER TABLE "public"."sales_data" ROW LEVEL SECURITY ON CONJUNCTION TYPE OR',
    'ALTER TABLE "Finance-EU"."Sales 2024" ROW LEVEL SECURITY ON CONJUNCTION TYPE AND',
    # masking: two policies on one column with distinct priorities, one whose input is another column
    """CREATE MASKING POLICY "mask_sku" WITH ("sku" VARCHAR(50)) USING ('XXXX'::VARCHAR(50))""",
    """CREATE MASKING POLICY "partial sku" WITH ("sku" VARCHAR(50)) USING (LEFT(sku, 2) || 'XX')""",
    'ATTACH MASKING POLICY "mask_sku" ON "public"."sales_data" ("sku") TO ROLE "AWSIDC:Amer-Sales" PRIORITY 10',
    'ATTACH MASKING POLICY "partial sku" ON "public"."sales_data" ("sku") TO ROLE "AWSIDC:Ventes Été 2024" '
    'PRIORITY 20',
    'ATTACH MASKING POLICY "mask_sku" ON "public"."sales_data" ("sku") TO PUBLIC PRIORITY 1',
    'ATTACH MASKING POLICY "mask_sku" ON "Finance-EU"."Sales 2024" ("account") USING ("owner") TO ROLE "null" '
    'PRIORITY 5',
]
PROVIDERS = [
    """CREATE IDENTITY PROVIDER "Corp Azure" TYPE AZURE NAMESPACE 'corp' PARAMETERS '{"issuer": """
    """"https://login.microsoftonline.com/t/v2.0", "client_id": "abc", "client_secret": \"""" + CLIENT_SECRET +
    """\", "audience": ["api://x", "yes"]}' AUTO_CREATE_ROLES TRUE""",
    'ALTER IDENTITY PROVIDER "Corp Azure" DISABLE',
    # What connecting the namespace to IAM Identity Center may register: never a model's.
    """CREATE IDENTITY PROVIDER "redshift-idc-app" TYPE AWSIDC NAMESPACE 'AWSIDC' APPLICATION_ARN """
    """'arn:aws:sso::444444444444:application/ssoins-1/apl-1' IAM_ROLE 'arn:aws:iam::444444444444:role/idc'""",
]
COLUMNS = {  # as svv_columns lists them (names as stored: ASCII letters folded)
    ("public", "sales_data"): ["sku", "region", "timezone", "prix €", "quantity"],
    ("finance-eu", "sales 2024"): ["account", "amount: net", "owner"],
    ("2024", "on"): ["id", "yes"],
}
# Left out on purpose: another identity provider's role, a group the environment does not assign, and what
# names them; IAM Identity Center's provider.
LEFT_OUT = ("corp:finance", "awsidc:contractors", "redshift-idc-app")


def hand_made() -> FakeRedshift:
    fake = FakeRedshift()
    for sql in HAND_MADE + PROVIDERS:
        fake.execute(sql)
    return fake


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project with environment `adopt`, which has no access model yet."""
    for folder in ("config", "access", "sql"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    data = yaml.safe_load((ROOT / "config" / "dev.yaml").read_text(encoding="utf-8"))
    data.update(account=ACCOUNT, access_model=None)
    data["identity_center"] = {"instance_arn": "arn:aws:sso:::instance/ssoins-4444444444444444",
                               "identity_store_id": "d-4444444444"}
    data["redshift_idc_application"].update(name="redshift-idc-adopt", display_name="redshift-idc-adopt",
                                            groups=[{"display_name": g} for g in GROUPS])
    data["redshift_idc_application"].pop("users", None)
    data["warehouse"].update(namespace_name="adopt-ns", workgroup_name="adopt-wg")
    data.pop("identity_propagation", None)
    data["network"] = {"cidr": "10.44.0.0/16"}
    (tmp_path / "config" / f"{ENV}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(project, "ROOT", tmp_path)
    return tmp_path


def use_model(root: Path, name: str) -> None:
    """Name the model in the environment, as the import's header says to."""
    path = root / "config" / f"{ENV}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["access_model"] = name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@dataclass
class Run:
    code: int
    out: str
    err: str


def take_snapshot(fake: FakeRedshift, path: Path, **options: Any) -> tuple[Run, CatalogDataApi]:
    clock = SimClock()
    api = CatalogDataApi(fake, clock, columns=COLUMNS, **options)
    out, err = io.StringIO(), io.StringIO()
    code = snapshot_command(ENV, SECRET_ARN, None, path, client=api, sleep=clock.sleep, out=out, err=err)
    return Run(code, out.getvalue(), err.getvalue()), api


def run_import(snapshot: Path, out_path: Path, **options: Any) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = import_command(options.pop("env", None), None, None, snapshot, out_path, out=out, err=err, **options)
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def imported(root: Path) -> tuple[Path, Path, FakeRedshift, Run]:
    """The hand-made warehouse, its snapshot (root/catalog.json) and the model imported from it."""
    fake = hand_made()
    snapshot = root / "catalog.json"
    result, _ = take_snapshot(fake, snapshot)
    assert (result.code, result.err) == (0, "")
    model = root / "access" / "imported.yaml"
    return snapshot, model, fake, run_import(snapshot, model)


def names(objects: Iterable[AccessObject]) -> set[tuple[str, tuple[str, ...]]]:
    return {(item.KIND, item.key()) for item in objects}


def catalog_objects(fake: FakeRedshift) -> set[tuple[str, tuple[str, ...]]]:
    """Every object the reader sees, except what the import must leave alone."""
    def left_out(item: AccessObject) -> bool:
        named = [getattr(item, field, "") for field in ("name", "grantee", "role")]
        return any(isinstance(n, str) and n.lower() in LEFT_OUT for n in named)
    return {(item.KIND, item.key()) for item in fake.state() if not left_out(item)}


def compiled(model_path: Path) -> tuple[AccessModel, AccessState]:
    result = parse_model(yaml.safe_load(model_path.read_text(encoding="utf-8")), name=model_path.stem,
                         source=model_path, environment=load_environment(ENV))
    return result.model, result.desired


def cli(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Run(code, out.getvalue(), err.getvalue())


# --- the acceptance: snapshot -> import -> plan --snapshot ------------------------------------------


def test_an_imported_model_plans_to_no_ddl_and_adopts_every_catalog_object(
        imported: tuple[Path, Path, FakeRedshift, Run], root: Path) -> None:
    snapshot_path, model_path, fake, result = imported
    assert result.code == WRITTEN, result.err
    snapshot = load_snapshot(snapshot_path)
    model, desired = compiled(model_path)
    planned = plan(desired, snapshot.parsed().state, snapshot.ledger_for("imported"), prune=model.prune,
                   definitions=snapshot.definitions())
    assert planned.statements == []
    assert {(e.kind, e.key) for e in planned.adopt} == catalog_objects(fake)
    assert names(desired) == catalog_objects(fake)  # the model declares exactly what it adopts
    assert len(planned.adopt) == 40
    assert f"runs no DDL and records {len(planned.adopt)} object(s) in the ledger; name it in config/adopt.yaml: " \
           "access_model: imported" in result.out

    # `plan --env adopt --snapshot FILE` (what `make plan ENV=adopt SNAPSHOT=FILE` runs), once the environment
    # names the model as the header says.
    assert "# Deploy it by naming it in config/adopt.yaml: access_model: imported" in model_path.read_text("utf-8")
    use_model(root, "imported")
    run = cli("plan", "--env", ENV, "--snapshot", str(snapshot_path))
    assert (run.code, run.err) == (0, "")
    lines = run.out.splitlines()
    assert [line for line in lines if not line.startswith("-- ")] == []  # no SQL at all
    assert lines[0] == f"-- plan for environment adopt (config/adopt.yaml) against the catalog snapshot {snapshot_path}"
    assert "-- against the snapshot: 0 statement(s) and 0 script(s); 40 object(s) recorded in the ledger without " \
           "DDL" in lines
    # The reconciler's own read has the definitions too: its first deploy adopts them the same way, so the plan
    # has no warning about policies being recreated.
    assert not any(line.startswith("-- note:") for line in lines)


def test_the_written_model_holds_the_catalog_as_the_model_spells_it(
        imported: tuple[Path, Path, FakeRedshift, Run]) -> None:
    _, model_path, _, result = imported
    text = model_path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert data["roles"] == {"idc_groups": ["Amer-Sales", "exec-global", "Ventes Été 2024", "yes"],
                             "plain": ["null", 'Reporting "Q1"']}  # roles keep their case (the catalog's)
    assert "idc_groups: [Amer-Sales, exec-global, Ventes Été 2024, 'yes']" in text  # YAML's words quoted
    assert "plain: ['null', Reporting \"Q1\"]" in text
    assert data["tables"] == {"2024.on": ["id", "yes"], "finance-eu.sales 2024": ["account", "amount: net", "owner"],
                              "public.sales_data": ["sku", "region", "timezone", "prix €", "quantity"]}
    assert data["schemas"] == ["sales_schema"]  # a scoped grant's schema no table declares
    assert data["removal_policy"] == "retain" and data["prune"] is False
    assert {"table": "public.sales_data", "columns": ["prix €", "sku"], "privileges": ["SELECT"],
            "to": ['Reporting "Q1"']} in data["column_grants"]
    assert {"all_tables_in": "sales_schema", "privileges": ["SELECT"], "to": ['Reporting "Q1"']} in data["table_grants"]
    assert {"tables": ["2024.on"], "privileges": ["SELECT"], "to": [PUBLIC_GRANTEE, "yes"]} in data["table_grants"]
    rls = data["rls"]
    assert rls["tables"] == [{"table": "finance-eu.sales 2024", "conjunction": "AND"},
                             {"table": "public.sales_data", "conjunction": "OR"}]
    assert rls["ignore_rls"] == ["exec-global"]
    eu = next(p for p in rls["policies"] if p["name"] == "région_eu")
    # As SVV_RLS_POLICY shows it, decoded: types in Redshift's names, the alias and the literals' casts taken off.
    assert eu["with"] == {"region": "character varying(10)", "timezone": "character varying(50)"}
    assert eu["using"] == "\"region\" = 'EU' OR \"timezone\" LIKE 'Europe/%'"
    assert "# the text the policy was created with; the alias 'rls_table' was taken off its column names and the " \
           "casts it adds to plain literals off them." in text
    mask = next(p for p in data["masking"]["policies"] if p["name"] == "mask_sku")
    assert mask["attach"] == [
        {"table": "finance-eu.sales 2024", "columns": ["account"], "input_columns": ["owner"], "to": "null",
         "priority": 5},
        {"table": "public.sales_data", "columns": ["sku"], "to": PUBLIC_GRANTEE, "priority": 1},
        {"table": "public.sales_data", "columns": ["sku"], "to": "Amer-Sales", "priority": 10}]
    [provider] = data["identity_providers"]
    assert provider == {
        "name": "corp azure", "type": "azure", "namespace": "corp", "enabled": False,
        "parameters": {"audience": ["api://x", "yes"], "client_id": "abc",
                       "issuer": "https://login.microsoftonline.com/t/v2.0"},
        "client_secret_from": f"secretsmanager:arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:"
                              "FILL-IN-corp-azure:client_secret"}
    assert "# FILL IN: the catalog blanks the client secret." in text
    # What it left out, each said once on stderr.
    assert result.err.splitlines() == [
        "warning: 5 system role(s) left out, Redshift's own: sys:dba, sys:monitor, sys:operator, sys:secadmin, "
        "sys:superuser",
        "warning: role AWSIDC:contractors is left out with everything granted to it: IdC group 'contractors' is not "
        "among the groups config/adopt.yaml assigns (redshift_idc_application.groups); add it there and import again",
        "warning: role corp:finance is left out with everything granted to it: its prefix 'corp:' is not the "
        "environment's identity namespace 'AWSIDC' (another identity provider's role, created by it at sign-in, not "
        "by a model)",
        "warning: identity provider corp azure: client_secret_from is a placeholder: fill in the Secrets Manager ARN "
        "of its client secret",
        "warning: identity provider redshift-idc-app is left out: IAM Identity Center registered it for the "
        "environment's namespace 'AWSIDC' (the Redshift IdC application); a model must never own it",
        "warning: 1 grant(s) or attachment(s) to AWSIDC:contractors are left out with it",
        "warning: 1 grant(s) or attachment(s) to corp:finance are left out with it",
    ]


def test_after_the_adoption_the_reconcilers_own_read_plans_nothing(
        imported: tuple[Path, Path, FakeRedshift, Run]) -> None:
    """The deploy only records the adoption; from then on the ledger vouches for every definition, and the
    reconciler's read (names only) plans nothing, not even an adoption."""
    snapshot_path, model_path, fake, _ = imported
    _, desired = compiled(model_path)
    before, history = fake.state(include_system=True), len(fake.history)
    fake.apply(plan(desired, fake.state(), {}, definitions=load_snapshot(snapshot_path).definitions()), "imported")
    assert names(fake.state(include_system=True)) == names(before)
    ledger_only = set(LedgerTables().bootstrap_sql())
    assert [sql for sql in fake.history[history:] if sql not in ledger_only
            and not sql.startswith(('INSERT INTO "redshift_idc".', 'UPDATE "redshift_idc".'))] == []
    again = plan(desired, fake.state(), fake.ledger("imported"))
    assert (again.statements, again.adopt) == ([], [])


def test_without_definitions_policies_would_be_rebuilt_and_the_provider_set_again(
        imported: tuple[Path, Path, FakeRedshift, Run]) -> None:
    """What the reconciler's read gives the planner today (names only): nothing vouches for a policy's text,
    so it is rebuilt, and a provider's parameters are set again (the note `plan --snapshot` prints)."""
    _, model_path, fake, _ = imported
    _, desired = compiled(model_path)
    sqls = plan(desired, fake.state(), {}).sql
    assert 'DROP RLS POLICY "amer filter"' in sqls and 'DROP MASKING POLICY "mask_sku"' in sqls
    assert any(sql.startswith('ALTER IDENTITY PROVIDER "corp azure" PARAMETERS') for sql in sqls)


def test_a_redeployed_model_imported_again_adopts_nothing_new(
        imported: tuple[Path, Path, FakeRedshift, Run], root: Path) -> None:
    """After a deploy the snapshot holds the model's ledger (the table exists now); importing over the same
    model gives the same file, and planning it adopts nothing: everything is recorded."""
    snapshot_path, model_path, fake, _ = imported
    _, desired = compiled(model_path)
    fake.apply(plan(desired, fake.state(), {}, definitions=load_snapshot(snapshot_path).definitions()), "imported")
    use_model(root, "imported")
    second = root / "deployed.json"
    result, api = take_snapshot(fake, second)
    assert result.code == 0, result.err
    snapshot = load_snapshot(second)
    assert snapshot.model == "imported" and len(snapshot.ledger_for("imported")) == 40
    assert any(sql.startswith('SELECT kind, object_key, fingerprint FROM "redshift_idc"."managed_object"')
               for sql in api.selects[1])
    first = model_path.read_text(encoding="utf-8")
    again = run_import(second, model_path, force=True)
    assert again.code == WRITTEN, again.err
    assert "records 0 object(s) in the ledger" in again.out
    assert model_path.read_text(encoding="utf-8") == first
    run = cli("plan", "--env", ENV, "--snapshot", str(second))
    assert "-- read from adopt-wg/dev as admin; access model access/imported.yaml; 40 ledger row(s) of " \
           "access/imported.yaml" in run.out
    assert "-- against the snapshot: 0 statement(s) and 0 script(s); 0 object(s) recorded in the ledger" in run.out


# --- the snapshot -----------------------------------------------------------------------------------


def test_the_snapshot_is_selects_only_deterministic_and_holds_no_secret(root: Path) -> None:
    fake = hand_made()
    history = list(fake.history)
    first, api = take_snapshot(fake, root / "one.json")
    second, _ = take_snapshot(fake, root / "two.json")
    assert (first.code, second.code) == (0, 0)
    text = (root / "one.json").read_text(encoding="utf-8")
    assert text == (root / "two.json").read_text(encoding="utf-8")
    assert CLIENT_SECRET not in text
    assert fake.history == history  # nothing ran on the warehouse: no bootstrap, no grant
    assert api.selects and all(sql.startswith("SELECT ") for batch in api.selects for sql in batch)
    assert len(api.selects) == 2  # the catalog, then the referenced tables' columns (no ledger table yet)
    document = json.loads(text)
    assert {k: document[k] for k in ("format", "version", "environment", "namespace", "workgroup", "database")} == {
        "format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION, "environment": ENV, "namespace": "adopt-ns",
        "workgroup": "adopt-wg", "database": "dev"}
    assert document["model"] is None and document["rows"]["ledger_table"] == [[0]]
    assert first.out == (f"wrote {root / 'one.json'}: the catalog of adopt-wg/dev as admin (13 roles, 3 RLS policies, "
                         "2 masking policies, 3 tables' columns); nothing was changed\n")


def test_a_secret_the_view_did_not_blank_never_reaches_the_file(root: Path) -> None:
    result, _ = take_snapshot(hand_made(), root / "catalog.json", blank_secrets=False)
    assert result.code == 0
    text = (root / "catalog.json").read_text(encoding="utf-8")
    assert CLIENT_SECRET not in text and '\\"client_secret\\": \\"\\"' in text
    imported = run_import(root / "catalog.json", root / "access" / "imported.yaml")
    assert imported.code == WRITTEN and CLIENT_SECRET not in imported.out + imported.err
    assert CLIENT_SECRET not in (root / "access" / "imported.yaml").read_text(encoding="utf-8")


def test_a_reader_without_secadmin_gets_no_snapshot(root: Path) -> None:
    result, _ = take_snapshot(hand_made(), root / "catalog.json", secadmin=False)
    assert result.code == 2 and not (root / "catalog.json").exists()
    assert "lacks sys:secadmin, so RLS attachments and masking are invisible to it" in result.err


def test_a_reader_who_is_not_superuser_sees_no_provider_and_the_import_has_none(root: Path) -> None:
    fake = hand_made()
    result, _ = take_snapshot(fake, root / "catalog.json", superuser=False)
    assert result.code == 0
    assert result.err == ("warning: user admin is not a superuser: SVV_IDENTITY_PROVIDERS shows it no identity "
                          "provider, so the snapshot has none\n")
    imported = run_import(root / "catalog.json", root / "access" / "imported.yaml")
    assert imported.code == WRITTEN, imported.err
    assert "identity_providers" not in yaml.safe_load((root / "access" / "imported.yaml").read_text("utf-8"))


def test_snapshot_refuses_to_replace_a_file_before_reading(root: Path) -> None:
    (root / "catalog.json").write_text("keep", encoding="utf-8")
    result, api = take_snapshot(hand_made(), root / "catalog.json")
    assert result.code == 2 and "already exists; pass --force" in result.err
    assert (root / "catalog.json").read_text(encoding="utf-8") == "keep" and api.total_calls == 0


@pytest.mark.parametrize(("content", "expected"), [
    ("not json", "not a readable snapshot"),
    ('{"format": "something-else"}', 'not a catalog snapshot (no "format": "redshift-idc-catalog-snapshot")'),
    ('{"format": "redshift-idc-catalog-snapshot", "version": 99}', "snapshot format version 99; this version "
                                                                   "reads 1 and 2"),
    ('{"format": "redshift-idc-catalog-snapshot", "version": 1, "rows": []}', "environment, account, region"),
])
def test_a_bad_snapshot_file_is_an_error_naming_it(root: Path, content: str, expected: str) -> None:
    path = root / "bad.json"
    path.write_text(content, encoding="utf-8")
    result = run_import(path, root / "access" / "imported.yaml")
    assert result.code == 2 and f"error: {path}: " in result.err and expected in result.err
    assert "python -m redshift_idc snapshot --env <env>" in result.err
    assert not (root / "access" / "imported.yaml").exists()
    use_model(root, "demo")
    run = cli("plan", "--env", ENV, "--snapshot", str(path))
    assert run.code == 2 and expected in run.err


# --- the planner adopts only what the catalog shows exactly as declared ------------------------------


COLUMNS_50 = (("timezone", "character varying(50)"),)
POLICY = RlsPolicy("p", COLUMNS_50, "\"timezone\" LIKE CAST('America%' AS TEXT)")
PROVIDER = IdentityProvider("idp", "azure", "corp", '{"client_id":"abc"}', enabled=True,
                            secrets=(("client_secret", SECRET_ARN, "client_secret"),))


REBUILT = ['DETACH RLS POLICY "p" ON "s"."t" FROM ROLE "r"', 'DROP RLS POLICY "p"',
           'CREATE RLS POLICY "p" WITH ("timezone" character varying(50)) USING ("timezone" LIKE CAST(\'America%\' '
           "AS TEXT))", 'ATTACH RLS POLICY "p" ON "s"."t" TO ROLE "r"']


@pytest.mark.parametrize(("seen", "expected"), [
    (POLICY, []),  # the catalog's text is the model's: adopted
    (None, REBUILT),  # nothing vouches for it (the reconciler's read today): rebuilt, as before
    (RlsPolicy("p", COLUMNS_50, "\"timezone\" LIKE CAST('Europe%' AS TEXT)"), REBUILT),  # another predicate
    (RlsPolicy("p", (("timezone", "character varying(20)"),), POLICY.using), REBUILT),  # other WITH types
    (RlsPolicy("p", COLUMNS_50, ""), REBUILT),  # a catalog row without text vouches for nothing
    (MaskingPolicy("p", COLUMNS_50, POLICY.using), REBUILT),  # a masking policy of that name is not this one
])
def test_a_policy_is_adopted_only_when_its_catalog_definition_is_the_models(
        seen: AccessObject | None, expected: list[str]) -> None:
    from redshift_idc.runtime.access_state import RlsAttachment, Role

    desired = AccessState.of([Role("r"), POLICY, RlsAttachment("p", "s", "t", "r")])
    current = AccessState.of([Role("r"), RlsPolicy("p"), RlsAttachment("p", "s", "t", "r")])
    definitions = AccessState.of([seen] if seen is not None else [])
    planned = plan(desired, current, {}, definitions=definitions)
    assert planned.sql == expected
    adopted = {e.kind for e in planned.adopt}
    assert (RlsPolicy.KIND in adopted) == (not expected)


@pytest.mark.parametrize(("seen", "adopted"), [
    (IdentityProvider("idp", "azure", "corp", '{"client_id":"abc"}', enabled=True), True),  # secret: not shown
    (IdentityProvider("idp", "azure", "corp", '{"client_id":"xyz"}', enabled=True), False),
    (IdentityProvider("idp", "azure", "other", '{"client_id":"abc"}', enabled=True), False),
    (IdentityProvider("idp", "azure", "corp", '{"client_id":"abc"}', enabled=False), False),
    (IdentityProvider("idp", "azure", "corp", '{"client_id":"abc"}', enabled=None), False),  # unknown: set again
    (None, False),
])
def test_a_provider_is_adopted_only_when_what_the_catalog_shows_is_the_models(
        seen: IdentityProvider | None, adopted: bool) -> None:
    current = AccessState.of([IdentityProvider("idp", "azure", "corp", enabled=True)])
    planned = plan(AccessState.of([PROVIDER]), current, {},
                   definitions=AccessState.of([seen] if seen is not None else []))
    assert ([e.kind for e in planned.adopt] == [IdentityProvider.KIND]) == adopted
    assert bool(planned.statements) != adopted
    if not adopted:
        assert all(s.sql.startswith('ALTER IDENTITY PROVIDER "idp"') for s in planned.statements)


def test_a_recorded_policy_ignores_the_catalogs_text() -> None:
    """With a ledger row the fingerprint decides, as before: definitions never override what was recorded."""
    desired = AccessState.of([POLICY])
    recorded = RlsPolicy("p", COLUMNS_50, "timezone LIKE 'Asia%'")
    planned = plan(desired, AccessState.of([RlsPolicy("p")]), {(RlsPolicy.KIND, ("p",)): recorded.fingerprint()},
                   definitions=AccessState.of([POLICY]))
    assert planned.sql == ['ALTER RLS POLICY "p" USING ("timezone" LIKE CAST(\'America%\' AS TEXT))']


# --- import: refusals and models that need work -----------------------------------------------------


def test_import_refuses_to_replace_a_model_unless_forced(imported: tuple[Path, Path, FakeRedshift, Run]) -> None:
    snapshot, model_path, _, _ = imported
    model_path.write_text("# mine\n", encoding="utf-8")
    refused = run_import(snapshot, model_path)
    assert refused.code == 2 and "already exists; pass --force to replace it" in refused.err
    assert model_path.read_text(encoding="utf-8") == "# mine\n"
    assert run_import(snapshot, model_path, force=True).code == WRITTEN
    assert model_path.read_text(encoding="utf-8").startswith("# Access model imported from the catalog")


@pytest.mark.parametrize("name", ["Imported.yaml", "imported.yml", "9lives.yaml", "my_model.yaml"])
def test_import_refuses_a_file_name_that_is_no_model_name(imported: tuple[Path, Path, FakeRedshift, Run],
                                                           name: str) -> None:
    snapshot, model_path, _, _ = imported
    result = run_import(snapshot, model_path.parent / name)
    assert result.code == 2 and "a model is access/<name>.yaml, its name lower-case letters, digits and hyphens" \
        in result.err


def test_import_from_a_snapshot_of_another_environment_is_refused(imported: tuple[Path, Path, FakeRedshift, Run],
                                                                  ) -> None:
    snapshot, model_path, _, _ = imported
    result = run_import(snapshot, model_path.parent / "other.yaml", env="dev")
    assert result.code == 2
    assert f"{snapshot}: read from environment adopt, not dev; pass --env adopt (or leave --env out)" in result.err
    use_model_run = cli("plan", "--env", "dev", "--snapshot", str(snapshot))
    assert use_model_run.code == 2 and "a snapshot of environment adopt, not dev" in use_model_run.err


def test_a_policy_text_the_model_refuses_is_written_and_reported(root: Path) -> None:
    fake = FakeRedshift()
    for sql in ['CREATE ROLE "analyst"',
                """CREATE RLS POLICY "commented" WITH ("region" VARCHAR(10)) USING (region /* why */ = 'EU')""",
                'ATTACH RLS POLICY "commented" ON "public"."t" TO ROLE "analyst"']:
        fake.execute(sql)
    take_snapshot(fake, root / "catalog.json")
    result = run_import(root / "catalog.json", root / "access" / "imported.yaml")
    assert result.code == NEEDS_WORK
    assert "needs work: RLS policy commented: the model's checks refuse the text Redshift returned (comments are " \
           "not allowed in policy expressions); rewrite `using` by hand" in result.err
    assert "it needs the changes above before it deploys" in result.out
    policy = yaml.safe_load((root / "access" / "imported.yaml").read_text("utf-8"))["rls"]["policies"][0]
    assert policy["using"] == "\"region\" /* why */ = 'EU'"  # as read (decoded), for the person fixing it


def test_what_the_model_cannot_name_is_left_out_and_still_plans_to_no_ddl(root: Path) -> None:
    fake = FakeRedshift()
    for sql in ['CREATE ROLE "analyst"', 'GRANT SELECT ON TABLE "we.ird"."t" TO ROLE "analyst"',
                'GRANT SELECT ON TABLE "public"."fine" TO ROLE "analyst"', 'GRANT EXPLAIN RLS TO ROLE "analyst"']:
        fake.execute(sql)
    take_snapshot(fake, root / "catalog.json")
    model_path = root / "access" / "imported.yaml"
    result = run_import(root / "catalog.json", model_path)
    assert result.code == WRITTEN, result.err
    assert "warning: table we.ird.t is left out with everything naming it: the model cannot name it (its schema " \
           "name holds a '.', where the model splits schema from table)" in result.err
    assert "warning: EXPLAIN RLS granted to analyst is left out: the model has no field for it" in result.err
    _, desired = compiled(model_path)
    snapshot = load_snapshot(root / "catalog.json")
    planned = plan(desired, snapshot.parsed().state, {}, definitions=snapshot.definitions())
    assert planned.statements == [] and len(planned.adopt) == 2  # the role and the grant it could name


def test_an_awsidc_provider_of_another_namespace_is_imported_with_its_application_and_role(root: Path) -> None:
    """SVV_IDENTITY_PROVIDERS shows an AWSIDC provider's application ARN in `instanceid` and its IAM role in
    `params.iam_role` (netcheck-de/terraform-provider-redshift reads them there): the import writes both, and
    the model plans to no DDL."""
    fake = FakeRedshift()
    fake.execute("""CREATE IDENTITY PROVIDER "second-idc" TYPE AWSIDC NAMESPACE 'partner' APPLICATION_ARN """
                 """'arn:aws:sso::444444444444:application/ssoins-2/apl-2' IAM_ROLE """
                 """'arn:aws:iam::444444444444:role/idc'""")
    take_snapshot(fake, root / "catalog.json")
    model_path = root / "access" / "imported.yaml"
    result = run_import(root / "catalog.json", model_path)
    assert result.code == WRITTEN, result.err
    [provider] = yaml.safe_load(model_path.read_text("utf-8"))["identity_providers"]
    assert (provider["application_arn"], provider["iam_role"]) == (
        "arn:aws:sso::444444444444:application/ssoins-2/apl-2", "arn:aws:iam::444444444444:role/idc")
    _, desired = compiled(model_path)
    snapshot = load_snapshot(root / "catalog.json")
    planned = plan(desired, snapshot.parsed().state, {}, definitions=snapshot.definitions())
    assert planned.statements == [] and [e.kind for e in planned.adopt] == [IdentityProvider.KIND]


def test_an_awsidc_provider_from_an_older_snapshot_needs_its_arns_filled_in(root: Path) -> None:
    """A snapshot written before `instanceid` was read (rows of five cells) still imports; what it does not
    show is left to fill in."""
    fake = FakeRedshift()
    fake.execute("""CREATE IDENTITY PROVIDER "second-idc" TYPE AWSIDC NAMESPACE 'partner' APPLICATION_ARN """
                 """'arn:aws:sso::444444444444:application/ssoins-2/apl-2' IAM_ROLE """
                 """'arn:aws:iam::444444444444:role/idc'""")
    take_snapshot(fake, root / "catalog.json")
    data = json.loads((root / "catalog.json").read_text("utf-8"))
    rows = data["rows"]["identity_provider_definitions"]
    data["rows"]["identity_provider_definitions"] = [[*row[:3], "", row[4]] for row in rows]  # no instanceid, params
    (root / "catalog.json").write_text(json.dumps(data), "utf-8")
    result = run_import(root / "catalog.json", root / "access" / "imported.yaml")
    assert result.code == NEEDS_WORK
    assert "warning: identity provider second-idc: fill in application_arn and iam_role" in result.err
    assert "identity_providers[0].application_arn: 'FILL-IN: the IdC managed application ARN' is not an IdC " \
           "managed application ARN" in result.err


# --- the command line -------------------------------------------------------------------------------


def test_help_describes_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    def help_of(command: str) -> str:
        with pytest.raises(SystemExit) as stop:
            main([command, "--help"])
        assert stop.value.code == 0
        return " ".join(capsys.readouterr().out.split())

    text = help_of("import")
    for option in ("--env ENV", "--secret-arn ARN", "--outputs FILE", "--from-snapshot FILE",
                   "--out access/NAME.yaml", "--force"):
        assert option in text
    assert "Read-only: writes access/<name>.yaml" in text
    assert "exit 0 written and it plans to no DDL, 1 written but it needs" in text
    text = help_of("snapshot")
    for option in ("--env ENV", "--secret-arn ARN", "--outputs FILE", "--out FILE", "--force"):
        assert option in text
    assert "deterministic JSON" in text and "no secret" in text
    assert "--snapshot FILE plan against the catalog in a `snapshot` file (offline)" in help_of("plan")


def test_the_cli_runs_snapshot_and_import(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = hand_made()
    clock = SimClock()
    api = CatalogDataApi(fake, clock, columns=COLUMNS)
    regions: list[str] = []

    def client(service: str, region_name: str, config: Any) -> Any:
        regions.append(region_name)
        return api

    monkeypatch.setattr("redshift_idc.deployed.snapshot.boto3.client", client)
    monkeypatch.setattr("redshift_idc.deployed.snapshot.time.sleep", clock.sleep)
    run = cli("snapshot", "--env", ENV, "--secret-arn", SECRET_ARN, "--out", str(root / "catalog.json"))
    assert run.code == 0 and regions == ["us-east-1"], run.err
    run = cli("import", "--from-snapshot", str(root / "catalog.json"), "--out", str(root / "access" / "x.yaml"))
    assert run.code == WRITTEN and "access_model: x" in run.out
    run = cli("import", "--env", ENV, "--secret-arn", SECRET_ARN, "--out", str(root / "access" / "y.yaml"))
    assert run.code == WRITTEN
    live, offline = ((root / "access" / f"{n}.yaml").read_text("utf-8") for n in ("y", "x"))
    assert live == offline.replace("access_model: x", "access_model: y")  # the same catalog, the same model
    run = cli("snapshot", "--env", ENV, "--out", str(root / "other.json"))
    assert run.code == 2 and "snapshot needs --secret-arn or --outputs" in run.err
    run = cli("import", "--out", str(root / "access" / "z.yaml"))
    assert run.code == 2 and "import needs --env <name> to read a live warehouse (or --from-snapshot FILE)" in run.err


# --- the parts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stored", "alias", "expected"), [
    ('"t"."c" LIKE CAST(\'%public%\' AS TEXT)', "t", '"c" LIKE CAST(\'%public%\' AS TEXT)'),
    ("(\"rls_table\".\"région\" = CAST('\"rls_table\".x' AS TEXT))", "rls_table",
     "(\"région\" = CAST('\"rls_table\".x' AS TEXT))"),  # a literal is copied, never searched
    ('rls_table.a = other.b AND RLS_TABLE.c = 1', "rls_table", "a = other.b AND c = 1"),  # bare: case-insensitive
    ('"T"."c" = 1 AND "t"."d" = 2', "T", '"c" = 1 AND "t"."d" = 2'),  # quoted: exactly
    ('"a""b"."c" = \'it\'\'s\'', 'a"b', '"c" = \'it\'\'s\''),
    ('x.t.c = 1', "t", "x.t.c = 1"),  # after a dot it is not the alias
    ("\"t\".\"c\" = 'a\\'t'", "t", "\"c\" = 'a\\'t'"),
])
def test_strip_alias_takes_off_only_the_alias(stored: str, alias: str, expected: str) -> None:
    assert strip_alias(stored, alias) == expected


def test_strip_alias_undoes_what_the_fake_does_to_a_predicate() -> None:
    written = "timezone LIKE 'America%' AND \"Région\" IN ('a', 'b') AND lower(city) = 'x'"
    stored = stored_predicate(written, ["timezone", "région", "city"])
    assert stored == ("\"rls_table\".\"timezone\" LIKE CAST('America%' AS TEXT) AND \"rls_table\".\"Région\" IN "
                      "(CAST('a' AS TEXT), CAST('b' AS TEXT)) AND lower(\"rls_table\".\"city\") = CAST('x' AS TEXT)")
    assert strip_alias(stored, "rls_table") == ("\"timezone\" LIKE CAST('America%' AS TEXT) AND \"Région\" IN "
                                                "(CAST('a' AS TEXT), CAST('b' AS TEXT)) AND lower(\"city\") = "
                                                "CAST('x' AS TEXT)")


@pytest.mark.parametrize(("value", "expected"), [
    ('[{"colname": "c", "type": "character varying(10)"}]', (("c", "character varying(10)"),)),
    ('[{"name": "a b", "data_type": "numeric(10,2)"}]', (("a b", "numeric(10,2)"),)),
    ('["sku character varying(50)"]', (("sku", "character varying(50)"),)),
    ('(a numeric(10,2), "b ""c""" integer)', (("a", "numeric(10,2)"), ('b "c"', "integer"))),
    ("garbage", None), ('[{"colname": "c"}]', None), ("{}", None), (None, None),
])
def test_policy_columns_are_read_in_every_shape_or_refused(value: str | None,
                                                           expected: tuple[tuple[str, str], ...] | None) -> None:
    assert attributes(value) == expected


@pytest.mark.parametrize("value", ["yes", "no", "on", "off", "null", "~", "true", "0123", "1_000", "1e3", "2024-01-01",
                                   "a: b", "#hash", "- dash", "[x]", "{y}", "a, b", "it's", 'say "hi"', "über",
                                   "tab\there", "line\nbreak", "trailing ", "*star", "&anchor", "!tag", "%pct", "@at",
                                   "`tick", "|pipe", ">gt", "'quoted'", "PUBLIC"])
def test_yaml_scalars_load_back_as_the_same_text(value: str) -> None:
    assert "\n" not in _scalar(value) and "\n" not in _flow([value]) and "\n" not in _flow({value: [value]})
    assert yaml.safe_load(f"key: {_scalar(value)}") == {"key": value}
    assert yaml.safe_load(f"key: {_flow([value, value])}") == {"key": [value, value]}
    assert yaml.safe_load(f"{_scalar(value)}: {_flow({value: [value]})}") == {value: {value: [value]}}


def test_the_import_is_deterministic(imported: tuple[Path, Path, FakeRedshift, Run]) -> None:
    snapshot_path, model_path, _, _ = imported
    snapshot = load_snapshot(snapshot_path)
    config = load_environment(ENV)
    assert import_model(snapshot, config, "imported").text == import_model(snapshot, config, "imported").text \
        == model_path.read_text(encoding="utf-8")
    # The definitions the planner compares are read with the same functions that wrote the model.
    definitions = snapshot.definitions()
    assert {k for k, _ in definitions.objects.items()} == {RlsPolicy.KIND, MaskingPolicy.KIND, IdentityProvider.KIND}


def test_the_reconcilers_own_read_adopts_the_imported_model_without_ddl(
        imported: tuple[Path, Path, FakeRedshift, Run]) -> None:
    """The deploy's read batch holds the definition queries too, so its first plan after an import adopts the
    policies and providers whose catalog definitions equal the model's, as `plan --snapshot` showed."""
    from redshift_idc.runtime.catalog import parse_snapshot, read_queries
    from redshift_idc.runtime.catalog_import import definition_queries
    from redshift_idc.runtime.ledger import LedgerTables
    from tests.fake_data_api import svv_rows

    assert {n for n, _ in definition_queries()} <= {n for n, _ in read_queries(LedgerTables(), "imported")}
    _, model_path, fake, _ = imported
    _, desired = compiled(model_path)
    rows = {**svv_rows(fake.state(), user="admin", superuser=True, secadmin=True), **fake.definition_rows()}
    snapshot = parse_snapshot(rows)
    assert snapshot.definitions is not None
    planned = plan(desired, snapshot.state, snapshot.ledger, definitions=snapshot.definitions)
    assert planned.statements == [] and len(planned.adopt) == 40

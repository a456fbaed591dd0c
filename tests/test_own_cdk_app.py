"""`RedshiftIdcEnvironment` (a user's own CDK app) builds what `make synth` builds, from the user's project folder,
with the same checks and rule packs. The installed wheel is tested in test_cdk_install.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from redshift_idc import project
from redshift_idc.cdk import PUBLIC, RedshiftIdcEnvironment, __all__
from redshift_idc.cdk.app_start import new_app
from redshift_idc.cdk.environment import RULE_PACKS_MARKER
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from tests.conftest import Synthesized

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "own_cdk_app"


def test_the_public_names_are_the_documented_ones() -> None:
    assert sorted(__all__) == sorted(PUBLIC)
    import redshift_idc.cdk as package

    for name in __all__:
        value = getattr(package, name)
        assert name == "NAG_PACKS" or value.__module__ == PUBLIC[name], name


def test_the_construct_builds_the_templates_make_synth_builds(demo: Synthesized, tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    environment = RedshiftIdcEnvironment(app, "Demo", config=demo.config)
    app.synth()
    assert set(environment.stacks) == set(demo.templates)
    for key, stack in environment.stacks.items():
        kind = key.capitalize()
        assert stack.stack_name == f"Demo{kind}"  # the names verify and the TIP client look for
        # Only construct paths differ (the VPC's Name tags hold them): Demo/Warehouse/... instead of DemoWarehouse/...
        built = json.dumps(Template.from_stack(stack).to_json(), sort_keys=True)
        assert f"Demo/{kind}/" in built or key != "warehouse"
        assert built.replace(f"Demo/{kind}/", f"Demo{kind}/") == json.dumps(demo.templates[key].to_json(),
                                                                           sort_keys=True), key
    assert environment.identity is not None and environment.access is not None and environment.connections is None
    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    assert "AwsSolutions" in {p["pluginName"] for p in report["pluginReports"]}


def test_the_rule_packs_run_once_per_stage_and_check_our_pack(tmp_path: Path) -> None:
    app = new_app(outdir=str(tmp_path))
    config = load_environment("demo")
    first = RedshiftIdcEnvironment(app, "Demo", config=config)
    RedshiftIdcEnvironment(app, "Dev", config=load_environment("dev"))
    assert [c.node.id for c in app.node.children].count(RULE_PACKS_MARKER) == 1
    first.warehouse.workgroup.publicly_accessible = True
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert [v["ruleName"] for v in plugins["RedshiftServerless"]["violations"]] == ["RedshiftServerless-RSS4"]


def test_from_yaml_reads_the_users_project_not_the_checkout(tmp_path: Path) -> None:
    """The example's project copied elsewhere: its config/, access/ and sample rows are found beside the YAML
    whatever the current directory, and the project root is the checkout's again afterwards."""
    user = tmp_path / "user-project"
    shutil.copytree(EXAMPLE, user)
    before = project.ROOT
    environment = RedshiftIdcEnvironment.from_yaml(cdk.App(), "Analytics", user / "config" / "analytics.yaml",
                                                   nag=False)
    assert before == project.ROOT
    assert environment.project_root == user.resolve()
    assert environment.config.name == "analytics" and environment.access is not None
    assert environment.warehouse.stack_name == "AnalyticsWarehouse"


def test_from_yaml_runs_the_model_checks_and_names_the_users_file(tmp_path: Path) -> None:
    user = tmp_path / "user-project"
    shutil.copytree(EXAMPLE, user)
    model = user / "access" / "analytics.yaml"
    model.write_text(model.read_text(encoding="utf-8").replace("to: sales, priority", "to: nobody, priority"),
                     encoding="utf-8")
    with pytest.raises(ConfigError, match=r"access/analytics\.yaml.*nobody"):
        RedshiftIdcEnvironment.from_yaml(cdk.App(), "Analytics", user / "config" / "analytics.yaml", nag=False)


def test_an_environment_file_outside_the_projects_config_folder_is_refused(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE / "config" / "analytics.yaml", tmp_path / "analytics.yaml")
    with pytest.raises(ConfigError, match=r"<project>/config/<name>\.yaml"):
        RedshiftIdcEnvironment.from_yaml(cdk.App(), "Analytics", tmp_path / "analytics.yaml")


def test_the_example_sets_the_feature_flags_this_repository_synthesizes_with() -> None:
    """Our stacks rely on three non-default flags (strong cross-stack references, one partition, stack tags):
    the example's cdk.json, which users copy, carries the same context as ours."""
    ours = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    assert json.loads((EXAMPLE / "cdk.json").read_text(encoding="utf-8"))["context"] == ours


def _model_hash(stack: cdk.Stack) -> str:
    resources = Template.from_stack(stack).find_resources("Custom::AccessModel")
    (resource,) = resources.values()
    return str(resource["Properties"]["ModelHash"])


def test_a_typed_access_model_compiles_to_the_document_its_file_does(demo: Synthesized, tmp_path: Path) -> None:
    from redshift_idc.access.model_file import AccessModel
    from redshift_idc.config.yaml_files import read_yaml

    typed = AccessModel.model_validate({**read_yaml(ROOT / "access" / "demo.yaml"), "name": "demo"})
    app = new_app(outdir=str(tmp_path))
    config = demo.config.model_copy(update={"access_model": None})
    environment = RedshiftIdcEnvironment(app, "Demo", config=config, access_model=typed, nag=False)
    assert environment.access is not None and environment.config.access_model == "demo"
    from_file = RedshiftIdcEnvironment(new_app(outdir=str(tmp_path / "file")), "Demo", config=demo.config, nag=False)
    assert from_file.access is not None
    assert _model_hash(environment.access) == _model_hash(from_file.access)


def test_a_typed_access_model_is_checked_and_must_agree_with_the_config(demo: Synthesized) -> None:
    from redshift_idc.access.model_file import AccessModel
    from redshift_idc.config.yaml_files import read_yaml

    data = read_yaml(ROOT / "access" / "demo.yaml")
    other = AccessModel.model_validate({**data, "name": "other"})
    with pytest.raises(ConfigError, match=r"config names access model 'demo' and access_model= is 'other'"):
        RedshiftIdcEnvironment(new_app(), "Demo", config=demo.config, access_model=other, nag=False)
    broken = AccessModel.model_validate({**data, "name": "demo", "expect": [
        {"persona": "Frank", "table": "public.sales_data", "rows": 2}]})
    with pytest.raises(ConfigError, match=r"persona Frank, public.sales_data: sees 1 row"):
        RedshiftIdcEnvironment(new_app(), "Demo", config=demo.config, access_model=broken, nag=False)

"""The optional delivery pipeline: stages in order, approval before the stages that ask for it, the plan
in the synth step, nag-clean with every generated finding explained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from redshift_idc.app_builder import add_pipeline, new_app
from redshift_idc.config import ConfigError
from redshift_idc.pipeline_config import PIPELINE_FILE, load_pipeline
from tests.conftest import only_resource, resources_of


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, list[str]]:
    outdir = tmp_path_factory.mktemp("pipeline")
    app = new_app(outdir=str(outdir), context={"aws:cdk:enable-path-metadata": True})  # as the CLI writes it
    stack = add_pipeline(app, load_pipeline())
    app.synth()  # raises on any unacknowledged cdk-nag or RedshiftServerless finding
    template = json.loads((outdir / "RedshiftIdcPipeline.template.json").read_text())
    return template, outdir, stack.acknowledged


def _stages(template: dict[str, Any]) -> list[dict[str, Any]]:
    _, pipeline = only_resource(template, "AWS::CodePipeline::Pipeline")
    stages: list[dict[str, Any]] = pipeline["Properties"]["Stages"]
    return stages


def test_stages_deploy_the_environments_in_order(pipeline: tuple[dict[str, Any], Path, list[str]]) -> None:
    names = [s["Name"] for s in _stages(pipeline[0])]
    assert names[:3] == ["Source", "Build", "UpdatePipeline"]
    assert names.index("Dev") < names.index("Prod")


def test_manual_approval_only_where_configured(pipeline: tuple[dict[str, Any], Path, list[str]]) -> None:
    approvals = {s["Name"]: [a["Name"] for a in s["Actions"] if a["ActionTypeId"]["Category"] == "Approval"]
                 for s in _stages(pipeline[0])}
    assert approvals["Dev"] == []
    assert approvals["Prod"] == ["Approve-prod"]
    stage = next(s for s in _stages(pipeline[0]) if s["Name"] == "Prod")
    approval = next(a for a in stage["Actions"] if a["ActionTypeId"]["Category"] == "Approval")
    # Before every deploying action of the stage (only the plan printout comes earlier).
    deploys = [a["RunOrder"] for a in stage["Actions"] if a["ActionTypeId"]["Category"] == "Deploy"]
    assert deploys and approval["RunOrder"] < min(deploys)
    assert "Plan-prod" in approval["Configuration"]["CustomData"]


def test_plan_is_printed_before_the_approval(pipeline: tuple[dict[str, Any], Path, list[str]]) -> None:
    template = pipeline[0]
    stage = next(s for s in _stages(template) if s["Name"] == "Prod")
    actions = {a["Name"]: a for a in stage["Actions"]}
    assert actions["Plan-prod"]["RunOrder"] < actions["Approve-prod"]["RunOrder"]
    project = actions["Plan-prod"]["Configuration"]["ProjectName"]["Ref"]
    buildspec = template["Resources"][project]["Properties"]["Source"]["BuildSpec"]
    assert "cat prod.sql" in buildspec


def test_synth_step_runs_the_tests_and_writes_the_plan(pipeline: tuple[dict[str, Any], Path, list[str]]) -> None:
    projects = resources_of(pipeline[0], "AWS::CodeBuild::Project")
    synth = [p for k, p in projects.items() if "Synth" in k]
    assert len(synth) == 1
    buildspec = synth[0]["Properties"]["Source"]["BuildSpec"]
    for command in ("make test", "make pipeline-synth", "make plan ENV=dev > plans/dev.sql",
                    "make plan ENV=prod > plans/prod.sql"):
        assert command in buildspec


def test_artifacts_are_encrypted_with_a_rotated_key(pipeline: tuple[dict[str, Any], Path, list[str]]) -> None:
    template = pipeline[0]
    keys = resources_of(template, "AWS::KMS::Key")
    assert keys and all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())
    _, bucket = only_resource(template, "AWS::S3::Bucket")
    assert bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert "BucketEncryption" in bucket["Properties"]


def test_only_known_generated_findings_are_acknowledged(pipeline: tuple[dict[str, Any], Path, list[str]]) -> None:
    acknowledged = pipeline[2]
    assert acknowledged, "CDK Pipelines generates findings; each must be explained"
    assert all("/Pipeline/" in line for line in acknowledged)
    assert {line.split(" @ ")[0].split("[")[0] for line in acknowledged} <= {"AwsSolutions-IAM5", "AwsSolutions-S1"}


def test_every_star_resource_of_the_pipeline_is_listed_by_path_and_action(
        pipeline: tuple[dict[str, Any], Path, list[str]]) -> None:
    """A `*` CDK Pipelines generates is accepted per construct path and action, each with its reason; a new
    one (another action, or the same action elsewhere) fails here, and fails synth unacknowledged."""
    from components.nag import star_resource_actions
    from stacks.pipeline_stack import PIPELINE_STAR_GRANTS

    template = pipeline[0]
    found: set[tuple[str, str]] = set()
    for resource in resources_of(template, "AWS::IAM::Policy").values():
        path = resource["Metadata"]["aws:cdk:path"].removeprefix("RedshiftIdcPipeline/").removesuffix("/Resource")
        found |= {(path, action) for action in star_resource_actions(resource["Properties"]["PolicyDocument"])}
    for role in resources_of(template, "AWS::IAM::Role").values():
        assert not any(star_resource_actions(p["PolicyDocument"]) for p in role["Properties"].get("Policies", []))
    assert found == set(PIPELINE_STAR_GRANTS)
    assert all(len(reason) > 30 for reason in PIPELINE_STAR_GRANTS.values())
    star_lines = [line for line in pipeline[2] if line.startswith("AwsSolutions-IAM5[Resource::*]")]
    assert sorted(line.split(" @ ")[1].split(":")[0] for line in star_lines) == sorted(
        f"RedshiftIdcPipeline/{path}" for path in {p for p, _ in PIPELINE_STAR_GRANTS})


def test_stage_assemblies_hold_each_environment(pipeline: tuple[dict[str, Any], Path, list[str]]) -> None:
    outdir = pipeline[1]
    dev = sorted(p.name for p in (outdir / "assembly-RedshiftIdcPipeline-Dev").glob("*.template.json"))
    assert [next(kind for kind in ("Access", "Identity", "Warehouse") if f"DevDev{kind}" in name)
            for name in dev] == ["Access", "Identity", "Warehouse"]
    prod = sorted(p.name for p in (outdir / "assembly-RedshiftIdcPipeline-Prod").glob("*.template.json"))
    assert [next(kind for kind in ("Access", "Warehouse") if f"ProdProd{kind}" in name)
            for name in prod] == ["Access", "Warehouse"]  # identity propagation is off in prod


@pytest.mark.parametrize(("change", "expected"), [
    ("stages:\n  - environment: nope\n    approval: false\n", "stages[0].environment: no config/nope.yaml"),
    ("stages:\n  - environment: demo\n    approval: false\n  - environment: demo\n    approval: true\n",
     "environment(s) demo listed twice"),
    ("stages:\n  - environment: demo\n", "stages[0].approval: required, but not set"),
])
def test_pipeline_config_errors(change: str, expected: str, tmp_path: Path) -> None:
    text = PIPELINE_FILE.read_text()
    head = text[:text.index("stages:")]
    path = tmp_path / "pipeline.yaml"
    path.write_text(head + change)
    with pytest.raises(ConfigError) as error:
        load_pipeline(path)
    assert str(error.value).startswith(str(path)) and expected in str(error.value)

"""The optional delivery pipeline: stages in order, approval before the stages that ask for it, the plan
in the synth step, nag-clean with every generated finding explained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from redshift_idc.cdk.app import add_pipeline
from redshift_idc.cdk.app_start import new_app
from redshift_idc.cdk.deployer_policy import uncovered_types
from redshift_idc.config.errors import ConfigError
from redshift_idc.config.pipeline import PIPELINE_FILE, load_pipeline
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


def test_pipeline_and_stage_resource_types_are_in_the_execution_policy(
        pipeline: tuple[dict[str, Any], Path, list[str]]) -> None:
    """The tooling account deploys the pipeline, each stage's account the stage's stacks: both bootstraps use
    the project's execution policy (`make bootstrap`)."""
    stage_templates = sorted(pipeline[1].glob("assembly-*/*.template.json"))
    assert len(stage_templates) >= 5  # dev: warehouse, identity, access; prod: warehouse, access
    templates = [pipeline[0], *(json.loads(p.read_text()) for p in stage_templates)]
    assert uncovered_types(templates) == []


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
    from redshift_idc.cdk.components.nag import star_resource_actions
    from redshift_idc.cdk.stacks.pipeline_stack import PIPELINE_STAR_GRANTS

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
    assert [next(kind for kind in ("Access", "Identity", "Verifier", "Warehouse") if f"DevDev{kind}" in name)
            for name in dev] == ["Access", "Identity", "Verifier", "Warehouse"]
    prod = sorted(p.name for p in (outdir / "assembly-RedshiftIdcPipeline-Prod").glob("*.template.json"))
    assert [next(kind for kind in ("Access", "Verifier", "Warehouse") if f"ProdProd{kind}" in name)
            for name in prod] == ["Access", "Verifier", "Warehouse"]  # identity propagation is off in prod


# ------------------------------------------------------------------------------ verify after each deploy


def _stage_template(outdir: Path, stage: str, kind: str) -> dict[str, Any]:
    path = next((outdir / f"assembly-RedshiftIdcPipeline-{stage}").glob(f"*{stage}{stage}{kind}*.template.json"))
    template: dict[str, Any] = json.loads(path.read_text())
    return template


@pytest.mark.parametrize(("stage", "env"), [("Dev", "dev"), ("Prod", "prod")])
def test_each_stage_runs_verify_after_its_deploys(pipeline: tuple[dict[str, Any], Path, list[str]], stage: str,
                                                 env: str) -> None:
    from redshift_idc.config.environment import load_environment
    from redshift_idc.deployed.session import output_env_var
    from redshift_idc.deployed.verify.deployment import required_outputs

    template = pipeline[0]
    actions = next(s for s in _stages(template) if s["Name"] == stage)["Actions"]
    verify = next(a for a in actions if a["Name"] == f"Verify-{env}")
    deploys = [a["RunOrder"] for a in actions if a["ActionTypeId"]["Category"] == "Deploy"]
    assert verify["RunOrder"] > max(deploys)
    buildspec = json.loads(template["Resources"][verify["Configuration"]["ProjectName"]["Ref"]]["Properties"]
                           ["Source"]["BuildSpec"])
    config = load_environment(env)
    verifier = f"arn:aws:iam::{config.account}:role/{stage}-{stage}Verifier-Role"
    assert buildspec["phases"]["build"]["commands"] == [
        "make .venv/.installed",
        f"aws configure set role_arn {verifier} --profile verify",
        "aws configure set credential_source EcsContainer --profile verify",
        f"AWS_PROFILE=verify .venv/bin/python -m redshift_idc verify --env {env} --outputs-from-env",
    ]
    variables = {v["name"]: v["value"] for v in json.loads(verify["Configuration"]["EnvironmentVariables"])}
    expected = {output_env_var(stack, key) for stack, key in required_outputs(config)}
    assert set(variables) == expected
    assert all(value.startswith("#{") and value.endswith("." + name.rsplit("__", 1)[1] + "}")
               for name, value in variables.items())  # each the deploy action's output of that name
    # The step's own role may assume exactly that environment's verifier role, nothing else in STS or IAM.
    role_ref = template["Resources"][verify["Configuration"]["ProjectName"]["Ref"]]["Properties"]["ServiceRole"]
    role_id = role_ref["Fn::GetAtt"][0]
    assert template["Resources"][role_id]["Properties"]["RoleName"] == f"RedshiftIdcPipeline-Verify-{env}"
    statements = [st for p in resources_of(template, "AWS::IAM::Policy").values()
                  if {"Ref": role_id} in p["Properties"]["Roles"]
                  for st in p["Properties"]["PolicyDocument"]["Statement"]]
    assert [st for st in statements if any(a.startswith(("sts:", "iam:")) for a in _actions(st))] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": verifier}]


def _verifier_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    _, policy = only_resource(template, "AWS::IAM::Policy")
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


@pytest.mark.parametrize(("stage", "env"), [("Dev", "dev"), ("Prod", "prod")])
def test_the_verifier_role_trusts_only_the_verify_step_and_only_reads(
        pipeline: tuple[dict[str, Any], Path, list[str]], stage: str, env: str) -> None:
    from redshift_idc.cdk.components.verifier_role import OWN_STATEMENT_ACTIONS, UNSCOPED_ACTIONS
    from redshift_idc.deployed.verify.aws_calls import DATA_API_SECRET_ACTIONS, IAM_ACTIONS

    template = _stage_template(pipeline[1], stage, "Verifier")
    _, role = only_resource(template, "AWS::IAM::Role")
    assert role["Properties"]["RoleName"] == f"{stage}-{stage}Verifier-Role"  # like CloudFormation's names
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::555555555555:root"},
        "Condition": {"ArnEquals": {
            "aws:PrincipalArn": f"arn:aws:iam::555555555555:role/RedshiftIdcPipeline-Verify-{env}"}},
    }]
    statements = _verifier_statements(template)
    granted = {a for st in statements for a in _actions(st)}
    assert granted <= set(IAM_ACTIONS.values()) | set(DATA_API_SECRET_ACTIONS)
    assert not any(a.split(":")[1].startswith(("Put", "Create", "Delete", "Update", "Attach", "Grant"))
                   for a in granted)
    for statement in statements:
        if statement["Resource"] == "*":
            assert set(_actions(statement)) <= set(UNSCOPED_ACTIONS) | set(OWN_STATEMENT_ACTIONS)
            if set(_actions(statement)) & set(OWN_STATEMENT_ACTIONS):
                assert statement["Condition"] == {
                    "StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}
    wanted = set(IAM_ACTIONS.values()) | set(DATA_API_SECRET_ACTIONS)
    # No third-party issuers or users here; prod has no identity propagation and knows every group id.
    wanted -= {"sso:ListTrustedTokenIssuers", "identitystore:GetUserId",
               "redshift-serverless:GetNamespace"}  # nor federated permissions
    if env == "prod":
        wanted -= {"sso:GetApplicationAuthenticationMethod", "sso:GetApplicationAssignmentConfiguration",
                   "sso:DescribeTrustedTokenIssuer", "identitystore:GetGroupId"}
    assert granted == wanted


def test_the_verifier_role_holds_every_action_verify_calls_when_every_feature_is_on() -> None:
    """Every API call of `redshift_idc.deployed.verify` (its IAM_ACTIONS) is granted when the environment uses every
    check: issuers, users and groups by name, identity propagation, federated permissions."""
    from aws_cdk import Stack
    from aws_cdk import aws_kms as kms
    from aws_cdk.assertions import Template

    from redshift_idc.cdk.components.verifier_role import VerifierRole
    from redshift_idc.config.environment import load_environment
    from redshift_idc.config.federated_permissions import FederatedPermissionsConfig
    from redshift_idc.deployed.verify.aws_calls import DATA_API_SECRET_ACTIONS, IAM_ACTIONS

    base = load_environment("sample-all-paths")
    config = base.model_copy(update={
        "identity_propagation": load_environment("dev").identity_propagation,
        "warehouse": base.warehouse.model_copy(
            update={"federated_permissions": FederatedPermissionsConfig(catalog_name="sales-catalog")})})
    app = new_app()
    stack = Stack(app, "T")
    VerifierRole(stack, "V", config=config, role_name="T-Role", trusted_role_arn="arn:aws:iam::555555555555:role/x",
                 workgroup_arn="arn:aws:redshift-serverless:us-east-1:444444444444:workgroup/w",
                 admin_secret_arn="arn:aws:secretsmanager:us-east-1:444444444444:secret:s", key=kms.Key(stack, "K"),
                 managed_application_arn="arn:aws:sso::444444444444:application/ssoins-4444444444444444/apl-1",
                 trusted_token_issuer_arns=["arn:aws:sso::444444444444:trustedTokenIssuer/ssoins-4444444444444444/t"],
                 oauth_application_arn="arn:aws:sso::444444444444:application/ssoins-4444444444444444/apl-2",
                 namespace_arn="arn:aws:redshift-serverless:us-east-1:444444444444:namespace/n")
    template = dict(Template.from_stack(stack).to_json())
    granted = {a for st in _verifier_statements(template) for a in _actions(st)}
    assert granted == set(IAM_ACTIONS.values()) | set(DATA_API_SECRET_ACTIONS)


def test_fixed_role_names_fit_iam() -> None:
    from redshift_idc.cdk.components.verifier_role import fixed_role_name

    assert fixed_role_name("Dev-DevVerifier", "Role") == "Dev-DevVerifier-Role"
    with pytest.raises(ConfigError, match="longer than IAM's 64 characters"):
        fixed_role_name("A" * 60, "Role")


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

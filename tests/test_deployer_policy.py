"""The CloudFormation execution policy `make bootstrap` installs: generated from the registry schemas' handler
permissions, covering every resource type we deploy, scoped to our stacks and region, applied idempotently."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import cfnlint
import pytest
from botocore.stub import Stubber

from redshift_idc.cdk import deployer_policy
from redshift_idc.cdk.deployer_policy import (
    MANAGED_POLICY_CHARS,
    Target,
    apply,
    deployer_actions,
    pipeline_target,
    policy_documents,
    regenerate,
    target_for,
    uncovered_types,
)
from redshift_idc.config.environment import load_environment
from redshift_idc.config.pipeline import load_pipeline
from redshift_idc.config.yaml_files import available_environments
from tests.conftest import Synthesized

ENVIRONMENTS = [load_environment(name) for name in available_environments()]
BY_NAME = {e.name: e for e in ENVIRONMENTS}
IAM_ACTIONS = json.loads((Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json").read_text())
TARGET = Target("aws", "111111111111", "us-east-1", ("DemoAccess", "DemoWarehouse"), ("named-role",))


def test_actions_file_is_what_the_pinned_schemas_say() -> None:
    """Hand edits, or a cfn-lint upgrade that changed a handler's permissions, show up here."""
    actions = deployer_actions()
    assert actions == regenerate(actions), "rewrite redshift_idc/cdk/deployer_actions.json: make deployer-actions"


def test_every_listed_action_is_an_iam_action() -> None:
    for resource_type, actions in deployer_actions().items():
        for action in actions:
            service, name = action.split(":", 1)
            assert name.lower() in IAM_ACTIONS[service]["Actions"], (resource_type, action)


def test_every_resource_type_of_the_demo_and_the_existing_vpc_sample_is_covered(
        demo: Synthesized, sample: Synthesized) -> None:
    templates = [s.template_json(k) for s in (demo, sample) for k in s.templates]
    assert uncovered_types(templates) == []
    # and the check can fail: a type we never deploy is reported
    assert uncovered_types([{"Resources": {"X": {"Type": "AWS::SQS::Queue"}}}]) == ["AWS::SQS::Queue"]


def _actions_of(documents: list[dict[str, Any]]) -> set[str]:
    return {a for d in documents for s in d["Statement"] for a in s["Action"]}


def test_documents_hold_every_action_and_fit_iams_limit() -> None:
    documents = policy_documents(TARGET)
    assert _actions_of(documents) >= {a for actions in deployer_actions().values() for a in actions}
    assert all(len(json.dumps(d, separators=(",", ":"))) <= MANAGED_POLICY_CHARS for d in documents)
    assert policy_documents(TARGET) == documents  # deterministic


def test_iam_and_lambda_are_scoped_to_these_stacks_and_the_rest_to_the_region() -> None:
    statements = {s["Sid"]: s for d in policy_documents(TARGET) for s in d["Statement"]}
    iam = statements["IamOfTheseStacks"]
    assert iam["Resource"] == ["arn:aws:iam::111111111111:role/DemoAccess-*",
                               "arn:aws:iam::111111111111:role/DemoWarehouse-*",
                               "arn:aws:iam::111111111111:role/named-role",
                               "arn:aws:iam::111111111111:oidc-provider/*",
                               "arn:aws:iam::111111111111:saml-provider/*"]
    assert "iam:PassRole" in iam["Action"] and "iam:CreateServiceLinkedRole" not in iam["Action"]
    assert statements["ServiceLinkedRoles"]["Resource"] == "arn:aws:iam::111111111111:role/aws-service-role/*"
    lam = statements["LambdaOfTheseStacks"]
    assert "lambda:InvokeFunction" in lam["Action"]  # CloudFormation calls the custom resources' functions
    assert lam["Resource"] == ["arn:aws:lambda:us-east-1:111111111111:function:DemoAccess-*",
                               "arn:aws:lambda:us-east-1:111111111111:function:DemoWarehouse-*"]
    regional = [s for sid, s in statements.items() if sid.endswith("InRegion")]
    assert {s["Sid"] for s in regional} >= {"Ec2InRegion", "RedshiftServerlessInRegion", "SsoInRegion", "KmsInRegion"}
    assert all(s["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}} for s in regional)
    assert all(a.split(":")[0] not in ("iam", "lambda") for s in regional for a in s["Action"])
    assert not any(a == "*" or a.endswith(":*") for d in policy_documents(TARGET) for s in d["Statement"]
                   for a in s["Action"])


def test_environments_sharing_an_account_share_its_bootstrap() -> None:
    prod = target_for(BY_NAME["prod"], ENVIRONMENTS, load_pipeline())
    # prod and sample-all-paths both deploy to 444444444444 in us-east-1; prod is also a pipeline stage.
    assert {"ProdWarehouse", "Prod-ProdWarehouse", "Prod-ProdVerifier", "SampleAllPathsWarehouse"} <= set(
        prod.stack_names)
    assert "ProdVerifier" not in prod.stack_names  # only pipeline stages deploy the verifier's role
    assert "DevWarehouse" not in prod.stack_names
    assert prod.named_roles == ("redshift-all-paths-federated",)  # iam_federation.role_name
    demo = target_for(BY_NAME["demo"], ENVIRONMENTS, load_pipeline())
    assert demo.stack_names == ("DemoAccess", "DemoConnections", "DemoIdentity", "DemoWarehouse")


def test_the_pipelines_account_gets_its_stack() -> None:
    target = pipeline_target(load_pipeline(), ENVIRONMENTS)
    assert (target.account, target.stack_names) == ("555555555555", ("RedshiftIdcPipeline",))


# ---------------------------------------------------------------- applying, against botocore's Stubber

@pytest.fixture
def iam() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _policy(name: str, version: str = "v1") -> dict[str, Any]:
    return {"Policy": {"PolicyName": name, "Arn": f"arn:aws:iam::111111111111:policy/{name}",
                       "DefaultVersionId": version}}


def test_apply_creates_missing_policies(iam: tuple[Any, Stubber]) -> None:
    client, stubber = iam
    documents = policy_documents(TARGET)
    names = deployer_policy.policy_names(TARGET, len(documents))
    for name, document in zip(names, documents, strict=True):
        arn = f"arn:aws:iam::111111111111:policy/{name}"
        stubber.add_client_error("get_policy", "NoSuchEntity", "none", 404, expected_params={"PolicyArn": arn})
        stubber.add_response("create_policy", _policy(name), {
            "PolicyName": name, "PolicyDocument": json.dumps(document, separators=(",", ":"), sort_keys=True),
            "Description": "CloudFormation execution policy for the redshift-idc stacks "
                           "(python -m redshift_idc deployer-policy)"})
    arns = apply(client, TARGET, documents)
    assert arns == [f"arn:aws:iam::111111111111:policy/redshift-idc-cfn-exec-us-east-1-{i + 1}"
                    for i in range(len(documents))]


def test_apply_leaves_an_unchanged_policy_alone_and_versions_a_changed_one(iam: tuple[Any, Stubber]) -> None:
    client, stubber = iam
    same: dict[str, Any] = {"Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeVpcs"], "Resource": "*"}]}
    changed = {**same, "Statement": [{**same["Statement"][0], "Action": ["ec2:DescribeSubnets"]}]}
    first, second = deployer_policy.policy_names(TARGET, 2)
    for name in (first, second):
        arn = f"arn:aws:iam::111111111111:policy/{name}"
        stubber.add_response("get_policy", _policy(name, "v5"), {"PolicyArn": arn})
        stubber.add_response("get_policy_version", {"PolicyVersion": {"Document": json.dumps(same),
                                                                      "VersionId": "v5", "IsDefaultVersion": True}},
                             {"PolicyArn": arn, "VersionId": "v5"})
    arn = f"arn:aws:iam::111111111111:policy/{second}"
    stubber.add_response("list_policy_versions", {"Versions": [
        {"VersionId": f"v{i}", "IsDefaultVersion": i == 5, "CreateDate": datetime(2026, 1, i, tzinfo=UTC)}
        for i in (5, 2, 3, 4, 1)]}, {"PolicyArn": arn})
    stubber.add_response("delete_policy_version", {}, {"PolicyArn": arn, "VersionId": "v1"})  # the oldest
    stubber.add_response("create_policy_version", {"PolicyVersion": {"VersionId": "v6"}}, {
        "PolicyArn": arn, "PolicyDocument": json.dumps(changed, separators=(",", ":"), sort_keys=True),
        "SetAsDefault": True})
    apply(client, TARGET, [same, changed])


def test_cli_prints_the_policies_for_review(capsys: pytest.CaptureFixture[str]) -> None:
    assert deployer_policy.deployer_policy_command("dev", pipeline=False, apply_policies=False) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["account"], printed["region"]) == ("333333333333", "us-east-1")
    assert "DevWarehouse" in printed["stacks"]
    assert sorted(printed["policies"]) == [f"redshift-idc-cfn-exec-us-east-1-{i + 1}"
                                           for i in range(len(printed["policies"]))]


def test_cli_apply_prints_arns_comma_separated(iam: tuple[Any, Stubber], capsys: pytest.CaptureFixture[str]) -> None:
    client, stubber = iam
    target = target_for(BY_NAME["demo"], ENVIRONMENTS, load_pipeline())
    for name in deployer_policy.policy_names(target, len(policy_documents(target))):
        stubber.add_client_error("get_policy", "NoSuchEntity", "none", 404)
        stubber.add_response("create_policy", _policy(name))
    deployer_policy.deployer_policy_command("demo", pipeline=False, apply_policies=True, iam=client)
    arns = capsys.readouterr().out.strip().split(",")
    assert arns[0] == "arn:aws:iam::111111111111:policy/redshift-idc-cfn-exec-us-east-1-1"


def test_cli_apply_access_denied_is_a_clear_error(iam: tuple[Any, Stubber]) -> None:
    client, stubber = iam
    stubber.add_client_error("get_policy", "AccessDenied", "not allowed", 403)
    with pytest.raises(deployer_policy.DeployerPolicyError, match="account 111111111111: AccessDenied: not allowed"):
        deployer_policy.deployer_policy_command("demo", pipeline=False, apply_policies=True, iam=client)

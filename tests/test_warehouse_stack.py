"""The warehouse stack's template, property by property (issue: foundation, item 4)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.conftest import Synthesized, only_resource, resources_of


def getatt(logical_id: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


# ---------------------------------------------------------------- encryption

def test_one_customer_managed_key_with_rotation(demo: Synthesized) -> None:
    _, key = only_resource(demo.template_json(), "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    # CloudWatch Logs may use the key only for log groups of this account and region.
    logs_statement = next(s for s in key["Properties"]["KeyPolicy"]["Statement"]
                          if s.get("Principal", {}).get("Service") == "logs.us-east-1.amazonaws.com")
    assert logs_statement["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:111111111111:log-group:*"}
    }


def test_namespace_is_encrypted_and_has_no_password_in_template(demo: Synthesized) -> None:
    template = demo.template_json()
    key_id, _ = only_resource(template, "AWS::KMS::Key")
    idc_id, _ = only_resource(template, "AWS::Redshift::RedshiftIdcApplication")
    _, namespace = only_resource(template, "AWS::RedshiftServerless::Namespace")
    props = namespace["Properties"]
    assert props["KmsKeyId"] == getatt(key_id, "Arn")
    assert props["AdminPasswordSecretKmsKeyId"] == getatt(key_id, "Arn")
    assert props["ManageAdminPassword"] is True
    assert "AdminUserPassword" not in props
    assert sorted(props["LogExports"]) == ["connectionlog", "useractivitylog", "userlog"]
    assert props["RedshiftIdcApplicationArn"] == getatt(idc_id, "RedshiftIdcApplicationArn")
    assert props["NamespaceName"] == "redshift-tip-enabled-namespace"
    assert props["DbName"] == "dev"


def test_every_log_group_is_encrypted_with_the_project_key_and_expires(demo: Synthesized) -> None:
    template = demo.template_json()
    key_id, _ = only_resource(template, "AWS::KMS::Key")
    groups = resources_of(template, "AWS::Logs::LogGroup")
    assert len(groups) == 3  # flow logs, lookup handler, provider framework
    for logical_id, group in groups.items():
        assert group["Properties"]["KmsKeyId"] == getatt(key_id, "Arn"), logical_id
        assert group["Properties"]["RetentionInDays"] == 365, logical_id


# ---------------------------------------------------------------- workgroup and network

def test_workgroup_is_private_tls_only_and_logged(demo: Synthesized) -> None:
    demo.warehouse.has_resource_properties("AWS::RedshiftServerless::Workgroup", {
        "WorkgroupName": "redshift-tip-enabled",
        "NamespaceName": "redshift-tip-enabled-namespace",
        "BaseCapacity": 8,
        "MaxCapacity": 64,
        "PubliclyAccessible": False,
        "EnhancedVpcRouting": False,
        "ConfigParameters": Match.array_equals([
            {"ParameterKey": "enable_user_activity_logging", "ParameterValue": "true"},
            {"ParameterKey": "require_ssl", "ParameterValue": "true"},
        ]),
    })


def test_workgroup_waits_for_its_namespace(demo: Synthesized) -> None:
    template = demo.template_json()
    namespace_id, _ = only_resource(template, "AWS::RedshiftServerless::Namespace")
    _, workgroup = only_resource(template, "AWS::RedshiftServerless::Workgroup")
    assert namespace_id in workgroup["DependsOn"]


def test_created_vpc_has_three_isolated_subnets_and_no_internet_path(demo: Synthesized) -> None:
    template = demo.template_json()
    subnets = resources_of(template, "AWS::EC2::Subnet")
    assert sorted(s["Properties"]["AvailabilityZone"] for s in subnets.values()) == [
        "us-east-1a", "us-east-1b", "us-east-1c"]
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    for forbidden in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EIP",
                      "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::Route"):
        assert not resources_of(template, forbidden), forbidden
    _, workgroup = only_resource(template, "AWS::RedshiftServerless::Workgroup")
    assert sorted(ref["Ref"] for ref in workgroup["Properties"]["SubnetIds"]) == sorted(subnets)


def test_created_vpc_has_encrypted_flow_logs(demo: Synthesized) -> None:
    template = demo.template_json()
    _, flow_log = only_resource(template, "AWS::EC2::FlowLog")
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    assert flow_log["Properties"]["LogDestinationType"] == "cloud-watch-logs"


def test_the_created_vpcs_default_security_group_is_stripped_of_its_rules(demo: Synthesized) -> None:
    """A default security group admits traffic from its own members and lets everything out: CDK's custom
    resource revokes both rules, so nothing that lands in it by default can talk."""
    template = demo.template_json()
    vpc_id, _ = only_resource(template, "AWS::EC2::VPC")
    _, restrict = only_resource(template, "Custom::VpcRestrictDefaultSG")
    assert restrict["Properties"]["DefaultSecurityGroupId"] == getatt(vpc_id, "DefaultSecurityGroup")
    def actions(statement: dict[str, Any]) -> list[str]:
        return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    statements = [s for _, s in _iam_statements(template) if "ec2:RevokeSecurityGroupIngress" in actions(s)]
    assert statements and all(s["Resource"] != "*" for s in statements)  # that group's ARN only


def test_security_group_admits_nothing(demo: Synthesized, sample: Synthesized) -> None:
    for synthesized in (demo, sample):
        template = synthesized.template_json()
        group_id, group = only_resource(template, "AWS::EC2::SecurityGroup")
        assert "SecurityGroupIngress" not in group["Properties"]
        assert not resources_of(template, "AWS::EC2::SecurityGroupIngress")
        # allow_all_outbound=False: CDK's placeholder rule that matches no traffic.
        assert group["Properties"]["SecurityGroupEgress"] == [{
            "CidrIp": "255.255.255.255/32", "Description": "Disallow all traffic",
            "FromPort": 252, "IpProtocol": "icmp", "ToPort": 86}]
        _, workgroup = only_resource(template, "AWS::RedshiftServerless::Workgroup")
        assert workgroup["Properties"]["SecurityGroupIds"] == [getatt(group_id, "GroupId")]


def test_existing_vpc_uses_the_configured_subnets_and_creates_no_vpc(sample: Synthesized) -> None:
    template = sample.template_json()
    assert not resources_of(template, "AWS::EC2::VPC")
    assert not resources_of(template, "AWS::EC2::Subnet")
    _, workgroup = only_resource(template, "AWS::RedshiftServerless::Workgroup")
    assert workgroup["Properties"]["SubnetIds"] == list(sample.config.network.subnet_ids)  # type: ignore[union-attr]
    _, group = only_resource(template, "AWS::EC2::SecurityGroup")
    assert group["Properties"]["VpcId"] == "vpc-0a1b2c3d4e5f60718"


# ---------------------------------------------------------------- Redshift IdC application

def test_idc_application_properties(demo: Synthesized) -> None:
    template = demo.template_json()
    _, application = only_resource(template, "AWS::Redshift::RedshiftIdcApplication")
    props = application["Properties"]
    assert props["RedshiftIdcApplicationName"] == "redshift-data-api-demo-app"
    assert props["IdcDisplayName"] == "redshift-data-api-demo-app"
    assert props["IdcInstanceArn"] == "arn:aws:sso:::instance/ssoins-0000000000000000"
    assert props["IdentityNamespace"] == "AWSIDC"
    assert props["IamRoleArn"]["Fn::GetAtt"][1] == "Arn"
    assert template["Resources"][props["IamRoleArn"]["Fn::GetAtt"][0]]["Type"] == "AWS::IAM::Role"


def _idc_role(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    _, application = only_resource(template, "AWS::Redshift::RedshiftIdcApplication")
    role_id = application["Properties"]["IamRoleArn"]["Fn::GetAtt"][0]
    return role_id, template["Resources"][role_id]


def test_idc_role_trust_is_exactly_the_seed_trust(demo: Synthesized) -> None:
    _, role = _idc_role(demo.template_json())
    assert role["Properties"]["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": ["redshift-serverless.amazonaws.com", "redshift.amazonaws.com"]},
            "Action": ["sts:AssumeRole", "sts:SetContext"],
        }],
    }
    assert "ManagedPolicyArns" not in role["Properties"]


def test_idc_role_may_only_describe_this_instance_and_its_applications(demo: Synthesized) -> None:
    template = demo.template_json()
    role_id, _ = _idc_role(template)
    policies = [p for p in resources_of(template, "AWS::IAM::Policy").values()
                if {"Ref": role_id} in p["Properties"]["Roles"]]
    assert len(policies) == 1
    assert policies[0]["Properties"]["PolicyDocument"]["Statement"] == [{
        "Effect": "Allow",
        "Action": ["sso:DescribeApplication", "sso:DescribeInstance"],
        "Resource": [
            "arn:aws:sso::111111111111:application/ssoins-0000000000000000/*",
            "arn:aws:sso:::instance/ssoins-0000000000000000",
        ],
    }]


def test_groups_without_id_are_resolved_by_name_and_assigned(demo: Synthesized) -> None:
    template = demo.template_json()
    idc_id, _ = only_resource(template, "AWS::Redshift::RedshiftIdcApplication")
    lookup_id, lookup = only_resource(template, "Custom::IdcGroupIds")
    assert lookup["Properties"]["IdentityStoreId"] == "d-0000000000"
    keys = {g["DisplayName"]: g["Key"] for g in lookup["Properties"]["Groups"]}
    assert sorted(keys) == ["amer-sales", "apac-sales", "awssso-finance", "awssso-sales", "emea-sales", "exec-global"]
    assignments = resources_of(template, "AWS::SSO::ApplicationAssignment")
    attributes = sorted(a["Properties"]["PrincipalId"]["Fn::GetAtt"][1] for a in assignments.values())
    assert attributes == sorted(keys.values())
    for assignment in assignments.values():
        assert assignment["Properties"]["ApplicationArn"] == getatt(idc_id, "IdcManagedApplicationArn")
        assert assignment["Properties"]["PrincipalType"] == "GROUP"
        assert assignment["Properties"]["PrincipalId"]["Fn::GetAtt"][0] == lookup_id


def test_groups_with_ids_need_no_lookup(sample: Synthesized) -> None:
    template = sample.template_json()
    assert not resources_of(template, "Custom::IdcGroupIds")
    assignments = resources_of(template, "AWS::SSO::ApplicationAssignment")
    assert sorted(a["Properties"]["PrincipalId"] for a in assignments.values()) == [
        "11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"]
    # The lookup role then has no identity-store permission at all.
    statements = [s for p in resources_of(template, "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert not [s for s in statements if "identitystore:GetGroupId" in str(s["Action"])]


def test_group_lookup_may_only_read_this_identity_store(demo: Synthesized) -> None:
    statements = [s for p in resources_of(demo.template_json(), "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    lookup = [s for s in statements if s["Action"] == "identitystore:GetGroupId"]
    assert lookup == [{
        "Effect": "Allow", "Action": "identitystore:GetGroupId",
        "Resource": ["arn:aws:identitystore::111111111111:identitystore/d-0000000000",
                     "arn:aws:identitystore:::group/*"],
    }]


# ---------------------------------------------------------------- outputs

def test_outputs_name_the_warehouse_and_the_secret_arn_not_its_value(demo: Synthesized) -> None:
    template = demo.template_json()
    outputs = template["Outputs"]
    assert outputs["WorkgroupName"]["Value"] == "redshift-tip-enabled"
    assert outputs["NamespaceName"]["Value"] == "redshift-tip-enabled-namespace"
    idc_id, _ = only_resource(template, "AWS::Redshift::RedshiftIdcApplication")
    assert outputs["RedshiftIdcApplicationArn"]["Value"] == getatt(idc_id, "RedshiftIdcApplicationArn")
    secret_id, secret_lookup = only_resource(template, "Custom::NamespaceAdminSecret")
    assert outputs["AdminSecretArn"]["Value"] == getatt(secret_id, "AdminPasswordSecretArn")
    assert secret_lookup["Properties"]["NamespaceName"] == "redshift-tip-enabled-namespace"
    assert "resolve:secretsmanager" not in str(template)


def test_secret_lookup_may_only_read_this_namespace(demo: Synthesized) -> None:
    template = demo.template_json()
    namespace_id, _ = only_resource(template, "AWS::RedshiftServerless::Namespace")
    statements = [s for p in resources_of(template, "AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert [s for s in statements if s["Action"] == "redshift-serverless:GetNamespace"] == [{
        "Effect": "Allow", "Action": "redshift-serverless:GetNamespace",
        "Resource": getatt(namespace_id, "Namespace.NamespaceArn"),
    }]


# ---------------------------------------------------------------- least privilege

# IAM statements allowed to use `Resource: "*"`, each with the reason: the action has no resource-level
# scoping. Adding one here is a reviewed decision.
STAR_RESOURCE_ALLOWED: dict[str, str] = {
    "redshift-data:DescribeStatement": "acts on a statement id; limited to the role's own statements by the "
                                       "redshift-data:statement-owner-iam-userid condition",
    "redshift-data:GetStatementResult": "same as DescribeStatement",
    "redshift-data:CancelStatement": "same as DescribeStatement",
    "redshift-data:ListStatements": "has no resource type; lists only the caller's own statements",
}


def _iam_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found += [(logical_id, s) for s in props["PolicyDocument"]["Statement"]]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                found += [(logical_id, s) for s in policy["PolicyDocument"]["Statement"]]
    return found


@pytest.mark.parametrize("which", ["demo", "sample"])
def test_no_iam_statement_grants_on_every_resource(which: str, request: pytest.FixtureRequest) -> None:
    synthesized: Synthesized = request.getfixturevalue(which)
    statements = [s for key in synthesized.templates for s in _iam_statements(synthesized.template_json(key))]
    assert statements, "expected IAM statements to check"
    for logical_id, statement in statements:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if "*" in resources:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(a in STAR_RESOURCE_ALLOWED for a in actions), (logical_id, statement)
            if actions != ["redshift-data:ListStatements"]:
                assert statement["Condition"] == {
                    "StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}
        assert statement["Effect"] == "Allow"


def test_key_policy_star_means_this_key_only(demo: Synthesized) -> None:
    """In a KMS key policy `Resource: "*"` is the key itself, never other keys: the one place `*` is right."""
    _, key = only_resource(demo.template_json(), "AWS::KMS::Key")
    assert {s["Resource"] for s in key["Properties"]["KeyPolicy"]["Statement"]} == {"*"}


def test_lookup_lambda_runs_on_current_python_with_its_own_encrypted_logs(demo: Synthesized) -> None:
    template = demo.template_json()
    functions = resources_of(template, "AWS::Lambda::Function")
    ours = [f for f in functions.values() if f["Properties"]["Handler"] == "index.on_event"]
    assert len(ours) == 1
    assert ours[0]["Properties"]["Runtime"] == "python3.14"
    log_group_ref = ours[0]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert template["Resources"][log_group_ref]["Type"] == "AWS::Logs::LogGroup"


def test_tags_from_config_are_applied(demo: Synthesized) -> None:
    _, workgroup = only_resource(demo.template_json(), "AWS::RedshiftServerless::Workgroup")
    assert {"Key": "environment", "Value": "demo"} in workgroup["Properties"]["Tags"]
    assert {"Key": "project", "Value": "redshift-idc"} in workgroup["Properties"]["Tags"]

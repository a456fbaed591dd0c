"""The identity-propagation stack: OIDC provider, customer-managed OAuth app, bridge and client roles."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from redshift_idc.config.environment import parse_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.config.yaml_files import CONFIG_DIR
from tests.conftest import Synthesized, getatt_of, only_resource, resources_of

ISSUER = "https://idp.example.invalid/oauth2/default"
AUDIENCE = "demo-client-id-placeholder"


def _role(template: dict[str, Any], prefix: str) -> tuple[str, dict[str, Any]]:
    found = [(k, r) for k, r in resources_of(template, "AWS::IAM::Role").items() if k.startswith(prefix)]
    assert len(found) == 1, [k for k, _ in found]
    return found[0]


def _policy_of(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    policies = [p for p in resources_of(template, "AWS::IAM::Policy").values()
                if {"Ref": role_id} in p["Properties"]["Roles"]]
    assert len(policies) == 1
    statements: list[dict[str, Any]] = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_oidc_provider_trusts_the_configured_issuer_and_audience(demo: Synthesized) -> None:
    _, provider = only_resource(demo.template_json("identity"), "AWS::IAM::OIDCProvider")
    assert provider["Properties"]["Url"] == ISSUER
    assert provider["Properties"]["ClientIdList"] == [AUDIENCE]


def test_customer_managed_oauth_application(demo: Synthesized) -> None:
    _, application = only_resource(demo.template_json("identity"), "AWS::SSO::Application")
    props = application["Properties"]
    assert props["ApplicationProviderArn"] == "arn:aws:sso::aws:applicationProvider/custom"
    assert props["InstanceArn"] == "arn:aws:sso:::instance/ssoins-0000000000000000"
    assert props["PortalOptions"] == {"Visibility": "DISABLED"}
    assert props["Status"] == "ENABLED"
    assert props["Name"] == "redshift-data-api-demo-client"


def test_bridge_role_trusts_only_the_oidc_provider_for_this_audience(demo: Synthesized) -> None:
    template = demo.template_json("identity")
    provider_id, _ = only_resource(template, "AWS::IAM::OIDCProvider")
    _, bridge = _role(template, "PropagationBridgeRole")
    assert bridge["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow",
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": getatt_of(provider_id, "Arn")},
        "Condition": {"StringEquals": {"idp.example.invalid/oauth2/default:aud": [AUDIENCE]}},
    }]


def test_bridge_role_may_only_exchange_tokens_for_this_app_and_assume_the_client_role(demo: Synthesized) -> None:
    template = demo.template_json("identity")
    bridge_id, _ = _role(template, "PropagationBridgeRole")
    client_id, _ = _role(template, "PropagationClientRole")
    app_id, _ = only_resource(template, "AWS::SSO::Application")
    assert _policy_of(template, bridge_id) == [
        {"Effect": "Allow", "Action": "sso-oauth:CreateTokenWithIAM", "Resource": getatt_of(app_id, "ApplicationArn")},
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetContext"], "Resource": getatt_of(client_id, "Arn")},
    ]


def test_client_role_trusts_only_the_bridge_with_set_context(demo: Synthesized) -> None:
    template = demo.template_json("identity")
    bridge_id, _ = _role(template, "PropagationBridgeRole")
    _, client = _role(template, "PropagationClientRole")
    assert client["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetContext"],
        "Principal": {"AWS": getatt_of(bridge_id, "Arn")},
    }]
    assert "ManagedPolicyArns" not in client["Properties"]  # not AmazonRedshiftDataFullAccess


def test_client_role_may_query_this_workgroup_only(demo: Synthesized) -> None:
    template = demo.template_json("identity")
    client_id, _ = _role(template, "PropagationClientRole")
    statements = _policy_of(template, client_id)
    workgroup, own, listing = statements
    assert workgroup["Action"] == ["redshift-data:BatchExecuteStatement", "redshift-data:DescribeTable",
                                   "redshift-data:ExecuteStatement", "redshift-data:ListDatabases",
                                   "redshift-data:ListSchemas", "redshift-data:ListTables"]
    assert "WorkgroupArn" in str(workgroup["Resource"])
    # Statement-level actions take no ARN: limited to the caller's own statements.
    assert own["Resource"] == "*"
    assert own["Condition"] == {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}
    assert listing == {"Effect": "Allow", "Action": "redshift-data:ListStatements", "Resource": "*"}


def test_oauth_app_configuration_custom_resource(demo: Synthesized) -> None:
    template = demo.template_json("identity")
    bridge_id, _ = _role(template, "PropagationBridgeRole")
    app_id, _ = only_resource(template, "AWS::SSO::Application")
    _, config = only_resource(template, "Custom::IdcOAuthAppConfig")
    props = config["Properties"]
    assert props["IssuerUrl"] == ISSUER and props["Audiences"] == [AUDIENCE]
    assert props["ClaimAttributePath"] == "email" and props["IdentityStoreAttributePath"] == "emails.value"
    assert props["ActorRoleArns"] == [getatt_of(bridge_id, "Arn")]  # only the bridge may exchange tokens
    assert props["ApplicationArn"] == getatt_of(app_id, "ApplicationArn")
    assert props["AssignmentRequired"] is False
    assert re.fullmatch(r"redshift-data-api-demo-client-[0-9a-f]{8}", props["TrustedTokenIssuerName"])
    assert "IdcManagedApplicationArn" in str(props["AuthorizedTargets"])


def test_outputs_give_the_client_everything(demo: Synthesized) -> None:
    outputs = demo.template_json("identity")["Outputs"]
    assert {"BridgeRoleArn", "ClientRoleArn", "OAuthApplicationArn", "Region"} <= set(outputs)


DEMO: dict[str, Any] = yaml.safe_load((CONFIG_DIR / "demo.yaml").read_text())


@pytest.mark.parametrize(("change", "expected"), [
    ({"issuer_url": "http://idp.example.invalid"}, "identity_propagation.issuer_url: expected an https://"),
    ({"audiences": []}, "identity_propagation.audiences: at least one audience"),
    ({"assignment_required": True}, "identity_propagation.assigned_groups: assignment_required is true but no group"),
    ({"assigned_groups": [{"display_name": "amer-sales"}]},
     "identity_propagation.assigned_groups: groups are assigned only when assignment_required is true"),
])
def test_identity_propagation_config_errors(change: dict[str, Any], expected: str) -> None:
    data = copy.deepcopy(DEMO)
    data["identity_propagation"].update(change)
    with pytest.raises(ConfigError) as error:
        parse_environment(data, name="demo", source=Path("config/demo.yaml"))
    assert expected in str(error.value)


def test_assignment_required_has_no_default() -> None:
    data = copy.deepcopy(DEMO)
    del data["identity_propagation"]["assignment_required"]
    with pytest.raises(ConfigError, match=r"identity_propagation.assignment_required: required, but not set"):
        parse_environment(data, name="demo", source=Path("config/demo.yaml"))

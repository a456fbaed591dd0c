"""Every way to connect (issue 6, items 1-4) on `config/sample-all-paths.yaml`, synthesized once: Query Editor v2
through an IdC permission set, trusted token issuers for third-party clients, service integrations and IAM
federation; nag-clean (the synth raises otherwise), cfn-lint clean, least privilege; and the config errors."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cfnlint
import pytest
import yaml
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint

from redshift_idc.access.checked import check_federation_roles
from redshift_idc.access.model_file import AccessModel
from redshift_idc.cdk.components.iam_federation import IamFederation
from redshift_idc.cdk.components.idc_application import RedshiftIdcApplication
from redshift_idc.cdk.deployer_policy import uncovered_types
from redshift_idc.config.connections import IamFederationConfig
from redshift_idc.config.environment import load_environment, parse_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.config.identity_center import IdentityCenterConfig, RedshiftIdcApplicationConfig
from redshift_idc.config.yaml_files import CONFIG_DIR
from tests.conftest import Synthesized, getatt_of, only_resource, resources_of, synthesize

ENV = "sample-all-paths"
ACCOUNT = "444444444444"
INSTANCE = "arn:aws:sso:::instance/ssoins-4444444444444444"
READ_SHARING = "arn:aws:iam::aws:policy/AmazonRedshiftQueryEditorV2ReadSharing"
RELAY_STATE = "https://us-east-1.console.aws.amazon.com/sqlworkbench/home?region=us-east-1#/client"
SAMPLE: dict[str, Any] = yaml.safe_load((CONFIG_DIR / f"{ENV}.yaml").read_text(encoding="utf-8"))
REDSHIFT_SERVICES = ("redshift", "redshift-serverless", "redshift-data")


@pytest.fixture(scope="module")
def all_paths(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(load_environment(ENV), tmp_path_factory.mktemp("all-paths"))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def exported(synthesized: Synthesized, value: Any) -> Any:
    """What a `Fn::ImportValue` of the connections stack reads: the warehouse output exported under that name."""
    name = value["Fn::ImportValue"]
    outputs = synthesized.template_json("warehouse")["Outputs"].values()
    [found] = [o["Value"] for o in outputs if o.get("Export", {}).get("Name") == name]
    return found


def workgroup_and_namespace(synthesized: Synthesized) -> tuple[dict[str, Any], dict[str, Any]]:
    warehouse = synthesized.template_json("warehouse")
    workgroup_id, _ = only_resource(warehouse, "AWS::RedshiftServerless::Workgroup")
    namespace_id, _ = only_resource(warehouse, "AWS::RedshiftServerless::Namespace")
    return getatt_of(workgroup_id, "Workgroup.WorkgroupArn"), getatt_of(namespace_id, "Namespace.NamespaceArn")


@cache
def iam_resource_types() -> dict[str, dict[str, Any]]:
    """IAM's service authorization data as cfn-lint ships it: service prefix -> action (lower case) -> resources."""
    path = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    data: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def has_resource_type(action: str) -> bool:
    service, name = action.split(":", 1)
    return bool(iam_resource_types()[service]["Actions"][name.lower()].get("Resources"))


def policy_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every IAM statement of a template, the permission sets' inline policies included."""
    found: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found += [(logical_id, s) for s in props["PolicyDocument"]["Statement"]]
        elif resource["Type"] == "AWS::IAM::Role":
            found += [(logical_id, s) for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        elif resource["Type"] == "AWS::SSO::PermissionSet" and "InlinePolicy" in props:
            found += [(logical_id, s) for s in props["InlinePolicy"]["Statement"]]
    return found


def all_statements(synthesized: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    return [s for key in synthesized.templates for s in policy_statements(synthesized.template_json(key))]


# ---------------------------------------------------------------- the stacks

def test_every_path_is_off_in_the_demo(demo: Synthesized) -> None:
    assert "connections" not in demo.templates
    _, application = only_resource(demo.template_json(), "AWS::Redshift::RedshiftIdcApplication")
    assert "AuthorizedTokenIssuerList" not in application["Properties"]
    assert "ServiceIntegrations" not in application["Properties"]
    assert not resources_of(demo.template_json(), "Custom::IdcTrustedTokenIssuer")


def test_connections_is_its_own_stack(all_paths: Synthesized) -> None:
    assert sorted(all_paths.templates) == ["connections", "warehouse"]


# ---------------------------------------------------------------- 1. Query Editor v2 with SSO (seed 001)

def test_permission_set_for_query_editor_v2(all_paths: Synthesized) -> None:
    _, permission_set = only_resource(all_paths.template_json("connections"), "AWS::SSO::PermissionSet")
    props = permission_set["Properties"]
    assert props["Name"] == "RedshiftQueryEditorV2"
    assert props["InstanceArn"] == INSTANCE
    assert props["ManagedPolicies"] == [READ_SHARING]
    assert props["RelayStateType"] == RELAY_STATE
    assert props["SessionDuration"] == "PT8H"


def test_permission_set_inline_policy_names_this_workgroup_and_namespace(all_paths: Synthesized) -> None:
    template = all_paths.template_json("connections")
    qev2_id, _ = only_resource(template, "AWS::Redshift::QEV2IdcApplication")
    _, permission_set = only_resource(template, "AWS::SSO::PermissionSet")
    statements = {s["Sid"]: s for s in permission_set["Properties"]["InlinePolicy"]["Statement"]}
    workgroup_arn, namespace_arn = workgroup_and_namespace(all_paths)
    assert statements["ThisWorkgroup"]["Action"] == "redshift-serverless:GetWorkgroup"
    assert exported(all_paths, statements["ThisWorkgroup"]["Resource"]) == workgroup_arn
    assert statements["ThisNamespace"]["Action"] == "redshift-serverless:GetNamespace"
    assert exported(all_paths, statements["ThisNamespace"]["Resource"]) == namespace_arn
    # The seed's IdC statement, scoped to this instance, the Redshift and the QEv2 IdC-managed applications.
    idc = statements["IdentityCenterApplications"]
    assert idc["Action"] == ["sso:DescribeApplication", "sso:DescribeInstance"]
    [instance, qev2, redshift] = idc["Resource"]
    assert instance == INSTANCE and qev2 == getatt_of(qev2_id, "IdcManagedApplicationArn")
    warehouse = all_paths.template_json("warehouse")
    redshift_app_id, _ = only_resource(warehouse, "AWS::Redshift::RedshiftIdcApplication")
    assert exported(all_paths, redshift) == getatt_of(redshift_app_id, "IdcManagedApplicationArn")
    # The one "*": an action IAM defines without any resource type (checked against IAM's data).
    assert statements["QueryEditorV2IdcDiscovery"]["Action"] == "redshift:DescribeQev2IdcApplications"
    assert statements["QueryEditorV2IdcDiscovery"]["Resource"] == "*"
    assert not has_resource_type("redshift:DescribeQev2IdcApplications")
    assert sorted(statements) == ["IdentityCenterApplications", "QueryEditorV2IdcDiscovery", "ThisNamespace",
                                  "ThisWorkgroup"]


def test_permission_set_is_assigned_to_each_group_in_this_account(all_paths: Synthesized) -> None:
    template = all_paths.template_json("connections")
    permission_set_id, _ = only_resource(template, "AWS::SSO::PermissionSet")
    lookup_id, lookup = only_resource(template, "Custom::IdcGroupIds")
    assert [g["DisplayName"] for g in lookup["Properties"]["Groups"]] == ["finance"]  # analysts' id is known
    assignments = [a["Properties"] for a in resources_of(template, "AWS::SSO::Assignment").values()]
    assert len(assignments) == 2
    for assignment in assignments:
        assert assignment["InstanceArn"] == INSTANCE
        assert assignment["PermissionSetArn"] == getatt_of(permission_set_id, "PermissionSetArn")
        assert (assignment["TargetType"], assignment["TargetId"]) == ("AWS_ACCOUNT", ACCOUNT)
        assert assignment["PrincipalType"] == "GROUP"
    principals = sorted(json.dumps(a["PrincipalId"]) for a in assignments)
    assert principals[0] == '"44444444-1111-2222-3333-444444444444"'  # from redshift_idc_application.groups
    assert json.loads(principals[1])["Fn::GetAtt"][0] == lookup_id


def test_query_editor_v2_idc_application(all_paths: Synthesized) -> None:
    _, application = only_resource(all_paths.template_json("connections"), "AWS::Redshift::QEV2IdcApplication")
    assert {k: v for k, v in application["Properties"].items() if k != "Tags"} == {
        "IdcDisplayName": "qev2-all-paths", "IdcInstanceArn": INSTANCE, "Qev2IdcApplicationName": "qev2-all-paths"}


def test_redshift_idc_role_may_discover_query_editor_v2(all_paths: Synthesized) -> None:
    warehouse = all_paths.template_json("warehouse")
    _, application = only_resource(warehouse, "AWS::Redshift::RedshiftIdcApplication")
    role_id = application["Properties"]["IamRoleArn"]["Fn::GetAtt"][0]
    statements = [s for logical_id, s in policy_statements(warehouse)
                  if {"Ref": role_id} in warehouse["Resources"][logical_id]["Properties"].get("Roles", [])]
    assert {"Effect": "Allow", "Action": "redshift:DescribeQev2IdcApplications", "Resource": "*"} in statements


def test_outputs_for_query_editor_v2_and_federation(all_paths: Synthesized) -> None:
    outputs = all_paths.template_json("connections")["Outputs"]
    assert outputs["QueryEditorV2Url"]["Value"] == RELAY_STATE
    assert {"QueryEditorV2PermissionSetArn", "QueryEditorV2IdcApplicationArn", "FederationRoleArn",
            "FederationProviderArn"} <= set(outputs)


# ---------------------------------------------------------------- 2. trusted token issuers (seed 000)

def test_each_trusted_token_issuer_is_a_custom_resource_of_the_shared_handler(all_paths: Synthesized) -> None:
    warehouse = all_paths.template_json("warehouse")
    issuers = {r["Properties"]["IssuerUrl"]: r["Properties"]
               for r in resources_of(warehouse, "Custom::IdcTrustedTokenIssuer").values()}
    assert sorted(issuers) == ["https://login.example.invalid/00000000-0000-0000-0000-000000000000/v2.0",
                               "https://okta.example.invalid/oauth2/bi"]
    bi = issuers["https://okta.example.invalid/oauth2/bi"]
    assert bi["InstanceArn"] == INSTANCE
    assert bi["TrustedTokenIssuerName"].startswith("bi-okta-") and len(bi["TrustedTokenIssuerName"]) == 16
    assert (bi["ClaimAttributePath"], bi["IdentityStoreAttributePath"]) == ("email", "emails.value")
    # Served by the same Lambda entry point as the identity-propagation OAuth application (one implementation).
    provider_function = bi["ServiceToken"]["Fn::GetAtt"][0]
    assert provider_function.startswith("TrustedTokenIssuersProviderframeworkonEvent")
    functions = [f["Properties"] for f in resources_of(warehouse, "AWS::Lambda::Function").values()
                 if f["Properties"].get("Description", "").startswith("Creates, updates and deletes the IdC trusted")]
    assert [f["Handler"] for f in functions] == ["index.on_event"]


def test_redshift_idc_application_authorizes_the_issuers_audiences(all_paths: Synthesized) -> None:
    warehouse = all_paths.template_json("warehouse")
    ids = {r["Properties"]["TrustedTokenIssuerName"].rsplit("-", 1)[0]: k
           for k, r in resources_of(warehouse, "Custom::IdcTrustedTokenIssuer").items()}
    _, application = only_resource(warehouse, "AWS::Redshift::RedshiftIdcApplication")
    assert application["Properties"]["AuthorizedTokenIssuerList"] == [
        {"TrustedTokenIssuerArn": getatt_of(ids["bi-okta"], "TrustedTokenIssuerArn"),
         "AuthorizedAudiencesList": ["bi-client-id-placeholder"]},
        {"TrustedTokenIssuerArn": getatt_of(ids["jdbc-entra"], "TrustedTokenIssuerArn"),
         "AuthorizedAudiencesList": ["jdbc-client-id-placeholder", "odbc-client-id-placeholder"]},
    ]


def test_issuer_handler_may_only_manage_issuers_of_this_instance(all_paths: Synthesized) -> None:
    warehouse = all_paths.template_json("warehouse")
    role_id = next(k for k in resources_of(warehouse, "AWS::IAM::Role") if k.startswith("TrustedTokenIssuersRole"))
    statements = [s for logical_id, s in policy_statements(warehouse)
                  if {"Ref": role_id} in warehouse["Resources"][logical_id]["Properties"].get("Roles", [])]
    sso = [s for s in statements if any(a.startswith("sso:") for a in _list(s["Action"]))]
    assert sso == [{"Effect": "Allow",
                    "Action": ["sso:CreateTrustedTokenIssuer", "sso:DeleteTrustedTokenIssuer",
                               "sso:DescribeTrustedTokenIssuer", "sso:ListTrustedTokenIssuers",
                               "sso:UpdateTrustedTokenIssuer"],
                    "Resource": [f"arn:aws:sso::{ACCOUNT}:trustedTokenIssuer/ssoins-4444444444444444/*", INSTANCE]}]
    assert {a for s in statements for a in _list(s["Action"])} - set(sso[0]["Action"]) == {
        "logs:CreateLogStream", "logs:PutLogEvents"}


# ---------------------------------------------------------------- 3. service integrations (seed 000)

def test_service_integrations_are_rendered_into_the_application(all_paths: Synthesized) -> None:
    _, application = only_resource(all_paths.template_json("warehouse"), "AWS::Redshift::RedshiftIdcApplication")
    assert application["Properties"]["ServiceIntegrations"] == [
        {"LakeFormation": [{"LakeFormationQuery": {"Authorization": "Enabled"}}]},
        {"S3AccessGrants": [{"ReadWriteAccess": {"Authorization": "Enabled"}}]},
        {"Redshift": [{"Connect": {"Authorization": "Enabled"}}]},
    ]


def test_enhanced_vpc_routing_stays_off_with_every_path(all_paths: Synthesized) -> None:
    _, workgroup = only_resource(all_paths.template_json("warehouse"), "AWS::RedshiftServerless::Workgroup")
    assert workgroup["Properties"]["EnhancedVpcRouting"] is False


def test_lakehouse_application_sends_both_integrations_it_needs(all_paths: Synthesized) -> None:
    """hashicorp/terraform-provider-aws#47866: a Lakehouse application needs Lake Formation query and Redshift
    connect enabled in the same request; ours renders every integration, so both travel together."""
    _, application = only_resource(all_paths.template_json(), "AWS::Redshift::RedshiftIdcApplication")
    props = application["Properties"]
    assert props["ApplicationType"] == "Lakehouse"
    integrations = props["ServiceIntegrations"]
    assert {"LakeFormation": [{"LakeFormationQuery": {"Authorization": "Enabled"}}]} in integrations
    assert {"Redshift": [{"Connect": {"Authorization": "Enabled"}}]} in integrations


def test_application_type_is_omitted_unless_configured(demo: Synthesized) -> None:
    _, application = only_resource(demo.template_json(), "AWS::Redshift::RedshiftIdcApplication")
    assert "ApplicationType" not in application["Properties"]


def test_users_are_assigned_to_the_application_by_id_or_resolved_name(all_paths: Synthesized) -> None:
    template = all_paths.template_json()
    assignments = resources_of(template, "AWS::SSO::ApplicationAssignment")
    users = [r["Properties"] for r in assignments.values() if r["Properties"]["PrincipalType"] == "USER"]
    assert len(users) == 2
    ids = [u["PrincipalId"] for u in users]
    assert "44444444-5555-6666-7777-444444444444" in ids  # given in config
    [lookup_id] = [i for i, r in template["Resources"].items() if r["Type"] == "Custom::IdcUserIds"]
    lookup = template["Resources"][lookup_id]["Properties"]
    assert lookup["Kind"] == "IdcUserIds"
    assert [u["UserName"] for u in lookup["Users"]] == ["etl-service@example.invalid"]  # only the one without an id
    [key] = [u["Key"] for u in lookup["Users"]]
    assert {"Fn::GetAtt": [lookup_id, key]} in ids
    app_id, _ = only_resource(template, "AWS::Redshift::RedshiftIdcApplication")
    assert all(u["ApplicationArn"] == {"Fn::GetAtt": [app_id, "IdcManagedApplicationArn"]} for u in users)
    # The lookup Lambda may resolve users of this identity store only.
    [statement] = [s for _, s in policy_statements(template) if s["Action"] == "identitystore:GetUserId"]
    assert statement["Resource"][1] == "arn:aws:identitystore:::user/*"
    assert "identitystore/d-4444444444" in json.dumps(statement["Resource"][0])


def test_default_iam_role_reads_exactly_the_configured_locations(all_paths: Synthesized) -> None:
    template = all_paths.template_json()
    role_id, role = next((i, r) for i, r in resources_of(template, "AWS::IAM::Role").items()
                         if "DefaultIamRole" in i)
    trusted = sorted(p for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
                     for p in _list(s["Principal"]["Service"]))
    assert trusted == ["redshift-serverless.amazonaws.com", "redshift.amazonaws.com"]
    policies = [r for r in resources_of(template, "AWS::IAM::Policy").values()
                if {"Ref": role_id} in r["Properties"]["Roles"]]
    statements = [s for policy in policies for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    actions = {a for s in statements for a in _list(s["Action"])}
    assert actions == {"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "kms:Decrypt"}
    get_object = sorted(r for s in statements if "s3:GetObject" in _list(s["Action"]) for r in _list(s["Resource"]))
    assert get_object == ["arn:aws:s3:::all-paths-landing-444444444444/sales/*",
                          "arn:aws:s3:::all-paths-reference-444444444444/geo/2024/*"]
    listing = [s for s in statements if "s3:ListBucket" in _list(s["Action"])]
    assert {json.dumps(s["Condition"], sort_keys=True) for s in listing} == {
        json.dumps({"StringLike": {"s3:prefix": ["sales/*"]}}),
        json.dumps({"StringLike": {"s3:prefix": ["geo/2024/*"]}})}
    [decrypt] = [s for s in statements if s["Action"] == "kms:Decrypt"]
    assert decrypt["Resource"] == "arn:aws:kms:us-east-1:444444444444:key/44444444-aaaa-bbbb-cccc-444444444444"
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    assert all(r != "*" and "s3:::*" not in json.dumps(r) for s in statements for r in _list(s["Resource"]))
    # The namespace uses it as its default role (COPY ... IAM_ROLE default), and lists it among its roles.
    _, namespace = only_resource(template, "AWS::RedshiftServerless::Namespace")
    arn = {"Fn::GetAtt": [role_id, "Arn"]}
    assert namespace["Properties"]["DefaultIamRoleArn"] == arn
    assert namespace["Properties"]["IamRoles"] == [arn]


def test_no_default_iam_role_unless_configured(demo: Synthesized) -> None:
    _, namespace = only_resource(demo.template_json(), "AWS::RedshiftServerless::Namespace")
    assert "DefaultIamRoleArn" not in namespace["Properties"]
    assert "IamRoles" not in namespace["Properties"]


def _component_template(build: Callable[[cdk.Stack], object]) -> dict[str, Any]:
    """One component in a bare stack (no nag): for variants the sample does not synthesize."""
    stack = cdk.Stack(cdk.App(), "Component", env=cdk.Environment(account=ACCOUNT, region="us-east-1"))
    build(stack)
    return dict(Template.from_stack(stack).to_json())


def test_integrations_turned_off_are_rendered_disabled() -> None:
    """Explicit Disabled, so that switching one off in config switches it off in Redshift too."""
    application = RedshiftIdcApplicationConfig.model_validate(
        {"name": "app", "display_name": "app", "service_integrations": {}})
    identity_center = IdentityCenterConfig(instance_arn=INSTANCE, identity_store_id="d-4444444444")
    template = _component_template(lambda stack: RedshiftIdcApplication(
        stack, "Idc", identity_center=identity_center, application=application, group_ids={},
        user_ids={}))
    _, resource = only_resource(template, "AWS::Redshift::RedshiftIdcApplication")
    assert resource["Properties"]["ServiceIntegrations"] == [
        {"LakeFormation": [{"LakeFormationQuery": {"Authorization": "Disabled"}}]},
        {"S3AccessGrants": [{"ReadWriteAccess": {"Authorization": "Disabled"}}]},
        {"Redshift": [{"Connect": {"Authorization": "Disabled"}}]},
    ]
    # Without Query Editor v2 the IdC role gets no "*" statement.
    assert all(s["Resource"] != "*" for _, s in policy_statements(template))


# ---------------------------------------------------------------- 4. IAM federation (seeds 003/004)

def _federation(template: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    role_id = next(k for k in resources_of(template, "AWS::IAM::Role") if k.startswith("IamFederationRole"))
    statements = [s for logical_id, s in policy_statements(template)
                  if {"Ref": role_id} in template["Resources"][logical_id]["Properties"].get("Roles", [])]
    return template["Resources"][role_id], statements


def test_oidc_federation_role_trusts_its_provider_for_the_audience_only(all_paths: Synthesized) -> None:
    template = all_paths.template_json("connections")
    provider_id, provider = only_resource(template, "AWS::IAM::OIDCProvider")
    assert provider["Properties"]["Url"] == "https://okta.example.invalid/oauth2/iam"
    assert provider["Properties"]["ClientIdList"] == ["iam-federation-client-id-placeholder"]
    role, _ = _federation(template)
    assert role["Properties"]["RoleName"] == "redshift-all-paths-federated"
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": getatt_of(provider_id, "Arn")},
        "Condition": {"StringEquals": {
            "okta.example.invalid/oauth2/iam:aud": ["iam-federation-client-id-placeholder"]}},
    }]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_federation_role_may_only_get_credentials_for_this_workgroup(all_paths: Synthesized) -> None:
    role, statements = _federation(all_paths.template_json("connections"))
    assert len(statements) == 1
    [statement] = statements
    assert statement["Action"] == "redshift-serverless:GetCredentials"  # no GetClusterCredentials, JoinGroup, ...
    workgroup_arn, _ = workgroup_and_namespace(all_paths)
    assert exported(all_paths, statement["Resource"]) == workgroup_arn
    assert {"Key": "RedshiftDbRoles", "Value": "reporting:bi_readers"} in role["Properties"]["Tags"]


def test_no_cluster_credential_actions_anywhere(all_paths: Synthesized) -> None:
    actions = {a for _, s in all_statements(all_paths) for a in _list(s["Action"])}
    assert not actions & {"redshift:GetClusterCredentials", "redshift:GetClusterCredentialsWithIAM",
                          "redshift:JoinGroup", "redshift:CreateClusterUser"}


def saml_metadata(directory: Path) -> Path:
    path = directory / "idp-metadata.xml"
    certificate = "MIIC" + "A" * 1200
    path.write_text(f'<?xml version="1.0"?>\n<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
                    f'entityID="https://idp.example.invalid/saml"><md:IDPSSODescriptor '
                    f'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor>'
                    f"{certificate}</md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>\n",
                    encoding="utf-8")
    return path


def test_saml_federation_role_trusts_its_provider_for_aws_sign_in_only(tmp_path: Path) -> None:
    metadata = saml_metadata(tmp_path)
    config = IamFederationConfig.model_validate(
        {"provider": {"type": "saml", "metadata_document_file": str(metadata)}, "db_roles": ["reporting"]})
    template = _component_template(lambda stack: IamFederation(
        stack, "IamFederation", config=config, workgroup_arn="arn:aws:redshift-serverless:us-east-1:"
        f"{ACCOUNT}:workgroup/0000", partition="aws"))
    provider_id, provider = only_resource(template, "AWS::IAM::SAMLProvider")
    assert provider["Properties"]["SamlMetadataDocument"] == metadata.read_text(encoding="utf-8")
    role, statements = _federation(template)
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Action": "sts:AssumeRoleWithSAML",
        "Principal": {"Federated": getatt_of(provider_id, "Arn")},
        "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
    }]
    assert statements == [{"Effect": "Allow", "Action": "redshift-serverless:GetCredentials",
                           "Resource": f"arn:aws:redshift-serverless:us-east-1:{ACCOUNT}:workgroup/0000"}]
    assert not resources_of(template, "AWS::IAM::OIDCProvider")


def test_db_roles_must_be_roles_of_the_access_model() -> None:
    config = load_environment(ENV)
    check_federation_roles(config, AccessModel.model_validate(
        {"name": "m", "roles": {"plain": ["Reporting", "bi_readers"]}}))  # Redshift folds names: Reporting ok
    with pytest.raises(ConfigError, match=r"iam_federation.db_roles\[1\]: 'bi_readers' is not a role of access model "
                                          r"'m'; declare it under roles.plain in access/m.yaml \(known: reporting\)"):
        check_federation_roles(config, AccessModel.model_validate({"name": "m", "roles": {"plain": ["reporting"]}}))


# ---------------------------------------------------------------- compliance

def test_nag_clean_with_each_acknowledgement_on_its_resource(all_paths: Synthesized) -> None:
    plugins = {p["pluginName"]: p for p in all_paths.validation_report()["pluginReports"]}
    suppressed = []
    for name, plugin in plugins.items():
        assert (plugin["conclusion"], plugin["violations"]) == ("success", []), name
        for item in plugin.get("suppressedViolations", []):
            assert item["acknowledgedAt"].count("/") >= 2 and len(item["reason"]) > 40, item
            suppressed.append((item["ruleName"], item["acknowledgedAt"]))
    new = sorted((rule, path) for rule, path in suppressed if "Provider/" not in path and (
        "TrustedTokenIssuers" in path or "Connections" in path or rule == "AwsSolutions-IAM5[Resource::*]"))
    assert new == [
        ("AwsSolutions-IAM5[Resource::*]", "SampleAllPathsWarehouse/IdcApplication/Role/DefaultPolicy"),
        ("AwsSolutions-IAM5[Resource::arn:aws:identitystore:::group/*]",
         "SampleAllPathsConnections/DeployLookups/Role/DefaultPolicy"),
        ("AwsSolutions-IAM5[Resource::arn:aws:sso::444444444444:trustedTokenIssuer/ssoins-4444444444444444/*]",
         "SampleAllPathsWarehouse/TrustedTokenIssuers/Role/DefaultPolicy"),
    ]


def test_resource_types_are_in_the_execution_policy(all_paths: Synthesized) -> None:
    assert uncovered_types(all_paths.template_json(k) for k in all_paths.templates) == []


def test_cfn_lint_reports_no_errors(all_paths: Synthesized) -> None:
    templates = sorted(all_paths.outdir.glob("*.template.json"))
    assert [p.name for p in templates] == ["SampleAllPathsConnections.template.json",
                                           "SampleAllPathsWarehouse.template.json"]
    for path in templates:
        matches = lint(path.read_text(), config=ManualArgs(regions=[all_paths.config.region]))
        assert [str(m) for m in matches if m.rule.id.startswith("E")] == [], path.name


def test_star_only_for_actions_without_a_resource_type(all_paths: Synthesized) -> None:
    """Never `*` for Redshift (or any) resources: a statement on "*" may only hold actions that IAM defines with
    no resource type, per IAM's own data (cfn-lint's copy); the Provider framework's grants are ARNs."""
    statements = all_statements(all_paths)
    assert any("InlinePolicy" in json.dumps(all_paths.template_json(k)) for k in all_paths.templates)
    for logical_id, statement in statements:
        if "*" in _list(statement["Resource"]):
            for action in _list(statement["Action"]):
                assert not has_resource_type(action), (logical_id, action)
    redshift_actions = [(s["Resource"], a) for _, s in statements for a in _list(s["Action"])
                        if a.split(":")[0] in REDSHIFT_SERVICES]
    assert sorted(a for r, a in redshift_actions if r == "*") == ["redshift:DescribeQev2IdcApplications"] * 2


# ---------------------------------------------------------------- config errors

def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return change


_DELETE = object()
TTI = "redshift_idc_application.trusted_token_issuers"
INTEGRATIONS = "redshift_idc_application.service_integrations"
DEFAULT_ROLE = "warehouse.default_iam_role"
PROPAGATION = {"issuer_url": "https://okta.example.invalid/oauth2/bi", "audiences": ["app"],
               "application_name": "data-api-client", "assignment_required": False}

CONFIG_ERRORS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("issuer not https", _set(f"{TTI}.0.issuer_url", "http://okta.example.invalid/oauth2/bi"),
     f"{TTI}[0].issuer_url: expected an https:// issuer URL"),
    ("empty audiences", _set(f"{TTI}.0.audiences", []), f"{TTI}[0].audiences: at least one audience"),
    ("no audiences", _set(f"{TTI}.0.audiences", _DELETE), f"{TTI}[0].audiences: required, but not set"),
    ("bad claim", _set(f"{TTI}.0.claim_attribute_path", "$.email"), f"{TTI}[0].claim_attribute_path: expected a token"),
    ("duplicate issuer name", _set(f"{TTI}.1.name", "BI-okta"),
     f"{TTI}[1].name: duplicate name 'BI-okta' (same as trusted_token_issuers[0])"),
    ("duplicate issuer url", _set(f"{TTI}.1.issuer_url", "https://okta.example.invalid/oauth2/bi"),
     f"{TTI}[1].issuer_url: https://okta.example.invalid/oauth2/bi is also trusted_token_issuers[0]"),
    ("issuer also identity propagation's", _set("identity_propagation", PROPAGATION),
     "identity_propagation.issuer_url: https://okta.example.invalid/oauth2/bi is also redshift_idc_application."
     "trusted_token_issuers[0]"),
    ("s3 read only", _set("redshift_idc_application.service_integrations.s3_access_grants", "read"),
     "redshift_idc_application.service_integrations.s3_access_grants: Redshift's S3 Access Grants integration has "
     "a single scope, read/write"),
    ("s3 unknown", _set("redshift_idc_application.service_integrations.s3_access_grants", "write"),
     "s3_access_grants: 'write' is not one of read_write, none; did you mean 'read_write'?"),
    ("integration typo", _set("redshift_idc_application.service_integrations.lake_formation", True),
     "service_integrations.lake_formation: unknown key; did you mean 'lake_formation_query'?"),
    ("session 0 h", _set("query_editor_v2.session_duration_hours", 0),
     "query_editor_v2.session_duration_hours: an IAM Identity Center permission set's session lasts 1 to 12 hours"),
    ("session 13 h", _set("query_editor_v2.session_duration_hours", 13), "lasts 1 to 12 hours (found: 13)"),
    ("permission set name", _set("query_editor_v2.permission_set_name", "x" * 33),
     "query_editor_v2.permission_set_name: expected 1 to 32 letters, digits or any of"),
    ("no qev2 groups", _set("query_editor_v2.groups", []), "query_editor_v2.groups: at least one IdC group"),
    ("qev2 group twice", _set("query_editor_v2.groups.1", {"display_name": "Analysts"}),
     "query_editor_v2.groups[1]: duplicate group 'Analysts' (same as groups[0])"),
    ("qev2 group not on the app", _set("query_editor_v2.groups.1", {"display_name": "marketing"}),
     "query_editor_v2.groups[1]: 'marketing' is not assigned to the Redshift IdC application"),
    ("federation issuer not https", _set("iam_federation.provider.issuer_url", "http://okta.example.invalid/x"),
     "iam_federation.provider.issuer_url: expected an https:// issuer URL"),
    ("federation empty audiences", _set("iam_federation.provider.audiences", []),
     "iam_federation.provider.audiences: at least one audience"),
    ("federation saml without metadata", _set("iam_federation.provider.type", "saml"),
     "iam_federation.provider.metadata_document_file: required for a SAML provider"),
    ("federation provider type", _set("iam_federation.provider.type", "ldap"),
     "iam_federation.provider.type: 'ldap' is not one of oidc, saml"),
    ("db groups", _set("iam_federation.db_groups", ["finance"]),
     "iam_federation.db_groups: Redshift Serverless has no database groups for IAM credentials"),
    ("db role with a colon", _set("iam_federation.db_roles", ["ACME:analysts"]),
     "iam_federation.db_roles[0]: 'ACME:analysts' cannot travel in the RedshiftDbRoles tag"),
    ("db role twice", _set("iam_federation.db_roles", ["reporting", "Reporting"]),
     "iam_federation.db_roles[1]: duplicate role 'Reporting'"),
    ("federation issuer also identity propagation's",
     lambda d: d.update(identity_propagation={**PROPAGATION, "issuer_url": "https://okta.example.invalid/oauth2/iam"}),
     "iam_federation.provider.issuer_url: https://okta.example.invalid/oauth2/iam is also "
     "identity_propagation.issuer_url; IAM allows one OIDC provider per issuer URL"),
    ("lakehouse without lake formation", _set(f"{INTEGRATIONS}.lake_formation_query", False),
     "redshift_idc_application.application_type: a Lakehouse application needs service_integrations "
     "lake_formation_query: true"),
    ("lakehouse without connect", _set(f"{INTEGRATIONS}.redshift_connect", False),
     "needs service_integrations redshift_connect: true"),
    ("application type", _set("redshift_idc_application.application_type", "lakehouse"),
     "application_type: 'lakehouse' is not one of None, Lakehouse; did you mean 'Lakehouse'?"),
    ("user twice", _set("redshift_idc_application.users.1", {"user_name": "ETL-service@example.invalid"}),
     "redshift_idc_application.users[1]: duplicate user 'ETL-service@example.invalid' (same as users[0]"),
    ("user name with a space", _set("redshift_idc_application.users.0.user_name", "etl service"),
     "users[0].user_name: an identity store UserName has no spaces"),
    ("user id", _set("redshift_idc_application.users.1.user_id", "auditor"),
     "users[1].user_id: expected an identity store user id"),
    ("no s3 locations", _set(f"{DEFAULT_ROLE}.s3_read", []), "default_iam_role.s3_read: at least one S3 location"),
    ("s3 url as bucket", _set(f"{DEFAULT_ROLE}.s3_read.0.bucket", "s3://all-paths-landing"),
     "default_iam_role.s3_read[0].bucket: expected an S3 bucket name"),
    ("wildcard prefix", _set(f"{DEFAULT_ROLE}.s3_read.0.prefix", "sales/*"),
     "default_iam_role.s3_read[0].prefix: an S3 key prefix is read literally: no '*'"),
    ("leading slash", _set(f"{DEFAULT_ROLE}.s3_read.0.prefix", "/sales/"), "write 'sales/'"),
    ("kms alias", _set(f"{DEFAULT_ROLE}.s3_read.1.kms_key_arn", "arn:aws:kms:us-east-1:444444444444:alias/s3"),
     "default_iam_role.s3_read[1].kms_key_arn: expected a KMS key ARN"),
    ("location twice", _set(f"{DEFAULT_ROLE}.s3_read.1", {"bucket": "all-paths-landing-444444444444",
                                                         "prefix": "sales/"}),
     "s3://all-paths-landing-444444444444/sales/ is listed twice"),
]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in CONFIG_ERRORS], ids=[c[0] for c in CONFIG_ERRORS])
def test_config_errors_are_clear(change: Callable[[dict[str, Any]], None], expected: str) -> None:
    data = copy.deepcopy(SAMPLE)
    change(data)
    with pytest.raises(ConfigError) as error:
        parse_environment(data, name=ENV, source=Path(f"config/{ENV}.yaml"))
    assert expected in str(error.value)


def test_saml_metadata_is_checked_at_validation(tmp_path: Path) -> None:
    def federation(provider: dict[str, Any]) -> str:
        data = copy.deepcopy(SAMPLE)
        data["iam_federation"]["provider"] = provider
        with pytest.raises(ConfigError) as error:
            parse_environment(data, name=ENV, source=Path(f"config/{ENV}.yaml"))
        return str(error.value)

    assert "metadata_document_file: no such file" in federation(
        {"type": "saml", "metadata_document_file": str(tmp_path / "missing.xml")})
    (tmp_path / "short.xml").write_text("<EntityDescriptor/>", encoding="utf-8")
    assert "is not SAML metadata as IAM takes it" in federation(
        {"type": "saml", "metadata_document_file": str(tmp_path / "short.xml")})
    assert "iam_federation.provider.audiences: only for type oidc" in federation(
        {"type": "saml", "metadata_document_file": str(saml_metadata(tmp_path)), "audiences": ["x"]})
    data = copy.deepcopy(SAMPLE)
    data["iam_federation"]["provider"] = {"type": "saml", "metadata_document_file": str(saml_metadata(tmp_path))}
    assert parse_environment(data, name=ENV, source=Path("x.yaml")).iam_federation is not None

"""`python -m redshift_idc verify` against botocore's Stubber (every call and response checked against the
service model): each check passing and failing, the checklist it prints and its exit codes.

`dev` has identity propagation, an access model and groups resolved by name; `sample-all-paths` has groups and
users (by id and by name) and third-party trusted token issuers, and no access model.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from redshift_idc.cli.main import main
from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.identity_center import IdcGroup
from redshift_idc.deployed.session import Outputs, output_env_var, outputs_from_environ
from redshift_idc.deployed.verify.assignments import ASSIGNMENTS, check_assignments
from redshift_idc.deployed.verify.deployment import Clients, Deployment, required_outputs
from redshift_idc.deployed.verify.instance_region import REGION, check_instance_region
from redshift_idc.deployed.verify.lakehouse import LAKEHOUSE_REGISTRATION
from redshift_idc.deployed.verify.oauth_application import OAUTH_APPLICATION, check_oauth_application
from redshift_idc.deployed.verify.results import FAILED, OK, SKIPPED, CheckError
from redshift_idc.deployed.verify.runner import (
    ALL_OK,
    BI_HINTS,
    CHECK_FAILED,
    CHECKS,
    ERROR,
    checks_help,
    run_checks,
    verify_command,
)
from redshift_idc.deployed.verify.scaling import SCALING
from redshift_idc.deployed.verify.token_issuers import TOKEN_ISSUERS, check_token_issuers
from redshift_idc.deployed.verify.warehouse import (
    IDENTITY_PROVIDER,
    SECADMIN_CHECK,
    WarehouseView,
    check_identity_provider,
    check_secadmin,
    read_warehouse,
)
from redshift_idc.runtime.access_state import IdentityProvider
from redshift_idc.runtime.catalog import identity_queries, read_queries
from redshift_idc.runtime.idc_sso_admin import actor_policy
from redshift_idc.runtime.idc_trusted_token_issuer import trusted_token_issuer_name
from redshift_idc.runtime.ledger import LedgerTables
from tests.fake_data_api import cell
from tests.test_verify_scaling import expect_workgroup

DEV = load_environment("dev")
ALL = load_environment("sample-all-paths")
T0 = datetime(2025, 1, 1, tzinfo=UTC)
BATCH_ID = "d7a1e0c2-0000-4000-8000-0000000000aa"

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Arns:
    """What a deploy of `config` would have left behind (placeholders valid in form)."""

    config: EnvironmentConfig

    @property
    def _instance_id(self) -> str:
        return self.config.identity_center.instance_id

    @property
    def managed(self) -> str:
        return f"arn:aws:sso::{self.config.account}:application/{self._instance_id}/apl-1111aaaa2222bbbb"

    @property
    def oauth(self) -> str:
        return f"arn:aws:sso::{self.config.account}:application/{self._instance_id}/apl-3333cccc4444dddd"

    def tti(self, n: int = 0) -> str:
        return (f"arn:aws:sso::{self.config.account}:trustedTokenIssuer/{self._instance_id}/"
                f"tti-{n:08x}-2222-3333-4444-555555555555")

    @property
    def redshift_app(self) -> str:
        return (f"arn:aws:redshift:{self.config.region}:{self.config.account}:redshiftidcapplication:"
                "12aaa111-3ab2-3ab1-8e90-b2d72aea588b")

    @property
    def bridge(self) -> str:
        return f"arn:aws:iam::{self.config.account}:role/{self.config.stack_prefix}Identity-BridgeRole"

    @property
    def secret(self) -> str:
        return (f"arn:aws:secretsmanager:{self.config.region}:{self.config.account}:secret:"
                f"redshift!{self.config.warehouse.namespace_name}-admin-AbCdEf")


def outputs_of(config: EnvironmentConfig, **override: str | None) -> Outputs:
    arns = Arns(config)
    values: dict[str, str | None] = {
        "RedshiftIdcApplicationArn": arns.redshift_app, "IdcManagedApplicationArn": arns.managed,
        "AdminSecretArn": arns.secret, "OAuthApplicationArn": arns.oauth, "TrustedTokenIssuerArn": arns.tti(),
        "BridgeRoleArn": arns.bridge, **override}
    stacks: dict[str, dict[str, str]] = {}
    for stack, key in required_outputs(config):
        value = values[key]
        if value is not None:
            stacks.setdefault(stack, {})[key] = value
    return Outputs("cdk-outputs.json", stacks, "write it with `make deploy ENV=<env> OUTPUTS=cdk-outputs.json`")


def deployment(config: EnvironmentConfig, **override: str | None) -> Deployment:
    return Deployment(config, outputs_of(config, **override))


def principal_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


@dataclass
class Aws:
    clients: Clients
    stubs: dict[str, Stubber]
    sleeps: list[float] = field(default_factory=list)

    @property
    def sso(self) -> Stubber:
        return self.stubs["sso-admin"]

    @property
    def store(self) -> Stubber:
        return self.stubs["identitystore"]

    @property
    def redshift(self) -> Stubber:
        return self.stubs["redshift"]

    @property
    def data(self) -> Stubber:
        return self.stubs["redshift-data"]

    @property
    def serverless(self) -> Stubber:
        return self.stubs["redshift-serverless"]


@pytest.fixture
def aws() -> Iterator[Aws]:
    services = ("sso-admin", "identitystore", "redshift", "redshift-data", "redshift-serverless")
    made = {s: boto3.client(s, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
            for s in services}
    stubs = {s: Stubber(c) for s, c in made.items()}
    for stub in stubs.values():
        stub.activate()
    yield Aws(Clients(made["sso-admin"], made["identitystore"], made["redshift"], made["redshift-data"],
                      made["redshift-serverless"]), stubs)
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


# --- what AWS answers ---------------------------------------------------------------------------------------


def instance_of(config: EnvironmentConfig, **extra: Any) -> dict[str, Any]:
    return {"InstanceArn": config.identity_center.instance_arn,
            "IdentityStoreId": config.identity_center.identity_store_id, "Status": "ACTIVE", **extra}


def expect_instances(aws: Aws, *pages: list[dict[str, Any]]) -> None:
    for number, items in enumerate(pages):
        response: dict[str, Any] = {"Instances": items}
        if number + 1 < len(pages):
            response["NextToken"] = f"page-{number + 1}"
        aws.sso.add_response("list_instances", response, {"NextToken": f"page-{number}"} if number else {})


def expect_group_id(aws: Aws, config: EnvironmentConfig, name: str, found: bool = True) -> None:
    params = {"IdentityStoreId": config.identity_center.identity_store_id,
              "AlternateIdentifier": {"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": name}}}
    if found:
        aws.store.add_response("get_group_id", {"IdentityStoreId": config.identity_center.identity_store_id,
                                                "GroupId": principal_id(name),
                                                "GroupArn": f"arn:aws:identitystore:::group/{principal_id(name)}"},
                               params)
    else:
        aws.store.add_client_error("get_group_id", "ResourceNotFoundException", "GROUP not found",
                                   expected_params=params)


def expect_user_id(aws: Aws, config: EnvironmentConfig, name: str) -> None:
    params = {"IdentityStoreId": config.identity_center.identity_store_id,
              "AlternateIdentifier": {"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": name}}}
    aws.store.add_response("get_user_id", {"IdentityStoreId": config.identity_center.identity_store_id,
                                           "UserId": principal_id(name),
                                           "UserArn": f"arn:aws:identitystore:::user/{principal_id(name)}"}, params)


def expect_assignments(aws: Aws, application: str, *pages: list[tuple[str, str]]) -> None:
    for number, items in enumerate(pages):
        response: dict[str, Any] = {"ApplicationAssignments": [
            {"ApplicationArn": application, "PrincipalType": kind, "PrincipalId": pid} for kind, pid in items]}
        if number + 1 < len(pages):
            response["NextToken"] = f"page-{number + 1}"
        params: dict[str, Any] = {"ApplicationArn": application}
        if number:
            params["NextToken"] = f"page-{number}"
        aws.sso.add_response("list_application_assignments", response, params)


def all_paths_principals() -> list[tuple[str, str]]:
    """sample-all-paths' groups and users with the ids the identity store (stubbed) gives them."""
    app = ALL.redshift_idc_application
    return ([("GROUP", g.group_id or principal_id(g.display_name)) for g in app.groups]
            + [("USER", u.user_id or principal_id(u.user_name)) for u in app.users])


def expect_all_paths_lookups(aws: Aws) -> None:
    for group in ALL.redshift_idc_application.groups:
        if group.group_id is None:
            expect_group_id(aws, ALL, group.display_name)
    for user in ALL.redshift_idc_application.users:
        if user.user_id is None:
            expect_user_id(aws, ALL, user.user_name)


def expect_issuer(aws: Aws, arn: str, url: str, claim: str = "email", attribute: str = "emails.value") -> None:
    aws.sso.add_response("describe_trusted_token_issuer", {
        "TrustedTokenIssuerArn": arn, "Name": "issuer", "TrustedTokenIssuerType": "OIDC_JWT",
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {
            "IssuerUrl": url, "ClaimAttributePath": claim, "IdentityStoreAttributePath": attribute,
            "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}}}, {"TrustedTokenIssuerArn": arn})


def expect_listed_issuers(aws: Aws, config: EnvironmentConfig, issuers: list[tuple[str, str]]) -> None:
    aws.sso.add_response("list_trusted_token_issuers", {"TrustedTokenIssuers": [
        {"Name": name, "TrustedTokenIssuerArn": arn, "TrustedTokenIssuerType": "OIDC_JWT"} for name, arn in issuers]},
        {"InstanceArn": config.identity_center.instance_arn})


def expect_redshift_app(aws: Aws, config: EnvironmentConfig, authorized: list[tuple[str, list[str]]]) -> None:
    arns = Arns(config)
    aws.redshift.add_response("describe_redshift_idc_applications", {"RedshiftIdcApplications": [{
        "IdcInstanceArn": config.identity_center.instance_arn,
        "RedshiftIdcApplicationName": config.redshift_idc_application.name,
        "RedshiftIdcApplicationArn": arns.redshift_app, "IdcManagedApplicationArn": arns.managed,
        "IdentityNamespace": config.redshift_idc_application.identity_namespace,
        "AuthorizedTokenIssuerList": [{"TrustedTokenIssuerArn": arn, "AuthorizedAudiencesList": audiences}
                                      for arn, audiences in authorized]}]},
        {"RedshiftIdcApplicationArn": arns.redshift_app})


def all_paths_issuers() -> list[tuple[str, str]]:
    """(name, ARN) of sample-all-paths' trusted token issuers as the stack names them."""
    return [(trusted_token_issuer_name(i.name, i.issuer_url), Arns(ALL).tti(n))
            for n, i in enumerate(ALL.redshift_idc_application.trusted_token_issuers, start=1)]


def expect_read(aws: Aws, config: EnvironmentConfig, rows: dict[str, list[Row]]) -> None:
    """The verify read: one batch of the identity queries, polled until finished, each result fetched."""
    queries = identity_queries()
    where = {"WorkgroupName": config.warehouse.workgroup_name, "Database": config.warehouse.database_name,
             "SecretArn": Arns(config).secret}
    aws.data.add_response("batch_execute_statement", {"Id": BATCH_ID, "CreatedAt": T0, **where},
                          {**where, "Sqls": [sql for _, sql in queries], "StatementName": ANY, "ClientToken": ANY})
    subs = [{"Id": f"{BATCH_ID}:{n}", "Status": "FINISHED", "QueryString": sql, "HasResultSet": True,
             "ResultRows": len(rows.get(name, []))} for n, (name, sql) in enumerate(queries, start=1)]
    aws.data.add_response("describe_statement", {"Id": BATCH_ID, "Status": "FINISHED", "CreatedAt": T0,
                                                 "UpdatedAt": T0, "SubStatements": subs, **where}, {"Id": BATCH_ID})
    for (name, _), sub in zip(queries, subs, strict=True):
        if rows.get(name):
            aws.data.add_response("get_statement_result", {
                "Records": [[cell(v) for v in row] for row in rows[name]], "TotalNumRows": len(rows[name])},
                {"Id": sub["Id"]})


def warehouse_rows(*, superuser: bool = True, secadmin: bool = True,
                   providers: tuple[Row, ...] = ()) -> dict[str, list[Row]]:
    return {"whoami": [("admin", superuser, 1 if secadmin else 0, "dev")],
            "identity_provider_definitions": list(providers)}


def provider_row(config: EnvironmentConfig, namespace: str | None = None, enabled: bool = True) -> Row:
    """An AWSIDC provider as SVV_IDENTITY_PROVIDERS shows it: name, type, namespc, params, enabled, instanceid."""
    application = config.redshift_idc_application
    return (application.name, "awsidc", namespace or application.identity_namespace,
            '{"iam_role":"arn:aws:iam::111111111111:role/idc"}', enabled, "arn:aws:sso::111111111111:application/a")


def view(*providers: IdentityProvider, superuser: bool = True, secadmin: bool = True) -> WarehouseView:
    return WarehouseView("admin", superuser, secadmin, providers)


def awsidc(namespace: str, enabled: bool | None = True, name: str = "redshift-idc-dev") -> IdentityProvider:
    return IdentityProvider(name, "awsidc", namespace, enabled=enabled)


def expect_oauth(aws: Aws, config: EnvironmentConfig, *, audiences: list[str] | None = None,
                 actors: tuple[str, ...] | None = None, targets: list[str] | None = None,
                 required: bool | None = None, grant: bool = True) -> None:
    """The OAuth application's calls, answering as configured unless told otherwise."""
    propagation = config.identity_propagation
    assert propagation is not None
    arns = Arns(config)
    expect_issuer(aws, arns.tti(), propagation.issuer_url, propagation.claim_attribute_path,
                  propagation.identity_store_attribute_path)
    grant_params = {"ApplicationArn": arns.oauth, "GrantType": "urn:ietf:params:oauth:grant-type:jwt-bearer"}
    if grant:
        aws.sso.add_response("get_application_grant", {"Grant": {"JwtBearer": {"AuthorizedTokenIssuers": [{
            "TrustedTokenIssuerArn": arns.tti(),
            "AuthorizedAudiences": list(propagation.audiences) if audiences is None else audiences}]}}}, grant_params)
    else:
        aws.sso.add_client_error("get_application_grant", "ResourceNotFoundException", "no grant",
                                 expected_params=grant_params)
    aws.sso.add_response("get_application_authentication_method", {"AuthenticationMethod": {"Iam": {
        "ActorPolicy": actor_policy(actors if actors is not None else (arns.bridge,))}}},
        {"ApplicationArn": arns.oauth, "AuthenticationMethodType": "IAM"})
    aws.sso.add_response("list_application_access_scopes", {"Scopes": [
        {"Scope": "redshift:connect", "AuthorizedTargets": [arns.managed] if targets is None else targets}]},
        {"ApplicationArn": arns.oauth})
    aws.sso.add_response("get_application_assignment_configuration", {
        "AssignmentRequired": propagation.assignment_required if required is None else required},
        {"ApplicationArn": arns.oauth})


def expect_dev_assignments(aws: Aws) -> None:
    for group in DEV.redshift_idc_application.groups:
        expect_group_id(aws, DEV, group.display_name)
    expect_assignments(aws, Arns(DEV).managed,
                       [("GROUP", principal_id(g.display_name)) for g in DEV.redshift_idc_application.groups])


# --- 1. the IdC instance's region ---------------------------------------------------------------------------


def test_region_ok_when_the_instance_is_listed_on_any_page(aws: Aws) -> None:
    other = instance_of(ALL, InstanceArn="arn:aws:sso:::instance/ssoins-9999999999999999",
                        IdentityStoreId="d-9999999999")
    expect_instances(aws, [other], [instance_of(ALL)])
    result = check_instance_region(aws.clients.sso_admin, ALL)
    assert (result.status, result.detail) == (OK, f"{ALL.identity_center.instance_arn} in us-east-1")


def test_region_fails_and_stops_the_idc_checks_when_the_instance_is_elsewhere(aws: Aws) -> None:
    other = "arn:aws:sso:::instance/ssoins-9999999999999999"
    expect_instances(aws, [instance_of(ALL, InstanceArn=other)])
    result = check_instance_region(aws.clients.sso_admin, ALL)
    assert result.status == FAILED
    assert result.detail == (f"ListInstances in us-east-1 does not list {ALL.identity_center.instance_arn} "
                             f"(it lists {other})")
    assert "in its own region (seed 000: for IdC and for datashares)" in result.fix
    assert result.stops == "the IdC instance is not in us-east-1"


@pytest.mark.parametrize(("extra", "expected"), [
    ({"IdentityStoreId": "d-9999999999"}, "its identity store is d-9999999999, configured d-4444444444"),
    ({"Status": "CREATE_IN_PROGRESS"}, "its status is CREATE_IN_PROGRESS"),
    ({"Regions": [{"RegionName": "eu-west-1", "Status": "ACTIVE"}]}, "it is active in eu-west-1, not in us-east-1"),
])
def test_region_fails_on_an_instance_that_does_not_match(aws: Aws, extra: dict[str, Any], expected: str) -> None:
    expect_instances(aws, [instance_of(ALL, **extra)])
    result = check_instance_region(aws.clients.sso_admin, ALL)
    assert result.status == FAILED and expected in result.detail and result.stops


def test_access_denied_names_the_permission(aws: Aws) -> None:
    aws.sso.add_client_error("list_instances", "AccessDeniedException", "not authorized")
    result = check_instance_region(aws.clients.sso_admin, ALL)
    assert (result.status, result.detail) == (FAILED, "ListInstances was denied (AccessDeniedException)")
    assert result.fix.startswith("allow sso:ListInstances on * to the identity running verify")
    assert not result.stops  # other checks may still be allowed


# --- 2. the identity provider, 6. sys:secadmin (one read) -----------------------------------------------------


def test_the_read_is_the_reconcilers_selects_of_the_reader_and_the_providers(aws: Aws) -> None:
    queries = identity_queries()
    assert all(sql.startswith("SELECT ") for _, sql in queries)
    assert set(queries) <= set(read_queries(LedgerTables("redshift_idc"), "m", bootstrap=False))
    expect_read(aws, DEV, warehouse_rows(providers=(provider_row(DEV),)))
    seen = read_warehouse(aws.clients.redshift_data, deployment(DEV), aws.sleeps.append)
    assert seen == view(awsidc("AWSIDC"))
    assert aws.sleeps == [1.0]


def test_identity_provider_ok_with_the_environments_namespace_in_any_case() -> None:
    result = check_identity_provider(view(awsidc("awsidc")), deployment(DEV))
    assert (result.status, result.detail) == (OK, "redshift-idc-dev (awsidc, namespace awsidc)")


def test_no_identity_provider_fails_naming_the_error_and_the_association() -> None:
    azure = IdentityProvider("corp", "azure", "corp")
    result = check_identity_provider(view(azure), deployment(DEV))
    assert result.status == FAILED
    assert result.detail.startswith("no AWSIDC identity provider is registered (SVV_IDENTITY_PROVIDERS holds: corp "
                                    "(azure, namespace corp))")
    assert '"registered identity provider does not exist"' in result.detail
    assert "deploy the DevWarehouse stack (it sets the namespace's redshift_idc_application_arn)" in result.fix
    assert (f"CREATE IDENTITY PROVIDER \"redshift-idc-dev\" TYPE AWSIDC NAMESPACE 'AWSIDC' APPLICATION_ARN "
            f"'{Arns(DEV).managed}'") in result.fix


def test_an_identity_provider_with_another_namespace_fails() -> None:
    result = check_identity_provider(view(awsidc("corp")), deployment(DEV))
    assert result.status == FAILED
    assert "does not have the namespace AWSIDC of config/dev.yaml" in result.detail
    assert "ALTER IDENTITY PROVIDER \"redshift-idc-dev\" NAMESPACE 'AWSIDC'" in result.fix
    assert "set redshift_idc_application.identity_namespace to corp" in result.fix


def test_a_disabled_identity_provider_fails() -> None:
    result = check_identity_provider(view(awsidc("AWSIDC", enabled=False)), deployment(DEV))
    assert result.status == FAILED and "is disabled" in result.detail
    assert result.fix == 'as a superuser: ALTER IDENTITY PROVIDER "redshift-idc-dev" ENABLE'


def test_identity_provider_needs_a_superuser_to_see_anything() -> None:
    result = check_identity_provider(view(superuser=False), deployment(DEV))
    assert result.status == FAILED
    assert result.detail == "user admin is not a superuser, so SVV_IDENTITY_PROVIDERS shows it no row"
    assert "AdminSecretArn output" in result.fix


def test_secadmin_ok_failed_and_skipped_without_access_model() -> None:
    assert check_secadmin(view(), DEV).status == OK
    failed = check_secadmin(view(secadmin=False), DEV)
    assert failed.status == FAILED and "does not hold sys:secadmin" in failed.detail
    assert 'GRANT ROLE "sys:secadmin" TO "admin"' in failed.fix and "DevAccess" in failed.fix
    skipped = check_secadmin(view(), ALL)
    assert (skipped.status, skipped.detail) == (SKIPPED, "no access_model: no reconciler reads RLS")


def test_a_failed_read_fails_both_sql_checks_with_its_reason(aws: Aws) -> None:
    aws.data.add_client_error("batch_execute_statement", "AccessDeniedException", "not authorized to access secret")
    try:
        read_warehouse(aws.clients.redshift_data, deployment(DEV), aws.sleeps.append)
    except CheckError as error:
        failure = error
    else:
        raise AssertionError("expected a CheckError")
    for result in (check_identity_provider(failure, deployment(DEV)), check_secadmin(failure, DEV)):
        assert result.status == FAILED
        assert result.detail == "analytics-dev/dev: BatchExecuteStatement was denied (AccessDeniedException)"
        assert "secretsmanager:GetSecretValue on " + Arns(DEV).secret in result.fix


def test_a_missing_secret_output_fails_the_read_naming_the_output() -> None:
    with pytest.raises(CheckError) as raised:
        read_warehouse(None, deployment(DEV, AdminSecretArn=None))
    assert raised.value.detail.startswith("cdk-outputs.json: missing output DevWarehouse.AdminSecretArn")
    assert raised.value.fix.startswith("deploy the DevWarehouse stack and pass its outputs")


# --- 3. assignments -----------------------------------------------------------------------------------------


def test_assignments_ok_resolving_names_and_paging(aws: Aws) -> None:
    expect_all_paths_lookups(aws)
    principals = all_paths_principals()
    expect_assignments(aws, Arns(ALL).managed, principals[:2], [*principals[2:], ("USER", principal_id("x"))])
    result = check_assignments(aws.clients.sso_admin, aws.clients.identitystore, deployment(ALL))
    assert (result.status, result.detail) == (
        OK, "2 group(s) and 2 user(s); 1 other principal(s) assigned outside the config")


def test_assignments_fail_on_a_missing_assignment_and_an_unknown_group(aws: Aws) -> None:
    expect_group_id(aws, ALL, "finance", found=False)
    expect_user_id(aws, ALL, "etl-service@example.invalid")
    analysts = ALL.redshift_idc_application.groups[0]
    assert analysts.group_id is not None
    expect_assignments(aws, Arns(ALL).managed, [("GROUP", analysts.group_id),
                                                ("USER", principal_id("etl-service@example.invalid"))])
    result = check_assignments(aws.clients.sso_admin, aws.clients.identitystore, deployment(ALL))
    assert result.status == FAILED
    assert result.detail == (
        "not in identity store d-4444444444: group finance; not assigned to "
        f"{Arns(ALL).managed}: user auditor@example.invalid (44444444-5555-6666-7777-444444444444)")
    assert "create them in IAM Identity Center" in result.fix and "deploy the SampleAllPathsWarehouse" in result.fix


def test_assignments_without_the_output_fail_before_any_call(aws: Aws) -> None:
    result = check_assignments(aws.clients.sso_admin, aws.clients.identitystore,
                               deployment(ALL, IdcManagedApplicationArn=None))
    assert result.status == FAILED
    assert result.detail.startswith("cdk-outputs.json: missing output SampleAllPathsWarehouse.IdcManagedApplicationArn")


def test_an_identity_store_denial_names_both_resources(aws: Aws) -> None:
    aws.store.add_client_error("get_group_id", "AccessDeniedException", "no")
    result = check_assignments(aws.clients.sso_admin, aws.clients.identitystore, deployment(ALL))
    assert result.status == FAILED and result.detail == "GetGroupId was denied (AccessDeniedException)"
    assert ("allow identitystore:GetGroupId on arn:aws:identitystore::444444444444:identitystore/d-4444444444 and "
            "arn:aws:identitystore:::group/*") in result.fix


# --- 4. trusted token issuers -------------------------------------------------------------------------------


def test_verify_looks_issuers_up_by_the_name_the_stack_gives_them() -> None:
    from redshift_idc.cdk.components.trusted_token_issuers import issuer_name

    for issuer in ALL.redshift_idc_application.trusted_token_issuers:
        assert trusted_token_issuer_name(issuer.name, issuer.issuer_url) == issuer_name(issuer)
    assert trusted_token_issuer_name("bi-okta", "https://okta.example.invalid/oauth2/bi") == "bi-okta-57a5ecd5"


def test_token_issuers_ok(aws: Aws) -> None:
    issuers = all_paths_issuers()
    expect_listed_issuers(aws, ALL, [("someone-elses", Arns(ALL).tti(9)), *issuers])
    expect_redshift_app(aws, ALL, [(arn, list(i.audiences)) for (_, arn), i in
                                   zip(issuers, ALL.redshift_idc_application.trusted_token_issuers, strict=True)])
    for issuer, (_, arn) in zip(ALL.redshift_idc_application.trusted_token_issuers, issuers, strict=True):
        expect_issuer(aws, arn, issuer.issuer_url, issuer.claim_attribute_path, issuer.identity_store_attribute_path)
    result = check_token_issuers(aws.clients.sso_admin, aws.clients.redshift, deployment(ALL))
    assert (result.status, result.detail) == (OK, "2 issuer(s) with their URL, claim mapping and audiences")


def test_token_issuers_fail_on_claim_mapping_and_audiences(aws: Aws) -> None:
    (bi_name, bi), (jdbc_name, jdbc) = all_paths_issuers()
    bi_config, jdbc_config = ALL.redshift_idc_application.trusted_token_issuers
    expect_listed_issuers(aws, ALL, [(bi_name, bi), (jdbc_name, jdbc)])
    expect_redshift_app(aws, ALL, [(bi, [*bi_config.audiences, "extra-aud"]), (jdbc, ["jdbc-client-id-placeholder"])])
    expect_issuer(aws, bi, bi_config.issuer_url, "sub", bi_config.identity_store_attribute_path)
    expect_issuer(aws, jdbc, jdbc_config.issuer_url)
    result = check_token_issuers(aws.clients.sso_admin, aws.clients.redshift, deployment(ALL))
    assert result.status == FAILED
    assert result.detail == ("bi-okta: claim attribute path is 'sub', configured 'email'; bi-okta: authorized with "
                             "extra audiences extra-aud; jdbc-entra: authorized with missing audiences "
                             "odbc-client-id-placeholder")
    assert result.fix.startswith("deploy the SampleAllPathsWarehouse stack")


def test_token_issuers_fail_when_missing_or_not_authorized(aws: Aws) -> None:
    (_, bi), (jdbc_name, jdbc) = all_paths_issuers()
    bi_config, jdbc_config = ALL.redshift_idc_application.trusted_token_issuers
    expect_listed_issuers(aws, ALL, [(jdbc_name, jdbc)])
    expect_redshift_app(aws, ALL, [])
    expect_issuer(aws, jdbc, jdbc_config.issuer_url + "/")
    result = check_token_issuers(aws.clients.sso_admin, aws.clients.redshift, deployment(ALL))
    name = trusted_token_issuer_name(bi_config.name, bi_config.issuer_url)
    assert result.status == FAILED
    assert result.detail == (
        f"bi-okta: no trusted token issuer named {name} in {ALL.identity_center.instance_arn}; jdbc-entra: issuer URL "
        f"is '{jdbc_config.issuer_url}/', configured '{jdbc_config.issuer_url}'; jdbc-entra: {jdbc} is not "
        "authorized on the Redshift IdC application")
    assert bi not in result.detail


def test_token_issuers_fail_when_the_redshift_application_is_gone(aws: Aws) -> None:
    expect_listed_issuers(aws, ALL, all_paths_issuers())
    aws.redshift.add_client_error("describe_redshift_idc_applications", "RedshiftIdcApplicationNotExistsFault",
                                  "not found", expected_params={"RedshiftIdcApplicationArn": Arns(ALL).redshift_app})
    result = check_token_issuers(aws.clients.sso_admin, aws.clients.redshift, deployment(ALL))
    assert (result.status, result.detail) == (FAILED, f"the Redshift IdC application {Arns(ALL).redshift_app} does "
                                                      "not exist")


def test_token_issuers_skip_when_none_are_configured(aws: Aws) -> None:
    result = check_token_issuers(aws.clients.sso_admin, aws.clients.redshift, deployment(DEV))
    assert result.status == SKIPPED


# --- 5. the OAuth application -------------------------------------------------------------------------------


def test_oauth_application_ok(aws: Aws) -> None:
    expect_oauth(aws, DEV)
    result = check_oauth_application(aws.clients.sso_admin, aws.clients.identitystore, deployment(DEV))
    assert result.status == OK, result
    assert result.detail.startswith(Arns(DEV).oauth)


def test_oauth_application_fails_listing_every_difference(aws: Aws) -> None:
    arns = Arns(DEV)
    intruder = f"arn:aws:iam::{DEV.account}:role/someone-else"
    expect_oauth(aws, DEV, audiences=["other-aud"], actors=(arns.bridge, intruder), targets=[arns.oauth],
                 required=True)
    result = check_oauth_application(aws.clients.sso_admin, aws.clients.identitystore, deployment(DEV))
    assert result.status == FAILED
    assert result.detail == (
        f"{arns.oauth}: the jwt-bearer grant has missing audiences dev-client-id-placeholder; extra audiences "
        "other-aud; the IAM authentication "
        f"method also lets {intruder} exchange tokens (configured: the bridge role only); the redshift:connect scope "
        f"does not authorize the Redshift IdC application {arns.managed}; assignment required is True, configured "
        "False")
    assert result.fix.startswith("deploy the DevIdentity stack")


def test_oauth_application_without_grant_and_with_an_unassigned_group(aws: Aws) -> None:
    propagation = DEV.identity_propagation
    assert propagation is not None
    config = DEV.model_copy(update={"identity_propagation": propagation.model_copy(update={
        "assignment_required": True,
        "assigned_groups": (IdcGroup(display_name="amer-sales"),
                            IdcGroup(display_name="exec-global", group_id=principal_id("exec-global")))})})
    expect_oauth(aws, config, grant=False)
    expect_group_id(aws, config, "amer-sales")
    expect_assignments(aws, Arns(config).oauth, [("GROUP", principal_id("exec-global"))])
    result = check_oauth_application(aws.clients.sso_admin, aws.clients.identitystore, deployment(config))
    assert result.status == FAILED
    assert result.detail == f"{Arns(config).oauth}: no jwt-bearer grant; not assigned: group amer-sales"


def test_oauth_application_with_another_issuer_url_or_no_bridge(aws: Aws) -> None:
    propagation = DEV.identity_propagation
    assert propagation is not None
    arns = Arns(DEV)
    aws.sso.add_response("describe_trusted_token_issuer", {
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {
            "IssuerUrl": "https://other.example.invalid", "ClaimAttributePath": "email",
            "IdentityStoreAttributePath": "emails.value", "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}}},
        {"TrustedTokenIssuerArn": arns.tti()})
    aws.sso.add_response("get_application_grant", {"Grant": {"JwtBearer": {"AuthorizedTokenIssuers": [
        {"TrustedTokenIssuerArn": arns.tti(5), "AuthorizedAudiences": list(propagation.audiences)}]}}})
    aws.sso.add_client_error("get_application_authentication_method", "ResourceNotFoundException", "none")
    aws.sso.add_response("list_application_access_scopes", {"Scopes": []})
    aws.sso.add_response("get_application_assignment_configuration", {"AssignmentRequired": False})
    result = check_oauth_application(aws.clients.sso_admin, aws.clients.identitystore, deployment(DEV))
    assert result.status == FAILED
    assert result.detail == (
        f"{arns.oauth}: trusted token issuer: issuer URL is 'https://other.example.invalid', configured "
        f"'{propagation.issuer_url}'; the jwt-bearer grant does not name the trusted token issuer {arns.tti()}; no IAM "
        "authentication method; no redshift:connect scope")


def test_oauth_application_skips_without_identity_propagation(aws: Aws) -> None:
    result = check_oauth_application(aws.clients.sso_admin, aws.clients.identitystore, deployment(ALL))
    assert (result.status, result.detail) == (SKIPPED, "identity_propagation is not configured")


# --- the runner and the command line ------------------------------------------------------------------------


def run(aws: Aws, env: str = "dev", outputs: Path | None = None, **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = verify_command(env, outputs, clients=aws.clients, sleep=aws.sleeps.append, out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def write_outputs(tmp_path: Path, config: EnvironmentConfig, **override: str | None) -> Path:
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps(outputs_of(config, **override).stacks), encoding="utf-8")
    return path


def test_everything_ok_prints_the_checklist_and_exits_0(aws: Aws, tmp_path: Path) -> None:
    expect_instances(aws, [instance_of(DEV)])
    expect_read(aws, DEV, warehouse_rows(providers=(provider_row(DEV),)))
    expect_dev_assignments(aws)
    expect_oauth(aws, DEV)
    expect_workgroup(aws.serverless, DEV)
    code, out, err = run(aws, outputs=write_outputs(tmp_path, DEV))
    assert (code, err) == (ALL_OK, "")
    lines = out.splitlines()
    assert lines[0] == (f"verify dev: account 333333333333, region us-east-1, workgroup analytics-dev; outputs from "
                        f"{tmp_path / 'cdk-outputs.json'}")
    assert lines[1:] == [
        f"ok  {REGION}: {DEV.identity_center.instance_arn} in us-east-1",
        f"ok  {IDENTITY_PROVIDER}: redshift-idc-dev (awsidc, namespace AWSIDC)",
        f"ok  {ASSIGNMENTS}: 7 group(s) and 0 user(s)",
        f"skipped {TOKEN_ISSUERS}: redshift_idc_application.trusted_token_issuers is not configured",
        f"ok  {OAUTH_APPLICATION}: {Arns(DEV).oauth}: issuer, grant, IAM authentication method, redshift:connect "
        "scope and assignment as configured",
        f"ok  {SECADMIN_CHECK}: user admin holds sys:secadmin",
        f"ok  {SCALING}: analytics-dev: base capacity 8 RPU, max capacity 32 RPU",
        f"skipped {LAKEHOUSE_REGISTRATION}: no warehouse.federated_permissions",
        "8 checks: 6 ok, 0 failed, 2 skipped",
        *(f"hint: {hint}" for hint in BI_HINTS),
    ]


def test_the_bi_hint_says_quicksight_carries_the_user_only_in_direct_query_and_cites_its_page() -> None:
    """docs.aws.amazon.com/quicksight/latest/user/redshift-trusted-identity-propagation.html: "Trusted identity
    propagation data sources are supported only in Direct Query datasets. SPICE datasets do not currently support
    trusted identity propagation." """
    [quicksight] = [hint for hint in BI_HINTS if "QuickSight" in hint]
    assert "only in Direct Query datasets; SPICE datasets do not support it" in quicksight
    assert "quicksight/latest/user/redshift-trusted-identity-propagation.html" in quicksight
    assert "QuickSight's SPICE datasets do not carry the user's identity" in " ".join(checks_help().split())


def test_a_failure_exits_1_with_its_fix_and_the_idc_checks_skip_behind_a_wrong_region(aws: Aws, tmp_path: Path) -> None:
    expect_instances(aws, [])
    expect_read(aws, ALL, warehouse_rows(providers=(provider_row(ALL),)))
    expect_workgroup(aws.serverless, ALL)
    code, out, _ = run(aws, "sample-all-paths", write_outputs(tmp_path, ALL))
    assert code == CHECK_FAILED
    lines = out.splitlines()
    assert lines[1] == (f"FAILED {REGION}: ListInstances in us-east-1 does not list "
                        f"{ALL.identity_center.instance_arn} (it lists no instance)")
    assert lines[2].startswith("    fix: Redshift needs the IAM Identity Center instance in its own region")
    assert lines[3] == f"ok  {IDENTITY_PROVIDER}: redshift-all-paths (awsidc, namespace ACME)"
    assert lines[4:7] == [f"skipped {name}: the IdC instance is not in us-east-1 (first check)"
                          for name in (ASSIGNMENTS, TOKEN_ISSUERS)] + [
        f"skipped {OAUTH_APPLICATION}: identity_propagation is not configured"]  # not configured beats blocked
    assert lines[-1] == "8 checks: 2 ok, 1 failed, 5 skipped"  # no hint under a failure: its fix comes first


def test_run_checks_returns_one_result_per_check_in_order(aws: Aws) -> None:
    expect_instances(aws, [instance_of(ALL)])
    expect_read(aws, ALL, warehouse_rows(superuser=False))
    expect_all_paths_lookups(aws)
    expect_assignments(aws, Arns(ALL).managed, all_paths_principals())
    issuers = all_paths_issuers()
    expect_listed_issuers(aws, ALL, issuers)
    expect_redshift_app(aws, ALL, [(arn, list(i.audiences)) for (_, arn), i in
                                   zip(issuers, ALL.redshift_idc_application.trusted_token_issuers, strict=True)])
    for issuer, (_, arn) in zip(ALL.redshift_idc_application.trusted_token_issuers, issuers, strict=True):
        expect_issuer(aws, arn, issuer.issuer_url, issuer.claim_attribute_path, issuer.identity_store_attribute_path)
    expect_workgroup(aws.serverless, ALL, baseCapacity=16)
    results = run_checks(deployment(ALL), aws.clients, aws.sleeps.append)
    assert [r.name for r in results] == [name for name, _ in CHECKS]
    assert [r.status for r in results] == [OK, FAILED, OK, OK, SKIPPED, SKIPPED, FAILED, SKIPPED]


def test_outputs_can_come_from_the_pipelines_environment_variables(aws: Aws) -> None:
    environ = {output_env_var(stack, key): value for stack, outputs in outputs_of(ALL).stacks.items()
               for key, value in outputs.items()}
    environ["PATH"] = "/usr/bin"
    assert outputs_from_environ(environ).stacks == outputs_of(ALL).stacks
    expect_instances(aws, [])
    expect_read(aws, ALL, warehouse_rows(providers=(provider_row(ALL),)))
    expect_workgroup(aws.serverless, ALL)
    code, out, _ = run(aws, "sample-all-paths", outputs_from_env=True, environ=environ)
    assert code == CHECK_FAILED  # the region stub fails; the rest read the variables
    assert "outputs from environment variables CDK_OUTPUT__*" in out.splitlines()[0]


def test_a_missing_output_fails_the_checks_that_need_it(aws: Aws, tmp_path: Path) -> None:
    expect_instances(aws, [instance_of(DEV)])
    expect_read(aws, DEV, warehouse_rows(providers=(provider_row(DEV),)))
    expect_dev_assignments(aws)
    expect_workgroup(aws.serverless, DEV)
    code, out, _ = run(aws, outputs=write_outputs(tmp_path, DEV, OAuthApplicationArn=None))
    assert code == CHECK_FAILED
    assert (f"FAILED {OAUTH_APPLICATION}: {tmp_path / 'cdk-outputs.json'}: missing output "
            "DevIdentity.OAuthApplicationArn (stacks in the file: DevIdentity, DevWarehouse)") in out


def test_missing_credentials_exit_2_naming_what_is_needed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    out, err = io.StringIO(), io.StringIO()
    code = verify_command("dev", write_outputs(tmp_path, DEV), out=out, err=err)
    assert (code, out.getvalue()) == (ERROR, "")
    assert err.getvalue().startswith("error: no AWS credentials found. verify reads IAM Identity Center")
    assert "aws sso login" in err.getvalue() and "NoCredentialsError" not in err.getvalue()


@pytest.mark.parametrize(("env", "outputs", "secret_arn", "expected"), [
    ("dev", None, None, "verify needs --outputs"),
    ("no-such-env", "x.json", None, "no such environment 'no-such-env'"),
    ("dev", "missing.json", None, "no such outputs file"),
    ("dev", "ok", "not-an-arn", "--secret-arn 'not-an-arn' is not a Secrets Manager secret ARN"),
])
def test_usage_and_configuration_errors_exit_2_before_any_call(aws: Aws, tmp_path: Path, env: str,
                                                               outputs: str | None, secret_arn: str | None,
                                                               expected: str) -> None:
    path = None if outputs is None else write_outputs(tmp_path, DEV) if outputs == "ok" else tmp_path / outputs
    code, out, err = run(aws, env, path, secret_arn=secret_arn)  # no response queued: a call would fail the stub
    assert (code, out) == (ERROR, "") and expected in err


def test_help_describes_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["verify", "--help"])
    assert raised.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for number, (name, what) in enumerate(CHECKS, start=1):
        assert f"{number}. {name}: {' '.join(what.split())}" in text
    assert "exit status: 0 every check ok" in text and "--outputs-from-env" in text and "--secret-arn" in text


def test_main_builds_clients_in_the_environments_region(aws: Aws, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    regions: list[str] = []

    def clients(region: str) -> Clients:
        regions.append(region)
        return aws.clients

    monkeypatch.setattr(Clients, "for_region", staticmethod(clients))
    monkeypatch.setattr("redshift_idc.deployed.verify.runner.time.sleep", aws.sleeps.append)
    expect_instances(aws, [])
    expect_read(aws, ALL, warehouse_rows(providers=(provider_row(ALL),)))
    expect_workgroup(aws.serverless, ALL)
    assert main(["verify", "--env", "sample-all-paths", "--outputs", str(write_outputs(tmp_path, ALL))]) == CHECK_FAILED
    assert regions == ["us-east-1"]

"""The IdC OAuth application custom resource against botocore's Stubber: every request and response is
checked against the sso-admin model, and `expected_params` pins each call's exact parameters and order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from redshift_idc.runtime.custom_resource import CustomResourceError
from redshift_idc.runtime.idc_oauth_app import on_event, parse_properties
from redshift_idc.runtime.idc_sso_admin import JWT_BEARER, actor_policy
from redshift_idc.runtime.idc_trusted_token_issuer import issuer_client_token

ACCOUNT = "111111111111"
INSTANCE = "arn:aws:sso:::instance/ssoins-1111111111111111"
OTHER_INSTANCE = "arn:aws:sso:::instance/ssoins-2222222222222222"
APP = f"arn:aws:sso::{ACCOUNT}:application/ssoins-1111111111111111/apl-aaaaaaaaaaaaaaaa"
NEW_APP = f"arn:aws:sso::{ACCOUNT}:application/ssoins-1111111111111111/apl-bbbbbbbbbbbbbbbb"
OTHER_INSTANCE_APP = f"arn:aws:sso::{ACCOUNT}:application/ssoins-2222222222222222/apl-cccccccccccccccc"
REDSHIFT_APP = f"arn:aws:sso::{ACCOUNT}:application/ssoins-1111111111111111/apl-rrrrrrrrrrrrrrrr"
TTI = f"arn:aws:sso::{ACCOUNT}:trustedTokenIssuer/ssoins-1111111111111111/tti-11111111-1111-1111-1111-111111111111"
NEW_TTI = f"arn:aws:sso::{ACCOUNT}:trustedTokenIssuer/ssoins-1111111111111111/tti-22222222-2222-2222-2222-222222222222"
OTHER_TTI = (f"arn:aws:sso::{ACCOUNT}:trustedTokenIssuer/ssoins-2222222222222222/"
             "tti-33333333-3333-3333-3333-333333333333")
BRIDGE = f"arn:aws:iam::{ACCOUNT}:role/identity-PropagationBridgeRole-ABC"
ISSUER = "https://example.okta.com/oauth2/default"
NEW_ISSUER = "https://login.example.com/oauth2/v2"
STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/identity/0a1b2c3d"
FRAMEWORK_FAILED_CREATE = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"


def props(**overrides: Any) -> dict[str, Any]:
    """Properties as CloudFormation sends them: booleans already turned into strings."""
    base: dict[str, Any] = {
        "ServiceToken": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:provider",
        "InstanceArn": INSTANCE,
        "ApplicationArn": APP,
        "TrustedTokenIssuerName": "redshift-streamlit-issuer",
        "IssuerUrl": ISSUER,
        "ClaimAttributePath": "email",
        "IdentityStoreAttributePath": "emails.value",
        "Audiences": ["0oa1okta-client-id"],
        "ActorRoleArns": [BRIDGE],
        "AuthorizedTargets": [REDSHIFT_APP],
        "AssignmentRequired": "false",
    }
    base.update(overrides)
    return base


def event(request_type: str, properties: dict[str, Any], old: dict[str, Any] | None = None,
          physical_id: str | None = None, request_id: str = "req-1") -> dict[str, Any]:
    result: dict[str, Any] = {
        "RequestType": request_type, "RequestId": request_id, "StackId": STACK,
        "LogicalResourceId": "PropagationOAuthApplicationConfig", "ResourceType": "Custom::IdcOAuthAppConfig",
        "ResourceProperties": properties,
    }
    if old is not None:
        result["OldResourceProperties"] = old
    if physical_id is not None:
        result["PhysicalResourceId"] = physical_id
    return result


def token_for(ev: dict[str, Any]) -> str:
    return issuer_client_token(ev, parse_properties(ev["ResourceProperties"]))


@pytest.fixture
def sso() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sso-admin", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # never used: Stubber answers every call
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


# --- expected calls, each pinned to its exact parameters ------------------------------------------------

def expect_create_issuer(stubber: Stubber, ev: dict[str, Any], arn: str, *, instance: str = INSTANCE,
                         issuer: str = ISSUER) -> None:
    p = ev["ResourceProperties"]
    stubber.add_response("create_trusted_token_issuer", {"TrustedTokenIssuerArn": arn}, {
        "InstanceArn": instance, "Name": p["TrustedTokenIssuerName"], "TrustedTokenIssuerType": "OIDC_JWT",
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {
            "IssuerUrl": issuer, "ClaimAttributePath": p["ClaimAttributePath"],
            "IdentityStoreAttributePath": p["IdentityStoreAttributePath"],
            "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}},
        "ClientToken": token_for(ev),
    })


def grant_params(app: str, issuer: str, audiences: list[str]) -> dict[str, Any]:
    return {"ApplicationArn": app, "GrantType": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "Grant": {"JwtBearer": {"AuthorizedTokenIssuers": [
                {"TrustedTokenIssuerArn": issuer, "AuthorizedAudiences": audiences}]}}}


def expect_list_issuers(stubber: Stubber, instance: str, issuers: list[dict[str, str]] | None = None) -> None:
    """The search for an existing TTI with the wanted name and URL before a replacement is created."""
    stubber.add_response("list_trusted_token_issuers", {"TrustedTokenIssuers": issuers or []},
                         {"InstanceArn": instance})


def expect_grant(stubber: Stubber, app: str, issuer: str, audiences: list[str]) -> None:
    stubber.add_response("put_application_grant", {}, grant_params(app, issuer, audiences))


def method_params(app: str, roles: list[str]) -> dict[str, Any]:
    return {"ApplicationArn": app, "AuthenticationMethodType": "IAM", "AuthenticationMethod": {"Iam": {
        "ActorPolicy": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": roles}, "Action": "sso-oauth:CreateTokenWithIAM",
            "Resource": "*"}]}}}}


def expect_method(stubber: Stubber, app: str, roles: list[str]) -> None:
    stubber.add_response("put_application_authentication_method", {}, method_params(app, roles))


def expect_scope(stubber: Stubber, app: str, targets: list[str]) -> None:
    stubber.add_response("put_application_access_scope", {},
                         {"ApplicationArn": app, "Scope": "redshift:connect", "AuthorizedTargets": targets})


def expect_assignment(stubber: Stubber, app: str, required: bool) -> None:
    stubber.add_response("put_application_assignment_configuration", {},
                         {"ApplicationArn": app, "AssignmentRequired": required})


def expect_describe(stubber: Stubber, arn: str, issuer: str) -> None:
    stubber.add_response("describe_trusted_token_issuer", {
        "TrustedTokenIssuerArn": arn, "Name": "redshift-streamlit-issuer", "TrustedTokenIssuerType": "OIDC_JWT",
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {
            "IssuerUrl": issuer, "ClaimAttributePath": "email", "IdentityStoreAttributePath": "emails.value",
            "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}},
    }, {"TrustedTokenIssuerArn": arn})


def expect_get_grant(stubber: Stubber, app: str, issuer: str | None) -> None:
    params = {"ApplicationArn": app, "GrantType": JWT_BEARER}
    if issuer is None:
        stubber.add_client_error("get_application_grant", "ResourceNotFoundException", "no grant",
                                 http_status_code=404, expected_params=params)
    else:
        stubber.add_response("get_application_grant", {"Grant": {"JwtBearer": {"AuthorizedTokenIssuers": [
            {"TrustedTokenIssuerArn": issuer, "AuthorizedAudiences": ["0oa1okta-client-id"]}]}}}, params)


DELETES: dict[str, dict[str, Any]] = {
    "delete_application_access_scope": {"ApplicationArn": APP, "Scope": "redshift:connect"},
    "delete_application_authentication_method": {"ApplicationArn": APP, "AuthenticationMethodType": "IAM"},
    "delete_application_grant": {"ApplicationArn": APP, "GrantType": JWT_BEARER},
    "delete_trusted_token_issuer": {"TrustedTokenIssuerArn": TTI},
}


def expect_delete(stubber: Stubber, operation: str, error: str | None = None, **params: Any) -> None:
    expected = {**DELETES[operation], **params}
    if error is None:
        stubber.add_response(operation, {}, expected)
    else:
        stubber.add_client_error(operation, error, f"{error} from the stub",
                                 http_status_code=404 if error == "ResourceNotFoundException" else 400,
                                 expected_params=expected)


# --- Create ---------------------------------------------------------------------------------------------

def test_create_makes_the_five_calls_in_order(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    ev = event("Create", props())
    expect_create_issuer(stubber, ev, TTI)
    expect_grant(stubber, APP, TTI, ["0oa1okta-client-id"])
    expect_method(stubber, APP, [BRIDGE])
    expect_scope(stubber, APP, [REDSHIFT_APP])
    expect_assignment(stubber, APP, False)
    result = on_event(ev, client=client)
    assert result == {"PhysicalResourceId": TTI, "Data": {"TrustedTokenIssuerArn": TTI}}


def test_actor_policy_names_only_the_bridge_role() -> None:
    policy = actor_policy((BRIDGE,))
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"AWS": [BRIDGE]}  # no service principal, no wildcard principal
    assert statement["Action"] == "sso-oauth:CreateTokenWithIAM"  # not the seed console's sso-oauth:*


def test_client_token_is_deterministic_per_request() -> None:
    first = token_for(event("Create", props()))
    assert first == token_for(event("Create", props()))  # a re-delivered request reuses the first issuer
    assert first != token_for(event("Create", props(), request_id="req-2"))
    assert len(first) == 64  # the API's maximum


def test_assignment_required_true_string_becomes_a_boolean(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    ev = event("Create", props(AssignmentRequired="true"))
    expect_create_issuer(stubber, ev, TTI)
    expect_grant(stubber, APP, TTI, ["0oa1okta-client-id"])
    expect_method(stubber, APP, [BRIDGE])
    expect_scope(stubber, APP, [REDSHIFT_APP])
    expect_assignment(stubber, APP, True)
    assert on_event(ev, client=client)["PhysicalResourceId"] == TTI


def test_create_failure_on_the_third_call_removes_what_it_made(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    ev = event("Create", props())
    expect_create_issuer(stubber, ev, TTI)
    expect_grant(stubber, APP, TTI, ["0oa1okta-client-id"])
    stubber.add_client_error("put_application_authentication_method", "AccessDeniedException",
                             "not authorized to perform sso:PutApplicationAuthenticationMethod",
                             expected_params=method_params(APP, [BRIDGE]))
    expect_delete(stubber, "delete_application_grant")  # newest first
    expect_delete(stubber, "delete_trusted_token_issuer")
    with pytest.raises(CustomResourceError) as error:
        on_event(ev, client=client)
    message = str(error.value)
    assert "set the IAM authentication method" in message and "put_application_authentication_method" in message
    assert "AccessDeniedException: not authorized to perform sso:PutApplicationAuthenticationMethod" in message
    assert "Cleaned up what this Create had created: the jwt-bearer grant, the trusted token issuer" in message
    assert "Could NOT" not in message


class TimesOut:
    """The stubbed client, except that one operation times out: the outcome of that call is unknown."""

    def __init__(self, client: Any, operation: str) -> None:
        self.client = client
        self.operation = operation

    def __getattr__(self, name: str) -> Any:
        if name == self.operation:
            def timeout(**_: Any) -> None:
                raise ReadTimeoutError(endpoint_url="https://sso.us-east-1.amazonaws.com/")
            return timeout
        return getattr(self.client, name)


def test_create_cleanup_also_undoes_a_call_whose_outcome_is_unknown(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    ev = event("Create", props())
    expect_create_issuer(stubber, ev, TTI)
    expect_grant(stubber, APP, TTI, ["0oa1okta-client-id"])
    # put_application_authentication_method timed out: it may have been applied, so it is deleted too.
    expect_delete(stubber, "delete_application_authentication_method", "ResourceNotFoundException")
    expect_delete(stubber, "delete_application_grant")
    expect_delete(stubber, "delete_trusted_token_issuer")
    with pytest.raises(CustomResourceError, match=r"put_application_authentication_method.*ReadTimeoutError"):
        on_event(ev, client=TimesOut(client, "put_application_authentication_method"))


def test_create_cleanup_tolerates_already_gone_and_reports_what_it_could_not_delete(
        sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    ev = event("Create", props())
    expect_create_issuer(stubber, ev, TTI)
    expect_grant(stubber, APP, TTI, ["0oa1okta-client-id"])
    expect_method(stubber, APP, [BRIDGE])
    stubber.add_client_error("put_application_access_scope", "ValidationException", "bad target",
                             expected_params={"ApplicationArn": APP, "Scope": "redshift:connect",
                                              "AuthorizedTargets": [REDSHIFT_APP]})
    expect_delete(stubber, "delete_application_authentication_method", "ResourceNotFoundException")
    expect_delete(stubber, "delete_application_grant")
    expect_delete(stubber, "delete_trusted_token_issuer", "AccessDeniedException")
    with pytest.raises(CustomResourceError) as error:
        on_event(ev, client=client)
    message = str(error.value)
    assert "ValidationException: bad target" in message
    assert "the IAM authentication method, the jwt-bearer grant" in message
    assert f"Could NOT delete, remove by hand before retrying: the trusted token issuer {TTI}" in message


@pytest.mark.parametrize(("change", "expected"), [
    ({"IssuerUrl": None}, "IssuerUrl is missing or empty"),
    ({"IssuerUrl": "http://example.okta.com"}, "is not an https:// issuer URL"),
    ({"Audiences": "0oa1okta-client-id"}, "Audiences must be a non-empty list of non-empty strings"),
    ({"Audiences": []}, "Audiences must be a non-empty list"),
    ({"ActorRoleArns": ["arn:aws:iam::111111111111:user/alice"]}, "ActorRoleArns entries"),
    ({"AuthorizedTargets": ["redshift-app"]}, "AuthorizedTargets entries ['redshift-app'] are not"),
    ({"AssignmentRequired": "yes"}, "AssignmentRequired must be true or false (got 'yes')"),
    ({"ClaimAttributePath": "$.email"}, "ClaimAttributePath '$.email' is not a token claim path"),
    ({"IdentityStoreAttributePath": "emails[0].value"}, "is not an identity store attribute path"),
    ({"ApplicationArn": OTHER_INSTANCE_APP}, "is not in instance"),
    ({"InstanceArn": "ssoins-1111111111111111"}, "is not an IAM Identity Center instance ARN"),
])
def test_bad_or_missing_property_fails_before_any_call(sso: tuple[Any, Stubber], change: dict[str, Any],
                                                       expected: str) -> None:
    client, _ = sso  # no responses queued: any AWS call would fail the test
    properties = {k: v for k, v in props(**change).items() if v is not None}
    with pytest.raises(CustomResourceError) as error:
        on_event(event("Create", properties), client=client)
    assert expected in str(error.value)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(CustomResourceError) as error:
        parse_properties({"InstanceArn": INSTANCE})
    message = str(error.value)
    for name in ("ApplicationArn", "TrustedTokenIssuerName", "IssuerUrl", "Audiences", "ActorRoleArns",
                 "AuthorizedTargets", "AssignmentRequired"):
        assert name in message


# --- Update ---------------------------------------------------------------------------------------------

def test_update_without_changes_makes_no_call(sso: tuple[Any, Stubber]) -> None:
    client, _ = sso
    result = on_event(event("Update", props(), old=props(), physical_id=TTI), client=client)
    assert result == {"PhysicalResourceId": TTI, "Data": {"TrustedTokenIssuerArn": TTI}}


UPDATE_CASES: list[tuple[str, Any, str, dict[str, Any]]] = [
    ("TrustedTokenIssuerName", "renamed-issuer", "update_trusted_token_issuer",
     {"TrustedTokenIssuerArn": TTI, "Name": "renamed-issuer"}),
    ("ClaimAttributePath", "preferred_username", "update_trusted_token_issuer",
     {"TrustedTokenIssuerArn": TTI, "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {
         "ClaimAttributePath": "preferred_username", "IdentityStoreAttributePath": "emails.value"}}}),
    ("IdentityStoreAttributePath", "userName", "update_trusted_token_issuer",
     {"TrustedTokenIssuerArn": TTI, "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {
         "ClaimAttributePath": "email", "IdentityStoreAttributePath": "userName"}}}),
    ("Audiences", ["0oa1okta-client-id", "0oa2second-client"], "put_application_grant",
     grant_params(APP, TTI, ["0oa1okta-client-id", "0oa2second-client"])),
    ("ActorRoleArns", [BRIDGE, f"arn:aws:iam::{ACCOUNT}:role/second-bridge"], "put_application_authentication_method",
     method_params(APP, [BRIDGE, f"arn:aws:iam::{ACCOUNT}:role/second-bridge"])),
    ("AuthorizedTargets", [NEW_APP], "put_application_access_scope",
     {"ApplicationArn": APP, "Scope": "redshift:connect", "AuthorizedTargets": [NEW_APP]}),
    ("AssignmentRequired", "true", "put_application_assignment_configuration",
     {"ApplicationArn": APP, "AssignmentRequired": True}),
]


@pytest.mark.parametrize(("name", "value", "operation", "params"), UPDATE_CASES, ids=[c[0] for c in UPDATE_CASES])
def test_update_of_one_property_makes_only_the_matching_call(sso: tuple[Any, Stubber], name: str, value: Any,
                                                             operation: str, params: dict[str, Any]) -> None:
    client, stubber = sso
    stubber.add_response(operation, {}, params)  # the Stubber fails on any other call
    result = on_event(event("Update", props(**{name: value}), old=props(), physical_id=TTI), client=client)
    assert result == {"PhysicalResourceId": TTI, "Data": {"TrustedTokenIssuerArn": TTI}}


def test_new_application_gets_everything_and_keeps_the_issuer(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    expect_grant(stubber, NEW_APP, TTI, ["0oa1okta-client-id"])
    expect_method(stubber, NEW_APP, [BRIDGE])
    expect_scope(stubber, NEW_APP, [REDSHIFT_APP])
    expect_assignment(stubber, NEW_APP, False)
    result = on_event(event("Update", props(ApplicationArn=NEW_APP), old=props(), physical_id=TTI), client=client)
    assert result["PhysicalResourceId"] == TTI


def test_issuer_url_change_makes_a_new_issuer_and_repoints_the_grant(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    ev = event("Update", props(IssuerUrl=NEW_ISSUER), old=props(), physical_id=TTI)
    expect_describe(stubber, TTI, ISSUER)  # the current issuer still has the old URL
    expect_list_issuers(stubber, INSTANCE, [{"TrustedTokenIssuerArn": TTI, "Name": "other-name"}])
    expect_create_issuer(stubber, ev, NEW_TTI, issuer=NEW_ISSUER)
    expect_grant(stubber, APP, NEW_TTI, ["0oa1okta-client-id"])
    result = on_event(ev, client=client)
    assert result == {"PhysicalResourceId": NEW_TTI, "Data": {"TrustedTokenIssuerArn": NEW_TTI}}


def test_rollback_to_an_earlier_issuer_url_takes_the_existing_issuer_back(sso: tuple[Any, Stubber]) -> None:
    """A failed update moved the URL to NEW_ISSUER (physical id NEW_TTI); CloudFormation rolls back with the
    original properties before it deleted TTI: TTI is taken back, not created a second time."""
    client, stubber = sso
    original = props()
    ev = event("Update", original, old=props(IssuerUrl=NEW_ISSUER), physical_id=NEW_TTI)
    expect_describe(stubber, NEW_TTI, NEW_ISSUER)  # the current issuer has the URL being rolled back
    expect_list_issuers(stubber, INSTANCE, [{"TrustedTokenIssuerArn": NEW_TTI, "Name": "x"},
                                            {"TrustedTokenIssuerArn": TTI, "Name": original["TrustedTokenIssuerName"]}])
    expect_describe(stubber, TTI, ISSUER)  # same name: is it the wanted URL? yes
    stubber.add_response("update_trusted_token_issuer", {}, {
        "TrustedTokenIssuerArn": TTI, "Name": original["TrustedTokenIssuerName"],
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {
            "ClaimAttributePath": original["ClaimAttributePath"],
            "IdentityStoreAttributePath": original["IdentityStoreAttributePath"]}}})
    stubber.add_client_error("put_application_grant", "ConflictException", "busy",
                             expected_params=grant_params(APP, TTI, ["0oa1okta-client-id"]))
    # A failure after taking TTI back must not delete it: it is the original, CloudFormation still owns it.
    with pytest.raises(CustomResourceError, match="ConflictException"):
        on_event(ev, client=client)


def test_delete_of_the_replaced_issuer_leaves_the_application_alone(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    expect_get_grant(stubber, APP, NEW_TTI)  # the grant now belongs to the new issuer
    expect_delete(stubber, "delete_trusted_token_issuer")
    # CloudFormation's cleanup Delete carries the old resource's properties and physical id.
    result = on_event(event("Delete", props(), physical_id=TTI), client=client)
    assert result == {"PhysicalResourceId": TTI}


def test_instance_change_makes_a_new_issuer_in_the_new_instance(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    new = props(InstanceArn=OTHER_INSTANCE, ApplicationArn=OTHER_INSTANCE_APP)
    ev = event("Update", new, old=props(), physical_id=TTI)
    # The current issuer is in the old instance: no need to read it.
    expect_list_issuers(stubber, OTHER_INSTANCE)
    expect_create_issuer(stubber, ev, OTHER_TTI, instance=OTHER_INSTANCE)
    expect_grant(stubber, OTHER_INSTANCE_APP, OTHER_TTI, ["0oa1okta-client-id"])
    expect_method(stubber, OTHER_INSTANCE_APP, [BRIDGE])
    expect_scope(stubber, OTHER_INSTANCE_APP, [REDSHIFT_APP])
    expect_assignment(stubber, OTHER_INSTANCE_APP, False)
    assert on_event(ev, client=client)["PhysicalResourceId"] == OTHER_TTI


def test_rollback_update_keeps_the_issuer_that_already_has_the_url(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    # A failed Update to NEW_ISSUER is rolled back: original properties, original physical id, swapped old.
    ev = event("Update", props(), old=props(IssuerUrl=NEW_ISSUER), physical_id=TTI)
    expect_describe(stubber, TTI, ISSUER)
    expect_grant(stubber, APP, TTI, ["0oa1okta-client-id"])  # may point at the failed update's issuer
    assert on_event(ev, client=client)["PhysicalResourceId"] == TTI


def test_failed_update_deletes_the_issuer_it_made(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    ev = event("Update", props(IssuerUrl=NEW_ISSUER), old=props(), physical_id=TTI)
    expect_describe(stubber, TTI, ISSUER)
    expect_list_issuers(stubber, INSTANCE)
    expect_create_issuer(stubber, ev, NEW_TTI, issuer=NEW_ISSUER)
    stubber.add_client_error("put_application_grant", "ConflictException", "concurrent modification",
                             expected_params=grant_params(APP, NEW_TTI, ["0oa1okta-client-id"]))
    expect_delete(stubber, "delete_trusted_token_issuer", TrustedTokenIssuerArn=NEW_TTI)
    with pytest.raises(CustomResourceError) as error:
        on_event(ev, client=client)
    message = str(error.value)
    assert "put_application_grant" in message and "ConflictException: concurrent modification" in message
    assert f"the new trusted token issuer {NEW_TTI}" in message


def test_failed_in_place_update_names_the_step(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    stubber.add_client_error("put_application_access_scope", "ValidationException", "unknown target",
                             expected_params={"ApplicationArn": APP, "Scope": "redshift:connect",
                                              "AuthorizedTargets": [NEW_APP]})
    with pytest.raises(CustomResourceError, match=r"redshift:connect scope.*ValidationException: unknown target"):
        on_event(event("Update", props(AuthorizedTargets=[NEW_APP]), old=props(), physical_id=TTI), client=client)


def test_unreadable_old_properties_reapply_everything(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    expect_describe(stubber, TTI, ISSUER)
    stubber.add_response("update_trusted_token_issuer", {}, {
        "TrustedTokenIssuerArn": TTI, "Name": "redshift-streamlit-issuer",
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {
            "ClaimAttributePath": "email", "IdentityStoreAttributePath": "emails.value"}}})
    expect_grant(stubber, APP, TTI, ["0oa1okta-client-id"])
    expect_method(stubber, APP, [BRIDGE])
    expect_scope(stubber, APP, [REDSHIFT_APP])
    expect_assignment(stubber, APP, False)
    old = props(AssignmentRequired="maybe")
    assert on_event(event("Update", props(), old=old, physical_id=TTI), client=client)["PhysicalResourceId"] == TTI


# --- Delete ---------------------------------------------------------------------------------------------

def test_delete_removes_scope_method_grant_then_issuer(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    expect_get_grant(stubber, APP, TTI)
    for operation in DELETES:
        expect_delete(stubber, operation)
    assert on_event(event("Delete", props(), physical_id=TTI), client=client) == {"PhysicalResourceId": TTI}


def test_delete_when_everything_is_already_gone_succeeds(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    expect_get_grant(stubber, APP, TTI)
    for operation in DELETES:
        expect_delete(stubber, operation, "ResourceNotFoundException")
    assert on_event(event("Delete", props(), physical_id=TTI), client=client) == {"PhysicalResourceId": TTI}


def test_delete_without_grant_or_issuer_succeeds(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    expect_get_grant(stubber, APP, None)  # application (or its grant) already gone
    expect_delete(stubber, "delete_trusted_token_issuer", "ResourceNotFoundException")
    assert on_event(event("Delete", props(), physical_id=TTI), client=client) == {"PhysicalResourceId": TTI}


@pytest.mark.parametrize("physical_id", [FRAMEWORK_FAILED_CREATE, "", "idc-oauth-app"])
def test_delete_of_a_physical_id_that_is_not_an_issuer_makes_no_call(sso: tuple[Any, Stubber],
                                                                     physical_id: str) -> None:
    client, _ = sso
    assert on_event(event("Delete", props(), physical_id=physical_id), client=client) == {
        "PhysicalResourceId": physical_id}


def test_delete_ignores_bad_properties(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    expect_delete(stubber, "delete_trusted_token_issuer")  # no readable ApplicationArn: only the issuer
    on_event(event("Delete", {"AssignmentRequired": "maybe"}, physical_id=TTI), client=client)


def test_delete_keeps_the_grant_when_the_scope_cannot_be_deleted(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    expect_get_grant(stubber, APP, TTI)
    expect_delete(stubber, "delete_application_access_scope", "AccessDeniedException")
    expect_delete(stubber, "delete_application_authentication_method")
    expect_delete(stubber, "delete_trusted_token_issuer")
    with pytest.raises(CustomResourceError) as error:
        on_event(event("Delete", props(), physical_id=TTI), client=client)
    message = str(error.value)
    assert "delete_application_access_scope" in message and "AccessDeniedException" in message
    assert "kept the jwt-bearer grant" in message


def test_delete_when_the_grant_cannot_be_read_deletes_only_the_issuer(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    stubber.add_client_error("get_application_grant", "AccessDeniedException", "denied",
                             expected_params={"ApplicationArn": APP, "GrantType": JWT_BEARER})
    expect_delete(stubber, "delete_trusted_token_issuer")
    on_event(event("Delete", props(), physical_id=TTI), client=client)

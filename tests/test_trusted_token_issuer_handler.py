"""`Custom::IdcTrustedTokenIssuer`: the trusted token issuer alone (third-party clients of the Redshift IdC
application), served by the same handler and the same TTI calls as the OAuth application configuration, against
botocore's Stubber (every call's parameters and order pinned)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from redshift_idc.runtime.custom_resource import CustomResourceError
from redshift_idc.runtime.idc_oauth_app import on_event
from redshift_idc.runtime.idc_trusted_token_issuer import (
    ISSUER_RESOURCE_TYPE,
    issuer_client_token,
    parse_issuer_properties,
)
from tests.test_idc_oauth_app import (
    INSTANCE,
    ISSUER,
    NEW_ISSUER,
    NEW_TTI,
    OTHER_INSTANCE,
    OTHER_TTI,
    STACK,
    TTI,
    expect_describe,
    expect_list_issuers,
)

FRAMEWORK_FAILED_CREATE = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"


def props(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:provider",
        "InstanceArn": INSTANCE,
        "TrustedTokenIssuerName": "bi-okta-57a5ecd5",
        "IssuerUrl": ISSUER,
        "ClaimAttributePath": "email",
        "IdentityStoreAttributePath": "emails.value",
    }
    base.update(overrides)
    return base


def event(request_type: str, properties: dict[str, Any], old: dict[str, Any] | None = None,
          physical_id: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "RequestType": request_type, "RequestId": "req-1", "StackId": STACK,
        "LogicalResourceId": "TrustedTokenIssuersIssuerbiokta", "ResourceType": ISSUER_RESOURCE_TYPE,
        "ResourceProperties": properties,
    }
    if old is not None:
        result["OldResourceProperties"] = old
    if physical_id is not None:
        result["PhysicalResourceId"] = physical_id
    return result


@pytest.fixture
def sso() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sso-admin", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # never used: Stubber answers every call
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect_create(stubber: Stubber, ev: dict[str, Any], arn: str) -> None:
    p = ev["ResourceProperties"]
    stubber.add_response("create_trusted_token_issuer", {"TrustedTokenIssuerArn": arn}, {
        "InstanceArn": p["InstanceArn"], "Name": p["TrustedTokenIssuerName"], "TrustedTokenIssuerType": "OIDC_JWT",
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {
            "IssuerUrl": p["IssuerUrl"], "ClaimAttributePath": p["ClaimAttributePath"],
            "IdentityStoreAttributePath": p["IdentityStoreAttributePath"], "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}},
        "ClientToken": issuer_client_token(ev, parse_issuer_properties(p)),
    })


def test_create_makes_only_the_issuer(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    ev = event("Create", props())
    expect_create(stubber, ev, TTI)  # no grant, method, scope or assignment: Redshift authorizes the issuer
    assert on_event(ev, client=client) == {"PhysicalResourceId": TTI, "Data": {"TrustedTokenIssuerArn": TTI}}


def test_rename_and_claim_change_update_the_issuer_in_place(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    new = props(TrustedTokenIssuerName="bi-okta-renamed", ClaimAttributePath="preferred_username")
    stubber.add_response("update_trusted_token_issuer", {}, {
        "TrustedTokenIssuerArn": TTI, "Name": "bi-okta-renamed",
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {
            "ClaimAttributePath": "preferred_username", "IdentityStoreAttributePath": "emails.value"}}})
    assert on_event(event("Update", new, old=props(), physical_id=TTI), client=client)["PhysicalResourceId"] == TTI


def test_update_without_changes_makes_no_call(sso: tuple[Any, Stubber]) -> None:
    client, _ = sso
    assert on_event(event("Update", props(), old=props(), physical_id=TTI), client=client)["PhysicalResourceId"] == TTI


def test_new_issuer_url_makes_a_new_issuer_and_returns_its_arn(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    ev = event("Update", props(IssuerUrl=NEW_ISSUER, TrustedTokenIssuerName="bi-okta-0badcafe"), old=props(),
               physical_id=TTI)
    expect_describe(stubber, TTI, ISSUER)  # the existing TTI serves the old URL: a new one is needed
    expect_list_issuers(stubber, INSTANCE)
    expect_create(stubber, ev, NEW_TTI)
    # The new physical id makes CloudFormation delete the old TTI after the application points at the new one.
    assert on_event(ev, client=client) == {"PhysicalResourceId": NEW_TTI, "Data": {"TrustedTokenIssuerArn": NEW_TTI}}


def test_rollback_update_keeps_the_issuer_that_already_has_the_url(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    expect_describe(stubber, TTI, ISSUER)  # already the wanted URL: kept, only renamed back
    stubber.add_response("update_trusted_token_issuer", {}, {"TrustedTokenIssuerArn": TTI, "Name": "bi-okta-57a5ecd5"})
    ev = event("Update", props(), old=props(IssuerUrl=NEW_ISSUER, TrustedTokenIssuerName="bi-okta-0badcafe"),
               physical_id=TTI)
    assert on_event(ev, client=client)["PhysicalResourceId"] == TTI


def test_new_instance_makes_an_issuer_there(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    ev = event("Update", props(InstanceArn=OTHER_INSTANCE), old=props(), physical_id=TTI)
    expect_list_issuers(stubber, OTHER_INSTANCE)
    expect_create(stubber, ev, OTHER_TTI)  # a TTI of another instance is never described, just replaced
    assert on_event(ev, client=client)["PhysicalResourceId"] == OTHER_TTI


def test_update_after_a_failed_create_creates(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    ev = event("Update", props(), old=props(), physical_id=FRAMEWORK_FAILED_CREATE)
    expect_create(stubber, ev, TTI)
    assert on_event(ev, client=client)["PhysicalResourceId"] == TTI


@pytest.mark.parametrize("error", [None, "ResourceNotFoundException"])
def test_delete_removes_the_issuer_and_already_gone_is_success(sso: tuple[Any, Stubber], error: str | None) -> None:
    client, stubber = sso
    if error is None:
        stubber.add_response("delete_trusted_token_issuer", {}, {"TrustedTokenIssuerArn": TTI})
    else:
        stubber.add_client_error("delete_trusted_token_issuer", error, "gone", http_status_code=404,
                                 expected_params={"TrustedTokenIssuerArn": TTI})
    assert on_event(event("Delete", props(), physical_id=TTI), client=client) == {"PhysicalResourceId": TTI}


def test_delete_failure_names_the_issuer(sso: tuple[Any, Stubber]) -> None:
    client, stubber = sso
    stubber.add_client_error("delete_trusted_token_issuer", "ConflictException", "in use by an application",
                             expected_params={"TrustedTokenIssuerArn": TTI})
    with pytest.raises(CustomResourceError, match=re.escape(f"could not delete the trusted token issuer {TTI}: ")):
        on_event(event("Delete", props(), physical_id=TTI), client=client)


def test_delete_of_a_create_that_never_named_an_issuer_makes_no_call(sso: tuple[Any, Stubber]) -> None:
    client, _ = sso
    result = on_event(event("Delete", {"bad": "props"}, physical_id=FRAMEWORK_FAILED_CREATE), client=client)
    assert result == {"PhysicalResourceId": FRAMEWORK_FAILED_CREATE}


def test_every_bad_property_is_named_before_any_call(sso: tuple[Any, Stubber]) -> None:
    client, _ = sso  # no responses queued: any AWS call would fail the test
    bad = props(IssuerUrl="http://okta.example.invalid", ClaimAttributePath="$.email", InstanceArn="ssoins-1")
    del bad["TrustedTokenIssuerName"]
    with pytest.raises(CustomResourceError) as error:
        on_event(event("Create", bad), client=client)
    message = str(error.value)
    assert message.startswith(f"{ISSUER_RESOURCE_TYPE}: invalid properties: ")
    for problem in ("InstanceArn 'ssoins-1' is not", "TrustedTokenIssuerName is missing", "is not an https:// issuer",
                    "ClaimAttributePath '$.email' is not"):
        assert problem in message
    # Only the issuer's properties: nothing about the OAuth application's (ApplicationArn, Audiences, ...).
    assert "ApplicationArn" not in message and "Audiences" not in message

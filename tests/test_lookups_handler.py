"""The deploy-time lookups handler against botocore's Stubber (every call checked against the model)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from redshift_idc.runtime.custom_resource import CustomResourceError
from redshift_idc.runtime.lookups import KIND_GROUP_IDS, KIND_NAMESPACE_SECRET, KIND_USER_IDS, on_event

STORE = "d-1234567890"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:redshift!ns-admin-AbCdEf"


def principal_event(request_type: str, kind: str, entries: str, name_key: str, key_prefix: str, names: list[str],
                    **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:x",
            "Kind": kind,
            "IdentityStoreId": STORE,
            entries: [{"Key": f"{key_prefix}{i}", name_key: n} for i, n in enumerate(names)],
        },
        **extra,
    }


def group_event(request_type: str, names: list[str], **extra: Any) -> dict[str, Any]:
    return principal_event(request_type, KIND_GROUP_IDS, "Groups", "DisplayName", "K", names, **extra)


def expect_principal(stubber: Stubber, noun: str, attribute: str, name: str, found_id: str | None) -> None:
    """`get_<noun>_id` by its unique attribute: the id, or ResourceNotFoundException."""
    params = {"IdentityStoreId": STORE, "AlternateIdentifier": {
        "UniqueAttribute": {"AttributePath": attribute, "AttributeValue": name}}}
    if found_id is None:
        stubber.add_client_error(f"get_{noun}_id", "ResourceNotFoundException", "not found",
                                 http_status_code=404, expected_params=params)
    else:
        title = noun.capitalize()
        response = {f"{title}Id": found_id, "IdentityStoreId": STORE,
                    f"{title}Arn": f"arn:aws:identitystore:::{noun}/{found_id}"}
        stubber.add_response(f"get_{noun}_id", response, params)


def expect_group(stubber: Stubber, name: str, group_id: str | None) -> None:
    expect_principal(stubber, "group", "displayName", name, group_id)


@pytest.fixture
def identitystore() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("identitystore", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # never used: Stubber answers every call
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_create_resolves_every_group(identitystore: tuple[Any, Stubber]) -> None:
    client, stubber = identitystore
    expect_group(stubber, "amer-sales", "11111111-1111-1111-1111-111111111111")
    expect_group(stubber, "finance analysts", "22222222-2222-2222-2222-222222222222")
    result = on_event(group_event("Create", ["amer-sales", "finance analysts"]), client=client)
    assert result == {
        "PhysicalResourceId": f"idc-group-ids:{STORE}",
        "Data": {"K0": "11111111-1111-1111-1111-111111111111", "K1": "22222222-2222-2222-2222-222222222222"},
    }


def test_missing_groups_fail_the_deploy_naming_each(identitystore: tuple[Any, Stubber]) -> None:
    client, stubber = identitystore
    expect_group(stubber, "amer-sales", None)
    expect_group(stubber, "emea-sales", "11111111-1111-1111-1111-111111111111")
    expect_group(stubber, "Exec Global", None)
    with pytest.raises(CustomResourceError) as error:
        on_event(group_event("Create", ["amer-sales", "emea-sales", "Exec Global"]), client=client)
    message = str(error.value)
    assert "'amer-sales'" in message and "'Exec Global'" in message
    assert "emea-sales" not in message
    assert STORE in message and "redshift_idc_application.groups" in message


def test_access_denied_is_reported_with_the_group_and_store(identitystore: tuple[Any, Stubber]) -> None:
    client, stubber = identitystore
    stubber.add_client_error("get_group_id", "AccessDeniedException", "no", http_status_code=403)
    with pytest.raises(CustomResourceError, match=r"group 'amer-sales' in identity store d-1234567890: AccessDenied"):
        on_event(group_event("Create", ["amer-sales"]), client=client)


def user_event(request_type: str, names: list[str]) -> dict[str, Any]:
    return principal_event(request_type, KIND_USER_IDS, "Users", "UserName", "U", names)


def expect_user(stubber: Stubber, name: str, user_id: str | None) -> None:
    expect_principal(stubber, "user", "userName", name, user_id)


def test_users_are_resolved_by_user_name(identitystore: tuple[Any, Stubber]) -> None:
    client, stubber = identitystore
    expect_user(stubber, "etl@example.com", "44444444-4444-4444-4444-444444444444")
    result = on_event(user_event("Create", ["etl@example.com"]), client=client)
    assert result == {"PhysicalResourceId": f"idc-user-ids:{STORE}",
                      "Data": {"U0": "44444444-4444-4444-4444-444444444444"}}


def test_missing_users_fail_the_deploy_naming_each_and_the_field(identitystore: tuple[Any, Stubber]) -> None:
    client, stubber = identitystore
    expect_user(stubber, "gone@example.com", None)
    expect_user(stubber, "here@example.com", "44444444-4444-4444-4444-444444444444")
    with pytest.raises(CustomResourceError) as error:
        on_event(user_event("Create", ["gone@example.com", "here@example.com"]), client=client)
    message = str(error.value)
    assert "user(s) 'gone@example.com' not found" in message and "here@" not in message
    assert "redshift_idc_application.users" in message


def test_user_lookup_delete_makes_no_call(identitystore: tuple[Any, Stubber]) -> None:
    client, _ = identitystore
    event = {**user_event("Delete", ["etl@example.com"]), "PhysicalResourceId": f"idc-user-ids:{STORE}"}
    assert on_event(event, client=client) == {"PhysicalResourceId": f"idc-user-ids:{STORE}"}


def test_update_keeps_the_physical_id(identitystore: tuple[Any, Stubber]) -> None:
    client, stubber = identitystore
    expect_group(stubber, "new-group", "33333333-3333-3333-3333-333333333333")
    event = group_event("Update", ["new-group"], PhysicalResourceId=f"idc-group-ids:{STORE}",
                        OldResourceProperties={"Kind": KIND_GROUP_IDS, "IdentityStoreId": STORE, "Groups": []})
    assert on_event(event, client=client)["PhysicalResourceId"] == f"idc-group-ids:{STORE}"


def test_delete_makes_no_call(identitystore: tuple[Any, Stubber]) -> None:
    client, _ = identitystore  # no responses queued: any call would fail the Stubber
    result = on_event(group_event("Delete", ["amer-sales"], PhysicalResourceId="idc-group-ids:old"), client=client)
    assert result == {"PhysicalResourceId": "idc-group-ids:old"}


def secret_event(request_type: str) -> dict[str, Any]:
    return {"RequestType": request_type,
            "ResourceProperties": {"Kind": KIND_NAMESPACE_SECRET, "NamespaceName": "analytics"}}


def namespace_response(secret_arn: str | None) -> dict[str, Any]:
    namespace: dict[str, Any] = {"namespaceName": "analytics", "namespaceId": "abc", "status": "AVAILABLE"}
    if secret_arn:
        namespace["adminPasswordSecretArn"] = secret_arn
    return {"namespace": namespace}


def test_secret_lookup_returns_the_arn(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    stubber.add_response("get_namespace", namespace_response(SECRET_ARN), {"namespaceName": "analytics"})
    assert on_event(secret_event("Create"), client=client) == {
        "PhysicalResourceId": "namespace-admin-secret:analytics", "Data": {"AdminPasswordSecretArn": SECRET_ARN}}


def test_namespace_without_managed_secret_is_an_error(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    stubber.add_response("get_namespace", namespace_response(None), {"namespaceName": "analytics"})
    with pytest.raises(CustomResourceError, match="ManageAdminPassword"):
        on_event(secret_event("Update"), client=client)


def test_missing_namespace_is_an_error_naming_it(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    stubber.add_client_error("get_namespace", "ResourceNotFoundException", "gone", http_status_code=404)
    with pytest.raises(CustomResourceError, match="namespace analytics: ResourceNotFoundException"):
        on_event(secret_event("Create"), client=client)


def test_unknown_kind_and_request_type_are_refused() -> None:
    with pytest.raises(CustomResourceError, match="Kind"):
        on_event({"RequestType": "Create", "ResourceProperties": {"Kind": "Nope"}})
    with pytest.raises(CustomResourceError, match="RequestType"):
        on_event({"RequestType": "Replace", "ResourceProperties": {}})

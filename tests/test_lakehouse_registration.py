"""`Custom::LakehouseRegistration` against botocore's Stubber (every call's parameters and order pinned, every
response checked against the redshift-serverless model): dry run then the real call on Create, Update and
Delete, a refused dry run, each registration status is_complete can read, and a runtime without the operation."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from redshift_idc.runtime.custom_resource import CustomResourceError
from redshift_idc.runtime.lakehouse_registration import (
    OPERATION,
    PHYSICAL_ID_PREFIX,
    REGISTRATION_DEADLINE_KEY,
    WAIT_SECONDS,
    is_complete,
    on_event,
)

NAMESPACE = "lakehouse"
CATALOG = "sales-catalog"
CATALOG_ARN = f"arn:aws:glue:us-east-1:666666666666:catalog/{CATALOG}"
APP_ARN = "arn:aws:redshift:us-east-1:666666666666:redshiftidcapplication:3f966e50-f1b7-495c-8ace-bd0d6c3c3b17"
PHYSICAL_ID = f"{PHYSICAL_ID_PREFIX}{NAMESPACE}"


class FixedClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def props(*, propagation: bool = True, catalog: str = CATALOG) -> dict[str, Any]:
    found: dict[str, Any] = {"NamespaceName": NAMESPACE, "CatalogName": catalog,
                             "IdentityPropagation": "true" if propagation else "false"}
    if propagation:
        found["IdcApplicationArn"] = APP_ARN
    return found


def event(request_type: str, properties: dict[str, Any], *, old: dict[str, Any] | None = None,
          physical_id: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"RequestType": request_type, "ResourceType": "Custom::LakehouseRegistration",
                             "ResourceProperties": {"ServiceToken": "arn", **properties}, **(extra or {})}
    if old is not None:
        found["OldResourceProperties"] = old
    if physical_id is not None:
        found["PhysicalResourceId"] = physical_id
    return found


def expect_namespace(stubber: Stubber, status: str | None, *, namespace_status: str = "AVAILABLE",
                     catalog_arn: str | None = CATALOG_ARN) -> None:
    namespace: dict[str, Any] = {"namespaceName": NAMESPACE, "status": namespace_status}
    if status is not None:
        namespace["lakehouseRegistrationStatus"] = status
    if catalog_arn is not None and status is not None:
        namespace["catalogArn"] = catalog_arn
    stubber.add_response("get_namespace", {"namespace": namespace}, {"namespaceName": NAMESPACE})


def expect_missing_namespace(stubber: Stubber) -> None:
    stubber.add_client_error("get_namespace", "ResourceNotFoundException", "no such namespace",
                             expected_params={"namespaceName": NAMESPACE})


def expect_update(stubber: Stubber, status: str = "REGISTERING", **changes: Any) -> None:
    """The dry run (answered with DryRunException: it would succeed), then the same call for real."""
    params = {"namespaceName": NAMESPACE, **changes}
    stubber.add_client_error("update_lakehouse_configuration", "DryRunException", "dry run",
                             expected_params={**params, "dryRun": True})
    stubber.add_response("update_lakehouse_configuration",
                         {"namespaceName": NAMESPACE, "lakehouseRegistrationStatus": status}, params)


ASSOCIATE = {"lakehouseIdcRegistration": "Associate", "lakehouseIdcApplicationArn": APP_ARN}
REGISTER = {"lakehouseRegistration": "Register", "catalogName": CATALOG}


# --- on_event ---------------------------------------------------------------------------------------------

def test_create_registers_with_the_association_after_a_dry_run(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_namespace(stubber, None)
    expect_update(stubber, **REGISTER, **ASSOCIATE)
    result = on_event(event("Create", props()), client=client, clock=FixedClock(1000.0))
    assert result == {"PhysicalResourceId": PHYSICAL_ID, REGISTRATION_DEADLINE_KEY: 1000.0 + WAIT_SECONDS}


def test_create_without_propagation_registers_only(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_namespace(stubber, "NOT_REGISTERED", catalog_arn=None)
    expect_update(stubber, **REGISTER)
    assert on_event(event("Create", props(propagation=False)), client=client)["PhysicalResourceId"] == PHYSICAL_ID


def test_a_refused_dry_run_changes_nothing_and_names_the_reason(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_namespace(stubber, None)
    stubber.add_client_error("update_lakehouse_configuration", "ValidationException",
                             "The IdC application must be of type Lakehouse",
                             expected_params={"namespaceName": NAMESPACE, "dryRun": True, **REGISTER, **ASSOCIATE})
    with pytest.raises(CustomResourceError, match=r"dry run for namespace lakehouse refused .*ValidationException: "
                                                  r"The IdC application must be of type Lakehouse"):
        on_event(event("Create", props()), client=client)  # no real call queued: the Stubber would refuse one


def test_a_failing_real_call_is_reported(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_namespace(stubber, None)
    stubber.add_client_error("update_lakehouse_configuration", "DryRunException", "dry run",
                             expected_params={"namespaceName": NAMESPACE, "dryRun": True, **REGISTER})
    stubber.add_client_error("update_lakehouse_configuration", "ConflictException", "namespace is modifying",
                             expected_params={"namespaceName": NAMESPACE, **REGISTER})
    with pytest.raises(CustomResourceError, match=r"ConflictException: namespace is modifying"):
        on_event(event("Create", props(propagation=False)), client=client)


def test_a_retried_create_on_the_same_catalog_only_associates(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_namespace(stubber, "Registered")
    expect_update(stubber, status="REGISTERED", **ASSOCIATE)
    on_event(event("Create", props()), client=client)


def test_create_on_a_namespace_registered_under_another_catalog_is_refused(
        serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_namespace(stubber, "REGISTERED", catalog_arn="arn:aws:glue:us-east-1:666666666666:catalog/other")
    with pytest.raises(CustomResourceError, match=r"under catalog other, not sales-catalog: set "
                                                  r"warehouse.federated_permissions.catalog_name to other"):
        on_event(event("Create", props()), client=client)


def test_create_without_the_namespace_says_to_deploy_the_warehouse(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_missing_namespace(stubber)
    with pytest.raises(CustomResourceError, match=r"namespace lakehouse does not exist"):
        on_event(event("Create", props()), client=client)


def test_update_turning_propagation_off_disassociates_only(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_update(stubber, status="REGISTERED", lakehouseIdcRegistration="Disassociate")
    on_event(event("Update", props(propagation=False), old=props(), physical_id=PHYSICAL_ID), client=client)


def test_update_with_a_new_application_associates_it(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    old = {**props(), "IdcApplicationArn": APP_ARN.replace("3f966e50", "0000aaaa")}
    expect_update(stubber, status="REGISTERED", **ASSOCIATE)
    on_event(event("Update", props(), old=old, physical_id=PHYSICAL_ID), client=client)


def test_update_without_a_change_calls_nothing(serverless: tuple[Any, Stubber]) -> None:
    client, _ = serverless  # no response queued: any call would fail the test
    result = on_event(event("Update", props(), old=props(), physical_id=PHYSICAL_ID), client=client)
    assert result["PhysicalResourceId"] == PHYSICAL_ID


def test_update_of_the_catalog_name_is_refused_with_the_steps(serverless: tuple[Any, Stubber]) -> None:
    client, _ = serverless
    with pytest.raises(CustomResourceError, match=r"sales-catalog -> other cannot change .*deploy once without "
                                                  r"federated_permissions \(deregisters\), then with the new name"):
        on_event(event("Update", props(catalog="other"), old=props(), physical_id=PHYSICAL_ID), client=client)


def test_delete_deregisters_after_a_dry_run(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_namespace(stubber, "REGISTERED")
    expect_update(stubber, status="DEREGISTERING", lakehouseRegistration="Deregister")
    on_event(event("Delete", props(), physical_id=PHYSICAL_ID), client=client)


@pytest.mark.parametrize("status", [None, "DEREGISTERED", "not-registered"])
def test_delete_of_an_unregistered_namespace_calls_no_update(serverless: tuple[Any, Stubber],
                                                             status: str | None) -> None:
    client, stubber = serverless
    expect_namespace(stubber, status)
    on_event(event("Delete", props(), physical_id=PHYSICAL_ID), client=client)


def test_delete_of_a_gone_namespace_is_success(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_missing_namespace(stubber)
    on_event(event("Delete", props(), physical_id=PHYSICAL_ID), client=client)


def test_delete_of_a_create_that_never_named_the_resource_calls_nothing(serverless: tuple[Any, Stubber]) -> None:
    client, _ = serverless
    assert on_event(event("Delete", props(), physical_id="some-request-id"), client=client)["PhysicalResourceId"] \
        == "some-request-id"
    assert is_complete(event("Delete", props(), physical_id="some-request-id"), client=client) == \
        {"IsComplete": True}


def test_invalid_properties_are_named_before_any_call(serverless: tuple[Any, Stubber]) -> None:
    client, _ = serverless
    with pytest.raises(CustomResourceError, match=r"CatalogName is missing; IdentityPropagation is true but "
                                                  r"IdcApplicationArn is missing"):
        on_event(event("Create", {"NamespaceName": NAMESPACE, "IdentityPropagation": "true"}), client=client)


def test_a_runtime_without_the_operation_names_its_boto3_version() -> None:
    class OldModel:
        operation_names = ("GetNamespace", "UpdateNamespace")

    class OldClient:
        class meta:  # the attribute botocore clients carry
            service_model = OldModel()

    with pytest.raises(CustomResourceError, match=rf"boto3 {boto3.__version__} \(botocore [\d.]+\) has no "
                                                  rf"redshift-serverless {OPERATION}.*newer Python Lambda runtime"):
        on_event(event("Create", props()), client=OldClient())


# --- is_complete --------------------------------------------------------------------------------------------

def waiting(request_type: str, deadline: float = 2000.0) -> dict[str, Any]:
    return event(request_type, props(), physical_id=PHYSICAL_ID, extra={REGISTRATION_DEADLINE_KEY: deadline})


@pytest.mark.parametrize("status", ["REGISTERED", "Registered"])
def test_create_is_complete_once_registered(serverless: tuple[Any, Stubber], status: str) -> None:
    client, stubber = serverless
    expect_namespace(stubber, status)
    assert is_complete(waiting("Create"), client=client, clock=FixedClock(1500.0)) == {
        "IsComplete": True, "Data": {"LakehouseRegistrationStatus": "REGISTERED", "CatalogArn": CATALOG_ARN}}


@pytest.mark.parametrize(("status", "namespace_status"), [
    ("REGISTERING", "AVAILABLE"), ("IN_PROGRESS", "AVAILABLE"), ("REGISTERED", "MODIFYING"), (None, "AVAILABLE"),
])
def test_create_waits_while_not_registered(serverless: tuple[Any, Stubber], status: str | None,
                                           namespace_status: str) -> None:
    client, stubber = serverless
    expect_namespace(stubber, status, namespace_status=namespace_status)
    assert is_complete(waiting("Update"), client=client, clock=FixedClock(1500.0)) == {"IsComplete": False}


def test_a_failed_status_fails_the_request(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_namespace(stubber, "REGISTRATION_FAILED")
    with pytest.raises(CustomResourceError, match=r"lakehouseRegistrationStatus REGISTRATION_FAILED \(registering\)"):
        is_complete(waiting("Create"), client=client, clock=FixedClock(1500.0))


def test_a_status_still_unknown_at_the_deadline_fails_naming_it(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_namespace(stubber, "PENDING_GLUE")
    with pytest.raises(CustomResourceError, match=r"still PENDING_GLUE after 20 minutes"):
        is_complete(waiting("Create", deadline=1000.0), client=client, clock=FixedClock(1001.0))


def test_a_namespace_gone_while_registering_fails(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_missing_namespace(stubber)
    with pytest.raises(CustomResourceError, match=r"disappeared while registering"):
        is_complete(waiting("Create"), client=client, clock=FixedClock(1500.0))


@pytest.mark.parametrize("status", [None, "DEREGISTERED", "Not Registered"])
def test_delete_is_complete_once_deregistered(serverless: tuple[Any, Stubber], status: str | None) -> None:
    client, stubber = serverless
    expect_namespace(stubber, status)
    assert is_complete(waiting("Delete"), client=client, clock=FixedClock(1500.0)) == {"IsComplete": True}


def test_delete_waits_while_deregistering_and_ends_when_the_namespace_is_gone(
        serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_namespace(stubber, "DEREGISTERING")
    expect_missing_namespace(stubber)
    assert is_complete(waiting("Delete"), client=client, clock=FixedClock(1500.0)) == {"IsComplete": False}
    assert is_complete(waiting("Delete"), client=client, clock=FixedClock(1600.0)) == {"IsComplete": True}


def test_delete_with_a_failed_status_fails(serverless: tuple[Any, Stubber]) -> None:
    client, stubber = serverless
    expect_namespace(stubber, "DEREGISTRATION_FAILED")
    with pytest.raises(CustomResourceError, match=r"DEREGISTRATION_FAILED \(deregistering\)"):
        is_complete(waiting("Delete"), client=client, clock=FixedClock(1500.0))

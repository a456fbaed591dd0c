"""verify's Lakehouse registration check against botocore's Stubber: registered under the configured catalog,
not registered, registered elsewhere, the namespace gone, a denied call, and skipped without the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.deployed.verify.lakehouse import check_lakehouse_registration
from tests.test_config import check_loads
from tests.test_federated_permissions_config import federated

CATALOG_ARN = "arn:aws:glue:us-east-1:111111111111:catalog/sales-catalog"


@pytest.fixture
def config(tmp_path: Path) -> EnvironmentConfig:
    return check_loads(tmp_path, federated())


def answer(stubber: Stubber, config: EnvironmentConfig, **namespace: Any) -> None:
    name = config.warehouse.namespace_name
    stubber.add_response("get_namespace", {"namespace": {"namespaceName": name, **namespace}},
                         {"namespaceName": name})


def test_registered_under_the_configured_catalog_is_ok(serverless: tuple[Any, Stubber],
                                                        config: EnvironmentConfig) -> None:
    client, stubber = serverless
    answer(stubber, config, lakehouseRegistrationStatus="Registered", catalogArn=CATALOG_ARN)
    result = check_lakehouse_registration(client, config)
    assert (result.status, result.detail) == ("ok", f"{config.warehouse.namespace_name} under {CATALOG_ARN}")


@pytest.mark.parametrize("status", [None, "DEREGISTERED", "REGISTERING"])
def test_not_registered_fails_with_the_status_and_the_deploy(serverless: tuple[Any, Stubber],
                                                              config: EnvironmentConfig, status: str | None) -> None:
    client, stubber = serverless
    answer(stubber, config, **({"lakehouseRegistrationStatus": status} if status else {}))
    result = check_lakehouse_registration(client, config)
    assert result.status == "failed"
    assert f"lakehouseRegistrationStatus is {status or '(empty)'}, not REGISTERED" in result.detail
    assert result.fix == f"deploy the {config.stack_prefix}Warehouse stack (it registers the namespace)"


def test_registered_under_another_catalog_fails(serverless: tuple[Any, Stubber], config: EnvironmentConfig) -> None:
    client, stubber = serverless
    other = CATALOG_ARN.replace("sales-catalog", "other")
    answer(stubber, config, lakehouseRegistrationStatus="REGISTERED", catalogArn=other)
    result = check_lakehouse_registration(client, config)
    assert result.status == "failed"
    assert f"registered under {other}, not catalog sales-catalog of config/good.yaml" in result.detail


def test_a_missing_namespace_fails(serverless: tuple[Any, Stubber], config: EnvironmentConfig) -> None:
    client, stubber = serverless
    stubber.add_client_error("get_namespace", "ResourceNotFoundException", "gone",
                             expected_params={"namespaceName": config.warehouse.namespace_name})
    result = check_lakehouse_registration(client, config)
    assert (result.status, result.detail) == ("failed", f"namespace {config.warehouse.namespace_name} does not exist")


def test_a_denied_call_names_the_permission(serverless: tuple[Any, Stubber], config: EnvironmentConfig) -> None:
    client, stubber = serverless
    stubber.add_client_error("get_namespace", "AccessDeniedException", "denied",
                             expected_params={"namespaceName": config.warehouse.namespace_name})
    result = check_lakehouse_registration(client, config)
    assert result.status == "failed" and "GetNamespace was denied (AccessDeniedException)" in result.detail


def test_skipped_without_federated_permissions(serverless: tuple[Any, Stubber], tmp_path: Path) -> None:
    client, _ = serverless  # no call queued: any call would fail the test
    result = check_lakehouse_registration(client, check_loads(tmp_path, lambda data: None))
    assert (result.status, result.detail) == ("skipped", "no warehouse.federated_permissions")


def test_a_botocore_that_cannot_read_the_status_says_so(config: EnvironmentConfig) -> None:
    class Shape:
        members = ("namespaceName", "status")

    class Model:
        def shape_for(self, name: str) -> Shape:
            return Shape()

    class OldClient:
        class meta:  # the attribute botocore clients carry
            service_model = Model()

    result = check_lakehouse_registration(OldClient(), config)
    assert result.status == "failed" and "cannot read a namespace's lakehouseRegistrationStatus" in result.detail
    assert result.fix == "run verify with the project's environment (make install): its botocore reads it"

"""verify's workgroup-scaling check against botocore's Stubber (GetWorkgroup's request and response checked
against the service model): a fixed base capacity and a price-performance target each matching, each
mismatching, and the values AWS reports for the mode not chosen never reported as differences.

`dev` has base capacity 8 and max 32; `sample-lakehouse` has price-performance target 50 and max 64.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.deployed.verify.results import FAILED, OK
from redshift_idc.deployed.verify.scaling import SCALING, check_scaling

DEV = load_environment("dev")
LAKEHOUSE = load_environment("sample-lakehouse")


def workgroup_of(config: EnvironmentConfig, **override: Any) -> dict[str, Any]:
    """GetWorkgroup's answer for a workgroup deployed as `config` says, with what AWS adds for the mode not
    chosen: a base-capacity workgroup reports its target DISABLED, a target-scaled one reports base capacity
    -1 (go-to-k/cdk-real-drift#1489 saw both). `override` replaces or (with None) removes fields."""
    warehouse = config.warehouse
    workgroup: dict[str, Any] = {
        "workgroupName": warehouse.workgroup_name, "namespaceName": warehouse.namespace_name, "status": "AVAILABLE",
        "workgroupArn": f"arn:aws:redshift-serverless:{config.region}:{config.account}:workgroup/"
                        "0b8e1c53-1f3c-4f0e-9d1e-5c2a3b4d5e6f"}
    if warehouse.price_performance_target is not None:
        workgroup.update(baseCapacity=-1,
                         pricePerformanceTarget={"status": "ENABLED", "level": warehouse.price_performance_target})
    else:
        workgroup.update(baseCapacity=warehouse.base_capacity_rpu, pricePerformanceTarget={"status": "DISABLED"})
    if warehouse.max_capacity_rpu is not None:
        workgroup["maxCapacity"] = warehouse.max_capacity_rpu
    for key, value in override.items():
        if value is None:
            workgroup.pop(key, None)
        else:
            workgroup[key] = value
    return {"workgroup": workgroup}


def expect_workgroup(stub: Stubber, config: EnvironmentConfig, **override: Any) -> None:
    stub.add_response("get_workgroup", workgroup_of(config, **override),
                      {"workgroupName": config.warehouse.workgroup_name})


# --- match ---------------------------------------------------------------------------------------------------


def test_a_base_capacity_as_configured_is_ok(serverless: tuple[Any, Stubber]) -> None:
    client, stub = serverless
    expect_workgroup(stub, DEV)
    result = check_scaling(client, DEV)
    assert (result.name, result.status, result.detail) == (SCALING, OK, "analytics-dev: base capacity 8 RPU, max "
                                                                         "capacity 32 RPU")


def test_a_price_performance_target_as_configured_is_ok(serverless: tuple[Any, Stubber]) -> None:
    client, stub = serverless
    expect_workgroup(stub, LAKEHOUSE)
    result = check_scaling(client, LAKEHOUSE)
    assert (result.status, result.detail) == (
        OK, "lakehouse-wg: price-performance target 50 (BALANCED), max capacity 64 RPU")


# --- what AWS reports for the mode not chosen is not a difference ---------------------------------------------


@pytest.mark.parametrize("reported", [
    {"status": "DISABLED"}, {"status": "DISABLED", "level": 50}, {"status": "DISABLED", "level": 100}, None])
def test_a_base_capacity_workgroups_disabled_target_is_not_reported(serverless: tuple[Any, Stubber],
                                                                     reported: dict[str, Any] | None) -> None:
    client, stub = serverless
    expect_workgroup(stub, DEV, pricePerformanceTarget=reported)
    assert check_scaling(client, DEV).status == OK


@pytest.mark.parametrize("base", [-1, 8, 128, None])
def test_a_target_workgroups_base_capacity_is_not_reported(serverless: tuple[Any, Stubber], base: int | None) -> None:
    client, stub = serverless
    expect_workgroup(stub, LAKEHOUSE, baseCapacity=base)
    assert check_scaling(client, LAKEHOUSE).status == OK


def test_max_capacity_is_not_compared_when_the_environment_sets_none(serverless: tuple[Any, Stubber]) -> None:
    client, stub = serverless
    config = DEV.model_copy(update={"warehouse": DEV.warehouse.model_copy(update={"max_capacity_rpu": None})})
    expect_workgroup(stub, config, maxCapacity=512)
    result = check_scaling(client, config)
    assert (result.status, result.detail) == (OK, "analytics-dev: base capacity 8 RPU")


# --- mismatch --------------------------------------------------------------------------------------------------


def command(config: EnvironmentConfig, arguments: str) -> str:
    return (f"aws redshift-serverless update-workgroup --region {config.region} --workgroup-name "
            f"{config.warehouse.workgroup_name} {arguments}")


def test_another_base_capacity_fails_with_the_command_that_sets_it_back(serverless: tuple[Any, Stubber]) -> None:
    client, stub = serverless
    expect_workgroup(stub, DEV, baseCapacity=32)
    result = check_scaling(client, DEV)
    assert (result.status, result.detail) == (FAILED, "workgroup analytics-dev: its base capacity is 32 RPU, "
                                                      "configured 8 RPU")
    assert f": {command(DEV, '--base-capacity 8')}; or make warehouse in config/dev.yaml say" in result.fix


def test_a_target_enabled_by_hand_fails_naming_both_steps_back(serverless: tuple[Any, Stubber]) -> None:
    """Disabling the target and setting the base capacity in one UpdateWorkgroup fails
    (hashicorp/terraform-provider-aws#46137), so the fix is two commands, in order."""
    client, stub = serverless
    expect_workgroup(stub, DEV, baseCapacity=-1, pricePerformanceTarget={"status": "ENABLED", "level": 75})
    result = check_scaling(client, DEV)
    assert (result.status, result.detail) == (
        FAILED, "workgroup analytics-dev: it scales to price-performance target 75 (RESOURCEFUL), configured a base "
                "capacity of 8 RPU")
    assert (f"{command(DEV, '--price-performance-target status=DISABLED')}, then "
            f"{command(DEV, '--base-capacity 8')};") in result.fix


def test_another_level_fails(serverless: tuple[Any, Stubber]) -> None:
    client, stub = serverless
    expect_workgroup(stub, LAKEHOUSE, pricePerformanceTarget={"status": "ENABLED", "level": 1})
    result = check_scaling(client, LAKEHOUSE)
    assert (result.status, result.detail) == (
        FAILED, "workgroup lakehouse-wg: it scales with price-performance target 1 (LOW_COST), configured "
                "price-performance target 50 (BALANCED)")
    assert command(LAKEHOUSE, "--price-performance-target status=ENABLED,level=50") in result.fix


def test_a_target_disabled_by_hand_fails_naming_the_fixed_capacity(serverless: tuple[Any, Stubber]) -> None:
    client, stub = serverless
    expect_workgroup(stub, LAKEHOUSE, baseCapacity=128, pricePerformanceTarget={"status": "DISABLED", "level": 50})
    result = check_scaling(client, LAKEHOUSE)
    assert (result.status, result.detail) == (
        FAILED, "workgroup lakehouse-wg: it scales with a fixed base capacity of 128 RPU (price-performance target "
                "DISABLED), configured price-performance target 50 (BALANCED)")


def test_every_difference_is_listed_with_every_command(serverless: tuple[Any, Stubber]) -> None:
    client, stub = serverless
    expect_workgroup(stub, LAKEHOUSE, pricePerformanceTarget={"status": "ENABLED", "level": 100}, maxCapacity=None)
    result = check_scaling(client, LAKEHOUSE)
    assert result.detail == ("workgroup lakehouse-wg: it scales with price-performance target 100 "
                             "(HIGH_PERFORMANCE), configured price-performance target 50 (BALANCED); its max "
                             "capacity is none, configured 64 RPU")
    assert (f"{command(LAKEHOUSE, '--price-performance-target status=ENABLED,level=50')}, then "
            f"{command(LAKEHOUSE, '--max-capacity 64')};") in result.fix


# --- no workgroup, no permission -----------------------------------------------------------------------------


def test_a_missing_workgroup_fails_naming_the_stack(serverless: tuple[Any, Stubber]) -> None:
    client, stub = serverless
    stub.add_client_error("get_workgroup", "ResourceNotFoundException", "Workgroup not found",
                          expected_params={"workgroupName": "analytics-dev"})
    result = check_scaling(client, DEV)
    assert (result.status, result.detail) == (FAILED, "GetWorkgroup in us-east-1 finds no workgroup analytics-dev")
    assert result.fix.startswith("deploy the DevWarehouse stack")


def test_a_denial_names_the_permission(serverless: tuple[Any, Stubber]) -> None:
    client, stub = serverless
    stub.add_client_error("get_workgroup", "AccessDeniedException", "not authorized")
    result = check_scaling(client, DEV)
    assert (result.status, result.detail) == (FAILED, "GetWorkgroup was denied (AccessDeniedException)")
    assert result.fix.startswith("allow redshift-serverless:GetWorkgroup on workgroup analytics-dev")

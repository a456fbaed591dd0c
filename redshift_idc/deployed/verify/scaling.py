"""The workgroup's scaling as configured: a fixed base capacity or a price-performance target, and the max
capacity. CloudFormation's drift detection compares only what the template sets, and someone can switch a
workgroup between the two modes in the console; this reads the workgroup back (GetWorkgroup) instead.

A workgroup reports more than it was given, and those extras are AWS's defaults, not differences: one with
a base capacity reports a price-performance target with status DISABLED (and some level, or 0); one scaling
to a target reports a base capacity (a number, or -1, the sentinel of target-managed capacity; drift tools
had to learn both, go-to-k/cdk-real-drift#1489). Only the setting the environment chose is compared, and the
max capacity only when the environment sets one.
"""

from __future__ import annotations

from typing import Any

from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.config.warehouse import PRICE_PERFORMANCE_LEVELS
from redshift_idc.deployed.verify.aws_calls import call
from redshift_idc.deployed.verify.results import FAILED, OK, CheckError, CheckResult, check

SCALING = "workgroup scaling as configured"


def _target(level: int) -> str:
    return f"price-performance target {level} ({PRICE_PERFORMANCE_LEVELS.get(level, 'not a documented level')})"


def _rpu(value: Any) -> str:
    return f"{value} RPU" if isinstance(value, int) and value > 0 else "none"


@check(SCALING)
def check_scaling(redshift_serverless: Any, config: EnvironmentConfig) -> CheckResult:
    """GetWorkgroup's base capacity, price-performance target and max capacity against `warehouse`."""
    warehouse = config.warehouse
    name = warehouse.workgroup_name
    response = call(redshift_serverless, "get_workgroup", f"workgroup {name}", absent=("ResourceNotFoundException",),
                    workgroupName=name)
    if response is None:
        raise CheckError(f"GetWorkgroup in {config.region} finds no workgroup {name}",
                         f"deploy the {config.stack_prefix}Warehouse stack, or correct warehouse.workgroup_name in "
                         f"config/{config.name}.yaml")
    workgroup = response.get("workgroup") or {}
    target = workgroup.get("pricePerformanceTarget") or {}
    enabled = target.get("status") == "ENABLED"
    live_level = target.get("level")
    live_base = workgroup.get("baseCapacity")
    problems: list[str] = []
    updates: list[str] = []  # update-workgroup arguments that set it back, in the order AWS takes them
    level = warehouse.price_performance_target
    if level is not None:
        if not enabled or live_level != level:
            status = target.get("status") or "not reported"
            scaling = _target(int(live_level or 0)) if enabled else (
                f"a fixed base capacity of {_rpu(live_base)} (price-performance target {status})")
            problems.append(f"it scales with {scaling}, configured {_target(level)}")
            updates.append(f"--price-performance-target status=ENABLED,level={level}")
    elif enabled:
        problems.append(f"it scales to {_target(int(live_level or 0))}, configured a base capacity of "
                        f"{_rpu(warehouse.base_capacity_rpu)}")
        # Disabling the target and setting a base capacity in one call fails (the Terraform provider had to
        # order the two: hashicorp/terraform-provider-aws#46137).
        updates += ["--price-performance-target status=DISABLED", f"--base-capacity {warehouse.base_capacity_rpu}"]
    elif live_base != warehouse.base_capacity_rpu:
        problems.append(f"its base capacity is {_rpu(live_base)}, configured {_rpu(warehouse.base_capacity_rpu)}")
        updates.append(f"--base-capacity {warehouse.base_capacity_rpu}")
    live_max = workgroup.get("maxCapacity")
    if warehouse.max_capacity_rpu is not None and live_max != warehouse.max_capacity_rpu:
        problems.append(f"its max capacity is {_rpu(live_max)}, configured {_rpu(warehouse.max_capacity_rpu)}")
        updates.append(f"--max-capacity {warehouse.max_capacity_rpu}")
    if problems:
        commands = ", then ".join(f"aws redshift-serverless update-workgroup --region {config.region} "
                                  f"--workgroup-name {name} {update}" for update in updates)
        return CheckResult(SCALING, FAILED, f"workgroup {name}: {'; '.join(problems)}",
                           f"it was changed outside CloudFormation, and a deploy that changes nothing in the template "
                           f"does not set it back: {commands}; or make warehouse in config/{config.name}.yaml say "
                           "what it should be and deploy")
    scaling = _target(level) if level is not None else f"base capacity {_rpu(warehouse.base_capacity_rpu)}"
    ceiling = f", max capacity {_rpu(warehouse.max_capacity_rpu)}" if warehouse.max_capacity_rpu is not None else ""
    return CheckResult(SCALING, OK, f"{name}: {scaling}{ceiling}")

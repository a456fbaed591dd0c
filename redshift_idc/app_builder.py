"""Builds the CDK app for one environment; `app.py` and the tests share it, so tests check what ships."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from components.serverless_nag_rules import RedshiftServerlessChecks
from redshift_idc.access_model import load_model
from redshift_idc.config import EnvironmentConfig
from stacks.access_stack import AccessStack
from stacks.identity_stack import IdentityStack
from stacks.warehouse_stack import WarehouseStack

DEFAULT_ENVIRONMENT = "demo"

# Feature flags live here rather than in cdk.json so in-process test synths use the same ones.
FEATURE_FLAGS: dict[str, Any] = {
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/core:checkSecretUsage": True,
    "@aws-cdk/core:enablePartitionLiterals": True,
    "@aws-cdk/aws-kms:aliasNameRef": True,
    "@aws-cdk/core:target-partitions": ["aws"],
}


def new_app(*, outdir: str | None = None, context: dict[str, Any] | None = None) -> cdk.App:
    return cdk.App(outdir=outdir, context={**FEATURE_FLAGS, **(context or {})})


def add_environment(app: cdk.App, config: EnvironmentConfig, *, nag: bool = True) -> dict[str, cdk.Stack]:
    """Add every stack of one environment, and the rule packs that must pass before it deploys."""
    warehouse = WarehouseStack(app, f"{config.stack_prefix}Warehouse", config=config)
    stacks: dict[str, cdk.Stack] = {"warehouse": warehouse}
    if config.identity_propagation is not None:
        stacks["identity"] = IdentityStack(app, f"{config.stack_prefix}Identity", config=config,
                                           propagation=config.identity_propagation, warehouse=warehouse)
    if config.access_model is not None:
        model, desired = load_model(config.access_model, config)
        stacks["access"] = AccessStack(app, f"{config.stack_prefix}Access", config=config, warehouse=warehouse,
                                       model=model, desired=desired)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), RedshiftServerlessChecks(app))
    return stacks

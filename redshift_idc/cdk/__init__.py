"""The CDK side: stacks and constructs that deploy an environment, installable with `pip install ".[cdk]"`.

The documented entry point for a user's own CDK app (README, "Use it in your own CDK app")::

    from redshift_idc.cdk import RedshiftIdcEnvironment
    RedshiftIdcEnvironment.from_yaml(app, "Prod", "config/prod.yaml")

The names below are imported when first used, not with the package: the CLI imports
`redshift_idc.cdk.deployer_policy`, and loading aws-cdk-lib (a Node.js process) would slow every command.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redshift_idc.cdk.app import NAG_PACKS, add_rule_packs
    from redshift_idc.cdk.components.access_reconciler import AccessReconciler, UserDeprovisioning
    from redshift_idc.cdk.components.idc_application import RedshiftIdcApplication
    from redshift_idc.cdk.components.identity_propagation import IdentityPropagation
    from redshift_idc.cdk.components.serverless_warehouse import ServerlessWarehouse
    from redshift_idc.cdk.environment import RedshiftIdcEnvironment
    from redshift_idc.cdk.stacks.access_stack import AccessStack
    from redshift_idc.cdk.stacks.connections_stack import ConnectionsStack
    from redshift_idc.cdk.stacks.identity_stack import IdentityStack
    from redshift_idc.cdk.stacks.warehouse_stack import WarehouseStack

# The public API: each name and the module that defines it.
PUBLIC: dict[str, str] = {
    "RedshiftIdcEnvironment": "redshift_idc.cdk.environment",  # one environment's stacks, from config or YAML
    "add_rule_packs": "redshift_idc.cdk.app",  # AwsSolutions + our Redshift Serverless pack (+ NIST by context)
    "NAG_PACKS": "redshift_idc.cdk.app",  # the optional packs `-c nag=...` names
    # The single stacks RedshiftIdcEnvironment composes.
    "WarehouseStack": "redshift_idc.cdk.stacks.warehouse_stack",
    "IdentityStack": "redshift_idc.cdk.stacks.identity_stack",
    "ConnectionsStack": "redshift_idc.cdk.stacks.connections_stack",
    "AccessStack": "redshift_idc.cdk.stacks.access_stack",
    # The constructs those stacks hold.
    "ServerlessWarehouse": "redshift_idc.cdk.components.serverless_warehouse",
    "RedshiftIdcApplication": "redshift_idc.cdk.components.idc_application",
    "IdentityPropagation": "redshift_idc.cdk.components.identity_propagation",
    "AccessReconciler": "redshift_idc.cdk.components.access_reconciler",
    "UserDeprovisioning": "redshift_idc.cdk.components.access_reconciler",
}

__all__ = [
    "NAG_PACKS",
    "AccessReconciler",
    "AccessStack",
    "ConnectionsStack",
    "IdentityPropagation",
    "IdentityStack",
    "RedshiftIdcApplication",
    "RedshiftIdcEnvironment",
    "ServerlessWarehouse",
    "UserDeprovisioning",
    "WarehouseStack",
    "add_rule_packs",
]


def __getattr__(name: str) -> object:
    """`from redshift_idc.cdk import X`: import X's module on first use (PEP 562)."""
    module = PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'redshift_idc.cdk' has no attribute '{name}'")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value

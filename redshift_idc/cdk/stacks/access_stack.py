"""Access-model stack: the reconcile custom resource that converges roles, grants, RLS and masking."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Environment, Stack, Stage, Tags
from constructs import Construct

from redshift_idc.access.checked import CheckedModel
from redshift_idc.access.preview.inputs import write_inputs
from redshift_idc.cdk.components.access_reconciler import AccessReconciler, UserDeprovisioning
from redshift_idc.cdk.stacks.warehouse_stack import WarehouseStack
from redshift_idc.config.environment import EnvironmentConfig


class AccessStack(Stack):
    """Kept apart from the warehouse so an access-model change deploys (and rolls back) on its own."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, warehouse: WarehouseStack,
                 checked: CheckedModel, stack_name: str | None = None) -> None:
        model = checked.model
        super().__init__(scope, construct_id, stack_name=stack_name,
                         env=Environment(account=config.account, region=config.region),
                         description=f"Access model {model.name} applied to {config.warehouse.workgroup_name} "
                                     f"({config.name})")
        settings = checked.deprovision
        app = config.redshift_idc_application
        deprovision = UserDeprovisioning(
            settings=settings, identity_store_id=config.identity_center.identity_store_id,
            identity_store_arn=self.format_arn(service="identitystore", region="", resource="identitystore",
                                               resource_name=config.identity_center.identity_store_id),
            partition=config.identity_center.partition,
            groups=tuple((g.display_name, g.group_id) for g in app.groups),
            users=tuple((u.user_name, u.user_id) for u in app.users),
        ) if settings is not None else None
        reconciler = AccessReconciler(
            self, "AccessModel", model_name=model.name, desired=checked.desired, scripts=checked.scripts,
            prune=model.prune, ledger_schema=model.ledger_schema, removal_policy=model.removal_policy,
            workgroup_name=config.warehouse.workgroup_name,
            workgroup_arn=warehouse.workgroup.attr_workgroup_workgroup_arn,
            namespace_name=config.warehouse.namespace_name,
            namespace_arn=warehouse.namespace.attr_namespace_namespace_arn,
            database=config.warehouse.database_name, admin_secret_arn=warehouse.admin_secret_arn,
            key=warehouse.key, log_retention=warehouse.log_retention,
            identity_provider_drop_cascade=model.identity_provider_drop_cascade,
            coalesce_statements=model.coalesce_statements, deprovision=deprovision,
            prune_scope=checked.scope, role_quota=config.warehouse.role_quota,
        )
        # Beside the template, not an asset (nothing deploys it): `make review` evaluates both branches' rules
        # on these personas and sample rows.
        stage = Stage.of(self)
        if stage is not None:
            write_inputs(Path(stage.outdir), self.artifact_id, checked.inputs)
        for name, value in sorted(config.tags.items()):
            Tags.of(self).add(name, value)
        CfnOutput(self, "AccessModelName", value=model.name)
        CfnOutput(self, "AccessModelHash", value=reconciler.model_asset.asset_hash,
                  description="Hash of the compiled model the last deploy applied")

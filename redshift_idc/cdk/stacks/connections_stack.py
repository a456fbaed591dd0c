"""Connections stack: ways for people to reach the warehouse that live outside it (Query Editor v2 through an
IdC permission set, IAM federation for tools without IdC). Separate from the warehouse stack so that turning a
path on or off never updates the warehouse, and deployed only when an environment uses one of them."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack, Tags
from constructs import Construct

from redshift_idc.cdk.components.deploy_lookups import DeployLookups
from redshift_idc.cdk.components.iam_federation import IamFederation
from redshift_idc.cdk.components.query_editor_v2 import QueryEditorV2
from redshift_idc.cdk.stacks.warehouse_stack import WarehouseStack
from redshift_idc.config.connections import QueryEditorV2Config
from redshift_idc.config.environment import EnvironmentConfig


class ConnectionsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig,
                 warehouse: WarehouseStack, stack_name: str | None = None) -> None:
        super().__init__(scope, construct_id, stack_name=stack_name,
                         env=Environment(account=config.account, region=config.region),
                         description=f"Ways to connect: Query Editor v2 SSO and IAM federation ({config.name})")
        workgroup_arn = warehouse.workgroup.attr_workgroup_workgroup_arn
        if config.query_editor_v2 is not None:
            qev2 = QueryEditorV2(
                self, "QueryEditorV2", config=config.query_editor_v2, identity_center=config.identity_center,
                account=config.account, region=config.region, workgroup_arn=workgroup_arn,
                namespace_arn=warehouse.namespace.attr_namespace_namespace_arn,
                redshift_idc_managed_app_arn=warehouse.idc_managed_application_arn,
                group_ids=self._group_ids(config, config.query_editor_v2, warehouse),
            )
            CfnOutput(self, "QueryEditorV2PermissionSetArn", value=qev2.permission_set.attr_permission_set_arn)
            CfnOutput(self, "QueryEditorV2Url", value=qev2.relay_state,
                      description="where the access portal sends users of the permission set")
            if qev2.application is not None:
                CfnOutput(self, "QueryEditorV2IdcApplicationArn", value=qev2.application.attr_qev2_idc_application_arn)
        if config.iam_federation is not None:
            federation = IamFederation(self, "IamFederation", config=config.iam_federation,
                                       workgroup_arn=workgroup_arn, partition=config.identity_center.partition)
            CfnOutput(self, "FederationRoleArn", value=federation.role.role_arn,
                      description="the role tools assume (preferred_role / role_arn) before GetCredentials")
            CfnOutput(self, "FederationProviderArn", value=federation.provider_arn)
        for name, value in sorted(config.tags.items()):
            Tags.of(self).add(name, value)

    def _group_ids(self, config: EnvironmentConfig, qev2: QueryEditorV2Config,
                   warehouse: WarehouseStack) -> dict[str, str]:
        """Ids from the QEv2 section, else from the same group in the Redshift IdC application's section, else
        looked up by display name at deploy time (a name that does not exist fails the deploy, naming it)."""
        known = {g.display_name.lower(): g.group_id for g in config.redshift_idc_application.groups if g.group_id}
        ids = {g.display_name: g.group_id or known.get(g.display_name.lower()) for g in qev2.groups}
        unresolved = [name for name, group_id in ids.items() if group_id is None]
        resolved = {name: group_id for name, group_id in ids.items() if group_id is not None}
        if unresolved:
            lookups = DeployLookups(self, "DeployLookups", key=warehouse.key, log_retention=warehouse.log_retention)
            resolved.update(lookups.group_ids(
                identity_store_arn=self.format_arn(service="identitystore", region="", resource="identitystore",
                                                   resource_name=config.identity_center.identity_store_id),
                identity_store_id=config.identity_center.identity_store_id,
                partition=config.identity_center.partition, group_names=unresolved,
            ))
        return resolved

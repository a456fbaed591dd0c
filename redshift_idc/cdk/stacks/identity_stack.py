"""Identity-propagation stack: what lets an application call the Data API as its signed-in user."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack, Tags
from constructs import Construct

from redshift_idc.cdk.components.deploy_lookups import DeployLookups
from redshift_idc.cdk.components.identity_propagation import IdentityPropagation
from redshift_idc.cdk.stacks.warehouse_stack import WarehouseStack
from redshift_idc.config.connections import IdentityPropagationConfig
from redshift_idc.config.environment import EnvironmentConfig


class IdentityStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig,
                 propagation: IdentityPropagationConfig, warehouse: WarehouseStack,
                 stack_name: str | None = None) -> None:
        super().__init__(scope, construct_id, stack_name=stack_name,
                         env=Environment(account=config.account, region=config.region),
                         description=f"Trusted identity propagation for Redshift Data API clients ({config.name})")
        unresolved = [g.display_name for g in propagation.assigned_groups if g.group_id is None]
        group_ids: dict[str, str] = {}
        if unresolved:
            lookups = DeployLookups(self, "DeployLookups", key=warehouse.key, log_retention=warehouse.log_retention)
            group_ids = lookups.group_ids(
                identity_store_arn=self.format_arn(service="identitystore", region="", resource="identitystore",
                                                   resource_name=config.identity_center.identity_store_id),
                identity_store_id=config.identity_center.identity_store_id,
                partition=config.identity_center.partition, group_names=unresolved,
            )
        tip = IdentityPropagation(
            self, "Propagation", config=propagation, identity_center=config.identity_center,
            workgroup_arn=warehouse.workgroup.attr_workgroup_workgroup_arn,
            redshift_idc_managed_app_arn=warehouse.idc_managed_application_arn, group_ids=group_ids,
            key=warehouse.key, log_retention=warehouse.log_retention,
        )
        for name, value in sorted(config.tags.items()):
            Tags.of(self).add(name, value)
        CfnOutput(self, "BridgeRoleArn", value=tip.bridge_role.role_arn)
        CfnOutput(self, "ClientRoleArn", value=tip.client_role.role_arn)
        CfnOutput(self, "OAuthApplicationArn", value=tip.application.attr_application_arn,
                  description="clientId for CreateTokenWithIAM")
        CfnOutput(self, "OidcProviderArn", value=tip.oidc_provider.attr_arn)
        CfnOutput(self, "TrustedTokenIssuerArn", value=tip.trusted_token_issuer_arn)
        CfnOutput(self, "Region", value=config.region)
        self.propagation = tip

"""Verifier stack, deployed only by the delivery pipeline: the read-only role its verify step assumes in the
environment's account (see redshift_idc/cdk/components/verifier_role.py).
It only wires the other stacks' ARNs into the role."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack, Tags
from constructs import Construct

from redshift_idc.cdk.components.trusted_token_issuers import TrustedTokenIssuers
from redshift_idc.cdk.components.verifier_role import VerifierRole, fixed_role_name, role_arn
from redshift_idc.cdk.stacks.identity_stack import IdentityStack
from redshift_idc.cdk.stacks.warehouse_stack import WarehouseStack
from redshift_idc.config.environment import EnvironmentConfig


class VerifierStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, warehouse: WarehouseStack,
                 identity: IdentityStack | None, trusted_role_arn: str) -> None:
        super().__init__(scope, construct_id, env=Environment(account=config.account, region=config.region),
                         description=f"Read-only role for the delivery pipeline's verify step ({config.name})")
        # The third-party issuers' ARNs, in config order: the warehouse stack creates them.
        issuers = warehouse.node.try_find_child("TrustedTokenIssuers")
        issuer_arns = list(issuers.issuer_arns.values()) if isinstance(issuers, TrustedTokenIssuers) else []
        oauth = None
        if identity is not None:
            issuer_arns.append(identity.propagation.trusted_token_issuer_arn)
            oauth = identity.propagation.application.attr_application_arn
        self.role_name = fixed_role_name(self.stack_name, "Role")
        self.role_arn = role_arn(config.identity_center.partition, config.account, self.role_name)
        verifier = VerifierRole(
            self, "Verifier", config=config, role_name=self.role_name, trusted_role_arn=trusted_role_arn,
            workgroup_arn=warehouse.workgroup.attr_workgroup_workgroup_arn,
            admin_secret_arn=warehouse.admin_secret_arn, key=warehouse.key,
            managed_application_arn=warehouse.idc_managed_application_arn,
            trusted_token_issuer_arns=issuer_arns, oauth_application_arn=oauth,
            namespace_arn=warehouse.namespace.attr_namespace_namespace_arn,
        )
        for name, value in sorted(config.tags.items()):
            Tags.of(self).add(name, value)
        CfnOutput(self, "VerifierRoleArn", value=verifier.role.role_arn)

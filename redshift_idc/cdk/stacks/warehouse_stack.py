"""Warehouse stack: key, network, Redshift IdC application, namespace and workgroup."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack, Tags
from constructs import Construct

from redshift_idc.cdk.components.default_iam_role import NamespaceDefaultRole
from redshift_idc.cdk.components.deploy_lookups import DeployLookups
from redshift_idc.cdk.components.encryption import WarehouseKey
from redshift_idc.cdk.components.idc_application import RedshiftIdcApplication
from redshift_idc.cdk.components.lakehouse_registration import LakehouseRegistration
from redshift_idc.cdk.components.log_retention import retention_days
from redshift_idc.cdk.components.network import WarehouseNetwork
from redshift_idc.cdk.components.serverless_warehouse import ServerlessWarehouse
from redshift_idc.cdk.components.trusted_token_issuers import TrustedTokenIssuers
from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.config.federated_permissions import propagation_on


class WarehouseStack(Stack):
    """Everything the warehouse needs to exist and to trust IAM Identity Center."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig,
                 stack_name: str | None = None) -> None:
        # Zones come from config: the default implementation would ask AWS (a context lookup), and
        # synth must work without credentials.
        self._zones = list(config.availability_zones)
        super().__init__(
            scope,
            construct_id,
            stack_name=stack_name,
            env=Environment(account=config.account, region=config.region),
            description=f"Redshift Serverless warehouse with IAM Identity Center ({config.name})",
        )
        retention = retention_days(config.warehouse.log_retention_days)
        key = WarehouseKey(self, "Encryption", alias=f"alias/redshift-idc/{config.name}").key
        network = WarehouseNetwork(self, "Network", config=config, key=key, log_retention=retention)
        lookups = DeployLookups(self, "DeployLookups", key=key, log_retention=retention)

        application = config.redshift_idc_application
        identity_store_arn = self.format_arn(
            service="identitystore", region="", resource="identitystore",
            resource_name=config.identity_center.identity_store_id,
        )
        group_ids = {g.display_name: g.group_id for g in application.groups if g.group_id is not None}
        unresolved = [g.display_name for g in application.groups if g.group_id is None]
        if unresolved:
            group_ids.update(lookups.group_ids(
                identity_store_arn=identity_store_arn,
                identity_store_id=config.identity_center.identity_store_id,
                partition=config.identity_center.partition,
                group_names=unresolved,
            ))
        user_ids = {u.user_name: u.user_id for u in application.users if u.user_id is not None}
        unresolved_users = [u.user_name for u in application.users if u.user_id is None]
        if unresolved_users:
            user_ids.update(lookups.user_ids(
                identity_store_arn=identity_store_arn, identity_store_id=config.identity_center.identity_store_id,
                partition=config.identity_center.partition, user_names=unresolved_users,
            ))
        # Third-party clients' issuers exist before the application that authorizes them (seed 000).
        issuers = (TrustedTokenIssuers(self, "TrustedTokenIssuers", issuers=application.trusted_token_issuers,
                                       identity_center=config.identity_center, key=key, log_retention=retention)
                   if application.trusted_token_issuers else None)
        idc = RedshiftIdcApplication(self, "IdcApplication", identity_center=config.identity_center,
                                     application=application, group_ids=group_ids, user_ids=user_ids,
                                     authorized_token_issuers=issuers.authorized_token_issuers if issuers else (),
                                     query_editor_v2=config.query_editor_v2 is not None)
        default_role = (NamespaceDefaultRole(self, "DefaultIamRole", config=config.warehouse.default_iam_role,
                                             partition=config.identity_center.partition)
                        if config.warehouse.default_iam_role is not None else None)
        warehouse = ServerlessWarehouse(
            self, "Warehouse", config=config.warehouse, key=key, idc_application_arn=idc.arn,
            subnet_ids=network.subnet_ids, security_group_ids=network.security_group_ids,
            default_iam_role_arn=default_role.arn if default_role is not None else None,
        )
        secret_arn = lookups.namespace_admin_secret_arn(
            namespace_name=config.warehouse.namespace_name,
            namespace_arn=warehouse.namespace.attr_namespace_namespace_arn,
            depends_on=warehouse.namespace,
        )
        federated = config.warehouse.federated_permissions
        registration = (LakehouseRegistration(
            self, "LakehouseRegistration", config=federated, namespace_name=config.warehouse.namespace_name,
            namespace_arn=warehouse.namespace.attr_namespace_namespace_arn, idc_application_arn=idc.arn,
            propagation=propagation_on(federated, application.application_type), key=key, log_retention=retention,
        ) if federated is not None else None)
        if registration is not None:
            registration.node.add_dependency(warehouse.namespace, idc.application)

        for name, value in sorted(config.tags.items()):
            Tags.of(self).add(name, value)

        CfnOutput(self, "WorkgroupName", value=config.warehouse.workgroup_name)
        CfnOutput(self, "NamespaceName", value=config.warehouse.namespace_name)
        CfnOutput(self, "DatabaseName", value=config.warehouse.database_name)
        CfnOutput(self, "RedshiftIdcApplicationArn", value=idc.arn)
        CfnOutput(self, "IdcManagedApplicationArn", value=idc.application.attr_idc_managed_application_arn)
        if default_role is not None:
            CfnOutput(self, "DefaultIamRoleArn", value=default_role.arn,
                      description="The namespace's default IAM role (COPY ... IAM_ROLE default)")
        if registration is not None:
            CfnOutput(self, "FederatedPermissionsCatalogArn", value=registration.catalog_arn,
                      description="The Glue Data Catalog the namespace is registered under (federated permissions)")
        CfnOutput(self, "AdminSecretArn", value=secret_arn,
                  description="ARN of the Redshift-managed admin secret (never its value)")
        self.workgroup = warehouse.workgroup
        self.namespace = warehouse.namespace
        self.key = key
        self.admin_secret_arn = secret_arn
        self.log_retention = retention
        self.idc_managed_application_arn = idc.application.attr_idc_managed_application_arn

    @property
    def availability_zones(self) -> list[str]:
        return self._zones

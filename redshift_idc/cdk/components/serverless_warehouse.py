"""Redshift Serverless namespace and workgroup, secure by construction."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_kms as kms
from aws_cdk import aws_redshiftserverless as rss
from constructs import Construct

from redshift_idc.config.warehouse import WarehouseConfig

LOG_EXPORTS = ("connectionlog", "useractivitylog", "userlog")
CONFIG_PARAMETERS = {"enable_user_activity_logging": "true", "require_ssl": "true"}
ADMIN_USERNAME = "admin"


class ServerlessWarehouse(Construct):
    """The namespace (data, encrypted with our key; admin password only in Secrets Manager) and the
    workgroup (private, TLS only, every query logged, enhanced VPC routing off because trusted
    identity propagation does not support it)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: WarehouseConfig, key: kms.IKey,
                 idc_application_arn: str, subnet_ids: Sequence[str], security_group_ids: Sequence[str],
                 default_iam_role_arn: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.namespace = rss.CfnNamespace(
            self,
            "Namespace",
            namespace_name=config.namespace_name,
            db_name=config.database_name,
            admin_username=ADMIN_USERNAME,
            manage_admin_password=True,
            admin_password_secret_kms_key_id=key.key_arn,
            kms_key_id=key.key_arn,
            log_exports=list(LOG_EXPORTS),
            redshift_idc_application_arn=idc_application_arn,
            # `COPY ... IAM_ROLE default` (seed 002): the role must also be one of the namespace's roles.
            iam_roles=[default_iam_role_arn] if default_iam_role_arn else None,
            default_iam_role_arn=default_iam_role_arn,
        )
        self.workgroup = rss.CfnWorkgroup(
            self,
            "Workgroup",
            workgroup_name=config.workgroup_name,
            namespace_name=config.namespace_name,
            # A price-performance target replaces the base capacity (AWS takes one or the other); the max
            # capacity stays the ceiling in both cases.
            base_capacity=config.base_capacity_rpu,
            price_performance_target=None if config.price_performance_target is None else (
                rss.CfnWorkgroup.PerformanceTargetProperty(status="ENABLED", level=config.price_performance_target)),
            max_capacity=config.max_capacity_rpu,
            port=config.port,
            publicly_accessible=False,
            enhanced_vpc_routing=False,
            subnet_ids=list(subnet_ids),
            security_group_ids=list(security_group_ids),
            config_parameters=[
                rss.CfnWorkgroup.ConfigParameterProperty(parameter_key=k, parameter_value=v)
                for k, v in sorted(CONFIG_PARAMETERS.items())
            ],
        )
        self.workgroup.add_resource_dependency(self.namespace)

"""The namespace's Lakehouse registration (Redshift federated permissions), which CloudFormation has no property for:
a custom resource behind `redshift_idc/cdk/handlers/lakehouse_registration` (the runtime's docstring says what it
calls and when), polled by the Provider framework until the namespace reports the registration."""

from __future__ import annotations

from aws_cdk import CustomResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from redshift_idc.cdk.components.handler_provider import Polling, handler_provider
from redshift_idc.config.federated_permissions import FederatedPermissionsConfig
from redshift_idc.runtime.lakehouse_registration import RESOURCE_TYPE, WAIT_SECONDS

# federated-permissions-prereqs, "For Redshift Serverless warehouse to enable Redshift federated permissions", and
# the GetNamespace the wait reads; all on the one namespace.
NAMESPACE_ACTIONS = ("redshift-serverless:UpdateLakehouseConfiguration", "redshift-serverless:GetNamespace",
                     "redshift:RegisterNamespace")
# The same page, "For AWS Glue Data Catalog integration to create a catalog": the account's root catalog (where
# the catalog is created) and the registration's own catalog.
CATALOG_ACTIONS = ("glue:CreateCatalog", "glue:GetCatalog")
# The handler gives up (naming the status) after WAIT_SECONDS; the waiter's budget leaves room for that last call.
POLLING = Polling(is_complete_timeout=60, query_interval=30, total_timeout=WAIT_SECONDS + 5 * 60, on_event_timeout=120)


class LakehouseRegistration(Construct):
    """Registers `namespace_name` with federated permissions under `config.catalog_name`, associating
    `idc_application_arn` when `propagation` is on; deregisters on delete."""

    def __init__(self, scope: Construct, construct_id: str, *, config: FederatedPermissionsConfig,
                 namespace_name: str, namespace_arn: str, idc_application_arn: str, propagation: bool,
                 key: kms.IKey, log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        handler = handler_provider(self, handler="lakehouse_registration", key=key, log_retention=log_retention,
                                   description=f"Registers namespace {namespace_name} with federated permissions",
                                   on_event_id="OnEvent", is_complete_id="IsComplete", polling=POLLING)
        handler.role.add_to_policy(iam.PolicyStatement(actions=list(NAMESPACE_ACTIONS), resources=[namespace_arn]))
        handler.role.add_to_policy(iam.PolicyStatement(actions=list(CATALOG_ACTIONS), resources=[
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="catalog", resource_name=config.catalog_name),
        ]))
        properties: dict[str, str] = {"NamespaceName": namespace_name, "CatalogName": config.catalog_name,
                                      "IdentityPropagation": "true" if propagation else "false"}
        if propagation:
            properties["IdcApplicationArn"] = idc_application_arn
        self.resource = CustomResource(self, "Resource", service_token=handler.service_token,
                                       resource_type=RESOURCE_TYPE, properties=properties)
        self.catalog_arn = self.resource.get_att_string("CatalogArn")

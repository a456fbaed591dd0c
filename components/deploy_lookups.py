"""Deploy-time lookups (IdC group ids, the namespace's admin secret ARN) behind one Lambda."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from components.lambda_asset import LAMBDA_RUNTIME, handler_code
from components.nag import acknowledge, acknowledge_provider_framework
from redshift_idc.runtime.lookups import KIND_GROUP_IDS, KIND_NAMESPACE_SECRET


def group_attribute_key(display_name: str) -> str:
    """A `Fn::GetAtt` name for a group: readable, unique (hash of the case-folded name), stable."""
    readable = re.sub(r"[^A-Za-z0-9]", "", display_name)[:24]
    digest = hashlib.sha256(display_name.lower().encode("utf-8")).hexdigest()[:8]
    return f"Group{readable}{digest}"


class DeployLookups(Construct):
    """One read-only Lambda behind the Provider framework; each lookup is a custom resource.

    The Provider framework posts responses to CloudFormation for us (no hand-written cfnresponse).
    The handler's permissions are added per lookup, on the exact ARNs that lookup reads.
    """

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey,
                 log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)
        log_group = logs.LogGroup(self, "Logs", encryption_key=key, retention=log_retention,
                                  removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Deploy-time lookups: reads IdC group ids and the namespace admin secret ARN",
        )
        log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=LAMBDA_RUNTIME,
            handler="index.on_event",
            code=handler_code("deploy_lookups"),
            role=self.role,
            timeout=Duration.minutes(2),
            memory_size=256,
            log_group=log_group,
            description="Read-only deploy-time lookups for the warehouse stack",
        )
        framework_logs = logs.LogGroup(self, "ProviderLogs", encryption_key=key, retention=log_retention,
                                       removal_policy=RemovalPolicy.DESTROY)
        self.provider = cr.Provider(self, "Provider", on_event_handler=self.function, log_group=framework_logs)
        acknowledge_provider_framework(self.provider)

    def group_ids(self, *, identity_store_arn: str, identity_store_id: str, partition: str,
                  group_names: Sequence[str]) -> dict[str, str]:
        """Resolve display names to ids at deploy time; returns name -> id token."""
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["identitystore:GetGroupId"],
            resources=[identity_store_arn, f"arn:{partition}:identitystore:::group/*"],
        ))
        acknowledge(self.role.node.find_child("DefaultPolicy"),
                    f"AwsSolutions-IAM5[Resource::arn:{partition}:identitystore:::group/*]",
                    "GetGroupId finds a group id from its name: the id, and so the group ARN, is what it looks up.")
        keys = {name: group_attribute_key(name) for name in group_names}
        resource = CustomResource(
            self,
            "IdcGroupIds",
            service_token=self.provider.service_token,
            resource_type="Custom::IdcGroupIds",
            properties={
                "Kind": KIND_GROUP_IDS,
                "IdentityStoreId": identity_store_id,
                "Groups": [{"Key": keys[name], "DisplayName": name} for name in group_names],
            },
        )
        return {name: resource.get_att_string(key) for name, key in keys.items()}

    def namespace_admin_secret_arn(self, *, namespace_name: str, namespace_arn: str,
                                   depends_on: Construct) -> str:
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["redshift-serverless:GetNamespace"], resources=[namespace_arn],
        ))
        resource = CustomResource(
            self,
            "NamespaceAdminSecret",
            service_token=self.provider.service_token,
            resource_type="Custom::NamespaceAdminSecret",
            properties={"Kind": KIND_NAMESPACE_SECRET, "NamespaceName": namespace_name},
        )
        resource.node.add_dependency(depends_on)
        return resource.get_att_string("AdminPasswordSecretArn")


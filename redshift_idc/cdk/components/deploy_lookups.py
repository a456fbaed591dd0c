"""Deploy-time lookups (IdC group ids, the namespace's admin secret ARN) behind one Lambda."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aws_cdk import CustomResource
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from redshift_idc.cdk.components.handler_provider import handler_provider
from redshift_idc.cdk.components.nag import acknowledge
from redshift_idc.runtime.lookups import KIND_GROUP_IDS, KIND_NAMESPACE_SECRET, KIND_USER_IDS


def group_attribute_key(display_name: str, prefix: str = "Group") -> str:
    """A `Fn::GetAtt` name for a group (or, with another prefix, a user): readable, unique (hash of the
    case-folded name), stable."""
    readable = re.sub(r"[^A-Za-z0-9]", "", display_name)[:24]
    digest = hashlib.sha256(display_name.lower().encode("utf-8")).hexdigest()[:8]
    return f"{prefix}{readable}{digest}"


def user_attribute_key(user_name: str) -> str:
    return group_attribute_key(user_name, prefix="User")


@dataclass(frozen=True)
class _PrincipalLookup:
    """What resolving one kind of IdC principal by name needs: the action, the custom resource, its property."""

    noun: str
    action: str
    lookup: str
    construct_id: str
    property: str
    name_key: str
    attribute_key: Callable[[str], str]
    reason: str


_GROUPS = _PrincipalLookup(
    "group", "identitystore:GetGroupId", KIND_GROUP_IDS, "IdcGroupIds", "Groups", "DisplayName", group_attribute_key,
    "GetGroupId finds a group id from its name: the id, and so the group ARN, is what it looks up.")
_USERS = _PrincipalLookup(
    "user", "identitystore:GetUserId", KIND_USER_IDS, "IdcUserIds", "Users", "UserName", user_attribute_key,
    "GetUserId finds a user id from its user name: the id, and so the user ARN, is what it looks up.")


class DeployLookups(Construct):
    """One read-only Lambda behind the Provider framework; each lookup is a custom resource.

    The Provider framework posts responses to CloudFormation for us (no hand-written cfnresponse).
    The handler's permissions are added per lookup, on the exact ARNs that lookup reads.
    """

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey,
                 log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)
        handler = handler_provider(self, handler="deploy_lookups", key=key, log_retention=log_retention,
                                   description="Deploy-time lookups: reads IdC group and user ids and the namespace "
                                               "admin secret ARN")
        self.role = handler.role
        self.function = handler.on_event
        self.provider = handler.provider

    def group_ids(self, *, identity_store_arn: str, identity_store_id: str, partition: str,
                  group_names: Sequence[str]) -> dict[str, str]:
        """Resolve display names to ids at deploy time; returns name -> id token."""
        return self._principal_ids(_GROUPS, identity_store_arn, identity_store_id, partition, group_names)

    def user_ids(self, *, identity_store_arn: str, identity_store_id: str, partition: str,
                 user_names: Sequence[str]) -> dict[str, str]:
        """Resolve user names to ids at deploy time; returns name -> id token."""
        return self._principal_ids(_USERS, identity_store_arn, identity_store_id, partition, user_names)

    def _principal_ids(self, kind: _PrincipalLookup, identity_store_arn: str, identity_store_id: str,
                       partition: str, names: Sequence[str]) -> dict[str, str]:
        self.role.add_to_policy(iam.PolicyStatement(
            actions=[kind.action], resources=[identity_store_arn, f"arn:{partition}:identitystore:::{kind.noun}/*"],
        ))
        acknowledge(self.role.node.find_child("DefaultPolicy"),
                    f"AwsSolutions-IAM5[Resource::arn:{partition}:identitystore:::{kind.noun}/*]",
                    kind.reason)
        keys = {name: kind.attribute_key(name) for name in names}
        resource = CustomResource(
            self,
            kind.construct_id,
            service_token=self.provider.service_token,
            resource_type=f"Custom::{kind.construct_id}",
            properties={
                "Kind": kind.lookup,
                "IdentityStoreId": identity_store_id,
                kind.property: [{"Key": keys[name], kind.name_key: name} for name in names],
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


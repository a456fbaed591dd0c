"""The reconcile custom resource: one resource for the whole access model, whatever its size.

The compiled model travels as an S3 asset (canonical JSON), not as resource properties: a model of
thousands of grants stays far below CloudFormation's template limits and the number of CloudFormation
resources does not grow with it. Its hash is a property, so any change of content is an Update.

Identity provider client secrets stay in Secrets Manager: the model document holds their ARNs only, and
the handler's role may read exactly those secrets (and the admin secret), nothing else.

With `deprovision_users` the handler also reads the identity store (`UserDeprovisioning`): the properties
carry the store's id and the environment's assigned groups and users, and the role gets the identity store
reads that check needs, on this identity store only, and nothing when the option is off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from redshift_idc.cdk.components.handler_provider import Polling, handler_provider
from redshift_idc.cdk.components.lambda_asset import staging_dir
from redshift_idc.cdk.components.nag import acknowledge
from redshift_idc.runtime.access_state import AccessState, identity_provider_secret_arns
from redshift_idc.runtime.limits import (
    HANDLER_MEMORY_MB,
    IS_COMPLETE_TIMEOUT_SECONDS,
    ON_EVENT_TIMEOUT_SECONDS,
    PROVIDER_QUERY_INTERVAL_SECONDS,
    PROVIDER_TOTAL_TIMEOUT_SECONDS,
    SERVICE_TIMEOUT_SECONDS,
)
from redshift_idc.runtime.planning.scope import Scope
from redshift_idc.runtime.reconcile_handler import model_document
from redshift_idc.runtime.reconcile_request import ScriptEntry
from redshift_idc.runtime.users import DeprovisionSettings

# Data API calls that address an existing statement take no resource ARN; IAM scopes them to the
# caller's own statements with this condition key instead.
STATEMENT_ACTIONS = ("redshift-data:DescribeStatement", "redshift-data:GetStatementResult",
                     "redshift-data:CancelStatement")
SUBMIT_ACTIONS = ("redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement")
# The limits of `redshift_idc/runtime/limits.py`, as CDK durations (one source for both sides).
POLLING = Polling(is_complete_timeout=IS_COMPLETE_TIMEOUT_SECONDS, query_interval=PROVIDER_QUERY_INTERVAL_SECONDS,
                  total_timeout=PROVIDER_TOTAL_TIMEOUT_SECONDS, on_event_timeout=ON_EVENT_TIMEOUT_SECONDS)


@dataclass(frozen=True)
class UserDeprovisioning:
    """What the reconciler needs to check users in IAM Identity Center (deprovision_users): the model's
    settings, the identity store, and the groups and users the environment assigns (name, id or None: a
    group without id is looked up by display name at deploy time)."""

    settings: DeprovisionSettings
    identity_store_id: str
    identity_store_arn: str
    partition: str
    groups: tuple[tuple[str, str | None], ...]
    users: tuple[tuple[str, str | None], ...] = ()


class AccessReconciler(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, model_name: str, desired: AccessState,
                 scripts: Sequence[ScriptEntry], prune: bool, ledger_schema: str, removal_policy: str,
                 workgroup_name: str, workgroup_arn: str, namespace_name: str, namespace_arn: str, database: str,
                 admin_secret_arn: str, key: kms.IKey, log_retention: logs.RetentionDays,
                 identity_provider_drop_cascade: bool = False, coalesce_statements: bool = True,
                 deprovision: UserDeprovisioning | None = None,
                 prune_scope: Scope | None = None, role_quota: int | None = None) -> None:
        super().__init__(scope, construct_id)
        document_dir = staging_dir() / f"access-model-{model_name}"
        document_dir.mkdir(parents=True, exist_ok=True)
        (document_dir / "model.json").write_text(
            model_document(desired, scripts, deprovision.settings if deprovision is not None else None,
                           prune_scope if prune else None, role_quota),
            encoding="utf-8")
        self.model_asset = s3_assets.Asset(self, "Model", path=str(document_dir / "model.json"))

        handler = handler_provider(self, handler="reconcile", key=key, log_retention=log_retention,
                                   description=f"Applies access model {model_name} to workgroup {workgroup_name}",
                                   memory_size=HANDLER_MEMORY_MB, on_event_id="OnEvent", is_complete_id="IsComplete",
                                   polling=POLLING)
        self.role = handler.role
        self.provider = handler.provider
        self.role.add_to_policy(iam.PolicyStatement(actions=list(SUBMIT_ACTIONS), resources=[workgroup_arn]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=list(STATEMENT_ACTIONS), resources=["*"],
            conditions={"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
        ))
        # To list the model's running statements (by its name prefix) when a request takes the model from an
        # earlier one, and to find one statement by its exact name (an announced intent; a refused ClientToken).
        self.role.add_to_policy(iam.PolicyStatement(actions=["redshift-data:ListStatements"], resources=["*"]))
        # A Delete asks Redshift Serverless whether the workgroup or its namespace still exists.
        self.role.add_to_policy(iam.PolicyStatement(actions=["redshift-serverless:GetWorkgroup"],
                                                    resources=[workgroup_arn]))
        self.role.add_to_policy(iam.PolicyStatement(actions=["redshift-serverless:GetNamespace"],
                                                    resources=[namespace_arn]))
        # The admin secret, and exactly the identity provider client secrets the model references.
        self.role.add_to_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"],
                                                    resources=[admin_secret_arn,
                                                               *identity_provider_secret_arns(desired)]))
        key.grant_decrypt(self.role)
        # Exactly the model object: CDK's asset.grant_read would allow the whole asset bucket.
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[self.model_asset.bucket.arn_for_objects(self.model_asset.s3_object_key)],
        ))
        if deprovision is not None:
            self._identity_store_reads(deprovision)
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                    "DescribeStatement, GetStatementResult, CancelStatement and ListStatements act on statement "
                    "ids and support no resource ARN; the first three are limited to this role's own statements "
                    "by redshift-data:statement-owner-iam-userid, and ListStatements lists only the caller's.")

        properties: dict[str, Any] = {
            "WorkgroupName": workgroup_name,
            "NamespaceName": namespace_name,
            "Database": database,
            "SecretArn": admin_secret_arn,
            "ModelName": model_name,
            "LedgerSchema": ledger_schema,
            "Prune": prune,
            "CaseSensitive": desired.case_sensitive,
            "RemovalPolicy": removal_policy,
            "ModelBucket": self.model_asset.s3_bucket_name,
            "ModelKey": self.model_asset.s3_object_key,
            "ModelHash": self.model_asset.asset_hash,
        }
        if identity_provider_drop_cascade:  # absent means false: templates of models that do not opt in stay unchanged
            properties["IdentityProviderDropCascade"] = True
        if not coalesce_statements:  # absent means true, likewise
            properties["CoalesceStatements"] = False
        if deprovision is not None:  # likewise absent unless the model opts in
            properties["IdentityStoreId"] = deprovision.identity_store_id
            properties["AssignedGroups"] = [{"DisplayName": name, **({"GroupId": gid} if gid else {})}
                                            for name, gid in deprovision.groups]
            properties["AssignedUsers"] = [{"UserName": name, **({"UserId": uid} if uid else {})}
                                           for name, uid in deprovision.users]
        # CloudFormation's limit, stated: the reconciler's own deadline (limits.APPLY_WINDOW_SECONDS) ends
        # every request before it, and the waiter's total timeout stays below it.
        self.resource = CustomResource(self, "Resource", service_token=self.provider.service_token,
                                       resource_type="Custom::AccessModel", properties=properties,
                                       service_timeout=Duration.seconds(SERVICE_TIMEOUT_SECONDS))

    def _identity_store_reads(self, deprovision: UserDeprovisioning) -> None:
        """What `users.IdcDirectory` calls, on this identity store: GetUserId and ListUsers (a user by name, any
        case), ListGroupMembershipsForMember (the user's groups) and, for assigned groups config gives no id,
        GetGroupId. Users, groups and memberships are found by the very ids that would name their ARNs."""
        partition = deprovision.partition
        store = deprovision.identity_store_arn
        users = f"arn:{partition}:identitystore:::user/*"
        memberships = f"arn:{partition}:identitystore:::membership/*"
        groups = f"arn:{partition}:identitystore:::group/*"
        self.role.add_to_policy(iam.PolicyStatement(actions=["identitystore:GetUserId", "identitystore:ListUsers"],
                                                    resources=[store, users]))
        self.role.add_to_policy(iam.PolicyStatement(actions=["identitystore:ListGroupMembershipsForMember"],
                                                    resources=[store, users, memberships]))
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge(policy, f"AwsSolutions-IAM5[Resource::{users}]",
                    "deprovision_users: GetUserId finds a user's id from its name and ListUsers lists this identity "
                    "store's users to match a name in any case; ListGroupMembershipsForMember takes the id found: "
                    "the id, and so the user ARN, is what is looked up. The identity store ARN limits all three.")
        acknowledge(policy, f"AwsSolutions-IAM5[Resource::{memberships}]",
                    "deprovision_users: ListGroupMembershipsForMember returns the memberships of one user of this "
                    "identity store; IAM authorizes it on every membership (AllGroupMemberships), whose ids it "
                    "returns.")
        if any(group_id is None for _, group_id in deprovision.groups):
            self.role.add_to_policy(iam.PolicyStatement(actions=["identitystore:GetGroupId"],
                                                        resources=[store, groups]))
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::{groups}]",
                        "deprovision_users: GetGroupId finds an assigned group's id from its display name (config "
                        "gives none): the id, and so the group ARN, is what it looks up.")

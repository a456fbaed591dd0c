"""The reconcile custom resource: one resource for the whole access model, whatever its size.

The compiled model travels as an S3 asset (canonical JSON), not as resource properties: a model of
thousands of grants stays far below CloudFormation's template limits and the number of CloudFormation
resources does not grow with it. Its hash is a property, so any change of content is an Update.

Identity provider client secrets stay in Secrets Manager: the model document holds their ARNs only, and
the handler's role may read exactly those secrets (and the admin secret), nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from components.handler_provider import Polling, handler_provider
from components.lambda_asset import staging_dir
from components.nag import acknowledge
from redshift_idc.runtime.access_state import AccessState, identity_provider_secret_arns
from redshift_idc.runtime.limits import (
    HANDLER_MEMORY_MB,
    IS_COMPLETE_TIMEOUT_SECONDS,
    ON_EVENT_TIMEOUT_SECONDS,
    PROVIDER_QUERY_INTERVAL_SECONDS,
    PROVIDER_TOTAL_TIMEOUT_SECONDS,
    SERVICE_TIMEOUT_SECONDS,
)
from redshift_idc.runtime.reconcile_handler import model_document
from redshift_idc.runtime.reconciler import ScriptEntry

# Data API calls that address an existing statement take no resource ARN; IAM scopes them to the
# caller's own statements with this condition key instead.
STATEMENT_ACTIONS = ("redshift-data:DescribeStatement", "redshift-data:GetStatementResult",
                     "redshift-data:CancelStatement")
SUBMIT_ACTIONS = ("redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement")
# The limits of `redshift_idc/runtime/limits.py`, as CDK durations (one source for both sides).
POLLING = Polling(is_complete_timeout=Duration.seconds(IS_COMPLETE_TIMEOUT_SECONDS),
                  query_interval=Duration.seconds(PROVIDER_QUERY_INTERVAL_SECONDS),
                  total_timeout=Duration.seconds(PROVIDER_TOTAL_TIMEOUT_SECONDS),
                  on_event_timeout=Duration.seconds(ON_EVENT_TIMEOUT_SECONDS))


class AccessReconciler(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, model_name: str, desired: AccessState,
                 scripts: Sequence[ScriptEntry], prune: bool, ledger_schema: str, removal_policy: str,
                 workgroup_name: str, workgroup_arn: str, namespace_name: str, namespace_arn: str, database: str,
                 admin_secret_arn: str, key: kms.IKey, log_retention: logs.RetentionDays,
                 identity_provider_drop_cascade: bool = False) -> None:
        super().__init__(scope, construct_id)
        document_dir = staging_dir() / f"access-model-{model_name}"
        document_dir.mkdir(parents=True, exist_ok=True)
        (document_dir / "model.json").write_text(model_document(desired, scripts), encoding="utf-8")
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
        # Only to find one step by its exact name, should the Data API refuse a repeated ClientToken.
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
        # CloudFormation's limit, stated: the reconciler's own deadline (limits.APPLY_WINDOW_SECONDS) ends
        # every request before it, and the waiter's total timeout stays below it.
        self.resource = CustomResource(self, "Resource", service_token=self.provider.service_token,
                                       resource_type="Custom::AccessModel", properties=properties,
                                       service_timeout=Duration.seconds(SERVICE_TIMEOUT_SECONDS))

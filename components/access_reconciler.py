"""The reconcile custom resource: one resource for the whole access model, whatever its size.

The compiled model travels as an S3 asset (canonical JSON), not as resource properties: a model of
thousands of grants stays far below CloudFormation's template limits and the number of CloudFormation
resources does not grow with it. Its hash is a property, so any change of content is an Update.

Identity provider client secrets stay in Secrets Manager: the model document holds their ARNs only, and
the handler's role may read exactly those secrets (and the admin secret), nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_cdk import CustomResource
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from components.handler_provider import handler_provider
from components.lambda_asset import staging_dir
from components.nag import acknowledge
from redshift_idc.runtime.access_state import AccessState, identity_provider_secret_arns

# Data API calls that address an existing statement take no resource ARN; IAM scopes them to the
# caller's own statements with this condition key instead.
STATEMENT_ACTIONS = ("redshift-data:DescribeStatement", "redshift-data:GetStatementResult",
                     "redshift-data:CancelStatement")
SUBMIT_ACTIONS = ("redshift-data:BatchExecuteStatement", "redshift-data:ExecuteStatement")


def model_document(desired: AccessState, scripts: Sequence[dict[str, str]]) -> str:
    """Canonical JSON (sorted keys, no spaces): the same model always gives the same asset hash."""
    return json.dumps({"desired": desired.to_json(), "scripts": list(scripts)}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)


class AccessReconciler(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, model_name: str, desired: AccessState,
                 scripts: Sequence[dict[str, str]], prune: bool, ledger_schema: str, removal_policy: str,
                 workgroup_name: str, workgroup_arn: str, database: str, admin_secret_arn: str, key: kms.IKey,
                 log_retention: logs.RetentionDays, identity_provider_drop_cascade: bool = False) -> None:
        super().__init__(scope, construct_id)
        document_dir = staging_dir() / f"access-model-{model_name}"
        document_dir.mkdir(parents=True, exist_ok=True)
        (document_dir / "model.json").write_text(model_document(desired, scripts), encoding="utf-8")
        self.model_asset = s3_assets.Asset(self, "Model", path=str(document_dir / "model.json"))

        handler = handler_provider(self, handler="reconcile", key=key, log_retention=log_retention,
                                   description=f"Applies access model {model_name} to workgroup {workgroup_name}",
                                   memory_size=512, on_event_id="OnEvent", is_complete_id="IsComplete")
        self.role = handler.role
        self.provider = handler.provider
        self.role.add_to_policy(iam.PolicyStatement(actions=list(SUBMIT_ACTIONS), resources=[workgroup_arn]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=list(STATEMENT_ACTIONS), resources=["*"],
            conditions={"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
        ))
        self.role.add_to_policy(iam.PolicyStatement(actions=["redshift-data:ListStatements"], resources=["*"]))
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
        self.resource = CustomResource(self, "Resource", service_token=self.provider.service_token,
                                       resource_type="Custom::AccessModel", properties=properties)

"""The namespace's default IAM role, for `COPY ... IAM_ROLE default`, reading exactly the configured S3 locations."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from redshift_idc.cdk.components.idc_application import REDSHIFT_SERVICE_PRINCIPALS
from redshift_idc.cdk.components.nag import acknowledge, acknowledge_nist_role
from redshift_idc.config.warehouse import DefaultIamRoleConfig, S3ReadLocation


def object_arn(partition: str, location: S3ReadLocation) -> str:
    """Every object under the prefix: the `*` is the prefix's own meaning, not a widening."""
    return f"arn:{partition}:s3:::{location.bucket}/{location.prefix}*"


def bucket_arn(partition: str, location: S3ReadLocation) -> str:
    return f"arn:{partition}:s3:::{location.bucket}"


class NamespaceDefaultRole(Construct):
    """A role Redshift assumes when a statement says `IAM_ROLE default` (seed 002's COPY of its sales data).

    Seed 002 attaches AmazonS3ReadOnlyAccess (every bucket of the account, and others' public ones); this role
    can list and read only the configured prefixes, and decrypt only with the configured keys, only through S3.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DefaultIamRoleConfig, partition: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.CompositePrincipal(*(iam.ServicePrincipal(p) for p in REDSHIFT_SERVICE_PRINCIPALS)),
            description="Redshift namespace default IAM role: COPY reads the configured S3 prefixes only",
        )
        acknowledge_nist_role(self.role)
        for location in config.s3_read:
            self.role.add_to_policy(iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[object_arn(partition, location)],
            ))
            listing: dict[str, dict[str, list[str]]] = (
                {"StringLike": {"s3:prefix": [f"{location.prefix}*"]}} if location.prefix else {})
            self.role.add_to_policy(iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[bucket_arn(partition, location)], conditions=listing or None,
            ))
            self.role.add_to_policy(iam.PolicyStatement(
                actions=["s3:GetBucketLocation"], resources=[bucket_arn(partition, location)],
            ))
            if location.kms_key_arn is not None:
                self.role.add_to_policy(iam.PolicyStatement(
                    actions=["kms:Decrypt"], resources=[location.kms_key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
                ))
        policy = self.role.node.find_child("DefaultPolicy")
        for arn in sorted({object_arn(partition, location) for location in config.s3_read}):
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::{arn}]",
                        "COPY reads every object under this configured prefix (warehouse.default_iam_role.s3_read); "
                        "the wildcard is the prefix itself, in this one bucket.")

    @property
    def arn(self) -> str:
        return self.role.role_arn

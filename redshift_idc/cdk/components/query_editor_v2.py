"""Query Editor v2 with single sign-on through IAM Identity Center (seed 001): the permission set users pick in
the AWS access portal, its account assignments and, optionally, the account's QEv2 IdC application."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_redshift as redshift
from aws_cdk import aws_sso as sso
from constructs import Construct

from redshift_idc.cdk.components.deploy_lookups import group_attribute_key
from redshift_idc.config.connections import QueryEditorV2Config
from redshift_idc.config.identity_center import IdentityCenterConfig

READ_SHARING_POLICY = "AmazonRedshiftQueryEditorV2ReadSharing"
# The console's domain per partition (the relay state is a console URL).
CONSOLE_DOMAINS = {"aws": "console.aws.amazon.com", "aws-us-gov": "console.amazonaws-us-gov.com",
                   "aws-cn": "console.amazonaws.cn"}
# Actions of the inline policy that IAM defines without a resource type: the only ones granted on "*".
UNSCOPED_ACTIONS = ("redshift:DescribeQev2IdcApplications",)


def relay_state(region: str, partition: str = "aws") -> str:
    """Where the access portal sends users after sign-in: Query Editor v2 in the warehouse's region."""
    return f"https://{region}.{CONSOLE_DOMAINS[partition]}/sqlworkbench/home?region={region}#/client"


def inline_policy(*, workgroup_arn: str, namespace_arn: str, instance_arn: str,
                  application_arns: Sequence[str]) -> iam.PolicyDocument:
    """The seed's customer-managed policy (QEv2 IdC discovery, the IdC instance and applications), scoped to
    this instance's Redshift and QEv2 applications, plus reading this workgroup and namespace only. Connecting
    with IdC needs no database credential action: Redshift authorizes the user's IdC token."""
    return iam.PolicyDocument(statements=[
        iam.PolicyStatement(sid="QueryEditorV2IdcDiscovery", actions=list(UNSCOPED_ACTIONS), resources=["*"]),
        iam.PolicyStatement(sid="ThisWorkgroup", actions=["redshift-serverless:GetWorkgroup"],
                            resources=[workgroup_arn]),
        iam.PolicyStatement(sid="ThisNamespace", actions=["redshift-serverless:GetNamespace"],
                            resources=[namespace_arn]),
        iam.PolicyStatement(sid="IdentityCenterApplications",
                            actions=["sso:DescribeApplication", "sso:DescribeInstance"],
                            resources=[instance_arn, *application_arns]),
    ])


class QueryEditorV2(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: QueryEditorV2Config,
                 identity_center: IdentityCenterConfig, account: str, region: str, workgroup_arn: str,
                 namespace_arn: str, redshift_idc_managed_app_arn: str, group_ids: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        partition = identity_center.partition
        application_arns = [redshift_idc_managed_app_arn]
        self.application: redshift.CfnQEV2IdcApplication | None = None
        if config.idc_application is not None:
            self.application = redshift.CfnQEV2IdcApplication(
                self, "IdcApplication", idc_instance_arn=identity_center.instance_arn,
                qev2_idc_application_name=config.idc_application.name,
                idc_display_name=config.idc_application.display_name,
            )
            application_arns.append(self.application.attr_idc_managed_application_arn)

        self.relay_state = relay_state(region, partition)
        self.permission_set = sso.CfnPermissionSet(
            self, "PermissionSet",
            instance_arn=identity_center.instance_arn,
            name=config.permission_set_name,
            description="Amazon Redshift Query Editor v2 with IAM Identity Center sign-in (seed 001)",
            managed_policies=[f"arn:{partition}:iam::aws:policy/{READ_SHARING_POLICY}"],
            inline_policy=inline_policy(workgroup_arn=workgroup_arn, namespace_arn=namespace_arn,
                                        instance_arn=identity_center.instance_arn,
                                        application_arns=application_arns),
            relay_state_type=self.relay_state,
            session_duration=config.session_duration,
        )
        for group in config.groups:
            sso.CfnAssignment(
                self, f"Assign{group_attribute_key(group.display_name)}",
                instance_arn=identity_center.instance_arn,
                permission_set_arn=self.permission_set.attr_permission_set_arn,
                principal_type="GROUP", principal_id=group_ids[group.display_name],
                target_type="AWS_ACCOUNT", target_id=account,
            )

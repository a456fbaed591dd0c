"""The Redshift IAM Identity Center application, its IAM role and its group assignments."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_redshift as redshift
from aws_cdk import aws_sso as sso
from constructs import Construct

from components.deploy_lookups import group_attribute_key
from components.nag import acknowledge
from redshift_idc.config import IdentityCenterConfig, RedshiftIdcApplicationConfig

REDSHIFT_SERVICE_PRINCIPALS = ("redshift.amazonaws.com", "redshift-serverless.amazonaws.com")
IDC_ROLE_ACTIONS = ("sso:DescribeApplication", "sso:DescribeInstance")


class RedshiftIdcApplication(Construct):
    """Makes Redshift an IdC-managed application so IdC groups arrive in the database as roles.

    The role is the seed's `RedshiftOktaRole`: Redshift assumes it (with `sts:SetContext`, which trusted
    identity propagation requires) to describe the IdC instance and its application, and nothing else.
    """

    def __init__(self, scope: Construct, construct_id: str, *, identity_center: IdentityCenterConfig,
                 application: RedshiftIdcApplicationConfig, group_ids: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        partition = identity_center.partition
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.CompositePrincipal(*(iam.ServicePrincipal(p) for p in REDSHIFT_SERVICE_PRINCIPALS)),
            description=f"Redshift IdC application {application.name}: reads the IdC instance and its application",
        )
        self.role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(
                actions=["sts:SetContext"],
                principals=[iam.ServicePrincipal(p) for p in REDSHIFT_SERVICE_PRINCIPALS],
            )
        )
        application_arns = f"arn:{partition}:sso::{stack.account}:application/{identity_center.instance_id}/*"
        self.role.add_to_policy(iam.PolicyStatement(
            actions=list(IDC_ROLE_ACTIONS),
            resources=[identity_center.instance_arn, application_arns],
        ))
        acknowledge(self.role.node.find_child("DefaultPolicy"), f"AwsSolutions-IAM5[Resource::{application_arns}]",
                    "The IdC-managed application's ARN is created by the Redshift IdC application, which needs "
                    "this role first; the wildcard is limited to applications of this one IdC instance.")

        self.application = redshift.CfnRedshiftIdcApplication(
            self,
            "Application",
            redshift_idc_application_name=application.name,
            idc_display_name=application.display_name,
            idc_instance_arn=identity_center.instance_arn,
            identity_namespace=application.identity_namespace,
            iam_role_arn=self.role.role_arn,
        )
        self.application.node.add_dependency(self.role)
        acknowledge(self.application, "CloudFormation-Validate-F3006",
                    "CDK's bundled resource schema predates AWS::Redshift::RedshiftIdcApplication; cfn-lint "
                    "(run in the test suite) knows the type and validates it.")

        for group in application.groups:
            sso.CfnApplicationAssignment(
                self,
                f"Assign{group_attribute_key(group.display_name)}",
                application_arn=self.application.attr_idc_managed_application_arn,
                principal_type="GROUP",
                principal_id=group_ids[group.display_name],
            )

    @property
    def arn(self) -> str:
        return self.application.attr_redshift_idc_application_arn

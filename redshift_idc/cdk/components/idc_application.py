"""The Redshift IAM Identity Center application, its IAM role and its group and user assignments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_redshift as redshift
from aws_cdk import aws_sso as sso
from constructs import Construct

from redshift_idc.cdk.components.deploy_lookups import group_attribute_key, user_attribute_key
from redshift_idc.cdk.components.nag import acknowledge, acknowledge_nist_role
from redshift_idc.config.identity_center import (
    IdentityCenterConfig,
    RedshiftIdcApplicationConfig,
    ServiceIntegrationsConfig,
)

REDSHIFT_SERVICE_PRINCIPALS = ("redshift.amazonaws.com", "redshift-serverless.amazonaws.com")
IDC_ROLE_ACTIONS = ("sso:DescribeApplication", "sso:DescribeInstance")
# Seed 001: lets Redshift detect that Query Editor v2 can sign users in with IdC. The action has no resource
# type (IAM's service authorization reference), so it can only be granted on "*".
QEV2_DISCOVERY_ACTION = "redshift:DescribeQev2IdcApplications"

_App = redshift.CfnRedshiftIdcApplication


def _authorization(enabled: bool) -> str:
    return "Enabled" if enabled else "Disabled"


def service_integrations(config: ServiceIntegrationsConfig) -> list[_App.ServiceIntegrationsUnionProperty]:
    """`ServiceIntegrations`, one union member per entry, each scope explicitly Enabled or Disabled so that
    turning one off in config turns it off in Redshift too (instead of leaving the last value in place)."""
    return [
        _App.ServiceIntegrationsUnionProperty(lake_formation=[_App.LakeFormationScopeUnionProperty(
            lake_formation_query=_App.LakeFormationQueryProperty(
                authorization=_authorization(config.lake_formation_query)))]),
        _App.ServiceIntegrationsUnionProperty(s3_access_grants=[_App.S3AccessGrantsScopeUnionProperty(
            read_write_access=_App.ReadWriteAccessProperty(
                authorization=_authorization(config.s3_access_grants == "read_write")))]),
        _App.ServiceIntegrationsUnionProperty(redshift=[_App.RedshiftScopeUnionProperty(
            connect=_App.ConnectProperty(authorization=_authorization(config.redshift_connect)))]),
    ]


class RedshiftIdcApplication(Construct):
    """Makes Redshift an IdC-managed application so IdC groups arrive in the database as roles.

    The role is the seed's `RedshiftOktaRole`: Redshift assumes it (with `sts:SetContext`, which trusted
    identity propagation requires) to describe the IdC instance and its application, and nothing else.
    """

    def __init__(self, scope: Construct, construct_id: str, *, identity_center: IdentityCenterConfig,
                 application: RedshiftIdcApplicationConfig, group_ids: Mapping[str, str],
                 user_ids: Mapping[str, str],
                 authorized_token_issuers: Sequence[_App.AuthorizedTokenIssuerProperty] = (),
                 query_editor_v2: bool = False) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        partition = identity_center.partition
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.CompositePrincipal(*(iam.ServicePrincipal(p) for p in REDSHIFT_SERVICE_PRINCIPALS)),
            description=f"Redshift IdC application {application.name}: reads the IdC instance and its application",
        )
        acknowledge_nist_role(self.role)
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
        if query_editor_v2:
            self.role.add_to_policy(iam.PolicyStatement(actions=[QEV2_DISCOVERY_ACTION], resources=["*"]))
            acknowledge(self.role.node.find_child("DefaultPolicy"), "AwsSolutions-IAM5[Resource::*]",
                        f"{QEV2_DISCOVERY_ACTION} (seed 001: Redshift detects Query Editor v2's IdC sign-in) has no "
                        "resource type in IAM, so it cannot be scoped; it only lists QEv2 IdC applications.")

        self.application = redshift.CfnRedshiftIdcApplication(
            self,
            "Application",
            redshift_idc_application_name=application.name,
            idc_display_name=application.display_name,
            idc_instance_arn=identity_center.instance_arn,
            identity_namespace=application.identity_namespace,
            iam_role_arn=self.role.role_arn,
            authorized_token_issuer_list=list(authorized_token_issuers) or None,
            service_integrations=(service_integrations(application.service_integrations)
                                  if application.service_integrations is not None else None),
            application_type=application.application_type,
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
        for user in application.users:
            sso.CfnApplicationAssignment(
                self,
                f"Assign{user_attribute_key(user.user_name)}",
                application_arn=self.application.attr_idc_managed_application_arn,
                principal_type="USER",
                principal_id=user_ids[user.user_name],
            )

    @property
    def arn(self) -> str:
        return self.application.attr_redshift_idc_application_arn

"""Trusted identity propagation for Data API clients: the IAM OIDC provider, the customer-managed IdC
OAuth application and its configuration, the bridge role and the Data API client role (seed 002)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CustomResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sso as sso
from constructs import Construct

from redshift_idc.cdk.components.deploy_lookups import group_attribute_key
from redshift_idc.cdk.components.handler_provider import handler_provider
from redshift_idc.cdk.components.nag import acknowledge, acknowledge_nist_role
from redshift_idc.cdk.components.trusted_token_issuers import ISSUER_ACTIONS
from redshift_idc.config.connections import IdentityPropagationConfig
from redshift_idc.config.identity_center import IdentityCenterConfig
from redshift_idc.runtime.idc_trusted_token_issuer import trusted_token_issuer_name

CUSTOM_APPLICATION_PROVIDER = "arn:aws:sso::aws:applicationProvider/custom"
IDENTITY_CENTER_CONTEXT_PROVIDER = "arn:aws:iam::aws:contextProvider/IdentityCenter"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# What a query client does through the Data API, on this workgroup only.
WORKGROUP_ACTIONS = ("redshift-data:ExecuteStatement", "redshift-data:BatchExecuteStatement",
                     "redshift-data:ListDatabases", "redshift-data:ListSchemas", "redshift-data:ListTables",
                     "redshift-data:DescribeTable")
# GetStatementResult authorizes GetStatementResultV2 too: there is no IAM action of that name.
OWN_STATEMENT_ACTIONS = ("redshift-data:DescribeStatement", "redshift-data:GetStatementResult",
                         "redshift-data:CancelStatement")
OAUTH_APP_ADMIN_ACTIONS = (
    "sso:PutApplicationGrant", "sso:GetApplicationGrant", "sso:DeleteApplicationGrant",
    "sso:PutApplicationAuthenticationMethod", "sso:DeleteApplicationAuthenticationMethod",
    "sso:PutApplicationAccessScope", "sso:DeleteApplicationAccessScope", "sso:PutApplicationAssignmentConfiguration",
)


class IdentityPropagation(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: IdentityPropagationConfig,
                 identity_center: IdentityCenterConfig, workgroup_arn: str, redshift_idc_managed_app_arn: str,
                 group_ids: Mapping[str, str], key: kms.IKey, log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        partition = identity_center.partition

        self.oidc_provider = iam.CfnOIDCProvider(
            self, "OidcProvider", url=config.issuer_url, client_id_list=list(config.audiences),
            thumbprint_list=list(config.thumbprints) or None,
        )
        self.application = sso.CfnApplication(
            self, "OAuthApplication",
            application_provider_arn=CUSTOM_APPLICATION_PROVIDER,
            instance_arn=identity_center.instance_arn,
            name=config.application_name,
            description="Redshift Data API client with trusted identity propagation (customer managed, OAuth 2.0)",
            portal_options=sso.CfnApplication.PortalOptionsConfigurationProperty(visibility="DISABLED"),
            status="ENABLED",
        )
        application_arn = self.application.attr_application_arn

        # The bridge role turns the IdP's id token into AWS credentials that may do exactly two things:
        # exchange that token with this application, and assume the client role with the user's context.
        self.bridge_role = iam.Role(
            self, "BridgeRole",
            assumed_by=iam.FederatedPrincipal(
                self.oidc_provider.attr_arn,
                conditions={"StringEquals": {f"{config.issuer_host_path}:aud": list(config.audiences)}},
                assume_role_action="sts:AssumeRoleWithWebIdentity",
            ),
            description="TIP bridge: exchanges IdP id tokens for an IdC token and assumes the Data API client role",
        )
        self.client_role = iam.Role(
            self, "ClientRole",
            assumed_by=iam.ArnPrincipal(self.bridge_role.role_arn),
            description="Data API client with the signed-in IdC user's identity context (trusted identity propagation)",
        )
        self.client_role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(actions=["sts:SetContext"], principals=[iam.ArnPrincipal(self.bridge_role.role_arn)]))
        self.bridge_role.add_to_policy(iam.PolicyStatement(
            actions=["sso-oauth:CreateTokenWithIAM"], resources=[application_arn]))
        self.bridge_role.add_to_policy(iam.PolicyStatement(
            actions=["sts:AssumeRole", "sts:SetContext"], resources=[self.client_role.role_arn]))
        self.client_role.add_to_policy(iam.PolicyStatement(actions=list(WORKGROUP_ACTIONS), resources=[workgroup_arn]))
        self.client_role.add_to_policy(iam.PolicyStatement(
            actions=list(OWN_STATEMENT_ACTIONS), resources=["*"],
            conditions={"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}},
        ))
        self.client_role.add_to_policy(iam.PolicyStatement(actions=["redshift-data:ListStatements"], resources=["*"]))
        acknowledge_nist_role(self.bridge_role)
        acknowledge_nist_role(self.client_role)
        acknowledge(self.client_role.node.find_child("DefaultPolicy"), "AwsSolutions-IAM5[Resource::*]",
                    "Statement-level Data API actions take a statement id, not an ARN: Describe/GetStatementResult/"
                    "Cancel are limited to the caller's own statements by redshift-data:statement-owner-iam-userid, "
                    "and ListStatements lists only the caller's statements.")

        for group in config.assigned_groups:
            sso.CfnApplicationAssignment(
                self, f"Assign{group_attribute_key(group.display_name)}", application_arn=application_arn,
                principal_type="GROUP", principal_id=group.group_id or group_ids[group.display_name],
            )

        self.trusted_token_issuer_arn = self._configure_application(
            config, identity_center, application_arn, redshift_idc_managed_app_arn, key, log_retention, partition,
            stack,
        )

    def _configure_application(self, config: IdentityPropagationConfig, identity_center: IdentityCenterConfig,
                               application_arn: str, redshift_app_arn: str, key: kms.IKey,
                               log_retention: logs.RetentionDays, partition: str, stack: Stack) -> str:
        """The trusted token issuer, jwt-bearer grant, IAM authentication method, `redshift:connect` scope and
        assignment setting have no CloudFormation types: one custom resource owns them all."""
        handler = handler_provider(self, handler="idc_oauth_app", key=key, log_retention=log_retention,
                                   prefix="Config",
                                   description="Configures the TIP OAuth application (issuer, grant, auth method, "
                                               "scope): no CloudFormation types exist")
        role = handler.role
        issuers = f"arn:{partition}:sso::{stack.account}:trustedTokenIssuer/{identity_center.instance_id}/*"
        role.add_to_policy(iam.PolicyStatement(actions=list(ISSUER_ACTIONS),
                                               resources=[identity_center.instance_arn, issuers]))
        role.add_to_policy(iam.PolicyStatement(actions=list(OAUTH_APP_ADMIN_ACTIONS),
                                               resources=[identity_center.instance_arn, application_arn]))
        acknowledge(role.node.find_child("DefaultPolicy"), f"AwsSolutions-IAM5[Resource::{issuers}]",
                    "A trusted token issuer's id is assigned by CreateTrustedTokenIssuer; the wildcard is limited to "
                    "issuers of this IdC instance.")
        resource = CustomResource(
            self, "OAuthApplicationConfig", service_token=handler.service_token,
            resource_type="Custom::IdcOAuthAppConfig",
            properties={
                "InstanceArn": identity_center.instance_arn,
                "ApplicationArn": application_arn,
                # A new issuer URL means a new issuer: its name changes with the URL, so the old and the new
                # can exist side by side while CloudFormation replaces one with the other.
                "TrustedTokenIssuerName": trusted_token_issuer_name(config.application_name, config.issuer_url),
                "IssuerUrl": config.issuer_url,
                "ClaimAttributePath": config.claim_attribute_path,
                "IdentityStoreAttributePath": config.identity_store_attribute_path,
                "Audiences": list(config.audiences),
                "ActorRoleArns": [self.bridge_role.role_arn],
                "AuthorizedTargets": [redshift_app_arn],
                "AssignmentRequired": config.assignment_required,
            },
        )
        return resource.get_att_string("TrustedTokenIssuerArn")

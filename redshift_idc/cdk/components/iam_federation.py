"""IAM federation for tools without IAM Identity Center (seeds 003/004): an IAM OIDC or SAML identity provider
and a role its users assume, which may only get temporary database credentials for this workgroup."""

from __future__ import annotations

from aws_cdk import Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from redshift_idc.cdk.components.nag import acknowledge_nist_role
from redshift_idc.config.connections import IamFederationConfig

GET_CREDENTIALS = "redshift-serverless:GetCredentials"
DB_ROLES_TAG = "RedshiftDbRoles"
# The audience AWS sign-in puts in SAML assertions for role federation, per partition.
SAML_AUDIENCES = {"aws": "https://signin.aws.amazon.com/saml",
                  "aws-us-gov": "https://signin.amazonaws-us-gov.com/saml",
                  "aws-cn": "https://signin.amazonaws.cn/saml"}


class IamFederation(Construct):
    """The role trusts only its identity provider, conditioned on the audience (`<issuer>:aud` for OIDC,
    `SAML:aud` for SAML), and may call `redshift-serverless:GetCredentials` on this workgroup and nothing else:
    no `redshift:GetClusterCredentials`, `JoinGroup` or `CreateClusterUser` (those are provisioned-cluster
    actions). Redshift gives the database users it creates the roles in the role's `RedshiftDbRoles` tag."""

    def __init__(self, scope: Construct, construct_id: str, *, config: IamFederationConfig, workgroup_arn: str,
                 partition: str) -> None:
        super().__init__(scope, construct_id)
        provider = config.provider
        principal: iam.IPrincipal
        if provider.type == "oidc":
            oidc = iam.CfnOIDCProvider(self, "OidcProvider", url=provider.issuer_url,
                                       client_id_list=list(provider.audiences),
                                       thumbprint_list=list(provider.thumbprints) or None)
            self.provider_arn = oidc.attr_arn
            principal = iam.FederatedPrincipal(
                self.provider_arn, assume_role_action="sts:AssumeRoleWithWebIdentity",
                conditions={"StringEquals": {f"{provider.issuer_host_path}:aud": list(provider.audiences)}})
        else:
            saml = iam.CfnSAMLProvider(self, "SamlProvider", saml_metadata_document=provider.metadata_document())
            self.provider_arn = saml.attr_arn
            principal = iam.FederatedPrincipal(
                self.provider_arn, assume_role_action="sts:AssumeRoleWithSAML",
                conditions={"StringEquals": {"SAML:aud": SAML_AUDIENCES[partition]}})
        self.role = iam.Role(
            self, "Role", role_name=config.role_name, assumed_by=principal,
            description="Federated users without IdC: temporary database credentials for one Serverless workgroup",
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=[GET_CREDENTIALS], resources=[workgroup_arn]))
        acknowledge_nist_role(self.role)
        if config.db_roles:
            Tags.of(self.role).add(DB_ROLES_TAG, config.db_roles_tag)

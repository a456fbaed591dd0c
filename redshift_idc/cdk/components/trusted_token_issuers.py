"""Trusted token issuers for third-party clients of the Redshift IdC application (seed 000: BI tools such as
Tableau or Power BI, JDBC/ODBC with `IdpTokenAuthPlugin`).

CloudFormation has no type for a trusted token issuer (TTI), so each is a `Custom::IdcTrustedTokenIssuer`
served by the same handler as the identity-propagation OAuth application (`redshift_idc/cdk/handlers/idc_oauth_app`,
`redshift_idc.runtime.idc_oauth_app`): one TTI implementation. The Redshift IdC application then authorizes
each TTI's audiences through its `AuthorizedTokenIssuerList`; Redshift puts the grant on its own IdC-managed
application, so this construct needs no permission on that application.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CustomResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_redshift as redshift
from constructs import Construct

from redshift_idc.cdk.components.deploy_lookups import group_attribute_key
from redshift_idc.cdk.components.handler_provider import handler_provider
from redshift_idc.cdk.components.nag import acknowledge
from redshift_idc.config.identity_center import IdentityCenterConfig, TrustedTokenIssuerConfig
from redshift_idc.runtime.idc_trusted_token_issuer import ISSUER_RESOURCE_TYPE, trusted_token_issuer_name

# What the handler calls for a TTI alone: no application is configured.
ISSUER_ACTIONS = ("sso:CreateTrustedTokenIssuer", "sso:UpdateTrustedTokenIssuer", "sso:DeleteTrustedTokenIssuer",
                  "sso:DescribeTrustedTokenIssuer", "sso:ListTrustedTokenIssuers")


def issuer_name(config: TrustedTokenIssuerConfig) -> str:
    """`<name>-<hash of the issuer URL>`: a new URL means a new TTI (the API cannot change a TTI's URL), and the
    old and the new must coexist while CloudFormation replaces one with the other."""
    return trusted_token_issuer_name(config.name, config.issuer_url)


class TrustedTokenIssuers(Construct):
    """One read/write Lambda behind the Provider framework and one custom resource per issuer.

    `authorized_token_issuers` is what `CfnRedshiftIdcApplication.authorized_token_issuer_list` takes.
    """

    def __init__(self, scope: Construct, construct_id: str, *, issuers: Sequence[TrustedTokenIssuerConfig],
                 identity_center: IdentityCenterConfig, key: kms.IKey, log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        handler = handler_provider(self, handler="idc_oauth_app", key=key, log_retention=log_retention,
                                   description="Creates, updates and deletes the IdC trusted token issuers of "
                                               "third-party clients")
        role = handler.role
        issuer_arns = (f"arn:{identity_center.partition}:sso::{stack.account}:trustedTokenIssuer/"
                       f"{identity_center.instance_id}/*")
        role.add_to_policy(iam.PolicyStatement(actions=list(ISSUER_ACTIONS),
                                               resources=[identity_center.instance_arn, issuer_arns]))
        acknowledge(role.node.find_child("DefaultPolicy"), f"AwsSolutions-IAM5[Resource::{issuer_arns}]",
                    "A trusted token issuer's id is assigned by CreateTrustedTokenIssuer; the wildcard is limited to "
                    "issuers of this IdC instance.")
        self.authorized_token_issuers: list[redshift.CfnRedshiftIdcApplication.AuthorizedTokenIssuerProperty] = []
        self.issuer_arns: dict[str, str] = {}
        for issuer in issuers:
            # Keyed by name only: a new issuer URL is an Update of the same resource, which makes the new TTI
            # and lets CloudFormation delete the old one.
            resource = CustomResource(
                self, group_attribute_key(issuer.name).replace("Group", "Issuer", 1),
                service_token=handler.service_token, resource_type=ISSUER_RESOURCE_TYPE,
                properties={
                    "InstanceArn": identity_center.instance_arn,
                    "TrustedTokenIssuerName": issuer_name(issuer),
                    "IssuerUrl": issuer.issuer_url,
                    "ClaimAttributePath": issuer.claim_attribute_path,
                    "IdentityStoreAttributePath": issuer.identity_store_attribute_path,
                },
            )
            arn = resource.get_att_string("TrustedTokenIssuerArn")
            self.issuer_arns[issuer.name] = arn
            self.authorized_token_issuers.append(redshift.CfnRedshiftIdcApplication.AuthorizedTokenIssuerProperty(
                trusted_token_issuer_arn=arn, authorized_audiences_list=list(issuer.audiences)))

"""The role the delivery pipeline's verify step assumes in an environment's account.

The pipeline's CodeBuild projects run in the tooling account, the environments usually elsewhere, and none of
the APIs `python -m redshift_idc verify` reads (IAM Identity Center, the identity store, Redshift, the Data API)
takes a cross-account resource policy. So each pipeline stage deploys this role next to the environment: it
trusts only the verify step's role (by name, through `aws:PrincipalArn`, so the trust does not depend on the
order the two are created in), and it may make exactly the read calls verify makes (`IAM_ACTIONS` of
`redshift_idc.deployed.verify.aws_calls`), on this environment's resources wherever IAM takes an ARN. Nothing
here can create, change or grant anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from redshift_idc.cdk.components.nag import acknowledge, acknowledge_nist_role
from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.config.errors import ConfigError

MAX_ROLE_NAME = 64  # IAM's limit
# Actions IAM gives no resource type (Service Authorization Reference: sso ListInstances, and Redshift's
# DescribeRedshiftIdcApplications, a List-level action), so they can only be granted on "*".
UNSCOPED_ACTIONS = ("sso:ListInstances", "redshift:DescribeRedshiftIdcApplications")
# Addressed by statement id, not ARN: limited to the role's own statements by a condition instead.
OWN_STATEMENT_ACTIONS = ("redshift-data:DescribeStatement", "redshift-data:GetStatementResult",
                         "redshift-data:CancelStatement")


def fixed_role_name(stack_name: str, suffix: str) -> str:
    """`<stack name>-<suffix>`: a name fixed in advance (each side of the trust names the other before either
    exists), shaped like the names CloudFormation gives a stack's roles, so whatever scopes a deployer's IAM
    rights to `role/<stack name>-*` covers it too."""
    name = f"{stack_name}-{suffix}"
    if len(name) > MAX_ROLE_NAME:
        raise ConfigError(f"role name {name} is longer than IAM's {MAX_ROLE_NAME} characters: use a shorter "
                          "environment name for the pipeline")
    return name


def role_arn(partition: str, account: str, name: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{name}"


class VerifierRole(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, role_name: str,
                 trusted_role_arn: str,
                 workgroup_arn: str, admin_secret_arn: str, key: kms.IKey, managed_application_arn: str,
                 trusted_token_issuer_arns: Sequence[str] = (), oauth_application_arn: str | None = None,
                 namespace_arn: str | None = None) -> None:
        super().__init__(scope, construct_id)
        center = config.identity_center
        trusted_account = trusted_role_arn.split(":")[4]
        self.role = iam.Role(
            self, "Role", role_name=role_name,
            assumed_by=iam.AccountPrincipal(trusted_account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": trusted_role_arn}}),
            max_session_duration=Duration.hours(1),
            description=f"Read-only checks of environment {config.name} by the delivery pipeline's verify step "
                        "(python -m redshift_idc verify)",
        )
        acknowledge_nist_role(self.role)
        add = self.role.add_to_policy
        applications = [managed_application_arn, *([oauth_application_arn] if oauth_application_arn else [])]
        add(iam.PolicyStatement(actions=list(UNSCOPED_ACTIONS), resources=["*"]))
        # Assignments of both applications; Redshift itself reads the managed application's grant and scopes
        # with the caller's credentials when it describes the Redshift IdC application.
        add(iam.PolicyStatement(actions=["sso:ListApplicationAssignments", "sso:GetApplicationGrant",
                                         "sso:ListApplicationAccessScopes"],
                                resources=[center.instance_arn, *applications]))
        if oauth_application_arn is not None:
            add(iam.PolicyStatement(actions=["sso:GetApplicationAuthenticationMethod",
                                             "sso:GetApplicationAssignmentConfiguration"],
                                    resources=[center.instance_arn, oauth_application_arn]))
        if config.redshift_idc_application.trusted_token_issuers:
            add(iam.PolicyStatement(actions=["sso:ListTrustedTokenIssuers"], resources=[center.instance_arn]))
        if trusted_token_issuer_arns:
            add(iam.PolicyStatement(actions=["sso:DescribeTrustedTokenIssuer"],
                                    resources=[center.instance_arn, *trusted_token_issuer_arns]))
        store = f"arn:{center.partition}:identitystore::{config.account}:identitystore/{center.identity_store_id}"
        groups = [*config.redshift_idc_application.groups,
                  *(config.identity_propagation.assigned_groups if config.identity_propagation else ())]
        policy = self.role.node.find_child("DefaultPolicy")
        users = config.redshift_idc_application.users
        for action, kind, needed in (("identitystore:GetGroupId", "group", any(g.group_id is None for g in groups)),
                                     ("identitystore:GetUserId", "user", any(u.user_id is None for u in users))):
            if needed:
                principals = f"arn:{center.partition}:identitystore:::{kind}/*"
                add(iam.PolicyStatement(actions=[action], resources=[store, principals]))
                acknowledge(policy, f"AwsSolutions-IAM5[Resource::{principals}]",
                            f"{action.split(':')[1]} finds an id from a name: the id, and so the {kind} ARN, is what "
                            "it looks up (the same lookup the deploy makes).")
        add(iam.PolicyStatement(actions=["redshift-data:BatchExecuteStatement"], resources=[workgroup_arn]))
        add(iam.PolicyStatement(actions=["redshift-serverless:GetWorkgroup"], resources=[workgroup_arn]))
        if config.warehouse.federated_permissions is not None:  # verify reads the namespace's registration
            if namespace_arn is None:
                raise ValueError("warehouse.federated_permissions: the verifier role needs the namespace's ARN")
            add(iam.PolicyStatement(actions=["redshift-serverless:GetNamespace"], resources=[namespace_arn]))
        add(iam.PolicyStatement(
            actions=list(OWN_STATEMENT_ACTIONS), resources=["*"],
            conditions={"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}))
        add(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[admin_secret_arn]))
        key.grant_decrypt(self.role)  # the admin secret is encrypted with the environment's key
        acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                    f"{' and '.join(UNSCOPED_ACTIONS)} have no resource type in IAM (both only list or describe); "
                    f"{', '.join(OWN_STATEMENT_ACTIONS)} act on statement ids and are limited to this role's own "
                    "statements by redshift-data:statement-owner-iam-userid.")

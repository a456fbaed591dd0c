"""Identity propagation's customer-managed OAuth application: the settings the Identity stack's custom
resource puts, none of them a CloudFormation property, so drift detection never sees a change by hand."""

from __future__ import annotations

import json
from typing import Any

from redshift_idc.deployed.verify.assignments import assigned_principals, resolve_principals
from redshift_idc.deployed.verify.aws_calls import call, call_required, pages
from redshift_idc.deployed.verify.deployment import Deployment
from redshift_idc.deployed.verify.results import FAILED, OK, SKIPPED, CheckResult, check
from redshift_idc.deployed.verify.token_issuers import audience_difference, issuer_mismatches
from redshift_idc.runtime.idc_sso_admin import IAM_AUTHENTICATION, JWT_BEARER, REDSHIFT_CONNECT

OAUTH_APPLICATION = "customer-managed OAuth application (identity propagation)"
ACTOR_ACTION = "sso-oauth:CreateTokenWithIAM"


def _actor_principals(policy: Any) -> set[str]:
    """The AWS principals an application's actor policy lets call CreateTokenWithIAM."""
    document = json.loads(policy) if isinstance(policy, str) else policy
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    principals: set[str] = set()
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        if statement.get("Effect") != "Allow" or not {ACTOR_ACTION, "sso-oauth:*", "*"} & set(actions):
            continue
        aws = (statement.get("Principal") or {}).get("AWS", [])
        principals |= set(aws if isinstance(aws, list) else [aws])
    return principals


@check(OAUTH_APPLICATION)
def check_oauth_application(sso_admin: Any, identitystore: Any, deployment: Deployment) -> CheckResult:
    """The customer-managed application's settings that have no CloudFormation type (the Identity stack's
    custom resource puts them): trusted token issuer, grant, authentication method, scope, assignment."""
    config = deployment.config
    propagation = config.identity_propagation
    if propagation is None:
        return CheckResult(OAUTH_APPLICATION, SKIPPED, "identity_propagation is not configured")
    application = deployment.output("Identity", "OAuthApplicationArn")
    issuer = deployment.output("Identity", "TrustedTokenIssuerArn")
    bridge = deployment.output("Identity", "BridgeRoleArn")
    target = deployment.output("Warehouse", "IdcManagedApplicationArn")
    instance = config.identity_center.instance_arn
    resource = f"{instance} and {application}"
    problems = [f"trusted token issuer: {p}" for p in issuer_mismatches(
        sso_admin, issuer, propagation.issuer_url, propagation.claim_attribute_path,
        propagation.identity_store_attribute_path)]

    grant = call(sso_admin, "get_application_grant", resource, absent=("ResourceNotFoundException",),
                 ApplicationArn=application, GrantType=JWT_BEARER)
    issuers = ((grant or {}).get("Grant") or {}).get("JwtBearer", {}).get("AuthorizedTokenIssuers") or []
    audiences = next((i.get("AuthorizedAudiences") or [] for i in issuers if i.get("TrustedTokenIssuerArn") == issuer),
                     None)
    if grant is None:
        problems.append("no jwt-bearer grant")
    elif audiences is None:
        problems.append(f"the jwt-bearer grant does not name the trusted token issuer {issuer}")
    elif difference := audience_difference(propagation.audiences, audiences):
        problems.append(f"the jwt-bearer grant has {difference}")

    method = call(sso_admin, "get_application_authentication_method", resource,
                  absent=("ResourceNotFoundException",), ApplicationArn=application,
                  AuthenticationMethodType=IAM_AUTHENTICATION)
    if method is None:
        problems.append("no IAM authentication method")
    else:
        actors = _actor_principals(((method.get("AuthenticationMethod") or {}).get("Iam") or {}).get("ActorPolicy"))
        if bridge not in actors:
            problems.append(f"the IAM authentication method does not let the bridge role {bridge} exchange tokens")
        if actors - {bridge}:
            problems.append(f"the IAM authentication method also lets {', '.join(sorted(actors - {bridge}))} "
                            "exchange tokens (configured: the bridge role only)")

    scopes = pages(sso_admin, "list_application_access_scopes", "Scopes", resource, ApplicationArn=application)
    targets = next((s.get("AuthorizedTargets") or [] for s in scopes if s.get("Scope") == REDSHIFT_CONNECT), None)
    if targets is None:
        problems.append(f"no {REDSHIFT_CONNECT} scope")
    elif target not in targets:
        problems.append(f"the {REDSHIFT_CONNECT} scope does not authorize the Redshift IdC application {target}")

    setting = call_required(sso_admin, "get_application_assignment_configuration", resource,
                            ApplicationArn=application)
    required = setting.get("AssignmentRequired")
    if required is not propagation.assignment_required:
        problems.append(f"assignment required is {required}, configured {propagation.assignment_required}")
    if propagation.assignment_required:
        principals, unknown = resolve_principals(identitystore, config, propagation.assigned_groups)
        assigned = assigned_principals(sso_admin, application, instance)
        missing = [label for kind, label, principal_id in principals if (kind, principal_id) not in assigned]
        if unknown:
            problems.append(f"not in the identity store: {', '.join(unknown)}")
        if missing:
            problems.append(f"not assigned: {', '.join(missing)}")
    if problems:
        return CheckResult(OAUTH_APPLICATION, FAILED, f"{application}: {'; '.join(problems)}",
                           f"deploy the {config.stack_prefix}Identity stack: its Custom::IdcOAuthAppConfig sets the "
                           "issuer, grant, authentication method, scope and assignment setting, and it assigns "
                           "assigned_groups (a change made by hand is put back only when its properties change: "
                           "otherwise set it back in IAM Identity Center)")
    return CheckResult(OAUTH_APPLICATION, OK, f"{application}: issuer, grant, IAM authentication method, "
                                              f"{REDSHIFT_CONNECT} scope and assignment as configured")

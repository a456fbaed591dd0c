"""Why a step of the flow failed, worded for the person who can fix it, with nothing secret in it.

Each AWS refusal the users of seed 002 hit has a cause outside the client (an IdP token that does not match
the IAM OIDC provider, a user not assigned, a trust policy without sts:SetContext, ...): these functions name
it from the error code and the deployment's ARNs. AWS's own text is appended, scrubbed of anything shaped like
a token or an access key. `tip.py` decides which exception carries the message.

Redshift's "registered identity provider does not exist" is recognised and explained here as the runtime does
(`runtime/data_api.py`); the client keeps its own copy so that it imports nothing outside itself, and
`tests/test_tip_client.py` keeps the two the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from botocore.exceptions import ClientError

_INVALID_SCOPE = re.compile(r"invalid[\s_-]*scope|not authorized to connect to redshift", re.IGNORECASE)
# Defence in depth for AWS messages we pass on: JWT-shaped strings and access key ids are hidden.
_SECRET_SHAPES = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
# Redshift's answer to a name `<namespace>:<name>` (an IdC role or user) whose namespace no registered identity
# provider has: `ERROR: registered identity provider does not exist for "<namespace>:<name>"` (seed 001).
MISSING_IDENTITY_PROVIDER = re.compile(r"registered\s+identity\s+provider\s+does\s+not\s+exist", re.IGNORECASE)
MISSING_IDENTITY_PROVIDER_FIX = (
    "Redshift has no identity provider registered for the namespace of that name (SVV_IDENTITY_PROVIDERS). Fix: "
    "associate the Serverless namespace with the Redshift IdC application (the Warehouse stack sets its "
    "redshift_idc_application_arn: deploy it) and name IdC roles and users \"<identity_namespace>:<name>\" with "
    "that application's redshift_idc_application.identity_namespace, or create the access model's identity "
    "provider for that namespace first; `python -m redshift_idc verify --env <env> --outputs cdk-outputs.json` "
    "checks the registration and the namespace"
)


class Deployment(Protocol):
    """What the messages name: a `TipClientConfig` (read-only here)."""

    @property
    def region(self) -> str: ...

    @property
    def bridge_role_arn(self) -> str: ...

    @property
    def client_role_arn(self) -> str: ...

    @property
    def application_arn(self) -> str: ...

    @property
    def workgroup(self) -> str: ...

    @property
    def database(self) -> str: ...


def scrub(text: str) -> str:
    return _SECRET_SHAPES.sub("***", text)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def aws_text(error: ClientError) -> str:
    """AWS's code and message (or an OAuth error and its description), scrubbed and cut to 400 characters."""
    response = error.response
    message = str(response.get("Error", {}).get("Message") or response.get("error_description") or "")
    code = error_code(error) or str(response.get("error") or "error")
    text = f"{code}: {message}" if message else code
    return scrub(text)[:400]


def is_invalid_scope(text: str) -> bool:
    return bool(_INVALID_SCOPE.search(text))


def is_missing_identity_provider(error: str) -> bool:
    """Redshift's "registered identity provider does not exist" (matched on the phrase, case-insensitively:
    the only form documented is seed 001's `ERROR: registered identity provider does not exist for "..."`)."""
    return bool(MISSING_IDENTITY_PROVIDER.search(error or ""))


def bridge_refusal(error: ClientError, setup: Deployment, who: str, claims: Mapping[str, Any]) -> str:
    """Step 1, AssumeRoleWithWebIdentity on the bridge role."""
    code, text = error_code(error), aws_text(error)
    issuer, audience = claims.get("iss", "?"), claims.get("aud", "?")
    if code == "ExpiredTokenException":
        return (f"The sign-in of {who} has expired (AWS STS: the identity provider's token is expired): sign in "
                f"again. ({text})")
    if code in ("InvalidIdentityToken", "InvalidIdentityTokenException", "IDPRejectedClaim",
                "IDPRejectedClaimException"):
        return (f"AWS STS rejected the identity provider's token: its issuer ({issuer}) and audience ({audience}) "
                f"must match the IAM OIDC provider (provider URL = issuer, client ID list containing the audience) "
                f"that the bridge role {setup.bridge_role_arn} trusts. ({text})")
    if code == "AccessDenied":
        return (f"AWS STS denied AssumeRoleWithWebIdentity on the bridge role {setup.bridge_role_arn}: its trust "
                f"policy must allow the IAM OIDC provider of {issuer} with the audience {audience}. ({text})")
    if code == "IDPCommunicationError":
        return f"AWS STS could not reach the identity provider {issuer} to verify the token; try again. ({text})"
    return f"AssumeRoleWithWebIdentity on the bridge role {setup.bridge_role_arn} failed. ({text})"


def exchange_refusal(error: ClientError, setup: Deployment, who: str) -> str:
    """Step 2, CreateTokenWithIAM on the customer-managed application (AWS or OAuth error codes)."""
    code, text = error_code(error), aws_text(error)
    oauth_error = str(error.response.get("error") or "")
    app = setup.application_arn
    if code == "InvalidGrantException" or oauth_error == "invalid_grant":
        return (f"IAM Identity Center refused the token exchange for {who} (invalid_grant): the trusted token "
                f"issuer of application {app} must accept this issuer and audience, and its claim mapping (e.g. the "
                "token's `email` to the IdC attribute `emails.value`) must find exactly one user, so the user must "
                f"exist in IAM Identity Center with that attribute (provisioned from the IdP). ({text})")
    if code == "AccessDeniedException" or oauth_error == "access_denied":
        return (f"IAM Identity Center denied the token exchange for {who} (AccessDenied): either the "
                f"customer-managed application {app} requires assignment and this user (or a group of theirs) is "
                "not assigned to it (a new customer-managed application starts with assignment required), or the "
                f"bridge role {setup.bridge_role_arn} is not in the application's actor policy for the jwt-bearer "
                f"grant (its IAM authentication method). ({text})")
    if code == "ExpiredTokenException":
        return f"The sign-in of {who} has expired (IAM Identity Center: the token is expired): sign in again. ({text})"
    if code == "InvalidClientException":
        return (f"IAM Identity Center does not know the client {app} in {setup.region}: use the customer-managed "
                f"OAuth application's ARN (the OAuthApplicationArn output) and the Identity Center instance's "
                f"region. ({text})")
    if code in ("UnauthorizedClientException", "UnsupportedGrantTypeException"):
        return (f"Application {app} is not configured for the jwt-bearer grant with IAM authentication (trusted "
                f"token issuer grant and IAM authentication method). ({text})")
    if code == "InvalidRequestRegionException":
        return f"IAM Identity Center is not in {setup.region}: use the instance's region. ({text})"
    return f"CreateTokenWithIAM on application {app} failed. ({text})"


def client_role_refusal(error: ClientError, setup: Deployment) -> str:
    """Step 4, AssumeRole on the client role with the identity context."""
    text = aws_text(error)
    if error_code(error) == "AccessDenied":
        return (f"AWS STS denied AssumeRole on the client role {setup.client_role_arn}: its trust policy must allow "
                f"the bridge role {setup.bridge_role_arn} both sts:AssumeRole and sts:SetContext (and the bridge "
                f"role's policy must allow both on the client role). ({text})")
    return f"AssumeRole on the client role {setup.client_role_arn} with the identity context failed. ({text})"


def data_api_refusal(error: ClientError, setup: Deployment, who: str) -> str:
    """A Data API call of the query, refused."""
    code, text = error_code(error), aws_text(error)
    if is_invalid_scope(text):
        return invalid_scope(who, text)
    if is_missing_identity_provider(text):
        return missing_identity_provider(who, setup.workgroup, text)
    if code == "ExpiredTokenException":
        return (f"The session of {who} expired during the query: run it again (sign in again if the sign-in has "
                f"expired). ({text})")
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
        return (f"The client role {setup.client_role_arn} may not use the Data API on workgroup {setup.workgroup}. "
                f"({text})")
    if code == "ResourceNotFoundException":
        return (f"Workgroup {setup.workgroup} or database {setup.database} was not found in {setup.region}. "
                f"({text})")
    return f"The Data API call failed. ({text})"


def invalid_scope(who: str, text: str) -> str:
    return (f"Redshift refused {who} with 'Invalid scope': the user (or a group of theirs) is not assigned to the "
            "Redshift IAM Identity Center application (Redshift console > IAM Identity Center connections), or that "
            "application is not a trusted target of this client application with the redshift:connect scope. After "
            "an assignment it can take up to an hour to apply, because IAM Identity Center caches sessions; then "
            f"sign in again. ({text})")


def missing_identity_provider(who: str, workgroup: str, text: str) -> str:
    """A setup problem of the warehouse, not of the query or the session."""
    return (f"Redshift could not map {who} to a database identity on workgroup {workgroup}: "
            f"{MISSING_IDENTITY_PROVIDER_FIX}. ({text})")

"""The sso-admin calls the IAM Identity Center custom resources make (`OAuthAppClient`), each named after the step
it takes so a failure says which broke (`StepFailed`), and the application policy they put (`actor_policy`).

Only the standard library and boto3 are imported: this module runs in Lambda.
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from redshift_idc.runtime.custom_resource import CustomResourceError
from redshift_idc.runtime.idc_properties import TRUSTED_TOKEN_ISSUER_ARN, IssuerConfig

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 8})
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
IAM_AUTHENTICATION = "IAM"
REDSHIFT_CONNECT = "redshift:connect"
NOT_FOUND = "ResourceNotFoundException"


def actor_policy(role_arns: tuple[str, ...]) -> dict[str, Any]:
    """The application policy (`ActorPolicy`, a JSON document in the API): only these roles may exchange
    tokens, and only with CreateTokenWithIAM. In an application policy the resource is the application
    itself, so "*" here means "this application", not "every application"."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": list(role_arns)},
            "Action": "sso-oauth:CreateTokenWithIAM",
            "Resource": "*",
        }],
    }


class StepFailed(CustomResourceError):
    """An sso-admin call failed. `outcome_known` is False when the call may have taken effect (a timeout or
    connection error, not an answer from the service), so cleanup must undo it too."""

    def __init__(self, step: str, operation: str, code: str, message: str, outcome_known: bool) -> None:
        super().__init__(f"{step} ({operation}) failed: {code}: {message}")
        self.code = code
        self.outcome_known = outcome_known


class OAuthAppClient:
    """The sso-admin calls both resource types make, each named so a failure says which step broke."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _call(self, step: str, operation: str, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**params)
        except ClientError as error:
            err = error.response.get("Error", {})
            raise StepFailed(step, operation, str(err.get("Code", "")), str(err.get("Message", "")),
                             outcome_known=True) from None
        except BotoCoreError as error:
            raise StepFailed(step, operation, type(error).__name__, str(error), outcome_known=False) from None
        return response

    def _delete(self, step: str, operation: str, **params: Any) -> str | None:
        """None when deleted or already gone (so retries and repeated Deletes succeed); else the error."""
        try:
            self._call(step, operation, **params)
        except StepFailed as failure:
            if failure.code == NOT_FOUND:
                LOG.info("%s: already gone", step)
                return None
            return str(failure)
        return None

    def create_issuer(self, config: IssuerConfig, client_token: str) -> str:
        response = self._call(
            "create the trusted token issuer", "create_trusted_token_issuer",
            InstanceArn=config.instance_arn, Name=config.issuer_name, TrustedTokenIssuerType="OIDC_JWT",
            TrustedTokenIssuerConfiguration={"OidcJwtConfiguration": {
                "IssuerUrl": config.issuer_url,
                "ClaimAttributePath": config.claim_attribute_path,
                "IdentityStoreAttributePath": config.identity_store_attribute_path,
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }},
            ClientToken=client_token,
        )
        return str(response["TrustedTokenIssuerArn"])

    def update_issuer(self, issuer_arn: str, config: IssuerConfig, old: IssuerConfig | None) -> None:
        """Send only what changed (everything when the old state is unknown)."""
        params: dict[str, Any] = {}
        if old is None or old.issuer_name != config.issuer_name:
            params["Name"] = config.issuer_name
        if (old is None or old.claim_attribute_path != config.claim_attribute_path
                or old.identity_store_attribute_path != config.identity_store_attribute_path):
            params["TrustedTokenIssuerConfiguration"] = {"OidcJwtConfiguration": {
                "ClaimAttributePath": config.claim_attribute_path,
                "IdentityStoreAttributePath": config.identity_store_attribute_path,
            }}
        if params:
            self._call("update the trusted token issuer", "update_trusted_token_issuer",
                       TrustedTokenIssuerArn=issuer_arn, **params)

    def issuer_serves(self, issuer_arn: str, config: IssuerConfig) -> bool:
        """Whether this existing TTI already has the wanted instance and issuer URL. A rollback Update sends
        the original properties with the original physical id: that TTI must be kept, not replaced (a
        second TTI for the same issuer URL in the same instance would not be accepted)."""
        match = TRUSTED_TOKEN_ISSUER_ARN.fullmatch(issuer_arn)
        if not match or match.group("instance") != config.instance_id:
            return False
        try:
            response = self._call("read the trusted token issuer", "describe_trusted_token_issuer",
                                  TrustedTokenIssuerArn=issuer_arn)
        except StepFailed as failure:
            if failure.code == NOT_FOUND:
                return False
            raise
        oidc = response.get("TrustedTokenIssuerConfiguration", {}).get("OidcJwtConfiguration", {})
        return str(oidc.get("IssuerUrl", "")) == config.issuer_url  # as `iss` carries it: a slash matters

    def find_issuer(self, config: IssuerConfig) -> str | None:
        """An existing TTI of this instance with the wanted name and issuer URL, if any. After a failed
        update that moved the issuer URL, CloudFormation rolls back with the original properties while the
        original TTI still exists (it is deleted only after a successful update): that TTI is taken back
        instead of creating a second one for the same URL."""
        params: dict[str, Any] = {"InstanceArn": config.instance_arn}
        while True:
            response = self._call("list the trusted token issuers", "list_trusted_token_issuers", **params)
            for item in response.get("TrustedTokenIssuers", []):
                arn = str(item.get("TrustedTokenIssuerArn", ""))
                if item.get("Name") == config.issuer_name and self.issuer_serves(arn, config):
                    return arn
            if not response.get("NextToken"):
                return None
            params["NextToken"] = response["NextToken"]

    def put_grant(self, application_arn: str, issuer_arn: str, audiences: tuple[str, ...]) -> None:
        self._call("authorize the issuer's tokens (jwt-bearer grant)", "put_application_grant",
                   ApplicationArn=application_arn, GrantType=JWT_BEARER,
                   Grant={"JwtBearer": {"AuthorizedTokenIssuers": [
                       {"TrustedTokenIssuerArn": issuer_arn, "AuthorizedAudiences": list(audiences)}]}})

    def put_authentication_method(self, application_arn: str, role_arns: tuple[str, ...]) -> None:
        self._call("set the IAM authentication method (actor policy)", "put_application_authentication_method",
                   ApplicationArn=application_arn, AuthenticationMethodType=IAM_AUTHENTICATION,
                   AuthenticationMethod={"Iam": {"ActorPolicy": actor_policy(role_arns)}})

    def put_access_scope(self, application_arn: str, targets: tuple[str, ...]) -> None:
        self._call(f"authorize the {REDSHIFT_CONNECT} scope", "put_application_access_scope",
                   ApplicationArn=application_arn, Scope=REDSHIFT_CONNECT, AuthorizedTargets=list(targets))

    def put_assignment_configuration(self, application_arn: str, required: bool) -> None:
        self._call("set whether assignment is required", "put_application_assignment_configuration",
                   ApplicationArn=application_arn, AssignmentRequired=required)

    def grant_issuers(self, application_arn: str) -> list[str] | None:
        """The TTI ARNs the application's jwt-bearer grant names; None when there is no grant (or no
        application). Delete uses this to tell whether the application's configuration is still ours."""
        try:
            response = self._call("read the jwt-bearer grant", "get_application_grant",
                                  ApplicationArn=application_arn, GrantType=JWT_BEARER)
        except StepFailed as failure:
            if failure.code == NOT_FOUND:
                return None
            raise
        issuers = response.get("Grant", {}).get("JwtBearer", {}).get("AuthorizedTokenIssuers", [])
        return [str(i.get("TrustedTokenIssuerArn", "")) for i in issuers]

    def delete_access_scope(self, application_arn: str) -> str | None:
        return self._delete(f"delete the {REDSHIFT_CONNECT} scope", "delete_application_access_scope",
                            ApplicationArn=application_arn, Scope=REDSHIFT_CONNECT)

    def delete_authentication_method(self, application_arn: str) -> str | None:
        return self._delete("delete the IAM authentication method", "delete_application_authentication_method",
                            ApplicationArn=application_arn, AuthenticationMethodType=IAM_AUTHENTICATION)

    def delete_grant(self, application_arn: str) -> str | None:
        return self._delete("delete the jwt-bearer grant", "delete_application_grant",
                            ApplicationArn=application_arn, GrantType=JWT_BEARER)

    def delete_issuer(self, issuer_arn: str) -> str | None:
        return self._delete("delete the trusted token issuer", "delete_trusted_token_issuer",
                            TrustedTokenIssuerArn=issuer_arn)


def connect(client: Any = None) -> OAuthAppClient:
    """`client` (an sso-admin client, for tests), else one made in the Lambda's region: the IdC instance must be
    in that region."""
    return OAuthAppClient(client or boto3.client("sso-admin", config=RETRIES))

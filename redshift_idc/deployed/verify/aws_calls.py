"""One AWS call as a check makes it: an AWS error becomes a CheckError naming the permission or the problem,
never a traceback; a missing credential is not caught (without credentials nothing can be checked)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from redshift_idc.deployed.session import ACCESS_DENIED_CODES
from redshift_idc.deployed.verify.results import CheckError
from redshift_idc.runtime.data_api import error_code

# The IAM action behind each API call verify makes, named when a call is denied. The pipeline's verifier
# role (redshift_idc/cdk/components/verifier_role.py) holds exactly these, and a test keeps the two equal.
IAM_ACTIONS: dict[str, str] = {
    "ListInstances": "sso:ListInstances",
    "ListApplicationAssignments": "sso:ListApplicationAssignments",
    "ListTrustedTokenIssuers": "sso:ListTrustedTokenIssuers",
    "DescribeTrustedTokenIssuer": "sso:DescribeTrustedTokenIssuer",
    "GetApplicationGrant": "sso:GetApplicationGrant",
    "GetApplicationAuthenticationMethod": "sso:GetApplicationAuthenticationMethod",
    "ListApplicationAccessScopes": "sso:ListApplicationAccessScopes",
    "GetApplicationAssignmentConfiguration": "sso:GetApplicationAssignmentConfiguration",
    "GetGroupId": "identitystore:GetGroupId",
    "GetUserId": "identitystore:GetUserId",
    "DescribeRedshiftIdcApplications": "redshift:DescribeRedshiftIdcApplications",
    "GetWorkgroup": "redshift-serverless:GetWorkgroup",
    "GetNamespace": "redshift-serverless:GetNamespace",
    "BatchExecuteStatement": "redshift-data:BatchExecuteStatement",
    "DescribeStatement": "redshift-data:DescribeStatement",
    "GetStatementResult": "redshift-data:GetStatementResult",
    "CancelStatement": "redshift-data:CancelStatement",
}
# What the Data API needs besides its own actions to run as the admin secret's user.
DATA_API_SECRET_ACTIONS = ("secretsmanager:GetSecretValue", "kms:Decrypt")


def client_error(error: ClientError, operation: str, resource: str) -> CheckError:
    """The failed check an AWS error means; for a denial, the IAM action to allow and on what."""
    code = error_code(error)
    message = str(error.response.get("Error", {}).get("Message", ""))
    if code in ACCESS_DENIED_CODES:
        action = IAM_ACTIONS.get(operation, operation)
        return CheckError(f"{operation} was denied ({code})",
                          f"allow {action} on {resource} to the identity running verify (in the pipeline: the "
                          "verifier role of the <Env>Verifier stack)")
    if code == "DependentServiceAccessDeniedFault":
        return CheckError(f"{operation}: Redshift could not read IAM Identity Center on the caller's behalf "
                          f"({code}: {message})",
                          "allow sso:GetApplicationGrant and sso:ListApplicationAccessScopes on the Redshift IdC "
                          "application's IdC-managed application too: Redshift reads them to describe it")
    return CheckError(f"{operation} failed: {code}: {message}")


def _operation(client: Any, method: str) -> str:
    return str(client.meta.method_to_api_mapping.get(method, method))


def call(client: Any, method: str, resource: str, *, absent: Iterable[str] = (),
         **params: Any) -> dict[str, Any] | None:
    """One call; None when it fails with one of the `absent` codes (what "not found" looks like there)."""
    operation = _operation(client, method)
    try:
        return dict(getattr(client, method)(**params))
    except ClientError as error:
        if error_code(error) in set(absent):
            return None
        raise client_error(error, operation, resource) from None
    except NoCredentialsError:
        raise
    except BotoCoreError as error:
        raise CheckError(f"could not call {operation}: {type(error).__name__}: {error}") from None


def call_required(client: Any, method: str, resource: str, **params: Any) -> dict[str, Any]:
    """One call whose every failure ends the check (nothing to tell apart as "not found")."""
    response = call(client, method, resource, **params)
    assert response is not None  # no `absent` codes: every failure raised
    return response


def pages(client: Any, method: str, key: str, resource: str, *, absent: Iterable[str] = (),
          **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated list call (botocore's paginator follows the tokens); [] for `absent` codes."""
    operation = _operation(client, method)
    items: list[dict[str, Any]] = []
    try:
        for page in client.get_paginator(method).paginate(**params):
            items += page.get(key) or []
    except ClientError as error:
        if error_code(error) in set(absent):
            return []
        raise client_error(error, operation, resource) from None
    except NoCredentialsError:
        raise
    except BotoCoreError as error:
        raise CheckError(f"could not call {operation}: {type(error).__name__}: {error}") from None
    return items

"""`python -m redshift_idc verify`: what CloudFormation cannot see, checked read-only with your credentials.

A deploy can succeed and still leave a warehouse IdC users cannot use: the IdC instance in another region, a
namespace without its identity provider, a group never assigned, a token issuer with another claim mapping,
an OAuth application whose grant or scope was changed by hand, a reconciler that cannot see RLS. None of
those is a CloudFormation resource property, so drift detection never reports them. Each check here reads
the live configuration (IAM Identity Center, Redshift, the catalog through the Data API) and compares it with
`config/<env>.yaml` and the deploy's outputs; nothing is created, changed or granted.

One function per check, each taking the boto3 clients it calls (tests pass Stubber-wrapped clients) and
returning a `CheckResult`: ok, failed (what is wrong and the fix) or skipped (not configured, or a check it
needs failed first). An AWS error becomes a failed result naming the permission or the problem, never a
traceback. Exit codes:

    0  every check ok (or skipped because the environment does not use it)
    1  a check failed: the checklist says which and how to fix it
    2  configuration, usage or credentials: nothing was checked
"""

from __future__ import annotations

import functools
import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, ParamSpec, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.config.identity_center import IdcGroup, IdcUser
from redshift_idc.deployed.session import (
    ACCESS_DENIED_CODES,
    ADMIN_SECRET_OUTPUT,
    LiveError,
    Outputs,
    check_secret_arn,
    load_outputs,
    no_credentials,
    outputs_from_environ,
)
from redshift_idc.runtime.access_state import AccessState, IdentityProvider
from redshift_idc.runtime.catalog import SECADMIN, identity_queries
from redshift_idc.runtime.data_api import RETRIES, DataApi, Target, error_code, is_transient
from redshift_idc.runtime.idc_oauth_app import (
    IAM_AUTHENTICATION,
    JWT_BEARER,
    REDSHIFT_CONNECT,
    trusted_token_issuer_name,
)
from redshift_idc.runtime.reconciler import ReconcileError, Reconciler, Request, statement_token
from redshift_idc.runtime.sql_text import fold, quote_ident, quote_literal

ALL_OK, CHECK_FAILED, ERROR = 0, 1, 2
Status = Literal["ok", "failed", "skipped"]
OK: Status = "ok"
FAILED: Status = "failed"
SKIPPED: Status = "skipped"
AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)

REGION = "IdC instance in the warehouse's region"
IDENTITY_PROVIDER = "identity provider registered in SVV_IDENTITY_PROVIDERS"
ASSIGNMENTS = "groups and users assigned to the Redshift IdC application"
TOKEN_ISSUERS = "trusted token issuers of the Redshift IdC application"  # noqa: S105 -- a check's name
OAUTH_APPLICATION = "customer-managed OAuth application (identity propagation)"
SECADMIN_CHECK = f"reconciler sees RLS ({SECADMIN})"
# Each check and what it compares, in the order they run (the CLI's --help prints this).
CHECKS: tuple[tuple[str, str], ...] = (
    (REGION, "sso-admin ListInstances in the environment's region returns identity_center.instance_arn, active, "
             "with identity_center.identity_store_id: Redshift needs IdC in its own region, for IdC and for "
             "datashares (seed 000)"),
    (IDENTITY_PROVIDER, "as the admin secret's user (a superuser): an enabled AWSIDC identity provider whose "
                        "namespace is redshift_idc_application.identity_namespace"),
    (ASSIGNMENTS, "every redshift_idc_application group and user (ids resolved by name in the identity store) "
                  "is assigned to the application's IdC-managed application"),
    (TOKEN_ISSUERS, "each redshift_idc_application.trusted_token_issuers entry exists with its issuer URL and "
                    "claim mapping and is authorized on the Redshift IdC application with its audiences"),
    (OAUTH_APPLICATION, "identity_propagation: its trusted token issuer (URL, claim mapping), the jwt-bearer "
                        "grant with its audiences, the IAM authentication method for the bridge role only, the "
                        "redshift:connect scope on the Redshift IdC application, the assignment setting and the "
                        "assigned groups"),
    (SECADMIN_CHECK, f"the admin secret's user, as which the reconciler runs, holds {SECADMIN}: without it RLS "
                     "attachments and masking are invisible and the reconciler refuses to plan"),
)
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
    "BatchExecuteStatement": "redshift-data:BatchExecuteStatement",
    "DescribeStatement": "redshift-data:DescribeStatement",
    "GetStatementResult": "redshift-data:GetStatementResult",
    "CancelStatement": "redshift-data:CancelStatement",
}
# What the Data API needs besides its own actions to run as the admin secret's user.
DATA_API_SECRET_ACTIONS = ("secretsmanager:GetSecretValue", "kms:Decrypt")
# The stack outputs verify reads: (stack suffix, output key). The pipeline passes exactly these.
WAREHOUSE_OUTPUTS = ("RedshiftIdcApplicationArn", "IdcManagedApplicationArn", ADMIN_SECRET_OUTPUT)
IDENTITY_OUTPUTS = ("OAuthApplicationArn", "TrustedTokenIssuerArn", "BridgeRoleArn")
ACTOR_ACTION = "sso-oauth:CreateTokenWithIAM"


def required_outputs(config: EnvironmentConfig) -> list[tuple[str, str]]:
    """(stack id, output key) of every output verify reads for this environment."""
    stacks = [("Warehouse", WAREHOUSE_OUTPUTS)]
    if config.identity_propagation is not None:
        stacks.append(("Identity", IDENTITY_OUTPUTS))
    return [(f"{config.stack_prefix}{suffix}", key) for suffix, keys in stacks for key in keys]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str = ""
    fix: str = ""
    stops: str = ""  # set when checks that need what this one looked for cannot run: the reason they skip

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def lines(self) -> list[str]:
        """The checklist entry: `ok  <name>`, `skipped <name>: why`, or `FAILED <name>: detail` and its fix."""
        if self.status == OK:
            return [f"ok  {self.name}" + (f": {self.detail}" if self.detail else "")]
        if self.status == SKIPPED:
            return [f"skipped {self.name}: {self.detail}"]
        return [f"FAILED {self.name}: {self.detail}", *([f"    fix: {self.fix}"] if self.fix else [])]


class CheckError(Exception):
    """Ends one check as failed: what was found (`detail`) and what to do (`fix`, when known)."""

    def __init__(self, detail: str, fix: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


P = ParamSpec("P")


def _check(name: str, fix: str = "") -> Callable[[Callable[P, CheckResult]], Callable[P, CheckResult]]:
    """A check function that raises CheckError returns it as a failed result instead (with `fix` when the
    error names none). NoCredentialsError is not caught: without credentials nothing can be checked."""
    def decorate(function: Callable[P, CheckResult]) -> Callable[P, CheckResult]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> CheckResult:
            try:
                return function(*args, **kwargs)
            except CheckError as error:
                return CheckResult(name, FAILED, error.detail, error.fix or fix)
        return run
    return decorate


# --------------------------------------------------------------------------------------- AWS calls


def _client_error(error: ClientError, operation: str, resource: str) -> CheckError:
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


def _call(client: Any, method: str, resource: str, *, absent: Iterable[str] = (),
          **params: Any) -> dict[str, Any] | None:
    """One call; None when it fails with one of the `absent` codes (what "not found" looks like there)."""
    operation = _operation(client, method)
    try:
        return dict(getattr(client, method)(**params))
    except ClientError as error:
        if error_code(error) in set(absent):
            return None
        raise _client_error(error, operation, resource) from None
    except NoCredentialsError:
        raise
    except BotoCoreError as error:
        raise CheckError(f"could not call {operation}: {type(error).__name__}: {error}") from None


def _required(client: Any, method: str, resource: str, **params: Any) -> dict[str, Any]:
    response = _call(client, method, resource, **params)
    assert response is not None  # no `absent` codes: every failure raised
    return response


def _pages(client: Any, method: str, key: str, resource: str, *, absent: Iterable[str] = (),
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
        raise _client_error(error, operation, resource) from None
    except NoCredentialsError:
        raise
    except BotoCoreError as error:
        raise CheckError(f"could not call {operation}: {type(error).__name__}: {error}") from None
    return items


@dataclass(frozen=True)
class Clients:
    """The clients the checks call, all in the environment's region (where the IdC instance must be)."""

    sso_admin: Any
    identitystore: Any
    redshift: Any
    redshift_data: Any

    @classmethod
    def for_region(cls, region: str) -> Clients:
        return cls(boto3.client("sso-admin", region_name=region, config=AWS_CONFIG),
                   boto3.client("identitystore", region_name=region, config=AWS_CONFIG),
                   boto3.client("redshift", region_name=region, config=AWS_CONFIG),
                   boto3.client("redshift-data", region_name=region, config=RETRIES))


@dataclass(frozen=True)
class Deployment:
    """The environment as configured and as its deploy's outputs describe it."""

    config: EnvironmentConfig
    outputs: Outputs
    secret_arn: str | None = None  # --secret-arn; otherwise the Warehouse stack's AdminSecretArn output

    def output(self, suffix: str, key: str) -> str:
        stack = f"{self.config.stack_prefix}{suffix}"
        value = self.outputs.get(stack, key)
        if value is None:
            hint = f"; {self.outputs.hint}" if self.outputs.hint else ""
            raise CheckError(self.outputs.missing(stack, key), f"deploy the {stack} stack and pass its outputs{hint}")
        return value

    def admin_secret_arn(self) -> str:
        value = self.secret_arn or self.output("Warehouse", ADMIN_SECRET_OUTPUT)
        try:
            return check_secret_arn(value, self.config)
        except LiveError as error:
            raise CheckError(str(error)) from None


def _identity_store_resources(config: EnvironmentConfig, kind: str) -> str:
    store = config.identity_center.identity_store_id
    partition = config.identity_center.partition
    return (f"arn:{partition}:identitystore::{config.account}:identitystore/{store} and "
            f"arn:{partition}:identitystore:::{kind}/*")


def _principals(identitystore: Any, config: EnvironmentConfig, groups: Iterable[IdcGroup],
                users: Iterable[IdcUser] = ()) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(principal type, label, id) of each group and user, with ids looked up by display name / user name
    where the config has none (as the deploy does), and the labels the identity store does not know."""
    store = config.identity_center.identity_store_id
    found: list[tuple[str, str, str]] = []
    unknown: list[str] = []
    wanted = [("GROUP", f"group {g.display_name}", g.group_id, "displayName", g.display_name) for g in groups]
    wanted += [("USER", f"user {u.user_name}", u.user_id, "userName", u.user_name) for u in users]
    for kind, label, known_id, attribute, value in wanted:
        principal_id = known_id
        if principal_id is None:
            method, key = ("get_group_id", "GroupId") if kind == "GROUP" else ("get_user_id", "UserId")
            response = _call(identitystore, method, _identity_store_resources(config, kind.lower()),
                             absent=("ResourceNotFoundException",), IdentityStoreId=store,
                             AlternateIdentifier={"UniqueAttribute": {"AttributePath": attribute,
                                                                      "AttributeValue": value}})
            principal_id = str(response[key]) if response else None
        if principal_id is None:
            unknown.append(label)
        else:
            found.append((kind, label, principal_id))
    return found, unknown


def _assigned(sso_admin: Any, application_arn: str, instance_arn: str) -> set[tuple[str, str]]:
    items = _pages(sso_admin, "list_application_assignments", "ApplicationAssignments",
                   f"{instance_arn} and {application_arn}", ApplicationArn=application_arn)
    return {(str(a.get("PrincipalType")), str(a.get("PrincipalId"))) for a in items}


def _issuer_mismatches(sso_admin: Any, issuer_arn: str, url: str, claim: str, attribute: str) -> list[str]:
    """How the trusted token issuer differs from the configured URL and claim mapping ([] when it matches)."""
    response = _call(sso_admin, "describe_trusted_token_issuer", issuer_arn, absent=("ResourceNotFoundException",),
                     TrustedTokenIssuerArn=issuer_arn)
    if response is None:
        return [f"{issuer_arn} does not exist"]
    oidc = (response.get("TrustedTokenIssuerConfiguration") or {}).get("OidcJwtConfiguration") or {}
    problems = []
    for what, wanted, actual in (("issuer URL", url, oidc.get("IssuerUrl")),
                                 ("claim attribute path", claim, oidc.get("ClaimAttributePath")),
                                 ("identity store attribute path", attribute, oidc.get("IdentityStoreAttributePath"))):
        if actual != wanted:
            problems.append(f"{what} is {actual!r}, configured {wanted!r}")
    return problems


def _audience_difference(wanted: Iterable[str], actual: Iterable[str]) -> str:
    """'' when equal, else which audiences are missing and which are extra."""
    wanted_set, actual_set = set(wanted), set(actual)
    parts = []
    if wanted_set - actual_set:
        parts.append(f"missing audiences {', '.join(sorted(wanted_set - actual_set))}")
    if actual_set - wanted_set:
        parts.append(f"extra audiences {', '.join(sorted(actual_set - wanted_set))}")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------ checks


@_check(REGION)
def check_instance_region(sso_admin: Any, config: EnvironmentConfig) -> CheckResult:
    """The configured IdC instance is listed in the warehouse's region, active, with the configured store."""
    region = config.region
    arn = config.identity_center.instance_arn
    instances = _pages(sso_admin, "list_instances", "Instances", "*")
    found = next((i for i in instances if i.get("InstanceArn") == arn), None)
    if found is None:
        others = sorted(str(i.get("InstanceArn")) for i in instances)
        listed = f"it lists {', '.join(others)}" if others else "it lists no instance"
        return CheckResult(
            REGION, FAILED, f"ListInstances in {region} does not list {arn} ({listed})",
            f"Redshift needs the IAM Identity Center instance in its own region (seed 000: for IdC and for "
            f"datashares): set identity_center.instance_arn and identity_store_id in config/{config.name}.yaml to "
            f"{region}'s instance, or deploy the environment to the instance's region",
            stops=f"the IdC instance is not in {region}")
    problems = []
    if found.get("Status", "ACTIVE") != "ACTIVE":
        problems.append(f"its status is {found.get('Status')}")
    regions = {str(r.get("RegionName")) for r in found.get("Regions") or [] if r.get("Status", "ACTIVE") == "ACTIVE"}
    if regions and region not in regions:
        problems.append(f"it is active in {', '.join(sorted(regions))}, not in {region}")
    store = found.get("IdentityStoreId")
    if store and store != config.identity_center.identity_store_id:
        problems.append(f"its identity store is {store}, configured {config.identity_center.identity_store_id}")
    if problems:
        return CheckResult(REGION, FAILED, f"{arn}: {'; '.join(problems)}",
                           f"correct identity_center in config/{config.name}.yaml (IAM Identity Center > Settings "
                           f"in {region}), or wait until the instance is active in {region}",
                           stops=f"the IdC instance does not match config/{config.name}.yaml")
    return CheckResult(REGION, OK, f"{arn} in {region}")


@dataclass(frozen=True)
class WarehouseView:
    """What the admin secret's user sees: who it is, and the registered identity providers."""

    user: str
    superuser: bool
    secadmin: bool
    providers: tuple[IdentityProvider, ...]


def read_warehouse(redshift_data: Any, deployment: Deployment,
                   sleep: Callable[[float], None] = time.sleep) -> WarehouseView:
    """One read batch (SELECTs only: the reconciler's read of the reader and SVV_IDENTITY_PROVIDERS) as the
    admin secret's user; raises CheckError."""
    config = deployment.config
    where = f"{config.warehouse.workgroup_name}/{config.warehouse.database_name}"
    secret_arn = deployment.admin_secret_arn()
    api = DataApi(Target(config.warehouse.workgroup_name, config.warehouse.database_name, secret_arn), redshift_data)
    request = Request(model="verify", desired=AccessState(), token=statement_token(f"verify:{time.time_ns()}"),
                      needs_secadmin=False)
    reconciler = Reconciler(api, request, read_only=True, queries=identity_queries())
    try:
        snapshot = reconciler.read_now(sleep)
    except ReconcileError as error:
        hint = "this looks transient (a paused workgroup resuming, a cancelled first query): run again" if (
            is_transient(str(error))) else ""
        raise CheckError(f"{where}: {error}", hint) from None
    except ClientError as error:
        operation = getattr(error, "operation_name", "") or "the Data API"
        failure = _client_error(error, operation, f"workgroup {config.warehouse.workgroup_name}")
        raise CheckError(f"{where}: {failure.detail}",
                         failure.fix and "allow redshift-data:BatchExecuteStatement on the workgroup, "
                         "redshift-data:DescribeStatement, GetStatementResult and CancelStatement on your own "
                         f"statements, secretsmanager:GetSecretValue on {secret_arn} and kms:Decrypt on its key") \
            from None
    except NoCredentialsError:
        raise
    except BotoCoreError as error:
        raise CheckError(f"{where}: could not call the Redshift Data API: {type(error).__name__}: {error}") from None
    providers = tuple(p for p in snapshot.state.of_kind(IdentityProvider.KIND).values()
                      if isinstance(p, IdentityProvider))
    return WarehouseView(snapshot.user, snapshot.superuser, snapshot.secadmin,
                         tuple(sorted(providers, key=lambda p: p.name)))


def _view(view: WarehouseView | CheckError) -> WarehouseView:
    if isinstance(view, CheckError):
        raise view
    return view


@_check(IDENTITY_PROVIDER)
def check_identity_provider(view: WarehouseView | CheckError, deployment: Deployment) -> CheckResult:
    """An enabled AWSIDC identity provider with the environment's identity namespace: without it every
    `<namespace>:<group>` role fails with "registered identity provider does not exist"."""
    config = deployment.config
    namespace = config.redshift_idc_application.identity_namespace
    seen = _view(view)
    if not seen.superuser:
        return CheckResult(IDENTITY_PROVIDER, FAILED,
                           f"user {seen.user or '(unknown)'} is not a superuser, so SVV_IDENTITY_PROVIDERS shows it "
                           "no row",
                           f"pass the namespace admin's secret (the {config.stack_prefix}Warehouse stack's "
                           f"{ADMIN_SECRET_OUTPUT} output)")
    idc = [p for p in seen.providers if p.type == "awsidc"]
    listed = ", ".join(f"{p.name} ({p.type}, namespace {p.namespace})" for p in seen.providers) or "none"
    matching = [p for p in idc if fold(p.namespace) == fold(namespace)]
    if not idc:
        try:
            app = f"'{deployment.output('Warehouse', 'IdcManagedApplicationArn')}'"
        except CheckError:
            app = "'<IdcManagedApplicationArn output>'"
        return CheckResult(
            IDENTITY_PROVIDER, FAILED,
            f"no AWSIDC identity provider is registered (SVV_IDENTITY_PROVIDERS holds: {listed}); IdC users and "
            f"roles \"{namespace}:<name>\" fail with \"registered identity provider does not exist\"",
            f"associate the namespace with the Redshift IdC application: deploy the {config.stack_prefix}Warehouse "
            "stack (it sets the namespace's redshift_idc_application_arn); or register it as a superuser: CREATE "
            f"IDENTITY PROVIDER {quote_ident(config.redshift_idc_application.name)} TYPE AWSIDC NAMESPACE "
            f"{quote_literal(namespace)} APPLICATION_ARN {app} IAM_ROLE '<the application's IAM role ARN>'")
    if not matching:
        names = ", ".join(f"{p.name} (namespace {p.namespace})" for p in idc)
        first = idc[0]
        return CheckResult(
            IDENTITY_PROVIDER, FAILED,
            f"the AWSIDC identity provider {names} does not have the namespace {namespace} of "
            f"config/{config.name}.yaml; roles \"{namespace}:<group>\" fail with \"registered identity provider does "
            "not exist\"",
            f"set redshift_idc_application.identity_namespace to {first.namespace}, or, as a superuser, ALTER "
            f"IDENTITY PROVIDER {quote_ident(first.name)} NAMESPACE {quote_literal(namespace)} (renames every "
            "role of that provider)")
    disabled = [p for p in matching if p.enabled is False]
    if disabled:
        return CheckResult(IDENTITY_PROVIDER, FAILED,
                           f"identity provider {disabled[0].name} (namespace {disabled[0].namespace}) is disabled: "
                           "IdC users cannot sign in",
                           f"as a superuser: ALTER IDENTITY PROVIDER {quote_ident(disabled[0].name)} ENABLE")
    return CheckResult(IDENTITY_PROVIDER, OK, f"{matching[0].name} (awsidc, namespace {matching[0].namespace})")


@_check(ASSIGNMENTS)
def check_assignments(sso_admin: Any, identitystore: Any, deployment: Deployment) -> CheckResult:
    """Every configured group and user is assigned to the IdC-managed application: an unassigned user gets
    "Invalid scope" when connecting (seed 000)."""
    config = deployment.config
    application = config.redshift_idc_application
    if not application.groups and not application.users:
        return CheckResult(ASSIGNMENTS, SKIPPED, f"config/{config.name}.yaml assigns no group or user")
    managed = deployment.output("Warehouse", "IdcManagedApplicationArn")
    principals, unknown = _principals(identitystore, config, application.groups, application.users)
    assigned = _assigned(sso_admin, managed, config.identity_center.instance_arn)
    missing = [f"{label} ({principal_id})" for kind, label, principal_id in principals
               if (kind, principal_id) not in assigned]
    problems = []
    if unknown:
        problems.append(f"not in identity store {config.identity_center.identity_store_id}: {', '.join(unknown)}")
    if missing:
        problems.append(f"not assigned to {managed}: {', '.join(missing)}")
    if problems:
        fixes = []
        if unknown:
            fixes.append(f"create them in IAM Identity Center (or correct display_name / user_name in "
                         f"config/{config.name}.yaml): the deploy resolves names the same way")
        if missing:
            fixes.append(f"deploy the {config.stack_prefix}Warehouse stack (it assigns every group and user of "
                         "redshift_idc_application), or assign them in IAM Identity Center > Applications; an "
                         "assignment can take an hour to reach users (session caching)")
        return CheckResult(ASSIGNMENTS, FAILED, "; ".join(problems), "; ".join(fixes))
    groups = sum(1 for kind, _, _ in principals if kind == "GROUP")
    extra = len(assigned - {(kind, principal_id) for kind, _, principal_id in principals})
    note = f"; {extra} other principal(s) assigned outside the config" if extra else ""
    return CheckResult(ASSIGNMENTS, OK, f"{groups} group(s) and {len(principals) - groups} user(s){note}")


@_check(TOKEN_ISSUERS)
def check_token_issuers(sso_admin: Any, redshift: Any, deployment: Deployment) -> CheckResult:
    """Each configured third-party issuer: its TTI (found by the name the stack gives it) has the configured
    URL and claim mapping, and the Redshift IdC application authorizes it with exactly its audiences."""
    config = deployment.config
    issuers = config.redshift_idc_application.trusted_token_issuers
    if not issuers:
        return CheckResult(TOKEN_ISSUERS, SKIPPED, "redshift_idc_application.trusted_token_issuers is not configured")
    instance = config.identity_center.instance_arn
    application_arn = deployment.output("Warehouse", "RedshiftIdcApplicationArn")
    listed = _pages(sso_admin, "list_trusted_token_issuers", "TrustedTokenIssuers", instance, InstanceArn=instance)
    by_name = {str(i.get("Name")): str(i.get("TrustedTokenIssuerArn")) for i in listed}
    applications = _pages(redshift, "describe_redshift_idc_applications", "RedshiftIdcApplications", "*",
                          absent=("RedshiftIdcApplicationNotExistsFault",), RedshiftIdcApplicationArn=application_arn)
    if not applications:
        raise CheckError(f"the Redshift IdC application {application_arn} does not exist",
                         f"deploy the {config.stack_prefix}Warehouse stack")
    authorized = {str(i.get("TrustedTokenIssuerArn")): list(i.get("AuthorizedAudiencesList") or [])
                  for i in applications[0].get("AuthorizedTokenIssuerList") or []}
    problems = []
    for issuer in issuers:
        name = trusted_token_issuer_name(issuer.name, issuer.issuer_url)
        arn = by_name.get(name)
        if arn is None:
            problems.append(f"{issuer.name}: no trusted token issuer named {name} in {instance}")
            continue
        problems += [f"{issuer.name}: {p}" for p in _issuer_mismatches(
            sso_admin, arn, issuer.issuer_url, issuer.claim_attribute_path, issuer.identity_store_attribute_path)]
        if arn not in authorized:
            problems.append(f"{issuer.name}: {arn} is not authorized on the Redshift IdC application")
        elif difference := _audience_difference(issuer.audiences, authorized[arn]):
            problems.append(f"{issuer.name}: authorized with {difference}")
    if problems:
        return CheckResult(TOKEN_ISSUERS, FAILED, "; ".join(problems),
                           f"deploy the {config.stack_prefix}Warehouse stack: it creates each issuer and authorizes "
                           "it with its audiences (a change made by hand is put back)")
    return CheckResult(TOKEN_ISSUERS, OK, f"{len(issuers)} issuer(s) with their URL, claim mapping and audiences")


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


@_check(OAUTH_APPLICATION)
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
    problems = [f"trusted token issuer: {p}" for p in _issuer_mismatches(
        sso_admin, issuer, propagation.issuer_url, propagation.claim_attribute_path,
        propagation.identity_store_attribute_path)]

    grant = _call(sso_admin, "get_application_grant", resource, absent=("ResourceNotFoundException",),
                  ApplicationArn=application, GrantType=JWT_BEARER)
    issuers = ((grant or {}).get("Grant") or {}).get("JwtBearer", {}).get("AuthorizedTokenIssuers") or []
    audiences = next((i.get("AuthorizedAudiences") or [] for i in issuers if i.get("TrustedTokenIssuerArn") == issuer),
                     None)
    if grant is None:
        problems.append("no jwt-bearer grant")
    elif audiences is None:
        problems.append(f"the jwt-bearer grant does not name the trusted token issuer {issuer}")
    elif difference := _audience_difference(propagation.audiences, audiences):
        problems.append(f"the jwt-bearer grant has {difference}")

    method = _call(sso_admin, "get_application_authentication_method", resource,
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

    scopes = _pages(sso_admin, "list_application_access_scopes", "Scopes", resource, ApplicationArn=application)
    targets = next((s.get("AuthorizedTargets") or [] for s in scopes if s.get("Scope") == REDSHIFT_CONNECT), None)
    if targets is None:
        problems.append(f"no {REDSHIFT_CONNECT} scope")
    elif target not in targets:
        problems.append(f"the {REDSHIFT_CONNECT} scope does not authorize the Redshift IdC application {target}")

    setting = _required(sso_admin, "get_application_assignment_configuration", resource, ApplicationArn=application)
    required = setting.get("AssignmentRequired")
    if required is not propagation.assignment_required:
        problems.append(f"assignment required is {required}, configured {propagation.assignment_required}")
    if propagation.assignment_required:
        principals, unknown = _principals(identitystore, config, propagation.assigned_groups)
        assigned = _assigned(sso_admin, application, instance)
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


@_check(SECADMIN_CHECK)
def check_secadmin(view: WarehouseView | CheckError, config: EnvironmentConfig) -> CheckResult:
    """The reconciler runs as the admin secret's user; without sys:secadmin its view of RLS and masking is
    empty and it refuses to plan (the first deploy grants it)."""
    if config.access_model is None:
        return CheckResult(SECADMIN_CHECK, SKIPPED, "no access_model: no reconciler reads RLS")
    seen = _view(view)
    if seen.secadmin:
        return CheckResult(SECADMIN_CHECK, OK, f"user {seen.user} holds {SECADMIN}")
    return CheckResult(SECADMIN_CHECK, FAILED,
                       f"user {seen.user or '(unknown)'} does not hold {SECADMIN}, so SVV_RLS_ATTACHED_POLICY and the "
                       "masking views show it no row",
                       f"deploy the {config.stack_prefix}Access stack (the reconciler grants it on its first read), "
                       f"or as a superuser: GRANT ROLE {quote_ident(SECADMIN)} TO {quote_ident(seen.user or 'admin')}")


# ------------------------------------------------------------------------------------------ runner


def _not_applicable(name: str, config: EnvironmentConfig) -> bool:
    """Checks that skip as "not configured" whatever happened before (so they never read as blocked)."""
    application = config.redshift_idc_application
    return ((name == ASSIGNMENTS and not application.groups and not application.users)
            or (name == TOKEN_ISSUERS and not application.trusted_token_issuers)
            or (name == OAUTH_APPLICATION and config.identity_propagation is None))


def run_checks(deployment: Deployment, clients: Clients,
               sleep: Callable[[float], None] = time.sleep) -> list[CheckResult]:
    """Every check, in `CHECKS` order. The IdC checks skip when the instance check found no usable instance
    (they would fail for that one reason); the two SQL checks share one read of the warehouse."""
    config = deployment.config
    region = check_instance_region(clients.sso_admin, config)
    view: WarehouseView | CheckError
    try:
        view = read_warehouse(clients.redshift_data, deployment, sleep)
    except CheckError as error:
        view = error
    idc: dict[str, Callable[[], CheckResult]] = {
        ASSIGNMENTS: lambda: check_assignments(clients.sso_admin, clients.identitystore, deployment),
        TOKEN_ISSUERS: lambda: check_token_issuers(clients.sso_admin, clients.redshift, deployment),
        OAUTH_APPLICATION: lambda: check_oauth_application(clients.sso_admin, clients.identitystore, deployment),
    }
    results = [region, check_identity_provider(view, deployment)]
    for name, run in idc.items():
        blocked = region.stops and not _not_applicable(name, config)
        results.append(CheckResult(name, SKIPPED, f"{region.stops} (first check)") if blocked else run())
    results.append(check_secadmin(view, config))
    return results


NO_CREDENTIALS_NEEDS = ("verify reads IAM Identity Center (sso-admin, identitystore), the Redshift IdC application "
                        "and the warehouse (Data API as the admin secret's user)")


def verify_command(env: str, outputs: Path | None, *, outputs_from_env: bool = False, secret_arn: str | None = None,
                   clients: Clients | None = None, sleep: Callable[[float], None] | None = None,
                   config_dir: Path | None = None, environ: Mapping[str, str] | None = None,
                   out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The CLI: the checklist to `out`, errors that stop everything to `err`; returns 0, 1 or 2."""
    sleep = sleep or time.sleep
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        config = load_environment(env, config_dir)
        if outputs is not None:
            found = load_outputs(outputs, f"write it with `make deploy ENV={config.name} OUTPUTS={outputs}`")
        elif outputs_from_env:
            found = outputs_from_environ(os.environ if environ is None else environ)
        else:
            raise LiveError(f"config/{config.name}.yaml: verify needs --outputs (the `cdk deploy --outputs-file` "
                            f"JSON: `make deploy ENV={config.name} OUTPUTS=cdk-outputs.json`) or --outputs-from-env")
        if secret_arn:
            check_secret_arn(secret_arn, config)
        deployment = Deployment(config, found, secret_arn)
        results = run_checks(deployment, clients or Clients.for_region(config.region), sleep)
    except (ConfigError, LiveError) as error:
        print(f"error: {error}", file=err)
        return ERROR
    except NoCredentialsError:
        print(f"error: {no_credentials(NO_CREDENTIALS_NEEDS)}", file=err)
        return ERROR
    print(f"verify {config.name}: account {config.account}, region {config.region}, workgroup "
          f"{config.warehouse.workgroup_name}; outputs from {found.source}", file=out)
    for result in results:
        for line in result.lines():
            print(line, file=out)
    counts = {status: sum(1 for r in results if r.status == status) for status in (OK, FAILED, SKIPPED)}
    print(f"{len(results)} checks: {counts[OK]} ok, {counts[FAILED]} failed, {counts[SKIPPED]} skipped", file=out)
    return CHECK_FAILED if counts[FAILED] else ALL_OK


def checks_help(width: int = 100) -> str:
    """The checks as --help lists them (argparse keeps this text's line breaks)."""
    lines = textwrap.wrap("Read-only, with your AWS credentials: compares what CloudFormation cannot see with "
                          "config/<env>.yaml and the deploy's outputs. Each output line is `ok  <name>`, `skipped "
                          "<name>: why`, or `FAILED <name>: detail` followed by `    fix: ...`. The checks, in order:",
                          width, break_on_hyphens=False)
    for number, (name, what) in enumerate(CHECKS, start=1):
        lines += textwrap.wrap(f"{name}: {what}", width, initial_indent=f"  {number}. ", subsequent_indent="     ",
                               break_on_hyphens=False)
    lines += ["", *textwrap.wrap("exit status: 0 every check ok (or skipped: not configured), 1 a check failed, 2 "
                                 "configuration, usage or credentials error (nothing was checked)", width)]
    return "\n".join(lines)

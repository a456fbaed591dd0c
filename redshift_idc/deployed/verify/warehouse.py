"""The two checks that read the warehouse, from one read batch as the admin secret's user: the identity
provider IdC users sign in through, and the reconciler's sys:secadmin."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.deployed.session import ADMIN_SECRET_OUTPUT
from redshift_idc.deployed.verify.aws_calls import client_error
from redshift_idc.deployed.verify.deployment import Deployment
from redshift_idc.deployed.verify.results import FAILED, OK, SKIPPED, CheckError, CheckResult, check
from redshift_idc.runtime.access_state import AccessState, IdentityProvider
from redshift_idc.runtime.catalog import SECADMIN, identity_queries
from redshift_idc.runtime.data_api import DataApi, Target, is_transient
from redshift_idc.runtime.reconcile_request import ReconcileError, Request, statement_token
from redshift_idc.runtime.reconciler import Reconciler
from redshift_idc.runtime.sql_text import fold, quote_ident, quote_literal

IDENTITY_PROVIDER = "identity provider registered in SVV_IDENTITY_PROVIDERS"
SECADMIN_CHECK = f"reconciler sees RLS ({SECADMIN})"


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
        failure = client_error(error, operation, f"workgroup {config.warehouse.workgroup_name}")
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


@check(IDENTITY_PROVIDER)
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


@check(SECADMIN_CHECK)
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

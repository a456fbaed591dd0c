"""The namespace's Lakehouse registration (Redshift federated permissions), as redshift-serverless GetNamespace
reports it: registered under `warehouse.federated_permissions.catalog_name`. CloudFormation cannot see it (a
custom resource made it), so a deregistration by hand would otherwise go unnoticed."""

from __future__ import annotations

from typing import Any

import botocore

from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.deployed.verify.aws_calls import call
from redshift_idc.deployed.verify.results import FAILED, OK, SKIPPED, CheckResult, check
from redshift_idc.runtime.lakehouse_registration import REGISTERED, normalized

LAKEHOUSE_REGISTRATION = "namespace registered with federated permissions"


@check(LAKEHOUSE_REGISTRATION)
def check_lakehouse_registration(serverless: Any, config: EnvironmentConfig) -> CheckResult:
    """Registered, under the configured catalog; skipped when the environment does not register."""
    wanted = config.warehouse.federated_permissions
    if wanted is None:
        return CheckResult(LAKEHOUSE_REGISTRATION, SKIPPED, "no warehouse.federated_permissions")
    namespace = config.warehouse.namespace_name
    if "lakehouseRegistrationStatus" not in serverless.meta.service_model.shape_for("Namespace").members:
        return CheckResult(LAKEHOUSE_REGISTRATION, FAILED,
                           f"botocore {botocore.__version__} cannot read a namespace's lakehouseRegistrationStatus",
                           "run verify with the project's environment (make install): its botocore reads it")
    found = call(serverless, "get_namespace", f"namespace {namespace}", absent=("ResourceNotFoundException",),
                 namespaceName=namespace)
    deploy = f"deploy the {config.stack_prefix}Warehouse stack (it registers the namespace)"
    if found is None:
        return CheckResult(LAKEHOUSE_REGISTRATION, FAILED, f"namespace {namespace} does not exist", deploy)
    current = found.get("namespace") or {}
    status = normalized(current.get("lakehouseRegistrationStatus"))
    catalog_arn = str(current.get("catalogArn") or "")
    if status not in REGISTERED:
        return CheckResult(LAKEHOUSE_REGISTRATION, FAILED,
                           f"namespace {namespace}: lakehouseRegistrationStatus is {status or '(empty)'}, not "
                           "REGISTERED: other warehouses do not enforce its permissions", deploy)
    if catalog_arn.rsplit("/", 1)[-1] != wanted.catalog_name:
        return CheckResult(LAKEHOUSE_REGISTRATION, FAILED,
                           f"namespace {namespace} is registered under {catalog_arn or 'no catalog'}, not catalog "
                           f"{wanted.catalog_name} of config/{config.name}.yaml",
                           "set warehouse.federated_permissions.catalog_name to the registered catalog, or "
                           "deregister the namespace and deploy again")
    return CheckResult(LAKEHOUSE_REGISTRATION, OK, f"{namespace} under {catalog_arn}")

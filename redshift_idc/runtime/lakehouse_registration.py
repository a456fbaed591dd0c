"""Custom resource `Custom::LakehouseRegistration`: registers a Redshift Serverless namespace with Redshift federated
permissions (the Lakehouse registration), which CloudFormation has no property for.

Entry points for CDK's Provider framework, behind `redshift_idc/cdk/handlers/lakehouse_registration`:

- `on_event` asks redshift-serverless `UpdateLakehouseConfiguration` with `dryRun` first (Redshift answers a dry run
  that would succeed with `DryRunException`; any other error is the refusal, reported before anything changed), then
  for real: Register with the catalog name (and Associate the IdC application when identity propagation is on) on
  Create, only the IdC association on Update, Deregister on Delete.
- `is_complete` reads the namespace (`GetNamespace`) until `lakehouseRegistrationStatus` says the change is done,
  up to `WAIT_SECONDS` from on_event (stamped into the event as `REGISTRATION_DEADLINE_KEY`); a failed status or a
  status still unknown at the deadline fails the request, naming the status.

Properties: `NamespaceName`, `CatalogName`, `IdentityPropagation` ("true"/"false": CloudFormation sends strings)
and `IdcApplicationArn` (the Redshift IdC application, required with propagation). Data: `CatalogArn`,
`LakehouseRegistrationStatus`.

The catalog name cannot change in place (a re-registration under another catalog would leave objects named by the
old one): an Update that changes it is refused with the steps to take. The physical id names the namespace only.

The Lambda runtime's boto3 may predate the operation: the client's service model is checked first, and a missing
operation fails with the runtime's boto3 and botocore versions instead of an `AttributeError`. Only the standard
library and boto3 are imported: this module runs in Lambda.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
import botocore
from botocore.exceptions import ClientError

from redshift_idc.runtime.custom_resource import CustomResourceError, CustomResourceEvent
from redshift_idc.runtime.data_api import RETRIES, error_code

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)
RESOURCE_TYPE = "Custom::LakehouseRegistration"
PHYSICAL_ID_PREFIX = "lakehouse-registration:"
OPERATION = "UpdateLakehouseConfiguration"
REGISTRATION_DEADLINE_KEY = "RegistrationDeadline"  # epoch seconds, set by on_event, read by is_complete
WAIT_SECONDS = 20 * 60
# `lakehouseRegistrationStatus` is a free string in the API model (botocore 1.44.5): no enumeration is published.
# Statuses are compared after upper-casing and turning spaces and hyphens into underscores. Anything else is
# waited on until the deadline, then reported by its value.
REGISTERED = frozenset({"REGISTERED"})
NOT_REGISTERED = frozenset({"", "DEREGISTERED", "NOT_REGISTERED", "UNREGISTERED"})


class Clock(Protocol):
    def time(self) -> float: ...


@dataclass(frozen=True)
class Registration:
    """What the properties ask for, validated before any AWS call."""

    namespace: str
    catalog: str
    propagation: bool
    application_arn: str

    @classmethod
    def parse(cls, props: dict[str, Any]) -> Registration:
        problems: list[str] = []
        namespace, catalog = str(props.get("NamespaceName") or ""), str(props.get("CatalogName") or "")
        propagation = str(props.get("IdentityPropagation", "false")).lower() == "true"
        application = str(props.get("IdcApplicationArn") or "")
        if not namespace:
            problems.append("NamespaceName is missing")
        if not catalog:
            problems.append("CatalogName is missing")
        if propagation and not application:
            problems.append("IdentityPropagation is true but IdcApplicationArn is missing")
        if problems:
            raise CustomResourceError(f"{RESOURCE_TYPE}: invalid properties: " + "; ".join(problems))
        return cls(namespace, catalog, propagation, application)


def normalized(status: Any) -> str:
    return str(status or "").strip().upper().replace(" ", "_").replace("-", "_")


def connect(client: Any = None) -> Any:
    """`client` (a redshift-serverless client, for tests) or one made in the Lambda's region, checked for the
    operation: the Lambda runtime's boto3 is older than the project's lock and may not have it."""
    client = client or boto3.client("redshift-serverless", config=RETRIES)
    if OPERATION not in client.meta.service_model.operation_names:
        raise CustomResourceError(
            f"this Lambda runtime's boto3 {boto3.__version__} (botocore {botocore.__version__}) has no "
            f"redshift-serverless {OPERATION}, so it cannot register the namespace with federated permissions "
            "(botocore 1.43.11 and the project's locked 1.44.5 have it): deploy the function on a newer Python "
            "Lambda runtime, or remove warehouse.federated_permissions")
    return client


def _update(client: Any, namespace: str, **changes: Any) -> dict[str, Any]:
    """Dry run, then the real call; a refused dry run changes nothing and names Redshift's reason."""
    try:
        client.update_lakehouse_configuration(namespaceName=namespace, dryRun=True, **changes)
    except ClientError as error:
        if error_code(error) != "DryRunException":
            raise CustomResourceError(f"{OPERATION} dry run for namespace {namespace} refused "
                                      f"({', '.join(f'{k}={v}' for k, v in sorted(changes.items()))}): "
                                      f"{error_code(error)}: {error.response.get('Error', {}).get('Message')}"
                                      ) from None
    try:
        response: dict[str, Any] = client.update_lakehouse_configuration(namespaceName=namespace, **changes)
    except ClientError as error:
        raise CustomResourceError(f"{OPERATION} for namespace {namespace}: {error_code(error)}: "
                                  f"{error.response.get('Error', {}).get('Message')}") from None
    LOG.info("%s %s: status %s", OPERATION, namespace, response.get("lakehouseRegistrationStatus"))
    return response


def _association(wanted: Registration) -> dict[str, Any]:
    if wanted.propagation:
        return {"lakehouseIdcRegistration": "Associate", "lakehouseIdcApplicationArn": wanted.application_arn}
    return {"lakehouseIdcRegistration": "Disassociate"}


def read_namespace(client: Any, namespace: str) -> dict[str, Any] | None:
    """The namespace as GetNamespace reports it, or None when it does not exist."""
    try:
        found: dict[str, Any] = client.get_namespace(namespaceName=namespace)["namespace"]
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise CustomResourceError(f"GetNamespace {namespace}: {error_code(error)}: "
                                  f"{error.response.get('Error', {}).get('Message')}") from None
    return found


def _catalog_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1] if arn else ""


def create(client: Any, wanted: Registration) -> None:
    """Register (with the association when on). A namespace already registered under this catalog (a retried
    Create) only gets the association; one registered under another catalog is refused, naming it."""
    current = read_namespace(client, wanted.namespace)
    if current is None:
        raise CustomResourceError(f"namespace {wanted.namespace} does not exist: deploy the warehouse stack first")
    if normalized(current.get("lakehouseRegistrationStatus")) in REGISTERED:
        registered = _catalog_of(str(current.get("catalogArn") or ""))
        if registered != wanted.catalog:
            raise CustomResourceError(
                f"namespace {wanted.namespace} is already registered with federated permissions under catalog "
                f"{registered or '(unknown)'}, not {wanted.catalog}: set warehouse.federated_permissions."
                f"catalog_name to {registered}, or deregister it first")
        if wanted.propagation:
            _update(client, wanted.namespace, **_association(wanted))
        return
    changes: dict[str, Any] = {"lakehouseRegistration": "Register", "catalogName": wanted.catalog}
    if wanted.propagation:
        changes |= _association(wanted)
    _update(client, wanted.namespace, **changes)


def update(client: Any, wanted: Registration, old: Registration | None) -> None:
    """Only the association changes in place; a new catalog name is refused with the steps that do it."""
    if old is None or old.namespace != wanted.namespace:
        create(client, wanted)
        return
    if old.catalog != wanted.catalog:
        raise CustomResourceError(
            f"warehouse.federated_permissions.catalog_name: {old.catalog} -> {wanted.catalog} cannot change on a "
            "registered namespace: deploy once without federated_permissions (deregisters), then with the new name")
    if (old.propagation, old.application_arn if old.propagation else "") != (
            wanted.propagation, wanted.application_arn if wanted.propagation else ""):
        _update(client, wanted.namespace, **_association(wanted))


def delete(client: Any, namespace: str) -> bool:
    """Deregister; False when there is nothing to wait for (the namespace is gone or not registered)."""
    current = read_namespace(client, namespace)
    if current is None or normalized(current.get("lakehouseRegistrationStatus")) in NOT_REGISTERED:
        LOG.info("namespace %s is gone or not registered: nothing to deregister", namespace)
        return False
    _update(client, namespace, lakehouseRegistration="Deregister")
    return True


def _old(props: dict[str, Any]) -> Registration | None:
    try:
        return Registration.parse(props)
    except CustomResourceError as error:
        LOG.warning("old properties unreadable (%s): registering as on Create", error)
        return None


def on_event(event: dict[str, Any], context: Any = None, client: Any = None, clock: Clock = time) -> dict[str, Any]:
    request = CustomResourceEvent.from_dict(event)
    physical_id = request.physical_resource_id or ""
    deadline = clock.time() + WAIT_SECONDS
    if request.request_type == "Delete":
        if not physical_id.startswith(PHYSICAL_ID_PREFIX):
            return {"PhysicalResourceId": physical_id, REGISTRATION_DEADLINE_KEY: deadline}
        delete(connect(client), physical_id.removeprefix(PHYSICAL_ID_PREFIX))
        return {"PhysicalResourceId": physical_id, REGISTRATION_DEADLINE_KEY: deadline}
    wanted = Registration.parse(request.properties)
    serverless = connect(client)
    if request.request_type == "Create" or not physical_id.startswith(PHYSICAL_ID_PREFIX):
        create(serverless, wanted)
    else:
        update(serverless, wanted, _old(request.old_properties))
    return {"PhysicalResourceId": f"{PHYSICAL_ID_PREFIX}{wanted.namespace}", REGISTRATION_DEADLINE_KEY: deadline}


def is_complete(event: dict[str, Any], context: Any = None, client: Any = None,
                clock: Clock = time) -> dict[str, Any]:
    """Done when the namespace reports the registration (Create, Update) or its absence (Delete), and is not
    being modified; a failed status, or one still not done at the deadline, fails the request by its value."""
    request = CustomResourceEvent.from_dict(event)
    physical_id = request.physical_resource_id or ""
    if not physical_id.startswith(PHYSICAL_ID_PREFIX):
        return {"IsComplete": True}
    namespace = physical_id.removeprefix(PHYSICAL_ID_PREFIX)
    current = read_namespace(connect(client), namespace)
    removing = request.request_type == "Delete"
    if current is None:
        if removing:
            return {"IsComplete": True}
        raise CustomResourceError(f"namespace {namespace} disappeared while registering with federated permissions")
    status = normalized(current.get("lakehouseRegistrationStatus"))
    settled = normalized(current.get("status")) != "MODIFYING"
    if "FAIL" in status:
        raise CustomResourceError(f"namespace {namespace}: lakehouseRegistrationStatus {status} "
                                  f"({'deregistering' if removing else 'registering'}): see the namespace in the "
                                  "Redshift console and the federated-permissions-prereqs page")
    if settled and status in (NOT_REGISTERED if removing else REGISTERED):
        data = {"LakehouseRegistrationStatus": status, "CatalogArn": str(current.get("catalogArn") or "")}
        return {"IsComplete": True} if removing else {"IsComplete": True, "Data": data}
    deadline = event.get(REGISTRATION_DEADLINE_KEY)
    if deadline is not None and clock.time() > float(deadline):
        raise CustomResourceError(f"namespace {namespace}: lakehouseRegistrationStatus still {status or '(empty)'} "
                                  f"after {WAIT_SECONDS // 60} minutes")
    LOG.info("namespace %s: lakehouseRegistrationStatus %s, status %s: waiting", namespace, status,
             current.get("status"))
    return {"IsComplete": False}

"""Custom resource: read-only lookups CloudFormation cannot do itself, resolved at deploy time.

Kind `IdcGroupIds`: IAM Identity Center group display names to group ids. CloudFormation's
`AWS::SSO::ApplicationAssignment` needs a group id, but people know their groups by name (seed 002
assigns the Okta groups by name in the console). Config may omit the id; this resolver looks it up
with `identitystore:GetGroupId` and fails the deploy, naming every missing group, when a name does
not exist.

Properties: `IdentityStoreId`, `Groups: [{"Key": <attribute name>, "DisplayName": <name>}]`.
Data: `{<Key>: <group id>}`, read by the stack with `Fn::GetAtt`.

Kind `IdcUserIds`: the same for users assigned on their own, by `UserName` (`identitystore:GetUserId`).
Properties: `IdentityStoreId`, `Users: [{"Key": <attribute name>, "UserName": <name>}]`.

Kind `NamespaceAdminSecret`: the ARN of the Secrets Manager secret Redshift manages for the namespace
admin (`ManageAdminPassword`). `AWS::RedshiftServerless::Namespace` does not return it through
`Fn::GetAtt`, so we read it with `redshift-serverless:GetNamespace`. Property `NamespaceName`;
Data `{"AdminPasswordSecretArn": ...}`.

Every lookup only reads, so Delete has nothing to undo; one Lambda serves them all to keep the number of
functions (and of cdk-nag acknowledgements) small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from redshift_idc.runtime.custom_resource import CustomResourceError, CustomResourceEvent

RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 8})
KIND_GROUP_IDS = "IdcGroupIds"
KIND_USER_IDS = "IdcUserIds"
KIND_NAMESPACE_SECRET = "NamespaceAdminSecret"  # noqa: S105 (a lookup kind, not a secret)


@dataclass(frozen=True)
class _Principal:
    """How the identity store finds one kind of principal by its unique name."""

    noun: str
    name_key: str
    attribute_path: str
    operation: str
    id_key: str
    config_field: str
    entries: str  # the custom resource property listing them
    physical_id: str  # prefix of the resource's physical id


_GROUP = _Principal("group", "DisplayName", "displayName", "get_group_id", "GroupId", "redshift_idc_application.groups",
                    "Groups", "idc-group-ids")
_USER = _Principal("user", "UserName", "userName", "get_user_id", "UserId", "redshift_idc_application.users",
                   "Users", "idc-user-ids")
_PRINCIPALS = {KIND_GROUP_IDS: _GROUP, KIND_USER_IDS: _USER}


def _resolve(client: Any, identity_store_id: str, entries: list[dict[str, str]], kind: _Principal) -> dict[str, str]:
    """Map each entry's attribute key to its id; raise naming all the principals that do not exist."""
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for entry in entries:
        name = entry[kind.name_key]
        try:
            response = getattr(client, kind.operation)(
                IdentityStoreId=identity_store_id,
                AlternateIdentifier={"UniqueAttribute": {"AttributePath": kind.attribute_path,
                                                         "AttributeValue": name}},
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                missing.append(name)
                continue
            raise CustomResourceError(
                f"could not look up IAM Identity Center {kind.noun} '{name}' in identity store {identity_store_id}: "
                f"{code}: {error.response.get('Error', {}).get('Message', '')}"
            ) from None
        resolved[entry["Key"]] = response[kind.id_key]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        raise CustomResourceError(
            f"IAM Identity Center {kind.noun}(s) {names} not found in identity store {identity_store_id}. "
            f"Names are matched exactly (case included): fix {kind.config_field} in the "
            f"environment config, or create the {kind.noun} (or wait for SCIM to sync it) and deploy again."
        )
    return resolved


def resolve_groups(client: Any, identity_store_id: str, groups: list[dict[str, str]]) -> dict[str, str]:
    """Group display names to group ids (`identitystore:GetGroupId`)."""
    return _resolve(client, identity_store_id, groups, _GROUP)


def resolve_users(client: Any, identity_store_id: str, users: list[dict[str, str]]) -> dict[str, str]:
    """User names to user ids (`identitystore:GetUserId`)."""
    return _resolve(client, identity_store_id, users, _USER)


def namespace_admin_secret(client: Any, namespace_name: str) -> str:
    try:
        namespace = client.get_namespace(namespaceName=namespace_name)["namespace"]
    except ClientError as error:
        err = error.response.get("Error", {})
        raise CustomResourceError(
            f"could not read Redshift Serverless namespace {namespace_name}: {err.get('Code')}: {err.get('Message')}"
        ) from None
    secret_arn = namespace.get("adminPasswordSecretArn")
    if not secret_arn:
        raise CustomResourceError(
            f"namespace {namespace_name} has no Redshift-managed admin secret; it must be created with "
            "ManageAdminPassword=true (this stack does so)"
        )
    return str(secret_arn)


def _lookup(request: CustomResourceEvent, client: Any) -> tuple[str, dict[str, str]]:
    """(stable physical id, data). The physical id never depends on the looked-up values, so an
    update never makes CloudFormation replace (and delete) the resource."""
    kind = request.required("Kind")
    principal = _PRINCIPALS.get(str(kind))
    if principal is not None:
        identity_store_id = str(request.required("IdentityStoreId"))
        entries = request.required(principal.entries)
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise CustomResourceError(f"the {principal.entries} property must be a list of "
                                      f"{{Key, {principal.name_key}}} objects")
        physical_id = f"{principal.physical_id}:{identity_store_id}"
        if request.request_type == "Delete":
            return physical_id, {}
        client = client or boto3.client("identitystore", config=RETRIES)
        return physical_id, _resolve(client, identity_store_id, entries, principal)
    if kind == KIND_NAMESPACE_SECRET:
        namespace_name = str(request.required("NamespaceName"))
        if request.request_type == "Delete":
            return f"namespace-admin-secret:{namespace_name}", {}
        client = client or boto3.client("redshift-serverless", config=RETRIES)
        return f"namespace-admin-secret:{namespace_name}", {
            "AdminPasswordSecretArn": namespace_admin_secret(client, namespace_name)
        }
    raise CustomResourceError(f"unknown lookup Kind {kind!r}")


def on_event(event: dict[str, Any], context: Any = None, client: Any = None) -> dict[str, Any]:
    """Provider-framework entry point. Delete makes no AWS call: there is nothing to undo."""
    request = CustomResourceEvent.from_dict(event)
    resource_id, data = _lookup(request, client)
    if request.request_type == "Delete":
        return {"PhysicalResourceId": request.physical_resource_id or resource_id}
    return {"PhysicalResourceId": resource_id, "Data": data}

"""Custom resource `Custom::AccessModel`: Provider-framework entry points of the reconciler.

`on_event` only validates, names the resource and stamps the request with its start and apply deadline (the
Provider framework hands on_event's result to every is-complete call); `is_complete` converges for up
to `INVOCATION_BUDGET_SECONDS` per call (see `reconciler.py`), so no Lambda waits 15 minutes and no
request outlives CloudFormation's hour (`limits.py`). The start orders the model's requests: a request never
takes the model from one that started after it (`fence.py`).

Properties: WorkgroupName, NamespaceName, Database, SecretArn, ModelName, LedgerSchema, Prune,
RemovalPolicy, ModelBucket, ModelKey, ModelHash (the compiled model is an S3 asset: a large model does
not bloat the template, and its hash in the properties makes every change of content an Update), and
IdentityProviderDropCascade (only when true; a property, not part of the model document, so a Delete
knows it too). Identity provider client secrets are read from Secrets Manager at apply time.

The model document also holds `role_quota`, the workgroup's role quota: each round refuses, before any change,
a plan whose roles would exceed it (`role_quota.py`). A document without it (an older template) is not checked.

With `deprovision_users` the model document holds `users` (the identity namespace and whom departed users'
objects go to) and the properties the environment's side: IdentityStoreId, AssignedGroups
(`[{DisplayName, GroupId?}]`; a group without id is looked up by name) and AssignedUsers (`[{UserName,
UserId?}]`). The identity store is asked with the handler's own role (`users.IdcDirectory`). A Delete never
removes users.

The physical id depends on workgroup, database and model name only, never on the content, so an
update never makes CloudFormation delete the old resource. A Delete whose physical id is not ours
(a Create that failed before naming the resource) does nothing, and so does a Delete whose warehouse
is gone: when a Data API call fails, Redshift Serverless itself is asked (GetWorkgroup, GetNamespace)
whether the workgroup or its namespace still exists, instead of reading the error's wording.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.exceptions import ClientError

from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.custom_resource import CustomResourceError, CustomResourceEvent
from redshift_idc.runtime.data_api import RETRIES, DataApi, Target, error_code
from redshift_idc.runtime.idc_directory import IDENTITYSTORE_CONFIG, IdcDirectory, directory_entries
from redshift_idc.runtime.limits import APPLY_WINDOW_SECONDS, INVOCATION_BUDGET_SECONDS
from redshift_idc.runtime.planning.scope import Scope
from redshift_idc.runtime.reconcile_request import Clock, ReconcileError, Request, Script, ScriptEntry, statement_token
from redshift_idc.runtime.reconciler import Reconciler
from redshift_idc.runtime.role_quota import ROLE_QUOTA_KEY
from redshift_idc.runtime.secrets import SecretResolver
from redshift_idc.runtime.users import DeprovisionSettings

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)
PHYSICAL_ID_PREFIX = "access-model:"
DEADLINE_KEY = "ApplyDeadline"  # epoch seconds, set by on_event, read by every is_complete of the request
START_KEY = "ApplyStart"  # epoch milliseconds, likewise (events stamped by an older version: from the deadline)


def physical_id(properties: dict[str, Any]) -> str:
    return f"{PHYSICAL_ID_PREFIX}{properties['WorkgroupName']}/{properties['Database']}/{properties['ModelName']}"


def _flag(value: Any) -> bool:
    """CloudFormation turns booleans into strings."""
    return str(value).lower() == "true"


def on_event(event: dict[str, Any], context: Any = None, *, clock: Clock = time) -> dict[str, Any]:
    request = CustomResourceEvent.from_dict(event)
    now = clock.time()
    stamps = {DEADLINE_KEY: int(now) + APPLY_WINDOW_SECONDS, START_KEY: int(now * 1000)}
    if request.request_type == "Delete":
        return {"PhysicalResourceId": request.physical_resource_id or "access-model-not-created", **stamps}
    for name in ("WorkgroupName", "Database", "SecretArn", "ModelName", "ModelBucket", "ModelKey", "ModelHash"):
        request.required(name)
    return {"PhysicalResourceId": physical_id(request.properties), **stamps}


def request_start(event: dict[str, Any]) -> int | None:
    """The request's start (epoch ms) as on_event stamped it; for an event stamped by an older version, which
    set only the deadline, the deadline less the apply window."""
    start, deadline = event.get(START_KEY), event.get(DEADLINE_KEY)
    if start is not None:
        return int(start)
    return int((float(deadline) - APPLY_WINDOW_SECONDS) * 1000) if deadline is not None else None


def model_document(desired: AccessState, scripts: Sequence[ScriptEntry],
                   deprovision: DeprovisionSettings | None = None, scope: Scope | None = None,
                   role_quota: int | None = None) -> str:
    """What the custom resource applies, as the S3 asset holds it: canonical JSON (sorted keys, no
    spaces), so the same model always gives the same asset hash. `users` only with deprovision_users, `scope`
    (the declared tables and those prune may lift restrictions on) only with prune: documents of models that do
    not opt in stay byte for byte what they were. `role_quota`: the workgroup's (synth always gives it, from
    `warehouse.role_quota`); without it the deploy does not check the quota."""
    document: dict[str, Any] = {"desired": desired.to_json(), "scripts": list(scripts)}
    if deprovision is not None:
        document["users"] = deprovision.to_json()
    if scope is not None:
        document["scope"] = scope.to_json()
    if role_quota is not None:
        document[ROLE_QUOTA_KEY] = role_quota
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def load_model_document(properties: dict[str, Any], s3: Any = None) -> dict[str, Any]:
    s3 = s3 or boto3.client("s3", config=RETRIES)
    body = s3.get_object(Bucket=properties["ModelBucket"], Key=properties["ModelKey"])["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


def build_request(event: CustomResourceEvent, document: dict[str, Any] | None, start_ms: int | None = None) -> Request:
    props = event.properties
    # Unique per CloudFormation request: a later request with the same properties (a re-create, a
    # rollback to an earlier model) must never pick up an earlier request's statements.
    token = statement_token(f"{event.request_type}:{event.request_id}:{props.get('ModelHash')}")
    deprovision = None
    scope = Scope()
    role_quota = None
    if event.request_type == "Delete" or document is None:
        desired = AccessState(case_sensitive=_flag(props.get("CaseSensitive", "false")))
        scripts: list[Script] = []
    else:
        desired = AccessState.from_json(document["desired"])
        scripts = [Script.of(s) for s in document.get("scripts", [])]
        if document.get("users"):
            deprovision = DeprovisionSettings.from_json(document["users"])
        scope = Scope.from_json(document.get("scope"))
        role_quota = int(document[ROLE_QUOTA_KEY]) if document.get(ROLE_QUOTA_KEY) is not None else None
    return Request(model=str(props["ModelName"]), desired=desired, token=token, prune=_flag(props.get("Prune")),
                   ledger_schema=str(props.get("LedgerSchema") or "redshift_idc"), scripts=scripts,
                   identity_provider_drop_cascade=_flag(props.get("IdentityProviderDropCascade")),
                   coalesce=_flag(props.get("CoalesceStatements", True)),
                   deprovision=deprovision, scope=scope, start_ms=start_ms, role_quota=role_quota)


def identity_directory(properties: dict[str, Any], client: Any, clock: Clock) -> IdcDirectory:
    """The identity store as the properties name it, with the environment's assigned groups and users."""
    store = properties.get("IdentityStoreId")
    if not store:
        raise CustomResourceError("deprovision_users is on, but the custom resource has no IdentityStoreId "
                                  "property: synthesize and deploy the access stack with this version")
    return IdcDirectory(client or boto3.client("identitystore", config=IDENTITYSTORE_CONFIG), str(store),
                        directory_entries(properties.get("AssignedGroups"), "DisplayName", "GroupId"),
                        directory_entries(properties.get("AssignedUsers"), "UserName", "UserId"),
                        sleep=clock.sleep)


def warehouse_gone(properties: dict[str, Any], serverless: Any = None) -> bool:
    """Whether the workgroup, or the namespace behind it, no longer exists (or is being deleted), as
    Redshift Serverless reports it by error code and status. Any other answer, an AccessDenied
    included, is "cannot tell": the caller reports the Data API's own error."""
    client = serverless or boto3.client("redshift-serverless", config=RETRIES)
    try:
        workgroup = client.get_workgroup(workgroupName=str(properties["WorkgroupName"]))["workgroup"]
    except ClientError as error:
        return error_code(error) == "ResourceNotFoundException"
    if str(workgroup.get("status", "")).upper() == "DELETING":
        return True
    namespace = str(workgroup.get("namespaceName") or properties.get("NamespaceName") or "")
    if not namespace:
        return False
    try:
        found = client.get_namespace(namespaceName=namespace)["namespace"]
    except ClientError as error:
        return error_code(error) == "ResourceNotFoundException"
    return str(found.get("status", "")).upper() == "DELETING"


def is_complete(event: dict[str, Any], context: Any = None, *, api: DataApi | None = None, s3: Any = None,
                clock: Clock = time, secretsmanager: Any = None, serverless: Any = None,
                identitystore: Any = None) -> dict[str, Any]:
    """Converge for up to one invocation budget; the Provider framework calls again until IsComplete.
    `secretsmanager`, `serverless`, `identitystore`: clients for identity provider secrets, for the Delete's
    "is the warehouse still there" question and for deprovision_users (default: built on first use)."""
    request = CustomResourceEvent.from_dict(event)
    props = request.properties
    if request.request_type == "Delete":
        if not (request.physical_resource_id or "").startswith(PHYSICAL_ID_PREFIX):
            return {"IsComplete": True}  # never created: nothing to remove
        if str(props.get("RemovalPolicy", "destroy")).lower() == "retain":
            LOG.info("removal policy retain: leaving roles, grants and policies in place")
            return {"IsComplete": True}
    document = None if request.request_type == "Delete" else load_model_document(props, s3)
    reconcile_request = build_request(request, document, request_start(event))
    api = api or DataApi(Target(str(props["WorkgroupName"]), str(props["Database"]), str(props["SecretArn"])))
    deadline = event.get(DEADLINE_KEY)
    directory = (identity_directory(props, identitystore, clock) if reconcile_request.deprovision is not None
                 else None)
    reconciler = Reconciler(api, reconcile_request, secrets=SecretResolver(secretsmanager), clock=clock,
                            invocation_id=str(getattr(context, "aws_request_id", "") or uuid.uuid4()),
                            budget_seconds=INVOCATION_BUDGET_SECONDS,
                            deadline=float(deadline) if deadline is not None else None, log=LOG.info,
                            directory=directory)
    try:
        outcome = reconciler.run()
    except ClientError as error:
        if request.request_type == "Delete" and warehouse_gone(props, serverless):
            LOG.info("the workgroup or its namespace is gone: nothing to remove")
            return {"IsComplete": True}
        err = error.response.get("Error", {})
        raise CustomResourceError(f"Redshift Data API: {err.get('Code')}: {err.get('Message')}") from None
    except ReconcileError as error:
        raise CustomResourceError(str(error)) from None
    LOG.info("%s", outcome.message)
    if not outcome.done:
        return {"IsComplete": False}
    for warning in outcome.warnings:
        LOG.warning("%s", warning)
    return {"IsComplete": True, "Data": {"Result": outcome.message}}

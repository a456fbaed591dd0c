"""Custom resource `Custom::AccessModel`: Provider-framework entry points of the reconciler.

`on_event` only validates and names the resource; `is_complete` does the work a step at a time (see
`reconciler.py`), so long models never hold a Lambda for 15 minutes.

Properties: WorkgroupName, Database, SecretArn, ModelName, LedgerSchema, Prune, RemovalPolicy,
ModelBucket, ModelKey, ModelHash (the compiled model is an S3 asset: a large model does not bloat the
template, and its hash in the properties makes every change of content an Update), and
IdentityProviderDropCascade (only when true; a property, not part of the model document, so a Delete
knows it too). Identity provider client secrets are read from Secrets Manager at apply time.

The physical id depends on workgroup, database and model name only, never on the content, so an
update never makes CloudFormation delete the old resource. A Delete whose physical id is not ours
(a Create that failed before naming the resource) does nothing.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.custom_resource import CustomResourceError, CustomResourceEvent
from redshift_idc.runtime.data_api import RETRIES, DataApi, Target
from redshift_idc.runtime.reconciler import ReconcileError, Reconciler, Request, Script, statement_token
from redshift_idc.runtime.secrets import SecretResolver

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)
PHYSICAL_ID_PREFIX = "access-model:"
STEP_BUDGET_SECONDS = 40.0
POLL_SECONDS = 2.0


def physical_id(properties: dict[str, Any]) -> str:
    return f"{PHYSICAL_ID_PREFIX}{properties['WorkgroupName']}/{properties['Database']}/{properties['ModelName']}"


def _flag(value: Any) -> bool:
    """CloudFormation turns booleans into strings."""
    return str(value).lower() == "true"


def on_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    request = CustomResourceEvent.from_dict(event)
    if request.request_type == "Delete":
        return {"PhysicalResourceId": request.physical_resource_id or "access-model-not-created"}
    for name in ("WorkgroupName", "Database", "SecretArn", "ModelName", "ModelBucket", "ModelKey", "ModelHash"):
        request.required(name)
    return {"PhysicalResourceId": physical_id(request.properties)}


def load_model_document(properties: dict[str, Any], s3: Any = None) -> dict[str, Any]:
    s3 = s3 or boto3.client("s3", config=RETRIES)
    body = s3.get_object(Bucket=properties["ModelBucket"], Key=properties["ModelKey"])["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


def build_request(event: CustomResourceEvent, document: dict[str, Any] | None) -> Request:
    props = event.properties
    # Unique per CloudFormation request: a later request with the same properties (a re-create, a
    # rollback to an earlier model) must never pick up an earlier request's statements.
    token = statement_token(f"{event.request_type}:{event.request_id}:{props.get('ModelHash')}")
    if event.request_type == "Delete" or document is None:
        desired = AccessState(case_sensitive=_flag(props.get("CaseSensitive", "false")))
        scripts: list[Script] = []
    else:
        desired = AccessState.from_json(document["desired"])
        scripts = [Script(s["Name"], s["Sql"], s["Checksum"]) for s in document.get("scripts", [])]
    return Request(model=str(props["ModelName"]), desired=desired, token=token, prune=_flag(props.get("Prune")),
                   ledger_schema=str(props.get("LedgerSchema") or "redshift_idc"), scripts=scripts,
                   identity_provider_drop_cascade=_flag(props.get("IdentityProviderDropCascade")))


def _workgroup_missing(error: ClientError) -> bool:
    err = error.response.get("Error", {})
    text = f"{err.get('Code', '')} {err.get('Message', '')}".lower()
    return "workgroup" in text and ("not found" in text or "does not exist" in text or "notfound" in text)


def is_complete(event: dict[str, Any], context: Any = None, *, api: DataApi | None = None, s3: Any = None,
                clock: Any = time, secretsmanager: Any = None) -> dict[str, Any]:
    """One bounded slice of work; the Provider framework calls again until IsComplete. `secretsmanager`:
    the client identity provider secrets are read with (default: built on first use)."""
    request = CustomResourceEvent.from_dict(event)
    props = request.properties
    if request.request_type == "Delete":
        if not (request.physical_resource_id or "").startswith(PHYSICAL_ID_PREFIX):
            return {"IsComplete": True}  # never created: nothing to remove
        if str(props.get("RemovalPolicy", "destroy")).lower() == "retain":
            LOG.info("removal policy retain: leaving roles, grants and policies in place")
            return {"IsComplete": True}
    document = None if request.request_type == "Delete" else load_model_document(props, s3)
    reconcile_request = build_request(request, document)
    api = api or DataApi(Target(str(props["WorkgroupName"]), str(props["Database"]), str(props["SecretArn"])))
    reconciler = Reconciler(api, reconcile_request, secrets=SecretResolver(secretsmanager))
    deadline = clock.monotonic() + STEP_BUDGET_SECONDS
    try:
        while True:
            outcome = reconciler.step()
            LOG.info("%s", outcome.message)
            if outcome.done:
                for warning in outcome.warnings:
                    LOG.warning("%s", warning)
                return {"IsComplete": True, "Data": {"Result": outcome.message}}
            if clock.monotonic() + POLL_SECONDS >= deadline:
                return {"IsComplete": False}
            clock.sleep(POLL_SECONDS)
    except ClientError as error:
        if request.request_type == "Delete" and _workgroup_missing(error):
            LOG.info("workgroup already gone: nothing to remove")
            return {"IsComplete": True}
        err = error.response.get("Error", {})
        raise CustomResourceError(f"Redshift Data API: {err.get('Code')}: {err.get('Message')}") from None
    except ReconcileError as error:
        raise CustomResourceError(str(error)) from None

"""`Custom::IdcTrustedTokenIssuer`: a trusted token issuer (TTI) alone, e.g. for the Redshift IdC application's
`AuthorizedTokenIssuerList` (third-party clients: BI tools, JDBC/ODBC with `IdpTokenAuthPlugin`, seed 000).
Redshift itself authorizes the TTI's tokens for its IdC-managed application; this resource owns the TTI only. The
OAuth application configuration (`idc_oauth_app.py`) makes and replaces its own TTI with the same functions.

It takes `InstanceArn`, `TrustedTokenIssuerName`, `IssuerUrl`, `ClaimAttributePath` and
`IdentityStoreAttributePath`, and returns the TTI ARN as physical id and `{"TrustedTokenIssuerArn"}` as data.
Create makes it (idempotently per request), Update renames it or changes its claim paths in place and makes a new
one for a new issuer URL or instance (CloudFormation then deletes the old one), Delete deletes it ("already gone"
is success).

Only the standard library and boto3 are imported: this module runs in Lambda.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from redshift_idc.runtime.custom_resource import CustomResourceError, CustomResourceEvent
from redshift_idc.runtime.idc_properties import TRUSTED_TOKEN_ISSUER_ARN, AppConfig, IssuerConfig, issuer_properties
from redshift_idc.runtime.idc_sso_admin import OAuthAppClient, connect

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

ISSUER_RESOURCE_TYPE = "Custom::IdcTrustedTokenIssuer"


def trusted_token_issuer_name(name: str, issuer_url: str) -> str:
    """`<name>-<first 8 hex digits of sha256(issuer URL)>`: the name the stacks give a TTI. A new URL means a new
    TTI (the API cannot change a TTI's URL), and the old and the new must coexist while CloudFormation replaces
    one with the other. One function, so `verify` finds by name exactly the TTI a deploy made."""
    return f"{name}-{hashlib.sha256(issuer_url.encode('utf-8')).hexdigest()[:8]}"


def parse_issuer_properties(props: Mapping[str, Any]) -> IssuerConfig:
    """`Custom::IdcTrustedTokenIssuer`'s properties, every problem named at once, before any AWS call."""
    problems: list[str] = []
    issuer = issuer_properties(props, problems)
    if problems:
        raise CustomResourceError(f"{ISSUER_RESOURCE_TYPE}: invalid properties: " + "; ".join(problems))
    return issuer


def issuer_client_token(event: Mapping[str, Any], config: IssuerConfig | AppConfig) -> str:
    """CreateTrustedTokenIssuer's idempotency token. It depends only on the CloudFormation request and the
    issuer it asks for, so a re-delivered request (a Lambda or framework retry of the same RequestId) gets
    back the issuer the first attempt made instead of leaking a second one. 64 hex chars: the API maximum."""
    seed = "\n".join([str(event.get("StackId", "")), str(event.get("LogicalResourceId", "")),
                      str(event.get("RequestId", "")), config.instance_arn, config.issuer_url, config.issuer_name])
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def issuer_moved(old: IssuerConfig | None, new: IssuerConfig) -> bool:
    """Whether the TTI must be a new one: `UpdateTrustedTokenIssuer` cannot change the issuer URL or instance
    (an unknown old state counts as moved; `converge_issuer` then checks the existing TTI first)."""
    return old is None or old.instance_arn != new.instance_arn or old.issuer_url != new.issuer_url


def converge_issuer(app: OAuthAppClient, issuer: IssuerConfig, old: IssuerConfig | None, physical_id: str,
                    client_token: str) -> tuple[str | None, bool]:
    """Make the TTI `physical_id` match `issuer`: in place when it can (name, claim paths), else another TTI:
    an existing one with the wanted name and URL (a rollback), or a new one. Returns (its ARN or None when
    `physical_id` was kept, whether this call created it). The caller owns deleting a TTI this call created
    if a later step fails; CloudFormation deletes the replaced one once the new ARN is the physical id."""
    if issuer_moved(old, issuer) and not app.issuer_serves(physical_id, issuer):
        existing = app.find_issuer(issuer)
        if existing is not None:
            LOG.info("taking back trusted token issuer %s (same name and URL) instead of %s", existing, physical_id)
            app.update_issuer(existing, issuer, None)
            return existing, False
        new_arn = app.create_issuer(issuer, client_token)
        LOG.info("issuer URL or instance changed: created trusted token issuer %s to replace %s",
                 new_arn, physical_id)
        return new_arn, True
    app.update_issuer(physical_id, issuer, old)
    return None, False


def _old_issuer(old_properties: Mapping[str, Any]) -> IssuerConfig | None:
    try:
        return parse_issuer_properties(old_properties)
    except CustomResourceError as error:
        LOG.warning("old properties unreadable (%s): treating the issuer as changed", error)
        return None


def on_issuer_event(event: dict[str, Any], client: Any = None) -> dict[str, Any]:
    """`Custom::IdcTrustedTokenIssuer`: the TTI alone, with the same calls and rules as the OAuth application's."""
    request = CustomResourceEvent.from_dict(event)
    physical_id = request.physical_resource_id or ""
    if request.request_type == "Delete":
        if not TRUSTED_TOKEN_ISSUER_ARN.fullmatch(physical_id):
            LOG.info("physical id %r is not a trusted token issuer: nothing was created, nothing to delete",
                     physical_id)
        elif error := connect(client).delete_issuer(physical_id):
            raise CustomResourceError(f"could not delete the trusted token issuer {physical_id}: {error}")
        return {"PhysicalResourceId": physical_id}
    issuer = parse_issuer_properties(request.properties)
    app = connect(client)
    token = issuer_client_token(event, issuer)
    if request.request_type == "Update" and TRUSTED_TOKEN_ISSUER_ARN.fullmatch(physical_id):
        issuer_arn = converge_issuer(app, issuer, _old_issuer(request.old_properties), physical_id,
                                     token)[0] or physical_id
    else:  # Create, or an Update of a resource whose Create never named a TTI
        issuer_arn = app.create_issuer(issuer, token)
        LOG.info("created trusted token issuer %s", issuer_arn)
    return {"PhysicalResourceId": issuer_arn, "Data": {"TrustedTokenIssuerArn": issuer_arn}}

"""Custom resources for what CloudFormation has no types for in IAM Identity Center: the trusted token issuer
(TTI), alone or with the customer-managed OAuth application configuration that uses it. One handler (`on_event`,
behind `redshift_idc/cdk/handlers/idc_oauth_app`), one TTI implementation, two resource types:

- `Custom::IdcTrustedTokenIssuer`: only a TTI (`idc_trusted_token_issuer.py`).
- `Custom::IdcOAuthAppConfig` (every other resource type, this module): the parts of the customer-managed IdC
  OAuth application that CloudFormation has no types for (seed 002, "Create a customer managed application in IAM
  Identity Center").

Both validate their properties with `idc_properties.py` and call sso-admin through `idc_sso_admin.py`.

CloudFormation creates the application itself (`AWS::SSO::Application`). This handler owns, for that
application, in this order:

1. the trusted token issuer (TTI) for the external IdP (`CreateTrustedTokenIssuer`, `OIDC_JWT`), so IdC
   accepts the IdP's id tokens and maps a claim (e.g. `email`) to an identity-store attribute;
2. the `jwt-bearer` grant: the application accepts tokens from that TTI for the IdP client ids (audiences);
3. the IAM authentication method: an actor policy that lets only the bridge role(s) call
   `sso-oauth:CreateTokenWithIAM`. The seed's console policy gives `sso-oauth:*` to a service principal;
   we name exactly who may exchange tokens, and for nothing else;
4. the `redshift:connect` access scope, authorized for the Redshift IdC application;
5. the assignment setting (`AssignmentRequired`).

Properties: `InstanceArn`, `ApplicationArn`, `TrustedTokenIssuerName`, `IssuerUrl`, `ClaimAttributePath`,
`IdentityStoreAttributePath`, `Audiences`, `ActorRoleArns`, `AuthorizedTargets` (lists of strings) and
`AssignmentRequired` (CloudFormation sends booleans as "true"/"false"). Data: `{"TrustedTokenIssuerArn"}`.

The physical id is the TTI ARN: the TTI is the one thing here with an identity of its own (the grant, method,
scope and setting are attributes of the application). Consequences:

- Create: if a step after the TTI fails, this invocation deletes what it made (a failed Create gets no
  Delete from CloudFormation), so the next attempt starts clean.
- Update calls only what changed. `UpdateTrustedTokenIssuer` can rename the TTI and change its claim paths
  but not its issuer URL (nor move it to another instance), so a new issuer URL or instance makes a new TTI,
  re-points the grant at it and returns its ARN; CloudFormation then sends Delete for the old ARN. Before
  making one it reads the current TTI: a rollback Update (original properties, original physical id) finds
  the URL already right and only re-points the grant, instead of adding a second TTI for the same issuer.
  If a step fails after a new TTI was made, that TTI is deleted (CloudFormation never learns its ARN).
- Delete reads the application's grant first: only if the grant still names this TTI does it delete the
  scope, method and grant (after a replacement they belong to the new TTI); the TTI itself always goes.
  "Already gone" is success, and a physical id that is not a TTI ARN (a Create that failed before naming
  the resource) means there is nothing to delete.

Only the standard library and boto3 are imported: this module runs in Lambda.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from redshift_idc.runtime.custom_resource import CustomResourceError, CustomResourceEvent
from redshift_idc.runtime.idc_properties import (
    APPLICATION_ARN,
    IAM_ROLE_ARN,
    MAX_AUDIENCES,
    MAX_TARGETS,
    SCOPE_TARGET,
    TRUSTED_TOKEN_ISSUER_ARN,
    AppConfig,
    flag_of,
    issuer_properties,
    text_of,
    texts_of,
)
from redshift_idc.runtime.idc_sso_admin import REDSHIFT_CONNECT, OAuthAppClient, StepFailed, connect
from redshift_idc.runtime.idc_trusted_token_issuer import (
    ISSUER_RESOURCE_TYPE,
    converge_issuer,
    issuer_client_token,
    issuer_moved,
    on_issuer_event,
)

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)


def parse_properties(props: Mapping[str, Any]) -> AppConfig:
    """Validate every property before any AWS call, and name every problem at once, so a bad template
    fails fast with one readable CloudFormation event instead of a half-made configuration."""
    problems: list[str] = []
    issuer = issuer_properties(props, problems)
    config = AppConfig(
        instance_arn=issuer.instance_arn,
        application_arn=text_of(props, "ApplicationArn", problems, APPLICATION_ARN,
                                "an IAM Identity Center application ARN"),
        issuer_name=issuer.issuer_name,
        issuer_url=issuer.issuer_url,
        claim_attribute_path=issuer.claim_attribute_path,
        identity_store_attribute_path=issuer.identity_store_attribute_path,
        audiences=texts_of(props, "Audiences", problems, MAX_AUDIENCES),
        actor_role_arns=texts_of(props, "ActorRoleArns", problems, None, IAM_ROLE_ARN, "IAM role ARNs"),
        authorized_targets=texts_of(props, "AuthorizedTargets", problems, MAX_TARGETS, SCOPE_TARGET,
                                    "IAM Identity Center application or instance ARNs"),
        assignment_required=flag_of(props, "AssignmentRequired", problems),
    )
    app = APPLICATION_ARN.fullmatch(config.application_arn)
    if config.instance_id and app and app.group("instance") != config.instance_id:
        problems.append(f"ApplicationArn {config.application_arn!r} is not in instance {config.instance_arn!r}")
    if problems:
        raise CustomResourceError("Custom::IdcOAuthAppConfig: invalid properties: " + "; ".join(problems))
    return config


@dataclass(frozen=True)
class _Undo:
    what: str
    run: Callable[[], str | None]


@dataclass(frozen=True)
class _Changes:
    grant: bool
    authentication_method: bool
    access_scope: bool
    assignment: bool


def _apply(app: OAuthAppClient, config: AppConfig, issuer_arn: str, changes: _Changes,
           undo: list[_Undo] | None) -> None:
    """Steps 2-5 in order. With `undo`, record how to remove each thing put (Create only: on Update the
    previous values are restored by CloudFormation's rollback Update, not by deleting)."""
    application = config.application_arn
    steps: list[tuple[bool, Callable[[], None], _Undo | None]] = [
        (changes.grant, lambda: app.put_grant(application, issuer_arn, config.audiences),
         _Undo("the jwt-bearer grant", lambda: app.delete_grant(application))),
        (changes.authentication_method, lambda: app.put_authentication_method(application, config.actor_role_arns),
         _Undo("the IAM authentication method", lambda: app.delete_authentication_method(application))),
        (changes.access_scope, lambda: app.put_access_scope(application, config.authorized_targets),
         _Undo(f"the {REDSHIFT_CONNECT} scope", lambda: app.delete_access_scope(application))),
        # A setting of the application, not a thing of its own: nothing to delete.
        (changes.assignment, lambda: app.put_assignment_configuration(application, config.assignment_required),
         None),
    ]
    for wanted, put, remove in steps:
        if not wanted:
            continue
        try:
            put()
        except StepFailed as failure:
            if undo is not None and remove is not None and not failure.outcome_known:
                undo.append(remove)
            raise
        if undo is not None and remove is not None:
            undo.append(remove)


def _rolled_back(failure: StepFailed, undo: list[_Undo], request: str) -> CustomResourceError:
    """Undo in reverse order and say what was cleaned up and what was not (with the error), so the next
    attempt starts clean or the operator knows exactly what to delete by hand."""
    cleaned: list[str] = []
    left: list[str] = []
    for item in reversed(undo):
        error = item.run()
        if error is None:
            cleaned.append(item.what)
        else:
            left.append(f"{item.what} ({error})")
    message = f"{failure}. Cleaned up what this {request} had created"
    message += f": {', '.join(cleaned)}" if cleaned else ": nothing"
    if left:
        message += f". Could NOT delete, remove by hand before retrying: {'; '.join(left)}"
    return CustomResourceError(message)


def create(app: OAuthAppClient, config: AppConfig, client_token: str) -> str:
    """All five steps; on failure, delete what this invocation made (a failed Create gets no Delete)."""
    issuer_arn = app.create_issuer(config.issuer, client_token)
    LOG.info("created trusted token issuer %s", issuer_arn)
    undo = [_Undo(f"the trusted token issuer {issuer_arn}", lambda: app.delete_issuer(issuer_arn))]
    try:
        _apply(app, config, issuer_arn, _Changes(True, True, True, True), undo)
    except StepFailed as failure:
        raise _rolled_back(failure, undo, "Create") from None
    return issuer_arn


def update(app: OAuthAppClient, config: AppConfig, old: AppConfig | None, physical_id: str,
           client_token: str) -> str:
    """Only what changed. A changed ApplicationArn (the application was replaced) or unreadable old
    properties put everything; a new issuer URL or instance makes a new TTI (see `issuer_serves`)."""
    if not TRUSTED_TOKEN_ISSUER_ARN.fullmatch(physical_id):
        LOG.info("physical id %r is not a trusted token issuer: creating the configuration", physical_id)
        return create(app, config, client_token)
    everything = old is None or old.application_arn != config.application_arn
    moved = issuer_moved(old.issuer if old else None, config.issuer)
    issuer_arn = physical_id
    undo: list[_Undo] = []
    new_arn, created = converge_issuer(app, config.issuer, old.issuer if old else None, physical_id, client_token)
    if new_arn is not None:
        issuer_arn = new_arn
    if new_arn is not None and created:
        undo.append(_Undo(f"the new trusted token issuer {new_arn}", lambda: app.delete_issuer(new_arn)))
    changes = _Changes(
        grant=everything or moved or old is None or old.audiences != config.audiences,
        authentication_method=everything or old is None or old.actor_role_arns != config.actor_role_arns,
        access_scope=everything or old is None or old.authorized_targets != config.authorized_targets,
        assignment=everything or old is None or old.assignment_required != config.assignment_required,
    )
    try:
        _apply(app, config, issuer_arn, changes, None)
    except StepFailed as failure:
        if undo:  # CloudFormation never learns the new ARN, so nothing else would delete it.
            raise _rolled_back(failure, undo, "Update") from None
        raise
    return issuer_arn


def delete(app: OAuthAppClient, properties: Mapping[str, Any], issuer_arn: str) -> None:
    """Remove the application's configuration only if its grant still names this TTI, then the TTI.

    Never blocked by the properties (they are not validated here): without a readable ApplicationArn, or
    when the grant cannot be read, only the TTI is deleted, which never removes configuration that belongs
    to a newer TTI; configuration left on an application is removed with that application. The grant is
    deleted last, and only when the scope and method are gone, so a retried Delete still finds it."""
    problems: list[str] = []
    application_arn = properties.get("ApplicationArn")
    if isinstance(application_arn, str) and APPLICATION_ARN.fullmatch(application_arn):
        try:
            issuers = app.grant_issuers(application_arn)
        except StepFailed as failure:
            LOG.warning("cannot tell whether %s still configures %s (%s): deleting only the issuer",
                        issuer_arn, application_arn, failure)
            issuers = None
        if issuers is not None and issuer_arn in issuers:
            first = [app.delete_access_scope(application_arn), app.delete_authentication_method(application_arn)]
            problems += [error for error in first if error]
            if problems:
                problems.append("kept the jwt-bearer grant so a retried Delete finds this configuration again")
            elif error := app.delete_grant(application_arn):
                problems.append(error)
        else:
            LOG.info("the grant of %s does not name %s (replaced or gone): deleting only the issuer",
                     application_arn, issuer_arn)
    if error := app.delete_issuer(issuer_arn):
        problems.append(error)
    if problems:
        raise CustomResourceError(f"could not delete all of the configuration of {issuer_arn}: "
                                  + "; ".join(problems))


def _old_config(old_properties: Mapping[str, Any]) -> AppConfig | None:
    """The previous properties, or None (treated as "everything changed") if they no longer validate, so
    a stricter validator in a newer version never blocks an Update of an older resource."""
    try:
        return parse_properties(old_properties)
    except CustomResourceError as error:
        LOG.warning("old properties unreadable (%s): applying every setting", error)
        return None


def on_event(event: dict[str, Any], context: Any = None, client: Any = None) -> dict[str, Any]:
    """Provider-framework entry point; `client` (an sso-admin client) is for tests.

    The client is made in the Lambda's region: the IdC instance must be in that region."""
    if event.get("ResourceType") == ISSUER_RESOURCE_TYPE:
        return on_issuer_event(event, client)
    request = CustomResourceEvent.from_dict(event)
    physical_id = request.physical_resource_id or ""
    if request.request_type == "Delete":
        if TRUSTED_TOKEN_ISSUER_ARN.fullmatch(physical_id):
            delete(connect(client), request.properties, physical_id)
        else:
            LOG.info("physical id %r is not a trusted token issuer: nothing was created, nothing to delete",
                     physical_id)
        return {"PhysicalResourceId": physical_id}
    config = parse_properties(request.properties)
    app = connect(client)
    token = issuer_client_token(event, config)
    if request.request_type == "Create":
        issuer_arn = create(app, config, token)
    else:
        issuer_arn = update(app, config, _old_config(request.old_properties), physical_id, token)
    return {"PhysicalResourceId": issuer_arn, "Data": {"TrustedTokenIssuerArn": issuer_arn}}

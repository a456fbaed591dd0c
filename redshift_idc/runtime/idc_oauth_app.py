"""Custom resources for what CloudFormation has no types for in IAM Identity Center: the trusted token issuer
(TTI), alone or with the customer-managed OAuth application configuration that uses it. One handler, one TTI
implementation, two resource types:

- `Custom::IdcTrustedTokenIssuer` (see `on_issuer_event`): only a TTI, e.g. for the Redshift IdC application's
  `AuthorizedTokenIssuerList` (third-party clients: BI tools, JDBC/ODBC with `IdpTokenAuthPlugin`, seed 000).
  Redshift itself authorizes the TTI's tokens for its IdC-managed application; this resource owns the TTI only.
- `Custom::IdcOAuthAppConfig` (every other resource type, below): the parts of the customer-managed IdC OAuth
  application that CloudFormation has no types for (seed 002, "Create a customer managed application in IAM
  Identity Center").

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

`Custom::IdcTrustedTokenIssuer` takes `InstanceArn`, `TrustedTokenIssuerName`, `IssuerUrl`, `ClaimAttributePath`
and `IdentityStoreAttributePath`, returns the same physical id and data, and follows the same TTI rules: Create
makes it (idempotently per request), Update renames it or changes its claim paths in place and makes a new one
for a new issuer URL or instance (CloudFormation then deletes the old one), Delete deletes it ("already gone" is
success).

Only the standard library and boto3 are imported: this module runs in Lambda.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from redshift_idc.runtime.custom_resource import CustomResourceError, CustomResourceEvent

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 8})
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
IAM_AUTHENTICATION = "IAM"
REDSHIFT_CONNECT = "redshift:connect"
NOT_FOUND = "ResourceNotFoundException"
# Model limits (sso-admin 2020-07-20): TokenIssuerAudiences and ScopeTargets hold 1 to 10 entries.
MAX_AUDIENCES = 10
MAX_TARGETS = 10

# ARN shapes from the sso-admin model's patterns; fullmatch is applied.
_PARTITION = r"arn:aws(?:-[a-z]{1,5}){0,3}"
_INSTANCE_ID = r"(?:sso)?ins-[a-zA-Z0-9.-]{16}"
INSTANCE_ARN = re.compile(rf"{_PARTITION}:sso:::instance/(?P<instance>{_INSTANCE_ID})")
APPLICATION_ARN = re.compile(
    rf"{_PARTITION}:sso::\d{{12}}:application/(?P<instance>{_INSTANCE_ID})/apl-[a-zA-Z0-9]{{16}}")
TRUSTED_TOKEN_ISSUER_ARN = re.compile(
    rf"{_PARTITION}:sso::\d{{12}}:trustedTokenIssuer/(?P<instance>{_INSTANCE_ID})/"
    r"tti-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}")
SCOPE_TARGET = re.compile(
    rf"{_PARTITION}:sso::(?:\d{{12}}:application/{_INSTANCE_ID}/apl-[a-zA-Z0-9]{{16}}|:instance/{_INSTANCE_ID})")
IAM_ROLE_ARN = re.compile(rf"{_PARTITION}:iam::\d{{12}}:role/[\w+=,.@/-]{{1,512}}")
ISSUER_NAME = re.compile(r"[\w+=,.@-]{1,255}")
# The model's claim patterns use \p{L} (any letter), which `re` lacks: [^\W\d_] is its closest stdlib form.
_LETTERS = r"[^\W\d_]+"
CLAIM_ATTRIBUTE_PATH = re.compile(rf"{_LETTERS}(?:[._]{_LETTERS}){{0,2}}")
IDENTITY_STORE_ATTRIBUTE_PATH = re.compile(rf"{_LETTERS}(?:\.{_LETTERS}){{0,2}}")
# OpenID Connect Discovery requires an https issuer; the model would also take http.
ISSUER_URL = re.compile(r"https://[-a-zA-Z0-9+&@/%=~_|!:,.;]*[-a-zA-Z0-9+&@/%=~_|]")


ISSUER_RESOURCE_TYPE = "Custom::IdcTrustedTokenIssuer"


def trusted_token_issuer_name(name: str, issuer_url: str) -> str:
    """`<name>-<first 8 hex digits of sha256(issuer URL)>`: the name the stacks give a TTI. A new URL means a new
    TTI (the API cannot change a TTI's URL), and the old and the new must coexist while CloudFormation replaces
    one with the other. One function, so `verify` finds by name exactly the TTI a deploy made."""
    return f"{name}-{hashlib.sha256(issuer_url.encode('utf-8')).hexdigest()[:8]}"


@dataclass(frozen=True)
class IssuerConfig:
    """A trusted token issuer for an OIDC IdP: what `CreateTrustedTokenIssuer` needs, validated."""

    instance_arn: str
    issuer_name: str
    issuer_url: str
    claim_attribute_path: str
    identity_store_attribute_path: str

    @property
    def instance_id(self) -> str:
        match = INSTANCE_ARN.fullmatch(self.instance_arn)
        return match.group("instance") if match else ""


@dataclass(frozen=True)
class AppConfig:
    """The resource properties, validated and typed; compared field by field on Update."""

    instance_arn: str
    application_arn: str
    issuer_name: str
    issuer_url: str
    claim_attribute_path: str
    identity_store_attribute_path: str
    audiences: tuple[str, ...]
    actor_role_arns: tuple[str, ...]
    authorized_targets: tuple[str, ...]
    assignment_required: bool

    @property
    def instance_id(self) -> str:
        match = INSTANCE_ARN.fullmatch(self.instance_arn)
        return match.group("instance") if match else ""

    @property
    def issuer(self) -> IssuerConfig:
        return IssuerConfig(self.instance_arn, self.issuer_name, self.issuer_url, self.claim_attribute_path,
                            self.identity_store_attribute_path)


def _text(props: Mapping[str, Any], name: str, problems: list[str], pattern: re.Pattern[str] | None = None,
          shape: str = "") -> str:
    value = props.get(name)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{name} is missing or empty")
        return ""
    if pattern is not None and not pattern.fullmatch(value):
        problems.append(f"{name} {value!r} is not {shape}")
    return value


def _texts(props: Mapping[str, Any], name: str, problems: list[str], most: int | None = None,
           pattern: re.Pattern[str] | None = None, shape: str = "") -> tuple[str, ...]:
    value = props.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{name} must be a non-empty list of non-empty strings (got {value!r})")
        return ()
    if most is not None and len(value) > most:
        problems.append(f"{name} has {len(value)} entries; IAM Identity Center accepts at most {most}")
    if pattern is not None:
        bad = [v for v in value if not pattern.fullmatch(v)]
        if bad:
            problems.append(f"{name} entries {bad!r} are not {shape}")
    return tuple(value)


def _flag(props: Mapping[str, Any], name: str, problems: list[str]) -> bool:
    """CloudFormation turns booleans into strings; a direct invocation may still send a real bool."""
    value = props.get(name)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    problems.append(f"{name} must be true or false (got {value!r})")
    return False


def _issuer_properties(props: Mapping[str, Any], problems: list[str]) -> IssuerConfig:
    """The TTI properties both resource types share, each problem appended to `problems`."""
    return IssuerConfig(
        instance_arn=_text(props, "InstanceArn", problems, INSTANCE_ARN, "an IAM Identity Center instance ARN"),
        issuer_name=_text(props, "TrustedTokenIssuerName", problems, ISSUER_NAME,
                          "a trusted token issuer name (1-255 of letters, digits and _+=,.@-)"),
        issuer_url=_text(props, "IssuerUrl", problems, ISSUER_URL, "an https:// issuer URL"),
        claim_attribute_path=_text(props, "ClaimAttributePath", problems, CLAIM_ATTRIBUTE_PATH,
                                   "a token claim path (e.g. email, up to three names joined by . or _)"),
        identity_store_attribute_path=_text(props, "IdentityStoreAttributePath", problems,
                                            IDENTITY_STORE_ATTRIBUTE_PATH,
                                            "an identity store attribute path (e.g. emails.value)"),
    )


def parse_issuer_properties(props: Mapping[str, Any]) -> IssuerConfig:
    """`Custom::IdcTrustedTokenIssuer`'s properties, every problem named at once, before any AWS call."""
    problems: list[str] = []
    issuer = _issuer_properties(props, problems)
    if problems:
        raise CustomResourceError(f"{ISSUER_RESOURCE_TYPE}: invalid properties: " + "; ".join(problems))
    return issuer


def parse_properties(props: Mapping[str, Any]) -> AppConfig:
    """Validate every property before any AWS call, and name every problem at once, so a bad template
    fails fast with one readable CloudFormation event instead of a half-made configuration."""
    problems: list[str] = []
    issuer = _issuer_properties(props, problems)
    config = AppConfig(
        instance_arn=issuer.instance_arn,
        application_arn=_text(props, "ApplicationArn", problems, APPLICATION_ARN,
                              "an IAM Identity Center application ARN"),
        issuer_name=issuer.issuer_name,
        issuer_url=issuer.issuer_url,
        claim_attribute_path=issuer.claim_attribute_path,
        identity_store_attribute_path=issuer.identity_store_attribute_path,
        audiences=_texts(props, "Audiences", problems, MAX_AUDIENCES),
        actor_role_arns=_texts(props, "ActorRoleArns", problems, None, IAM_ROLE_ARN, "IAM role ARNs"),
        authorized_targets=_texts(props, "AuthorizedTargets", problems, MAX_TARGETS, SCOPE_TARGET,
                                  "IAM Identity Center application or instance ARNs"),
        assignment_required=_flag(props, "AssignmentRequired", problems),
    )
    app = APPLICATION_ARN.fullmatch(config.application_arn)
    if config.instance_id and app and app.group("instance") != config.instance_id:
        problems.append(f"ApplicationArn {config.application_arn!r} is not in instance {config.instance_arn!r}")
    if problems:
        raise CustomResourceError("Custom::IdcOAuthAppConfig: invalid properties: " + "; ".join(problems))
    return config


def actor_policy(role_arns: tuple[str, ...]) -> dict[str, Any]:
    """The application policy (`ActorPolicy`, a JSON document in the API): only these roles may exchange
    tokens, and only with CreateTokenWithIAM. In an application policy the resource is the application
    itself, so "*" here means "this application", not "every application"."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": list(role_arns)},
            "Action": "sso-oauth:CreateTokenWithIAM",
            "Resource": "*",
        }],
    }


def issuer_client_token(event: Mapping[str, Any], config: IssuerConfig | AppConfig) -> str:
    """CreateTrustedTokenIssuer's idempotency token. It depends only on the CloudFormation request and the
    issuer it asks for, so a re-delivered request (a Lambda or framework retry of the same RequestId) gets
    back the issuer the first attempt made instead of leaking a second one. 64 hex chars: the API maximum."""
    seed = "\n".join([str(event.get("StackId", "")), str(event.get("LogicalResourceId", "")),
                      str(event.get("RequestId", "")), config.instance_arn, config.issuer_url, config.issuer_name])
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


class StepFailed(CustomResourceError):
    """An sso-admin call failed. `outcome_known` is False when the call may have taken effect (a timeout or
    connection error, not an answer from the service), so cleanup must undo it too."""

    def __init__(self, step: str, operation: str, code: str, message: str, outcome_known: bool) -> None:
        super().__init__(f"{step} ({operation}) failed: {code}: {message}")
        self.code = code
        self.outcome_known = outcome_known


@dataclass(frozen=True)
class _Undo:
    what: str
    run: Callable[[], str | None]


class OAuthAppClient:
    """The sso-admin calls this resource makes, each named so a failure says which step broke."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _call(self, step: str, operation: str, **params: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**params)
        except ClientError as error:
            err = error.response.get("Error", {})
            raise StepFailed(step, operation, str(err.get("Code", "")), str(err.get("Message", "")),
                             outcome_known=True) from None
        except BotoCoreError as error:
            raise StepFailed(step, operation, type(error).__name__, str(error), outcome_known=False) from None
        return response

    def _delete(self, step: str, operation: str, **params: Any) -> str | None:
        """None when deleted or already gone (so retries and repeated Deletes succeed); else the error."""
        try:
            self._call(step, operation, **params)
        except StepFailed as failure:
            if failure.code == NOT_FOUND:
                LOG.info("%s: already gone", step)
                return None
            return str(failure)
        return None

    def create_issuer(self, config: IssuerConfig, client_token: str) -> str:
        response = self._call(
            "create the trusted token issuer", "create_trusted_token_issuer",
            InstanceArn=config.instance_arn, Name=config.issuer_name, TrustedTokenIssuerType="OIDC_JWT",
            TrustedTokenIssuerConfiguration={"OidcJwtConfiguration": {
                "IssuerUrl": config.issuer_url,
                "ClaimAttributePath": config.claim_attribute_path,
                "IdentityStoreAttributePath": config.identity_store_attribute_path,
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }},
            ClientToken=client_token,
        )
        return str(response["TrustedTokenIssuerArn"])

    def update_issuer(self, issuer_arn: str, config: IssuerConfig, old: IssuerConfig | None) -> None:
        """Send only what changed (everything when the old state is unknown)."""
        params: dict[str, Any] = {}
        if old is None or old.issuer_name != config.issuer_name:
            params["Name"] = config.issuer_name
        if (old is None or old.claim_attribute_path != config.claim_attribute_path
                or old.identity_store_attribute_path != config.identity_store_attribute_path):
            params["TrustedTokenIssuerConfiguration"] = {"OidcJwtConfiguration": {
                "ClaimAttributePath": config.claim_attribute_path,
                "IdentityStoreAttributePath": config.identity_store_attribute_path,
            }}
        if params:
            self._call("update the trusted token issuer", "update_trusted_token_issuer",
                       TrustedTokenIssuerArn=issuer_arn, **params)

    def issuer_serves(self, issuer_arn: str, config: IssuerConfig) -> bool:
        """Whether this existing TTI already has the wanted instance and issuer URL. A rollback Update sends
        the original properties with the original physical id: that TTI must be kept, not replaced (a
        second TTI for the same issuer URL in the same instance would not be accepted)."""
        match = TRUSTED_TOKEN_ISSUER_ARN.fullmatch(issuer_arn)
        if not match or match.group("instance") != config.instance_id:
            return False
        try:
            response = self._call("read the trusted token issuer", "describe_trusted_token_issuer",
                                  TrustedTokenIssuerArn=issuer_arn)
        except StepFailed as failure:
            if failure.code == NOT_FOUND:
                return False
            raise
        oidc = response.get("TrustedTokenIssuerConfiguration", {}).get("OidcJwtConfiguration", {})
        return str(oidc.get("IssuerUrl", "")) == config.issuer_url  # as `iss` carries it: a slash matters

    def find_issuer(self, config: IssuerConfig) -> str | None:
        """An existing TTI of this instance with the wanted name and issuer URL, if any. After a failed
        update that moved the issuer URL, CloudFormation rolls back with the original properties while the
        original TTI still exists (it is deleted only after a successful update): that TTI is taken back
        instead of creating a second one for the same URL."""
        params: dict[str, Any] = {"InstanceArn": config.instance_arn}
        while True:
            response = self._call("list the trusted token issuers", "list_trusted_token_issuers", **params)
            for item in response.get("TrustedTokenIssuers", []):
                arn = str(item.get("TrustedTokenIssuerArn", ""))
                if item.get("Name") == config.issuer_name and self.issuer_serves(arn, config):
                    return arn
            if not response.get("NextToken"):
                return None
            params["NextToken"] = response["NextToken"]

    def put_grant(self, application_arn: str, issuer_arn: str, audiences: tuple[str, ...]) -> None:
        self._call("authorize the issuer's tokens (jwt-bearer grant)", "put_application_grant",
                   ApplicationArn=application_arn, GrantType=JWT_BEARER,
                   Grant={"JwtBearer": {"AuthorizedTokenIssuers": [
                       {"TrustedTokenIssuerArn": issuer_arn, "AuthorizedAudiences": list(audiences)}]}})

    def put_authentication_method(self, application_arn: str, role_arns: tuple[str, ...]) -> None:
        self._call("set the IAM authentication method (actor policy)", "put_application_authentication_method",
                   ApplicationArn=application_arn, AuthenticationMethodType=IAM_AUTHENTICATION,
                   AuthenticationMethod={"Iam": {"ActorPolicy": actor_policy(role_arns)}})

    def put_access_scope(self, application_arn: str, targets: tuple[str, ...]) -> None:
        self._call(f"authorize the {REDSHIFT_CONNECT} scope", "put_application_access_scope",
                   ApplicationArn=application_arn, Scope=REDSHIFT_CONNECT, AuthorizedTargets=list(targets))

    def put_assignment_configuration(self, application_arn: str, required: bool) -> None:
        self._call("set whether assignment is required", "put_application_assignment_configuration",
                   ApplicationArn=application_arn, AssignmentRequired=required)

    def grant_issuers(self, application_arn: str) -> list[str] | None:
        """The TTI ARNs the application's jwt-bearer grant names; None when there is no grant (or no
        application). Delete uses this to tell whether the application's configuration is still ours."""
        try:
            response = self._call("read the jwt-bearer grant", "get_application_grant",
                                  ApplicationArn=application_arn, GrantType=JWT_BEARER)
        except StepFailed as failure:
            if failure.code == NOT_FOUND:
                return None
            raise
        issuers = response.get("Grant", {}).get("JwtBearer", {}).get("AuthorizedTokenIssuers", [])
        return [str(i.get("TrustedTokenIssuerArn", "")) for i in issuers]

    def delete_access_scope(self, application_arn: str) -> str | None:
        return self._delete(f"delete the {REDSHIFT_CONNECT} scope", "delete_application_access_scope",
                            ApplicationArn=application_arn, Scope=REDSHIFT_CONNECT)

    def delete_authentication_method(self, application_arn: str) -> str | None:
        return self._delete("delete the IAM authentication method", "delete_application_authentication_method",
                            ApplicationArn=application_arn, AuthenticationMethodType=IAM_AUTHENTICATION)

    def delete_grant(self, application_arn: str) -> str | None:
        return self._delete("delete the jwt-bearer grant", "delete_application_grant",
                            ApplicationArn=application_arn, GrantType=JWT_BEARER)

    def delete_issuer(self, issuer_arn: str) -> str | None:
        return self._delete("delete the trusted token issuer", "delete_trusted_token_issuer",
                            TrustedTokenIssuerArn=issuer_arn)


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
        elif error := OAuthAppClient(client or boto3.client("sso-admin", config=RETRIES)).delete_issuer(physical_id):
            raise CustomResourceError(f"could not delete the trusted token issuer {physical_id}: {error}")
        return {"PhysicalResourceId": physical_id}
    issuer = parse_issuer_properties(request.properties)
    app = OAuthAppClient(client or boto3.client("sso-admin", config=RETRIES))
    token = issuer_client_token(event, issuer)
    if request.request_type == "Update" and TRUSTED_TOKEN_ISSUER_ARN.fullmatch(physical_id):
        issuer_arn = converge_issuer(app, issuer, _old_issuer(request.old_properties), physical_id,
                                     token)[0] or physical_id
    else:  # Create, or an Update of a resource whose Create never named a TTI
        issuer_arn = app.create_issuer(issuer, token)
        LOG.info("created trusted token issuer %s", issuer_arn)
    return {"PhysicalResourceId": issuer_arn, "Data": {"TrustedTokenIssuerArn": issuer_arn}}


def on_event(event: dict[str, Any], context: Any = None, client: Any = None) -> dict[str, Any]:
    """Provider-framework entry point; `client` (an sso-admin client) is for tests.

    The client is made in the Lambda's region: the IdC instance must be in that region."""
    if event.get("ResourceType") == ISSUER_RESOURCE_TYPE:
        return on_issuer_event(event, client)
    request = CustomResourceEvent.from_dict(event)
    physical_id = request.physical_resource_id or ""
    if request.request_type == "Delete":
        if TRUSTED_TOKEN_ISSUER_ARN.fullmatch(physical_id):
            delete(OAuthAppClient(client or boto3.client("sso-admin", config=RETRIES)), request.properties,
                   physical_id)
        else:
            LOG.info("physical id %r is not a trusted token issuer: nothing was created, nothing to delete",
                     physical_id)
        return {"PhysicalResourceId": physical_id}
    config = parse_properties(request.properties)
    app = OAuthAppClient(client or boto3.client("sso-admin", config=RETRIES))
    token = issuer_client_token(event, config)
    if request.request_type == "Create":
        issuer_arn = create(app, config, token)
    else:
        issuer_arn = update(app, config, _old_config(request.old_properties), physical_id, token)
    return {"PhysicalResourceId": issuer_arn, "Data": {"TrustedTokenIssuerArn": issuer_arn}}

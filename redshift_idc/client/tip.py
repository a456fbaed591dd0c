"""Query Redshift through the Data API as the signed-in user: trusted identity propagation (seed 002).

An application that signed its user in with an external OIDC identity provider holds the provider's id
token. Four calls turn it into an identity-enhanced IAM role session whose Data API calls Redshift
authorizes as that IAM Identity Center user (roles `<namespace>:<group>`, row-level security):

1. ``sts:AssumeRoleWithWebIdentity`` with the IdP token on the *bridge* role (no AWS credentials needed);
2. ``sso-oauth:CreateTokenWithIAM`` (jwt-bearer grant) with the bridge credentials on the customer-managed
   IdC application: IdC maps the token to its user and returns its own id token;
3. the ``sts:identity_context`` claim of that id token is read (no signature check: AWS verifies it);
4. ``sts:AssumeRole`` with the bridge credentials on the *client* role with the identity context as a
   provided context: the result is the identity-enhanced session.

Tokens and credentials never appear in messages, reprs or logs. The library needs only boto3 and PyJWT
(`pip install .`). Beside it: `result.py` (what a query returns), `messages.py` (each refusal worded for the
person who can fix it) and `command.py` (`python -m redshift_idc.client query`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import boto3
import jwt
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from redshift_idc.client import messages
from redshift_idc.client.result import Cell, QueryResult, typed_cell

log = logging.getLogger(__name__)

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
IDENTITY_CENTER_CONTEXT_PROVIDER = "arn:aws:iam::aws:contextProvider/IdentityCenter"
IDENTITY_CONTEXT_CLAIM = "sts:identity_context"
# The bridge credentials only live for the token exchange and the client-role assumption: the minimum.
BRIDGE_SESSION_SECONDS = 900
# The client role is assumed with the bridge role's credentials (role chaining): STS caps it at one hour.
MAX_CHAINED_SESSION_SECONDS = 3600
MIN_SESSION_SECONDS = 900
DEFAULT_SESSION_NAME = "tip-session"
AWS_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})
# Data API calls: botocore's adaptive retries absorb throttling; short timeouts, as the runtime's (runtime/limits.py).
DATA_API_CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 4}, connect_timeout=5, read_timeout=15)
# The Data API's statuses of a statement that has not finished yet.
RUNNING = frozenset({"SUBMITTED", "PICKED", "STARTED"})

_SESSION_NAME_UNSAFE = re.compile(r"[^\w+=,.@-]", re.ASCII)
_OUTPUT_STACKS = {
    "Identity": ("BridgeRoleArn", "ClientRoleArn", "OAuthApplicationArn", "Region"),
    "Warehouse": ("WorkgroupName", "DatabaseName"),
}


class TipError(Exception):
    """A trusted-identity-propagation problem, worded for the person who can fix it. Never holds secrets."""


class QueryFailed(TipError):
    """The SQL itself failed or was aborted (the session is fine)."""

    def __init__(self, message: str, *, statement_id: str, status: str) -> None:
        super().__init__(message)
        self.statement_id = statement_id
        self.status = status


class Clock(Protocol):
    """What the session needs of time; the `time` module is one."""

    def time(self) -> float: ...

    def sleep(self, seconds: float, /) -> None: ...


@dataclass(frozen=True)
class AwsCredentials:
    """Temporary AWS credentials. The repr shows only the expiry."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime

    @property
    def expires_at(self) -> float:
        """Expiry in epoch seconds."""
        return self.expiration.timestamp()

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for `boto3.client(...)` / `boto3.session.Session(...)`."""
        return {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key,
                "aws_session_token": self.session_token}

    @classmethod
    def from_sts(cls, response: dict[str, Any]) -> AwsCredentials:
        credentials = response["Credentials"]
        return cls(str(credentials["AccessKeyId"]), str(credentials["SecretAccessKey"]),
                   str(credentials["SessionToken"]), _as_datetime(credentials["Expiration"]))


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return _as_datetime(datetime.fromisoformat(str(value)))


@dataclass(frozen=True)
class TipClientConfig:
    """Where the flow runs: the Identity and Warehouse stacks' outputs."""

    region: str
    bridge_role_arn: str
    client_role_arn: str
    application_arn: str  # the IdC customer-managed OAuth application: `clientId` of CreateTokenWithIAM
    workgroup: str
    database: str
    session_seconds: int = 3600
    refresh_margin_seconds: int = 300

    def __post_init__(self) -> None:
        for name in ("region", "bridge_role_arn", "client_role_arn", "application_arn", "workgroup", "database"):
            if not getattr(self, name):
                raise TipError(f"TipClientConfig.{name} is empty")
        if not MIN_SESSION_SECONDS <= self.session_seconds <= MAX_CHAINED_SESSION_SECONDS:
            raise TipError(f"session_seconds must be between {MIN_SESSION_SECONDS} and {MAX_CHAINED_SESSION_SECONDS}: "
                           "the client role is assumed with the bridge role's credentials (role chaining), which "
                           f"STS limits to one hour (got {self.session_seconds})")
        if not 0 <= self.refresh_margin_seconds < self.session_seconds:
            raise TipError(f"refresh_margin_seconds must be at least 0 and less than session_seconds "
                           f"({self.session_seconds}); got {self.refresh_margin_seconds}")

    @classmethod
    def from_outputs(cls, path: str | Path, stack_prefix: str | None = None, *, session_seconds: int = 3600,
                     refresh_margin_seconds: int = 300) -> TipClientConfig:
        """Read a `cdk deploy --outputs-file` JSON: `<prefix>Identity` and `<prefix>Warehouse` outputs. Without
        a prefix, the file's one environment with identity propagation (a deploy writes one environment's)."""
        path = Path(path)
        hint = f"write it with `make deploy ENV=<env> OUTPUTS={path}`"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TipError(f"{path}: no such outputs file; {hint}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise TipError(f"{path}: not a readable CDK outputs file ({error}); {hint}") from None
        if not isinstance(document, dict):
            raise TipError(f"{path}: expected a JSON object of stacks and their outputs; {hint}")
        if stack_prefix is None:
            stack_prefix = _only_stack_prefix(document, path, hint)
        values: dict[str, str] = {}
        for suffix, keys in _OUTPUT_STACKS.items():
            stack = f"{stack_prefix}{suffix}"
            outputs = document.get(stack)
            for key in keys:
                value = outputs.get(key) if isinstance(outputs, dict) else None
                if not isinstance(value, str) or not value:
                    known = ", ".join(sorted(k for k in document if isinstance(k, str))) or "none"
                    raise TipError(f"{path}: missing output {stack}.{key} (stacks in the file: {known}); deploy the "
                                   f"{stack} stack and {hint}")
                values[f"{suffix}.{key}"] = value
        return cls(
            region=values["Identity.Region"], bridge_role_arn=values["Identity.BridgeRoleArn"],
            client_role_arn=values["Identity.ClientRoleArn"], application_arn=values["Identity.OAuthApplicationArn"],
            workgroup=values["Warehouse.WorkgroupName"], database=values["Warehouse.DatabaseName"],
            session_seconds=session_seconds, refresh_margin_seconds=refresh_margin_seconds,
        )


def _only_stack_prefix(document: dict[str, Any], path: Path, hint: str) -> str:
    """The prefix of the one `<prefix>Identity` stack with identity propagation's outputs in the file."""
    prefixes = sorted(stack.removesuffix("Identity") for stack, outputs in document.items()
                      if stack.endswith("Identity") and isinstance(outputs, dict) and "BridgeRoleArn" in outputs)
    if len(prefixes) == 1:
        return prefixes[0]
    if not prefixes:
        known = ", ".join(sorted(k for k in document if isinstance(k, str))) or "none"
        raise TipError(f"{path}: no <prefix>Identity stack with a BridgeRoleArn output (stacks in the file: "
                       f"{known}); deploy an environment with identity_propagation and {hint}")
    raise TipError(f"{path}: holds the outputs of several environments ({', '.join(prefixes)}): name the stack "
                   "prefix of the one to query")


def decode_jwt_payload(token: str, what: str = "token") -> dict[str, Any]:
    """The claims of a JWT, read with PyJWT without verifying its signature: this client only reads claims
    (who, until when, the identity context) from tokens it then hands to AWS, which verifies them (STS the
    IdP's token against the IAM OIDC provider, IAM Identity Center its own). An app that trusts the claims
    itself verifies the token first (examples/streamlit_tip/oidc.py does)."""
    token = token.strip()
    if token.count(".") != 2:  # e.g. an opaque access token: say what a JWT looks like
        raise TipError(f"The {what} is not a JWT (expected three dot-separated base64url parts)")
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:  # "Invalid header padding", "Invalid payload string: must be a json object"
        raise TipError(f"The {what} is not a JWT ({str(error)[:200]})") from None


def session_name_for(claims: dict[str, Any]) -> str:
    """A RoleSessionName from the token's email (else sub): [\\w+=,.@-], 2 to 64 characters."""
    raw = str(claims.get("email") or claims.get("sub") or "")
    name = _SESSION_NAME_UNSAFE.sub("-", raw)[:64]
    return name if len(name) >= 2 else DEFAULT_SESSION_NAME


def make_client(service: str, region: str, credentials: AwsCredentials | None = None) -> Any:
    """A boto3 client on its own session (thread-safe for web apps). Without credentials it is unsigned,
    which is all AssumeRoleWithWebIdentity needs."""
    config = DATA_API_CLIENT_CONFIG if service == "redshift-data" else AWS_CLIENT_CONFIG
    if credentials is None:
        return boto3.session.Session().client(service, region_name=region,
                                              config=config.merge(Config(signature_version=UNSIGNED)))
    session = boto3.session.Session(region_name=region, **credentials.client_kwargs())
    return session.client(service, region_name=region, config=config)


class TipSession:
    """An identity-enhanced session for one signed-in user. Build it with `from_id_token`."""

    def __init__(self, token: str, config: TipClientConfig, claims: dict[str, Any], *, sts: Any, sso_oidc: Any,
                 redshift_data_factory: Callable[[AwsCredentials], Any] | None, clock: Clock) -> None:
        self._token = token
        self._claims = claims
        self.config = config
        self._sts = sts
        self._sso_oidc = sso_oidc
        self._redshift_data_factory = redshift_data_factory
        self._clock = clock
        self._credentials: AwsCredentials | None = None
        self._redshift_data: tuple[AwsCredentials, Any] | None = None
        self.session_name = session_name_for(claims)

    def __repr__(self) -> str:
        return f"TipSession(who={self.who!r}, expiration={self.expiration!r})"

    @classmethod
    def from_id_token(cls, token: str, config: TipClientConfig, *, sts: Any = None, sso_oidc: Any = None,
                      redshift_data_factory: Callable[[AwsCredentials], Any] | None = None,
                      clock: Clock = time) -> TipSession:
        """Run the four steps with the IdP's id token. Injected clients are used as given (tests); by default
        each step gets a client built with the credentials of the step before."""
        token = token.strip()
        session = cls(token, config, decode_jwt_payload(token, "identity provider's id token"), sts=sts,
                      sso_oidc=sso_oidc, redshift_data_factory=redshift_data_factory, clock=clock)
        session.refresh()
        return session

    @property
    def who(self) -> str:
        """The signed-in user for display: the IdP token's email, else its subject."""
        return str(self._claims.get("email") or self._claims.get("sub") or "unknown user")

    @property
    def idp_token_expires_at(self) -> float | None:
        exp = self._claims.get("exp")
        return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None

    @property
    def expiration(self) -> datetime | None:
        """When the current identity-enhanced credentials expire."""
        return self._credentials.expiration if self._credentials else None

    def credentials(self) -> AwsCredentials:
        """The identity-enhanced credentials, renewed with the original IdP token within the refresh margin
        of their expiry (TipError asking to sign in again once the IdP token itself has expired)."""
        current = self._credentials
        if current is None or self._clock.time() >= current.expires_at - self.config.refresh_margin_seconds:
            return self.refresh()
        return current

    def refresh(self) -> AwsCredentials:
        """Run the flow now."""
        self._check_idp_token()
        bridge = self._assume_bridge_role()
        identity_context = self._identity_context(self._exchange_token(bridge))
        self._credentials = self._assume_client_role(bridge, identity_context)
        log.info("identity-enhanced session for %s until %s", self.who, self._credentials.expiration.isoformat())
        return self._credentials

    def _check_idp_token(self) -> None:
        expires_at = self.idp_token_expires_at
        if expires_at is not None and expires_at <= self._clock.time():
            raise TipError(f"The sign-in of {self.who} has expired (the identity provider's token expired at "
                           f"{datetime.fromtimestamp(expires_at, UTC).isoformat()}): sign in again")

    def _client(self, service: str, credentials: AwsCredentials | None) -> Any:
        return make_client(service, self.config.region, credentials)

    def _assume_bridge_role(self) -> AwsCredentials:
        sts = self._sts or self._client("sts", None)
        try:
            response = sts.assume_role_with_web_identity(
                RoleArn=self.config.bridge_role_arn, RoleSessionName=self.session_name,
                WebIdentityToken=self._token, DurationSeconds=BRIDGE_SESSION_SECONDS)
        except ClientError as error:
            raise TipError(messages.bridge_refusal(error, self.config, self.who, self._claims)) from None
        except BotoCoreError as error:
            raise _unreachable("AssumeRoleWithWebIdentity", error) from None
        return AwsCredentials.from_sts(response)

    def _exchange_token(self, bridge: AwsCredentials) -> tuple[str, dict[str, Any]]:
        sso_oidc = self._sso_oidc or self._client("sso-oidc", bridge)
        try:
            response = sso_oidc.create_token_with_iam(clientId=self.config.application_arn,
                                                      grantType=JWT_BEARER_GRANT, assertion=self._token)
        except ClientError as error:
            raise TipError(messages.exchange_refusal(error, self.config, self.who)) from None
        except BotoCoreError as error:
            raise _unreachable("CreateTokenWithIAM", error) from None
        return str(response.get("idToken") or ""), dict(response.get("awsAdditionalDetails") or {})

    def _identity_context(self, exchanged: tuple[str, dict[str, Any]]) -> str:
        id_token, details = exchanged
        claims = decode_jwt_payload(id_token, "IAM Identity Center id token") if id_token else {}
        context = claims.get(IDENTITY_CONTEXT_CLAIM) or details.get("identityContext")
        if not isinstance(context, str) or not context:
            raise TipError(f"IAM Identity Center returned no `{IDENTITY_CONTEXT_CLAIM}` for {self.who}, so no "
                           "identity-enhanced session can be created: application "
                           f"{self.config.application_arn} must be the customer-managed OAuth application set up "
                           "for trusted identity propagation (trusted token issuer, jwt-bearer grant, IAM "
                           "authentication method, Redshift as a trusted application with redshift:connect).")
        return context

    def _assume_client_role(self, bridge: AwsCredentials, identity_context: str) -> AwsCredentials:
        sts = self._sts or self._client("sts", bridge)
        try:
            response = sts.assume_role(
                RoleArn=self.config.client_role_arn, RoleSessionName=self.session_name,
                DurationSeconds=self.config.session_seconds,
                ProvidedContexts=[{"ProviderArn": IDENTITY_CENTER_CONTEXT_PROVIDER,
                                   "ContextAssertion": identity_context}])
        except ClientError as error:
            raise TipError(messages.client_role_refusal(error, self.config)) from None
        except BotoCoreError as error:
            raise _unreachable("AssumeRole", error) from None
        return AwsCredentials.from_sts(response)

    # --- Data API --------------------------------------------------------------------------------------

    def redshift_data(self) -> Any:
        """A redshift-data client on the current identity-enhanced credentials (rebuilt after a refresh)."""
        credentials = self.credentials()
        if self._redshift_data is None or self._redshift_data[0] is not credentials:
            factory = self._redshift_data_factory
            client = factory(credentials) if factory else self._client("redshift-data", credentials)
            self._redshift_data = (credentials, client)
        return self._redshift_data[1]

    def query(self, sql: str, *, timeout_seconds: float = 300) -> QueryResult:
        """Run one statement as the signed-in user and return its typed rows."""
        client = self.redshift_data()
        statement_id = ""
        try:
            response = client.execute_statement(WorkgroupName=self.config.workgroup, Database=self.config.database,
                                                Sql=sql)
            statement_id = str(response["Id"])
            description = self._wait(client, statement_id, timeout_seconds)
            if not description.get("HasResultSet", True):
                return QueryResult([], [], statement_id)
            return self._results(client, statement_id)
        except ClientError as error:
            raise TipError(messages.data_api_refusal(error, self.config, self.who)) from None
        except BotoCoreError as error:
            raise _unreachable("the Redshift Data API", error) from None

    def _wait(self, client: Any, statement_id: str, timeout_seconds: float) -> dict[str, Any]:
        deadline = self._clock.time() + timeout_seconds
        delay = 0.25
        while True:
            description = dict(client.describe_statement(Id=statement_id))
            status = str(description.get("Status", ""))
            if status == "FINISHED":
                return description
            if status in ("FAILED", "ABORTED"):
                message = messages.scrub(str(description.get("Error") or status))
                # A setup problem (of the user's assignments or the warehouse), not of the query: a TipError.
                if messages.is_invalid_scope(message):
                    raise TipError(messages.invalid_scope(self.who, message))
                if messages.is_missing_identity_provider(message):
                    raise TipError(messages.missing_identity_provider(self.who, self.config.workgroup, message))
                raise QueryFailed(f"The query {status.lower()}: {message}", statement_id=statement_id, status=status)
            if status not in RUNNING:
                raise TipError(f"The Data API reported an unexpected status {status!r} for statement {statement_id}")
            if self._clock.time() + delay > deadline:
                self._cancel(client, statement_id)
                raise QueryFailed(f"The query did not finish within {timeout_seconds:g} seconds and was cancelled",
                                  statement_id=statement_id, status="ABORTED")
            self._clock.sleep(delay)
            delay = min(delay * 2, 2.0)

    @staticmethod
    def _cancel(client: Any, statement_id: str) -> None:
        try:
            client.cancel_statement(Id=statement_id)
        except (ClientError, BotoCoreError) as error:
            log.warning("could not cancel statement %s: %s", statement_id, type(error).__name__)

    @staticmethod
    def _results(client: Any, statement_id: str) -> QueryResult:
        columns: list[str] = []
        rows: list[tuple[Cell, ...]] = []
        kwargs: dict[str, Any] = {"Id": statement_id}
        while True:
            page = client.get_statement_result(**kwargs)
            if not columns:
                columns = [str(c.get("name") or c.get("label") or "") for c in page.get("ColumnMetadata") or []]
            rows += [tuple(typed_cell(f) for f in record) for record in page.get("Records", [])]
            token = page.get("NextToken")
            if not token:
                return QueryResult(columns, rows, statement_id)
            kwargs["NextToken"] = token


def _unreachable(what: str, error: BotoCoreError) -> TipError:
    return TipError(f"Could not call {what}: {type(error).__name__}: {messages.scrub(str(error))[:300]}")

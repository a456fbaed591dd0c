"""OpenID Connect sign-in for the example: the authorization code flow with PKCE (S256), on Authlib.

Authlib does the protocol: it checks the discovery document (`OpenIDProviderMetadata`), builds the
authorization URL with state, nonce and the S256 code challenge, and redeems the code at the token endpoint
with the client's authentication (`OAuth2Session`). What the app then holds is an id token it hands to AWS,
and it says "Signed in as ..." from its claims, so before anything uses it the token is verified here with
PyJWT (OpenID Connect Core 3.1.3.7): its signature against the provider's published keys (JWKS, cached in
`SigningKeys`), then `iss`, `aud` (and `azp`), `exp`, `iat` and the `nonce` of this sign-in. AWS STS verifies
it again in AssumeRoleWithWebIdentity; that is no reason to trust it unverified before.

Why not Streamlit's `st.login`: it can expose the raw id token (`expose_tokens = "id"`), but it takes its
client secret only from `.streamlit/secrets.toml` (so not from Secrets Manager) and requires one (so no
public PKCE client), keeps the tokens in a browser cookie for up to 30 days, and its callback route cannot
be run by `streamlit.testing.v1.AppTest`, so the sign-in would go untested.

Every HTTP call goes through `requests` with redirects off (an https endpoint cannot hand the call on to
plain http); tests mount a transport adapter (`adapter=`) that answers for the identity provider.

Codes, verifiers, nonces, tokens and the client secret never appear in messages or reprs.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import boto3
import jwt
import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token, is_secure_transport
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.discovery import OpenIDProviderMetadata, get_well_known_url
from botocore.exceptions import BotoCoreError, ClientError
from requests.adapters import BaseAdapter

SCOPE = "openid profile email"
HTTP_TIMEOUT_SECONDS = 10.0
FLOW_TTL_SECONDS = 600.0
MAX_PENDING_FLOWS = 10_000
JWKS_TTL_SECONDS = 300.0
CLOCK_SKEW_SECONDS = 60
# Asymmetric JWS algorithms only: the keys come from the provider's JWKS. No HS* (its key would be the client
# secret, and a public key taken for an HMAC secret is the classic algorithm-confusion attack), never `none`.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat")  # OpenID Connect Core 2
SECRET_JSON_KEY = "client_secret"  # noqa: S105 (the JSON key's name, not a secret)
# The discovery fields the flow uses, each checked by Authlib (https, JSON arrays, RS256 offered, ...).
_CHECKED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
                     "token_endpoint_auth_methods_supported", "id_token_signing_alg_values_supported",
                     "code_challenge_methods_supported")
_SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:[\w/+=.@-]+")
_ACCESS_HINTS = {
    "AccessDeniedException": "the app's AWS credentials need secretsmanager:GetSecretValue on it (and kms:Decrypt "
                             "on its KMS key, if it is a customer-managed one)",
    "ResourceNotFoundException": "there is no such secret in that account and region",
    "DecryptionFailure": "Secrets Manager could not decrypt it with its KMS key: the app's credentials need "
                         "kms:Decrypt on that key",
}

JwksFetcher = Callable[[str], dict[str, Any]]
_Session = TypeVar("_Session", bound=requests.Session)


class OidcError(Exception):
    """Sign-in failed. The message is safe to show: it holds no code, token or secret."""


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the provider's discovery document the flow uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_endpoint_auth_methods: tuple[str, ...] = ("client_secret_basic",)
    signing_algorithms: tuple[str, ...] = ("RS256",)  # the provider's, that the app accepts too
    end_session_endpoint: str | None = None


@dataclass(frozen=True)
class PendingFlow:
    """One sign-in in progress: `state` goes to the provider and comes back; the rest stays here."""

    state: str
    verifier: str = field(repr=False)
    nonce: str = field(repr=False)
    started_at: float


def new_flow(now: float) -> PendingFlow:
    """Fresh state, nonce and PKCE verifier: 48 characters of [A-Za-z0-9] each (RFC 7636 allows 43 to 128)."""
    return PendingFlow(state=generate_token(48), verifier=generate_token(48), nonce=generate_token(48),
                       started_at=now)


class PendingFlows:
    """Sign-ins in progress, by state, for the whole server process.

    The provider sends the browser back to a *new* page load, which Streamlit serves with a new session (and
    an empty `st.session_state`), so the verifier cannot wait in the session that started the flow. A
    state is taken at most once and only within `ttl` seconds.
    """

    def __init__(self, *, ttl: float = FLOW_TTL_SECONDS, max_entries: int = MAX_PENDING_FLOWS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._flows: OrderedDict[str, PendingFlow] = OrderedDict()
        self._lock = threading.Lock()

    def start(self) -> PendingFlow:
        flow = new_flow(self._clock())
        with self._lock:
            self._expire()
            self._flows[flow.state] = flow
            while len(self._flows) > self._max_entries:
                self._flows.popitem(last=False)
        return flow

    def get(self, state: str) -> PendingFlow | None:
        """The flow for `state` if it is still pending (it stays pending)."""
        with self._lock:
            self._expire()
            return self._flows.get(state)

    def take(self, state: str) -> PendingFlow | None:
        """The flow for `state`, removed, or None if unknown, used or expired."""
        with self._lock:
            self._expire()
            return self._flows.pop(state, None)

    def _expire(self) -> None:
        oldest = self._clock() - self._ttl
        while self._flows:
            state, flow = next(iter(self._flows.items()))
            if flow.started_at > oldest:
                return
            del self._flows[state]


class SigningKeys:
    """The providers' signing keys (their JWKS documents), by `jwks_uri`, for the whole server process.

    A JWKS is fetched on first use and again once it is `ttl` seconds old, so a key the provider withdraws
    stops verifying; it is fetched again at once when a token names a key id it does not hold, which is how
    a provider's key rotation shows. The fetch is passed to each call, not kept, so one store serves every
    session (and each test its own fake provider).
    """

    def __init__(self, *, ttl: float = JWKS_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._sets: dict[str, tuple[float, tuple[dict[str, Any], ...]]] = {}
        self._lock = threading.Lock()

    def key(self, jwks_uri: str, kid: str | None, fetch: JwksFetcher) -> dict[str, Any]:
        """The JWK (a dict) that `kid` names, or the only signing key when the token names none."""
        with self._lock:
            fetched_at, keys = self._sets.get(jwks_uri, (float("-inf"), ()))
        if self._clock() - fetched_at < self._ttl:
            found = _pick_key(keys, kid)
            if found is not None:
                return found
        keys = _signing_keys(fetch(jwks_uri), jwks_uri)
        with self._lock:
            self._sets[jwks_uri] = (self._clock(), keys)
        found = _pick_key(keys, kid)
        if found is not None:
            return found
        if kid is None:
            raise OidcError(f"The id token names no signing key (no `kid` in its header) and {jwks_uri} publishes "
                            f"{len(keys)} keys")
        raise OidcError(f"The id token is signed with the key {kid!r}, which the identity provider does not publish "
                        f"at {jwks_uri}")


def _signing_keys(document: dict[str, Any], jwks_uri: str) -> tuple[dict[str, Any], ...]:
    """The JWKS's keys for signatures (`use` sig or unset) of a type the accepted algorithms use (RSA, EC)."""
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise OidcError(f"The identity provider's JWKS at {jwks_uri} has no `keys` list")
    return tuple(key for key in keys if isinstance(key, dict) and key.get("use", "sig") == "sig"
                 and key.get("kty") in ("RSA", "EC"))


def _pick_key(keys: Iterable[dict[str, Any]], kid: str | None) -> dict[str, Any] | None:
    keys = tuple(keys)
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((key for key in keys if key.get("kid") == kid), None)


# --- HTTP ---------------------------------------------------------------------------------------------------


def _mounted(session: _Session, adapter: BaseAdapter | None) -> _Session:
    if adapter is not None:
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    return session


def _reason(error: requests.RequestException) -> str:
    return str(error)[:300] or type(error).__name__


def get_json(url: str, what: str, *, adapter: BaseAdapter | None = None,
             timeout: float = HTTP_TIMEOUT_SECONDS) -> dict[str, Any]:
    """GET a JSON object (the discovery document, the JWKS), or OidcError saying what failed."""
    with _mounted(requests.Session(), adapter) as session:
        try:
            response = session.get(url, headers={"Accept": "application/json"}, timeout=timeout,
                                   allow_redirects=False)
        except requests.RequestException as error:
            raise OidcError(f"{what} failed: cannot reach {url} ({_reason(error)})") from None
    if response.status_code != 200:
        raise OidcError(f"{what} failed: HTTP {response.status_code} from {url}")
    try:
        document = response.json()
    except ValueError:
        raise OidcError(f"{what} failed: the answer from {url} is not JSON") from None
    if not isinstance(document, dict):
        raise OidcError(f"{what} failed: the answer from {url} is not a JSON object")
    return document


def fetch_jwks(jwks_uri: str, *, adapter: BaseAdapter | None = None,
               timeout: float = HTTP_TIMEOUT_SECONDS) -> dict[str, Any]:
    return get_json(jwks_uri, "Reading the identity provider's signing keys (JWKS)", adapter=adapter,
                    timeout=timeout)


# --- discovery, authorization, code exchange ----------------------------------------------------------------


def discover(issuer: str, *, adapter: BaseAdapter | None = None,
             timeout: float = HTTP_TIMEOUT_SECONDS) -> ProviderMetadata:
    """Read `<issuer>/.well-known/openid-configuration`, check it belongs to `issuer` and offers what the flow
    needs: https endpoints (http only for localhost), a JWKS, PKCE with S256, an algorithm the app accepts."""
    issuer = issuer.rstrip("/")
    if not is_secure_transport(issuer):
        raise OidcError(f"The identity provider's issuer must be an https URL (http only for localhost): {issuer!r}")
    url = str(get_well_known_url(issuer, external=True))
    document = OpenIDProviderMetadata(get_json(url, "OpenID Connect discovery", adapter=adapter, timeout=timeout))
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise OidcError(f"The discovery document at {url} names the issuer {document.get('issuer')!r}, not "
                        f"{issuer!r}: use the issuer URL exactly as the provider writes it (the id token's `iss`)")
    try:
        for name in _CHECKED_METADATA:
            getattr(document, f"validate_{name}")()
    except ValueError as error:
        raise OidcError(f"The discovery document at {url} is not usable: {error}") from None
    if not document.get("authorization_endpoint"):
        raise OidcError(f"The discovery document at {url} has no authorization_endpoint")
    challenge_methods = document.get("code_challenge_methods_supported")
    if challenge_methods is not None and "S256" not in challenge_methods:
        raise OidcError(f"The identity provider {issuer} does not support PKCE with S256 "
                        f"(code_challenge_methods_supported: {challenge_methods})")
    offered = [str(alg) for alg in document["id_token_signing_alg_values_supported"]]
    accepted = tuple(alg for alg in SIGNING_ALGORITHMS if alg in offered)  # never empty: Authlib wants RS256
    end_session = document.get("end_session_endpoint")
    return ProviderMetadata(
        issuer=str(document["issuer"]),
        authorization_endpoint=str(document["authorization_endpoint"]),
        token_endpoint=str(document["token_endpoint"]),
        jwks_uri=str(document["jwks_uri"]),
        # the default when the provider does not say (OpenID Connect Discovery 1.0, 3)
        token_endpoint_auth_methods=tuple(str(m) for m in document.token_endpoint_auth_methods_supported),
        signing_algorithms=accepted,
        end_session_endpoint=end_session if isinstance(end_session, str) and end_session else None,
    )


def authorization_url(metadata: ProviderMetadata, *, client_id: str, redirect_uri: str, flow: PendingFlow,
                      scope: str = SCOPE) -> str:
    """Where the browser goes to sign in: response_type=code with state, nonce and the S256 code challenge."""
    with OAuth2Session(client_id, redirect_uri=redirect_uri, scope=scope, code_challenge_method="S256") as client:
        url, _ = client.create_authorization_url(metadata.authorization_endpoint, state=flow.state,
                                                 code_verifier=flow.verifier, nonce=flow.nonce)
    return str(url)


def token_endpoint_auth_method(metadata: ProviderMetadata, client_secret: str | None) -> str:
    """HTTP Basic for a confidential client if the provider offers it, else the form; `none` for a public one."""
    if not client_secret:
        return "none"  # a public client: PKCE is its only proof
    for method in ("client_secret_basic", "client_secret_post"):
        if method in metadata.token_endpoint_auth_methods:
            return method
    raise OidcError(f"The identity provider {metadata.issuer} takes no client secret at its token endpoint "
                    f"(token_endpoint_auth_methods_supported: {list(metadata.token_endpoint_auth_methods)}): "
                    "register the app as a public client (PKCE) and give it no secret")


def exchange_code(metadata: ProviderMetadata, *, code: str, flow: PendingFlow, client_id: str, redirect_uri: str,
                  keys: SigningKeys, client_secret: str | None = None, adapter: BaseAdapter | None = None,
                  timeout: float = HTTP_TIMEOUT_SECONDS) -> str:
    """Redeem the authorization code (with the PKCE verifier) at the token endpoint; return the id token once
    `verify_id_token` has accepted it."""
    what = "The code exchange at the identity provider's token endpoint"
    method = token_endpoint_auth_method(metadata, client_secret)
    with _mounted(OAuth2Session(client_id, client_secret, token_endpoint_auth_method=method,
                                redirect_uri=redirect_uri), adapter) as client:
        try:
            answer = client.fetch_token(metadata.token_endpoint, grant_type="authorization_code", code=code,
                                        code_verifier=flow.verifier, timeout=timeout, allow_redirects=False)
        except AuthlibBaseError as error:  # an RFC 6749 error answer
            raise OidcError(f"{what} failed: {_oauth_error(error, public=method == 'none')}") from None
        except requests.HTTPError as error:  # a 5xx, or an error answer that is not JSON
            status = error.response.status_code if error.response is not None else "error"
            raise OidcError(f"{what} failed: HTTP {status}") from None
        except requests.RequestException as error:
            raise OidcError(f"{what} failed: cannot reach {metadata.token_endpoint} ({_reason(error)})") from None
        except ValueError:
            raise OidcError(f"{what} failed: the answer is not a JSON object") from None
    id_token = answer.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise OidcError("The identity provider returned no id_token: the app must request the `openid` scope")
    verify_id_token(id_token, metadata=metadata, client_id=client_id, nonce=flow.nonce, keys=keys,
                    fetch=partial(fetch_jwks, adapter=adapter, timeout=timeout))
    return id_token


def _oauth_error(error: AuthlibBaseError, *, public: bool) -> str:
    """`invalid_grant: <description>` (never the request), and what to do when a secret was missing."""
    text = str(error.error)[:100]
    if error.description:
        text += f": {str(error.description)[:300]}"
    if public and error.error in ("invalid_client", "unauthorized_client"):
        text += (" (the app sent no client secret, as a public client does: if the app is registered as a "
                 "confidential client, give it its secret with TIP_OIDC_CLIENT_SECRET or TIP_OIDC_CLIENT_SECRET_ARN)")
    return text


# --- the id token -------------------------------------------------------------------------------------------


def verify_id_token(id_token: str, *, metadata: ProviderMetadata, client_id: str, nonce: str, keys: SigningKeys,
                    fetch: JwksFetcher) -> dict[str, Any]:
    """The token's claims, if the provider signed it, for this client, in this flow, and it is still valid
    (OpenID Connect Core 3.1.3.7: signature, iss, aud, azp, exp, iat, nonce)."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as error:
        raise OidcError(f"The identity provider's id token is not a JWT ({error})") from None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in metadata.signing_algorithms:
        raise OidcError(f"The id token is signed with {alg!r}; the app accepts only "
                        f"{', '.join(metadata.signing_algorithms)} (keys from the provider's JWKS), never 'none'")
    jwk = keys.key(metadata.jwks_uri, kid if isinstance(kid, str) else None, fetch)
    if jwk.get("alg") not in (None, alg):
        raise OidcError(f"The id token says it is signed with {alg}, but its key {kid!r} is for {jwk['alg']}")
    try:
        key = jwt.PyJWK(jwk, algorithm=alg)
    except jwt.PyJWTError:
        raise OidcError(f"The identity provider's key {kid!r} ({jwk.get('kty')}) cannot verify {alg} "
                        "signatures") from None
    try:
        claims = jwt.decode(id_token, key, algorithms=[alg], audience=client_id, issuer=metadata.issuer,
                            leeway=CLOCK_SKEW_SECONDS, options={"require": list(REQUIRED_CLAIMS)})
    except jwt.PyJWTError as error:
        raise OidcError(_claims_error(error, id_token, metadata=metadata, client_id=client_id, kid=kid)) from None
    _check_authorized_party(claims, client_id)
    _check_nonce(claims, nonce)
    return claims


def _claims_error(error: jwt.PyJWTError, id_token: str, *, metadata: ProviderMetadata, client_id: str,
                  kid: object) -> str:
    """What is wrong with the token, in words; claim values are read only after the signature verified."""
    if isinstance(error, jwt.InvalidSignatureError):
        return (f"The id token's signature does not verify with the identity provider's key {kid!r} from "
                f"{metadata.jwks_uri}: {metadata.issuer} did not issue it, or it was changed on the way")
    if isinstance(error, jwt.MissingRequiredClaimError):
        return (f"The id token has no `{error.claim}` claim (OpenID Connect requires "
                f"{', '.join(REQUIRED_CLAIMS)})")
    if isinstance(error, jwt.ExpiredSignatureError):
        return "The id token has expired: sign in again"
    if isinstance(error, jwt.ImmatureSignatureError):
        return (f"The id token is not valid yet (its iat or nbf is more than {CLOCK_SKEW_SECONDS} s ahead): check "
                "this computer's clock")
    claims = jwt.decode(id_token, options={"verify_signature": False})  # signed: PyJWT checks claims after it
    if isinstance(error, jwt.InvalidIssuerError):
        return f"The id token was issued by {claims.get('iss')!r}, not {metadata.issuer!r}"
    if isinstance(error, jwt.InvalidAudienceError):
        return f"The id token is for the audience {claims.get('aud')!r}, not this app's client id {client_id!r}"
    return f"The identity provider's id token is not valid: {str(error)[:300]}"


def _check_authorized_party(claims: dict[str, Any], client_id: str) -> None:
    audience = claims["aud"]
    azp = claims.get("azp")
    if azp is not None and azp != client_id:
        raise OidcError(f"The id token was issued to the party {azp!r} (azp), not this app's client id {client_id!r}")
    if isinstance(audience, list) and len(audience) > 1 and azp is None:
        raise OidcError(f"The id token has several audiences {audience!r} and no `azp` claim naming this app")


def _check_nonce(claims: dict[str, Any], nonce: str) -> None:
    value = claims.get("nonce")
    if not isinstance(value, str) or not value:
        raise OidcError("The id token carries no nonce, but this sign-in sent one: sign in again")
    if not secrets.compare_digest(value.encode(), nonce.encode()):
        raise OidcError("The id token does not carry the nonce of this sign-in: sign in again")


# --- the client secret in Secrets Manager -------------------------------------------------------------------


def secret_region(arn: str) -> str:
    """The region of a Secrets Manager secret ARN; the ARN itself is not repeated in the error, in case the
    secret was put where its ARN belongs."""
    match = _SECRET_ARN.fullmatch(arn.strip())
    if not match:
        raise OidcError("The client secret's ARN is not a Secrets Manager secret ARN (expected "
                        "arn:aws:secretsmanager:<region>:<account>:secret:<name>; the value is not shown here in "
                        "case it is the secret itself)")
    return match.group(1)


def read_client_secret(arn: str, *, client: Any = None) -> str:
    """The OIDC client secret stored in Secrets Manager: its secret string, or the string under
    `client_secret` when the secret string is a JSON object (as the console's key/value editor stores it).

    Read with the app's own AWS credentials (the sign-in's web identity cannot: it does not exist yet)."""
    region = secret_region(arn)
    secretsmanager = client if client is not None else boto3.client("secretsmanager", region_name=region)
    try:
        answer = secretsmanager.get_secret_value(SecretId=arn)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        message = str(error.response.get("Error", {}).get("Message", ""))[:300]
        hint = _ACCESS_HINTS.get(code, message)
        raise OidcError(f"Secrets Manager did not return the client secret {arn} ({code}): {hint}") from None
    except BotoCoreError as error:
        raise OidcError(f"Cannot read the client secret {arn} from Secrets Manager: {error}") from None
    text = answer.get("SecretString")
    if not isinstance(text, str):
        raise OidcError(f"The secret {arn} has no secret string (a binary secret?): store the client secret as "
                        f"text, or as JSON with a `{SECRET_JSON_KEY}` key")
    return _secret_value(text, arn)


def _secret_value(text: str, arn: str) -> str:
    """The secret itself from a secret string: the string, or its `client_secret` if it is a JSON object."""
    stripped = text.strip()
    try:
        document = json.loads(stripped) if stripped.startswith("{") else None
    except ValueError:
        document = None  # a secret that only starts with "{": the string is the secret
    if isinstance(document, dict):
        value = document.get(SECRET_JSON_KEY)
        if not isinstance(value, str) or not value.strip():
            raise OidcError(f"The secret {arn} is a JSON object without a `{SECRET_JSON_KEY}` string (its keys: "
                            f"{sorted(str(k) for k in document)})")
        return value.strip()
    if not stripped:
        raise OidcError(f"The secret {arn} is empty")
    return stripped

"""OpenID Connect sign-in for the example: the OAuth 2.0 authorization code flow with PKCE (RFC 7636, S256).

Plain functions over the standard library; every HTTP call goes through an injectable `opener` with the
shape of `urllib.request.urlopen`, so tests answer for the identity provider without a network.

The id token comes straight from the token endpoint over TLS, so its signature is not checked here
(OpenID Connect Core 3.1.3.7: TLS server validation may stand in for it); its issuer, audience and nonce
are. AWS STS verifies the signature again when the token is exchanged (AssumeRoleWithWebIdentity).

Codes, verifiers, nonces, tokens and the client secret never appear in messages or reprs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from redshift_idc.tip_client import TipError, decode_jwt_payload

SCOPE = "openid profile email"
DISCOVERY_PATH = "/.well-known/openid-configuration"
HTTP_TIMEOUT_SECONDS = 10.0
FLOW_TTL_SECONDS = 600.0
MAX_PENDING_FLOWS = 10_000
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class OidcError(Exception):
    """Sign-in failed. The message is safe to show: it holds no code, token or secret."""


class HttpResponse(Protocol):
    def read(self) -> bytes: ...


class Opener(Protocol):
    """What the flow needs of `urllib.request.urlopen` (which is one)."""

    def __call__(self, request: urllib.request.Request, /, *, timeout: float) -> AbstractContextManager[HttpResponse]:
        ...


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the provider's discovery document the flow uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    token_endpoint_auth_methods: tuple[str, ...] = ("client_secret_basic",)
    end_session_endpoint: str | None = None


@dataclass(frozen=True)
class PendingFlow:
    """One sign-in in progress: `state` goes to the provider and comes back; the rest stays here."""

    state: str
    verifier: str = field(repr=False)
    nonce: str = field(repr=False)
    started_at: float

    @property
    def challenge(self) -> str:
        return code_challenge(self.verifier)


def code_challenge(verifier: str) -> str:
    """S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, code_challenge): 86 characters of [A-Za-z0-9_-] (RFC 7636 allows 43 to 128)."""
    verifier = secrets.token_urlsafe(64)
    return verifier, code_challenge(verifier)


def new_flow(now: float) -> PendingFlow:
    verifier, _ = pkce_pair()
    return PendingFlow(state=secrets.token_urlsafe(32), verifier=verifier, nonce=secrets.token_urlsafe(32),
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


def _check_endpoint(url: str, what: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    local = parsed.scheme == "http" and parsed.hostname in {h.strip("[]") for h in _LOCAL_HOSTS}
    if not parsed.netloc or (parsed.scheme != "https" and not local):
        raise OidcError(f"The identity provider's {what} must be an https URL (http only for localhost): {url!r}")
    return url


def _read_json(opener: Opener, request: urllib.request.Request, what: str, timeout: float) -> dict[str, Any]:
    try:
        with opener(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        raise OidcError(f"{what} failed: {_oauth_error(error)}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise OidcError(f"{what} failed: cannot reach {request.full_url.split('?')[0]} ({reason})") from None
    try:
        document = json.loads(body)
    except ValueError:
        raise OidcError(f"{what} failed: the answer is not JSON") from None
    if not isinstance(document, dict):
        raise OidcError(f"{what} failed: the answer is not a JSON object")
    return document


def _oauth_error(error: urllib.error.HTTPError) -> str:
    """`HTTP 400 invalid_grant: <description>` from an RFC 6749 error answer (never the request)."""
    text = f"HTTP {error.code}"
    try:
        document = json.loads(error.read() or b"{}")
    except (ValueError, OSError):
        return text
    if isinstance(document, dict) and document.get("error"):
        text += f" {str(document['error'])[:100]}"
        if document.get("error_description"):
            text += f": {str(document['error_description'])[:300]}"
    return text


def discover(issuer: str, *, opener: Opener = urllib.request.urlopen,
             timeout: float = HTTP_TIMEOUT_SECONDS) -> ProviderMetadata:
    """Read `<issuer>/.well-known/openid-configuration` and check it belongs to `issuer`."""
    issuer = _check_endpoint(issuer.rstrip("/"), "issuer")
    # The URLs given to urllib here are checked by _check_endpoint: https (http only for localhost).
    request = urllib.request.Request(issuer + DISCOVERY_PATH, headers={"Accept": "application/json"})  # noqa: S310
    document = _read_json(opener, request, "OpenID Connect discovery", timeout)
    if str(document.get("issuer", "")).rstrip("/") != issuer:
        raise OidcError(f"The discovery document at {issuer}{DISCOVERY_PATH} names the issuer "
                        f"{document.get('issuer')!r}, not {issuer!r}: use the issuer URL exactly as the provider "
                        "writes it (the id token's `iss` claim)")
    endpoints: dict[str, str] = {}
    for name in ("authorization_endpoint", "token_endpoint"):
        value = document.get(name)
        if not isinstance(value, str) or not value:
            raise OidcError(f"The discovery document of {issuer} has no {name}")
        endpoints[name] = _check_endpoint(value, name)
    methods = document.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise OidcError(f"The identity provider {issuer} does not support PKCE with S256 "
                        f"(code_challenge_methods_supported: {methods})")
    auth_methods = document.get("token_endpoint_auth_methods_supported")
    end_session = document.get("end_session_endpoint")
    return ProviderMetadata(
        issuer=str(document["issuer"]),
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        token_endpoint_auth_methods=tuple(str(m) for m in auth_methods) if isinstance(auth_methods, list)
        else ("client_secret_basic",),  # the default when the provider does not say (OpenID Discovery 1.0)
        end_session_endpoint=end_session if isinstance(end_session, str) and end_session else None,
    )


def authorization_url(metadata: ProviderMetadata, *, client_id: str, redirect_uri: str, flow: PendingFlow,
                      scope: str = SCOPE) -> str:
    """Where the browser goes to sign in: response_type=code with state, nonce and the S256 code challenge."""
    query = urllib.parse.urlencode({
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": flow.state,
        "nonce": flow.nonce,
        "code_challenge": flow.challenge,
        "code_challenge_method": "S256",
    }, quote_via=urllib.parse.quote)
    endpoint = metadata.authorization_endpoint
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def exchange_code(metadata: ProviderMetadata, *, code: str, flow: PendingFlow, client_id: str,
                  redirect_uri: str, client_secret: str | None = None, opener: Opener = urllib.request.urlopen,
                  timeout: float = HTTP_TIMEOUT_SECONDS) -> str:
    """Redeem the authorization code (with the PKCE verifier) at the token endpoint; return the id token."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": flow.verifier}
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    if client_secret and "client_secret_basic" in metadata.token_endpoint_auth_methods:
        # RFC 6749 2.3.1: both parts form-urlencoded before they are joined and base64-encoded.
        pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(client_secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    elif client_secret:
        form |= {"client_id": client_id, "client_secret": client_secret}
    else:  # a public client: PKCE is its only proof
        form["client_id"] = client_id
    request = urllib.request.Request(metadata.token_endpoint, data=urllib.parse.urlencode(form).encode(),  # noqa: S310
                                     headers=headers, method="POST")
    answer = _read_json(opener, request, "The code exchange at the identity provider's token endpoint", timeout)
    id_token = answer.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise OidcError("The identity provider returned no id_token: the app must request the `openid` scope")
    check_id_token(id_token, metadata=metadata, client_id=client_id, nonce=flow.nonce)
    return id_token


def check_id_token(id_token: str, *, metadata: ProviderMetadata, client_id: str, nonce: str) -> dict[str, Any]:
    """The token's claims, if it was issued by this provider, for this client, in this flow."""
    try:
        claims = decode_jwt_payload(id_token, "identity provider's id token")
    except TipError as error:
        raise OidcError(str(error)) from None
    if str(claims.get("iss", "")).rstrip("/") != metadata.issuer.rstrip("/"):
        raise OidcError(f"The id token was issued by {claims.get('iss')!r}, not {metadata.issuer!r}")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise OidcError(f"The id token is for the audience {audience!r}, not this app's client id {client_id!r}")
    if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(claims["nonce"], nonce):
        raise OidcError("The id token does not carry the nonce of this sign-in: sign in again")
    return claims

"""The Streamlit example's OIDC module (examples/streamlit_tip/oidc.py) on its own, with no network.

The identity provider is `FakeIdP`, a `requests` transport adapter: it serves the discovery document, its
JWKS (a fresh RSA key made here with `cryptography`) and a token endpoint that checks the PKCE verifier like a
real one and signs id tokens with that key. Secrets Manager is a botocore Stubber (which checks each call
against the service model). tests/test_example_streamlit.py drives the same fake through the app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import secrets
import time
import urllib.parse
from functools import partial
from typing import Any

import boto3
import jwt
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from requests import PreparedRequest, Response
from requests.adapters import BaseAdapter

from examples.streamlit_tip import oidc

ISSUER = "https://idp.example.invalid/oauth2/default"
DISCOVERY_URL = f"{ISSUER}/.well-known/openid-configuration"
AUTHORIZE = f"{ISSUER}/v1/authorize"
TOKEN_ENDPOINT = f"{ISSUER}/v1/token"
JWKS_URI = f"{ISSUER}/v1/keys"
CLIENT_ID = "demo-client-id"
CLIENT_SECRET = "client-secret-never-shown-0123456789"
REDIRECT_URI = "http://localhost:8501"


def discovery_document(issuer: str) -> dict[str, Any]:
    """What Okta's default authorization server publishes, trimmed to what the flow reads."""
    return {"issuer": issuer, "authorization_endpoint": f"{issuer}/v1/authorize",
            "token_endpoint": f"{issuer}/v1/token", "jwks_uri": f"{issuer}/v1/keys",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"]}


SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111111111111:secret:demo/okta-client-AbCdEf"


def s256(verifier: str) -> str:
    """RFC 7636 4.2, written out here so the fake provider does not trust the code under test."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str, **extra: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", **extra}


def json_response(request: PreparedRequest, status: int, body: object) -> Response:
    response = Response()
    response.status_code = status
    response.headers["Content-Type"] = "application/json"
    response.raw = io.BytesIO(json.dumps(body).encode())
    response.url = request.url or ""
    response.request = request
    return response


class FakeIdP(BaseAdapter):
    """Discovery, JWKS, the authorization endpoint (a signed-in user's consent) and the token endpoint."""

    def __init__(self, email: str = "ming@example.com", issuer: str = ISSUER) -> None:
        super().__init__()
        self.email = email
        self.issuer = issuer
        self.key = rsa_key()
        self.kid = "key-" + secrets.token_hex(4)
        self.discovery = discovery_document(issuer)
        self.get_status = 200  # the HTTP status of discovery and JWKS answers
        self.jwks: dict[str, Any] = {"keys": [public_jwk(self.key, self.kid, alg="RS256")]}
        self.token_error: tuple[int, object] | None = None  # the token endpoint's answer instead of a token
        self.token_claims: dict[str, Any] = {}  # what the next id tokens say differently
        self.issued: list[str] = []
        self.sent: list[PreparedRequest] = []
        self._grants: dict[str, dict[str, str]] = {}

    @property
    def token_requests(self) -> list[PreparedRequest]:
        return [r for r in self.sent if r.url == self.discovery["token_endpoint"]]

    @property
    def jwks_fetches(self) -> int:
        return sum(r.url == self.discovery["jwks_uri"] for r in self.sent)

    def sign(self, claims: dict[str, Any], *, key: Any = None, kid: str | None = "", algorithm: str = "RS256",
             headers: dict[str, Any] | None = None) -> str:
        header = {"kid": self.kid if kid == "" else kid, **(headers or {})}
        if header["kid"] is None:
            del header["kid"]
        return jwt.encode(claims, self.key if key is None else key, algorithm=algorithm, headers=header)

    def claims(self, **override: Any) -> dict[str, Any]:
        """An id token's claims for this provider, client and user, nonce n-1, valid for an hour from now."""
        now = int(time.time())
        return {"iss": self.issuer, "aud": CLIENT_ID, "sub": "00u1ming", "email": self.email, "nonce": "n-1",
                "iat": now, "exp": now + 3600, **override}

    def authorize(self, url: str) -> dict[str, str]:
        """What the browser is sent back with after the user signs in at `url`: code and state."""
        endpoint, _, query = url.partition("?")
        assert endpoint == self.discovery["authorization_endpoint"]
        params = dict(urllib.parse.parse_qsl(query, strict_parsing=True))
        assert (params["response_type"], params["client_id"], params["redirect_uri"], params["scope"]) == (
            "code", CLIENT_ID, REDIRECT_URI, "openid profile email")
        code = secrets.token_urlsafe(16)
        self._grants[code] = params
        return {"code": code, "state": params["state"]}

    def send(self, request: PreparedRequest, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: dict[str, str] | None = None) -> Response:
        self.sent.append(request)
        assert timeout, "every call to the IdP has a timeout"
        if request.url == f"{self.issuer}/.well-known/openid-configuration" and request.method == "GET":
            return json_response(request, self.get_status, self.discovery)
        if request.url == self.discovery.get("jwks_uri") and request.method == "GET":
            return json_response(request, self.get_status, self.jwks)
        assert (request.method, request.url) == ("POST", self.discovery["token_endpoint"]), request.url
        if self.token_error:
            status, body = self.token_error
            return json_response(request, status, body)
        assert isinstance(request.body, str)
        form = dict(urllib.parse.parse_qsl(request.body, strict_parsing=True))
        grant = self._grants.pop(form["code"])  # a code is good once
        assert form["grant_type"] == "authorization_code"
        assert form["redirect_uri"] == grant["redirect_uri"]
        assert grant["code_challenge_method"] == "S256"
        assert s256(form["code_verifier"]) == grant["code_challenge"]  # PKCE
        token = self.sign(self.claims(**{"nonce": grant["nonce"], **self.token_claims}))
        self.issued.append(token)
        return json_response(request, 200, {"token_type": "Bearer", "expires_in": 3600, "scope": grant["scope"],
                                            "access_token": "idp-access-token", "id_token": token})

    def close(self) -> None:
        pass


@pytest.fixture
def idp() -> FakeIdP:
    return FakeIdP()


@pytest.fixture
def metadata(idp: FakeIdP) -> oidc.ProviderMetadata:
    return oidc.discover(ISSUER, adapter=idp)


def verify(idp: FakeIdP, metadata: oidc.ProviderMetadata, token: str, *, nonce: str = "n-1",
           keys: oidc.SigningKeys | None = None) -> dict[str, Any]:
    return oidc.verify_id_token(token, metadata=metadata, client_id=CLIENT_ID, nonce=nonce,
                                keys=keys or oidc.SigningKeys(), fetch=partial(oidc.fetch_jwks, adapter=idp))


def sign_in(idp: FakeIdP, metadata: oidc.ProviderMetadata, *, client_secret: str | None = None,
            keys: oidc.SigningKeys | None = None) -> str:
    """The whole flow against the fake: authorization URL, the user's consent, the code exchange."""
    flow = oidc.new_flow(0)
    url = oidc.authorization_url(metadata, client_id=CLIENT_ID, redirect_uri=REDIRECT_URI, flow=flow)
    redirect = idp.authorize(url)
    assert redirect["state"] == flow.state
    return oidc.exchange_code(metadata, code=redirect["code"], flow=flow, client_id=CLIENT_ID,
                              redirect_uri=REDIRECT_URI, keys=keys or oidc.SigningKeys(), client_secret=client_secret,
                              adapter=idp)


# --- discovery and the authorization URL --------------------------------------------------------------------


def test_discovery_reads_the_endpoints_and_the_algorithms_the_app_accepts(idp: FakeIdP) -> None:
    idp.discovery["id_token_signing_alg_values_supported"] = ["HS256", "RS256", "ES256", "none"]

    metadata = oidc.discover(ISSUER + "/", adapter=idp)

    assert (metadata.issuer, metadata.authorization_endpoint, metadata.token_endpoint, metadata.jwks_uri) == (
        ISSUER, AUTHORIZE, TOKEN_ENDPOINT, JWKS_URI)
    assert metadata.signing_algorithms == ("RS256", "ES256")  # never HS256 or none, whatever the IdP offers
    assert metadata.token_endpoint_auth_methods == ("client_secret_basic", "client_secret_post", "none")
    del idp.discovery["token_endpoint_auth_methods_supported"]
    assert oidc.discover(ISSUER, adapter=idp).token_endpoint_auth_methods == ("client_secret_basic",)  # the default


@pytest.mark.parametrize(("change", "message"), [
    ({"issuer": "https://other.example.invalid"}, "names the issuer 'https://other.example.invalid'"),
    ({"token_endpoint": "http://idp.example.invalid/token"}, '"token_endpoint" MUST use "https" scheme'),
    ({"jwks_uri": None}, '"jwks_uri" is required'),
    ({"id_token_signing_alg_values_supported": ["HS256"]}, '"RS256" MUST be included'),
    ({"code_challenge_methods_supported": ["plain"]}, "does not support PKCE with S256"),
])
def test_discovery_refuses_a_document_the_flow_cannot_use(idp: FakeIdP, change: dict[str, Any], message: str) -> None:
    idp.discovery = {k: v for k, v in {**idp.discovery, **change}.items() if v is not None}
    with pytest.raises(oidc.OidcError, match=re.escape(message)):
        oidc.discover(ISSUER, adapter=idp)


def test_discovery_wants_https_except_on_localhost(idp: FakeIdP) -> None:
    with pytest.raises(oidc.OidcError, match="issuer must be an https URL"):
        oidc.discover("http://idp.example.invalid", adapter=idp)
    assert not idp.sent  # refused before any request
    local = "http://localhost:8080/realms/demo"  # e.g. Keycloak in a container
    assert oidc.discover(local, adapter=FakeIdP(issuer=local)).token_endpoint == f"{local}/v1/token"


def test_discovery_errors_say_what_failed(idp: FakeIdP) -> None:
    idp.get_status = 404
    with pytest.raises(oidc.OidcError, match=re.escape(f"discovery failed: HTTP 404 from {DISCOVERY_URL}")):
        oidc.discover(ISSUER, adapter=idp)
    idp.get_status = 302
    with pytest.raises(oidc.OidcError, match="HTTP 302"):  # a redirect is not followed
        oidc.discover(ISSUER, adapter=idp)


def test_the_authorization_url_carries_state_nonce_and_the_s256_challenge(metadata: oidc.ProviderMetadata) -> None:
    flow = oidc.new_flow(0)

    url = oidc.authorization_url(metadata, client_id=CLIENT_ID, redirect_uri=REDIRECT_URI, flow=flow)

    endpoint, _, query = url.partition("?")
    params = dict(urllib.parse.parse_qsl(query, strict_parsing=True))
    assert endpoint == AUTHORIZE
    assert params == {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
                      "scope": "openid profile email", "state": flow.state, "nonce": flow.nonce,
                      "code_challenge": s256(flow.verifier), "code_challenge_method": "S256"}
    assert re.fullmatch(r"[A-Za-z0-9]{48}", flow.verifier)  # RFC 7636: 43 to 128 unreserved characters
    assert len({flow.state, flow.nonce, flow.verifier}) == 3
    assert flow.verifier not in repr(flow) and flow.nonce not in repr(flow)
    assert flow.verifier not in url  # only its challenge travels


# --- the id token -------------------------------------------------------------------------------------------


def test_a_good_id_token_is_accepted(idp: FakeIdP, metadata: oidc.ProviderMetadata) -> None:
    claims = idp.claims(aud=[CLIENT_ID, "another-app"], azp=CLIENT_ID)
    assert verify(idp, metadata, idp.sign(claims)) == claims


@pytest.mark.parametrize(("claims", "message"), [
    ({"iss": "https://evil.example.invalid"},
     f"The id token was issued by 'https://evil.example.invalid', not {ISSUER!r}"),
    ({"iss": ISSUER + "/"}, "The id token was issued by"),  # exactly the discovered issuer (Core 3.1.3.7, 2)
    ({"aud": "someone-else"},
     f"The id token is for the audience 'someone-else', not this app's client id {CLIENT_ID!r}"),
    ({"exp": int(time.time()) - 120}, "The id token has expired: sign in again"),
    ({"iat": int(time.time()) + 600}, "The id token is not valid yet"),
    ({"nonce": "n-2"}, "The id token does not carry the nonce of this sign-in: sign in again"),
    ({"nonce": None}, "The id token carries no nonce, but this sign-in sent one"),
    ({"sub": None}, "The id token has no `sub` claim"),
    ({"exp": None}, "The id token has no `exp` claim"),
    ({"azp": "another-app"}, "issued to the party 'another-app' (azp)"),
    ({"aud": [CLIENT_ID, "another-app"]}, "several audiences"),  # and no azp
])
def test_an_id_token_with_a_wrong_claim_is_refused(idp: FakeIdP, metadata: oidc.ProviderMetadata,
                                                   claims: dict[str, Any], message: str) -> None:
    token = idp.sign({k: v for k, v in idp.claims(**claims).items() if v is not None})  # None: left out
    with pytest.raises(oidc.OidcError, match=re.escape(message)):
        verify(idp, metadata, token)


def test_a_token_within_the_clock_skew_is_still_accepted(idp: FakeIdP, metadata: oidc.ProviderMetadata) -> None:
    now = int(time.time())
    assert verify(idp, metadata, idp.sign(idp.claims(exp=now - 30, iat=now + 30)))


def test_a_wrong_signature_is_refused(idp: FakeIdP, metadata: oidc.ProviderMetadata) -> None:
    forged = idp.sign(idp.claims(), key=rsa_key())  # another key, under the provider's key id
    with pytest.raises(oidc.OidcError, match=re.escape(f"The id token's signature does not verify with the identity "
                                                       f"provider's key {idp.kid!r} from {JWKS_URI}")):
        verify(idp, metadata, forged)
    header, _, signature = idp.sign(idp.claims()).split(".")
    changed = base64.urlsafe_b64encode(json.dumps(idp.claims(email="ethan@example.com")).encode())
    with pytest.raises(oidc.OidcError, match="signature does not verify"):
        verify(idp, metadata, f"{header}.{changed.decode().rstrip('=')}.{signature}")


def test_alg_none_and_hmac_tokens_are_refused(idp: FakeIdP, metadata: oidc.ProviderMetadata) -> None:
    unsigned = jwt.encode(idp.claims(), "", algorithm="none", headers={"kid": idp.kid})
    with pytest.raises(oidc.OidcError, match=re.escape("The id token is signed with 'none'; the app accepts only")):
        verify(idp, metadata, unsigned)
    # The classic confusion: HMAC "signed" with the provider's public key, which anyone can read from the JWKS.
    public_pem = idp.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": idp.kid}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(idp.claims()).encode()).rstrip(b"=")
    # PyJWT refuses to HMAC with a PEM key, so the attacker's token is made by hand.
    mac = hmac.new(public_pem, header + b"." + payload, hashlib.sha256).digest()
    confused = b".".join([header, payload, base64.urlsafe_b64encode(mac).rstrip(b"=")]).decode()
    with pytest.raises(oidc.OidcError, match=re.escape("The id token is signed with 'HS256'")):
        verify(idp, metadata, confused)


def test_the_key_must_fit_the_tokens_algorithm(idp: FakeIdP) -> None:
    idp.discovery["id_token_signing_alg_values_supported"] = ["RS256", "PS256", "ES256"]
    metadata = oidc.discover(ISSUER, adapter=idp)
    with pytest.raises(oidc.OidcError, match=re.escape(f"signed with PS256, but its key {idp.kid!r} is for RS256")):
        verify(idp, metadata, idp.sign(idp.claims(), algorithm="PS256"))
    idp.jwks["keys"][0].pop("alg")  # a key that names no algorithm serves any RSA one
    assert verify(idp, metadata, idp.sign(idp.claims(), algorithm="PS256"))
    with pytest.raises(oidc.OidcError, match=re.escape(f"key {idp.kid!r} (RSA) cannot verify ES256 signatures")):
        verify(idp, metadata, idp.sign(idp.claims(), key=ec.generate_private_key(ec.SECP256R1()),
                                       algorithm="ES256"))


def test_an_ec_key_verifies_es256(idp: FakeIdP) -> None:
    idp.discovery["id_token_signing_alg_values_supported"] = ["RS256", "ES256"]
    key = ec.generate_private_key(ec.SECP256R1())
    idp.jwks["keys"].append(public_jwk(key, "ec-1", alg="ES256"))
    metadata = oidc.discover(ISSUER, adapter=idp)
    assert verify(idp, metadata, idp.sign(idp.claims(), key=key, kid="ec-1", algorithm="ES256"))


def test_a_token_that_is_not_a_jwt_is_refused(idp: FakeIdP, metadata: oidc.ProviderMetadata) -> None:
    with pytest.raises(oidc.OidcError, match=re.escape("The identity provider's id token is not a JWT")):
        verify(idp, metadata, "opaque-token")


def test_signing_keys_are_cached_and_refetched_for_a_new_key_id(idp: FakeIdP, metadata: oidc.ProviderMetadata) -> None:
    now = [0.0]
    keys = oidc.SigningKeys(ttl=300, clock=lambda: now[0])
    verify(idp, metadata, idp.sign(idp.claims()), keys=keys)
    verify(idp, metadata, idp.sign(idp.claims()), keys=keys)
    assert idp.jwks_fetches == 1

    rotated = rsa_key()  # the provider rotates: a new key id, published before it is used
    idp.jwks["keys"].append(public_jwk(rotated, "key-2", alg="RS256"))
    assert verify(idp, metadata, idp.sign(idp.claims(), key=rotated, kid="key-2"), keys=keys)
    assert idp.jwks_fetches == 2

    with pytest.raises(oidc.OidcError, match=re.escape(f"signed with the key 'key-9', which the identity provider "
                                                       f"does not publish at {JWKS_URI}")):
        verify(idp, metadata, idp.sign(idp.claims(), kid="key-9"), keys=keys)
    assert idp.jwks_fetches == 3  # looked once more before refusing

    idp.jwks["keys"] = [k for k in idp.jwks["keys"] if k["kid"] != idp.kid]  # the provider withdraws the first key
    token = idp.sign(idp.claims())
    assert verify(idp, metadata, token, keys=keys)  # still cached ...
    now[0] = 301
    with pytest.raises(oidc.OidcError, match="does not publish"):  # ... until the cache is older than its ttl
        verify(idp, metadata, token, keys=keys)


def test_a_token_without_kid_needs_a_single_signing_key(idp: FakeIdP, metadata: oidc.ProviderMetadata) -> None:
    idp.jwks["keys"].append({**public_jwk(rsa_key(), "enc-1"), "use": "enc"})  # not for signatures: ignored
    assert verify(idp, metadata, idp.sign(idp.claims(), kid=None))
    idp.jwks["keys"].append(public_jwk(rsa_key(), "key-2"))
    with pytest.raises(oidc.OidcError, match=re.escape(f"names no signing key (no `kid` in its header) and {JWKS_URI} "
                                                       "publishes 2 keys")):
        verify(idp, metadata, idp.sign(idp.claims(), kid=None))


# --- the code exchange --------------------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_public_client_redeems_the_code_with_pkce_only(idp: FakeIdP, metadata: oidc.ProviderMetadata) -> None:
    token = sign_in(idp, metadata)

    assert token == idp.issued[-1]
    (request,) = idp.token_requests
    assert "Authorization" not in request.headers
    assert isinstance(request.body, str)
    form = dict(urllib.parse.parse_qsl(request.body))
    assert set(form) == {"grant_type", "code", "redirect_uri", "code_verifier", "client_id"}
    assert form["client_id"] == CLIENT_ID
    assert [r.url for r in idp.sent] == [DISCOVERY_URL, TOKEN_ENDPOINT, JWKS_URI]  # the token verified with the JWKS


def test_a_confidential_client_uses_http_basic(idp: FakeIdP, metadata: oidc.ProviderMetadata) -> None:
    sign_in(idp, metadata, client_secret=CLIENT_SECRET)

    (request,) = idp.token_requests
    assert request.headers["Authorization"] == basic(CLIENT_ID, CLIENT_SECRET)
    assert isinstance(request.body, str) and CLIENT_SECRET not in request.body


def test_client_secret_post_when_the_provider_offers_only_that(idp: FakeIdP) -> None:
    idp.discovery["token_endpoint_auth_methods_supported"] = ["client_secret_post"]
    sign_in(idp, oidc.discover(ISSUER, adapter=idp), client_secret=CLIENT_SECRET)

    (request,) = idp.token_requests
    assert "Authorization" not in request.headers
    assert isinstance(request.body, str)
    form = dict(urllib.parse.parse_qsl(request.body))
    assert (form["client_id"], form["client_secret"]) == (CLIENT_ID, CLIENT_SECRET)


def test_a_secret_with_a_provider_that_takes_none_is_refused(idp: FakeIdP) -> None:
    idp.discovery["token_endpoint_auth_methods_supported"] = ["private_key_jwt", "none"]
    with pytest.raises(oidc.OidcError, match="takes no client secret at its token endpoint"):
        sign_in(idp, oidc.discover(ISSUER, adapter=idp), client_secret=CLIENT_SECRET)
    assert not idp.token_requests


@pytest.mark.parametrize(("secret", "answer", "message"), [
    (CLIENT_SECRET, (400, {"error": "invalid_grant", "error_description": "PKCE verification failed."}),
     "The code exchange at the identity provider's token endpoint failed: invalid_grant: PKCE verification failed."),
    (None, (401, {"error": "invalid_client", "error_description": "Client authentication failed."}),
     "invalid_client: Client authentication failed. (the app sent no client secret, as a public client does: if the "
     "app is registered as a confidential client, give it its secret with TIP_OIDC_CLIENT_SECRET or "
     "TIP_OIDC_CLIENT_SECRET_ARN)"),
    (None, (503, {"message": "down"}), "The code exchange at the identity provider's token endpoint failed: HTTP 503"),
    (None, (200, {"access_token": "only-that"}), "The identity provider returned no id_token"),
    (None, (200, ["not", "an", "object"]), "failed: the answer is not a JSON object"),
])
def test_token_endpoint_errors_are_explained(idp: FakeIdP, metadata: oidc.ProviderMetadata, secret: str | None,
                                             answer: tuple[int, object], message: str) -> None:
    idp.token_error = answer
    with pytest.raises(oidc.OidcError, match=re.escape(message)) as raised:
        sign_in(idp, metadata, client_secret=secret)
    assert CLIENT_SECRET not in str(raised.value)


def test_the_exchanged_token_is_verified_before_it_is_returned(idp: FakeIdP,
                                                               metadata: oidc.ProviderMetadata) -> None:
    idp.token_claims = {"aud": "someone-else"}
    with pytest.raises(oidc.OidcError, match="not this app's client id"):
        sign_in(idp, metadata)
    idp.token_claims = {"nonce": "from-another-sign-in"}
    with pytest.raises(oidc.OidcError, match="nonce of this sign-in"):
        sign_in(idp, metadata)


# --- the client secret from Secrets Manager -----------------------------------------------------------------


@pytest.fixture
def secretsmanager() -> Any:
    return boto3.client("secretsmanager", region_name="eu-west-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def answer_secret(stub: Stubber, **answer: Any) -> None:
    stub.add_response("get_secret_value", {"ARN": SECRET_ARN, "Name": "demo/okta-client", **answer},
                      expected_params={"SecretId": SECRET_ARN})


@pytest.mark.parametrize("stored", [CLIENT_SECRET, f"{CLIENT_SECRET}\n",
                                    json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})])
def test_the_secret_string_is_the_secret_or_json_with_client_secret(secretsmanager: Any, stored: str) -> None:
    with Stubber(secretsmanager) as stub:
        answer_secret(stub, SecretString=stored)
        assert oidc.read_client_secret(SECRET_ARN, client=secretsmanager) == CLIENT_SECRET
        stub.assert_no_pending_responses()


def test_secret_errors_name_the_secret_but_never_its_value(secretsmanager: Any) -> None:
    stub = Stubber(secretsmanager)
    stub.activate()
    answer_secret(stub, SecretString=json.dumps({"CLIENT_SECRET": CLIENT_SECRET}))
    with pytest.raises(oidc.OidcError) as raised:
        oidc.read_client_secret(SECRET_ARN, client=secretsmanager)
    assert str(raised.value) == (f"The secret {SECRET_ARN} is a JSON object without a `client_secret` string "
                                 "(its keys: ['CLIENT_SECRET'])")

    answer_secret(stub, SecretBinary=CLIENT_SECRET.encode())
    with pytest.raises(oidc.OidcError, match="has no secret string"):
        oidc.read_client_secret(SECRET_ARN, client=secretsmanager)

    stub.add_client_error("get_secret_value", service_error_code="AccessDeniedException",
                          service_message="User is not authorized to perform secretsmanager:GetSecretValue")
    with pytest.raises(oidc.OidcError, match=re.escape(f"Secrets Manager did not return the client secret {SECRET_ARN} "
                                                       "(AccessDeniedException): the app's AWS credentials need "
                                                       "secretsmanager:GetSecretValue")):
        oidc.read_client_secret(SECRET_ARN, client=secretsmanager)


def test_the_arn_gives_the_region_and_a_wrong_one_is_not_echoed() -> None:
    assert oidc.secret_region(SECRET_ARN) == "eu-west-1"
    assert oidc.secret_region("arn:aws-us-gov:secretsmanager:us-gov-west-1:111111111111:secret:x-AbCdEf") == (
        "us-gov-west-1")
    for wrong in (CLIENT_SECRET, "demo/okta-client", "arn:aws:ssm:eu-west-1:111111111111:parameter/x"):
        with pytest.raises(oidc.OidcError) as raised:
            oidc.secret_region(wrong)
        assert wrong not in str(raised.value)


# --- pending sign-ins ---------------------------------------------------------------------------------------


def test_pending_sign_ins_expire_and_are_taken_once() -> None:
    now = [0.0]
    flows = oidc.PendingFlows(ttl=600, clock=lambda: now[0])
    first = flows.start()
    now[0] = 599
    assert flows.get(first.state) == first
    second = flows.start()
    assert flows.take(second.state) == second
    assert flows.take(second.state) is None
    now[0] = 601
    assert flows.take(first.state) is None

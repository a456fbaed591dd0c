"""The Streamlit example (examples/streamlit_tip): OIDC sign-in with PKCE, then the data as the signed-in user.

The app runs in `streamlit.testing.v1.AppTest`. Nothing leaves the process: the identity provider is
`tests.test_example_oidc.FakeIdP`, a `requests` transport adapter (discovery, JWKS, authorization, token
endpoint; it checks the PKCE verifier like a real one and signs id tokens with an RSA key made for the test,
which the app verifies against the fake's JWKS), and AWS is botocore Stubbers on the sts, sso-oidc,
redshift-data and secretsmanager clients that the library's injection points (`sts=`, `sso_oidc=`,
`redshift_data_factory=`) and the app's seams take. They are handed to the app through its `st.session_state`
seams.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from botocore.stub import Stubber
from streamlit.testing.v1 import AppTest

from redshift_idc.client.tip import (
    IDENTITY_CENTER_CONTEXT_PROVIDER,
    JWT_BEARER_GRANT,
    AwsCredentials,
    TipClientConfig,
    TipSession,
)
from tests.test_example_oidc import (
    AUTHORIZE,
    CLIENT_ID,
    CLIENT_SECRET,
    ISSUER,
    REDIRECT_URI,
    SECRET_ARN,
    FakeIdP,
    public_jwk,
    rsa_key,
)

APP = Path(__file__).resolve().parents[1] / "examples" / "streamlit_tip" / "app.py"
HMAC_KEY = "local-test-signing-key-0123456789abcdef"  # IAM Identity Center's token: read, never verified
NOW = float(int(time.time()))  # the id tokens' signatures and lifetimes are checked against the real clock
REGION = "us-east-1"
IDENTITY_CONTEXT = "AQoJb3JpZ2luX2VjEXAMPLE-identity-context-for-ming"
CONFIG = TipClientConfig(
    region=REGION,
    bridge_role_arn="arn:aws:iam::111111111111:role/DemoIdentity-BridgeRole",
    client_role_arn="arn:aws:iam::111111111111:role/DemoIdentity-ClientRole",
    application_arn="arn:aws:sso::111111111111:application/ssoins-1234567890abcdef/apl-1234567890abcdef",
    workgroup="redshift-tip-enabled",
    database="dev",
)
OUTPUTS = {
    "DemoIdentity": {"BridgeRoleArn": CONFIG.bridge_role_arn, "ClientRoleArn": CONFIG.client_role_arn,
                     "OAuthApplicationArn": CONFIG.application_arn, "Region": REGION},
    "DemoWarehouse": {"WorkgroupName": CONFIG.workgroup, "DatabaseName": CONFIG.database},
}
BRIDGE_KEYS = {"AccessKeyId": "ASIABRIDGE0000000001", "SecretAccessKey": "bridge-secret-access-key-value",
               "SessionToken": "bridge-session-token-value"}
CLIENT_KEYS = {"AccessKeyId": "ASIACLIENT0000000001", "SecretAccessKey": "client-secret-access-key-value",
               "SessionToken": "client-session-token-value"}
QUERY = "SELECT * FROM public.sales_data ORDER BY sku LIMIT 100"
COLUMNS = ["sku", "product_name", "quantity", "sales_price", "timezone"]
ROWS = [("SKU-0001", "Trail Shoe", 3, "129.90", "Asia/Tokyo"), ("SKU-0002", "Yoga Mat", 12, "25.00", "Asia/Seoul")]


# --- AWS ----------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _client(service: str, region: str = REGION) -> Any:
    return boto3.client(service, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")


class Aws:
    """Stubbed sts, sso-oidc, redshift-data and secretsmanager, and the TipSession factory the app gets instead of
    the default."""

    def __init__(self) -> None:
        self.sts, self.sso_oidc, self.redshift_data = _client("sts"), _client("sso-oidc"), _client("redshift-data")
        self.secretsmanager = _client("secretsmanager", "eu-west-1")  # the secret's region, from its ARN
        self.stubs = [Stubber(self.sts), Stubber(self.sso_oidc), Stubber(self.redshift_data),
                      Stubber(self.secretsmanager)]
        for stub in self.stubs:
            stub.activate()
        self.clock = FakeClock()
        self.data_credentials: list[AwsCredentials] = []

    def session_factory(self, token: str, config: TipClientConfig) -> TipSession:
        assert config == CONFIG  # read from the outputs file
        return TipSession.from_id_token(token, config, sts=self.sts, sso_oidc=self.sso_oidc,
                                        redshift_data_factory=self._data, clock=self.clock)

    def _data(self, credentials: AwsCredentials) -> Any:
        self.data_credentials.append(credentials)
        return self.redshift_data

    def expect_sign_in(self, idp: FakeIdP) -> None:
        """The four steps, with the id token the IdP is about to issue (checked when it arrives)."""
        sts, sso_oidc, _, _ = self.stubs
        expires = datetime.fromtimestamp(NOW + 3600, UTC)
        sts.add_response("assume_role_with_web_identity", {"Credentials": {**BRIDGE_KEYS, "Expiration": expires}},
                         expected_params={"RoleArn": CONFIG.bridge_role_arn, "RoleSessionName": idp.email,
                                          "WebIdentityToken": IssuedToken(idp), "DurationSeconds": 900})
        idc_token = jwt.encode({"sts:identity_context": IDENTITY_CONTEXT, "sub": "idc-ming"}, HMAC_KEY)
        sso_oidc.add_response("create_token_with_iam", {"idToken": idc_token},
                              expected_params={"clientId": CONFIG.application_arn, "grantType": JWT_BEARER_GRANT,
                                               "assertion": IssuedToken(idp)})
        sts.add_response("assume_role", {"Credentials": {**CLIENT_KEYS, "Expiration": expires}},
                         expected_params={"RoleArn": CONFIG.client_role_arn, "RoleSessionName": idp.email,
                                          "DurationSeconds": 3600,
                                          "ProvidedContexts": [{"ProviderArn": IDENTITY_CENTER_CONTEXT_PROVIDER,
                                                                "ContextAssertion": IDENTITY_CONTEXT}]})

    def expect_query(self, sql: str = QUERY) -> None:
        data = self.stubs[2]
        data.add_response("execute_statement", {"Id": "stmt-1"},
                          expected_params={"WorkgroupName": CONFIG.workgroup, "Database": CONFIG.database, "Sql": sql})
        data.add_response("describe_statement", {"Id": "stmt-1", "Status": "FINISHED", "HasResultSet": True},
                          expected_params={"Id": "stmt-1"})
        records = [[{"stringValue": sku}, {"stringValue": name}, {"longValue": qty}, {"stringValue": price},
                    {"stringValue": tz}] for sku, name, qty, price, tz in ROWS]
        data.add_response("get_statement_result", {"ColumnMetadata": [{"name": c} for c in COLUMNS],
                                                   "Records": records}, expected_params={"Id": "stmt-1"})

    def verify(self) -> None:
        for stub in self.stubs:
            stub.assert_no_pending_responses()


class IssuedToken:
    """Equal to the last id token the fake IdP issued (Stubber compares expected parameters with ==)."""

    def __init__(self, idp: FakeIdP) -> None:
        self.idp = idp

    def __eq__(self, other: object) -> bool:
        return bool(self.idp.issued) and other == self.idp.issued[-1]

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<the id token the IdP issued>"


# --- the app ------------------------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    outputs = tmp_path / "cdk-outputs.json"
    outputs.write_text(json.dumps(OUTPUTS))
    for name in ("TIP_OIDC_CLIENT_SECRET", "TIP_OIDC_CLIENT_SECRET_ARN", "TIP_OIDC_REDIRECT_URI", "TIP_STACK_PREFIX",
                 "TIP_QUERY", "TIP_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIP_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("TIP_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("TIP_CDK_OUTPUTS_FILE", str(outputs))
    return outputs


@pytest.fixture
def idp() -> FakeIdP:
    return FakeIdP()


@pytest.fixture
def aws() -> Aws:
    return Aws()


def new_app(idp: FakeIdP, aws: Aws, **query_params: str) -> AppTest:
    """One browser page load: a new Streamlit session (the redirect back from the IdP is one too)."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["tip_example.http_adapter"] = idp
    at.session_state["tip_example.session_factory"] = aws.session_factory
    at.session_state["tip_example.secretsmanager"] = aws.secretsmanager
    at.query_params.update(query_params)
    return at.run()


def sign_in_link(at: AppTest) -> str:
    links = [m for m in (e.value for e in at.markdown) if "Sign in</a>" in m]
    assert len(links) == 1, [e.value for e in at.markdown]
    match = re.fullmatch(r'<a href="([^"]+)" target="_self">Sign in</a>', links[0])
    assert match, links[0]
    return html.unescape(match.group(1))


def page_text(at: AppTest) -> str:
    parts: list[str] = []
    for kind in ("title", "markdown", "success", "error", "info", "caption", "code"):
        parts += [str(getattr(e, "value", "")) for e in at.get(kind)]
    parts += [e.value.to_csv() for e in at.dataframe]
    return "\n".join(parts)


def click(at: AppTest, label: str) -> AppTest:
    (button,) = [b for b in at.button if b.label == label]
    return button.click().run()


def signed_in(idp: FakeIdP, aws: Aws) -> AppTest:
    """Visit, follow the sign-in link, come back with the code in a new session: signed in, query shown."""
    aws.expect_sign_in(idp)
    aws.expect_query()
    redirect = idp.authorize(sign_in_link(new_app(idp, aws)))
    return new_app(idp, aws, **redirect)


def test_not_signed_in_shows_a_pkce_sign_in_link(env: Path, idp: FakeIdP, aws: Aws) -> None:
    at = new_app(idp, aws)

    assert not at.exception and not at.error
    url = sign_in_link(at)
    endpoint, _, query = url.partition("?")
    params = dict(urllib.parse.parse_qsl(query, strict_parsing=True))
    assert endpoint == AUTHORIZE  # discovered at <issuer>/.well-known/openid-configuration
    assert params["response_type"] == "code"
    assert params["scope"] == "openid profile email"
    assert (params["client_id"], params["redirect_uri"]) == (CLIENT_ID, REDIRECT_URI)
    assert params["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", params["code_challenge"])  # BASE64URL(SHA-256), no padding
    assert params["state"] == at.session_state["tip_example.flow_state"]
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert sign_in_link(at.run()) == url  # a rerun keeps the flow
    assert not idp.token_requests


def test_sign_in_shows_who_and_the_rows_they_may_see(env: Path, idp: FakeIdP, aws: Aws,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIP_OIDC_CLIENT_SECRET", CLIENT_SECRET)

    at = signed_in(idp, aws)

    assert not at.exception and not at.error
    assert [e.value for e in at.success] == ["Signed in as ming@example.com"]
    frame = at.dataframe[0].value
    assert list(frame.columns) == COLUMNS
    assert [tuple(row) for row in frame.itertuples(index=False)] == ROWS
    aws.verify()  # the four steps with the issued token, then the query
    assert [c.access_key_id for c in aws.data_credentials] == [CLIENT_KEYS["AccessKeyId"]]
    assert at.query_params == {}  # the code is not left in the URL
    # A confidential client authenticates with HTTP Basic (the provider lists client_secret_basic first).
    (request,) = idp.token_requests
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(
        f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    text = page_text(at)
    for secret in (CLIENT_SECRET, idp.issued[0], IDENTITY_CONTEXT, *BRIDGE_KEYS.values(), *CLIENT_KEYS.values()):
        assert secret not in text

    at.run()  # a rerun shows the same rows without querying again (the stubs have nothing left to answer)
    assert [e.value for e in at.success] == ["Signed in as ming@example.com"]
    assert len(at.dataframe[0].value) == len(ROWS)

    click(at, "Sign out")
    assert not at.success and not at.dataframe
    assert sign_in_link(at).startswith(AUTHORIZE)


def test_a_wrong_or_reused_state_is_refused(env: Path, idp: FakeIdP, aws: Aws) -> None:
    redirect = idp.authorize(sign_in_link(new_app(idp, aws)))

    forged = new_app(idp, aws, code=redirect["code"], state="forged-" + redirect["state"])

    (refused,) = forged.error
    assert refused.value.startswith("Sign-in refused: the `state` that came back does not match")
    assert not idp.token_requests  # the code was never redeemed
    assert not forged.success and sign_in_link(forged).startswith(AUTHORIZE)

    aws.expect_sign_in(idp)
    aws.expect_query()
    assert not new_app(idp, aws, **redirect).error  # the genuine state still works, once
    replayed = new_app(idp, aws, **redirect)
    assert "Sign-in refused" in replayed.error[0].value
    assert len(idp.token_requests) == 1


def test_aws_refusing_the_sign_in_is_shown(env: Path, idp: FakeIdP, aws: Aws) -> None:
    aws.stubs[0].add_client_error("assume_role_with_web_identity", service_error_code="InvalidIdentityToken",
                                  service_message="Incorrect token audience")
    redirect = idp.authorize(sign_in_link(new_app(idp, aws)))

    at = new_app(idp, aws, **redirect)

    (error,) = at.error
    assert error.value.startswith("AWS STS rejected the identity provider's token: its issuer "
                                  f"({ISSUER}) and audience ({CLIENT_ID}) must match the IAM OIDC provider")
    assert idp.issued[0] not in page_text(at)
    assert not at.success and sign_in_link(at).startswith(AUTHORIZE)


def test_a_query_error_is_shown_and_the_user_stays_signed_in(env: Path, idp: FakeIdP, aws: Aws) -> None:
    aws.expect_sign_in(idp)
    aws.stubs[2].add_client_error("execute_statement", service_error_code="AccessDeniedException",
                                  service_message="User is not authorized")
    redirect = idp.authorize(sign_in_link(new_app(idp, aws)))

    at = new_app(idp, aws, **redirect)

    (error,) = at.error
    assert error.value.startswith(f"The client role {CONFIG.client_role_arn} may not use the Data API")
    assert [e.value for e in at.success] == ["Signed in as ming@example.com"]

    aws.expect_query()
    click(at, "Run the query again")
    assert not at.error and len(at.dataframe[0].value) == len(ROWS)
    aws.verify()


def test_an_expired_sign_in_signs_the_user_out(env: Path, idp: FakeIdP, aws: Aws) -> None:
    at = signed_in(idp, aws)
    aws.clock.now = NOW + 7200  # past the IdP token's expiry: the session cannot be renewed

    click(at, "Run the query again")

    (error,) = at.error
    assert "has expired" in error.value and error.value.endswith("sign in again")
    assert not at.success and "tip_example.session" not in at.session_state
    assert sign_in_link(at).startswith(AUTHORIZE)


def test_the_providers_refusal_of_the_code_is_shown(env: Path, idp: FakeIdP, aws: Aws) -> None:
    idp.token_error = (400, {"error": "invalid_grant", "error_description": "PKCE verification failed."})
    redirect = idp.authorize(sign_in_link(new_app(idp, aws)))

    at = new_app(idp, aws, **redirect)

    assert [e.value for e in at.error] == ["The code exchange at the identity provider's token endpoint failed: "
                                           "invalid_grant: PKCE verification failed."]
    aws.verify()  # AWS was not called


def test_an_id_token_that_does_not_verify_never_reaches_aws(env: Path, idp: FakeIdP, aws: Aws) -> None:
    """The IdP's published key is not the one that signed the token (a forged or swapped token)."""
    idp.jwks = {"keys": [public_jwk(rsa_key(), idp.kid, alg="RS256")]}
    redirect = idp.authorize(sign_in_link(new_app(idp, aws)))

    at = new_app(idp, aws, **redirect)

    (error,) = at.error
    assert error.value.startswith("The id token's signature does not verify with the identity provider's key")
    assert idp.issued[0] not in page_text(at)
    assert not at.success and "tip_example.session" not in at.session_state
    aws.verify()  # AWS was not called: the stubs would have refused an unexpected call anyway


def test_an_id_token_for_another_app_is_refused(env: Path, idp: FakeIdP, aws: Aws) -> None:
    idp.token_claims = {"aud": "another-app"}
    redirect = idp.authorize(sign_in_link(new_app(idp, aws)))

    at = new_app(idp, aws, **redirect)

    assert [e.value for e in at.error] == ["The id token is for the audience 'another-app', not this app's client "
                                           f"id {CLIENT_ID!r}"]
    aws.verify()


def test_the_client_secret_can_come_from_secrets_manager(env: Path, idp: FakeIdP, aws: Aws,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIP_OIDC_CLIENT_SECRET_ARN", SECRET_ARN)
    aws.stubs[3].add_response("get_secret_value", {"ARN": SECRET_ARN, "SecretString": json.dumps(
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})}, expected_params={"SecretId": SECRET_ARN})
    landing = new_app(idp, aws)
    assert not landing.error  # the secret is read when the code is redeemed, not before

    aws.expect_sign_in(idp)
    aws.expect_query()
    at = new_app(idp, aws, **idp.authorize(sign_in_link(landing)))

    assert not at.error and [e.value for e in at.success] == ["Signed in as ming@example.com"]
    (request,) = idp.token_requests
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(
        f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    aws.verify()  # GetSecretValue on that ARN, once
    assert CLIENT_SECRET not in page_text(at)


def test_a_secret_manager_refusal_is_shown_without_the_secret(env: Path, idp: FakeIdP, aws: Aws,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIP_OIDC_CLIENT_SECRET_ARN", SECRET_ARN)
    aws.stubs[3].add_client_error("get_secret_value", service_error_code="AccessDeniedException",
                                  service_message="not authorized to perform: secretsmanager:GetSecretValue")
    redirect = idp.authorize(sign_in_link(new_app(idp, aws)))

    at = new_app(idp, aws, **redirect)

    (error,) = at.error
    assert error.value.startswith(f"Secrets Manager did not return the client secret {SECRET_ARN} "
                                  "(AccessDeniedException): the app's AWS credentials need")
    assert not idp.token_requests  # the code was not redeemed without the secret
    aws.verify()


@pytest.mark.parametrize(("settings", "message"), [
    ({"TIP_OIDC_CLIENT_SECRET": CLIENT_SECRET, "TIP_OIDC_CLIENT_SECRET_ARN": SECRET_ARN},
     "Set TIP_OIDC_CLIENT_SECRET or TIP_OIDC_CLIENT_SECRET_ARN, not both"),
    ({"TIP_OIDC_CLIENT_SECRET_ARN": CLIENT_SECRET},
     "TIP_OIDC_CLIENT_SECRET_ARN: The client secret's ARN is not a Secrets Manager secret ARN"),
])
def test_client_secret_settings_are_checked_before_sign_in(env: Path, idp: FakeIdP, aws: Aws,
                                                           monkeypatch: pytest.MonkeyPatch, settings: dict[str, str],
                                                           message: str) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    at = new_app(idp, aws)

    (error,) = at.error
    assert error.value.startswith(message)
    assert CLIENT_SECRET not in page_text(at)
    assert not idp.sent and not any("Sign in</a>" in m.value for m in at.markdown)


def test_an_error_from_the_authorization_endpoint_is_shown(env: Path, idp: FakeIdP, aws: Aws) -> None:
    at = new_app(idp, aws, error="access_denied", error_description="User is not assigned to the client application.")

    assert [e.value for e in at.error] == ["The identity provider did not sign you in: access\\_denied "
                                           "User is not assigned to the client application."]
    assert sign_in_link(at).startswith(AUTHORIZE)


def test_missing_settings_are_named(env: Path, idp: FakeIdP, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked for sign-in (TIP_MODE) without an IdP: the settings are named (without TIP_MODE it is preview mode,
    tests/test_example_preview.py)."""
    monkeypatch.delenv("TIP_OIDC_ISSUER")
    monkeypatch.delenv("TIP_OIDC_CLIENT_ID")
    monkeypatch.setenv("TIP_MODE", "sign-in")

    at = new_app(idp, aws)

    assert [e.value for e in at.error] == ["Set TIP_OIDC_ISSUER and TIP_OIDC_CLIENT_ID "
                                           "(see examples/streamlit_tip/README.md)"]

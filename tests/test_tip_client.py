"""The trusted-identity-propagation client (seed 002) against Stubber-backed sts, sso-oidc and redshift-data."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from botocore import UNSIGNED
from botocore.stub import Stubber
from cryptography.hazmat.primitives.asymmetric import rsa

from redshift_idc.cli.main import main
from redshift_idc.client import command as client_command
from redshift_idc.client import messages
from redshift_idc.client import tip as tip_client
from redshift_idc.client.command import ID_TOKEN_VARIABLE
from redshift_idc.client.result import QueryResult, typed_cell
from redshift_idc.client.tip import (
    IDENTITY_CENTER_CONTEXT_PROVIDER,
    JWT_BEARER_GRANT,
    AwsCredentials,
    QueryFailed,
    TipClientConfig,
    TipError,
    TipSession,
    decode_jwt_payload,
    make_client,
    session_name_for,
)

REGION = "us-east-1"
ISSUER = "https://idp.example.invalid/oauth2/default"
AUDIENCE = "demo-client-id"
NOW = 1_900_000_000.0
HMAC_KEY = "local-test-signing-key-0123456789abcdef"
IDENTITY_CONTEXT = "AQoJb3JpZ2luX2VjEXAMPLE-identity-context-for-ming"
CONFIG = TipClientConfig(
    region=REGION,
    bridge_role_arn="arn:aws:iam::111111111111:role/DemoIdentity-BridgeRole",
    client_role_arn="arn:aws:iam::111111111111:role/DemoIdentity-ClientRole",
    application_arn="arn:aws:sso::111111111111:application/ssoins-1234567890abcdef/apl-1234567890abcdef",
    workgroup="demo-wg",
    database="dev",
)
BRIDGE_KEYS = {"AccessKeyId": "ASIABRIDGE0000000001", "SecretAccessKey": "bridge-secret-access-key-value",
               "SessionToken": "bridge-session-token-value"}
CLIENT_KEYS = {"AccessKeyId": "ASIACLIENT0000000001", "SecretAccessKey": "client-secret-access-key-value",
               "SessionToken": "client-session-token-value"}
SECRETS = [*BRIDGE_KEYS.values(), *CLIENT_KEYS.values(), IDENTITY_CONTEXT]


def idp_token(*, exp: float = NOW + 3600, **claims: Any) -> str:
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "00u1ming", "email": "ming@example.com", "iat": int(NOW),
               "exp": int(exp), **claims}
    return jwt.encode(payload, HMAC_KEY, algorithm="HS256")


def idc_token(context: str | None = IDENTITY_CONTEXT) -> str:
    payload: dict[str, Any] = {"iss": "https://identitycenter.amazonaws.com/ssoins-1234567890abcdef",
                               "aud": CONFIG.application_arn, "sub": "idc-user-ming", "exp": int(NOW + 3600)}
    if context is not None:
        payload["sts:identity_context"] = context
    return jwt.encode(payload, HMAC_KEY, algorithm="HS256")


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def aws_client(service: str) -> Any:
    return boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Aws:
    sts: Any = field(default_factory=lambda: aws_client("sts"))
    sso_oidc: Any = field(default_factory=lambda: aws_client("sso-oidc"))
    redshift_data: Any = field(default_factory=lambda: aws_client("redshift-data"))
    clock: FakeClock = field(default_factory=FakeClock)
    data_credentials: list[AwsCredentials] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stubs = {name: Stubber(getattr(self, name)) for name in ("sts", "sso_oidc", "redshift_data")}

    def data_factory(self, credentials: AwsCredentials) -> Any:
        self.data_credentials.append(credentials)
        return self.redshift_data

    def session(self, token: str) -> TipSession:
        return TipSession.from_id_token(token, CONFIG, sts=self.sts, sso_oidc=self.sso_oidc,
                                        redshift_data_factory=self.data_factory, clock=self.clock)

    def verify(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()

    # The four steps, each with exactly the parameters seed 002 prescribes.
    def expect_bridge(self, token: str, *, expires: float = NOW + 900, session_name: str = "ming@example.com") -> None:
        self.stubs["sts"].add_response(
            "assume_role_with_web_identity",
            {"Credentials": {**BRIDGE_KEYS, "Expiration": at(expires)},
             "AssumedRoleUser": {"AssumedRoleId": "AROABRIDGE:ming", "Arn": f"{CONFIG.bridge_role_arn}/ming"}},
            expected_params={"RoleArn": CONFIG.bridge_role_arn, "RoleSessionName": session_name,
                             "WebIdentityToken": token, "DurationSeconds": 900})

    def expect_exchange(self, token: str, id_token: str | None = None) -> None:
        self.stubs["sso_oidc"].add_response(
            "create_token_with_iam",
            {"accessToken": "idc-access-token", "tokenType": "Bearer", "expiresIn": 3600,
             "idToken": id_token if id_token is not None else idc_token(),
             "issuedTokenType": "urn:ietf:params:oauth:token-type:refresh_token"},
            expected_params={"clientId": CONFIG.application_arn, "grantType": JWT_BEARER_GRANT,
                             "assertion": token})

    def expect_client_role(self, *, expires: float = NOW + 3600, keys: dict[str, str] | None = None,
                           context: str = IDENTITY_CONTEXT, session_name: str = "ming@example.com") -> None:
        self.stubs["sts"].add_response(
            "assume_role",
            {"Credentials": {**(keys or CLIENT_KEYS), "Expiration": at(expires)},
             "AssumedRoleUser": {"AssumedRoleId": "AROACLIENT:ming", "Arn": f"{CONFIG.client_role_arn}/ming"}},
            expected_params={"RoleArn": CONFIG.client_role_arn, "RoleSessionName": session_name,
                             "DurationSeconds": 3600,
                             "ProvidedContexts": [{"ProviderArn": IDENTITY_CENTER_CONTEXT_PROVIDER,
                                                   "ContextAssertion": context}]})

    def expect_flow(self, token: str, **client_role: Any) -> None:
        self.expect_bridge(token)
        self.expect_exchange(token)
        self.expect_client_role(**client_role)


@pytest.fixture
def aws() -> Iterator[Aws]:
    stubs = Aws()
    for stub in stubs.stubs.values():
        stub.activate()
    yield stubs
    for stub in stubs.stubs.values():
        stub.deactivate()


def assert_no_secrets(text: str, token: str) -> None:
    assert token not in text
    for secret in SECRETS:
        assert secret not in text


# --- the flow -------------------------------------------------------------------------------------------


def test_the_four_calls_run_in_order_with_exact_parameters(aws: Aws) -> None:
    token = idp_token()
    aws.expect_flow(token)
    session = aws.session(token)
    aws.verify()
    credentials = session.credentials()
    assert (credentials.access_key_id, credentials.secret_access_key, credentials.session_token) == (
        CLIENT_KEYS["AccessKeyId"], CLIENT_KEYS["SecretAccessKey"], CLIENT_KEYS["SessionToken"])
    assert credentials.expires_at == NOW + 3600
    assert session.who == "ming@example.com"
    assert session.session_name == "ming@example.com"
    assert session.idp_token_expires_at == NOW + 3600
    assert credentials.client_kwargs() == {"aws_access_key_id": CLIENT_KEYS["AccessKeyId"],
                                           "aws_secret_access_key": CLIENT_KEYS["SecretAccessKey"],
                                           "aws_session_token": CLIENT_KEYS["SessionToken"]}


def test_reprs_and_logs_hold_no_token_or_credentials(aws: Aws, caplog: pytest.LogCaptureFixture) -> None:
    token = idp_token()
    aws.expect_flow(token)
    with caplog.at_level(logging.DEBUG, logger="redshift_idc"):
        session = aws.session(token)
    assert "ming@example.com" in caplog.text
    for text in (caplog.text, repr(session), repr(session.credentials())):
        assert_no_secrets(text, token)


def test_identity_context_falls_back_to_aws_additional_details(aws: Aws) -> None:
    token = idp_token()
    aws.expect_bridge(token)
    aws.stubs["sso_oidc"].add_response(
        "create_token_with_iam", {"idToken": idc_token(context=None),
                                  "awsAdditionalDetails": {"identityContext": IDENTITY_CONTEXT}},
        expected_params={"clientId": CONFIG.application_arn, "grantType": JWT_BEARER_GRANT, "assertion": token})
    aws.expect_client_role()
    aws.session(token)
    aws.verify()


def test_credentials_are_refreshed_within_the_margin_of_expiry(aws: Aws) -> None:
    token = idp_token(exp=NOW + 7200)
    aws.expect_flow(token)
    session = aws.session(token)
    first = session.credentials()
    aws.clock.now = first.expires_at - CONFIG.refresh_margin_seconds  # exactly at the margin: renew
    renewed_keys = {"AccessKeyId": "ASIARENEWED000000001", "SecretAccessKey": "renewed-secret",
                    "SessionToken": "renewed-session-token"}
    aws.expect_flow(token, expires=aws.clock.now + 3600, keys=renewed_keys)
    second = session.credentials()
    aws.verify()
    assert second is not first
    assert second.access_key_id == "ASIARENEWED000000001"
    assert session.credentials() is second


def test_fresh_credentials_are_not_refreshed(aws: Aws) -> None:
    token = idp_token()
    aws.expect_flow(token)
    session = aws.session(token)
    first = session.credentials()
    aws.clock.now = first.expires_at - CONFIG.refresh_margin_seconds - 1
    assert session.credentials() is first  # no stubbed response queued: any call would fail the test
    aws.verify()


def test_an_expired_idp_token_asks_to_sign_in_again_without_any_aws_call(
        aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    monkeypatch.setattr(tip_client, "make_client", lambda service, *_: built.append(service))
    token = idp_token(exp=NOW - 1)
    with pytest.raises(TipError, match=r"sign-in of ming@example\.com has expired .*: sign in again"):
        TipSession.from_id_token(token, CONFIG, clock=aws.clock)
    with pytest.raises(TipError, match="sign in again"):
        aws.session(token)
    assert built == []
    aws.verify()


def test_refresh_after_the_idp_token_expired_asks_to_sign_in_again(aws: Aws) -> None:
    token = idp_token(exp=NOW + 3000)
    aws.expect_flow(token)
    session = aws.session(token)
    aws.clock.now = NOW + 3400  # the credentials need renewing, but the IdP token expired at NOW + 3000
    with pytest.raises(TipError, match="sign in again"):
        session.credentials()
    aws.verify()


def test_a_token_that_is_not_a_jwt_fails_before_any_call(aws: Aws) -> None:
    with pytest.raises(TipError, match="not a JWT") as raised:
        aws.session("not-a-jwt")
    assert "not-a-jwt" not in str(raised.value)


# --- errors, each mapped to a message a user can act on ------------------------------------------------------


@pytest.mark.parametrize(("code", "message", "expected"), [
    ("ExpiredTokenException", "Token expired: current date/time 1900000000 must be before the expiration date/time",
     r"has expired .*sign in again"),
    ("InvalidIdentityToken", "No OpenIDConnect provider found in your account for https://idp.example.invalid",
     rf"issuer \({ISSUER}\) and audience \({AUDIENCE}\) must match the IAM OIDC provider"),
    ("IDPRejectedClaim", "Incorrect token audience", r"issuer .* and audience .* must match the IAM OIDC provider"),
    ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity",
     r"bridge role .*BridgeRole: its trust policy must allow the IAM OIDC provider"),
])
def test_assume_role_with_web_identity_errors(aws: Aws, code: str, message: str, expected: str) -> None:
    token = idp_token()
    aws.stubs["sts"].add_client_error("assume_role_with_web_identity", service_error_code=code,
                                      service_message=f"{message} {token}", http_status_code=400)
    with pytest.raises(TipError, match=expected) as raised:
        aws.session(token)
    assert_no_secrets(str(raised.value), token)
    assert "***" in str(raised.value)  # a token echoed by a service is hidden


@pytest.mark.parametrize(("code", "fields", "expected"), [
    ("InvalidGrantException", {"error": "invalid_grant", "error_description": "Invalid grant provided"},
     r"invalid_grant.*claim mapping.*must exist in IAM Identity Center"),
    ("AccessDeniedException", {"error": "access_denied", "error_description": "Access denied"},
     r"requires assignment and this user \(or a group of theirs\) is not assigned.*starts with assignment "
     r"required.*bridge role .*BridgeRole is not in the application's actor policy"),
    ("InvalidClientException", {"error": "invalid_client"}, r"does not know the client"),
])
def test_create_token_with_iam_errors(aws: Aws, code: str, fields: dict[str, str], expected: str) -> None:
    token = idp_token()
    aws.expect_bridge(token)
    aws.stubs["sso_oidc"].add_client_error("create_token_with_iam", service_error_code=code, http_status_code=400,
                                           modeled_fields=fields)
    with pytest.raises(TipError, match=expected) as raised:
        aws.session(token)
    assert_no_secrets(str(raised.value), token)
    aws.verify()


def test_a_missing_identity_context_is_an_error(aws: Aws) -> None:
    token = idp_token()
    aws.expect_bridge(token)
    aws.expect_exchange(token, idc_token(context=None))
    with pytest.raises(TipError, match=r"returned no `sts:identity_context` for ming@example\.com"):
        aws.session(token)
    aws.verify()


def test_access_denied_on_the_client_role_names_the_trust_it_needs(aws: Aws) -> None:
    token = idp_token()
    aws.expect_bridge(token)
    aws.expect_exchange(token)
    aws.stubs["sts"].add_client_error(
        "assume_role", service_error_code="AccessDenied", http_status_code=403,
        service_message="User: arn:aws:sts::111111111111:assumed-role/BridgeRole/ming is not authorized to perform: "
                        "sts:SetContext on resource: arn:aws:iam::111111111111:role/DemoIdentity-ClientRole")
    with pytest.raises(TipError, match=r"client role .*ClientRole: its trust policy must allow the bridge role "
                                       r".*BridgeRole both sts:AssumeRole and sts:SetContext") as raised:
        aws.session(token)
    assert_no_secrets(str(raised.value), token)
    aws.verify()


INVALID_SCOPE = "Invalid scope. User credentials are not authorized to connect to Redshift."
SCOPE_ADVICE = (r"'Invalid scope': the user .* is not assigned to the Redshift IAM Identity Center application"
                r".*up to an hour")


def signed_in(aws: Aws) -> TipSession:
    token = idp_token()
    aws.expect_flow(token)
    return aws.session(token)


def expect_execute(aws: Aws, sql: str, statement_id: str = "stmt-1") -> None:
    aws.stubs["redshift_data"].add_response(
        "execute_statement", {"Id": statement_id, "WorkgroupName": CONFIG.workgroup, "Database": CONFIG.database},
        expected_params={"WorkgroupName": CONFIG.workgroup, "Database": CONFIG.database, "Sql": sql})


def expect_describe(aws: Aws, status: str, statement_id: str = "stmt-1", **extra: Any) -> None:
    aws.stubs["redshift_data"].add_response("describe_statement", {"Id": statement_id, "Status": status, **extra},
                                            expected_params={"Id": statement_id})


def test_invalid_scope_from_a_failed_statement(aws: Aws) -> None:
    session = signed_in(aws)
    expect_execute(aws, "SELECT 1")
    expect_describe(aws, "FAILED", Error=INVALID_SCOPE)
    with pytest.raises(TipError, match=SCOPE_ADVICE):
        session.query("SELECT 1")
    aws.verify()


def test_invalid_scope_from_the_data_api_call(aws: Aws) -> None:
    session = signed_in(aws)
    aws.stubs["redshift_data"].add_client_error("execute_statement", service_error_code="ValidationException",
                                                service_message=INVALID_SCOPE)
    with pytest.raises(TipError, match=SCOPE_ADVICE) as raised:
        session.query("SELECT 1")
    assert not isinstance(raised.value, QueryFailed)
    aws.verify()


NO_PROVIDER = 'ERROR: registered identity provider does not exist for "awsidc:ming@example.com"'
NO_PROVIDER_ADVICE = (r"Redshift could not map ming@example\.com to a database identity on workgroup demo-wg: "
                      r"Redshift has no identity provider registered .* associate the Serverless namespace with the "
                      r"Redshift IdC application .*python -m redshift_idc verify --env <env>")


def test_a_missing_identity_provider_names_the_fix(aws: Aws) -> None:
    session = signed_in(aws)
    expect_execute(aws, "SELECT 1")
    expect_describe(aws, "FAILED", Error=NO_PROVIDER)
    with pytest.raises(TipError, match=NO_PROVIDER_ADVICE) as raised:
        session.query("SELECT 1")
    assert not isinstance(raised.value, QueryFailed)  # the warehouse's setup, not the query
    assert NO_PROVIDER in str(raised.value)  # Redshift's own words stay
    aws.stubs["redshift_data"].add_client_error("execute_statement", service_error_code="ValidationException",
                                                service_message=NO_PROVIDER.upper())
    with pytest.raises(TipError, match=NO_PROVIDER_ADVICE):
        session.query("SELECT 1")
    aws.verify()


def test_a_failed_query_reports_the_database_error(aws: Aws) -> None:
    session = signed_in(aws)
    expect_execute(aws, "SELECT * FROM sales")
    expect_describe(aws, "FAILED", Error="ERROR: permission denied for relation sales")
    with pytest.raises(QueryFailed, match="The query failed: ERROR: permission denied for relation sales") as raised:
        session.query("SELECT * FROM sales")
    assert (raised.value.statement_id, raised.value.status) == ("stmt-1", "FAILED")
    aws.verify()


# --- queries ------------------------------------------------------------------------------------------------

SALES_SQL = "SELECT region, orders, share, active, note, amount FROM sales ORDER BY region"
COLUMNS = [{"name": n, "label": n, "typeName": t} for n, t in (
    ("region", "varchar"), ("orders", "int8"), ("share", "float8"), ("active", "bool"), ("note", "varchar"),
    ("amount", "numeric"))]


def test_query_polls_pages_and_types_the_rows(aws: Aws) -> None:
    session = signed_in(aws)
    expect_execute(aws, SALES_SQL)
    expect_describe(aws, "SUBMITTED")
    expect_describe(aws, "STARTED")
    expect_describe(aws, "FINISHED", HasResultSet=True, ResultRows=3)
    results = aws.stubs["redshift_data"]
    results.add_response("get_statement_result", {
        "ColumnMetadata": COLUMNS, "TotalNumRows": 3, "NextToken": "page-2",
        "Records": [[{"stringValue": "AMER"}, {"longValue": 12}, {"doubleValue": 0.5}, {"booleanValue": True},
                     {"isNull": True}, {"stringValue": "1200.50"}],
                    [{"stringValue": "APAC"}, {"longValue": 7}, {"doubleValue": 0.25}, {"booleanValue": False},
                     {"stringValue": "new\nmarket"}, {"stringValue": "80.00"}]]},
        expected_params={"Id": "stmt-1"})
    results.add_response("get_statement_result", {
        "ColumnMetadata": COLUMNS, "TotalNumRows": 3,
        "Records": [[{"stringValue": "EMEA"}, {"longValue": 1234}, {"doubleValue": 0.25}, {"booleanValue": True},
                     {"stringValue": "-"}, {"isNull": True}]]},
        expected_params={"Id": "stmt-1", "NextToken": "page-2"})

    result = session.query(SALES_SQL)

    aws.verify()
    assert aws.clock.sleeps == [0.25, 0.5]
    assert aws.data_credentials == [session.credentials()]  # the Data API runs with the enhanced session
    assert result.statement_id == "stmt-1"
    assert result.columns == ["region", "orders", "share", "active", "note", "amount"]
    assert result.rows == [("AMER", 12, 0.5, True, None, "1200.50"), ("APAC", 7, 0.25, False, "new\nmarket", "80.00"),
                           ("EMEA", 1234, 0.25, True, "-", None)]
    assert [type(cell) for cell in result.rows[0]] == [str, int, float, bool, type(None), str]
    assert result.records()[2] == {"region": "EMEA", "orders": 1234, "share": 0.25, "active": True, "note": "-",
                                   "amount": None}
    assert result.to_table() == "\n".join([
        "region | orders | share | active | note       | amount",
        "-------+--------+-------+--------+------------+--------",
        "AMER   |     12 |   0.5 | true   | NULL       | 1200.50",
        "APAC   |      7 |  0.25 | false  | new market | 80.00",
        "EMEA   |   1234 |  0.25 | true   | -          | NULL",
        "(3 rows)",
    ])


def test_a_statement_without_a_result_set(aws: Aws) -> None:
    session = signed_in(aws)
    expect_execute(aws, "SET search_path TO sales")
    expect_describe(aws, "FINISHED", HasResultSet=False)
    result = session.query("SET search_path TO sales")
    assert result == QueryResult([], [], "stmt-1")
    assert result.to_table() == "(no result set)"
    aws.verify()


def test_a_query_past_its_timeout_is_cancelled(aws: Aws) -> None:
    session = signed_in(aws)
    expect_execute(aws, "SELECT slow()")
    for _ in range(3):
        expect_describe(aws, "STARTED")
    aws.stubs["redshift_data"].add_response("cancel_statement", {"Status": True}, expected_params={"Id": "stmt-1"})
    with pytest.raises(QueryFailed, match="did not finish within 1 seconds and was cancelled"):
        session.query("SELECT slow()", timeout_seconds=1)
    assert aws.clock.sleeps == [0.25, 0.5]
    aws.verify()


def test_the_data_api_client_is_rebuilt_after_a_refresh(aws: Aws) -> None:
    token = idp_token(exp=NOW + 7200)
    aws.expect_flow(token)
    session = aws.session(token)
    assert session.redshift_data() is session.redshift_data()
    aws.clock.now = NOW + 3500
    aws.expect_flow(token, expires=NOW + 7100)
    session.redshift_data()
    aws.verify()
    assert [c.expires_at for c in aws.data_credentials] == [NOW + 3600, NOW + 7100]


def test_to_table_truncates_wide_cells() -> None:
    table = QueryResult(["text"], [("x" * 80,)]).to_table(max_width=10)
    assert table.splitlines()[2] == "xxxxxxxxx…"
    assert QueryResult(["n"], [(1,)]).to_table().endswith("(1 row)")


# --- tokens and names ---------------------------------------------------------------------------------------


def test_decode_jwt_payload_of_a_locally_signed_rs256_token() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": "https://identitycenter.amazonaws.com/ssoins-1234567890abcdef", "sub": "idc-user",
              "sts:identity_context": IDENTITY_CONTEXT, "exp": int(NOW)}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "local"})
    assert decode_jwt_payload(token) == claims
    assert decode_jwt_payload(token)["sts:identity_context"] == IDENTITY_CONTEXT
    # the same token verifies with the public key: it is a real JWT, only the signature check is left to AWS
    verified = jwt.decode(token, key.public_key(), algorithms=["RS256"], options={"verify_exp": False})
    assert verified == claims


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


JWT_HEADER = b64url(b'{"alg":"RS256","typ":"JWT"}')
UNSIGNED_HEADER = b64url(b'{"alg":"none"}')
BROKEN_PAYLOAD = b64url(b'{"email": "ming@example.com", "sts:identity_context": "AQoJ')  # JSON cut short


@pytest.mark.parametrize(("bad", "reason"), [
    ("", "(expected three dot-separated base64url parts)"),
    ("opaque-access-token-0123456789", "(expected three dot-separated base64url parts)"),
    ("a.b", "(expected three dot-separated base64url parts)"),
    (f"{JWT_HEADER}.{JWT_HEADER}.{JWT_HEADER}.sig", "(expected three dot-separated base64url parts)"),
    (f"!!!.{b64url(b'{}')}.sig", "(Invalid header padding)"),
    (f"{JWT_HEADER}.!!!.sig", "(Invalid payload padding)"),
    (f"{JWT_HEADER}.{BROKEN_PAYLOAD}.sig", "(Invalid payload string: "),
    (f"{JWT_HEADER}.{b64url(b'[1]')}.sig", "(Invalid payload string: must be a json object)"),
])
def test_decode_jwt_payload_rejects_what_is_not_a_jwt(bad: str, reason: str) -> None:
    with pytest.raises(TipError) as raised:
        decode_jwt_payload(bad, "identity provider's id token")
    assert str(raised.value).startswith(f"The identity provider's id token is not a JWT {reason}")
    assert BROKEN_PAYLOAD not in str(raised.value) and "AQoJ" not in str(raised.value)  # no part of the token


def test_decode_jwt_payload_restores_padding_and_ignores_the_signature() -> None:
    for claims in ({"a": 1}, {"ab": 1}, {"abc": 1}):
        body = b64url(json.dumps(claims).encode())
        assert decode_jwt_payload(f" {JWT_HEADER}.{body}.bm90LWEtc2lnbmF0dXJl\n") == claims
        assert decode_jwt_payload(f"{UNSIGNED_HEADER}.{body}.") == claims  # unsigned too: AWS judges tokens


@pytest.mark.parametrize(("claims", "expected"), [
    ({"email": "ming@example.com", "sub": "00u1"}, "ming@example.com"),
    ({"sub": "00u1ming"}, "00u1ming"),
    ({"email": "Zoë Apac <zoe@example.com>"}, "Zo--Apac--zoe@example.com-"),
    ({"email": "x" * 70 + "@example.com"}, "x" * 64),
    ({"email": "a"}, "tip-session"),
    ({}, "tip-session"),
])
def test_session_names(claims: dict[str, str], expected: str) -> None:
    assert session_name_for(claims) == expected


def test_the_session_name_comes_from_the_token(aws: Aws) -> None:
    token = idp_token(email="Ming Apac@example.com")
    aws.expect_bridge(token, session_name="Ming-Apac@example.com")
    aws.expect_exchange(token)
    aws.expect_client_role(session_name="Ming-Apac@example.com")
    assert aws.session(token).who == "Ming Apac@example.com"
    aws.verify()


# --- configuration ------------------------------------------------------------------------------------------

OUTPUTS = {
    "DemoIdentity": {"BridgeRoleArn": CONFIG.bridge_role_arn, "ClientRoleArn": CONFIG.client_role_arn,
                     "OAuthApplicationArn": CONFIG.application_arn, "Region": REGION,
                     "OidcProviderArn": "arn:aws:iam::111111111111:oidc-provider/idp.example.invalid/oauth2/default"},
    "DemoWarehouse": {"WorkgroupName": CONFIG.workgroup, "DatabaseName": CONFIG.database, "NamespaceName": "demo"},
}


def test_from_outputs(tmp_path: Path) -> None:
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    assert TipClientConfig.from_outputs(path, "Demo") == CONFIG
    assert TipClientConfig.from_outputs(str(path), "Demo", session_seconds=1800).session_seconds == 1800


def test_from_outputs_names_the_missing_output_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps({**OUTPUTS, "DemoIdentity": {**OUTPUTS["DemoIdentity"], "ClientRoleArn": ""}}))
    with pytest.raises(TipError, match=rf"{path}: missing output DemoIdentity\.ClientRoleArn"):
        TipClientConfig.from_outputs(path, "Demo")
    with pytest.raises(TipError, match=rf"{path}: missing output ProdWarehouse\.WorkgroupName|missing output "
                                       r"ProdIdentity\.BridgeRoleArn \(stacks in the file: DemoIdentity, "
                                       r"DemoWarehouse\)"):
        TipClientConfig.from_outputs(path, "Prod")
    with pytest.raises(TipError, match=r"no such outputs file; write it with `make deploy ENV=<env> OUTPUTS="):
        TipClientConfig.from_outputs(tmp_path / "absent.json", "Demo")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(TipError, match="not a readable CDK outputs file"):
        TipClientConfig.from_outputs(tmp_path / "bad.json", "Demo")


def test_config_refuses_sessions_longer_than_role_chaining_allows() -> None:
    with pytest.raises(TipError, match="role chaining"):
        TipClientConfig(**{**CONFIG.__dict__, "session_seconds": 7200})
    with pytest.raises(TipError, match="refresh_margin_seconds"):
        TipClientConfig(**{**CONFIG.__dict__, "refresh_margin_seconds": 3600})
    with pytest.raises(TipError, match="workgroup is empty"):
        TipClientConfig(**{**CONFIG.__dict__, "workgroup": ""})


def test_make_client_signs_only_with_the_credentials_it_is_given() -> None:
    unsigned = make_client("sts", REGION)
    assert unsigned.meta.config.signature_version is UNSIGNED
    assert unsigned.meta.region_name == REGION
    credentials = AwsCredentials("ASIAEXAMPLE000000001", "secret", "session", at(NOW))
    signed = make_client("redshift-data", REGION, credentials)
    frozen = signed._request_signer._credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == ("ASIAEXAMPLE000000001", "secret", "session")
    assert signed.meta.config.retries["mode"] == "adaptive"


# --- CLI ----------------------------------------------------------------------------------------------------


def test_query_command_end_to_end(aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    import time

    now = time.time()
    token = idp_token(exp=now + 3600)
    aws.expect_bridge(token, expires=now + 900)
    aws.expect_exchange(token)
    aws.expect_client_role(expires=now + 3600)
    sql = "SELECT region, orders FROM sales"
    expect_execute(aws, sql)
    expect_describe(aws, "FINISHED", HasResultSet=True)
    aws.stubs["redshift_data"].add_response("get_statement_result", {
        "ColumnMetadata": COLUMNS[:2], "Records": [[{"stringValue": "APAC"}, {"longValue": 7}]]},
        expected_params={"Id": "stmt-1"})
    clients = {"sts": aws.sts, "sso-oidc": aws.sso_oidc, "redshift-data": aws.redshift_data}
    built: list[tuple[str, str | None]] = []

    def fake_make_client(service: str, region: str, credentials: AwsCredentials | None = None) -> Any:
        assert region == REGION
        built.append((service, credentials.access_key_id if credentials else None))
        return clients[service]

    monkeypatch.setattr(tip_client, "make_client", fake_make_client)
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    (tmp_path / "token.jwt").write_text(token + "\n")

    code = main(["query", "--env", "demo", "--id-token-file", str(tmp_path / "token.jwt"),
                 "--outputs", str(tmp_path / "outputs.json"), sql])

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == "-- as ming@example.com\nregion | orders\n-------+-------\nAPAC   |      7\n(1 row)\n"
    assert built == [("sts", None), ("sso-oidc", BRIDGE_KEYS["AccessKeyId"]), ("sts", BRIDGE_KEYS["AccessKeyId"]),
                     ("redshift-data", CLIENT_KEYS["AccessKeyId"])]
    aws.verify()


def test_query_command_prints_the_error_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    token_file = tmp_path / "token.jwt"
    token = idp_token(exp=1_000_000_000)  # long expired: no AWS call is made
    token_file.write_text(token)
    argv = ["query", "--env", "demo", "--id-token-file", str(token_file), "--outputs", str(tmp_path / "outputs.json"),
            "SELECT 1"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "sign in again" in err and token not in err
    assert main([*argv[:4], str(tmp_path / "missing.jwt"), *argv[5:]]) == 2
    assert "cannot read the id token file" in capsys.readouterr().err
    assert main([*argv[:6], str(tmp_path / "missing.json"), "SELECT 1"]) == 2
    assert "no such outputs file" in capsys.readouterr().err


# --- the client's own command: python -m redshift_idc.client ---------------------------------------------------


def test_the_clients_command_reads_the_token_from_the_environment_and_finds_the_stacks(
        aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    now = time.time()
    token = idp_token(exp=now + 3600)
    aws.expect_bridge(token, expires=now + 900)
    aws.expect_exchange(token)
    aws.expect_client_role(expires=now + 3600)
    expect_execute(aws, "SELECT current_user")
    expect_describe(aws, "FINISHED", HasResultSet=True)
    aws.stubs["redshift_data"].add_response("get_statement_result", {
        "ColumnMetadata": [{"name": "current_user"}], "Records": [[{"stringValue": "AWSIDC:ming@example.com"}]]},
        expected_params={"Id": "stmt-1"})
    clients = {"sts": aws.sts, "sso-oidc": aws.sso_oidc, "redshift-data": aws.redshift_data}
    monkeypatch.setattr(tip_client, "make_client", lambda service, region, credentials=None: clients[service])
    monkeypatch.setenv(ID_TOKEN_VARIABLE, token + "\n")
    (tmp_path / "cdk-outputs.json").write_text(json.dumps(OUTPUTS))
    monkeypatch.chdir(tmp_path)  # the default --outputs is ./cdk-outputs.json; no --stack-prefix: its one environment

    assert client_command.main(["query", "SELECT current_user"]) == 0

    assert capsys.readouterr() == ("-- as ming@example.com\ncurrent_user\n-----------------------\n"
                                   "AWSIDC:ming@example.com\n(1 row)\n", "")
    aws.verify()


def test_the_clients_command_without_a_token_says_where_to_put_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(ID_TOKEN_VARIABLE, raising=False)
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    assert client_command.main(["query", "--outputs", str(tmp_path / "outputs.json"), "SELECT 1"]) == 2
    assert capsys.readouterr() == ("", f"no id token: pass --id-token-file FILE or set {ID_TOKEN_VARIABLE}\n")
    monkeypatch.setenv(ID_TOKEN_VARIABLE, idp_token(exp=1_000_000_000))  # long expired: no AWS call is made
    assert client_command.main(["query", "--outputs", str(tmp_path / "outputs.json"), "--stack-prefix", "Demo",
                                "SELECT 1"]) == 2
    assert "sign in again" in capsys.readouterr().err


def test_from_outputs_without_a_prefix_takes_the_files_one_environment(tmp_path: Path) -> None:
    path = tmp_path / "cdk-outputs.json"
    path.write_text(json.dumps({**OUTPUTS, "DemoAccess": {}, "ProdWarehouse": OUTPUTS["DemoWarehouse"]}))
    assert TipClientConfig.from_outputs(path) == CONFIG
    path.write_text(json.dumps({**OUTPUTS, "ProdIdentity": OUTPUTS["DemoIdentity"]}))
    with pytest.raises(TipError, match=r"holds the outputs of several environments \(Demo, Prod\): name the stack "
                                       "prefix of the one to query"):
        TipClientConfig.from_outputs(path)
    path.write_text(json.dumps({"DemoWarehouse": OUTPUTS["DemoWarehouse"], "DemoIdentity": {"Region": REGION}}))
    with pytest.raises(TipError, match=r"no <prefix>Identity stack with a BridgeRoleArn output \(stacks in the file: "
                                       r"DemoIdentity, DemoWarehouse\); deploy an environment with "
                                       "identity_propagation and write it with `make deploy"):
        TipClientConfig.from_outputs(path)


def test_the_client_knows_what_the_runtime_knows_of_the_data_api() -> None:
    """The client keeps its own copies (it imports nothing outside itself): the same Redshift facts and fix."""
    from redshift_idc.runtime import data_api

    assert messages.MISSING_IDENTITY_PROVIDER_FIX == data_api.MISSING_IDENTITY_PROVIDER_FIX
    assert messages.MISSING_IDENTITY_PROVIDER.pattern == data_api.MISSING_IDENTITY_PROVIDER.pattern
    assert tip_client.RUNNING == data_api.RUNNING

    def settings(config: Any) -> tuple[Any, ...]:
        # botocore rewrites {"max_attempts": n} as {"total_max_attempts": n + 1} once a client uses the config.
        retries = dict(config.retries)
        attempts = retries.pop("total_max_attempts", None) or retries.pop("max_attempts") + 1
        return retries, attempts, config.connect_timeout, config.read_timeout

    assert settings(tip_client.DATA_API_CLIENT_CONFIG) == settings(data_api.RETRIES)
    fields: list[dict[str, Any]] = [{"isNull": True}, {"stringValue": "12.50"}, {"longValue": 7},
                                    {"booleanValue": False}, {"doubleValue": 0.5}, {"arrayValue": {}}]
    assert [typed_cell(f) for f in fields] == [data_api.cell_value(f) for f in fields] == [
        None, "12.50", 7, False, 0.5, None]

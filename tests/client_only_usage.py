"""Run by tests/test_client_install.py in a fresh virtualenv holding only `pip install .` and
requirements-client.lock (boto3, PyJWT): the TIP client's whole flow, from an IdP id token to query rows, with
Stubber answering AWS. Prints the rows as JSON; fails if a CDK-side dependency is importable."""

from __future__ import annotations

import importlib.util
import json
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import jwt
from botocore.stub import Stubber

from redshift_idc.client.tip import TipClientConfig, TipSession

ABSENT = ("aws_cdk", "constructs", "cdk_nag", "pydantic", "yaml", "duckdb", "sqlglot")
CONFIG = TipClientConfig(
    region="us-east-1",
    bridge_role_arn="arn:aws:iam::111111111111:role/AppIdentity-BridgeRole",
    client_role_arn="arn:aws:iam::111111111111:role/AppIdentity-ClientRole",
    application_arn="arn:aws:sso::111111111111:application/ssoins-1234567890abcdef/apl-1234567890abcdef",
    workgroup="app-wg",
    database="dev",
)
KEYS = {"AccessKeyId": "ASIAEXAMPLE000000001", "SecretAccessKey": "secret", "SessionToken": "token"}


def client(service: str) -> Any:
    return boto3.client(service, region_name=CONFIG.region, aws_access_key_id="x", aws_secret_access_key="x")


def main() -> None:
    present = [name for name in ABSENT if importlib.util.find_spec(name) is not None]
    assert present == [], f"the client-only install holds {present}"
    now = int(time.time())
    expires = datetime.fromtimestamp(now + 3600, UTC)
    id_token = jwt.encode({"iss": "https://idp.example.invalid", "aud": "app", "sub": "u1",
                           "email": "ming@example.com", "exp": now + 3600}, "k" * 32, algorithm="HS256")
    idc_token = jwt.encode({"sts:identity_context": "context-for-ming", "exp": now + 3600}, "k" * 32,
                           algorithm="HS256")
    sts, sso_oidc, data = client("sts"), client("sso-oidc"), client("redshift-data")
    with Stubber(sts) as sts_stub, Stubber(sso_oidc) as oidc_stub, Stubber(data) as data_stub:
        sts_stub.add_response("assume_role_with_web_identity", {"Credentials": {**KEYS, "Expiration": expires}})
        oidc_stub.add_response("create_token_with_iam", {"idToken": idc_token})
        sts_stub.add_response("assume_role", {"Credentials": {**KEYS, "Expiration": expires}})
        data_stub.add_response("execute_statement", {"Id": "stmt-1"})
        data_stub.add_response("describe_statement", {"Id": "stmt-1", "Status": "FINISHED", "HasResultSet": True})
        data_stub.add_response("get_statement_result", {
            "ColumnMetadata": [{"name": "current_user"}], "TotalNumRows": 1,
            "Records": [[{"stringValue": "AWSIDC:ming@example.com"}]]})
        session = TipSession.from_id_token(id_token, CONFIG, sts=sts, sso_oidc=sso_oidc,
                                           redshift_data_factory=lambda _credentials: data)
        result = session.query("SELECT current_user")
    print(json.dumps({"who": session.who, "rows": result.records()}))


if __name__ == "__main__":
    main()

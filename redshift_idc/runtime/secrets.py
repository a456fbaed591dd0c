"""Secret values the reconciler needs at apply time only (identity provider client secrets).

The access model names a secret by reference (`secretsmanager:<secret ARN>[:<JSON key>]`); the value is
read here, right before the one ExecuteStatement that carries it, and never stored, logged or returned in
an error: messages name the secret's ARN and key, never any part of its value.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from redshift_idc.runtime.data_api import RETRIES


class SecretError(Exception):
    """A secret that could not be read or has no usable value (the message holds no secret)."""


class SecretResolver:
    """`resolver(arn, key)`: the secret's SecretString, or its `key` member when it is a JSON object.
    Each secret is fetched once per resolver (one Lambda invocation)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client
        self._strings: dict[str, str] = {}

    def __call__(self, arn: str, key: str) -> str:
        text = self._secret_string(arn)
        if not key:
            value: Any = text
        else:
            try:
                document = json.loads(text)
            except json.JSONDecodeError:
                raise SecretError(f"secret {arn} is not a JSON object, so it has no key {key!r}") from None
            if not isinstance(document, dict) or key not in document:
                raise SecretError(f"secret {arn} has no key {key!r}")
            value = document[key]
        if not isinstance(value, str) or not value or "\x00" in value:
            where = f"key {key!r} of secret {arn}" if key else f"secret {arn}"
            raise SecretError(f"{where} is not a non-empty string")
        return value

    def _secret_string(self, arn: str) -> str:
        if arn not in self._strings:
            client = self._client or boto3.client("secretsmanager", config=RETRIES)
            self._client = client
            try:
                response = client.get_secret_value(SecretId=arn)
            except ClientError as error:
                err = error.response.get("Error", {})
                raise SecretError(f"Secrets Manager: {err.get('Code')} reading {arn}: {err.get('Message')}") from None
            if "SecretString" not in response:
                raise SecretError(f"secret {arn} holds binary data; store the value as a string")
            self._strings[arn] = str(response["SecretString"])
        return self._strings[arn]

"""Native identity providers (`identity_providers`), created, altered and dropped by the reconciler.

They never hold a secret: a `client_secret` written in `parameters` is refused, and
`client_secret_from: secretsmanager:<secret ARN>[:<JSON key>]` names where the reconciler reads it at
apply time (the compiled model, an S3 asset, carries only the reference).
"""

from __future__ import annotations

import json
import re
from typing import Any

from redshift_idc.access.compiler.resolver import Resolver, fail
from redshift_idc.access.model_file import IdentityProviderSpec
from redshift_idc.config.base import RESERVED_ROLE_PREFIXES
from redshift_idc.runtime.access_state import IdentityProvider

SECRET_PARAMETERS = frozenset({"client_secret"})  # PARAMETERS keys whose values are secrets
MAX_PARAMETERS_BYTES = 16_000
SECRET_REFERENCE = re.compile(
    r"^secretsmanager:(?P<arn>arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@!-]+)"
    r"(?::(?P<key>[^:\s]{1,256}))?$")
APPLICATION_ARN = re.compile(r"^arn:aws[a-z-]*:sso::\d{12}:application/ssoins-[A-Za-z0-9]+/apl-[A-Za-z0-9]+$")
IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def compile_identity_providers(resolver: Resolver) -> None:
    seen: set[str] = set()
    for i, spec in enumerate(resolver.model.identity_providers):
        where = f"identity_providers[{i}]"
        resolver.unique_name(where, spec.name, seen, "identity provider")
        if spec.namespace.lower() in RESERVED_ROLE_PREFIXES:
            fail(f"{where}.namespace", f"'{spec.namespace}' is reserved by Redshift (roles are named "
                 "'<namespace>:<group>')")
        if spec.type == "awsidc":
            _check_awsidc(where, spec)
        else:
            for field in ("application_arn", "iam_role"):
                if getattr(spec, field) is not None:
                    fail(f"{where}.{field}",
                         f"only for type awsidc; type {spec.type} is configured with parameters")
            if not spec.parameters:
                fail(f"{where}.parameters", f"required for type {spec.type}: a JSON object such as "
                     "{issuer: ..., client_id: ..., audience: [...]}")
        parameters = _parameters(where, spec)
        secrets: tuple[tuple[str, str, str], ...] = ()
        if spec.client_secret_from is not None:
            reference = SECRET_REFERENCE.match(spec.client_secret_from)
            if reference is None:
                fail(f"{where}.client_secret_from", f"'{spec.client_secret_from}' is not "
                     "secretsmanager:<secret ARN>[:<JSON key>] (the full ARN, "
                     "arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>)")
            assert reference is not None
            secrets = (("client_secret", reference["arn"], reference["key"] or ""),)
        auto, groups = spec.auto_create()
        resolver.objects.append(IdentityProvider(
            spec.name, spec.type, spec.namespace, parameters, spec.application_arn or "", spec.iam_role or "",
            auto, spec.enabled, secrets, groups))


def _check_awsidc(where: str, spec: IdentityProviderSpec) -> None:
    """CREATE IDENTITY PROVIDER ... TYPE AWSIDC takes the IdC application and a role, never PARAMETERS."""
    for field in ("application_arn", "iam_role"):
        if not getattr(spec, field):
            fail(f"{where}.{field}", "required for type awsidc (CREATE IDENTITY PROVIDER ... TYPE "
                 "AWSIDC needs the IdC managed application ARN and the IAM role Redshift uses)")
    for field in ("parameters", "client_secret_from"):
        if getattr(spec, field) is not None:
            fail(f"{where}.{field}", "type awsidc takes no PARAMETERS; use application_arn and iam_role")
    assert spec.application_arn is not None and spec.iam_role is not None
    if not APPLICATION_ARN.match(spec.application_arn):
        fail(f"{where}.application_arn", f"'{spec.application_arn}' is not an IdC managed application "
             "ARN (arn:aws:sso::<account>:application/ssoins-.../apl-..., the IdcManagedApplicationArn "
             "of the Redshift IdC application)")
    if not IAM_ROLE_ARN.match(spec.iam_role):
        fail(f"{where}.iam_role",
             f"'{spec.iam_role}' is not an IAM role ARN (arn:aws:iam::<account>:role/...)")


def _parameters(where: str, spec: IdentityProviderSpec) -> str:
    """Canonical JSON of the parameters; never echoes a value (one might be a pasted secret)."""
    if spec.parameters is None:
        return ""

    def secret_keys(value: Any, path: str) -> list[str]:
        found: list[str] = []
        if isinstance(value, dict):
            for key, item in value.items():
                here = f"{path}.{key}"
                if str(key).lower() in SECRET_PARAMETERS:
                    found.append(here)
                found += secret_keys(item, here)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                found += secret_keys(item, f"{path}[{index}]")
        return found

    leaked = secret_keys(spec.parameters, f"{where}.parameters")
    if leaked:
        fail(leaked[0], "a secret must not be written in the model (it would be in git, the compiled model "
             "and the plan); store it in AWS Secrets Manager and set client_secret_from: "
             "secretsmanager:<secret ARN>:<JSON key>")
    try:
        text = json.dumps(spec.parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError):
        fail(f"{where}.parameters", "must hold JSON values only (strings, numbers, true/false, null, lists, "
             "mappings); quote dates and other YAML-typed values")
    if "\x00" in text or "\\u0000" in text:
        fail(f"{where}.parameters", "must not contain NUL characters")
    if len(text.encode("utf-8")) > MAX_PARAMETERS_BYTES:
        fail(f"{where}.parameters", f"longer than {MAX_PARAMETERS_BYTES} bytes as JSON")
    return text

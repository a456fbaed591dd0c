"""What every configuration section shares: the strict model base and the value types several sections use.

Kept apart so a section module imports only the vocabulary it needs, never another section's schema."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError

# Role names Redshift reserves: a namespace `sys` or `ds` would produce `sys:<group>` roles it refuses.
RESERVED_ROLE_PREFIXES = frozenset({"sys", "ds"})
# Redshift identifiers (role names included) are at most 127 bytes of UTF-8.
MAX_IDENTIFIER_BYTES = 127


def _account_as_text(value: Any) -> Any:
    """YAML reads `account: 111111111111` as a number: a 12-digit one is the account as written. One with
    fewer digits lost its leading zeros (or was read as octal), so it must be quoted."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    if 10**11 <= value < 10**12:
        return str(value)
    raise ValueError(f"{value} is not a 12-digit AWS account id as YAML read it; quote the account as written, "
                     "e.g. account: \"012345678901\" (unquoted, leading zeros are lost)")


AccountId = Annotated[str, BeforeValidator(_account_as_text), StringConstraints(pattern=r"^\d{12}$")]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov|-iso|-isob)?-[a-z]+-\d$")]


def _not_a_boolean(value: Any) -> Any:
    """pydantic would take YAML's `true` as 1 where a number is expected (`log_retention_days: true` would
    keep logs a day); a boolean is never a count, so it is refused as the wrong type."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "a boolean is not a whole number")
    return value


WholeNumber = Annotated[int, BeforeValidator(_not_a_boolean)]


class StrictModel(BaseModel):
    """Strict base: unknown keys are errors (a typo must never be ignored silently), values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


# OIDC issuers and audiences: trusted token issuers, identity propagation and IAM federation all take them.
_ISSUER_URL = re.compile(r"https://(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?(?P<path>/[A-Za-z0-9._~/-]*)?")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
Audience = Annotated[str, StringConstraints(min_length=1, max_length=255)]


def https_issuer_url(value: str) -> str:
    """An OIDC issuer exactly as tokens carry it in `iss`: https only (OpenID Connect Discovery and IAM
    require it), kept as written (a trailing slash included: Auth0 puts one in `iss`, and a trusted token
    issuer's URL must match `iss` byte for byte)."""
    example = "(e.g. https://example.okta.com/oauth2/default)"
    match = _ISSUER_URL.fullmatch(value)
    if not match:
        raise ValueError("expected an https:// issuer URL without query or fragment, exactly as the IdP's "
                         f"tokens carry it in `iss` {example}")
    labels = match.group("host").split(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"'{match.group('host')}' is not a host name: each dot-separated part needs letters or "
                         f"digits, with hyphens only inside {example}")
    port = match.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port} is not a TCP port (1 to 65535)")
    segments = (match.group("path") or "").split("/")
    if any(segment in (".", "..") for segment in segments):
        raise ValueError("'.' and '..' path segments are not allowed: write the issuer's path as its tokens do")
    return value


def _non_empty_audiences(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("at least one audience (the `aud` the IdP puts in the tokens the tool sends) is required: "
                         "list it, e.g. audiences: [my-client-id]")
    return value


HttpsIssuerUrl = Annotated[str, AfterValidator(https_issuer_url)]
Audiences = Annotated[tuple[Audience, ...], AfterValidator(_non_empty_audiences)]

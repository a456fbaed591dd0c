"""The properties of the IAM Identity Center custom resources (`idc_oauth_app.py`, `idc_trusted_token_issuer.py`),
typed (`IssuerConfig`, `AppConfig`) and validated before any AWS call against the shapes the sso-admin model
accepts, every problem named at once, so a bad template fails fast with one readable CloudFormation event instead
of a half-made configuration."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Model limits (sso-admin 2020-07-20): TokenIssuerAudiences and ScopeTargets hold 1 to 10 entries.
MAX_AUDIENCES = 10
MAX_TARGETS = 10

# ARN shapes from the sso-admin model's patterns; fullmatch is applied.
_PARTITION = r"arn:aws(?:-[a-z]{1,5}){0,3}"
_INSTANCE_ID = r"(?:sso)?ins-[a-zA-Z0-9.-]{16}"
INSTANCE_ARN = re.compile(rf"{_PARTITION}:sso:::instance/(?P<instance>{_INSTANCE_ID})")
APPLICATION_ARN = re.compile(
    rf"{_PARTITION}:sso::\d{{12}}:application/(?P<instance>{_INSTANCE_ID})/apl-[a-zA-Z0-9]{{16}}")
TRUSTED_TOKEN_ISSUER_ARN = re.compile(
    rf"{_PARTITION}:sso::\d{{12}}:trustedTokenIssuer/(?P<instance>{_INSTANCE_ID})/"
    r"tti-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}")
SCOPE_TARGET = re.compile(
    rf"{_PARTITION}:sso::(?:\d{{12}}:application/{_INSTANCE_ID}/apl-[a-zA-Z0-9]{{16}}|:instance/{_INSTANCE_ID})")
IAM_ROLE_ARN = re.compile(rf"{_PARTITION}:iam::\d{{12}}:role/[\w+=,.@/-]{{1,512}}")
ISSUER_NAME = re.compile(r"[\w+=,.@-]{1,255}")
# The model's claim patterns use \p{L} (any letter), which `re` lacks: [^\W\d_] is its closest stdlib form.
_LETTERS = r"[^\W\d_]+"
CLAIM_ATTRIBUTE_PATH = re.compile(rf"{_LETTERS}(?:[._]{_LETTERS}){{0,2}}")
IDENTITY_STORE_ATTRIBUTE_PATH = re.compile(rf"{_LETTERS}(?:\.{_LETTERS}){{0,2}}")
# OpenID Connect Discovery requires an https issuer; the model would also take http.
ISSUER_URL = re.compile(r"https://[-a-zA-Z0-9+&@/%=~_|!:,.;]*[-a-zA-Z0-9+&@/%=~_|]")


@dataclass(frozen=True)
class IssuerConfig:
    """A trusted token issuer for an OIDC IdP: what `CreateTrustedTokenIssuer` needs, validated."""

    instance_arn: str
    issuer_name: str
    issuer_url: str
    claim_attribute_path: str
    identity_store_attribute_path: str

    @property
    def instance_id(self) -> str:
        match = INSTANCE_ARN.fullmatch(self.instance_arn)
        return match.group("instance") if match else ""


@dataclass(frozen=True)
class AppConfig:
    """`Custom::IdcOAuthAppConfig`'s properties, validated and typed; compared field by field on Update."""

    instance_arn: str
    application_arn: str
    issuer_name: str
    issuer_url: str
    claim_attribute_path: str
    identity_store_attribute_path: str
    audiences: tuple[str, ...]
    actor_role_arns: tuple[str, ...]
    authorized_targets: tuple[str, ...]
    assignment_required: bool

    @property
    def instance_id(self) -> str:
        match = INSTANCE_ARN.fullmatch(self.instance_arn)
        return match.group("instance") if match else ""

    @property
    def issuer(self) -> IssuerConfig:
        return IssuerConfig(self.instance_arn, self.issuer_name, self.issuer_url, self.claim_attribute_path,
                            self.identity_store_attribute_path)


def text_of(props: Mapping[str, Any], name: str, problems: list[str], pattern: re.Pattern[str] | None = None,
            shape: str = "") -> str:
    """Property `name`, a non-empty string (of `pattern`'s `shape`, if given); each problem appended to `problems`."""
    value = props.get(name)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{name} is missing or empty")
        return ""
    if pattern is not None and not pattern.fullmatch(value):
        problems.append(f"{name} {value!r} is not {shape}")
    return value


def texts_of(props: Mapping[str, Any], name: str, problems: list[str], most: int | None = None,
             pattern: re.Pattern[str] | None = None, shape: str = "") -> tuple[str, ...]:
    """Property `name`, a non-empty list of non-empty strings (at most `most`, each of `pattern`'s `shape`)."""
    value = props.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{name} must be a non-empty list of non-empty strings (got {value!r})")
        return ()
    if most is not None and len(value) > most:
        problems.append(f"{name} has {len(value)} entries; IAM Identity Center accepts at most {most}")
    if pattern is not None:
        bad = [v for v in value if not pattern.fullmatch(v)]
        if bad:
            problems.append(f"{name} entries {bad!r} are not {shape}")
    return tuple(value)


def flag_of(props: Mapping[str, Any], name: str, problems: list[str]) -> bool:
    """Property `name`, true or false. CloudFormation turns booleans into strings; a direct invocation may still
    send a real bool."""
    value = props.get(name)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    problems.append(f"{name} must be true or false (got {value!r})")
    return False


def issuer_properties(props: Mapping[str, Any], problems: list[str]) -> IssuerConfig:
    """The TTI properties both resource types share, each problem appended to `problems`."""
    return IssuerConfig(
        instance_arn=text_of(props, "InstanceArn", problems, INSTANCE_ARN, "an IAM Identity Center instance ARN"),
        issuer_name=text_of(props, "TrustedTokenIssuerName", problems, ISSUER_NAME,
                            "a trusted token issuer name (1-255 of letters, digits and _+=,.@-)"),
        issuer_url=text_of(props, "IssuerUrl", problems, ISSUER_URL, "an https:// issuer URL"),
        claim_attribute_path=text_of(props, "ClaimAttributePath", problems, CLAIM_ATTRIBUTE_PATH,
                                     "a token claim path (e.g. email, up to three names joined by . or _)"),
        identity_store_attribute_path=text_of(props, "IdentityStoreAttributePath", problems,
                                              IDENTITY_STORE_ATTRIBUTE_PATH,
                                              "an identity store attribute path (e.g. emails.value)"),
    )

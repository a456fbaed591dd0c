"""Typed, validated environment configuration (`config/<name>.yaml`).

Everything a deploy depends on is read here, once, and checked before any construct exists, so a
typo fails `make synth` with the file, the field path and the fix instead of failing a deploy.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from redshift_idc import project

CONFIG_DIR = project.config_dir()  # the project's own; readers ask `project` at call time

# Regions where Redshift Serverless offers base capacities above 512 RPU (Redshift management guide,
# "Compute capacity for Amazon Redshift Serverless").
EXTENDED_RPU_REGIONS = frozenset({"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1"})
MAX_CAPACITY_RPU_LIMIT = 5632

# Role names Redshift reserves: a namespace `sys` or `ds` would produce `sys:<group>` roles it refuses.
RESERVED_ROLE_PREFIXES = frozenset({"sys", "ds"})
# Redshift identifiers (role names included) are at most 127 bytes of UTF-8.
MAX_IDENTIFIER_BYTES = 127

_PARTITION = r"aws(-cn|-us-gov|-iso|-iso-b)?"
IDC_INSTANCE_ARN = re.compile(rf"^arn:{_PARTITION}:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{{16}}$")
IDENTITY_STORE_ID = re.compile(r"^d-[0-9a-f]{10}$|^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
IDC_GROUP_ID = re.compile(r"^([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-([A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}$")

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
# Serverless namespace and workgroup names (botocore redshift-serverless model: 3-64, [a-z0-9-]).
ServerlessName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{3,64}$")]
# CreateRedshiftIdcApplication: RedshiftIdcApplicationName, IdcDisplayName, IdentityNamespace.
IdcApplicationName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=63)]
IdcDisplayName = Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]+$", min_length=1, max_length=127)]
IdentityNamespace = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_+.#@$-]+$", min_length=1, max_length=127)]
# First database name: a letter, then letters, digits, `_+.@-`; at most 127 characters.
DatabaseName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_+.@-]{0,126}$")]
VpcId = Annotated[str, StringConstraints(pattern=r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")]
SecurityGroupId = Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8}([0-9a-f]{9})?$")]
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)


class ConfigError(Exception):
    """A configuration problem, worded for the person who edits the file."""


class _Model(BaseModel):
    """Strict base: unknown keys are errors (a typo must never be ignored silently), values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class IdentityCenterConfig(_Model):
    """The IAM Identity Center instance the warehouse trusts."""

    instance_arn: str = Field(description="arn:aws:sso:::instance/ssoins-<16 characters>")
    identity_store_id: str = Field(description="d-<10 hex digits> (IAM Identity Center > Settings)")

    @field_validator("instance_arn")
    @classmethod
    def _instance_arn(cls, value: str) -> str:
        if not IDC_INSTANCE_ARN.match(value):
            raise ValueError("expected an IAM Identity Center instance ARN like "
                             "'arn:aws:sso:::instance/ssoins-1234567890abcdef'")
        return value

    @field_validator("identity_store_id")
    @classmethod
    def _identity_store_id(cls, value: str) -> str:
        if not IDENTITY_STORE_ID.match(value):
            raise ValueError("expected an identity store id like 'd-1234567890'")
        return value

    @property
    def partition(self) -> str:
        return self.instance_arn.split(":")[1]

    @property
    def instance_id(self) -> str:
        """`ssoins-...`: IdC application ARNs are scoped under it."""
        return self.instance_arn.rsplit("/", 1)[1]


class IdcGroup(_Model):
    """An IdC group assigned to the Redshift IdC application; its users sign in as `NS:<group>` roles."""

    display_name: str = Field(min_length=1, max_length=1024)
    group_id: str | None = Field(default=None, description="identity store group id; resolved by name if omitted")

    @field_validator("group_id")
    @classmethod
    def _group_id(cls, value: str | None) -> str | None:
        if value is not None and not IDC_GROUP_ID.match(value):
            raise ValueError("expected an identity store group id like "
                             "'9067e2d4-1234-5678-9abc-def012345678' (or omit it to resolve by display_name)")
        return value



class IdcUser(_Model):
    """An IdC user assigned to the Redshift IdC application on their own, besides its groups (a service
    account, or a person outside every assigned group); they sign in as the user `NS:<user_name>`."""

    user_name: str = Field(min_length=1, max_length=128, description="the identity store UserName")
    user_id: str | None = Field(default=None, description="identity store user id; resolved by user_name if omitted")

    @field_validator("user_name")
    @classmethod
    def _user_name(cls, value: str) -> str:
        if value != value.strip() or any(ch.isspace() for ch in value) or any(ord(ch) < 32 for ch in value):
            raise ValueError("an identity store UserName has no spaces or control characters "
                             "(e.g. alice@example.com)")
        return value

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str | None) -> str | None:
        if value is not None and not IDC_GROUP_ID.match(value):
            raise ValueError("expected an identity store user id like "
                             "'9067e2d4-1234-5678-9abc-def012345678' (or omit it to resolve by user_name)")
        return value

_ISSUER_URL = re.compile(r"https://(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?(?P<path>/[A-Za-z0-9._~/-]*)?")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# Trusted token issuer claim paths (sso-admin model; \p{L} written as [^\W\d_], as the handler checks them).
_CLAIM_PATH = re.compile(r"[^\W\d_]+(?:[._][^\W\d_]+){0,2}")
_STORE_ATTRIBUTE_PATH = re.compile(r"[^\W\d_]+(?:\.[^\W\d_]+){0,2}")
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
        raise ValueError("at least one audience (the `aud` the IdP puts in the tokens the tool sends) is required")
    return value


HttpsIssuerUrl = Annotated[str, AfterValidator(https_issuer_url)]
Audiences = Annotated[tuple[Audience, ...], AfterValidator(_non_empty_audiences)]


class TrustedTokenIssuerConfig(_Model):
    """An external OIDC IdP whose tokens third-party clients (BI tools, JDBC/ODBC with `IdpTokenAuthPlugin`)
    present to Redshift (seed 000, "Configure client connections and trusted token issuers")."""

    # Names the IdC trusted token issuer `<name>-<hash of issuer_url>` (names allow only [\w+=,.@-]).
    name: Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]{1,48}$")]
    issuer_url: HttpsIssuerUrl
    claim_attribute_path: str = "email"
    identity_store_attribute_path: str = "emails.value"
    audiences: Audiences

    @field_validator("claim_attribute_path")
    @classmethod
    def _claim(cls, value: str) -> str:
        if not _CLAIM_PATH.fullmatch(value):
            raise ValueError("expected a token claim, up to three names joined by '.' or '_' (e.g. email, sub)")
        return value

    @field_validator("identity_store_attribute_path")
    @classmethod
    def _store_attribute(cls, value: str) -> str:
        if not _STORE_ATTRIBUTE_PATH.fullmatch(value):
            raise ValueError("expected an identity store attribute, up to three names joined by '.' "
                             "(e.g. emails.value, userName)")
        return value


class ServiceIntegrationsConfig(_Model):
    """The Redshift IdC application's service integrations (seed 000): identity propagation onward to Lake
    Formation and S3 Access Grants, and the Redshift connect scope. Rendered explicitly Enabled/Disabled."""

    lake_formation_query: bool = False
    s3_access_grants: Literal["read_write", "none"] = "none"
    redshift_connect: bool = False

    @field_validator("s3_access_grants", mode="before")
    @classmethod
    def _s3_scope(cls, value: Any) -> Any:
        if value == "read":
            raise ValueError("Redshift's S3 Access Grants integration has a single scope, read/write "
                             "(ReadWriteAccess); whether users read or also write is decided by the grants in S3 "
                             "Access Grants (READ, WRITE, READWRITE). Use read_write and grant READ there, or none")
        return value


class RedshiftIdcApplicationConfig(_Model):
    """The Redshift IdC application: how IdC users and groups appear inside the database."""

    name: IdcApplicationName
    display_name: IdcDisplayName
    identity_namespace: IdentityNamespace = "AWSIDC"
    groups: tuple[IdcGroup, ...] = ()
    users: tuple[IdcUser, ...] = ()
    trusted_token_issuers: tuple[TrustedTokenIssuerConfig, ...] = ()
    service_integrations: ServiceIntegrationsConfig | None = None
    # Redshift's ApplicationType. Lakehouse turns on Redshift federated permissions (the console's "Configure
    # Amazon Redshift federated permissions using AWS IAM Identity Center"); CloudFormation replaces the
    # application when it changes (a create-only property). Omitted, Redshift's default applies.
    application_type: Literal["None", "Lakehouse"] | None = None

    @model_validator(mode="after")
    def _lakehouse_integrations(self) -> RedshiftIdcApplicationConfig:
        """Redshift refuses a Lakehouse application unless Lake Formation query and Redshift connect are both
        enabled in the same request ("The lakehouse application requires authorization enabled for both ...")."""
        if self.application_type != "Lakehouse":
            return self
        integrations = self.service_integrations
        missing = [name for name, enabled in (
            ("lake_formation_query", integrations is not None and integrations.lake_formation_query),
            ("redshift_connect", integrations is not None and integrations.redshift_connect),
        ) if not enabled]
        if missing:
            raise ValueError("application_type: a Lakehouse application needs service_integrations "
                             f"{' and '.join(missing)}: true (Redshift requires Lake Formation query and Redshift "
                             "connect together); set them, or remove application_type")
        return self

    @model_validator(mode="after")
    def _distinct_issuers(self) -> RedshiftIdcApplicationConfig:
        names: dict[str, int] = {}
        urls: dict[str, int] = {}
        for index, issuer in enumerate(self.trusted_token_issuers):
            where = f"trusted_token_issuers[{index}]"
            if issuer.name.lower() in names:
                raise ValueError(f"{where}.name: duplicate name '{issuer.name}' (same as "
                                 f"trusted_token_issuers[{names[issuer.name.lower()]}])")
            if issuer.issuer_url in urls:
                raise ValueError(f"{where}.issuer_url: {issuer.issuer_url} is also trusted_token_issuers"
                                 f"[{urls[issuer.issuer_url]}]; IAM Identity Center keeps one trusted token issuer "
                                 "per issuer URL: list every client's audience on that one")
            names[issuer.name.lower()] = index
            urls[issuer.issuer_url] = index
        return self

    @field_validator("identity_namespace")
    @classmethod
    def _namespace_not_reserved(cls, value: str) -> str:
        if value.lower() in RESERVED_ROLE_PREFIXES:
            raise ValueError(f"'{value}' is reserved by Redshift for system and datashare roles "
                             f"({', '.join(p + ':' for p in sorted(RESERVED_ROLE_PREFIXES))}); "
                             "choose another, e.g. 'AWSIDC'")
        return value

    @model_validator(mode="after")
    def _groups_fit_redshift(self) -> RedshiftIdcApplicationConfig:
        seen: dict[str, int] = {}
        seen_ids: dict[str, int] = {}
        for index, group in enumerate(self.groups):
            role = self.role_name(group.display_name)
            if len(role.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
                raise ValueError(f"groups[{index}]: the database role '{role}' is longer than Redshift's "
                                 f"{MAX_IDENTIFIER_BYTES}-byte identifier limit; "
                                 "shorten the group name or the namespace")
            # Redshift folds role names to lower case, so groups differing only in case collide.
            key = group.display_name.lower()
            if key in seen:
                raise ValueError(f"groups[{index}]: duplicate group '{group.display_name}' "
                                 f"(same as groups[{seen[key]}]; "
                                 "Redshift role names are case-insensitive)")
            seen[key] = index
            if group.group_id is not None:
                if group.group_id in seen_ids:
                    raise ValueError(f"groups[{index}]: group_id {group.group_id} is also used by "
                                     f"groups[{seen_ids[group.group_id]}]")
                seen_ids[group.group_id] = index
        return self

    @model_validator(mode="after")
    def _users_fit_redshift(self) -> RedshiftIdcApplicationConfig:
        seen: dict[str, int] = {}
        seen_ids: dict[str, int] = {}
        for index, user in enumerate(self.users):
            database_user = self.role_name(user.user_name)
            if len(database_user.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
                raise ValueError(f"users[{index}]: the database user '{database_user}' is longer than Redshift's "
                                 f"{MAX_IDENTIFIER_BYTES}-byte identifier limit; shorten the namespace")
            key = user.user_name.lower()
            if key in seen:
                raise ValueError(f"users[{index}]: duplicate user '{user.user_name}' (same as users[{seen[key]}]; "
                                 "IAM Identity Center user names are case-insensitive)")
            seen[key] = index
            if user.user_id is not None:
                if user.user_id in seen_ids:
                    raise ValueError(f"users[{index}]: user_id {user.user_id} is also used by "
                                     f"users[{seen_ids[user.user_id]}]")
                seen_ids[user.user_id] = index
        return self

    def role_name(self, group_display_name: str) -> str:
        """The database role IdC maps a group to (seed 002: `Namespace:IDCGroupName`)."""
        return f"{self.identity_namespace}:{group_display_name}"


_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key/[A-Za-z0-9-]{1,128}")


class S3ReadLocation(_Model):
    """One S3 location the namespace's default IAM role may read: a bucket, a key prefix in it, and the KMS
    key its objects are encrypted with (when not S3-managed)."""

    bucket: str
    prefix: str = Field(default="", max_length=1024, description="object key prefix, e.g. sales/ (empty: the bucket)")
    kms_key_arn: str | None = None

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _S3_BUCKET.fullmatch(value) or ".." in value:
            raise ValueError("expected an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, "
                             "starting and ending with a letter or digit (e.g. acme-sales-data), without s3://")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value.startswith("/"):
            raise ValueError(f"an S3 key prefix has no leading slash: write '{value.lstrip('/')}'")
        if any(ch in value for ch in "*?$") or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("an S3 key prefix is read literally: no '*', '?', '$' or control characters "
                             "(every object under the prefix is readable; e.g. sales/2024/)")
        return value

    @field_validator("kms_key_arn")
    @classmethod
    def _kms_key_arn(cls, value: str | None) -> str | None:
        if value is not None and not _KMS_KEY_ARN.fullmatch(value):
            raise ValueError("expected a KMS key ARN like 'arn:aws:kms:us-east-1:111111111111:key/"
                             "1234abcd-12ab-34cd-56ef-1234567890ab' (not an alias: IAM policies name keys by ARN)")
        return value


class DefaultIamRoleConfig(_Model):
    """The namespace's default IAM role, for `COPY ... IAM_ROLE default` (seed 002 loads its sales data this
    way). It reads exactly these locations, nothing else: not the seed's AmazonS3ReadOnlyAccess."""

    s3_read: tuple[S3ReadLocation, ...]

    @field_validator("s3_read")
    @classmethod
    def _locations(cls, value: tuple[S3ReadLocation, ...]) -> tuple[S3ReadLocation, ...]:
        if not value:
            raise ValueError("at least one S3 location is required (e.g. [{bucket: acme-sales-data, "
                             "prefix: sales/}]); without COPY from S3, remove default_iam_role")
        seen: set[tuple[str, str]] = set()
        for index, location in enumerate(value):
            if (location.bucket, location.prefix) in seen:
                raise ValueError(f"[{index}]: s3://{location.bucket}/{location.prefix} is listed twice")
            seen.add((location.bucket, location.prefix))
        return value


class WarehouseConfig(_Model):
    """Redshift Serverless namespace and workgroup."""

    namespace_name: ServerlessName
    workgroup_name: ServerlessName
    database_name: DatabaseName = "dev"
    base_capacity_rpu: int = 8
    max_capacity_rpu: int | None = None
    port: int = 5439
    enhanced_vpc_routing: Literal[False] = Field(
        default=False,
        description="must stay false: trusted identity propagation does not support enhanced VPC routing",
    )
    log_retention_days: int = 365
    default_iam_role: DefaultIamRoleConfig | None = None

    @field_validator("enhanced_vpc_routing", mode="before")
    @classmethod
    def _no_enhanced_vpc_routing(cls, value: Any) -> Any:
        if value is not False:
            raise ValueError("enhanced VPC routing is not supported with IAM Identity Center trusted identity "
                             "propagation (Redshift IdC limitations); remove the key or set it to false")
        return value

    @field_validator("base_capacity_rpu")
    @classmethod
    def _base_capacity(cls, value: int) -> int:
        if not (value == 4 or (8 <= value <= 512 and value % 8 == 0) or (512 < value <= 1024 and value % 32 == 0)):
            raise ValueError("Redshift Serverless base capacity is 4, a multiple of 8 from 8 to 512, "
                             "or a multiple of 32 from 544 to 1024 (extended regions only)")
        return value

    @field_validator("max_capacity_rpu")
    @classmethod
    def _max_capacity(cls, value: int | None) -> int | None:
        if value is not None and not (8 <= value <= MAX_CAPACITY_RPU_LIMIT and value % 8 == 0):
            raise ValueError(f"max capacity is a multiple of 8 from 8 to {MAX_CAPACITY_RPU_LIMIT} RPU")
        return value

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not (5431 <= value <= 5455 or 8191 <= value <= 8215):
            raise ValueError("Redshift Serverless ports are 5431-5455 or 8191-8215 (default 5439)")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError("CloudWatch Logs accepts only these retention periods: "
                             f"{', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value

    @model_validator(mode="after")
    def _max_not_below_base(self) -> WarehouseConfig:
        if self.max_capacity_rpu is not None and self.max_capacity_rpu < self.base_capacity_rpu:
            raise ValueError(f"max_capacity_rpu: {self.max_capacity_rpu} is below "
                             f"base_capacity_rpu ({self.base_capacity_rpu}); raise it or remove it")
        return self


class CreatedVpc(_Model):
    """A new VPC with isolated subnets only: the Data API needs no network path, so no NAT, no IGW."""

    mode: Literal["create"]
    cidr: Annotated[str, StringConstraints(pattern=r"^(\d{1,3}\.){3}\d{1,3}/(1[6-9]|2[0-4])$")] = "10.40.0.0/16"


class ExistingVpc(_Model):
    """A VPC someone else owns: three private subnets in three AZs, optional security groups."""

    mode: Literal["existing"]
    vpc_id: VpcId
    subnet_ids: Annotated[tuple[SubnetId, ...], Field(min_length=3, max_length=3)]
    security_group_ids: tuple[SecurityGroupId, ...] = ()

    @field_validator("subnet_ids")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("the three subnet ids must be distinct (one private subnet per availability zone)")
        return value


Network = Annotated[CreatedVpc | ExistingVpc, Field(discriminator="mode")]


class IdentityPropagationConfig(_Model):
    """Trusted identity propagation for Data API clients (seed 002): an external OIDC IdP's users call the
    Data API as themselves through a customer-managed IdC OAuth application."""

    issuer_url: HttpsIssuerUrl = Field(description="the external IdP's issuer, e.g. https://example.okta.com/oauth2/default")
    audiences: Audiences = Field(
        description="the IdP application's client id(s): the `aud` of the id tokens the app sends")
    claim_attribute_path: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,255}$")] = "email"
    identity_store_attribute_path: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,255}$")] = (
        "emails.value")
    thumbprints: tuple[Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{40}$")], ...] = ()
    # Also names the trusted token issuer (`<name>-<hash of issuer_url>`), whose names allow only [\w+=,.@-].
    application_name: Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]{1,48}$")]
    assignment_required: bool = Field(description="explicit: with true, only assigned_groups may sign in")
    assigned_groups: tuple[IdcGroup, ...] = ()
    # The client role is assumed with the bridge role's credentials (role chaining): STS caps that at 1 h.
    session_seconds: int = Field(default=3600, ge=900, le=3600)

    @model_validator(mode="after")
    def _assignments(self) -> IdentityPropagationConfig:
        if self.assignment_required and not self.assigned_groups:
            raise ValueError("assigned_groups: assignment_required is true but no group is assigned, so nobody "
                             "could sign in (the token exchange fails with AccessDenied); assign groups or set "
                             "assignment_required: false")
        if not self.assignment_required and self.assigned_groups:
            raise ValueError("assigned_groups: groups are assigned only when assignment_required is true")
        return self

    @property
    def issuer_host_path(self) -> str:
        """The issuer without its scheme: IAM's condition keys on the OIDC provider start with it."""
        return self.issuer_url.removeprefix("https://")


class QueryEditorV2ApplicationConfig(_Model):
    """The account's Query Editor v2 IdC application (`AWS::Redshift::QEV2IdcApplication`)."""

    name: IdcApplicationName
    display_name: IdcDisplayName


class QueryEditorV2Config(_Model):
    """Query Editor v2 with single sign-on (seed 001): an IdC permission set for the environment's account,
    assigned to IdC groups that the Redshift IdC application also assigns."""

    permission_set_name: Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]{1,32}$")]
    session_duration_hours: int = 1
    groups: tuple[IdcGroup, ...]
    idc_application: QueryEditorV2ApplicationConfig | None = Field(
        default=None, description="create the account's QEv2 IdC application; omit if it already exists")

    @field_validator("session_duration_hours")
    @classmethod
    def _session(cls, value: int) -> int:
        if not 1 <= value <= 12:
            raise ValueError("an IAM Identity Center permission set's session lasts 1 to 12 hours")
        return value

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: tuple[IdcGroup, ...]) -> tuple[IdcGroup, ...]:
        if not value:
            raise ValueError("at least one IdC group is required: the permission set is assigned to these groups")
        return value

    @model_validator(mode="after")
    def _distinct_groups(self) -> QueryEditorV2Config:
        seen: dict[str, int] = {}
        for index, group in enumerate(self.groups):
            if group.display_name.lower() in seen:
                raise ValueError(f"groups[{index}]: duplicate group '{group.display_name}' "
                                 f"(same as groups[{seen[group.display_name.lower()]}])")
            seen[group.display_name.lower()] = index
        return self

    @property
    def session_duration(self) -> str:
        """ISO 8601, as `AWS::SSO::PermissionSet` takes it."""
        return f"PT{self.session_duration_hours}H"


# Database role names carried by the `RedshiftDbRoles` principal tag: ':' separates them, and an IAM tag value
# holds letters, digits, spaces and `_.:/=+-@`, at most 256 characters in all.
_DB_ROLE_IN_TAG = re.compile(r"[\w .=+@/-]+")
SAML_METADATA_CHARS = (1000, 10_000_000)  # IAM's limits on a SAML metadata document


class FederationProviderConfig(_Model):
    """The IdP that IAM trusts for the federation role: OIDC (issuer and audiences) or SAML (metadata)."""

    type: Literal["oidc", "saml"]
    issuer_url: HttpsIssuerUrl | None = None
    audiences: tuple[Audience, ...] = ()
    thumbprints: tuple[Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{40}$")], ...] = ()
    metadata_document_file: str | None = Field(
        default=None, description="the IdP's SAML metadata XML; a relative path is read from config/")

    @model_validator(mode="after")
    def _fields_of_type(self) -> FederationProviderConfig:
        if self.type == "oidc":
            if self.issuer_url is None:
                raise ValueError("issuer_url: required for an OIDC provider (the IdP's issuer, https://...)")
            if not self.audiences:
                raise ValueError("audiences: at least one audience (the IdP application's client id, the `aud` of "
                                 "its tokens) is required: the role's trust is conditioned on it")
            if self.metadata_document_file is not None:
                raise ValueError("metadata_document_file: only for type saml")
            return self
        if self.metadata_document_file is None:
            raise ValueError("metadata_document_file: required for a SAML provider (the IdP's metadata XML)")
        extra = [k for k in ("issuer_url", "audiences", "thumbprints") if getattr(self, k)]
        if extra:
            raise ValueError(f"{extra[0]}: only for type oidc (a SAML role is conditioned on SAML:aud)")
        path = self.metadata_path
        if not path.is_file():
            raise ValueError(f"metadata_document_file: no such file {path}")
        text = path.read_text(encoding="utf-8")
        low, high = SAML_METADATA_CHARS
        if not low <= len(text) <= high or "EntityDescriptor" not in text:
            raise ValueError(f"metadata_document_file: {path} is not SAML metadata as IAM takes it (an "
                             f"EntityDescriptor document of {low:,} to {high:,} characters)")
        return self

    @property
    def metadata_path(self) -> Path:
        return project.config_dir() / (self.metadata_document_file or "")

    def metadata_document(self) -> str:
        return self.metadata_path.read_text(encoding="utf-8")

    @property
    def issuer_host_path(self) -> str:
        return (self.issuer_url or "").removeprefix("https://")


class IamFederationConfig(_Model):
    """A role for tools without IdC (seeds 003/004): users federated by an IAM OIDC or SAML provider get
    temporary database credentials for this workgroup (`redshift-serverless:GetCredentials`)."""

    provider: FederationProviderConfig
    role_name: Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]{1,64}$")] | None = None
    db_roles: tuple[Annotated[str, StringConstraints(min_length=1, max_length=MAX_IDENTIFIER_BYTES)], ...] = Field(
        default=(), description="database roles the users get, through the role's RedshiftDbRoles tag")

    @model_validator(mode="before")
    @classmethod
    def _no_db_groups(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "db_groups" in data:
            raise ValueError("db_groups: Redshift Serverless has no database groups for IAM credentials (DbGroups "
                             "and redshift:JoinGroup apply to provisioned clusters only); list database roles in "
                             "db_roles instead (given to the users through the role's RedshiftDbRoles tag)")
        return data

    @model_validator(mode="after")
    def _roles_fit_the_tag(self) -> IamFederationConfig:
        seen: dict[str, int] = {}
        for index, role in enumerate(self.db_roles):
            if not _DB_ROLE_IN_TAG.fullmatch(role):
                raise ValueError(f"db_roles[{index}]: '{role}' cannot travel in the RedshiftDbRoles tag: ':' separates "
                                 "roles there and IAM tag values hold only letters, digits, spaces and _.=+-@/ "
                                 "(IdC group roles such as 'AWSIDC:sales' are for IdC users, not this path)")
            if role.lower() in seen:
                raise ValueError(f"db_roles[{index}]: duplicate role '{role}' (same as db_roles[{seen[role.lower()]}])")
            seen[role.lower()] = index
        if len(":".join(self.db_roles)) > 256:
            raise ValueError("db_roles: joined by ':' they exceed the 256 characters of the RedshiftDbRoles tag value")
        return self

    @property
    def db_roles_tag(self) -> str:
        """The `RedshiftDbRoles` principal tag: Redshift grants these roles to the users GetCredentials makes."""
        return ":".join(self.db_roles)


TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\w .:/=+@-]+$")]
TagValue = Annotated[str, StringConstraints(max_length=256, pattern=r"^[\w .:/=+@-]*$")]


class EnvironmentConfig(_Model):
    """One deployable environment. `name` is the file's stem, set by the loader."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}$")]
    account: AccountId
    region: Region
    availability_zones: tuple[str, str, str]
    identity_center: IdentityCenterConfig
    redshift_idc_application: RedshiftIdcApplicationConfig
    warehouse: WarehouseConfig
    network: Network
    access_model: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")] | None = Field(
        default=None, description="name of access/<model>.yaml the reconciler applies; omit for none")
    identity_propagation: IdentityPropagationConfig | None = None
    query_editor_v2: QueryEditorV2Config | None = None
    iam_federation: IamFederationConfig | None = None
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)

    @field_validator("tags")
    @classmethod
    def _no_aws_prefix(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag key '{key}': the 'aws:' prefix is reserved for AWS")
        return value

    # Field validators, not a model validator: pydantic skips after-model validators once any field
    # failed, which would hide these problems behind unrelated ones. `region` is declared first, so it
    # is in `info.data` whenever it is valid.
    @field_validator("availability_zones", mode="before")
    @classmethod
    def _three_zones(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, list | tuple) and len(value) != 3:
            region = info.data.get("region") or "the region"
            given = ", ".join(map(str, value)) or "none"
            raise ValueError(f"three zones of {region} are needed, e.g. [{region}a, {region}b, {region}c] (given "
                             f"{len(value)}: {given})")
        return value

    @field_validator("availability_zones")
    @classmethod
    def _zones_in_region(cls, value: tuple[str, str, str], info: ValidationInfo) -> tuple[str, str, str]:
        region = info.data.get("region")
        for zone in value:
            if region is not None and not re.fullmatch(re.escape(region) + r"[a-z]", zone):
                raise ValueError(f"'{zone}' is not a zone of region {region} (expected e.g. '{region}a')")
        if len(set(value)) != 3:
            raise ValueError("three distinct zones are required")
        return value

    @field_validator("warehouse")
    @classmethod
    def _capacity_offered_in_region(cls, value: WarehouseConfig, info: ValidationInfo) -> WarehouseConfig:
        region = info.data.get("region")
        if region is not None and value.base_capacity_rpu > 512 and region not in EXTENDED_RPU_REGIONS:
            raise ValueError(f"base_capacity_rpu: above 512 RPU is offered only in "
                             f"{', '.join(sorted(EXTENDED_RPU_REGIONS))}, not in {region}")
        return value

    @field_validator("identity_propagation")
    @classmethod
    def _one_issuer_per_url(cls, value: IdentityPropagationConfig | None,
                            info: ValidationInfo) -> IdentityPropagationConfig | None:
        application = info.data.get("redshift_idc_application")
        if value is None or application is None:
            return value
        for index, issuer in enumerate(application.trusted_token_issuers):
            if issuer.issuer_url == value.issuer_url:
                raise ValueError(f"issuer_url: {value.issuer_url} is also redshift_idc_application."
                                 f"trusted_token_issuers[{index}]; IAM Identity Center keeps one trusted token issuer "
                                 "per issuer URL and identity_propagation makes its own: use another issuer (e.g. "
                                 "another authorization server of the IdP) for one of them")
        return value

    @field_validator("query_editor_v2")
    @classmethod
    def _qev2_groups_assigned(cls, value: QueryEditorV2Config | None,
                              info: ValidationInfo) -> QueryEditorV2Config | None:
        application = info.data.get("redshift_idc_application")
        if value is None or application is None:
            return value
        assigned = {g.display_name.lower() for g in application.groups}
        for index, group in enumerate(value.groups):
            if group.display_name.lower() not in assigned:
                raise ValueError(f"groups[{index}]: '{group.display_name}' is not assigned to the Redshift IdC "
                                 "application (redshift_idc_application.groups); its users would get 'Invalid scope' "
                                 "when Query Editor v2 connects: add it there")
        return value

    @field_validator("iam_federation")
    @classmethod
    def _one_oidc_provider_per_url(cls, value: IamFederationConfig | None,
                                   info: ValidationInfo) -> IamFederationConfig | None:
        propagation = info.data.get("identity_propagation")
        if value is None or propagation is None or value.provider.issuer_url != propagation.issuer_url:
            return value
        raise ValueError(f"provider.issuer_url: {propagation.issuer_url} is also identity_propagation.issuer_url; "
                         "IAM allows one OIDC provider per issuer URL in an account and identity propagation "
                         "creates it: use another issuer (e.g. another authorization server of the IdP)")

    @property
    def stack_prefix(self) -> str:
        """Stack names start with this so several environments can share one account."""
        return "".join(part.capitalize() for part in self.name.split("-"))


def _format_location(loc: tuple[int | str, ...]) -> str:
    """`('warehouse', 'groups', 2, 'group_id')` -> `warehouse.groups[2].group_id`; drops union tags."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("create", "existing") and parts and parts[-1] == "network":
            continue  # the discriminator pydantic inserts; the user never wrote it
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def _allowed_keys(loc: tuple[int | str, ...], root: type[BaseModel]) -> list[str]:
    """The keys a model accepts at `loc`, for did-you-mean hints on unknown keys."""
    model: Any = root
    for item in loc[:-1]:
        if isinstance(item, int):
            continue
        if item == "create":  # discriminated-union tags pydantic puts in the location
            model = CreatedVpc
            continue
        if item == "existing":
            model = ExistingVpc
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == item), None)
        if field is None:
            return []
        annotation = field.annotation
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        nested = [c for c in candidates if issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return sorted((f.alias or n) for n, f in model.model_fields.items() if n != "name" or model is not root)


# Model-level checks word their messages `field.path: problem` (pydantic can only locate them at the model).
_MESSAGE_PATH = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (.+)$", re.DOTALL)


# The forms the configuration's patterns allow, in words, with an example (what a user reads instead of a regex).
PATTERN_WORDS: dict[str, str] = {
    r"^\d{12}$": "a 12-digit AWS account id, quoted, e.g. \"111111111111\"",
    r"^[a-z]{2}(-gov|-iso|-isob)?-[a-z]+-\d$": "an AWS region name, e.g. us-east-1 or eu-west-2",
    r"^[a-z0-9-]{3,64}$": "3 to 64 lower-case letters, digits and hyphens, e.g. analytics-dev",
    r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$": "lower-case letters and digits in hyphen-separated words, e.g. redshift-idc",
    r"^[a-zA-Z][a-zA-Z0-9_+.@-]{0,126}$": "a letter, then up to 126 letters, digits or _+.@-, e.g. dev",
    r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$": "a VPC id, e.g. vpc-0123456789abcdef0",
    r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$": "a subnet id, e.g. subnet-0123456789abcdef0",
    r"^sg-[0-9a-f]{8}([0-9a-f]{9})?$": "a security group id, e.g. sg-0123456789abcdef0",
    r"^(\d{1,3}\.){3}\d{1,3}/(1[6-9]|2[0-4])$": "an IPv4 CIDR block from /16 to /24, e.g. 10.40.0.0/16",
    r"^[0-9a-fA-F]{40}$": "40 hexadecimal digits (a SHA-1 thumbprint)",
    r"^[a-z][a-z0-9-]{0,62}$": "the name of a file under access/ without .yaml: lower-case letters, digits and "
                               "hyphens, starting with a letter, e.g. demo",
    r"^[a-z][a-z0-9-]{0,30}$": "lower-case letters, digits and hyphens, starting with a letter, e.g. dev",
    r"^[A-Za-z0-9_./-]+\.sql$": "a path under sql/ ending in .sql, e.g. demo/001_sales_data.sql",
    r"^[A-Za-z0-9_./-]+\.csv$": "a path beside the model ending in .csv, e.g. samples/sales_data.csv",
}
_IAM_NAME = re.compile(r"\^\[\\w\+=,\.@-\]\{1,(\d+)\}\$")
_EXPECTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _problem(item: Any) -> str:
    """A pydantic error in the words of someone writing YAML."""
    kind = item["type"]
    message = str(item["msg"]).removeprefix("Value error, ")
    got = item.get("input")
    if kind in ("tuple_type", "list_type", "set_type"):
        example = f"[{got}]" if isinstance(got, str | int | float) and not isinstance(got, bool) else "[...]"
        return f"expected a list, e.g. {example}"
    if kind == "string_pattern_mismatch":
        pattern = str(item["ctx"]["pattern"])
        if (iam := _IAM_NAME.fullmatch(pattern)) is not None:
            return f"expected 1 to {iam.group(1)} letters, digits or any of + = , . @ _ - (an IAM-style name)"
        return f"expected {PATTERN_WORDS.get(pattern, f'text of the form {pattern}')}"
    if kind == "literal_error":
        options = _EXPECTED.findall(str(item["ctx"].get("expected", "")))
        close = ([o for o in options if o.lower() == got.lower()]
                 or difflib.get_close_matches(got, options, n=1, cutoff=0.5)) if isinstance(got, str) else []
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"'{got}' is not one of {', '.join(options)}{hint}" if options else message
    if kind == "missing":
        return "required, but not set"
    if kind == "string_type" and isinstance(got, int | float) and not isinstance(got, bool):
        return f"expected text; YAML read {got!r} as a number: quote it, e.g. \"{got}\""
    return message


def format_validation_error(path: Path, error: ValidationError, data: Any,
                            root: type[BaseModel] | None = None, *, origins: Origins | None = None,
                            bases: Sequence[Path] = ()) -> str:
    """One line per problem: `file: field.path: what is wrong (got: value)`. With `origins` (an environment
    merged over `bases` by `extends`), a problem set by another file than `path` ends with `[set in <file>]`."""
    count = f"{error.error_count()} problem{'s' if error.error_count() > 1 else ''}"
    merged = f"; merged over {', '.join(str(project.shown(b)) for b in bases)}" if bases else ""
    lines = [f"{project.shown(path)}: invalid configuration ({count}{merged}):"]

    def origin(loc: tuple[int | str, ...], field_path: str = "") -> str:
        if origins is None:
            return ""
        files = [project.shown(f) for f in _origin_of(_key_path(loc, field_path), origins)]
        return f" [set in {', '.join(map(str, files))}]" if files and files != [project.shown(path)] else ""

    items = error.errors()
    # A list whose item failed also fails "at least 1 item" (the bad item was dropped): one problem, not two.
    deeper = {tuple(item["loc"][:-1]) for item in items if len(item["loc"]) > 1}
    items = [item for item in items if not (item["type"] == "too_short" and tuple(item["loc"]) in deeper)]
    count = f"{len(items)} problem{'s' if len(items) > 1 else ''}"
    lines[0] = f"{project.shown(path)}: invalid configuration ({count}{merged}):"
    for item in items:
        loc = tuple(item["loc"])
        where = _format_location(loc)
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc, root or EnvironmentConfig)
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            lines.append(f"  {where}: unknown key; {hint}allowed keys here: {', '.join(allowed)}{origin(loc)}")
            continue
        message = _problem(item)
        field_path = ""
        if item["type"] == "value_error" and (inner := _MESSAGE_PATH.match(message)):
            field_path, message = inner.groups()
            where = field_path if where == "(top level)" else f"{where}.{field_path}"
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):  # the key that picks the variant
            where = f"{where}.{str(item['ctx']['discriminator']).strip(chr(39))}"
            message = (f"'{item['ctx']['tag']}' is not one of {item['ctx']['expected_tags']}"
                       if item["type"] == "union_tag_invalid" else "required: it selects which settings apply")
        got = item.get("input")
        shown = "" if isinstance(got, (dict, list)) or got is None or item["type"] in (
            "tuple_type", "list_type", "literal_error") else f" (got: {got!r})"
        lines.append(f"  {where}: {message}{shown}{origin(loc, field_path)}")
    return "\n".join(lines)


def parse_environment(data: Mapping[str, Any], *, name: str, source: Path, origins: Origins | None = None,
                      bases: Sequence[Path] = ()) -> EnvironmentConfig:
    """Validate already-parsed YAML; `source` (and `origins`/`bases`, see `load_environment`) only word errors."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level")
    if "name" in data:
        raise ConfigError(f"{source}: name: unknown key; the environment's name is the file name ('{name}')")
    try:
        return EnvironmentConfig.model_validate({**data, "name": name})
    except ValidationError as error:
        raise ConfigError(format_validation_error(source, error, data, origins=origins, bases=bases)) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a key given twice in one mapping is an error instead of last-one-wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file strictly (duplicate keys are errors), as a ConfigError naming the file."""
    shown = project.shown(path)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.MarkedYAMLError as error:
        def at(mark: Any) -> str:
            return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""

        parts = [f"{error.context}{at(error.context_mark)}" if error.context else "",
                 f"{error.problem}{at(error.problem_mark)}" if error.problem else ""]
        mark = error.problem_mark or error.context_mark
        where = f"{shown}: line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(shown)
        raise ConfigError(f"{where}: not valid YAML: {': '.join(p for p in parts if p) or error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{shown}: not valid YAML: {error}") from None


# --- environments and `extends` ------------------------------------------------------------------
#
# `extends: <other>` as a top-level key of `config/<name>.yaml` deep-merges the file over
# `config/<other>.yaml` (which may extend another in turn): mappings merge key by key, recursively;
# lists and scalars (`null` included) replace what the base set. Files whose name starts with `_` are
# bases only, never environments. Each leaf of the merged document remembers the file that set it, so a
# problem set by a base is reported with `[set in <base file>]`.

EXTENDS_KEY = "extends"
BASE_PREFIX = "_"
_EXTENDS_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,62}$")

# Key path in the merged document (list indices dropped: a list is one leaf) -> the file that set it.
Origins = dict[tuple[str, ...], Path]


def _key_path(loc: tuple[int | str, ...], field_path: str = "") -> tuple[str, ...]:
    """The document keys an error is about: pydantic's location without list indices, union tags or
    `[key]` markers, followed by the field path a model-level message names."""
    keys: list[str] = []
    for item in loc:
        if isinstance(item, int) or item == "[key]":
            continue
        if item in ("create", "existing") and keys == ["network"]:
            continue
        keys.append(item)
    if field_path:
        keys += [re.sub(r"\[\d+\]", "", part) for part in field_path.split(".")]
    return tuple(keys)


def _origin_of(keys: tuple[str, ...], origins: Origins) -> list[Path]:
    """The file(s) that set `keys`: the file of the value itself or of the list/scalar holding it, else
    the files of everything under it (a mapping several files contributed to). Nothing at top level."""
    if not keys:
        return []
    for length in range(len(keys), 0, -1):
        if keys[:length] in origins:
            return [origins[keys[:length]]]
    return sorted({file for path, file in origins.items() if path[:len(keys)] == keys}, key=str)


def _record(value: Any, source: Path, origins: Origins, path: tuple[str, ...]) -> None:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _record(item, source, origins, (*path, str(key)))
    else:
        origins[path] = source


def merge_layer(target: dict[str, Any], layer: Mapping[str, Any], source: Path, origins: Origins,
                path: tuple[str, ...] = ()) -> None:
    """Deep-merge `layer` (read from `source`) into `target`: mappings recursively, anything else replaces."""
    for key, value in layer.items():
        here = (*path, str(key))
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            origins.pop(here, None)  # an empty mapping a base set is a leaf until something merges into it
            merge_layer(current, value, source, origins, here)
            continue
        for stale in [p for p in origins if p[:len(here)] == here]:
            del origins[stale]
        target[key] = _plain(value)
        _record(value, source, origins, here)


def _plain(value: Any) -> Any:
    """A copy made of dicts and lists only, so later layers can merge into it."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _read_layer(path: Path, name: str) -> tuple[dict[str, Any], str | None]:
    """One file of an `extends` chain: its settings without `extends`, and the name it extends (if any)."""
    data = read_yaml(path)
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if "name" in data:
        raise ConfigError(f"{path}: name: unknown key; an environment's name is its file name ('{name}')")
    layer = {k: v for k, v in data.items() if k != EXTENDS_KEY}
    if EXTENDS_KEY not in data:
        return layer, None
    base = data[EXTENDS_KEY]
    if not isinstance(base, str) or not _EXTENDS_NAME.match(base):
        raise ConfigError(f"{path}: {EXTENDS_KEY}: expected the name of another file in {path.parent}, without "
                          f"'.yaml' (e.g. '{BASE_PREFIX}shared') (got: {base!r})")
    return layer, base


def read_environment_layers(name: str, config_dir: Path | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """`config/<name>.yaml` and the files it extends, base first; cycles and missing bases are errors."""
    config_dir = config_dir or project.config_dir()
    chain: list[Path] = []
    layers: list[tuple[Path, dict[str, Any]]] = []
    current: str | None = name
    while current is not None:
        path = config_dir / f"{current}.yaml"
        if path in chain:
            cycle = " -> ".join(str(p) for p in [*chain[chain.index(path):], path])
            raise ConfigError(f"{chain[0]}: {EXTENDS_KEY}: cycle {cycle}; a file cannot extend itself, directly or "
                              "through others")
        if not path.is_file():
            referrer = chain[-1]
            bases = ", ".join(sorted(p.stem for p in config_dir.glob(f"{BASE_PREFIX}*.yaml"))) or "none"
            via = f" (chain: {' -> '.join(str(p) for p in [*chain, path])})" if len(chain) > 1 else ""
            raise ConfigError(f"{referrer}: {EXTENDS_KEY}: no such file {path}{via}; bases here: {bases}, "
                              f"environments: {', '.join(available_environments(config_dir)) or 'none'}")
        chain.append(path)
        layer, current = _read_layer(path, name)
        layers.append((path, layer))
    return list(reversed(layers))


def available_environments(config_dir: Path | None = None) -> list[str]:
    """Deployable environments: `config/*.yaml` except bases (names starting with `_`)."""
    config_dir = config_dir or project.config_dir()
    return sorted(p.stem for p in config_dir.glob("*.yaml") if not p.stem.startswith(BASE_PREFIX))


def load_environment(name: str, config_dir: Path | None = None) -> EnvironmentConfig:
    """Read and validate `config/<name>.yaml`, merged over the files it `extends`."""
    config_dir = config_dir or project.config_dir()
    real = config_dir / f"{name}.yaml"
    path = project.shown(real)  # as messages name it
    known = ", ".join(available_environments(config_dir)) or "none"
    if name.startswith(BASE_PREFIX):
        raise ConfigError(f"{path}: '{name}' is a base for `{EXTENDS_KEY}: {name}` (files starting with "
                          f"'{BASE_PREFIX}' are never deployed), not an environment (known: {known})")
    if not real.is_file():
        environments = available_environments(config_dir)
        close = [e for e in environments if e == name.lower()] or difflib.get_close_matches(name.lower(), environments,
                                                                                           n=1)
        if close:
            raise ConfigError(f"{path}: no such environment '{name}'; did you mean '{close[0]}'? (known: {known})")
        suggested = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "my-env"
        if not suggested[0].isalpha():
            suggested = f"env-{suggested}"
        raise ConfigError(f"{path}: no such environment '{name}' (known: {known}); to add one, copy config/demo.yaml "
                          f"to config/{suggested[:31]}.yaml (environment names are lower-case letters, digits and "
                          "hyphens, starting with a letter)")
    layers = read_environment_layers(name, config_dir)
    merged: dict[str, Any] = {}
    origins: Origins = {}
    for source, layer in layers:
        merge_layer(merged, layer, source, origins)
    return parse_environment(merged, name=name, source=path, origins=origins, bases=[p for p, _ in layers[:-1]])

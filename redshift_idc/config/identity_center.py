"""The `identity_center` and `redshift_idc_application` sections: the IAM Identity Center instance, and how
its users and groups (and tokens of trusted external IdPs) appear inside the database."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from redshift_idc.config.base import (
    MAX_IDENTIFIER_BYTES,
    RESERVED_ROLE_PREFIXES,
    Audiences,
    HttpsIssuerUrl,
    StrictModel,
)

_PARTITION = r"aws(-cn|-us-gov|-iso|-iso-b)?"
IDC_INSTANCE_ARN = re.compile(rf"^arn:{_PARTITION}:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{{16}}$")
IDENTITY_STORE_ID = re.compile(r"^d-[0-9a-f]{10}$|^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
IDENTITY_STORE_ID_FORM = "d- followed by ten characters, e.g. d-1234567890"
IDC_GROUP_ID = re.compile(r"^([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-([A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}$")
# CreateRedshiftIdcApplication: RedshiftIdcApplicationName, IdcDisplayName, IdentityNamespace.
IdcApplicationName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=63)]
IdcDisplayName = Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]+$", min_length=1, max_length=127)]
IdentityNamespace = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_+.#@$-]+$", min_length=1, max_length=127)]
# Trusted token issuer claim paths (sso-admin model; \p{L} written as [^\W\d_], as the handler checks them).
_CLAIM_PATH = re.compile(r"[^\W\d_]+(?:[._][^\W\d_]+){0,2}")
_STORE_ATTRIBUTE_PATH = re.compile(r"[^\W\d_]+(?:\.[^\W\d_]+){0,2}")


class IdentityCenterConfig(StrictModel):
    """The IAM Identity Center instance the warehouse trusts."""

    instance_arn: str = Field(description="arn:aws:sso:::instance/ssoins-<16 characters>")
    identity_store_id: str = Field(description=f"{IDENTITY_STORE_ID_FORM}, from IAM Identity Center > Settings")

    @field_validator("instance_arn")
    @classmethod
    def _instance_arn(cls, value: str) -> str:
        if not IDC_INSTANCE_ARN.match(value):
            raise ValueError("expected an IAM Identity Center instance ARN like "
                             "'arn:aws:sso:::instance/ssoins-1234567890abcdef'")
        return value

    @field_validator("identity_store_id", mode="before")
    @classmethod
    def _identity_store_id_is_text(cls, value: Any) -> Any:
        """`identity_store_id: 0000000000` (the `d-` left out) is the number 0 to YAML: quoting would not help."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"YAML read this value as the number {value}, but an identity store id is "
                             f"{IDENTITY_STORE_ID_FORM}: copy it from IAM Identity Center > Settings, with its d-")
        return value

    @field_validator("identity_store_id")
    @classmethod
    def _identity_store_id(cls, value: str) -> str:
        if not IDENTITY_STORE_ID.match(value):
            raise ValueError(f"expected an identity store id: {IDENTITY_STORE_ID_FORM} "
                             "(IAM Identity Center > Settings)")
        return value

    @property
    def partition(self) -> str:
        return self.instance_arn.split(":")[1]

    @property
    def instance_id(self) -> str:
        """`ssoins-...`: IdC application ARNs are scoped under it."""
        return self.instance_arn.rsplit("/", 1)[1]


class IdcGroup(StrictModel):
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


class IdcUser(StrictModel):
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


class TrustedTokenIssuerConfig(StrictModel):
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


class ServiceIntegrationsConfig(StrictModel):
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


class RedshiftIdcApplicationConfig(StrictModel):
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

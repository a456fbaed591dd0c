"""How people and tools reach the warehouse besides IdC sign-in: identity propagation for Data API clients
(`identity_propagation`), Query Editor v2 (`query_editor_v2`) and IAM federation (`iam_federation`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from redshift_idc import project
from redshift_idc.config.base import (
    MAX_IDENTIFIER_BYTES,
    Audience,
    Audiences,
    HttpsIssuerUrl,
    StrictModel,
    WholeNumber,
)
from redshift_idc.config.identity_center import IdcApplicationName, IdcDisplayName, IdcGroup


class IdentityPropagationConfig(StrictModel):
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
    session_seconds: WholeNumber = Field(default=3600, ge=900, le=3600)

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


class QueryEditorV2ApplicationConfig(StrictModel):
    """The account's Query Editor v2 IdC application (`AWS::Redshift::QEV2IdcApplication`)."""

    name: IdcApplicationName
    display_name: IdcDisplayName


class QueryEditorV2Config(StrictModel):
    """Query Editor v2 with single sign-on (seed 001): an IdC permission set for the environment's account,
    assigned to IdC groups that the Redshift IdC application also assigns."""

    permission_set_name: Annotated[str, StringConstraints(pattern=r"^[\w+=,.@-]{1,32}$")]
    session_duration_hours: WholeNumber = 1
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


class FederationProviderConfig(StrictModel):
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
            raise ValueError(f"metadata_document_file: no such file {project.shown(path)}: save the IdP's SAML "
                             "metadata XML there, or fix the path (relative to config/)")
        text = path.read_text(encoding="utf-8")
        low, high = SAML_METADATA_CHARS
        if not low <= len(text) <= high or "EntityDescriptor" not in text:
            raise ValueError(f"metadata_document_file: {project.shown(path)} is not SAML metadata as IAM takes it (an "
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


class IamFederationConfig(StrictModel):
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

"""The access model file (`access/<model>.yaml`) as pydantic validates it: roles, grants, RLS, masking,
identity providers and the preview's personas, each field with the shape Redshift accepts.

The file is what reviewers read. This module checks each entry on its own (names Redshift accepts, tables
written schema-qualified, one target per grant); the compiler (`access/compiler/`) then cross-checks the
references between entries, and `access/model.py` loads and compiles a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from redshift_idc.config.identity_center import IdentityNamespace
from redshift_idc.runtime.access_state import DEFAULT_PRIVILEGES, TablePrivilegeName
from redshift_idc.runtime.planning.scope import like_pattern_problem
from redshift_idc.runtime.sql_text import validate_column_name, validate_identifier

Name = Annotated[str, StringConstraints(min_length=1, max_length=127)]
QualifiedTable = Annotated[str, StringConstraints(min_length=3, max_length=255)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def split_table(qualified: str) -> tuple[str, str]:
    """`schema.table` (no quotes; the first dot separates). Unqualified names are refused: they would
    resolve through search_path."""
    schema, dot, table = qualified.partition(".")
    if not dot or not schema or not table:
        raise ValueError(f"'{qualified}' is not schema-qualified; write it as schema.table (e.g. public.{qualified})")
    if any(len(part) > 1 and part.startswith('"') and part.endswith('"') for part in (schema, table)):
        plain = ".".join(part[1:-1].replace('""', '"') if part.startswith('"') and part.endswith('"') else part
                         for part in (schema, table))
        raise ValueError(f"'{qualified}' is written with SQL quotes, which would become part of the name; write "
                         f"'{plain}' (names are quoted for you)")
    validate_identifier(schema, "schema name")
    validate_identifier(table, "table name")
    return schema, table


class Roles(_Model):
    idc_groups: tuple[Name, ...] = Field(default=(), description="IdC groups; each becomes role '<namespace>:<group>'")
    plain: tuple[Name, ...] = Field(default=(), description="roles not tied to an IdC group (e.g. for role grants)")


class RoleGrantSpec(_Model):
    grant: Name
    to: tuple[Name, ...] = Field(min_length=1)


class SchemaGrantSpec(_Model):
    schema_: Name = Field(alias="schema")
    privileges: tuple[Literal["USAGE", "CREATE", "ALTER", "DROP"], ...] = Field(min_length=1)
    to: tuple[Name, ...] = Field(min_length=1)


class TableGrantSpec(_Model):
    """Named tables, or `all_tables_in` a schema: a scoped grant (current and future tables)."""

    tables: tuple[QualifiedTable, ...] = ()
    all_tables_in: Name | None = None
    privileges: tuple[TablePrivilegeName, ...] = Field(min_length=1)
    to: tuple[Name, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_target(self) -> TableGrantSpec:
        if bool(self.tables) == (self.all_tables_in is not None):
            raise ValueError("give either `tables` (a list of schema.table) or `all_tables_in` (a schema), not both")
        return self


class ColumnGrantSpec(_Model):
    table: QualifiedTable
    columns: tuple[Name, ...] = Field(min_length=1)
    privileges: tuple[Literal["SELECT", "UPDATE"], ...] = Field(min_length=1)
    to: tuple[Name, ...] = Field(min_length=1)


DefaultPrivilegeName = Literal["SELECT", "INSERT", "UPDATE", "DELETE", "DROP", "REFERENCES", "TRUNCATE", "EXECUTE",
                               "ALL"]


class DefaultPrivilegeSpec(_Model):
    """`ALTER DEFAULT PRIVILEGES FOR USER creator [IN SCHEMA schema] GRANT ... ON TABLES|FUNCTIONS|PROCEDURES TO ...`
    (r_ALTER_DEFAULT_PRIVILEGES): what the objects `creator` (a loader, dbt) creates later get. Objects that exist
    keep their grants; for every creator's current and future tables, a scoped grant (`all_tables_in`) is the tool."""

    creator: Name = Field(description="the database user whose later objects get the privileges (a user, not a role)")
    schema_: Name | None = Field(default=None, alias="schema",
                                 description="only objects created in this schema; absent: anywhere in the database")
    on: Literal["tables", "functions", "procedures"]
    privileges: tuple[DefaultPrivilegeName, ...] = Field(min_length=1)
    to: tuple[Name, ...] = Field(min_length=1, description="roles of the model, or PUBLIC")

    @model_validator(mode="before")
    @classmethod
    def _on_key(cls, data: Any) -> Any:
        """YAML 1.1 reads an unquoted `on` key as the boolean true (PyYAML does): take it as `on`."""
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data

    @field_validator("on", mode="before")
    @classmethod
    def _on_any_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _privileges_of_objects(self) -> DefaultPrivilegeSpec:
        allowed = DEFAULT_PRIVILEGES[self.on.upper()]
        for index, privilege in enumerate(self.privileges):
            if privilege != "ALL" and privilege not in allowed:
                raise ValueError(f"privileges[{index}]: '{privilege}' is not a privilege on {self.on}: write "
                                 f"{', '.join(allowed)} or ALL (r_ALTER_DEFAULT_PRIVILEGES)")
        return self

    def expanded(self) -> tuple[str, ...]:
        """The privileges as the catalog lists them, one row each: ALL written out (each one then compares with
        SVV_DEFAULT_PRIVILEGES' rows, which never say ALL), in the grammar's order."""
        allowed = DEFAULT_PRIVILEGES[self.on.upper()]
        wanted = set(allowed) if "ALL" in self.privileges else set(self.privileges)
        return tuple(p for p in allowed if p in wanted)


class RlsAttach(_Model):
    table: QualifiedTable
    to: tuple[Name, ...] = Field(min_length=1)


class RlsPolicySpec(_Model):
    name: Name
    with_: dict[Name, str] = Field(alias="with", default_factory=dict)
    using: Annotated[str, StringConstraints(min_length=1, max_length=20000)]
    attach: tuple[RlsAttach, ...] = ()


class RlsTableSpec(_Model):
    table: QualifiedTable
    conjunction: Literal["AND", "OR"] = "AND"


class Rls(_Model):
    policies: tuple[RlsPolicySpec, ...] = ()
    tables: tuple[RlsTableSpec, ...] = ()
    ignore_rls: tuple[Name, ...] = Field(default=(), description="roles that bypass RLS (GRANT IGNORE RLS)")


class MaskingAttach(_Model):
    table: QualifiedTable
    columns: tuple[Name, ...] = Field(min_length=1, description="output columns the policy masks")
    input_columns: tuple[Name, ...] = ()
    to: Name
    priority: int = Field(default=0, ge=0, le=10000)


class MaskingPolicySpec(_Model):
    name: Name
    with_: dict[Name, str] = Field(alias="with", min_length=1)
    using: Annotated[str, StringConstraints(min_length=1, max_length=20000)]
    attach: tuple[MaskingAttach, ...] = ()


class Masking(_Model):
    policies: tuple[MaskingPolicySpec, ...] = ()


AUTO_CREATE_PATTERN = re.compile(r"^[A-Za-z0-9_%^*+?{},$]{1,256}$")


class AutoCreateRolesSpec(_Model):
    """AUTO_CREATE_ROLES TRUE for some IdC groups only: `INCLUDE` or `EXCLUDE GROUPS LIKE 'pattern'`
    (r_CREATE_IDENTITY_PROVIDER; redshift-iam-access-control-sso-autocreate). One of the two: the grammar shows one."""

    include: str | None = Field(default=None, description="a role for the groups whose name matches (LIKE)")
    exclude: str | None = Field(default=None, description="a role for every group but those whose name matches")

    @model_validator(mode="after")
    def _one_pattern(self) -> AutoCreateRolesSpec:
        given = [(f, p) for f, p in (("include", self.include), ("exclude", self.exclude)) if p is not None]
        if len(given) != 1:
            raise ValueError("set exactly one of include or exclude (a LIKE pattern of IdC group names); for every "
                             "group write auto_create_roles: true")
        field, pattern = given[0]
        if not AUTO_CREATE_PATTERN.match(pattern):
            raise ValueError(f"{field}: '{pattern}' is not a group pattern Redshift takes: letters, digits and "
                             "_ % ^ * + ? { } , $ only, at most 256 (a case-sensitive LIKE: % any run, _ one "
                             "character)")
        return self

    @property
    def groups(self) -> tuple[str, str]:
        """("INCLUDE" or "EXCLUDE", the pattern), as the SQL and the access state take it."""
        return ("INCLUDE", self.include) if self.include is not None else ("EXCLUDE", self.exclude or "")


class IdentityProviderSpec(_Model):
    """A native identity provider (`CREATE IDENTITY PROVIDER`), created, altered and dropped by the reconciler."""

    name: Name
    type: Literal["awsidc", "azure"]
    namespace: IdentityNamespace
    parameters: dict[str, Any] | None = Field(default=None, description="PARAMETERS, a JSON object (Azure)")
    client_secret_from: str | None = Field(default=None, description="secretsmanager:<secret ARN>[:<JSON key>]")
    application_arn: str | None = Field(default=None, description="IdC managed application ARN (AWSIDC)")
    iam_role: str | None = Field(default=None, description="role Redshift uses to reach IdC (AWSIDC)")
    auto_create_roles: bool | AutoCreateRolesSpec | None = Field(
        default=None, description="unset: Redshift's default for the type; {include: pattern} or {exclude: pattern}: "
                                  "TRUE for the IdC groups a LIKE pattern selects (prune leaves the roles it creates)")
    enabled: bool = True

    @field_validator("auto_create_roles", mode="before")
    @classmethod
    def _auto_create_shape(cls, value: Any) -> Any:
        """One message for a wrong value, instead of one per member of the union."""
        if value is None or isinstance(value, bool | AutoCreateRolesSpec):
            return value
        if not isinstance(value, dict):
            raise ValueError("true, false, {include: <pattern>} or {exclude: <pattern>} (a LIKE pattern of IdC "
                             "group names)")
        unknown = [str(k) for k in value if k not in ("include", "exclude")]
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown field; known: include, exclude")
        try:
            return AutoCreateRolesSpec.model_validate(value)
        except ValidationError as error:
            raise ValueError(error.errors()[0]["msg"].removeprefix("Value error, ")) from None

    def auto_create(self) -> tuple[bool | None, tuple[str, ...]]:
        """AUTO_CREATE_ROLES as the access state takes it: the value (None: the type's default) and the groups."""
        auto = self.auto_create_roles
        return (True, auto.groups) if isinstance(auto, AutoCreateRolesSpec) else (auto, ())

    @field_validator("type", mode="before")
    @classmethod
    def _type_any_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class PersonaSpec(_Model):
    """An example person for the access preview: who would see what, with these IdC groups."""

    name: Name
    groups: tuple[Name, ...] = Field(default=(), description="IdC groups of the model's roles.idc_groups")


class ExpectSpec(_Model):
    """What a persona must see of a table, checked by `plan`, `validate` and synth on the sample rows."""

    persona: Name
    table: QualifiedTable
    access: Literal["ok", "denied"] | None = None
    rows: int | None = Field(default=None, ge=0, description="exactly this many visible rows")
    rows_where: str | None = Field(default=None, description="exactly the sample rows this predicate selects")
    masked: tuple[Name, ...] | None = Field(default=None, description="exactly these visible columns masked")


class AllowWarningSpec(_Model):
    """A warning accepted on purpose, the preview's or the model's own (`model_lints.py`): `--strict` then does
    not fail on it, and validate, plan and synth do not show a model lint it accepts."""

    code: Literal["rls-no-policy", "and-narrows", "unseen-rows", "select-without-usage", "python-udf-in-policy",
                  "federated-membership-function"]
    reason: Annotated[str, StringConstraints(min_length=3)]


CATALOG_ID = re.compile(r"^\d{12}(:[A-Za-z0-9/_.-]{1,255})?$")
SHARED_DATABASE_ARN = re.compile(
    r"^arn:aws[a-z-]*:(glue:[a-z]{2}(-[a-z]+)+-\d:\d{12}:database/[^\s/]{1,255}"
    r"|redshift:[a-z]{2}(-[a-z]+)+-\d:\d{12}:datashare:[0-9a-f-]{36}/[^\s/]{1,255})$")


class ExternalSchemaSpec(_Model):
    """An external schema over a Data Catalog (Lake Formation) database, governed by IdC (seed 000)."""

    name: Name
    catalog_database: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    catalog_id: str | None = Field(default=None, description="the Data Catalog's id: its AWS account (12 digits)")

    @model_validator(mode="after")
    def _catalog(self) -> ExternalSchemaSpec:
        if self.catalog_database is None:
            raise ValueError("catalog_database: required: the Data Catalog database the schema reads "
                             "(CREATE EXTERNAL SCHEMA ... FROM DATA CATALOG DATABASE '<name>')")
        if self.catalog_id is not None and not CATALOG_ID.match(self.catalog_id):
            raise ValueError(f"catalog_id: '{self.catalog_id}' is not a Data Catalog id: the 12-digit account id, "
                             "optionally with ':<catalog>' (quote it in YAML: \"123456789012\")")
        return self


class DatabaseSpec(_Model):
    """A database made from a datashare or a Glue database ARN, governed by IdC (seed 000)."""

    name: Name
    from_arn: str

    @field_validator("from_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not SHARED_DATABASE_ARN.match(value):
            raise ValueError(f"'{value}' is not a datashare or Glue database ARN: arn:aws:redshift:<region>:<account>:"
                             "datashare:<producer namespace id>/<share> or arn:aws:glue:<region>:<account>:database/"
                             "<name>")
        return value


class DatabaseGrantSpec(_Model):
    database: Name
    privileges: tuple[Literal["USAGE", "CREATE", "TEMP"], ...] = Field(min_length=1)
    to: tuple[Name, ...] = Field(min_length=1)


class AccessModel(_Model):
    """One access model; `name` is the file stem and keys the reconciler's ledger rows."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
    prune: bool = Field(default=False, description="also remove objects the model never created")
    lift_undeclared_restrictions: tuple[QualifiedTable, ...] = Field(
        default=(), description="tables of `tables` on which prune may also lift RLS and masking the model does not "
                                "declare (without it, prune never lifts a restriction it did not make)")
    prune_ignore_roles: tuple[Annotated[str, StringConstraints(min_length=1, max_length=256)], ...] = Field(
        default=(), description="LIKE patterns (%, _, \\ escapes; case-sensitive) of roles prune never drops nor "
                                "revokes from: those Redshift creates at IdC sign-in (AUTO_CREATE_ROLES) for a "
                                "provider the model does not manage, e.g. 'AWSIDC:%'")
    case_sensitive_identifiers: bool = False
    removal_policy: Literal["destroy", "retain"] = "destroy"
    ledger_schema: Name = Field(default="redshift_idc", description="schema of the reconciler's ledger tables")
    schemas: tuple[Name, ...] = Field(
        default=(), description="schemas grants may name besides the tables' schemas (created by scripts or the data "
                                "lake)")
    scripts: tuple[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_./-]+\.sql$")], ...] = Field(
        default=(), description="files under sql/, applied once each, in this order, before the access model")
    tables: dict[QualifiedTable, tuple[Name, ...]] = Field(default_factory=dict)
    roles: Roles = Roles()
    role_grants: tuple[RoleGrantSpec, ...] = ()
    schema_grants: tuple[SchemaGrantSpec, ...] = ()
    table_grants: tuple[TableGrantSpec, ...] = ()
    external_schemas: tuple[ExternalSchemaSpec, ...] = Field(
        default=(), description="external schemas over Data Catalog databases (the data lake through IdC)")
    databases: tuple[DatabaseSpec, ...] = Field(
        default=(), description="databases from a datashare or Glue database ARN (through IdC)")
    database_grants: tuple[DatabaseGrantSpec, ...] = ()
    column_grants: tuple[ColumnGrantSpec, ...] = ()
    default_privileges: tuple[DefaultPrivilegeSpec, ...] = Field(
        default=(), description="what objects a user creates later get (ALTER DEFAULT PRIVILEGES FOR USER ...)")
    rls: Rls = Rls()
    masking: Masking = Masking()
    identity_providers: tuple[IdentityProviderSpec, ...] = ()
    identity_provider_drop_cascade: bool = Field(
        default=False, description="DROP IDENTITY PROVIDER ... CASCADE (also deletes the provider's users and roles)")
    coalesce_statements: bool = Field(
        default=True, description="one statement for many objects where Redshift's grammar takes lists (GRANT "
                                  "SELECT ON TABLE a, b TO ROLE \"x\", ROLE \"y\"); false: one statement per "
                                  "object, for debugging a failed deploy")
    deprovision_users: bool = Field(
        default=False, description="drop the IdC users ('<namespace>:<user>') no longer in the identity store or "
                                   "in no group the environment assigns (checked at deploy time)")
    transfer_ownership_to: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="who takes over what a departing user owns: a database user, as "
                                  "user:<name> (Redshift objects are owned by users, never roles)")
    personas: tuple[PersonaSpec, ...] = Field(
        default=(), description="example people for `preview`; without any, one per IdC group")
    expect: tuple[ExpectSpec, ...] = Field(default=(), description="who must see what (see `preview`)")
    allow_warnings: tuple[AllowWarningSpec, ...] = Field(
        default=(), description="warnings (the preview's and the model's lints) accepted on purpose, each with "
                                "its reason")
    sample_data: dict[QualifiedTable, Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_./-]+\.csv$")]] = Field(
        default_factory=dict, description="table -> CSV file beside the model (header row: column names)")

    @field_validator("prune_ignore_roles")
    @classmethod
    def _like_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, pattern in enumerate(value):
            problem = like_pattern_problem(pattern)
            if problem is not None:
                raise ValueError(f"[{index}] '{pattern}' {problem}")
        return value

    @field_validator("ledger_schema")
    @classmethod
    def _ledger_schema_plain(cls, value: str) -> str:
        validate_identifier(value, "schema name")
        return value

    @field_validator("schemas")
    @classmethod
    def _schema_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            validate_identifier(name, "schema name")
        return value

    @field_validator("tables")
    @classmethod
    def _tables_qualified(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for table, columns in value.items():
            split_table(table)
            for column in columns:
                validate_column_name(column)
        return value

    def policies(self) -> Iterator[tuple[str, str, int, RlsPolicySpec | MaskingPolicySpec]]:
        """(kind as a message says it, the field, the index, the policy) of every RLS, then masking, policy: what
        each lint names its findings by (`access/model_lints.py`, `federated_lints.py`)."""
        for index, rls in enumerate(self.rls.policies):
            yield "RLS", "rls", index, rls
        for index, masking in enumerate(self.masking.policies):
            yield "masking", "masking", index, masking


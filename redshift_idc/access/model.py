"""The access model (`access/<model>.yaml`): roles, grants, RLS and masking, validated and cross-checked.

The file is what reviewers read; `compile_model` turns it into the desired `AccessState` the planner
diffs against the warehouse. Every reference is checked offline, before anything deploys: roles must be
declared (IdC roles must be groups the environment assigns to the Redshift IdC application), tables
must be declared with their columns, policy expressions may only name their WITH columns, and names
must be ones Redshift accepts.

Identity providers (`identity_providers`) never hold a secret: a `client_secret` written in `parameters`
is refused, `client_secret_from: secretsmanager:<secret ARN>[:<JSON key>]` names where the reconciler
reads it at apply time (the compiled model, an S3 asset, carries only the reference).

`deprovision_users: true` has the reconciler drop the IdC users who left (runtime/users.py);
`transfer_ownership_to` names who takes over what they own: a role of the model, or `user:<name>` for a
database user. Both are checked here (`deprovision_settings`), before anything deploys.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from redshift_idc import project
from redshift_idc.access.estimate import check_apply_budget
from redshift_idc.access.expressions import ExpressionError, check_expression, policy_lookups
from redshift_idc.access.masking_output import Attachment, check_masking_output
from redshift_idc.config.base import RESERVED_ROLE_PREFIXES
from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.config.errors import ConfigError, format_validation_error, not_a_mapping
from redshift_idc.config.identity_center import IdentityNamespace
from redshift_idc.config.yaml_files import read_yaml
from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessObject,
    AccessState,
    ColumnPrivilege,
    DatabasePrivilege,
    ExternalDatabase,
    ExternalSchema,
    IdentityProvider,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsLookupGrant,
    RlsPolicy,
    RlsTable,
    Role,
    RoleGrant,
    SchemaPrivilege,
    ScopedTablePrivilege,
    SystemPrivilege,
    TablePrivilege,
    TablePrivilegeName,
)
from redshift_idc.runtime.planner import Scope
from redshift_idc.runtime.reconciler import ScriptEntry
from redshift_idc.runtime.sql_text import (
    SqlTextError,
    collapse_whitespace,
    fold,
    validate_column_name,
    validate_data_type,
    validate_identifier,
    validate_role_name,
)
from redshift_idc.runtime.users import DeprovisionSettings

ACCESS_DIR = project.access_dir()  # the project's own; readers ask `project` at call time
SQL_DIR = project.sql_dir()

Name = Annotated[str, StringConstraints(min_length=1, max_length=127)]
PUBLIC_SCHEMA = "public"
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


SECRET_PARAMETERS = frozenset({"client_secret"})  # PARAMETERS keys whose values are secrets
MAX_PARAMETERS_BYTES = 16_000
SECRET_REFERENCE = re.compile(
    r"^secretsmanager:(?P<arn>arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@!-]+)"
    r"(?::(?P<key>[^:\s]{1,256}))?$")
APPLICATION_ARN = re.compile(r"^arn:aws[a-z-]*:sso::\d{12}:application/ssoins-[A-Za-z0-9]+/apl-[A-Za-z0-9]+$")
IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


class IdentityProviderSpec(_Model):
    """A native identity provider (`CREATE IDENTITY PROVIDER`), created, altered and dropped by the reconciler."""

    name: Name
    type: Literal["awsidc", "azure"]
    namespace: IdentityNamespace
    parameters: dict[str, Any] | None = Field(default=None, description="PARAMETERS, a JSON object (Azure)")
    client_secret_from: str | None = Field(default=None, description="secretsmanager:<secret ARN>[:<JSON key>]")
    application_arn: str | None = Field(default=None, description="IdC managed application ARN (AWSIDC)")
    iam_role: str | None = Field(default=None, description="role Redshift uses to reach IdC (AWSIDC)")
    auto_create_roles: bool | None = Field(default=None, description="unset: Redshift's default for the type")
    enabled: bool = True

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
    """A preview warning accepted on purpose: `--strict` then does not fail on it."""

    code: Literal["rls-no-policy", "and-narrows", "unseen-rows", "select-without-usage"]
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
    rls: Rls = Rls()
    masking: Masking = Masking()
    identity_providers: tuple[IdentityProviderSpec, ...] = ()
    identity_provider_drop_cascade: bool = Field(
        default=False, description="DROP IDENTITY PROVIDER ... CASCADE (also deletes the provider's users and roles)")
    deprovision_users: bool = Field(
        default=False, description="drop the IdC users ('<namespace>:<user>') no longer in the identity store or "
                                   "in no group the environment assigns (checked at deploy time)")
    transfer_ownership_to: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="who takes over what a departing user owns: a role of the model, or "
                                  "user:<database user>")
    personas: tuple[PersonaSpec, ...] = Field(
        default=(), description="example people for `preview`; without any, one per IdC group")
    expect: tuple[ExpectSpec, ...] = Field(default=(), description="who must see what (see `preview`)")
    allow_warnings: tuple[AllowWarningSpec, ...] = Field(
        default=(), description="preview warnings accepted on purpose, each with its reason")
    sample_data: dict[QualifiedTable, Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_./-]+\.csv$")]] = Field(
        default_factory=dict, description="table -> CSV file beside the model (header row: column names)")

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


def _fail(where: str, message: str) -> None:
    raise ValueError(f"{where}: {message}")


class _Compiler:
    """Resolves references and builds the desired state, failing on the first bad reference with
    the field path it came from."""

    def __init__(self, model: AccessModel, identity_namespace: str, assigned_groups: tuple[str, ...] | None,
                 assigned_users: tuple[str, ...] = ()) -> None:
        self.model = model
        self.assigned_groups = assigned_groups
        self.assigned_users = assigned_users
        self.cs = model.case_sensitive_identifiers
        self.namespace = identity_namespace
        self.objects: list[AccessObject] = []
        self.roles: dict[str, str] = {}  # reference as written (folded) -> rendered role name
        for index, group in enumerate(model.roles.idc_groups):
            if assigned_groups is not None and fold(group) not in {fold(g) for g in assigned_groups}:
                _fail(f"roles.idc_groups[{index}]", f"'{group}' is not among the groups the environment assigns to "
                      "the Redshift IdC application (redshift_idc_application.groups); add it there or fix the name")
            self._declare(f"roles.idc_groups[{index}]", group, f"{identity_namespace}:{group}")
        for index, role in enumerate(model.roles.plain):
            if ":" in role:
                _fail(f"roles.plain[{index}]", f"'{role}' contains ':'; IdC roles are declared under roles.idc_groups")
            self._declare(f"roles.plain[{index}]", role, role)
        self.tables: dict[tuple[str, str], tuple[str, str, set[str]]] = {}
        self.declared_columns: dict[tuple[str, str], list[str]] = {}
        for table, columns in model.tables.items():
            schema, name = split_table(table)
            columns_folded = {fold(c, self.cs) for c in columns}
            self.tables[(fold(schema, self.cs), fold(name, self.cs))] = (schema, name, columns_folded)
            self.declared_columns[(fold(schema, self.cs), fold(name, self.cs))] = list(columns)

    def _declare(self, where: str, reference: str, rendered: str) -> None:
        if fold(reference) == fold(PUBLIC_GRANTEE):
            _fail(where, "PUBLIC is Redshift's name for every user, not a role to declare; write PUBLIC as a "
                  "grantee (`to: [PUBLIC]`) where you mean everyone")
        try:
            validate_role_name(rendered)
        except SqlTextError as error:
            _fail(where, str(error))
        key = fold(reference, self.cs)
        if key in self.roles:
            _fail(where, f"role '{reference}' is declared twice (role names are case-insensitive)")
        self.roles[key] = rendered
        self.objects.append(Role(rendered))

    def role(self, where: str, reference: str, public: bool = False) -> str:
        """A declared role, or PUBLIC (every user) where Redshift takes it (`public`: object grants and policy
        attachments); elsewhere PUBLIC is refused, saying why."""
        if fold(reference) == fold(PUBLIC_GRANTEE):
            if not public:
                _fail(where, "PUBLIC cannot receive this: Redshift grants it only to roles (PUBLIC takes object "
                      "grants and RLS and masking attachments); name a role")
            return PUBLIC_GRANTEE
        rendered = self.roles.get(fold(reference, self.cs))
        if rendered is None:
            known = ", ".join(sorted(self.roles)) or "none"
            _fail(where, f"unknown role '{reference}'; declare it under roles.idc_groups or roles.plain "
                  f"(known: {known})")
        return rendered  # type: ignore[return-value]

    def schema(self, where: str, name: str) -> str:
        """A schema the model knows: one of its tables' schemas, a `schemas:` entry, or `public`. A typo
        would otherwise plan a grant on a schema nobody created."""
        try:
            validate_identifier(name, "schema name")
        except SqlTextError as error:
            _fail(where, str(error))
        known = {fold(PUBLIC_SCHEMA, self.cs): PUBLIC_SCHEMA}
        for declared in (*(split_table(t)[0] for t in self.model.tables), *self.model.schemas,
                         *(e.name for e in self.model.external_schemas)):
            known.setdefault(fold(declared, self.cs), declared)
        if fold(name, self.cs) not in known:
            close = difflib.get_close_matches(name, sorted(known.values()), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            _fail(where, f"unknown schema '{name}'; {hint}a schema must be one of the model's tables' schemas or "
                  "listed under `schemas:` (for a schema a script or the data lake creates)")
        return name

    def table(self, where: str, qualified: str, columns: tuple[str, ...] = ()) -> tuple[str, str]:
        try:
            schema, name = split_table(qualified)
        except (ValueError, SqlTextError) as error:
            _fail(where, str(error))
        known = self.tables.get((fold(schema, self.cs), fold(name, self.cs)))
        if known is None:
            _fail(where, f"unknown table '{qualified}'; declare it with its columns under `tables`")
        assert known is not None
        missing = [c for c in columns if fold(c, self.cs) not in known[2]]
        if missing:
            _fail(where, f"table '{qualified}' has no column(s) {', '.join(missing)} (as declared under `tables`)")
        return known[0], known[1]

    def _check_preview_inputs(self) -> None:
        """Personas name groups the model declares; sample data goes to declared tables."""
        groups = {fold(g, self.cs) for g in self.model.roles.idc_groups}
        seen: set[str] = set()
        for i, persona in enumerate(self.model.personas):
            if fold(persona.name, self.cs) in seen:
                _fail(f"personas[{i}].name", f"persona '{persona.name}' is named twice")
            seen.add(fold(persona.name, self.cs))
            for j, group in enumerate(persona.groups):
                if fold(group, self.cs) not in groups:
                    _fail(f"personas[{i}].groups[{j}]", f"'{group}' is not one of the model's roles.idc_groups "
                          f"(known: {', '.join(self.model.roles.idc_groups) or 'none'})")
        for table in self.model.sample_data:
            self.table(f"sample_data.{table}", table)
        personas = {fold(p.name, self.cs) for p in self.model.personas} or groups
        for i, expectation in enumerate(self.model.expect):
            if fold(expectation.persona, self.cs) not in personas:
                _fail(f"expect[{i}].persona", f"no persona '{expectation.persona}' (personas: "
                      f"{', '.join(p.name for p in self.model.personas) or 'one per IdC group'})")
            schema, name = self.table(f"expect[{i}].table", expectation.table, expectation.masked or ())
            if expectation.rows_where is not None:
                columns = self.tables[(fold(schema, self.cs), fold(name, self.cs))][2]
                declared = self.model.tables.get(expectation.table, ())
                try:
                    check_expression(expectation.rows_where, sorted(columns), self.cs,
                                     f"columns of {expectation.table} ({', '.join(declared)})")
                except ExpressionError as error:
                    _fail(f"expect[{i}].rows_where", str(error))
            if {expectation.access, expectation.rows, expectation.rows_where, expectation.masked} == {None}:
                _fail(f"expect[{i}]", "says nothing to check; give access, rows, rows_where or masked")

    def compile(self) -> AccessState:
        m = self.model
        self._check_preview_inputs()
        for i, spec in enumerate(m.role_grants):
            granted = self.role(f"role_grants[{i}].grant", spec.grant)
            for j, grantee in enumerate(spec.to):
                self.objects.append(RoleGrant(granted, self.role(f"role_grants[{i}].to[{j}]", grantee)))
        self._check_role_cycles()
        for i, schema_spec in enumerate(m.schema_grants):
            self.schema(f"schema_grants[{i}].schema", schema_spec.schema_)
            for j, grantee in enumerate(schema_spec.to):
                role = self.role(f"schema_grants[{i}].to[{j}]", grantee, public=True)
                self.objects += [SchemaPrivilege(schema_spec.schema_, p, role) for p in schema_spec.privileges]
        for i, table_spec in enumerate(m.table_grants):
            scoped = table_spec.all_tables_in is not None  # scoped grants go to roles and users only [D24]
            roles = [self.role(f"table_grants[{i}].to[{j}]", g, public=not scoped)
                     for j, g in enumerate(table_spec.to)]
            if table_spec.all_tables_in is not None:
                self.schema(f"table_grants[{i}].all_tables_in", table_spec.all_tables_in)
                self.objects += [ScopedTablePrivilege(table_spec.all_tables_in, p, r)
                                 for p in table_spec.privileges for r in roles]
            for k, qualified in enumerate(table_spec.tables):
                schema, name = self.table(f"table_grants[{i}].tables[{k}]", qualified)
                self.objects += [TablePrivilege(schema, name, p, r) for p in table_spec.privileges for r in roles]
        for i, column_spec in enumerate(m.column_grants):
            schema, name = self.table(f"column_grants[{i}].table", column_spec.table, column_spec.columns)
            for j, grantee in enumerate(column_spec.to):
                role = self.role(f"column_grants[{i}].to[{j}]", grantee, public=True)
                self.objects += [ColumnPrivilege(schema, name, c, p, role)
                                 for c in column_spec.columns for p in column_spec.privileges]
        self._compile_external()
        self._compile_rls()
        self._compile_masking()
        self._compile_identity_providers()
        self.deprovision()
        return self._unique()

    def deprovision(self) -> DeprovisionSettings | None:
        """`deprovision_users` and `transfer_ownership_to`, checked: the settings the model document carries."""
        m = self.model
        if m.transfer_ownership_to is not None and not m.deprovision_users:
            _fail("transfer_ownership_to", "only with deprovision_users: true (it names who takes over what a "
                  "departing user owns)")
        if not m.deprovision_users:
            return None
        if self.assigned_groups is not None and not self.assigned_groups and not self.assigned_users:
            _fail("deprovision_users", "the environment assigns no group and no user to the Redshift IdC application "
                  "(redshift_idc_application.groups, .users), so every IdC user would count as gone; assign them "
                  "or leave deprovision_users off")
        value = m.transfer_ownership_to
        if value is None:
            return DeprovisionSettings(self.namespace)
        if value[:5].lower() == "user:":
            try:
                user = validate_identifier(value[5:], "user name")
            except SqlTextError as error:
                _fail("transfer_ownership_to", str(error))
            if user.casefold().startswith(("sys:", "ds:")):
                _fail("transfer_ownership_to", f"'{user}' uses a prefix Redshift reserves")
            return DeprovisionSettings(self.namespace, user, "user")
        if fold(value) == fold(PUBLIC_GRANTEE):
            _fail("transfer_ownership_to", "PUBLIC cannot own objects; name a role of the model, or a database user "
                  "as user:<name>")
        rendered = self.roles.get(fold(value, self.cs))
        if rendered is None:
            known = ", ".join(sorted(self.roles)) or "none"
            _fail("transfer_ownership_to", f"unknown role '{value}'; name a role declared under roles.idc_groups or "
                  f"roles.plain (known: {known}), or a database user as user:<name>")
        assert rendered is not None
        return DeprovisionSettings(self.namespace, rendered, "role")

    def _columns(self, where: str, with_: dict[str, str]) -> tuple[tuple[str, str], ...]:
        result = []
        for name, type_ in with_.items():
            try:
                validate_column_name(name)
                validate_data_type(type_)
            except SqlTextError as error:
                _fail(f"{where}.with.{name}", str(error))
            result.append((name, type_))
        return tuple(result)

    def _expression(self, where: str, expression: str, columns: tuple[tuple[str, str], ...]) -> None:
        try:
            check_expression(expression, [c for c, _ in columns], self.cs)
        except ExpressionError as error:
            _fail(f"{where}.using", str(error))

    def _table_columns(self, schema: str, name: str) -> list[str] | None:
        """A declared table's columns as written (None if undeclared): what a lookup subquery may name."""
        return self.declared_columns.get((fold(schema, self.cs), fold(name, self.cs)))

    def _compile_external(self) -> None:
        """External schemas and databases from an ARN, and database grants (to declared databases only)."""
        m = self.model
        seen: set[str] = set()
        for i, spec in enumerate(m.external_schemas):
            where = f"external_schemas[{i}]"
            self._unique_name(where, spec.name, seen, "external schema")
            assert spec.catalog_database is not None
            self.objects.append(ExternalSchema(spec.name, spec.catalog_database, spec.catalog_id or ""))
        declared: set[str] = set()
        for i, db in enumerate(m.databases):
            self._unique_name(f"databases[{i}]", db.name, declared, "database")
            self.objects.append(ExternalDatabase(db.name, db.from_arn))
        databases = {fold(db.name, self.cs): db.name for db in m.databases}
        for i, grant in enumerate(m.database_grants):
            where = f"database_grants[{i}]"
            if fold(grant.database, self.cs) not in databases:
                close = difflib.get_close_matches(grant.database, sorted(databases.values()), n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                _fail(f"{where}.database", f"unknown database '{grant.database}'; {hint}declare it under `databases`")
            for j, grantee in enumerate(grant.to):
                role = self.role(f"{where}.to[{j}]", grantee, public=True)
                self.objects += [DatabasePrivilege(grant.database, p, role) for p in grant.privileges]

    def _compile_rls(self) -> None:
        rls = self.model.rls
        seen: set[str] = set()
        lookups: dict[tuple[str, str], str] = {}  # folded lookup table -> where it is first read
        attached: dict[tuple[str, str], str] = {}  # folded table with a policy attached -> where
        for i, policy in enumerate(rls.policies):
            where = f"rls.policies[{i}]"
            self._unique_name(where, policy.name, seen, "RLS policy")
            columns = self._columns(where, policy.with_)
            try:
                found = policy_lookups(policy.using, [c for c, _ in columns], self._table_columns, self.cs)
            except ExpressionError as error:
                _fail(f"{where}.using", str(error))
            self.objects.append(RlsPolicy(policy.name, columns, collapse_whitespace(policy.using)))
            for lookup in found:
                schema, name = self.table(f"{where}.using", f"{lookup.schema}.{lookup.table}")
                lookups.setdefault((fold(schema, self.cs), fold(name, self.cs)), f"{where}.using")
                self.objects.append(RlsLookupGrant(schema, name, policy.name))
            for j, attach in enumerate(policy.attach):
                schema, name = self.table(f"{where}.attach[{j}].table", attach.table, tuple(policy.with_))
                attached.setdefault((fold(schema, self.cs), fold(name, self.cs)), f"{where}.attach[{j}].table")
                for k, grantee in enumerate(attach.to):
                    role = self.role(f"{where}.attach[{j}].to[{k}]", grantee, public=True)
                    self.objects.append(RlsAttachment(policy.name, schema, name, role))
        for table, at in sorted(attached.items()):
            if table in lookups:
                _fail(at, f"{'.'.join(table)} is the lookup table of a policy ({lookups[table]}), and Redshift "
                      "attaches no policy to a lookup table, nor reads a lookup table that has one; keep "
                      "entitlements in a table of their own")
        for i, table_spec in enumerate(rls.tables):
            schema, name = self.table(f"rls.tables[{i}].table", table_spec.table)
            self.objects.append(RlsTable(schema, name, table_spec.conjunction))
        for i, grantee in enumerate(rls.ignore_rls):
            self.objects.append(SystemPrivilege("IGNORE RLS", self.role(f"rls.ignore_rls[{i}]", grantee)))
        for i, lifted in enumerate(self.model.lift_undeclared_restrictions):
            self.table(f"lift_undeclared_restrictions[{i}]", lifted)
            if not self.model.prune:
                _fail(f"lift_undeclared_restrictions[{i}]", "only with prune: true (it lets prune lift the RLS and "
                      "masking on this table that the model does not declare); set prune: true or remove it")

    def _compile_masking(self) -> None:
        seen: set[str] = set()
        priorities: dict[tuple[str, str, str, int], str] = {}
        attached: dict[tuple[str, str, str], list[tuple[bool, int, str, str]]] = {}
        for i, policy in enumerate(self.model.masking.policies):
            where = f"masking.policies[{i}]"
            self._unique_name(where, policy.name, seen, "masking policy")
            columns = self._columns(where, policy.with_)
            self._expression(where, policy.using, columns)
            self._masking_output(where, policy, columns)
            self.objects.append(MaskingPolicy(policy.name, columns, collapse_whitespace(policy.using)))
            for j, attach in enumerate(policy.attach):
                at = f"{where}.attach[{j}]"
                inputs = attach.input_columns or attach.columns
                if len(inputs) != len(columns):
                    _fail(at, f"the policy takes {len(columns)} input column(s) ({', '.join(policy.with_)}); "
                          f"the attachment gives {len(inputs)}: set input_columns")
                schema, name = self.table(f"{at}.table", attach.table, tuple(attach.columns) + tuple(inputs))
                role = self.role(f"{at}.to", attach.to, public=True)
                for column in attach.columns:
                    attached.setdefault((fold(schema), fold(name), fold(column)), []).append(
                        (role == PUBLIC_GRANTEE, attach.priority, f"{at}.priority", f"{attach.table}.{column}"))
                    slot = (fold(schema), fold(name), fold(column), attach.priority)
                    other = priorities.get(slot)
                    if other is not None and other != fold(policy.name):
                        _fail(f"{at}.priority", f"priority {attach.priority} on {attach.table}.{column} is already "
                              f"used by masking policy '{other}'; Redshift requires distinct priorities per column")
                    priorities[slot] = fold(policy.name)
                self.objects.append(MaskingAttachment(policy.name, schema, name, tuple(attach.columns), role,
                                                      tuple(attach.input_columns), attach.priority))
        for slots in attached.values():
            lowest_role = min((priority for public, priority, _, _ in slots if not public), default=None)
            for public, priority, where, column in slots:
                if public and lowest_role is not None and priority >= lowest_role:
                    _fail(where, f"the PUBLIC attachment on {column} has priority {priority}, not below every role "
                          f"attachment's on that column (lowest: {lowest_role}); Redshift applies the highest "
                          f"priority, so a role's policy only wins over PUBLIC's with a higher one: give PUBLIC "
                          f"less than {lowest_role}")

    def _masking_output(self, where: str, policy: MaskingPolicySpec, columns: tuple[tuple[str, str], ...]) -> None:
        """The policy's output must fit the column it masks (masking_output.py): refused here, not at deploy."""
        attachments = [Attachment(f"attach[{j}]", a.table, a.columns, a.input_columns)
                       for j, a in enumerate(policy.attach)]
        try:
            check_masking_output(policy.using, columns, attachments, self.cs)
        except ExpressionError as error:
            _fail(f"{where}.using", str(error))

    def _compile_identity_providers(self) -> None:
        seen: set[str] = set()
        for i, spec in enumerate(self.model.identity_providers):
            where = f"identity_providers[{i}]"
            self._unique_name(where, spec.name, seen, "identity provider")
            if spec.namespace.lower() in RESERVED_ROLE_PREFIXES:
                _fail(f"{where}.namespace", f"'{spec.namespace}' is reserved by Redshift (roles are named "
                      "'<namespace>:<group>')")
            if spec.type == "awsidc":
                for field in ("application_arn", "iam_role"):
                    if not getattr(spec, field):
                        _fail(f"{where}.{field}", "required for type awsidc (CREATE IDENTITY PROVIDER ... TYPE "
                              "AWSIDC needs the IdC managed application ARN and the IAM role Redshift uses)")
                for field in ("parameters", "client_secret_from"):
                    if getattr(spec, field) is not None:
                        _fail(f"{where}.{field}", "type awsidc takes no PARAMETERS; use application_arn and iam_role")
                assert spec.application_arn is not None and spec.iam_role is not None
                if not APPLICATION_ARN.match(spec.application_arn):
                    _fail(f"{where}.application_arn", f"'{spec.application_arn}' is not an IdC managed application "
                          "ARN (arn:aws:sso::<account>:application/ssoins-.../apl-..., the IdcManagedApplicationArn "
                          "of the Redshift IdC application)")
                if not IAM_ROLE_ARN.match(spec.iam_role):
                    _fail(f"{where}.iam_role",
                          f"'{spec.iam_role}' is not an IAM role ARN (arn:aws:iam::<account>:role/...)")
            else:
                for field in ("application_arn", "iam_role"):
                    if getattr(spec, field) is not None:
                        _fail(f"{where}.{field}",
                              f"only for type awsidc; type {spec.type} is configured with parameters")
                if not spec.parameters:
                    _fail(f"{where}.parameters", f"required for type {spec.type}: a JSON object such as "
                          "{issuer: ..., client_id: ..., audience: [...]}")
            parameters = self._parameters(where, spec)
            secrets: tuple[tuple[str, str, str], ...] = ()
            if spec.client_secret_from is not None:
                reference = SECRET_REFERENCE.match(spec.client_secret_from)
                if reference is None:
                    _fail(f"{where}.client_secret_from", f"'{spec.client_secret_from}' is not "
                          "secretsmanager:<secret ARN>[:<JSON key>] (the full ARN, "
                          "arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>)")
                assert reference is not None
                secrets = (("client_secret", reference["arn"], reference["key"] or ""),)
            self.objects.append(IdentityProvider(
                spec.name, spec.type, spec.namespace, parameters, spec.application_arn or "", spec.iam_role or "",
                spec.auto_create_roles, spec.enabled, secrets))

    @staticmethod
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
            _fail(leaked[0], "a secret must not be written in the model (it would be in git, the compiled model "
                  "and the plan); store it in AWS Secrets Manager and set client_secret_from: "
                  "secretsmanager:<secret ARN>:<JSON key>")
        try:
            text = json.dumps(spec.parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)
        except (TypeError, ValueError):
            _fail(f"{where}.parameters", "must hold JSON values only (strings, numbers, true/false, null, lists, "
                  "mappings); quote dates and other YAML-typed values")
        if "\x00" in text or "\\u0000" in text:
            _fail(f"{where}.parameters", "must not contain NUL characters")
        if len(text.encode("utf-8")) > MAX_PARAMETERS_BYTES:
            _fail(f"{where}.parameters", f"longer than {MAX_PARAMETERS_BYTES} bytes as JSON")
        return text

    def _unique_name(self, where: str, name: str, seen: set[str], what: str) -> None:
        try:
            validate_identifier(name, f"{what} name")
        except SqlTextError as error:
            _fail(f"{where}.name", str(error))
        if fold(name, self.cs) in seen:
            _fail(f"{where}.name", f"duplicate {what} '{name}'")
        seen.add(fold(name, self.cs))

    def _check_role_cycles(self) -> None:
        edges: dict[str, set[str]] = {}
        for item in self.objects:
            if isinstance(item, RoleGrant):
                edges.setdefault(fold(item.grantee, self.cs), set()).add(fold(item.role, self.cs))

        def reaches(start: str, target: str, seen: set[str]) -> bool:
            for nxt in edges.get(start, ()):
                if nxt == target:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    if reaches(nxt, target, seen):
                        return True
            return False

        for role in sorted(edges):
            if reaches(role, role, set()):
                _fail("role_grants", f"role grants form a cycle through '{role}'; Redshift refuses cycles")

    def _unique(self) -> AccessState:
        state = AccessState(case_sensitive=self.cs)
        for item in self.objects:
            state.add(item)
        return state


def prune_scope(model: AccessModel) -> Scope:
    """The tables the model declares and those prune may lift restrictions on, as the planner takes them."""
    return Scope(frozenset(split_table(t) for t in model.tables),
                 frozenset(split_table(t) for t in model.lift_undeclared_restrictions))


def compile_model(model: AccessModel, environment: EnvironmentConfig | None = None,
                  identity_namespace: str = "AWSIDC") -> AccessState:
    """The desired state. With an environment, IdC roles use its namespace and must be assigned groups."""
    return _compiler(model, environment, identity_namespace).compile()


def _compiler(model: AccessModel, environment: EnvironmentConfig | None, identity_namespace: str) -> _Compiler:
    if environment is not None:
        app = environment.redshift_idc_application
        return _Compiler(model, app.identity_namespace, tuple(g.display_name for g in app.groups),
                         tuple(u.user_name for u in app.users))
    return _Compiler(model, identity_namespace, None)


def deprovision_settings(model: AccessModel, environment: EnvironmentConfig | None = None,
                         identity_namespace: str = "AWSIDC") -> DeprovisionSettings | None:
    """What the model document says about departed users (None: deprovision_users is off). The model was
    validated by `parse_model`, which runs the same checks."""
    try:
        return _compiler(model, environment, identity_namespace).deprovision()
    except (ValueError, SqlTextError) as error:
        raise ConfigError(f"access/{model.name}.yaml: {error}") from None


def parse_model(data: Any, *, name: str, source: Path, environment: EnvironmentConfig | None = None,
                identity_namespace: str = "AWSIDC") -> tuple[AccessModel, AccessState]:
    """Validate, then compile: every error names the file and the field."""
    if not isinstance(data, dict):
        raise not_a_mapping(source, data, "tables: {public.sales: [id, amount]}")
    if "name" in data:
        raise ConfigError(f"{source}: name: unknown key; the model's name is the file name ('{name}'): remove it")
    try:
        model = AccessModel.model_validate({**data, "name": name})
    except ValidationError as error:
        raise ConfigError(format_validation_error(source, error, AccessModel)) from None
    try:
        state = compile_model(model, environment, identity_namespace)
    except (ValueError, SqlTextError) as error:
        raise ConfigError(f"{source}: {error}") from None
    check_apply_budget(state, model.scripts, where=str(source), model=name, ledger_schema=model.ledger_schema)
    return model, state


def load_model(name: str, environment: EnvironmentConfig | None = None, access_dir: Path | None = None,
               ) -> tuple[AccessModel, AccessState]:
    access_dir = access_dir or project.access_dir()
    path = access_dir / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in access_dir.glob("*.yaml"))) or "none"
        raise ConfigError(f"{project.shown(path)}: no such access model '{name}' (known: {known})")
    data = read_yaml(path)
    return parse_model({} if data is None else data, name=name, source=project.shown(path), environment=environment)


def load_scripts(model: AccessModel, sql_dir: Path | None = None) -> list[ScriptEntry]:
    """The model's SQL scripts as `{Name, Sql, Checksum, Statements}`, in the declared order, each split
    into its statements here (the Lambda gets them split). Every problem names the access file and the
    `scripts` entry."""
    from redshift_idc.access.scripts import script_entry
    from redshift_idc.runtime.reconciler import SCRIPT_STATEMENTS

    sql_dir = sql_dir or project.sql_dir()
    scripts: list[ScriptEntry] = []
    for index, relative in enumerate(model.scripts):
        where = f"access/{model.name}.yaml: scripts[{index}]"
        path = (sql_dir / relative).resolve()
        if sql_dir.resolve() not in path.parents:
            raise ConfigError(f"{where}: '{relative}' is outside sql/; name a file under sql/, e.g. "
                              f"{model.name}/001_setup.sql")
        if not path.is_file():
            present = sorted(str(p.relative_to(sql_dir)) for p in sql_dir.rglob("*.sql")) if sql_dir.is_dir() else []
            close = difflib.get_close_matches(relative, present, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (create sql/{relative}, or fix the name)"
            raise ConfigError(f"{where}: no such file sql/{relative}{hint}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{where}: cannot read sql/{relative} as UTF-8 text: {error}") from None
        entry = script_entry(relative, text, f"{where}: sql/{relative}")
        statements = entry["Statements"]
        if not statements:
            raise ConfigError(f"{where}: sql/{relative} holds no statement; remove the entry or add the SQL")
        if len(statements) > SCRIPT_STATEMENTS:
            raise ConfigError(f"{where}: sql/{relative} has {len(statements)} statements; at most "
                              f"{SCRIPT_STATEMENTS} fit one transaction: split it into several scripts")
        scripts.append(entry)
    return scripts

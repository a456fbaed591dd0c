"""The warehouse's access state as plain, comparable objects.

Both sides of a diff use these types: the *desired* state (compiled from the reviewed access model)
and the *current* state (read back from Redshift's SVV_* views). Each object has a `key` (what makes
it the same object, names folded the way Redshift stores them) and, for objects Redshift can alter in
place, `attributes` (what may differ while the key stays). Policies also carry a `fingerprint` of their
definition: Redshift rewrites stored policy text, so a model's definition is never compared with the catalog,
only with the fingerprint recorded in the reconciler's ledger when we last applied it. The ledger row of a
policy also holds a hash of the catalog's own text as read after our CREATE/ALTER (`recorded_fingerprint`),
so a hand edit shows as a changed catalog text: catalog text against recorded catalog text, never against
the model's.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from redshift_idc.runtime.sql_text import collapse_whitespace, fold, normalize_data_type

TablePrivilegeName = Literal["SELECT", "INSERT", "UPDATE", "DELETE", "DROP", "REFERENCES", "ALTER", "TRUNCATE"]
TABLE_PRIVILEGES: tuple[str, ...] = ("SELECT", "INSERT", "UPDATE", "DELETE", "DROP", "REFERENCES", "ALTER", "TRUNCATE")
SCHEMA_PRIVILEGES: tuple[str, ...] = ("USAGE", "CREATE", "ALTER", "DROP")
COLUMN_PRIVILEGES: tuple[str, ...] = ("SELECT", "UPDATE")
SYSTEM_PRIVILEGES: tuple[str, ...] = ("IGNORE RLS", "EXPLAIN RLS", "EXPLAIN MASKING")
# The grantee `PUBLIC` (every user): rendered as the keyword, never quoted; a role cannot take the name.
PUBLIC_GRANTEE = "PUBLIC"


def role_key(name: str, case_sensitive: bool = False) -> str:
    """A role name (or PUBLIC) as keys hold it: exactly as written, whatever `case_sensitive` says.

    Redshift lower-cases databases, schemas, tables and columns (r_enable_case_sensitive_identifier), but keeps
    the case of a quoted user name, and role names share the users' name space ("can't be the same as any user
    names", r_CREATE_ROLE). Role names keep their case where a real catalog shows them: session roles
    (`IAM:myGroup`, PG_GET_SESSION_ROLES) and an IdC deployment's SVV_ROLES (`D2IDC:redshift-users`,
    REDSHIFT_REFERENCE.md 9.1). So `"AWSIDC:Sales"` and `"awsidc:sales"` are two roles, and a role is
    compared, and named in SQL, exactly as written. PUBLIC is a keyword, not a role: its key stays what it was
    (`public`, folded), so ledger rows and the preview's PUBLIC keep matching."""
    return fold(name, case_sensitive) if name == PUBLIC_GRANTEE else name


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class AccessObject:
    """Base: `KIND` names the object type in plans and in the ledger."""

    KIND: ClassVar[str] = ""

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        raise NotImplementedError

    def attributes(self, case_sensitive: bool = False) -> tuple[Any, ...]:
        """What can change without the object becoming another one (compared on both sides)."""
        return ()

    def fingerprint(self, case_sensitive: bool = False) -> str:
        """Definition fingerprint kept in the ledger ('' for objects that have no definition)."""
        return ""

    def describe(self) -> str:
        return f"{self.KIND} {'.'.join(self.key())}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.KIND}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            data[f.name] = value
        return data


@dataclass(frozen=True)
class Role(AccessObject):
    KIND: ClassVar[str] = "role"
    name: str

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (role_key(self.name, case_sensitive),)


@dataclass(frozen=True)
class RoleGrant(AccessObject):
    """`GRANT ROLE role TO ROLE grantee`: members of `grantee` get `role`'s privileges."""

    KIND: ClassVar[str] = "role_grant"
    role: str
    grantee: str

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (role_key(self.role, case_sensitive), role_key(self.grantee, case_sensitive))


@dataclass(frozen=True)
class SchemaPrivilege(AccessObject):
    KIND: ClassVar[str] = "schema_privilege"
    schema: str
    privilege: str
    grantee: str

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.schema, case_sensitive), self.privilege, role_key(self.grantee, case_sensitive))


@dataclass(frozen=True)
class TablePrivilege(AccessObject):
    KIND: ClassVar[str] = "table_privilege"
    schema: str
    table: str
    privilege: str
    grantee: str

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.schema, case_sensitive), fold(self.table, case_sensitive), self.privilege,
                role_key(self.grantee, case_sensitive))


@dataclass(frozen=True)
class ScopedTablePrivilege(AccessObject):
    """`GRANT ... FOR TABLES IN SCHEMA s TO ROLE r`: current and future tables of the schema."""

    KIND: ClassVar[str] = "scoped_table_privilege"
    schema: str
    privilege: str
    grantee: str

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.schema, case_sensitive), self.privilege, role_key(self.grantee, case_sensitive))


@dataclass(frozen=True)
class ColumnPrivilege(AccessObject):
    KIND: ClassVar[str] = "column_privilege"
    schema: str
    table: str
    column: str
    privilege: str
    grantee: str

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.schema, case_sensitive), fold(self.table, case_sensitive), fold(self.column, case_sensitive),
                self.privilege, role_key(self.grantee, case_sensitive))


@dataclass(frozen=True)
class SystemPrivilege(AccessObject):
    """Role-only system permissions such as `IGNORE RLS`."""

    KIND: ClassVar[str] = "system_privilege"
    privilege: str
    grantee: str

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (self.privilege, role_key(self.grantee, case_sensitive))


@dataclass(frozen=True)
class PolicyDefinition(AccessObject):
    """A policy `name WITH (columns) USING (expression)`. Read back from the catalog with empty
    `columns`/`using`: the catalog's text is rewritten and only the policy's existence is trusted."""

    name: str
    columns: tuple[tuple[str, str], ...] = ()
    using: str = ""

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.name, case_sensitive),)

    def fingerprint(self, case_sensitive: bool = False) -> str:
        return definition_fingerprint(self.columns, self.using, case_sensitive)


@dataclass(frozen=True)
class RlsPolicy(PolicyDefinition):
    """`CREATE RLS POLICY name WITH (columns) USING (predicate)`."""

    KIND: ClassVar[str] = "rls_policy"


@dataclass(frozen=True)
class RlsAttachment(AccessObject):
    KIND: ClassVar[str] = "rls_attachment"
    policy: str
    schema: str
    table: str
    grantee: str

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.policy, case_sensitive), fold(self.schema, case_sensitive), fold(self.table, case_sensitive),
                role_key(self.grantee, case_sensitive))


@dataclass(frozen=True)
class RlsLookupGrant(AccessObject):
    """`GRANT SELECT ON lookup TO RLS POLICY policy`: what a policy with a lookup subquery reads [3.4]. No
    catalog view shows these grants [2.16], so the reconciler knows them from its ledger alone."""

    KIND: ClassVar[str] = "rls_lookup_grant"
    schema: str
    table: str
    policy: str

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.schema, case_sensitive), fold(self.table, case_sensitive), fold(self.policy, case_sensitive))


@dataclass(frozen=True)
class RlsTable(AccessObject):
    """A relation with `ROW LEVEL SECURITY ON` and its conjunction type."""

    KIND: ClassVar[str] = "rls_table"
    schema: str
    table: str
    conjunction: str = "AND"

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.schema, case_sensitive), fold(self.table, case_sensitive))

    def attributes(self, case_sensitive: bool = False) -> tuple[Any, ...]:
        return (self.conjunction.upper(),)


@dataclass(frozen=True)
class MaskingPolicy(PolicyDefinition):
    """`CREATE MASKING POLICY name WITH (input columns) USING (masking expression)`."""

    KIND: ClassVar[str] = "masking_policy"


@dataclass(frozen=True)
class MaskingAttachment(AccessObject):
    """`ATTACH MASKING POLICY p ON s.t (outputs) USING (inputs) TO ROLE r PRIORITY n`."""

    KIND: ClassVar[str] = "masking_attachment"
    policy: str
    schema: str
    table: str
    output_columns: tuple[str, ...]
    grantee: str
    input_columns: tuple[str, ...] = ()
    priority: int = 0

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.policy, case_sensitive), fold(self.schema, case_sensitive), fold(self.table, case_sensitive),
                ",".join(fold(c, case_sensitive) for c in self.output_columns), role_key(self.grantee, case_sensitive))

    def attributes(self, case_sensitive: bool = False) -> tuple[Any, ...]:
        inputs = self.input_columns or self.output_columns
        return (tuple(fold(c, case_sensitive) for c in inputs), self.priority)


IDENTITY_PROVIDER_TYPES: tuple[str, ...] = ("awsidc", "azure")
# Parts of an identity provider's fingerprint, each hashed on its own so the planner can tell which changed:
# type and application ARN cannot be altered (the provider is replaced), the others map to ALTER clauses.
IDENTITY_PROVIDER_PARTS: tuple[str, ...] = ("type", "app", "namespace", "parameters", "iam_role", "auto", "enabled")


@dataclass(frozen=True)
class IdentityProvider(AccessObject):
    """`CREATE IDENTITY PROVIDER name TYPE type NAMESPACE ...`: a native IdP (REDSHIFT_REFERENCE.md 3.8).

    `parameters` is the canonical JSON object of the non-secret PARAMETERS; `secrets` are the
    `(parameter, secret ARN, JSON key or "")` references the reconciler resolves from Secrets Manager at
    apply time, so no secret value is ever part of the state, the compiled model or a plan. Read back from
    SVV_IDENTITY_PROVIDERS with name, type, namespace and enabled only (the view blanks the client secret):
    the definition is compared with the ledger's fingerprint, never with the catalog.
    """

    KIND: ClassVar[str] = "identity_provider"
    name: str
    type: str = ""
    namespace: str = ""
    parameters: str = ""
    application_arn: str = ""
    iam_role: str = ""
    auto_create_roles: bool | None = None
    enabled: bool | None = True  # None: not known (a catalog row without the column)
    secrets: tuple[tuple[str, str, str], ...] = ()
    # With AUTO_CREATE_ROLES TRUE, which IdC groups get a role at sign-in: () every group, else ("INCLUDE" or
    # "EXCLUDE", a LIKE pattern of group names) (r_CREATE_IDENTITY_PROVIDER; redshift-iam-access-control-sso-autocreate)
    auto_create_groups: tuple[str, ...] = ()

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.name, case_sensitive),)

    def to_json(self) -> dict[str, Any]:
        """Without `auto_create_groups` when there are none: a model written before it keeps its document (and
        so its ModelHash: no update of a deployed access resource for a field it does not use)."""
        data = super().to_json()
        if not self.auto_create_groups:
            del data["auto_create_groups"]
        return data

    def creates_roles(self) -> bool:
        """Whether Redshift creates roles at sign-in: the model's AUTO_CREATE_ROLES, else the type's default
        (TRUE for Azure, FALSE for AWSIDC: REDSHIFT_REFERENCE.md 3.8)."""
        return self.auto_create_roles if self.auto_create_roles is not None else self.type.lower() == "azure"

    def fingerprint(self, case_sensitive: bool = False) -> str:
        auto = repr(self.auto_create_roles) + "".join(f" {part}" for part in self.auto_create_groups)
        values = {
            "type": self.type.lower(), "app": self.application_arn, "namespace": self.namespace,
            "parameters": json.dumps([self.parameters, sorted(self.secrets)], separators=(",", ":")),
            "iam_role": self.iam_role, "auto": auto, "enabled": repr(self.enabled),
        }
        return ";".join(f"{part}={_digest(values[part])[:12]}" for part in IDENTITY_PROVIDER_PARTS)


DATABASE_PRIVILEGES: tuple[str, ...] = ("USAGE", "CREATE", "TEMP")

# ALTER DEFAULT PRIVILEGES: the objects it covers, as the statement spells them, and the privileges its GRANT takes
# on each (r_ALTER_DEFAULT_PRIVILEGES); SVV_DEFAULT_PRIVILEGES' object_type names each in the singular
# (r_SVV_DEFAULT_PRIVILEGES: RELATION, FUNCTION, PROCEDURE).
DEFAULT_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "TABLES": ("SELECT", "INSERT", "UPDATE", "DELETE", "DROP", "REFERENCES", "TRUNCATE"),
    "FUNCTIONS": ("EXECUTE",),
    "PROCEDURES": ("EXECUTE",),
}
DEFAULT_PRIVILEGE_OBJECTS: dict[str, str] = {"RELATION": "TABLES", "FUNCTION": "FUNCTIONS", "PROCEDURE": "PROCEDURES"}


@dataclass(frozen=True)
class DefaultPrivilege(AccessObject):
    """`ALTER DEFAULT PRIVILEGES FOR USER creator [IN SCHEMA schema] GRANT privilege ON objects TO ROLE grantee`:
    what the tables (functions, procedures) `creator` makes later get, in `schema` or, with `schema` "", in the
    whole database (r_ALTER_DEFAULT_PRIVILEGES). Nothing that exists changes. The creator is a user, whose name
    Redshift keeps as written when quoted (r_enable_case_sensitive_identifier), so the key keeps its case too."""

    KIND: ClassVar[str] = "default_privilege"
    creator: str
    schema: str
    objects: str
    privilege: str
    grantee: str

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (self.creator, fold(self.schema, case_sensitive), self.objects, self.privilege,
                role_key(self.grantee, case_sensitive))

    def describe(self) -> str:
        where = f"in schema {self.schema}" if self.schema else "in the database"
        return (f"{self.KIND} {self.privilege} on {self.objects.lower()} {self.creator} creates {where}, for "
                f"{self.grantee}")


def catalog_default_privilege(owner: str, schema: str, object_type: str, privilege: str, grantee: str,
                              grantee_type: str) -> DefaultPrivilege | None:
    """One SVV_DEFAULT_PRIVILEGES row's cells (stripped; None as "") as the state holds it, or None for one no model
    declares (a grantee neither a role nor PUBLIC, an object type the view's page does not list, no owner). Shared
    by the catalog's read (`catalog.default_privilege`) and the departing users' blockers (`user_blockers`), so a
    blocker and the plan's REVOKE name the same object."""
    objects = DEFAULT_PRIVILEGE_OBJECTS.get(object_type.upper())
    kind = grantee_type.lower()
    if objects is None or kind not in ("role", "public") or not owner:
        return None
    return DefaultPrivilege(owner, schema, objects, privilege.upper(), PUBLIC_GRANTEE if kind == "public" else grantee)


@dataclass(frozen=True)
class ExternalSchema(AccessObject):
    """`CREATE EXTERNAL SCHEMA name FROM DATA CATALOG DATABASE '...' [CATALOG_ID '...']`, with no IAM role:
    IAM Identity Center governs the data lake's access (seed 000). Its definition is compared with the
    ledger's fingerprint: the catalog keeps the catalog id in an options blob we do not parse."""

    KIND: ClassVar[str] = "external_schema"
    name: str
    catalog_database: str = ""
    catalog_id: str = ""

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.name, case_sensitive),)

    def fingerprint(self, case_sensitive: bool = False) -> str:
        return _digest(f"{self.catalog_database}\n{self.catalog_id}")


@dataclass(frozen=True)
class ExternalDatabase(AccessObject):
    """`CREATE DATABASE name FROM ARN '...' WITH NO DATA CATALOG SCHEMA`: a datashare or Glue database reached
    through IAM Identity Center, with no IAM role (seed 000)."""

    KIND: ClassVar[str] = "external_database"
    name: str
    arn: str = ""

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.name, case_sensitive),)

    def fingerprint(self, case_sensitive: bool = False) -> str:
        return _digest(self.arn)


@dataclass(frozen=True)
class DatabasePrivilege(AccessObject):
    """`GRANT USAGE ON DATABASE db TO ...`: what lets IdC groups query a datashare's database (seed 000)."""

    KIND: ClassVar[str] = "database_privilege"
    database: str
    privilege: str
    grantee: str

    def key(self, case_sensitive: bool = False) -> tuple[str, ...]:
        return (fold(self.database, case_sensitive), self.privilege, role_key(self.grantee, case_sensitive))


def fingerprint_parts(fingerprint: str) -> dict[str, str]:
    """`{part: digest}` of an identity provider fingerprint ({} when it is not one)."""
    parts = dict(item.partition("=")[::2] for item in fingerprint.split(";") if "=" in item)
    return parts if set(parts) == set(IDENTITY_PROVIDER_PARTS) else {}


def identity_provider_secret_arns(state: AccessState) -> tuple[str, ...]:
    """Every Secrets Manager ARN the state's identity providers reference (what the reconciler may read)."""
    arns = {arn for item in state.of_kind(IdentityProvider.KIND).values() if isinstance(item, IdentityProvider)
            for _, arn, _ in item.secrets}
    return tuple(sorted(arns))


OBJECT_TYPES: tuple[type[AccessObject], ...] = (
    Role, RoleGrant, SchemaPrivilege, TablePrivilege, ScopedTablePrivilege, ColumnPrivilege, SystemPrivilege,
    RlsPolicy, RlsLookupGrant, RlsAttachment, RlsTable, MaskingPolicy, MaskingAttachment, IdentityProvider,
    ExternalSchema, ExternalDatabase, DatabasePrivilege, DefaultPrivilege,
)
# Kinds no catalog view shows: their current state is what the ledger recorded (see planner.with_recorded).
LEDGER_ONLY_KINDS: frozenset[str] = frozenset({RlsLookupGrant.KIND})
TYPE_BY_KIND: dict[str, type[AccessObject]] = {t.KIND: t for t in OBJECT_TYPES}


# The third part of a policy's ledger row: `stored=<hash>` of the catalog's text of the policy as read after our
# CREATE/ALTER, or `stored=pending` when the row was written by that CREATE/ALTER (its transaction cannot read
# the stored form back); the next read records the hash. Rows of older versions have no third part.
STORED_PART = ";stored="
STORED_PENDING = "pending"


def stored_digest(text: str) -> str:
    """The hash of a policy's catalog text that its ledger row records (`stored=`)."""
    return _digest(text)


def recorded_fingerprint(item: AccessObject, case_sensitive: bool = False, stored: str = STORED_PENDING) -> str:
    """What the ledger records for `item`: its fingerprint, and for a policy the `stored=` part too (by
    default `pending`: what a CREATE or ALTER writes)."""
    if isinstance(item, PolicyDefinition):
        return f"{item.fingerprint(case_sensitive)}{STORED_PART}{stored}"
    return item.fingerprint(case_sensitive)


def policy_parts(fingerprint: str) -> tuple[str, str | None]:
    """A policy's ledger fingerprint as (its definition, `with=...;using=...`, and its `stored=` part: a
    hash, `pending`, or None for a row written by an older version)."""
    definition, found, stored = fingerprint.partition(STORED_PART)
    return definition, (stored if found else None)


def with_part(fingerprint: str) -> str:
    """The `with=<hash>` part of a policy fingerprint: a change there is a rebuild, not an ALTER."""
    return fingerprint.split(";", 1)[0]


def definition_fingerprint(columns: Iterable[tuple[str, str]], using: str, case_sensitive: bool = False) -> str:
    """`with=<hash>;using=<hash>`: the two halves change independently (USING can be altered in place,
    WITH cannot), so the planner must tell which one changed."""
    with_text = ",".join(f"{fold(name, case_sensitive)} {normalize_data_type(type_)}" for name, type_ in columns)
    return f"with={_digest(with_text)};using={_digest(collapse_whitespace(using))}"


def object_from_json(data: dict[str, Any]) -> AccessObject:
    data = dict(data)
    cls = TYPE_BY_KIND[data.pop("kind")]
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[f.name] = value
    return cls(**kwargs)


@dataclass
class AccessState:
    """A set of access objects, indexed by kind and key; `case_sensitive` decides how keys fold."""

    case_sensitive: bool = False
    objects: dict[str, dict[tuple[str, ...], AccessObject]] = field(default_factory=dict)

    @classmethod
    def of(cls, items: Iterable[AccessObject], case_sensitive: bool = False) -> AccessState:
        state = cls(case_sensitive=case_sensitive)
        for item in items:
            state.add(item)
        return state

    def add(self, item: AccessObject) -> None:
        self.objects.setdefault(item.KIND, {})[item.key(self.case_sensitive)] = item

    def discard(self, item: AccessObject) -> None:
        self.objects.get(item.KIND, {}).pop(item.key(self.case_sensitive), None)

    def get(self, kind: str, key: tuple[str, ...]) -> AccessObject | None:
        return self.objects.get(kind, {}).get(key)

    def of_kind(self, kind: str) -> dict[tuple[str, ...], AccessObject]:
        return self.objects.get(kind, {})

    def __iter__(self) -> Iterator[AccessObject]:
        for kind in sorted(self.objects):
            for key in sorted(self.objects[kind]):
                yield self.objects[kind][key]

    def __len__(self) -> int:
        return sum(len(v) for v in self.objects.values())

    def to_json(self) -> dict[str, Any]:
        return {"case_sensitive": self.case_sensitive, "objects": [o.to_json() for o in self]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccessState:
        return cls.of((object_from_json(o) for o in data["objects"]), bool(data.get("case_sensitive", False)))

    def canonical_json(self) -> str:
        """Sorted, compact, stable: the same model always serializes to the same bytes."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the reconciler's ledger: an object it created (or adopted) and its fingerprint."""

    kind: str
    key: tuple[str, ...]
    fingerprint: str = ""

    @property
    def key_text(self) -> str:
        """The key as the ledger stores it: `json.dumps(list(key), ensure_ascii=False, separators=(",", ":"))`,
        written out per component (`json_string`), which a large plan's hundreds of thousands of rows feel."""
        return "[" + ",".join(json_string(part) for part in self.key) + "]"


_PLAIN_JSON = re.compile(r'[^"\\\x00-\x1f\x7f-\x9f\u2028\u2029]*')


def json_string(value: str) -> str:
    """`json.dumps(value, ensure_ascii=False)`; a string with nothing to escape quoted directly."""
    if _PLAIN_JSON.fullmatch(value):
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False)


def ledger_key(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))

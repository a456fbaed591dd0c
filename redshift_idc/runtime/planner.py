"""`plan(desired, current, ledger) -> ordered SQL`: the pure heart of the reconciler.

Rules it keeps (REDSHIFT_REFERENCE.md section 8):
- It removes only what it manages (objects recorded in its ledger), or everything not desired when
  `prune` is on; it never touches system (`sys:`, `ds:`) roles.
- Removal runs before creation, in an order Redshift accepts: masking detach -> masking drop ->
  RLS off -> RLS detach -> RLS drop -> revokes -> role grants revoked -> DROP ROLE; then CREATE ROLE
  -> role grants -> schema/table/column grants -> RLS policies -> their lookup tables granted to them ->
  attach -> RLS ON (last, or users briefly see no rows) -> masking -> IGNORE RLS. Grants to RLS policies have
  no catalog view: the ledger is their current state (`with_recorded`).
- A role being dropped first loses every privilege the catalog shows for it (DROP ROLE fails while
  any is left), and every policy attachment.
- Policy definitions are compared by fingerprint with the ledger, never with the catalog's rewritten
  text: a changed USING is an ALTER, changed WITH columns a detach/drop/create/attach.
- Identity providers (CREATE/ALTER/DROP IDENTITY PROVIDER) cannot run inside a transaction block, so
  their statements are marked `transactional=False` and `ledger.steps` sends each alone, outside any
  batch: create/alter before everything else, drop after everything else, never CASCADE unless the
  model opts in. Their definition is compared by fingerprint with the ledger (the catalog blanks the
  parameters); `enabled` is also compared with the catalog. Secrets in PARAMETERS are references: the
  statement's `sql` shows them as `***`, `Statement.executable_sql` renders the real values at apply time.
- PUBLIC (every user) may be the grantee of object grants and policy attachments: rendered as the keyword,
  and, like identity providers, removed only when the ledger says we granted it, even with `prune`.
- Output is deterministic: phases in order, objects sorted by key within a phase.
- Adopting what `import` wrote: given `definitions` (policies and identity providers as the catalog itself
  shows them, which `snapshot` and the reconciler's read batch both read), an object not in the ledger whose
  catalog definition is exactly the model's is adopted instead of rebuilt or altered. Without them nothing
  can vouch for its definition, so it is rebuilt (policies) or set again (identity providers).
- External schemas and databases FROM ARN run alone like identity providers, and are never pruned.
- One owner per object: given `owners` (the objects other access models' ledgers hold, from the same ledger
  table), an object another model manages is never adopted, created, altered or removed here. Declaring one
  fails the plan (`OwnershipError`, naming the object and its model); so does removing what another model's
  objects hang on (a role their grants name, a policy their attachments use), because the removal would take
  them along. Prune leaves them alone, and counts them (`Plan.others_skipped`). A row of this model's own
  ledger for such an object (two owners, as earlier versions allowed) is forgotten, never acted on.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from redshift_idc.runtime.access_state import (
    COLUMN_PRIVILEGES,
    DATABASE_PRIVILEGES,
    IDENTITY_PROVIDER_TYPES,
    LEDGER_ONLY_KINDS,
    PUBLIC_GRANTEE,
    SCHEMA_PRIVILEGES,
    SYSTEM_PRIVILEGES,
    TABLE_PRIVILEGES,
    AccessObject,
    AccessState,
    ColumnPrivilege,
    DatabasePrivilege,
    ExternalDatabase,
    ExternalSchema,
    IdentityProvider,
    LedgerEntry,
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
    fingerprint_parts,
)
from redshift_idc.runtime.sql_text import RESERVED_ROLE_PREFIXES, fold, quote_ident, quote_literal, quote_qualified

Ledger = dict[tuple[str, tuple[str, ...]], str]  # (kind, key) -> fingerprint
Owners = Mapping[tuple[str, tuple[str, ...]], str]  # (kind, key) -> the other access model whose ledger holds it
SecretRef = tuple[str, str]  # (Secrets Manager secret ARN, JSON key in its SecretString, or "" for all of it)
SECRET_MASK = "***"  # noqa: S105 -- what a secret is shown as


@dataclass(frozen=True)
class Statement:
    """One SQL statement, the phase that orders it, and the ledger rows it changes when it commits."""

    phase: int
    sort_key: tuple[str, ...]
    sql: str
    ledger_add: tuple[LedgerEntry, ...] = ()
    ledger_remove: tuple[LedgerEntry, ...] = ()
    # False: cannot run inside a transaction block; sent alone with ExecuteStatement (see ledger.steps).
    transactional: bool = True
    # Secrets the statement needs; `sql` shows each as `***`, `with_secrets` renders the real values.
    secrets: tuple[SecretRef, ...] = ()
    with_secrets: Callable[[Mapping[SecretRef, str]], str] | None = field(default=None, compare=False, repr=False)

    def executable_sql(self, resolve: Callable[[str, str], str] | None = None) -> str:
        """The SQL to run: `sql`, or for a statement naming secrets, the SQL with every secret resolved by
        `resolve(secret_arn, json_key)`. Never log or print the result."""
        if not self.secrets:
            return self.sql
        if resolve is None or self.with_secrets is None:
            raise ValueError(f"{self.sql[:60]}...: this statement needs its secrets resolved")
        return self.with_secrets({ref: resolve(*ref) for ref in self.secrets})


@dataclass
class Plan:
    statements: list[Statement] = field(default_factory=list)
    # Objects that already exist as desired but are not yet in the ledger: recorded, no DDL.
    adopt: list[LedgerEntry] = field(default_factory=list)
    # Ledger rows of objects gone from the catalog (by hand) and from the model: deleted, no DDL, so a
    # later hand-made object with the same name is not mistaken for ours.
    forget: list[LedgerEntry] = field(default_factory=list)
    # Objects present that other access models manage and this one would otherwise remove (prune): left alone.
    others_skipped: int = 0

    @property
    def sql(self) -> list[str]:
        return [s.sql for s in self.statements]

    def __bool__(self) -> bool:
        return bool(self.statements or self.adopt or self.forget)


# ---------------------------------------------------------------------------------------------- SQL


def _role(name: str) -> str:
    """A grantee: `ROLE "name"`, or the keyword PUBLIC (every user), which is never quoted."""
    return PUBLIC_GRANTEE if name == PUBLIC_GRANTEE else f"ROLE {quote_ident(name)}"


def _columns_clause(columns: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f"{quote_ident(name)} {type_}" for name, type_ in columns)


_KNOWN_PRIVILEGES: dict[type[AccessObject], tuple[str, ...]] = {
    SchemaPrivilege: SCHEMA_PRIVILEGES, TablePrivilege: TABLE_PRIVILEGES, ScopedTablePrivilege: TABLE_PRIVILEGES,
    ColumnPrivilege: COLUMN_PRIVILEGES, SystemPrivilege: SYSTEM_PRIVILEGES, DatabasePrivilege: DATABASE_PRIVILEGES,
}


def check_renderable(item: AccessObject) -> None:
    """Keywords are emitted unquoted, so only known ones pass (catalog rows are input too)."""
    allowed = _KNOWN_PRIVILEGES.get(type(item))
    if allowed is not None and getattr(item, "privilege", None) not in allowed:
        raise ValueError(f"{item.KIND}: unknown privilege {getattr(item, 'privilege', None)!r}")
    if isinstance(item, RlsTable) and item.conjunction.upper() not in ("AND", "OR"):
        raise ValueError(f"rls_table: conjunction type must be AND or OR, not {item.conjunction!r}")
    if isinstance(item, MaskingAttachment) and not item.output_columns:
        raise ValueError("masking_attachment: no output columns")
    if isinstance(item, MaskingPolicy) and not item.columns:
        raise ValueError("masking_policy: a masking policy needs at least one input column")
    if isinstance(item, RoleGrant | ScopedTablePrivilege | SystemPrivilege) and PUBLIC_GRANTEE in (
            getattr(item, "grantee", None), getattr(item, "role", None)):
        raise ValueError(f"{item.KIND}: Redshift grants this only to roles (or users), not to PUBLIC")


def create_sql(item: AccessObject) -> str:
    check_renderable(item)
    if isinstance(item, Role):
        return f"CREATE ROLE {quote_ident(item.name)}"
    if isinstance(item, RoleGrant):
        return f"GRANT ROLE {quote_ident(item.role)} TO {_role(item.grantee)}"
    if isinstance(item, SchemaPrivilege):
        return f"GRANT {item.privilege} ON SCHEMA {quote_ident(item.schema)} TO {_role(item.grantee)}"
    if isinstance(item, ScopedTablePrivilege):
        return f"GRANT {item.privilege} FOR TABLES IN SCHEMA {quote_ident(item.schema)} TO {_role(item.grantee)}"
    if isinstance(item, TablePrivilege):
        return f"GRANT {item.privilege} ON TABLE {quote_qualified(item.schema, item.table)} TO {_role(item.grantee)}"
    if isinstance(item, ColumnPrivilege):
        return (f"GRANT {item.privilege} ({quote_ident(item.column)}) ON TABLE "
                f"{quote_qualified(item.schema, item.table)} TO {_role(item.grantee)}")
    if isinstance(item, SystemPrivilege):
        return f"GRANT {item.privilege} TO {_role(item.grantee)}"
    if isinstance(item, DatabasePrivilege):
        return f"GRANT {item.privilege} ON DATABASE {quote_ident(item.database)} TO {_role(item.grantee)}"
    if isinstance(item, ExternalSchema):
        catalog_id = f" CATALOG_ID {quote_literal(item.catalog_id)}" if item.catalog_id else ""
        return (f"CREATE EXTERNAL SCHEMA {quote_ident(item.name)} FROM DATA CATALOG DATABASE "
                f"{quote_literal(item.catalog_database)}{catalog_id}")
    if isinstance(item, ExternalDatabase):
        return (f"CREATE DATABASE {quote_ident(item.name)} FROM ARN {quote_literal(item.arn)} "
                "WITH NO DATA CATALOG SCHEMA")
    if isinstance(item, RlsPolicy):
        with_clause = f" WITH ({_columns_clause(item.columns)})" if item.columns else ""
        return f"CREATE RLS POLICY {quote_ident(item.name)}{with_clause} USING ({item.using})"
    if isinstance(item, RlsAttachment):
        return (f"ATTACH RLS POLICY {quote_ident(item.policy)} ON {quote_qualified(item.schema, item.table)} "
                f"TO {_role(item.grantee)}")
    if isinstance(item, RlsLookupGrant):
        return (f"GRANT SELECT ON TABLE {quote_qualified(item.schema, item.table)} TO RLS POLICY "
                f"{quote_ident(item.policy)}")
    if isinstance(item, RlsTable):
        return (f"ALTER TABLE {quote_qualified(item.schema, item.table)} ROW LEVEL SECURITY ON "
                f"CONJUNCTION TYPE {item.conjunction.upper()}")
    if isinstance(item, MaskingPolicy):
        return (f"CREATE MASKING POLICY {quote_ident(item.name)} WITH ({_columns_clause(item.columns)}) "
                f"USING ({item.using})")
    if isinstance(item, IdentityProvider):
        return create_identity_provider_sql(item)
    if isinstance(item, MaskingAttachment):
        outputs = ", ".join(quote_ident(c) for c in item.output_columns)
        inputs = ", ".join(quote_ident(c) for c in (item.input_columns or item.output_columns))
        return (f"ATTACH MASKING POLICY {quote_ident(item.policy)} ON {quote_qualified(item.schema, item.table)} "
                f"({outputs}) USING ({inputs}) TO {_role(item.grantee)} PRIORITY {int(item.priority)}")
    raise TypeError(f"no CREATE form for {item!r}")


def remove_sql(item: AccessObject) -> str:
    if not isinstance(item, MaskingPolicy):
        check_renderable(item)
    if isinstance(item, Role):
        # FORCE drops the role's assignments to users and roles; object privileges were revoked before.
        return f"DROP ROLE {quote_ident(item.name)} FORCE"
    if isinstance(item, RoleGrant):
        return f"REVOKE ROLE {quote_ident(item.role)} FROM {_role(item.grantee)}"
    if isinstance(item, SchemaPrivilege):
        return f"REVOKE {item.privilege} ON SCHEMA {quote_ident(item.schema)} FROM {_role(item.grantee)}"
    if isinstance(item, ScopedTablePrivilege):
        return f"REVOKE {item.privilege} FOR TABLES IN SCHEMA {quote_ident(item.schema)} FROM {_role(item.grantee)}"
    if isinstance(item, TablePrivilege):
        return f"REVOKE {item.privilege} ON TABLE {quote_qualified(item.schema, item.table)} FROM {_role(item.grantee)}"
    if isinstance(item, ColumnPrivilege):
        return (f"REVOKE {item.privilege} ({quote_ident(item.column)}) ON TABLE "
                f"{quote_qualified(item.schema, item.table)} FROM {_role(item.grantee)}")
    if isinstance(item, SystemPrivilege):
        return f"REVOKE {item.privilege} FROM {_role(item.grantee)}"
    if isinstance(item, DatabasePrivilege):
        return f"REVOKE {item.privilege} ON DATABASE {quote_ident(item.database)} FROM {_role(item.grantee)}"
    if isinstance(item, ExternalSchema):
        return f"DROP SCHEMA {quote_ident(item.name)}"  # the reference only: the catalog database stays
    if isinstance(item, ExternalDatabase):
        return f"DROP DATABASE {quote_ident(item.name)}"
    if isinstance(item, RlsPolicy):
        return f"DROP RLS POLICY {quote_ident(item.name)}"
    if isinstance(item, RlsAttachment):
        return (f"DETACH RLS POLICY {quote_ident(item.policy)} ON {quote_qualified(item.schema, item.table)} "
                f"FROM {_role(item.grantee)}")
    if isinstance(item, RlsLookupGrant):
        return (f"REVOKE SELECT ON TABLE {quote_qualified(item.schema, item.table)} FROM RLS POLICY "
                f"{quote_ident(item.policy)}")
    if isinstance(item, RlsTable):
        return f"ALTER TABLE {quote_qualified(item.schema, item.table)} ROW LEVEL SECURITY OFF"
    if isinstance(item, MaskingPolicy):
        return f"DROP MASKING POLICY {quote_ident(item.name)}"
    if isinstance(item, IdentityProvider):
        return drop_identity_provider_sql(item)
    if isinstance(item, MaskingAttachment):
        outputs = ", ".join(quote_ident(c) for c in item.output_columns)
        return (f"DETACH MASKING POLICY {quote_ident(item.policy)} ON {quote_qualified(item.schema, item.table)} "
                f"({outputs}) FROM {_role(item.grantee)}")
    raise TypeError(f"no REMOVE form for {item!r}")


def alter_using_sql(item: RlsPolicy | MaskingPolicy) -> str:
    kind = "RLS" if isinstance(item, RlsPolicy) else "MASKING"
    return f"ALTER {kind} POLICY {quote_ident(item.name)} USING ({item.using})"


# Identity providers (REDSHIFT_REFERENCE.md 3.8). Without `resolved`, secrets render as `***`.

def _parameters_literal(item: IdentityProvider, resolved: Mapping[SecretRef, str] | None) -> str:
    values: dict[str, Any] = json.loads(item.parameters) if item.parameters else {}
    if not isinstance(values, dict):
        raise ValueError(f"identity_provider {item.name}: parameters are not a JSON object")
    for parameter, arn, key in item.secrets:
        values[parameter] = SECRET_MASK if resolved is None else resolved[(arn, key)]
    return quote_literal(json.dumps(values, sort_keys=True, ensure_ascii=False))


def _uses_parameters(item: IdentityProvider) -> bool:
    return bool(item.parameters or item.secrets or item.type.lower() == "azure")


def _auto_create_roles(item: IdentityProvider) -> str:
    """The model's value, else Redshift's default (FALSE for AWSIDC, TRUE for Azure)."""
    value = item.auto_create_roles if item.auto_create_roles is not None else item.type.lower() == "azure"
    return f"AUTO_CREATE_ROLES {'TRUE' if value else 'FALSE'}"


def create_identity_provider_sql(item: IdentityProvider, resolved: Mapping[SecretRef, str] | None = None) -> str:
    if item.type.lower() not in IDENTITY_PROVIDER_TYPES:
        raise ValueError(f"identity_provider {item.name}: type must be one of {IDENTITY_PROVIDER_TYPES}, "
                         f"not {item.type!r}")
    parts = [f"CREATE IDENTITY PROVIDER {quote_ident(item.name)} TYPE {item.type.upper()}",
             f"NAMESPACE {quote_literal(item.namespace)}"]
    if _uses_parameters(item):
        parts.append(f"PARAMETERS {_parameters_literal(item, resolved)}")
    if item.application_arn:
        parts.append(f"APPLICATION_ARN {quote_literal(item.application_arn)}")
    if item.iam_role:
        parts.append(f"IAM_ROLE {quote_literal(item.iam_role)}")
    if item.auto_create_roles is not None:
        parts.append(_auto_create_roles(item))
    return " ".join(parts)


IDENTITY_PROVIDER_CLAUSES = ("parameters", "namespace", "iam_role", "auto", "enabled")


def alter_identity_provider_sql(item: IdentityProvider, clauses: Iterable[str],
                                resolved: Mapping[SecretRef, str] | None = None) -> str:
    """`ALTER IDENTITY PROVIDER` with the given clauses (names from IDENTITY_PROVIDER_CLAUSES), in the
    grammar's order; `enabled` renders ENABLE or DISABLE."""
    wanted = set(clauses)
    unknown = wanted - set(IDENTITY_PROVIDER_CLAUSES)
    if unknown or not wanted:
        raise ValueError(f"identity_provider {item.name}: no ALTER clause for {sorted(unknown) or 'nothing'}")
    parts = [f"ALTER IDENTITY PROVIDER {quote_ident(item.name)}"]
    if "parameters" in wanted:
        parts.append(f"PARAMETERS {_parameters_literal(item, resolved)}")
    if "namespace" in wanted:
        parts.append(f"NAMESPACE {quote_literal(item.namespace)}")
    if "iam_role" in wanted:
        parts.append(f"IAM_ROLE {quote_literal(item.iam_role)}")
    if "auto" in wanted:
        parts.append(_auto_create_roles(item))
    if "enabled" in wanted:
        parts.append("DISABLE" if item.enabled is False else "ENABLE")
    return " ".join(parts)


def drop_identity_provider_sql(item: IdentityProvider, cascade: bool = False) -> str:
    """CASCADE also deletes the users and roles of the provider [D46]: only when the model opts in."""
    return f"DROP IDENTITY PROVIDER {quote_ident(item.name)}{' CASCADE' if cascade else ''}"


# ------------------------------------------------------------------------------ one owner per object

OWNERSHIP_SHOWN = 10  # objects an ownership error lists by name; the rest are counted


class OwnershipError(ValueError):
    """The plan would adopt, create, change or remove an object another access model manages."""


def _described(kind: str, key: tuple[str, ...]) -> str:
    return f"{kind} {'.'.join(key)}"


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:OWNERSHIP_SHOWN])
    return shown + (f" and {len(items) - OWNERSHIP_SHOWN} more" if len(items) > OWNERSHIP_SHOWN else "")


def declared_by_others(desired: AccessState, owners: Owners) -> list[tuple[str, tuple[str, ...], str]]:
    """(kind, key, owning model) of every object `desired` declares that another model's ledger holds, sorted."""
    objects = desired.objects
    return sorted((kind, key, owner) for (kind, key), owner in owners.items() if key in objects.get(kind, _NONE))


def ownership_message(declared: Iterable[tuple[str, tuple[str, ...], str]],
                      taken: Iterable[tuple[str, tuple[str, ...], str, str]] = ()) -> str:
    """Why the plan is refused: the objects (and their models) it declares, then those its removals would take
    along (and which removal). Empty when there is neither."""
    parts: list[str] = []
    named = [f"{_described(kind, key)} (access model '{owner}')" for kind, key, owner in declared]
    if named:
        parts.append(f"this model declares {len(named)} object(s) that another access model manages: {_listed(named)}."
                     " An object has one owner, the model whose ledger records it, and no other model adopts, "
                     "changes or removes it: declare each object in one model only")
    along = [f"{_described(kind, key)} (access model '{owner}', by {cause})" for kind, key, owner, cause in taken]
    if along:
        parts.append(f"removing what this model manages would take along {len(along)} object(s) that another access "
                     f"model manages: {_listed(along)}. Remove them from that model first, or keep here what they "
                     "depend on")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------- phases

REMOVE_PHASE: dict[str, int] = {
    MaskingAttachment.KIND: 10, MaskingPolicy.KIND: 11,
    RlsTable.KIND: 20, RlsAttachment.KIND: 21, RlsLookupGrant.KIND: 22, RlsPolicy.KIND: 23,
    SystemPrivilege.KIND: 30, ColumnPrivilege.KIND: 31, TablePrivilege.KIND: 32, ScopedTablePrivilege.KIND: 33,
    SchemaPrivilege.KIND: 34, DatabasePrivilege.KIND: 35, RoleGrant.KIND: 40, Role.KIND: 41,
}
CREATE_PHASE: dict[str, int] = {
    Role.KIND: 50, RoleGrant.KIND: 51, DatabasePrivilege.KIND: 59, SchemaPrivilege.KIND: 60,
    ScopedTablePrivilege.KIND: 61,
    TablePrivilege.KIND: 62, ColumnPrivilege.KIND: 63, RlsPolicy.KIND: 70, RlsLookupGrant.KIND: 71,
    RlsAttachment.KIND: 72, RlsTable.KIND: 73, MaskingPolicy.KIND: 80, MaskingAttachment.KIND: 81,
    SystemPrivilege.KIND: 90,
}
ALTER_USING_PHASE = {RlsPolicy.KIND: 70, MaskingPolicy.KIND: 80}
# Identity provider statements run alone, outside any transaction: create/alter (and a replacement's
# drop) before every batch, drops after every batch.
IDENTITY_PROVIDER_PHASE = 1
IDENTITY_PROVIDER_DROP_PHASE = 99
# Users who left IAM Identity Center (`deprovision_users`, runtime/users.py): after everything else of the model
# (a role that takes over their objects exists by then), their direct grants revoked, what they own transferred,
# then DROP USER (which refuses a user holding a privilege or owning an object [r_DROP_USER]).
USER_REVOKE_PHASE = 91
USER_TRANSFER_PHASE = 92
USER_DROP_PHASE = 93
# External schemas and databases from an ARN run alone too (CREATE/DROP DATABASE cannot run in a transaction
# block [0.2]; the external schema with them, to be safe): created before the batches that grant on them,
# dropped after the batches that revoke.
EXTERNAL_KINDS = (ExternalDatabase.KIND, ExternalSchema.KIND)
# Policy attachments detached only to be attached again (a rebuilt policy's, a masking attachment's new
# priority or inputs) and the rebuilt policies: detach -> drop -> create -> attach as one contiguous run
# that `ledger.batches` keeps in one transaction, so no commit leaves a column unmasked or an AND-ed RLS
# restriction missing.
SWAP_PHASE: dict[str, int] = {RlsAttachment.KIND: 69, RlsLookupGrant.KIND: 69, RlsPolicy.KIND: 69,
                              MaskingAttachment.KIND: 79, MaskingPolicy.KIND: 79}
SWAP_PHASES = frozenset(SWAP_PHASE.values())
# detach -> revoke lookups -> drop -> create -> grant lookups -> attach
_SWAP_STEP = {(RlsAttachment.KIND, False): "0", (RlsLookupGrant.KIND, False): "05", (RlsPolicy.KIND, False): "1",
              (RlsPolicy.KIND, True): "2", (RlsLookupGrant.KIND, True): "25",
              (RlsAttachment.KIND, True): "3", (MaskingAttachment.KIND, False): "0",
              (MaskingPolicy.KIND, False): "1", (MaskingPolicy.KIND, True): "2", (MaskingAttachment.KIND, True): "3"}


_NONE: dict[tuple[str, ...], AccessObject] = {}


def _grantees(item: AccessObject) -> tuple[str, ...]:
    """The roles an object names (a dropped role takes every such object with it); PUBLIC is not a role."""
    if isinstance(item, RoleGrant):
        return (item.role, item.grantee)
    grantee = getattr(item, "grantee", None)
    return (grantee,) if isinstance(grantee, str) and grantee != PUBLIC_GRANTEE else ()


def is_public(item: AccessObject) -> bool:
    return getattr(item, "grantee", None) == PUBLIC_GRANTEE


@functools.lru_cache(maxsize=65536)
def is_system_role(name: str) -> bool:
    return fold(name).startswith(RESERVED_ROLE_PREFIXES)


class _Planner:
    def __init__(self, desired: AccessState, current: AccessState, ledger: Ledger, prune: bool,
                 identity_provider_drop_cascade: bool = False, definitions: AccessState | None = None,
                 owners: Owners | None = None) -> None:
        self.definitions = definitions
        self.owners: Owners = owners or {}
        # Other models' objects a removal here would take along: (kind, key) -> (owner, which removal).
        self.taken: dict[tuple[str, tuple[str, ...]], tuple[str, str]] = {}
        self.desired = desired
        self.current = current
        self.ledger = ledger
        self.prune = prune
        self.cascade = identity_provider_drop_cascade
        self.cs = desired.case_sensitive
        self.statements: list[Statement] = []
        self.adopt: list[LedgerEntry] = []
        self.removed: set[tuple[str, tuple[str, ...]]] = set()  # (kind, key) gone from current by now
        self.swapped: set[tuple[str, tuple[str, ...]]] = set()  # policy objects removed to be made again
        # The current state indexed once, so removing k roles or policies costs O(objects), not
        # O(k x objects): every kind in key order, attachments by policy, names folded once each.
        self._sorted: dict[str, list[AccessObject]] = {
            kind: [items[k] for k in sorted(items)] for kind, items in current.objects.items()}
        # Keys as the states hold them (folding every name again per use was most of a large plan's time).
        self._keys: dict[int, tuple[str, ...]] = {
            id(item): key for state in (current, desired) for items in state.objects.values()
            for key, item in items.items()}
        self._folded: dict[str, str] = {}
        self._attached: dict[tuple[str, str], list[AccessObject]] = {}
        for kind in (RlsAttachment.KIND, MaskingAttachment.KIND):
            for item in self._sorted.get(kind, ()):
                assert isinstance(item, RlsAttachment | MaskingAttachment)
                self._attached.setdefault((kind, self._fold(item.policy)), []).append(item)
        self._lookups: dict[str, list[AccessObject]] = {}
        for item in self._sorted.get(RlsLookupGrant.KIND, ()):
            assert isinstance(item, RlsLookupGrant)
            self._lookups.setdefault(self._fold(item.policy), []).append(item)

    # -- helpers

    def _fold(self, name: str) -> str:
        folded = self._folded.get(name)
        if folded is None:
            folded = self._folded[name] = fold(name, self.cs)
        return folded

    def _key(self, item: AccessObject) -> tuple[str, ...]:
        key = self._keys.get(id(item))
        return key if key is not None else item.key(self.cs)

    def _entry(self, item: AccessObject, key: tuple[str, ...] | None = None) -> LedgerEntry:
        return LedgerEntry(item.KIND, key if key is not None else self._key(item), item.fingerprint(self.cs))

    def _verified(self, wanted: AccessObject, key: tuple[str, ...]) -> bool:
        """Whether the catalog's own definition of an object the ledger does not know is the model's: a
        policy's WITH columns and USING text (`import` writes them as Redshift returns them), a provider's
        type, namespace, non-secret PARAMETERS and ENABLE. What the catalog never shows (a provider's secret,
        IAM role, application ARN, AUTO_CREATE_ROLES) is taken as the model says: adopting keeps the
        warehouse as it is, where setting those again could only put a guess in place."""
        seen = self.definitions.get(wanted.KIND, key) if self.definitions is not None else None
        if isinstance(wanted, RlsPolicy | MaskingPolicy):
            return (isinstance(seen, type(wanted)) and bool(seen.using)
                    and seen.fingerprint(self.cs) == wanted.fingerprint(self.cs))
        if isinstance(wanted, IdentityProvider) and isinstance(seen, IdentityProvider):
            return (seen.type.lower() == wanted.type.lower() and seen.namespace == wanted.namespace
                    and seen.parameters == wanted.parameters and seen.enabled is not None
                    and seen.enabled == wanted.enabled)
        return False

    def _managed(self, item: AccessObject, key: tuple[str, ...] | None = None) -> bool:
        return (item.KIND, key if key is not None else self._key(item)) in self.ledger

    def _emit(self, phase: int, item: AccessObject, sql: str, *, add: bool = False, remove: bool = False,
              key: tuple[str, ...] | None = None) -> None:
        key = key if key is not None else self._key(item)
        step = (_SWAP_STEP[(item.KIND, add)],) if phase in SWAP_PHASES else ()
        entry = self._entry(item, key) if add or remove else None
        self.statements.append(Statement(
            phase=phase,
            sort_key=(*step, item.KIND, *key),
            sql=sql,
            ledger_add=(entry,) if entry is not None and add else (),
            ledger_remove=(entry,) if entry is not None and remove and self._managed(item, key) else (),
        ))

    def _remove(self, item: AccessObject, *, swap: bool = False, because: str = "") -> None:
        """`because`: the removal that takes `item` along (a role dropped, a policy dropped or rebuilt), if any."""
        key = self._key(item)
        mark = (item.KIND, key)
        if mark in self.removed:
            return
        owner = self.owners.get(mark)
        if owner is not None:
            # Another model's (never desired here: `run` refused that first): taken along by `because`.
            self.taken.setdefault(mark, (owner, because or f"removing {_described(*mark)}"))
            return
        self.removed.add(mark)
        if swap:
            self.swapped.add(mark)
        self._emit(SWAP_PHASE[item.KIND] if swap else REMOVE_PHASE[item.KIND], item, remove_sql(item), remove=True,
                   key=key)

    def _current_items(self, kind: str) -> list[AccessObject]:
        return self._sorted.get(kind, [])

    def _may_remove(self, item: AccessObject, key: tuple[str, ...] | None = None) -> bool:
        if self.owners and (item.KIND, key if key is not None else self._key(item)) in self.owners:
            return False  # another model's: never removed here, not even by prune
        for name in _grantees(item):
            if is_system_role(name):
                return False
        if isinstance(item, Role) and is_system_role(item.name):
            return False
        if isinstance(item, IdentityProvider):
            # Never pruned: connecting a namespace to IAM Identity Center may register its own provider
            # (unconfirmed), and dropping that would break every IdC sign-in. Only ledger rows are removed.
            return self._managed(item, key)
        if is_public(item):
            # Never pruned either: Redshift gives PUBLIC defaults (USAGE and CREATE on schema public, TEMP
            # on databases [D24]) that no model lists; only what the ledger says we granted is revoked.
            return self._managed(item, key)
        return self.prune or self._managed(item, key)

    # -- the plan

    def run(self) -> Plan:
        kinds = sorted(REMOVE_PHASE, key=lambda k: REMOVE_PHASE[k])
        desired_roles = self.desired.of_kind(Role.KIND)
        # 0. One owner per object: declaring another model's object is refused before anything is planned.
        declared = declared_by_others(self.desired, self.owners)
        if declared:
            raise OwnershipError(ownership_message(declared))

        # 1. Roles leaving: everything that names them goes first (whoever made it; another model's objects
        #    refuse the plan, see `_remove`), then the role. One pass over the current objects, whatever the
        #    number of roles leaving.
        leaving = [role for role in self._current_items(Role.KIND)
                   if self._key(role) not in desired_roles and self._may_remove(role, self._key(role))]
        if leaving:
            names = {self._key(role)[0] for role in leaving}
            fold_name = self._fold
            for kind in kinds:
                if kind == Role.KIND:
                    continue
                for item in self._current_items(kind):
                    for grantee in _grantees(item):
                        if fold_name(grantee) in names:
                            self._remove(item, because=f"dropping role {fold_name(grantee)}")
                            break
            for role in leaving:
                self._remove(role)

        # 2. Policies whose WITH columns changed (or whose definition we cannot vouch for) are rebuilt:
        #    all their current attachments go, the policy is dropped and created again below.
        rebuilt: set[tuple[str, tuple[str, ...]]] = set()
        for policy_type, attachment_kind in ((RlsPolicy, RlsAttachment.KIND), (MaskingPolicy, MaskingAttachment.KIND)):
            for key, wanted in sorted(self.desired.of_kind(policy_type.KIND).items()):
                if self.current.get(policy_type.KIND, key) is None:
                    continue
                recorded = self.ledger.get((policy_type.KIND, key))
                new = wanted.fingerprint(self.cs)
                if recorded is not None and recorded.split(";")[0] == new.split(";")[0]:
                    continue  # same WITH: at most an ALTER ... USING below
                if recorded is None and self._verified(wanted, key):
                    continue  # the catalog shows it exactly as declared: adopted below
                rebuilding = f"rebuilding {policy_type.KIND} {key[0]}"
                for attachment in self._attached.get((attachment_kind, key[0]), ()):
                    self._remove(attachment, swap=True, because=rebuilding)
                for grant in self._lookups.get(key[0], ()):
                    self._remove(grant, swap=True, because=rebuilding)  # the dropped policy loses its grants
                self._remove(self.current.of_kind(policy_type.KIND)[key], swap=True)
                rebuilt.add((policy_type.KIND, key))

        # 3. Policies leaving must lose every attachment first (DROP refuses while attached).
        for policy_kind, attachment_kind in ((RlsPolicy.KIND, RlsAttachment.KIND),
                                             (MaskingPolicy.KIND, MaskingAttachment.KIND)):
            for policy in self._current_items(policy_kind):
                key = self._key(policy)
                if key in self.desired.of_kind(policy_kind) or not self._may_remove(policy, key):
                    continue
                dropping = f"dropping {policy_kind} {key[0]}"
                for attachment in self._attached.get((attachment_kind, key[0]), ()):
                    self._remove(attachment, because=dropping)
                for grant in self._lookups.get(key[0], ()) if policy_kind == RlsPolicy.KIND else ():
                    self._remove(grant, because=dropping)
                self._remove(policy)

        # 3b. External schemas and databases (alone, outside the batches); a replaced one takes its grants along.
        self._external_objects()

        # 4. Everything else that is managed (or pruned) and no longer desired, or whose attributes
        #    changed in a way only detach/attach can express (masking input columns and priority).
        removed = self.removed
        for kind in kinds:
            for item in self._current_items(kind):
                key = self._keys[id(item)]
                if (kind, key) in removed:
                    continue
                counterpart = self.desired.get(kind, key)
                if counterpart is None:
                    if self._may_remove(item, key):
                        self._remove(item)
                elif kind == MaskingAttachment.KIND and counterpart.attributes(self.cs) != item.attributes(self.cs):
                    self._remove(item, swap=True)

        # 5. Create, alter, adopt.
        for kind in sorted(CREATE_PHASE, key=lambda k: CREATE_PHASE[k]):
            for key in sorted(self.desired.of_kind(kind)):
                self._converge(kind, key, rebuilt)

        # 6. Identity providers: each statement alone, outside the batches.
        self._identity_providers()

        if self.taken:
            raise OwnershipError(ownership_message((), sorted(
                (kind, key, owner, cause) for (kind, key), (owner, cause) in self.taken.items())))
        present, wanted_now = self.current.objects, self.desired.objects
        # Forgotten: rows of objects gone from catalog and model, and rows of objects another model manages too
        # (two owners, as earlier versions allowed): released without DDL, the other model keeps them.
        forget = [LedgerEntry(kind, key, fingerprint) for (kind, key), fingerprint in self.ledger.items()
                  if (key not in present.get(kind, _NONE) or (kind, key) in self.owners)
                  and key not in wanted_now.get(kind, _NONE)]
        self.statements.sort(key=lambda s: (s.phase, s.sort_key))
        return Plan(self.statements, sorted(self.adopt, key=lambda e: (e.kind, e.key)),
                    sorted(forget, key=lambda e: (e.kind, e.key)), self._others_skipped())

    def _others_skipped(self) -> int:
        """Objects present that other models manage and this one would remove if they were not theirs: with
        prune, all of them (none is desired: that was refused); without, those its own ledger also records."""
        present = self.current.objects
        return sum(1 for (kind, key) in self.owners
                   if key in present.get(kind, _NONE) and (self.prune or (kind, key) in self.ledger))

    def _converge(self, kind: str, key: tuple[str, ...], rebuilt: set[tuple[str, tuple[str, ...]]]) -> None:
        wanted = self.desired.of_kind(kind)[key]
        present = self.current.get(kind, key)
        if present is None or (kind, key) in self.removed or (kind, key) in rebuilt:
            # remove=True: a managed object that drifted away (or was rebuilt) keeps one ledger row.
            phase = SWAP_PHASE[kind] if (kind, key) in self.swapped else CREATE_PHASE[kind]
            self._emit(phase, wanted, create_sql(wanted), add=True, remove=True)
            return
        recorded = self.ledger.get((kind, key))
        if isinstance(wanted, RlsPolicy | MaskingPolicy):
            if recorded is None and self._verified(wanted, key):
                self.adopt.append(self._entry(wanted))
                return
            if recorded != wanted.fingerprint(self.cs):
                # Same WITH (else it was rebuilt above): the predicate alone changed.
                self.statements.append(Statement(
                    phase=ALTER_USING_PHASE[kind], sort_key=(kind, *key), sql=alter_using_sql(wanted),
                    ledger_add=(self._entry(wanted),),
                    ledger_remove=(self._entry(wanted),) if recorded is not None else (),
                ))
            return
        if isinstance(wanted, RlsTable) and wanted.attributes(self.cs) != present.attributes(self.cs):
            self._emit(CREATE_PHASE[kind], wanted, create_sql(wanted), add=True, remove=recorded is not None)
            return
        if recorded is None:
            self.adopt.append(self._entry(wanted))


    # -- external schemas and databases

    def _alone(self, phase: int, item: AccessObject, step: str, sql: str, *, add: bool) -> Statement:
        entry = self._entry(item)
        managed = self._managed(item)
        return Statement(phase=phase, sort_key=(item.KIND, *self._key(item), step), sql=sql, transactional=False,
                         ledger_add=(entry,) if add else (), ledger_remove=(entry,) if managed else ())

    def _external_objects(self) -> None:
        """Created when neither the catalog nor the ledger has them; replaced (drop, create) when the ledger's
        fingerprint differs; dropped only when the ledger says we made them (never pruned: a datashare
        database or external schema someone else made is theirs). Which views list databases made FROM
        ARN is unconfirmed, so a ledger row counts as present too: a database we made is never made twice,
        and one no view shows is never dropped (its ledger row is forgotten once the model drops it)."""
        for kind in EXTERNAL_KINDS:
            for key, wanted in sorted(self.desired.of_kind(kind).items()):
                present = self.current.get(kind, key)
                recorded = self.ledger.get((kind, key))
                if present is None and recorded is None:
                    self.statements.append(self._alone(IDENTITY_PROVIDER_PHASE, wanted, "1", create_sql(wanted),
                                                       add=True))
                elif recorded is None:
                    self.adopt.append(self._entry(wanted))
                elif recorded != wanted.fingerprint(self.cs):
                    existing = present or wanted
                    self.statements.append(self._alone(IDENTITY_PROVIDER_PHASE, existing, "0", remove_sql(existing),
                                                       add=False))
                    self.statements.append(self._alone(IDENTITY_PROVIDER_PHASE, wanted, "1", create_sql(wanted),
                                                       add=True))
                    self._regrant_on(kind, key[0])
            for key, present in sorted(self.current.of_kind(kind).items()):
                if (key not in self.desired.of_kind(kind) and self._managed(present, key)
                        and (kind, key) not in self.owners):
                    self._grants_on(kind, key[0], f"dropping {kind} {key[0]}")
                    self.statements.append(self._alone(IDENTITY_PROVIDER_DROP_PHASE, present, "1",
                                                       remove_sql(present), add=False))

    def _grants_on(self, kind: str, name: str, cause: str) -> list[tuple[str, tuple[str, ...]]]:
        """The grants a DROP of external object `name` takes along, as (kind, key); another model's refuse the
        plan (taken along by `cause`) and are not returned."""
        dependent = DatabasePrivilege.KIND if kind == ExternalDatabase.KIND else SchemaPrivilege.KIND
        found: list[tuple[str, tuple[str, ...]]] = []
        for item in self._current_items(dependent):
            key = self._key(item)
            if key[0] != name:
                continue
            owner = self.owners.get((dependent, key))
            if owner is None:
                found.append((dependent, key))
            else:
                self.taken.setdefault((dependent, key), (owner, cause))
        return found

    def _regrant_on(self, kind: str, name: str) -> None:
        """A dropped and re-created external object lost its grants: the create phase grants them again."""
        self.removed.update(self._grants_on(kind, name, f"replacing {kind} {name}"))

    # -- identity providers

    def _idp_statement(self, phase: int, item: IdentityProvider, step: str, sql: str,
                       with_secrets: Callable[[Mapping[SecretRef, str]], str] | None = None) -> Statement:
        secrets = tuple((arn, key) for _, arn, key in item.secrets) if with_secrets is not None else ()
        return Statement(phase=phase, sort_key=(item.KIND, *item.key(self.cs), step), sql=sql, transactional=False,
                         secrets=secrets, with_secrets=with_secrets if secrets else None)

    def _idp_create(self, item: IdentityProvider, step: str = "1") -> list[Statement]:
        """CREATE (then DISABLE: CREATE has no enable flag)."""
        made = [self._idp_statement(IDENTITY_PROVIDER_PHASE, item, step, create_identity_provider_sql(item),
                                    lambda resolved: create_identity_provider_sql(item, resolved))]
        if item.enabled is False:
            made.append(self._idp_statement(IDENTITY_PROVIDER_PHASE, item, f"{step}b",
                                            alter_identity_provider_sql(item, ["enabled"])))
        return made

    def _identity_providers(self) -> None:
        kind = IdentityProvider.KIND
        desired = self.desired.of_kind(kind)
        for key, present in sorted(self.current.of_kind(kind).items()):
            if key in desired or not self._may_remove(present):
                continue
            assert isinstance(present, IdentityProvider)
            drop = self._idp_statement(IDENTITY_PROVIDER_DROP_PHASE, present, "0",
                                       drop_identity_provider_sql(present, self.cascade))
            self.statements.append(dataclasses.replace(drop, ledger_remove=(self._entry(present),)
                                                       if self._managed(present) else ()))
        for key, wanted in sorted(desired.items()):
            assert isinstance(wanted, IdentityProvider)
            existing = self.current.get(kind, key)
            recorded = self.ledger.get((kind, key))
            old = (LedgerEntry(kind, key, recorded),) if recorded is not None else ()
            new = (self._entry(wanted),)
            if existing is None:
                # Missing (managed and dropped by hand, or never made): one ledger row either way.
                made = self._idp_create(wanted)
                self.statements += [dataclasses.replace(made[0], ledger_add=new, ledger_remove=old), *made[1:]]
                continue
            assert isinstance(existing, IdentityProvider)
            if recorded is None and self._verified(wanted, key):
                self.adopt.append(self._entry(wanted))
                continue
            statements = self._idp_changes(wanted, existing, recorded)
            if statements:
                # The ledger row changes with the CREATE of a replacement, else with the last ALTER.
                at = next((i for i, st in enumerate(statements) if st.sql.startswith("CREATE ")), len(statements) - 1)
                statements[at] = dataclasses.replace(statements[at], ledger_add=new, ledger_remove=old)
                self.statements += statements

    def _idp_changes(self, wanted: IdentityProvider, present: IdentityProvider, recorded: str | None,
                     ) -> list[Statement]:
        """What takes an existing provider to `wanted`. Recorded: the fingerprint parts that changed. Not
        recorded (made by hand, or its ledger row was lost after the CREATE committed): its parameters,
        IAM role and role creation are unknown, so they are all set again (idempotent)."""
        parts = fingerprint_parts(recorded or "")
        target = fingerprint_parts(wanted.fingerprint(self.cs))
        if parts:
            replace = parts["type"] != target["type"] or parts["app"] != target["app"]
            clauses = [c for c in ("parameters", "namespace", "iam_role", "auto") if parts[c] != target[c]]
        else:
            replace = False
            clauses = [c for c, needed in (("parameters", _uses_parameters(wanted)),
                                           ("namespace", present.namespace != wanted.namespace),
                                           ("iam_role", bool(wanted.iam_role)), ("auto", True)) if needed]
        if present.type and present.type.lower() != wanted.type.lower():
            replace = True
        if replace:
            # TYPE and APPLICATION_ARN cannot be altered: drop (CASCADE only if the model says so), create.
            drop = self._idp_statement(IDENTITY_PROVIDER_PHASE, present, "0",
                                       drop_identity_provider_sql(present, self.cascade))
            return [drop, *self._idp_create(wanted)]
        # Nothing to set: a type without PARAMETERS, a provider without IAM role (ALTER cannot unset them).
        clauses = [c for c in clauses if (c != "parameters" or _uses_parameters(wanted))
                   and (c != "iam_role" or wanted.iam_role)]
        if present.enabled is not None:
            toggle = present.enabled != wanted.enabled
        else:
            toggle = not parts or parts["enabled"] != target["enabled"]
        statements: list[Statement] = []
        if toggle and wanted.enabled is False:  # disable first, enable last
            statements.append(self._idp_statement(IDENTITY_PROVIDER_PHASE, wanted, "0",
                                                  alter_identity_provider_sql(wanted, ["enabled"])))
        if clauses:
            statements.append(self._idp_statement(
                IDENTITY_PROVIDER_PHASE, wanted, "1", alter_identity_provider_sql(wanted, clauses),
                (lambda resolved: alter_identity_provider_sql(wanted, clauses, resolved))
                if "parameters" in clauses else None))
        if toggle and wanted.enabled is not False:
            statements.append(self._idp_statement(IDENTITY_PROVIDER_PHASE, wanted, "2",
                                                  alter_identity_provider_sql(wanted, ["enabled"])))
        return statements


def with_recorded(current: AccessState, ledger: Ledger) -> AccessState:
    """`current` plus the objects no catalog view shows (grants to RLS policies) that the ledger recorded, as
    long as what they hang on still exists: a lookup grant lives as long as its policy (DROP RLS POLICY takes
    it along, so a policy dropped by hand leaves no grant behind to revoke)."""
    recorded = [(kind, key) for kind, key in ledger if kind in LEDGER_ONLY_KINDS]
    if not recorded:
        return current
    result = AccessState.of(current, current.case_sensitive)
    policies = current.of_kind(RlsPolicy.KIND)
    for kind, key in sorted(recorded):
        if kind == RlsLookupGrant.KIND and len(key) == 3 and (key[2],) in policies:
            result.add(RlsLookupGrant(*key))
    return result


def plan(desired: AccessState, current: AccessState, ledger: Ledger | None = None, *, prune: bool = False,
         identity_provider_drop_cascade: bool = False, definitions: AccessState | None = None,
         owners: Owners | None = None) -> Plan:
    """The statements that take `current` to `desired`, in an order Redshift accepts. `definitions`: the
    catalog's own policy and identity provider definitions, when read (`snapshot`; see `_verified`).
    `owners`: the objects other access models manage (their ledger rows); raises OwnershipError when the
    plan would adopt, create, change or remove one of them."""
    if desired.case_sensitive != current.case_sensitive:
        raise ValueError("desired and current state must fold names the same way")
    recorded = ledger or {}
    if owners:  # other models' grants to RLS policies are current too (no view shows them): a dropped policy takes them
        recorded = {**dict.fromkeys(owners, ""), **recorded}
    current = with_recorded(current, recorded)
    # A large plan allocates a few hundred thousand objects, none of them in a reference cycle, next to
    # the states it reads: the cyclic collector would rescan all of them again and again (the larger the
    # catalog, the more), while reference counting frees everything anyway. It is paused, then restored.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Planner(desired, current, dict(ledger or {}), prune, identity_provider_drop_cascade,
                        definitions, owners).run()
    finally:
        if collecting:
            gc.enable()


def render(plan_: Plan, header: Callable[[Statement], str] | None = None) -> str:
    """Plain SQL for a pull request: one statement per block, each ended by `;`."""
    blocks = []
    for statement in plan_.statements:
        prefix = f"-- {header(statement)}\n" if header else ""
        blocks.append(f"{prefix}{statement.sql};")
    return "\n".join(blocks) + ("\n" if blocks else "")

"""`plan(desired, current, ledger) -> ordered SQL`: the pure heart of the reconciler.

Rules it keeps (REDSHIFT_REFERENCE.md section 8):
- It removes only what it manages (objects recorded in its ledger), or, when `prune` is on, grants and
  roles not desired; it never lifts a restriction it did not make unless the model lists the table in
  `lift_undeclared_restrictions` (`Scope`), and it never touches system (`sys:`, `ds:`) roles.
- No committed batch shows anyone more than before or after the deploy (README, "Safety guarantees"): revokes
  first, then what nothing uses yet, then the restriction changes in groups that each commit in one
  transaction (or under lockdown when too large), then what nothing uses any more, then grants; the phases
  below say why. Grants to RLS policies have no catalog view: the ledger is their current state
  (`with_recorded`).
- A role being dropped first loses every privilege the catalog shows for it (DROP ROLE fails while
  any is left), and every policy attachment.
- Policy definitions are compared by fingerprint with the ledger, never with the catalog's rewritten
  text: a changed USING is an ALTER, changed WITH columns a detach/drop/create/attach.
- Policy text drift (`stored`: the hash of each policy's catalog text, from the same read): a policy's ledger
  row also records the hash of its catalog text as first read after our CREATE/ALTER (`stored=pending` until
  then; recording it is a ledger-only change, `Plan.record`). A later read whose hash differs was edited by
  hand: an ALTER restores the model's USING (`Plan.text_drift` says which). A row of an older version has no
  such hash, so nothing vouches for the catalog's text: it is restored once, unless the catalog's definition
  is exactly the model's (`_verified`), whose hash is then recorded. Without `stored` (offline plans) none of
  this applies.
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
  ledger for such an object (two owners, as earlier versions allowed) is forgotten, never acted on. (A lockdown
  revokes and restores their SELECT grants on its tables too: while it lasts nobody may read them.)
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
    STORED_PENDING,
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
    policy_parts,
    recorded_fingerprint,
    with_part,
)
from redshift_idc.runtime.sql_text import RESERVED_ROLE_PREFIXES, fold, quote_ident, quote_literal, quote_qualified

Ledger = dict[tuple[str, tuple[str, ...]], str]  # (kind, key) -> fingerprint
Owners = Mapping[tuple[str, tuple[str, ...]], str]  # (kind, key) -> the other access model whose ledger holds it
StoredHashes = Mapping[tuple[str, tuple[str, ...]], str]  # (kind, key) of a policy -> hash of its catalog text
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
    # What the statement does to the access state, removals first: what the transition check replays.
    removes: tuple[AccessObject, ...] = field(default=(), compare=False, repr=False)
    adds: tuple[AccessObject, ...] = field(default=(), compare=False, repr=False)
    # Statements that share a non-empty group commit in one transaction: `ledger.steps` never splits a group.
    group: str = ""
    # What a reviewer should know about this statement ("widens access: ...", "lockdown: ..."), shown above it.
    note: str = ""

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
    # What the plan leaves alone on purpose and a reviewer should know (restrictions prune may not lift).
    notes: list[str] = field(default_factory=list)
    # Ledger rows replaced, no DDL: policies whose catalog text was read for the first time since our
    # CREATE/ALTER, now recorded with its hash (`stored=<hash>` instead of `pending`).
    record: list[LedgerEntry] = field(default_factory=list)
    # Policies whose catalog text is not what the ledger recorded (a hand edit, or a row of an older version
    # that recorded none): each has an ALTER among `statements` that restores the model's USING.
    text_drift: list[TextDrift] = field(default_factory=list)
    # Objects present that other access models manage and this one would otherwise remove (prune): left alone.
    others_skipped: int = 0

    @property
    def sql(self) -> list[str]:
        return [s.sql for s in self.statements]

    def __bool__(self) -> bool:
        return bool(self.statements or self.adopt or self.forget or self.record)


@dataclass(frozen=True)
class TextDrift:
    """A policy whose catalog text changed since the ledger recorded its hash (`recorded`), or, with
    `recorded` empty, whose row (of an older version) recorded none."""

    kind: str
    key: tuple[str, ...]
    recorded: str = ""


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
#
# The order keeps the rule (README, "Safety guarantees"): after every committed batch, what any principal sees
# is contained in what it saw before the deploy or what it sees after it. What a principal sees of a table
# depends on its privileges, on the roles it holds and on the table's restrictions (RLS, its policies and their
# attachments, masking). Privileges alone are monotone: fewer show less, more show more. So:
#
#   1. revokes (narrowing): object privileges, and role grants whose roles carry no RLS or masking attachment;
#   2. lockdown (narrowing): SELECT revoked on the tables of a restriction change too large for one transaction;
#   3. what nothing uses yet: CREATE ROLE, new policies and their lookup grants;
#   4. restriction changes, one group per set of tables they link (a policy altered or rebuilt links the tables
#      it is attached to; a role grant whose roles carry attachments links the tables those roles reach): every
#      RLS and masking change of those tables in one transaction, so each table goes from its old restrictions to
#      its new ones at once. A group too large for a transaction runs while its tables are locked down instead;
#   5. what nothing uses any more: policies no longer attached, lookup grants of dropped policies, DROP ROLE;
#   6. grants (widening), then the lockdown's grants restored.
#
# Identity providers, external schemas and databases run alone before (create) and after (drop) the batches,
# deprovisioned users after the model.
REVOKE_PHASE: dict[str, int] = {
    SystemPrivilege.KIND: 10, ColumnPrivilege.KIND: 11, TablePrivilege.KIND: 12, ScopedTablePrivilege.KIND: 13,
    SchemaPrivilege.KIND: 14, DatabasePrivilege.KIND: 15, RoleGrant.KIND: 16,
}
LOCKDOWN_PHASE = 17
PREPARE_PHASE: dict[str, int] = {Role.KIND: 20, RlsPolicy.KIND: 21, RlsLookupGrant.KIND: 22, MaskingPolicy.KIND: 23}
RESTRICTION_PHASE = 30
CLEANUP_PHASE: dict[str, int] = {RlsLookupGrant.KIND: 40, RlsPolicy.KIND: 41, MaskingPolicy.KIND: 42, Role.KIND: 45}
GRANT_PHASE: dict[str, int] = {
    RoleGrant.KIND: 50, DatabasePrivilege.KIND: 51, SchemaPrivilege.KIND: 52, ScopedTablePrivilege.KIND: 53,
    TablePrivilege.KIND: 54, ColumnPrivilege.KIND: 55, SystemPrivilege.KIND: 56,
}
RESTORE_PHASE = 57
# Orders Redshift accepts for creating and for removing objects kind by kind (what a plan does with one kind
# of change at a time); `_converge` visits the desired kinds in CREATE_ORDER.
REMOVE_ORDER: dict[str, int] = {kind: n for n, kind in enumerate((
    SystemPrivilege.KIND, ColumnPrivilege.KIND, TablePrivilege.KIND, ScopedTablePrivilege.KIND, SchemaPrivilege.KIND,
    DatabasePrivilege.KIND, RoleGrant.KIND, MaskingAttachment.KIND, RlsTable.KIND, RlsAttachment.KIND,
    RlsLookupGrant.KIND, RlsPolicy.KIND, MaskingPolicy.KIND, Role.KIND))}
CREATE_ORDER: dict[str, int] = {kind: n for n, kind in enumerate((
    Role.KIND, RoleGrant.KIND, DatabasePrivilege.KIND, SchemaPrivilege.KIND, ScopedTablePrivilege.KIND,
    TablePrivilege.KIND, ColumnPrivilege.KIND, RlsPolicy.KIND, RlsLookupGrant.KIND, RlsAttachment.KIND,
    RlsTable.KIND, MaskingPolicy.KIND, MaskingAttachment.KIND, SystemPrivilege.KIND))}
# Kinds whose statements are restriction changes of a table (phase 4), and the privileges a lockdown revokes.
RESTRICTION_KINDS = frozenset({RlsAttachment.KIND, RlsTable.KIND, MaskingAttachment.KIND})
POLICY_KINDS = frozenset({RlsPolicy.KIND, MaskingPolicy.KIND})
# Statements of one restriction group in an order Redshift accepts inside one transaction (and across batches,
# for a locked-down group): detach before drop, drop before create, create before attach, a masking policy
# detached from a column before another takes its priority.
_GROUP_STEP: dict[tuple[str, str], int] = {
    ("remove", RoleGrant.KIND): 0, ("remove", MaskingAttachment.KIND): 1, ("remove", RlsTable.KIND): 2,
    ("remove", RlsAttachment.KIND): 3, ("remove", RlsLookupGrant.KIND): 4, ("remove", RlsPolicy.KIND): 5,
    ("remove", MaskingPolicy.KIND): 6, ("add", RlsPolicy.KIND): 7, ("add", MaskingPolicy.KIND): 8,
    ("add", RlsLookupGrant.KIND): 9, ("alter", RlsPolicy.KIND): 10, ("alter", MaskingPolicy.KIND): 11,
    ("add", RlsAttachment.KIND): 12, ("alter", RlsTable.KIND): 13, ("add", RlsTable.KIND): 13,
    ("add", MaskingAttachment.KIND): 14, ("add", RoleGrant.KIND): 15,
}
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
# A restriction group holds at most this many statements, so that with its ledger rows (one DELETE, one INSERT)
# and the reconciler's own statements it fits one Data API batch (`ledger.steps` checks it).
LEDGER_STATEMENTS_PER_BATCH = 2
BATCH_STATEMENTS = 40  # BatchExecuteStatement's limit
# The reconciler's own statements in every batch: the fence's guard and the progress (`ledger.py` reserves them).
RESERVED_STATEMENTS = 2
DEFAULT_GROUP_LIMIT = BATCH_STATEMENTS - RESERVED_STATEMENTS - LEDGER_STATEMENTS_PER_BATCH


@dataclass(frozen=True)
class Scope:
    """What the model declares besides its objects: the tables it names (`tables:`), and those on which `prune`
    may lift RLS and masking the model does not declare (`lift_undeclared_restrictions`). `tables` None: not known
    (a model document of an older version), so prune lifts no restriction it did not make."""

    tables: frozenset[tuple[str, str]] | None = None
    lift: frozenset[tuple[str, str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {"tables": sorted([list(t) for t in self.tables or ()]), "lift": sorted([list(t) for t in self.lift])}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Scope:
        if not data:
            return cls()
        return cls(frozenset((str(s), str(t)) for s, t in data.get("tables", ())),
                   frozenset((str(s), str(t)) for s, t in data.get("lift", ())))

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


def table_of(item: AccessObject, key: tuple[str, ...]) -> tuple[str, str] | None:
    """The (folded) table a restriction or a table or column privilege is about, from its key."""
    if isinstance(item, RlsAttachment | MaskingAttachment):
        return (key[1], key[2])
    if isinstance(item, RlsTable | TablePrivilege | ColumnPrivilege):
        return (key[0], key[1])
    return None


def statement_action(statement: Statement) -> str:
    """'add', 'remove' or 'alter' (both: ALTER ... USING, a new conjunction type), from its effects."""
    if statement.adds and statement.removes:
        return "alter"
    return "add" if statement.adds else "remove"


class _Planner:
    def __init__(self, desired: AccessState, current: AccessState, ledger: Ledger, prune: bool,
                 identity_provider_drop_cascade: bool = False, definitions: AccessState | None = None,
                 scope: Scope | None = None, group_limit: int = DEFAULT_GROUP_LIMIT,
                 stored: StoredHashes | None = None, owners: Owners | None = None) -> None:
        self.definitions = definitions
        self.owners: Owners = owners or {}
        # Other models' objects a removal here would take along: (kind, key) -> (owner, which removal).
        self.taken: dict[tuple[str, tuple[str, ...]], tuple[str, str]] = {}
        self.stored = stored
        self.record: list[LedgerEntry] = []
        self.text_drift: list[TextDrift] = []
        self.desired = desired
        self.current = current
        self.ledger = ledger
        self.prune = prune
        self.cascade = identity_provider_drop_cascade
        self.cs = desired.case_sensitive
        self.scope = scope or Scope()
        self.group_limit = group_limit
        self.statements: list[Statement] = []
        self.adopt: list[LedgerEntry] = []
        self.notes: list[str] = []
        self.removed: set[tuple[str, tuple[str, ...]]] = set()  # (kind, key) gone from current by now
        self.rebuilt: set[tuple[str, tuple[str, ...]]] = set()  # policies dropped and created again
        self.locked: set[tuple[str, tuple[str, ...]]] = set()  # grants a lockdown revokes and restores
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
        declared = self.scope.tables if self.scope.tables is not None else frozenset()
        self._lift = {(self._fold(s), self._fold(t)) for s, t in self.scope.lift if (s, t) in declared}
        self._restrictions_by_role = self._index_restrictions_by_role()
        self._links: _Links | None = None

    # -- helpers

    def _fold(self, name: str) -> str:
        folded = self._folded.get(name)
        if folded is None:
            folded = self._folded[name] = fold(name, self.cs)
        return folded

    def _key(self, item: AccessObject) -> tuple[str, ...]:
        key = self._keys.get(id(item))
        return key if key is not None else item.key(self.cs)

    def _entry(self, item: AccessObject, key: tuple[str, ...] | None = None, stored: str = STORED_PENDING,
               ) -> LedgerEntry:
        """The ledger row of `item`; a policy's with `stored` as its catalog text's hash (default: pending, what
        a CREATE or ALTER records, as its own transaction cannot read the stored form back)."""
        return LedgerEntry(item.KIND, key if key is not None else self._key(item),
                           recorded_fingerprint(item, self.cs, stored))

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

    def _phase(self, item: AccessObject, key: tuple[str, ...], action: str) -> int:
        """Where a statement goes in the order the module's phases describe."""
        kind = item.KIND
        if kind in RESTRICTION_KINDS:
            return RESTRICTION_PHASE
        if kind in POLICY_KINDS:
            if action == "alter" or (kind, key) in self.rebuilt:
                return RESTRICTION_PHASE
            return PREPARE_PHASE[kind] if action == "add" else CLEANUP_PHASE[kind]
        if kind == RlsLookupGrant.KIND:
            if (RlsPolicy.KIND, (key[2],)) in self.rebuilt:
                return RESTRICTION_PHASE
            return PREPARE_PHASE[kind] if action == "add" else CLEANUP_PHASE[kind]
        if kind == Role.KIND:
            return PREPARE_PHASE[kind] if action == "add" else CLEANUP_PHASE[kind]
        if isinstance(item, RoleGrant) and self._links_of().carries_restrictions(self._fold(item.role)):
            return RESTRICTION_PHASE
        return GRANT_PHASE[kind] if action == "add" else REVOKE_PHASE[kind]

    def _emit(self, item: AccessObject, sql: str, action: str, *, add: bool = False, remove: bool = False,
              key: tuple[str, ...] | None = None, before: AccessObject | None = None) -> None:
        """A statement with its phase, ledger rows and effects: `action` 'add' creates `item`, 'remove' removes
        it, 'alter' replaces `before` (the current object) with it."""
        key = key if key is not None else self._key(item)
        entry = self._entry(item, key) if add or remove else None
        removes: tuple[AccessObject, ...] = ((before,) if before is not None else ()) if action == "alter" else (
            (item,) if action == "remove" else ())
        self.statements.append(Statement(
            phase=self._phase(item, key, action),
            sort_key=(item.KIND, *key),
            sql=sql,
            ledger_add=(entry,) if entry is not None and add else (),
            ledger_remove=(entry,) if entry is not None and remove and self._managed(item, key) else (),
            removes=removes,
            adds=(item,) if action in ("add", "alter") else (),
            note=self._lift_note(item, key) if action == "remove" else "",
        ))

    def _lift_note(self, item: AccessObject, key: tuple[str, ...]) -> str:
        if item.KIND in RESTRICTION_KINDS and not self._managed(item, key):
            table = table_of(item, key)
            shown = f"{table[0]}.{table[1]}" if table else "?"
            return (f"widens access: prune lifts a restriction the model does not declare on {shown} "
                    "(lift_undeclared_restrictions)")
        if isinstance(item, RlsTable):
            return "widens access: row-level security goes off: the model no longer declares it on this table"
        return ""

    def _remove(self, item: AccessObject, *, because: str = "") -> None:
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
        self._emit(item, remove_sql(item), "remove", remove=True, key=key)

    def _current_items(self, kind: str) -> list[AccessObject]:
        return self._sorted.get(kind, [])

    # -- prune never lifts a restriction the model does not declare

    def _index_restrictions_by_role(self) -> dict[str, list[AccessObject]]:
        found: dict[str, list[AccessObject]] = {}
        for kind in (RlsAttachment.KIND, MaskingAttachment.KIND):
            for item in self._current_items(kind):
                grantee = getattr(item, "grantee", "")
                if grantee != PUBLIC_GRANTEE:
                    found.setdefault(self._fold(grantee), []).append(item)
        return found

    def _liftable(self, item: AccessObject, key: tuple[str, ...] | None = None) -> bool:
        """Whether a current restriction (RLS on a table, an RLS or masking attachment) may go: it is the
        model's (ledger), or prune is on and the model lists its table in lift_undeclared_restrictions."""
        key = key if key is not None else self._key(item)
        if self._managed(item, key):
            return True
        return self.prune and table_of(item, key) in self._lift

    def _kept_restrictions(self, role: str) -> list[AccessObject]:
        """The restrictions attached to a role that no plan may lift (a role that keeps one is never dropped:
        DROP ROLE would take its RLS attachments along and masking attachments block it). Another model's are not
        kept quietly: removing what they hang on refuses the plan, naming them (one owner per object)."""
        return [a for a in self._restrictions_by_role.get(role, ()) if not self._liftable(a) and not self._others(a)]

    def _others(self, item: AccessObject) -> bool:
        return bool(self.owners) and (item.KIND, self._key(item)) in self.owners

    def _may_remove(self, item: AccessObject, key: tuple[str, ...] | None = None) -> bool:
        if self.owners and (item.KIND, key if key is not None else self._key(item)) in self.owners:
            return False  # another model's: never removed here, not even by prune
        for name in _grantees(item):
            if is_system_role(name):
                return False
        if isinstance(item, Role) and is_system_role(item.name):
            return False
        key = key if key is not None else self._key(item)
        if isinstance(item, IdentityProvider):
            # Never pruned: connecting a namespace to IAM Identity Center may register its own provider
            # (unconfirmed), and dropping that would break every IdC sign-in. Only ledger rows are removed.
            return self._managed(item, key)
        if item.KIND in RESTRICTION_KINDS:
            return self._liftable(item, key)
        if isinstance(item, RlsPolicy | MaskingPolicy):
            kind = RlsAttachment.KIND if isinstance(item, RlsPolicy) else MaskingAttachment.KIND
            if not all(self._liftable(a) or self._others(a) for a in self._attached.get((kind, key[0]), ())):
                return False  # DROP refuses while attached, and a kept attachment stays
        if isinstance(item, Role) and self._kept_restrictions(key[0]):
            return False
        if is_public(item):
            # Never pruned either: Redshift gives PUBLIC defaults (USAGE and CREATE on schema public, TEMP
            # on databases [D24]) that no model lists; only what the ledger says we granted is revoked.
            return self._managed(item, key)
        return self.prune or self._managed(item, key)

    def _note_kept(self) -> None:
        """Say which restrictions the plan keeps though the model does not declare them, and why."""
        desired_roles = self.desired.of_kind(Role.KIND)
        for role in self._current_items(Role.KIND):
            key = self._key(role)
            if key in desired_roles or is_system_role(key[0]) or not (self.prune or self._managed(role, key)):
                continue
            kept = self._kept_restrictions(key[0])
            if kept:
                first = kept[0]
                self.notes.append(
                    f"role {key[0]} is kept: {first.describe()} is attached to it on a table the model does not "
                    "declare or does not list in lift_undeclared_restrictions, and dropping the role would lift it")
        if self.prune:
            for kind in sorted(RESTRICTION_KINDS):
                for item in self._current_items(kind):
                    key = self._key(item)
                    if (kind, key) not in self.removed and self.desired.get(kind, key) is None \
                            and not self._liftable(item, key):
                        self.notes.append(f"prune keeps {item.describe()}: a restriction the model does not declare "
                                          "(list its table in lift_undeclared_restrictions to lift it)")

    # -- the plan

    def run(self) -> Plan:
        kinds = sorted(set(REVOKE_PHASE) | RESTRICTION_KINDS | POLICY_KINDS | {RlsLookupGrant.KIND, Role.KIND})
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
        #    all their current attachments go, the policy is dropped and created again below, in one
        #    restriction group with the re-attachments.
        for policy_type, attachment_kind in ((RlsPolicy, RlsAttachment.KIND), (MaskingPolicy, MaskingAttachment.KIND)):
            for key, wanted in sorted(self.desired.of_kind(policy_type.KIND).items()):
                if self.current.get(policy_type.KIND, key) is None:
                    continue
                recorded = self.ledger.get((policy_type.KIND, key))
                if recorded is not None and with_part(recorded) == with_part(wanted.fingerprint(self.cs)):
                    continue  # same WITH: at most an ALTER ... USING below
                if recorded is None and self._verified(wanted, key):
                    continue  # the catalog shows it exactly as declared: adopted below
                self.rebuilt.add((policy_type.KIND, key))
                rebuilding = f"rebuilding {policy_type.KIND} {key[0]}"
                for attachment in self._attached.get((attachment_kind, key[0]), ()):
                    self._remove(attachment, because=rebuilding)
                for grant in self._lookups.get(key[0], ()):
                    self._remove(grant, because=rebuilding)  # the dropped policy loses its grants
                self._remove(self.current.of_kind(policy_type.KIND)[key])

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
                    self._remove(item)

        # 5. Create, alter, adopt.
        for kind in sorted(CREATE_ORDER, key=lambda k: CREATE_ORDER[k]):
            for key in sorted(self.desired.of_kind(kind)):
                self._converge(kind, key)

        # 6. Identity providers: each statement alone, outside the batches.
        self._identity_providers()

        # 7. Restriction changes grouped per set of tables they link; a group too large for one
        #    transaction locks its tables down instead.
        self._group_restrictions()
        self._note_kept()

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
                    sorted(forget, key=lambda e: (e.kind, e.key)), self.notes,
                    record=sorted(self.record, key=lambda e: (e.kind, e.key)),
                    text_drift=sorted(self.text_drift, key=lambda d: (d.kind, d.key)),
                    others_skipped=self._others_skipped())

    def _others_skipped(self) -> int:
        """Objects present that other models manage and this one would remove if they were not theirs: with
        prune, all of them (none is desired: that was refused); without, those its own ledger also records."""
        present = self.current.objects
        return sum(1 for (kind, key) in self.owners
                   if key in present.get(kind, _NONE) and (self.prune or (kind, key) in self.ledger))

    def _converge(self, kind: str, key: tuple[str, ...]) -> None:
        wanted = self.desired.of_kind(kind)[key]
        present = self.current.get(kind, key)
        if present is None or (kind, key) in self.removed:
            # remove=True: a managed object that drifted away (or was rebuilt) keeps one ledger row.
            self._emit(wanted, create_sql(wanted), "add", add=True, remove=True, key=key)
            return
        recorded = self.ledger.get((kind, key))
        if isinstance(wanted, RlsPolicy | MaskingPolicy):
            self._converge_policy(wanted, key, recorded, present)
            return
        if isinstance(wanted, RlsTable) and wanted.attributes(self.cs) != present.attributes(self.cs):
            assert isinstance(present, RlsTable)
            note = ("widens access: the conjunction type goes from AND to OR (each applicable policy adds rows)"
                    if present.conjunction.upper() == "AND" else "")
            self.statements.append(Statement(
                phase=RESTRICTION_PHASE, sort_key=(kind, *key), sql=create_sql(wanted),
                ledger_add=(self._entry(wanted),), ledger_remove=(self._entry(wanted),) if recorded is not None else (),
                removes=(present,), adds=(wanted,), note=note))
            return
        if recorded is None:
            self.adopt.append(self._entry(wanted))

    def _converge_policy(self, wanted: RlsPolicy | MaskingPolicy, key: tuple[str, ...], recorded: str | None,
                         present: AccessObject) -> None:
        """A policy that exists with the model's WITH columns (else it was rebuilt): adopted, altered to the
        model's USING (the model changed, or the catalog's text is not what was recorded), or its ledger row
        takes the hash of the catalog's text (first read since our CREATE/ALTER, or a verified older row)."""
        seen = self.stored.get((wanted.KIND, key)) if self.stored is not None else None
        if recorded is None:
            # Unrecorded and not verified was rebuilt above: only the verified adoption gets here.
            if self._verified(wanted, key):
                self.adopt.append(self._entry(wanted, key, seen or STORED_PENDING))
            return
        definition, stored = policy_parts(recorded)
        if definition != wanted.fingerprint(self.cs):
            self._alter_using(wanted, key, present)  # the model's predicate changed
        elif seen is None:
            return  # the catalog's text was not read: nothing to compare it with
        elif stored == STORED_PENDING:
            self.record.append(self._entry(wanted, key, seen))
        elif stored is None and self._verified(wanted, key):
            self.record.append(self._entry(wanted, key, seen))  # an older row, its text vouched for by the catalog
        elif stored != seen:
            self.text_drift.append(TextDrift(wanted.KIND, key, stored or ""))
            self._alter_using(wanted, key, present)

    def _alter_using(self, wanted: RlsPolicy | MaskingPolicy, key: tuple[str, ...], present: AccessObject) -> None:
        """ALTER ... USING the model's predicate (a restriction change of every table the policy is attached to);
        the row records the new definition, its catalog text pending."""
        entry = self._entry(wanted, key)
        self.statements.append(Statement(phase=RESTRICTION_PHASE, sort_key=(wanted.KIND, *key),
                                         sql=alter_using_sql(wanted), ledger_add=(entry,), ledger_remove=(entry,),
                                         removes=(present,), adds=(wanted,)))

    # -- restriction groups

    def _links_of(self) -> _Links:
        if self._links is None:
            self._links = _Links(self)
        return self._links

    def _group_restrictions(self) -> None:
        """Put the restriction statements (phase RESTRICTION_PHASE) into groups, one per set of tables they
        link, each contiguous and in an order Redshift accepts: one transaction when it holds at most
        `group_limit` statements, else the tables are locked down while it applies across batches."""
        members = [i for i, s in enumerate(self.statements) if s.phase == RESTRICTION_PHASE]
        if not members:
            return
        links = self._links_of()
        parent: dict[tuple[str, str], tuple[str, str]] = {}

        def find(table: tuple[str, str]) -> tuple[str, str]:
            root = parent.setdefault(table, table)
            while root != parent[root]:
                root = parent[root]
            while parent[table] != root:
                parent[table], table = root, parent[table]
            return root

        tables_of: dict[int, set[tuple[str, str]]] = {}
        for i in members:
            tables = links.tables_of(self.statements[i]) or {links.anchor(self.statements[i])}
            tables_of[i] = tables
            first, *rest = sorted(tables)
            for table in rest:
                parent[find(table)] = find(first)
        groups: dict[tuple[str, str], list[int]] = {}
        for i in members:
            groups.setdefault(find(min(tables_of[i])), []).append(i)
        ordered = sorted(groups.values(), key=lambda g: min(min(tables_of[i]) for i in g))
        self._note_unreplaced_masking(members)
        for number, group in enumerate(ordered):
            locked = len(group) > self.group_limit
            for i in group:
                statement = self.statements[i]
                kind = (statement.adds or statement.removes)[0].KIND
                rank = _GROUP_STEP[(statement_action(statement), kind)]
                self.statements[i] = dataclasses.replace(
                    statement, sort_key=(f"{number:06d}", f"{rank:02d}", *statement.sort_key),
                    group="" if locked else f"restrictions-{number}")
            if locked:
                tables = set().union(*(tables_of[i] for i in group))
                self._lockdown(tables, number, len(group))

    def _note_unreplaced_masking(self, members: list[int]) -> None:
        """A masking detach that no attach replaces on the same column and grantee lifts the masking."""
        attached = set()
        for i in members:
            for item in self.statements[i].adds:
                if isinstance(item, MaskingAttachment):
                    for column in item.output_columns:
                        attached.add((self._fold(item.schema), self._fold(item.table), self._fold(column),
                                      self._fold(item.grantee)))
        for i in members:
            statement = self.statements[i]
            if statement.note or statement.adds or not statement.removes:
                continue
            item = statement.removes[0]
            if isinstance(item, MaskingAttachment) and any(
                    (self._fold(item.schema), self._fold(item.table), self._fold(c), self._fold(item.grantee))
                    not in attached for c in item.output_columns):
                self.statements[i] = dataclasses.replace(
                    statement, note="widens access: the column is no longer masked for this grantee by this policy")

    def _lockdown(self, tables: set[tuple[str, str]], number: int, size: int) -> None:
        """Revoke SELECT on `tables` from everyone who holds it (table, column and scoped grants, PUBLIC's
        included) before the group applies, and grant it again after: while a restriction change too large for
        one transaction applies, nobody but the tables' owners and superusers can read them."""
        shown = ", ".join(f"{s}.{t}" for s, t in sorted(tables) if s)
        note = (f"lockdown: {shown} unreadable while {size} restriction changes (more than one transaction holds) "
                "apply, then granted again")
        schemas = {s for s, _ in tables}
        for kind in (ScopedTablePrivilege.KIND, TablePrivilege.KIND, ColumnPrivilege.KIND):
            for item in self._current_items(kind):
                key = self._key(item)
                if (kind, key) in self.removed or (kind, key) in self.locked:
                    continue
                if getattr(item, "privilege", "") != "SELECT" or any(is_system_role(g) for g in _grantees(item)):
                    continue
                if (key[0] in schemas) if kind == ScopedTablePrivilege.KIND else (table_of(item, key) in tables):
                    self.locked.add((kind, key))
                    self.statements.append(Statement(
                        phase=LOCKDOWN_PHASE, sort_key=(f"{number:06d}", kind, *key), sql=remove_sql(item),
                        removes=(item,), note=note))
                    self.statements.append(Statement(
                        phase=RESTORE_PHASE, sort_key=(kind, *key), sql=create_sql(item), adds=(item,),
                        note=f"lockdown of {shown} ends"))


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


class _Links:
    """What ties restriction statements to tables: the tables each policy is attached to, the roles each
    role reaches through role grants, and what those roles hold (both states: the plan goes from one to the
    other)."""

    def __init__(self, planner: _Planner) -> None:
        self.planner = planner
        fold_name = planner._fold
        states = (planner.current, planner.desired)
        self.policy_tables: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self.role_tables: dict[str, set[tuple[str, str]]] = {}
        self.restricting: set[str] = set()
        self.granted: dict[str, set[str]] = {}
        schema_tables: dict[str, set[tuple[str, str]]] = {}
        for s, t in planner.scope.tables or ():
            schema_tables.setdefault(fold_name(s), set()).add((fold_name(s), fold_name(t)))
        for state in states:
            for kind in (RlsAttachment.KIND, MaskingAttachment.KIND, RlsTable.KIND, TablePrivilege.KIND,
                         ColumnPrivilege.KIND):
                for key in state.of_kind(kind):
                    table = (key[1], key[2]) if kind in (RlsAttachment.KIND, MaskingAttachment.KIND) else key[:2]
                    schema_tables.setdefault(table[0], set()).add((table[0], table[1]))
        for state in states:
            for kind, policy_kind in ((RlsAttachment.KIND, RlsPolicy.KIND), (MaskingAttachment.KIND,
                                                                             MaskingPolicy.KIND)):
                for key, item in state.of_kind(kind).items():
                    table = (key[1], key[2])
                    self.policy_tables.setdefault((policy_kind, key[0]), set()).add(table)
                    grantee = key[-1] if kind == RlsAttachment.KIND else key[4]
                    if getattr(item, "grantee", "") != PUBLIC_GRANTEE:
                        self.restricting.add(grantee)
                        self.role_tables.setdefault(grantee, set()).add(table)
            for key in state.of_kind(RoleGrant.KIND):
                self.granted.setdefault(key[1], set()).add(key[0])
            for kind in (TablePrivilege.KIND, ColumnPrivilege.KIND):
                for key in state.of_kind(kind):
                    self.role_tables.setdefault(key[-1], set()).add((key[0], key[1]))
            for kind in (ScopedTablePrivilege.KIND, SchemaPrivilege.KIND):
                for key in state.of_kind(kind):
                    self.role_tables.setdefault(key[-1], set()).update(schema_tables.get(key[0], ()))
        self._closures: dict[str, frozenset[str]] = {}

    def closure(self, role: str) -> frozenset[str]:
        """`role` and every role granted to it, transitively (in either state)."""
        found = self._closures.get(role)
        if found is None:
            seen = {role}
            todo = [role]
            while todo:
                for granted in self.granted.get(todo.pop(), ()):
                    if granted not in seen:
                        seen.add(granted)
                        todo.append(granted)
            found = self._closures[role] = frozenset(seen)
        return found

    def carries_restrictions(self, role: str) -> bool:
        """Whether granting or revoking `role` changes a principal's restrictions, not only its privileges."""
        return not self.restricting.isdisjoint(self.closure(role))

    def anchor(self, statement: Statement) -> tuple[str, str]:
        """What groups a restriction statement that reaches no table (a policy attached nowhere, a role grant of
        roles holding nothing): its policy, so a rebuild's drop and create stay together, or itself."""
        item = (statement.adds or statement.removes)[0]
        key = self.planner._key(item)
        if isinstance(item, RlsLookupGrant):
            return ("", f"{RlsPolicy.KIND} {key[2]}")
        return ("", f"{item.KIND} {json.dumps(list(key))}")

    def tables_of(self, statement: Statement) -> set[tuple[str, str]]:
        """The tables whose view a restriction statement changes."""
        item = (statement.adds or statement.removes)[0]
        key = self.planner._key(item)
        table = table_of(item, key)
        if table is not None:
            return {table}
        if isinstance(item, RlsPolicy | MaskingPolicy):
            return set(self.policy_tables.get((item.KIND, key[0]), ()))
        if isinstance(item, RlsLookupGrant):
            return set(self.policy_tables.get((RlsPolicy.KIND, key[2]), ()))
        if isinstance(item, RoleGrant):
            return set().union(*(self.role_tables.get(r, set()) for r in self.closure(key[0])))
        return set()


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
         scope: Scope | None = None, group_limit: int = DEFAULT_GROUP_LIMIT,
         stored: StoredHashes | None = None, owners: Owners | None = None) -> Plan:
    """The statements that take `current` to `desired`, in an order Redshift accepts and that never shows a
    principal more than before or after (see the phases). `definitions`: the catalog's own policy and identity
    provider definitions, when read (`snapshot`; see `_verified`). `scope`: the tables the model declares and those
    prune may lift restrictions on. `group_limit`: the most statements one restriction group may hold (what fits
    one batch with its ledger rows; `ledger.steps` must cut batches at least that large). `stored`: the hash of
    each policy's catalog text, from the same read (`Snapshot.stored_hashes()`); a policy absent from it is not
    compared (see `_converge_policy`). `owners`: the objects other access models manage (their ledger rows);
    raises OwnershipError when the plan would adopt, create, change or remove one of them."""
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
                        definitions, scope, group_limit, stored, owners).run()
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

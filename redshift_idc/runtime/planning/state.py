"""The shared state of one `plan()` call, which every phase family (`removals`, `convergence`,
`external_objects`, `identity_providers`, `restriction_groups`) reads and adds to: the two states and the ledger,
indexes of the current state built once, and what the plan has found so far. Its helpers are the ones every
family needs: names folded once, ledger rows, where a statement goes (`phase_of`) and the statement itself
(`emit`)."""

from __future__ import annotations

from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    STORED_PENDING,
    AccessObject,
    AccessState,
    DefaultPrivilege,
    IdentityProvider,
    LedgerEntry,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsLookupGrant,
    RlsPolicy,
    Role,
    RoleGrant,
    recorded_fingerprint,
    role_key,
)
from redshift_idc.runtime.planning.links import Links
from redshift_idc.runtime.planning.phases import (
    CLEANUP_PHASE,
    GRANT_PHASE,
    POLICY_KINDS,
    PREPARE_PHASE,
    RESTRICTION_KINDS,
    RESTRICTION_PHASE,
    REVOKE_PHASE,
)
from redshift_idc.runtime.planning.plan_types import Ledger, Owners, Statement, StoredHashes, TextDrift
from redshift_idc.runtime.planning.scope import Scope
from redshift_idc.runtime.sql_text import fold


class PlanState:
    """One plan in the making. Inputs (`desired`, `current`, `ledger`, `owners`, ...) are read only; `statements`,
    `adopt`, `record`, `text_drift` and `notes` become the `Plan`; `removed`, `rebuilt`, `locked` and `taken` are
    what one family tells the next (what is gone by now, which policies are rebuilt, which grants a lockdown
    holds, which of another model's objects a removal would take along)."""

    def __init__(self, desired: AccessState, current: AccessState, ledger: Ledger, prune: bool, *,
                 identity_provider_drop_cascade: bool, definitions: AccessState | None, scope: Scope | None,
                 group_limit: int, stored: StoredHashes | None, owners: Owners | None,
                 coalesce: bool = False) -> None:
        self.coalesce = coalesce  # statements will be coalesced (`coalesce.py`): groups are sized as sent
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
        self.keys: dict[int, tuple[str, ...]] = {
            id(item): key for state in (current, desired) for items in state.objects.values()
            for key, item in items.items()}
        self._folded: dict[str, str] = {}
        self.attached: dict[tuple[str, str], list[AccessObject]] = {}
        for kind in (RlsAttachment.KIND, MaskingAttachment.KIND):
            for item in self._sorted.get(kind, ()):
                assert isinstance(item, RlsAttachment | MaskingAttachment)
                self.attached.setdefault((kind, self.fold(item.policy)), []).append(item)
        self.lookups: dict[str, list[AccessObject]] = {}
        for item in self._sorted.get(RlsLookupGrant.KIND, ()):
            assert isinstance(item, RlsLookupGrant)
            self.lookups.setdefault(self.fold(item.policy), []).append(item)
        declared = self.scope.tables if self.scope.tables is not None else frozenset()
        # The declared tables prune may lift restrictions on, folded.
        self.lift = {(self.fold(s), self.fold(t)) for s, t in self.scope.lift if (s, t) in declared}
        self.restrictions_by_role = self._index_restrictions_by_role()
        # Default privileges by the role they name (a role one names that the model did not set is kept: removals).
        self.defaults_by_role: dict[str, list[AccessObject]] = {}
        for item in self._sorted.get(DefaultPrivilege.KIND, ()):
            assert isinstance(item, DefaultPrivilege)
            if item.grantee != PUBLIC_GRANTEE:
                self.defaults_by_role.setdefault(role_key(item.grantee), []).append(item)
        self._links: Links | None = None

    def fold(self, name: str) -> str:
        folded = self._folded.get(name)
        if folded is None:
            folded = self._folded[name] = fold(name, self.cs)
        return folded

    def key(self, item: AccessObject) -> tuple[str, ...]:
        key = self.keys.get(id(item))
        return key if key is not None else item.key(self.cs)

    def current_items(self, kind: str) -> list[AccessObject]:
        return self._sorted.get(kind, [])

    def _index_restrictions_by_role(self) -> dict[str, list[AccessObject]]:
        found: dict[str, list[AccessObject]] = {}
        for kind in (RlsAttachment.KIND, MaskingAttachment.KIND):
            for item in self.current_items(kind):
                grantee = getattr(item, "grantee", "")
                if grantee != PUBLIC_GRANTEE:
                    found.setdefault(role_key(grantee), []).append(item)  # role names keep their case
        return found

    def links(self) -> Links:
        if self._links is None:
            self._links = Links(self.current, self.desired, self.scope.tables or (), self.fold, self.key)
        return self._links

    def entry(self, item: AccessObject, key: tuple[str, ...] | None = None, stored: str = STORED_PENDING,
              ) -> LedgerEntry:
        """The ledger row of `item`; a policy's with `stored` as its catalog text's hash (default: pending, what
        a CREATE or ALTER records, as its own transaction cannot read the stored form back)."""
        return LedgerEntry(item.KIND, key if key is not None else self.key(item),
                           recorded_fingerprint(item, self.cs, stored))

    def verified(self, wanted: AccessObject, key: tuple[str, ...]) -> bool:
        """Whether the catalog's own definition of an object the ledger does not know is the model's: a
        policy's WITH columns and USING text (`import` writes them as Redshift returns them), a provider's
        type, namespace, non-secret PARAMETERS and ENABLE, and an AWSIDC provider's application ARN and IAM role
        where the catalog shows them (`instanceid`, `params.iam_role`). What the catalog never shows (a
        provider's secret, AUTO_CREATE_ROLES, an ARN an older snapshot did not read) is taken as the model says:
        adopting keeps the warehouse as it is, where setting those again could only put a guess in place."""
        seen = self.definitions.get(wanted.KIND, key) if self.definitions is not None else None
        if isinstance(wanted, RlsPolicy | MaskingPolicy):
            return (isinstance(seen, type(wanted)) and bool(seen.using)
                    and seen.fingerprint(self.cs) == wanted.fingerprint(self.cs))
        if isinstance(wanted, IdentityProvider) and isinstance(seen, IdentityProvider):
            return (seen.type.lower() == wanted.type.lower() and seen.namespace == wanted.namespace
                    and seen.parameters == wanted.parameters and seen.enabled is not None
                    and seen.enabled == wanted.enabled
                    and (not seen.application_arn or seen.application_arn == wanted.application_arn)
                    and (not seen.iam_role or seen.iam_role == wanted.iam_role))
        return False

    def managed(self, item: AccessObject, key: tuple[str, ...] | None = None) -> bool:
        return (item.KIND, key if key is not None else self.key(item)) in self.ledger

    def phase_of(self, item: AccessObject, key: tuple[str, ...], action: str) -> int:
        """Where a statement goes in the order `phases.py` describes."""
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
        if isinstance(item, RoleGrant) and self.links().carries_restrictions(key[0]):
            return RESTRICTION_PHASE
        return GRANT_PHASE[kind] if action == "add" else REVOKE_PHASE[kind]

    def emit(self, item: AccessObject, sql: str, action: str, *, add: bool = False, remove: bool = False,
             key: tuple[str, ...] | None = None, note: str = "") -> None:
        """A statement with its phase, ledger rows and effects: `action` 'add' creates `item`, 'remove' removes
        it. `add`/`remove`: the statement also writes/deletes its ledger row (deleting only a row there is)."""
        key = key if key is not None else self.key(item)
        entry = self.entry(item, key) if add or remove else None
        self.statements.append(Statement(
            phase=self.phase_of(item, key, action),
            sort_key=(item.KIND, *key),
            sql=sql,
            ledger_add=(entry,) if entry is not None and add else (),
            ledger_remove=(entry,) if entry is not None and remove and self.managed(item, key) else (),
            removes=(item,) if action == "remove" else (),
            adds=(item,) if action == "add" else (),
            note=note,
        ))

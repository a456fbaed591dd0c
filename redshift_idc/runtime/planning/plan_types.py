"""What a plan is made of (`Statement`, `Plan`, `TextDrift`) and the mappings it reads besides the two states
(the ledger, other models' ownership, stored policy text hashes): what the reconciler, the ledger's batching, the
CLI and the review read, without the planner's machinery."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from redshift_idc.runtime.access_state import AccessObject, LedgerEntry

Ledger = dict[tuple[str, tuple[str, ...]], str]  # (kind, key) -> fingerprint
Owners = Mapping[tuple[str, tuple[str, ...]], str]  # (kind, key) -> the other access model whose ledger holds it
StoredHashes = Mapping[tuple[str, tuple[str, ...]], str]  # (kind, key) of a policy -> hash of its catalog text
SecretRef = tuple[str, str]  # (Secrets Manager secret ARN, JSON key in its SecretString, or "" for all of it)


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

    @property
    def covers(self) -> int:
        """How many objects the statement adds or removes: one, or for a statement for many objects
        (`planning/coalesce.py`) all of them (an ALTER both removes and adds its one object)."""
        return max(len(self.adds), len(self.removes), 1)

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


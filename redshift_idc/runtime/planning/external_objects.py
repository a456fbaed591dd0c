"""External schemas and databases (FROM ARN) in a plan. Like identity providers they run alone, outside the batches
(CREATE/DROP DATABASE cannot run in a transaction block [0.2]; the external schema with them, to be safe): created
before the batches that grant on them, dropped after the batches that revoke."""

from __future__ import annotations

from redshift_idc.runtime.access_state import (
    AccessObject,
    DatabasePrivilege,
    ExternalDatabase,
    ExternalSchema,
    SchemaPrivilege,
)
from redshift_idc.runtime.planning.object_sql import create_sql, remove_sql
from redshift_idc.runtime.planning.phases import IDENTITY_PROVIDER_DROP_PHASE, IDENTITY_PROVIDER_PHASE
from redshift_idc.runtime.planning.plan_types import Statement
from redshift_idc.runtime.planning.state import PlanState

EXTERNAL_KINDS = (ExternalDatabase.KIND, ExternalSchema.KIND)


def _alone(state: PlanState, phase: int, item: AccessObject, step: str, sql: str, *, add: bool) -> Statement:
    entry = state.entry(item)
    managed = state.managed(item)
    return Statement(phase=phase, sort_key=(item.KIND, *state.key(item), step), sql=sql, transactional=False,
                     ledger_add=(entry,) if add else (), ledger_remove=(entry,) if managed else ())


def external_objects(state: PlanState) -> None:
    """Created when neither the catalog nor the ledger has them; replaced (drop, create) when the ledger's
    fingerprint differs; dropped only when the ledger says we made them (never pruned: a datashare
    database or external schema someone else made is theirs). Which views list databases made FROM
    ARN is unconfirmed, so a ledger row counts as present too: a database we made is never made twice,
    and one no view shows is never dropped (its ledger row is forgotten once the model drops it)."""
    for kind in EXTERNAL_KINDS:
        for key, wanted in sorted(state.desired.of_kind(kind).items()):
            present = state.current.get(kind, key)
            recorded = state.ledger.get((kind, key))
            if present is None and recorded is None:
                state.statements.append(_alone(state, IDENTITY_PROVIDER_PHASE, wanted, "1", create_sql(wanted),
                                               add=True))
            elif recorded is None:
                state.adopt.append(state.entry(wanted))
            elif recorded != wanted.fingerprint(state.cs):
                existing = present or wanted
                state.statements.append(_alone(state, IDENTITY_PROVIDER_PHASE, existing, "0",
                                               remove_sql(existing), add=False))
                state.statements.append(_alone(state, IDENTITY_PROVIDER_PHASE, wanted, "1", create_sql(wanted),
                                               add=True))
                _regrant_on(state, kind, key[0])
        for key, present in sorted(state.current.of_kind(kind).items()):
            if (key not in state.desired.of_kind(kind) and state.managed(present, key)
                    and (kind, key) not in state.owners):
                _grants_on(state, kind, key[0], f"dropping {kind} {key[0]}")
                state.statements.append(_alone(state, IDENTITY_PROVIDER_DROP_PHASE, present, "1",
                                               remove_sql(present), add=False))


def _grants_on(state: PlanState, kind: str, name: str, cause: str) -> list[tuple[str, tuple[str, ...]]]:
    """The grants a DROP of external object `name` takes along, as (kind, key); another model's refuse the
    plan (taken along by `cause`) and are not returned."""
    dependent = DatabasePrivilege.KIND if kind == ExternalDatabase.KIND else SchemaPrivilege.KIND
    found: list[tuple[str, tuple[str, ...]]] = []
    for item in state.current_items(dependent):
        key = state.key(item)
        if key[0] != name:
            continue
        owner = state.owners.get((dependent, key))
        if owner is None:
            found.append((dependent, key))
        else:
            state.taken.setdefault((dependent, key), (owner, cause))
    return found


def _regrant_on(state: PlanState, kind: str, name: str) -> None:
    """A dropped and re-created external object lost its grants: the create phase grants them again."""
    state.removed.update(_grants_on(state, kind, name, f"replacing {kind} {name}"))

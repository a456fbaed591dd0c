"""What a plan creates, alters or adopts: every desired object, kind by kind in `CREATE_ORDER`, once the removals
are planned.

- Missing (or removed above: rebuilt, drifted away): created, with its ledger row.
- Present and not in the ledger: adopted (a ledger row, no DDL); a policy only when the catalog's own definition
  is exactly the model's (`PlanState.verified`), else it was rebuilt. A lookup grant, which no view shows, is
  adopted with the verified policy it came with (`_granted_with_policy`).
- A policy's definition is compared by fingerprint with the ledger, never with the catalog's rewritten text: a
  changed USING is an ALTER (a changed WITH was a rebuild). Its catalog text is compared by hash (`stored`): a
  row still `pending` since our CREATE/ALTER records the hash first read (`Plan.record`); a hash that differs
  from the recorded one was edited by hand, and an ALTER restores the model's USING (`Plan.text_drift`).
"""

from __future__ import annotations

from redshift_idc.runtime.access_state import (
    STORED_PENDING,
    AccessObject,
    MaskingPolicy,
    RlsLookupGrant,
    RlsPolicy,
    RlsTable,
    policy_parts,
)
from redshift_idc.runtime.planning.object_sql import alter_using_sql, create_sql
from redshift_idc.runtime.planning.phases import CREATE_ORDER, RESTRICTION_PHASE
from redshift_idc.runtime.planning.plan_types import Statement, TextDrift
from redshift_idc.runtime.planning.state import PlanState


def converge_desired(state: PlanState) -> None:
    for kind in sorted(CREATE_ORDER, key=lambda k: CREATE_ORDER[k]):
        for key in sorted(state.desired.of_kind(kind)):
            _converge(state, kind, key)


def _converge(state: PlanState, kind: str, key: tuple[str, ...]) -> None:
    wanted = state.desired.of_kind(kind)[key]
    present = state.current.get(kind, key)
    if present is None and isinstance(wanted, RlsLookupGrant) and _granted_with_policy(state, wanted):
        state.adopt.append(state.entry(wanted, key))
        return
    if present is None or (kind, key) in state.removed:
        # remove=True: a managed object that drifted away (or was rebuilt) keeps one ledger row.
        state.emit(wanted, create_sql(wanted), "add", add=True, remove=True, key=key)
        return
    recorded = state.ledger.get((kind, key))
    if isinstance(wanted, RlsPolicy | MaskingPolicy):
        _converge_policy(state, wanted, key, recorded, present)
        return
    if isinstance(wanted, RlsTable) and wanted.attributes(state.cs) != present.attributes(state.cs):
        assert isinstance(present, RlsTable)
        note = ("widens access: the conjunction type goes from AND to OR (each applicable policy adds rows)"
                if present.conjunction.upper() == "AND" else "")
        state.statements.append(Statement(
            phase=RESTRICTION_PHASE, sort_key=(kind, *key), sql=create_sql(wanted),
            ledger_add=(state.entry(wanted),), ledger_remove=(state.entry(wanted),) if recorded is not None else (),
            removes=(present,), adds=(wanted,), note=note))
        return
    if recorded is None:
        state.adopt.append(state.entry(wanted))


def _granted_with_policy(state: PlanState, wanted: RlsLookupGrant) -> bool:
    """Whether a lookup grant no view shows (REDSHIFT_REFERENCE.md 2.16) came with the policy being adopted: the
    policy exists, the ledger does not know it, nothing removes it, and the catalog's definition is the model's,
    so its stored text reads this table. CREATE RLS POLICY grants SELECT on the lookup table to the policy
    (r_CREATE_RLS_POLICY: "When you create a policy, Amazon Redshift grants the SELECT permission on the lookup
    table for the respective policy"; the current t_rls_ownership page also has GRANT ... TO RLS POLICY, which
    the plan still runs for every policy it creates): adopted, no DDL (assumed for today's Redshift). A
    recorded policy's grants are the ledger's (`planner.with_recorded`)."""
    key = (state.fold(wanted.policy),)
    policy = state.desired.get(RlsPolicy.KIND, key)
    return (isinstance(policy, RlsPolicy) and state.current.get(RlsPolicy.KIND, key) is not None
            and (RlsPolicy.KIND, key) not in state.ledger and (RlsPolicy.KIND, key) not in state.removed
            and state.verified(policy, key))


def _converge_policy(state: PlanState, wanted: RlsPolicy | MaskingPolicy, key: tuple[str, ...],
                     recorded: str | None, present: AccessObject) -> None:
    """A policy that exists with the model's WITH columns (else it was rebuilt): adopted, altered to the
    model's USING (the model changed, or the catalog's text is not what was recorded), or its ledger row
    takes the hash of the catalog's text (first read since our CREATE/ALTER, or a verified older row)."""
    seen = state.stored.get((wanted.KIND, key)) if state.stored is not None else None
    if recorded is None:
        # Unrecorded and not verified was rebuilt (`removals`): only the verified adoption gets here.
        if state.verified(wanted, key):
            state.adopt.append(state.entry(wanted, key, seen or STORED_PENDING))
        return
    definition, stored = policy_parts(recorded)
    if definition != wanted.fingerprint(state.cs):
        _alter_using(state, wanted, key, present)  # the model's predicate changed
    elif seen is None:
        return  # the catalog's text was not read: nothing to compare it with
    elif stored == STORED_PENDING:
        state.record.append(state.entry(wanted, key, seen))
    elif stored is None and state.verified(wanted, key):
        state.record.append(state.entry(wanted, key, seen))  # an older row, its text vouched for by the catalog
    elif stored != seen:
        state.text_drift.append(TextDrift(wanted.KIND, key, stored or ""))
        _alter_using(state, wanted, key, present)


def _alter_using(state: PlanState, wanted: RlsPolicy | MaskingPolicy, key: tuple[str, ...],
                 present: AccessObject) -> None:
    """ALTER ... USING the model's predicate (a restriction change of every table the policy is attached to);
    the row records the new definition, its catalog text pending."""
    entry = state.entry(wanted, key)
    state.statements.append(Statement(phase=RESTRICTION_PHASE, sort_key=(wanted.KIND, *key),
                                      sql=alter_using_sql(wanted), ledger_add=(entry,), ledger_remove=(entry,),
                                      removes=(present,), adds=(wanted,)))

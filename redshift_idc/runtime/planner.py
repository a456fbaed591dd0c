"""`plan(desired, current, ledger) -> ordered SQL`: the pure heart of the reconciler.

This module runs the phase families in order; each lives in `planning/` and works on one shared `PlanState`
(`planning/state.py`): `removals` (what goes, and what may not), `convergence` (create, alter, adopt),
`external_objects`, `identity_providers` and `restriction_groups` (with `links`: which statements commit together,
and lockdowns). The statement order is `planning/phases.py`, the SQL of each object kind `planning/object_sql.py`,
what a plan holds `planning/plan_types.py`.

Rules it keeps (REDSHIFT_REFERENCE.md section 8):
- It removes only what it manages (objects recorded in its ledger), or, when `prune` is on, grants and
  roles not desired; it never lifts a restriction it did not make unless the model lists the table in
  `lift_undeclared_restrictions` (`Scope`), and it never touches system (`sys:`, `ds:`) roles.
- No committed batch shows anyone more than before or after the deploy (README, "Safety guarantees"): revokes
  first, then what nothing uses yet, then the restriction changes in groups that each commit in one
  transaction (or under lockdown when too large), then what nothing uses any more, then grants; `planning/phases.py`
  says why. Grants to RLS policies have no catalog view: the ledger is their current state
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
  is exactly the model's (`PlanState.verified`), whose hash is then recorded. Without `stored` (offline plans) none of
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

import gc
from collections.abc import Callable

from redshift_idc.runtime.access_state import LEDGER_ONLY_KINDS, AccessState, LedgerEntry, RlsLookupGrant, RlsPolicy
from redshift_idc.runtime.planning.coalesce import coalesce as coalesce_statements
from redshift_idc.runtime.planning.convergence import converge_desired
from redshift_idc.runtime.planning.external_objects import external_objects
from redshift_idc.runtime.planning.identity_providers import identity_providers
from redshift_idc.runtime.planning.ownership import OwnershipError, declared_by_others, ownership_message
from redshift_idc.runtime.planning.plan_types import Ledger, Owners, Plan, Statement, StoredHashes
from redshift_idc.runtime.planning.removals import (
    note_kept,
    rebuild_changed_policies,
    remove_leaving_policies,
    remove_leaving_roles,
    remove_undesired,
)
from redshift_idc.runtime.planning.restriction_groups import DEFAULT_GROUP_LIMIT, group_restrictions
from redshift_idc.runtime.planning.role_names import RoleNames, match_role_names, rewrite_rows
from redshift_idc.runtime.planning.scope import Scope
from redshift_idc.runtime.planning.state import PlanState


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
         stored: StoredHashes | None = None, owners: Owners | None = None, coalesce: bool = False) -> Plan:
    """The statements that take `current` to `desired`, in an order Redshift accepts and that never shows a
    principal more than before or after (see `planning/phases.py`). `definitions`: the catalog's own policy and
    identity provider definitions, when read (`snapshot`; see `PlanState.verified`). `scope`: the tables the model
    declares and those prune may lift restrictions on. `group_limit`: the most statements one restriction group may
    hold (what fits one batch with its ledger rows; `ledger.steps` must cut batches at least that large). `stored`:
    the hash of each policy's catalog text, from the same read (`Snapshot.stored_hashes()`); a policy absent from it
    is not compared (see `planning/convergence.py`). `owners`: the objects other access models manage (their ledger
    rows); raises OwnershipError when the plan would adopt, create, change or remove one of them. `coalesce`: one
    statement for many objects where the grammar takes lists (`planning/coalesce.py`); what deploys use, off only
    to debug and where a test wants one statement per object."""
    if desired.case_sensitive != current.case_sensitive:
        raise ValueError("desired and current state must fold names the same way")
    # Role names keep their case: rows that folded them, and our roles the catalog spells in another case, are
    # matched first (`planning/role_names.py`).
    names = match_role_names(desired, current, dict(ledger or {}), owners or {})
    desired, ledger, owners = names.desired, names.ledger, names.owners
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
        state = PlanState(desired, current, dict(ledger or {}), prune,
                          identity_provider_drop_cascade=identity_provider_drop_cascade, definitions=definitions,
                          scope=scope, group_limit=group_limit, stored=stored, owners=owners, coalesce=coalesce)
        return _with_role_names(_run(state), state, names)
    finally:
        if collecting:
            gc.enable()


def _run(state: PlanState) -> Plan:
    """The phase families, in the order in which what each plans depends on the ones before (each module says
    why); the statements are then sorted by phase (`planning/phases.py`)."""
    # 0. One owner per object: declaring another model's object is refused before anything is planned.
    declared = declared_by_others(state.desired, state.owners)
    if declared:
        raise OwnershipError(ownership_message(declared))
    # 1. Roles leaving, after everything that names them.
    remove_leaving_roles(state)
    # 2. Policies whose WITH columns changed (or whose definition we cannot vouch for): dropped, to be rebuilt.
    rebuild_changed_policies(state)
    # 3. Policies leaving, after their attachments.
    remove_leaving_policies(state)
    # 3b. External schemas and databases (alone, outside the batches); a replaced one takes its grants along.
    external_objects(state)
    # 4. Everything else that is managed (or pruned) and no longer desired.
    remove_undesired(state)
    # 5. Create, alter, adopt.
    converge_desired(state)
    # 6. Identity providers: each statement alone, outside the batches.
    identity_providers(state)
    # 7. Restriction changes grouped per set of tables they link; a group too large for one
    #    transaction locks its tables down instead.
    group_restrictions(state)
    note_kept(state)

    if state.taken:
        raise OwnershipError(ownership_message((), sorted(
            (kind, key, owner, cause) for (kind, key), (owner, cause) in state.taken.items())))
    present, wanted_now = state.current.objects, state.desired.objects
    # Forgotten: rows of objects gone from catalog and model, and rows of objects another model manages too
    # (two owners, as earlier versions allowed): released without DDL, the other model keeps them.
    forget = [LedgerEntry(kind, key, fingerprint) for (kind, key), fingerprint in state.ledger.items()
              if (key not in present.get(kind, _NONE) or (kind, key) in state.owners)
              and key not in wanted_now.get(kind, _NONE)]
    state.statements.sort(key=lambda s: (s.phase, s.sort_key))
    if state.coalesce:
        state.statements = coalesce_statements(state.statements)
    return Plan(state.statements, sorted(state.adopt, key=lambda e: (e.kind, e.key)),
                sorted(forget, key=lambda e: (e.kind, e.key)), state.notes,
                record=sorted(state.record, key=lambda e: (e.kind, e.key)),
                text_drift=sorted(state.text_drift, key=lambda d: (d.kind, d.key)),
                others_skipped=_others_skipped(state))


_NONE: dict[tuple[str, ...], object] = {}


def _with_role_names(result: Plan, state: PlanState, names: RoleNames) -> Plan:
    """The plan, with this model's ledger rows that name a role in another case than the catalog rewritten (no DDL:
    the old row forgotten, the new one adopted while the object stays) and what `match_role_names` noticed."""
    if not names.renamed and not names.notes:
        return result
    present = state.current.objects

    def keep(kind: str, key: tuple[str, ...]) -> bool:
        return (key in present.get(kind, _NONE) and (kind, key) not in state.removed
                and (kind, key) not in state.owners)

    forget, adopt = rewrite_rows(names.renamed, keep)
    result.forget = sorted({(e.kind, e.key): e for e in [*result.forget, *forget]}.values(),
                           key=lambda e: (e.kind, e.key))
    result.adopt = sorted([*result.adopt, *adopt], key=lambda e: (e.kind, e.key))
    result.notes = [*names.notes, *result.notes]
    return result


def _others_skipped(state: PlanState) -> int:
    """Objects present that other models manage and this one would remove if they were not theirs: with
    prune, all of them (none is desired: that was refused); without, those its own ledger also records."""
    present = state.current.objects
    return sum(1 for (kind, key) in state.owners
               if key in present.get(kind, _NONE) and (state.prune or (kind, key) in state.ledger))


def render(plan_: Plan, header: Callable[[Statement], str] | None = None) -> str:
    """Plain SQL for a pull request: one statement per block, each ended by `;`."""
    blocks = []
    for statement in plan_.statements:
        prefix = f"-- {header(statement)}\n" if header else ""
        blocks.append(f"{prefix}{statement.sql};")
    return "\n".join(blocks) + ("\n" if blocks else "")

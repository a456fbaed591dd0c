"""What a plan removes (revokes, drops, detaches), and what it may not: the first passes of a plan, and the rules
every removal obeys.

- It removes only what it manages (the ledger), or, when `prune` is on, grants and roles not desired; never a
  system (`sys:`, `ds:`) role or what names one; PUBLIC's grants only when the ledger says we made them. Prune
  leaves a role `prune_ignore_roles` matches, and what names it (roles Redshift creates at IdC sign-in), and the
  plan lists those roles (`note_kept`).
- Prune never lifts a restriction the model does not declare (RLS on a table, an RLS or masking attachment),
  unless the model lists the table in `lift_undeclared_restrictions`; a role that keeps such a restriction is
  kept too (dropping it would lift it), and the plan says so (`note_kept`).
- A role being dropped first loses everything that names it (DROP ROLE fails while a privilege is left); a
  policy being dropped or rebuilt first loses its attachments and lookup grants.
- Another model's objects are never removed: one that a removal here would take along refuses the plan
  (`state.taken`, see `ownership.py`).
- Default privileges (ALTER DEFAULT PRIVILEGES) are revoked only when the ledger says the model set them, even
  with `prune`: a loader's or dbt's defaults decide what the tables they create next get, and no model lists them.
  A role such a default privilege names is kept (revoking it would touch it, and whether DROP ROLE fails while one
  names the role is not settled: REDSHIFT_REFERENCE.md 9 question 11), and the plan says so (`note_kept`).
"""

from __future__ import annotations

from redshift_idc.runtime.access_state import (
    PUBLIC_GRANTEE,
    AccessObject,
    DefaultPrivilege,
    IdentityProvider,
    MaskingAttachment,
    MaskingPolicy,
    RlsAttachment,
    RlsLookupGrant,
    RlsPolicy,
    RlsTable,
    Role,
    RoleGrant,
    with_part,
)
from redshift_idc.runtime.planning.object_sql import remove_sql
from redshift_idc.runtime.planning.ownership import described
from redshift_idc.runtime.planning.phases import POLICY_KINDS, RESTRICTION_KINDS, REVOKE_PHASE
from redshift_idc.runtime.planning.scope import is_system_role, table_of
from redshift_idc.runtime.planning.state import PlanState

# The kinds the removal passes visit, in this order (identity providers and external objects have their own).
REMOVABLE_KINDS = sorted(set(REVOKE_PHASE) | RESTRICTION_KINDS | POLICY_KINDS | {RlsLookupGrant.KIND, Role.KIND})


def _grantees(item: AccessObject) -> tuple[str, ...]:
    """The roles an object names (a dropped role takes every such object with it); PUBLIC is not a role."""
    if isinstance(item, RoleGrant):
        return (item.role, item.grantee)
    grantee = getattr(item, "grantee", None)
    return (grantee,) if isinstance(grantee, str) and grantee != PUBLIC_GRANTEE else ()


def _is_public(item: AccessObject) -> bool:
    return getattr(item, "grantee", None) == PUBLIC_GRANTEE


# ---------------------------------------------------------------------------------------------- rules


def liftable(state: PlanState, item: AccessObject, key: tuple[str, ...] | None = None) -> bool:
    """Whether a current restriction (RLS on a table, an RLS or masking attachment) may go: it is the
    model's (ledger), or prune is on and the model lists its table in lift_undeclared_restrictions."""
    key = key if key is not None else state.key(item)
    if state.managed(item, key):
        return True
    return state.prune and table_of(item, key) in state.lift


def kept_restrictions(state: PlanState, role: str) -> list[AccessObject]:
    """The restrictions attached to a role that no plan may lift (a role that keeps one is never dropped:
    DROP ROLE would take its RLS attachments along and masking attachments block it). Another model's are not
    kept quietly: removing what they hang on refuses the plan, naming them (one owner per object)."""
    return [a for a in state.restrictions_by_role.get(role, ())
            if not liftable(state, a) and not _others(state, a)]


def kept_defaults(state: PlanState, role: str) -> list[AccessObject]:
    """The default privileges naming a role that no plan may revoke: those the model did not set (another
    model's are not kept quietly: removing the role refuses the plan, naming them)."""
    return [d for d in state.defaults_by_role.get(role, ()) if not state.managed(d) and not _others(state, d)]


def _others(state: PlanState, item: AccessObject) -> bool:
    return bool(state.owners) and (item.KIND, state.key(item)) in state.owners


def may_remove(state: PlanState, item: AccessObject, key: tuple[str, ...] | None = None) -> bool:
    if state.owners and (item.KIND, key if key is not None else state.key(item)) in state.owners:
        return False  # another model's: never removed here, not even by prune
    for name in _grantees(item):
        if is_system_role(name):
            return False
    if isinstance(item, Role) and is_system_role(item.name):
        return False
    key = key if key is not None else state.key(item)
    if state.scope.leaves_roles and not state.managed(item, key) and any(
            state.scope.ignored_by(name) for name in (*_grantees(item), *_role_name(item))):
        return False  # prune leaves it: a role Redshift creates itself (prune_ignore_roles), or what names one
    if isinstance(item, IdentityProvider):
        # Never pruned: connecting a namespace to IAM Identity Center may register its own provider
        # (unconfirmed), and dropping that would break every IdC sign-in. Only ledger rows are removed.
        return state.managed(item, key)
    if isinstance(item, DefaultPrivilege):
        # Never pruned: a loader's or dbt's defaults shape the tables they create next (their creator is a user no
        # model manages). Only what the ledger says we set is revoked.
        return state.managed(item, key)
    if item.KIND in RESTRICTION_KINDS:
        return liftable(state, item, key)
    if isinstance(item, RlsPolicy | MaskingPolicy):
        kind = RlsAttachment.KIND if isinstance(item, RlsPolicy) else MaskingAttachment.KIND
        if not all(liftable(state, a) or _others(state, a) for a in state.attached.get((kind, key[0]), ())):
            return False  # DROP refuses while attached, and a kept attachment stays
    if isinstance(item, Role) and (kept_restrictions(state, key[0]) or kept_defaults(state, key[0])):
        return False
    if _is_public(item):
        # Never pruned either: Redshift gives PUBLIC defaults (USAGE and CREATE on schema public, TEMP
        # on databases [D24]) that no model lists; only what the ledger says we granted is revoked.
        return state.managed(item, key)
    return state.prune or state.managed(item, key)


def _role_name(item: AccessObject) -> tuple[str, ...]:
    return (item.name,) if isinstance(item, Role) else ()


def note_kept(state: PlanState) -> None:
    """Say which restrictions the plan keeps though the model does not declare them, which roles prune leaves
    because `prune_ignore_roles` matches them, and why."""
    desired_roles = state.desired.of_kind(Role.KIND)
    if state.prune and state.scope.leaves_roles:
        left: dict[str, list[str]] = {}
        for role in state.current_items(Role.KIND):
            key = state.key(role)
            if key not in desired_roles and not is_system_role(key[0]) and not state.managed(role, key):
                reason = state.scope.ignored_by(key[0])
                if reason is not None:
                    left.setdefault(reason, []).append(key[0])
        for reason, names in sorted(left.items()):
            state.notes.append(f"prune leaves {len(names)} role(s) Redshift creates itself, as {reason}: "
                               f"{', '.join(sorted(names))}")
    for role in state.current_items(Role.KIND):
        key = state.key(role)
        if key in desired_roles or is_system_role(key[0]) or not (state.prune or state.managed(role, key)):
            continue
        kept = kept_restrictions(state, key[0])
        if kept:
            first = kept[0]
            state.notes.append(
                f"role {key[0]} is kept: {first.describe()} is attached to it on a table the model does not "
                "declare or does not list in lift_undeclared_restrictions, and dropping the role would lift it")
            continue
        defaults = kept_defaults(state, key[0])
        if defaults:
            state.notes.append(
                f"role {key[0]} is kept: {defaults[0].describe()} names it, a default privilege this model did not "
                f"set ({len(defaults)} in all), which no plan revokes; revoke them by hand (ALTER DEFAULT PRIVILEGES "
                "FOR USER ... REVOKE ...) to let the role go")
    if state.prune:
        unset = [item for item in state.current_items(DefaultPrivilege.KIND)
                 if state.desired.get(item.KIND, state.key(item)) is None and not state.managed(item)
                 and not _others(state, item)]
        if unset:
            creators = sorted({state.key(item)[0] for item in unset})
            state.notes.append(f"prune leaves {len(unset)} default privilege(s) this model did not set (for objects "
                               f"{', '.join(creators)} creates): never revoked, even with prune")
        for kind in sorted(RESTRICTION_KINDS):
            for item in state.current_items(kind):
                key = state.key(item)
                if (kind, key) not in state.removed and state.desired.get(kind, key) is None \
                        and not liftable(state, item, key):
                    state.notes.append(f"prune keeps {item.describe()}: a restriction the model does not declare "
                                       "(list its table in lift_undeclared_restrictions to lift it)")


def _lift_note(state: PlanState, item: AccessObject, key: tuple[str, ...]) -> str:
    if item.KIND in RESTRICTION_KINDS and not state.managed(item, key):
        table = table_of(item, key)
        shown = f"{table[0]}.{table[1]}" if table else "?"
        return (f"widens access: prune lifts a restriction the model does not declare on {shown} "
                "(lift_undeclared_restrictions)")
    if isinstance(item, RlsTable):
        return "widens access: row-level security goes off: the model no longer declares it on this table"
    return ""


def remove(state: PlanState, item: AccessObject, *, because: str = "") -> None:
    """`because`: the removal that takes `item` along (a role dropped, a policy dropped or rebuilt), if any."""
    key = state.key(item)
    mark = (item.KIND, key)
    if mark in state.removed:
        return
    owner = state.owners.get(mark)
    if owner is not None:
        # Another model's (never desired here: the plan refused that first): taken along by `because`.
        state.taken.setdefault(mark, (owner, because or f"removing {described(*mark)}"))
        return
    state.removed.add(mark)
    state.emit(item, remove_sql(item), "remove", remove=True, key=key, note=_lift_note(state, item, key))


# ---------------------------------------------------------------------------------------------- passes


def remove_leaving_roles(state: PlanState) -> None:
    """Roles leaving: everything that names them goes first (whoever made it; another model's objects refuse the
    plan, see `remove`), then the role. One pass over the current objects, whatever the number of roles leaving."""
    desired_roles = state.desired.of_kind(Role.KIND)
    leaving = [role for role in state.current_items(Role.KIND)
               if state.key(role) not in desired_roles and may_remove(state, role, state.key(role))]
    if not leaving:
        return
    names = {state.key(role)[0] for role in leaving}  # role names keep their case (`access_state.role_key`)
    for kind in REMOVABLE_KINDS:
        if kind == Role.KIND:
            continue
        for item in state.current_items(kind):
            for grantee in _grantees(item):
                if grantee in names:
                    remove(state, item, because=f"dropping role {grantee}")
                    break
    for role in leaving:
        remove(state, role)


def rebuild_changed_policies(state: PlanState) -> None:
    """Policies whose WITH columns changed (or whose definition we cannot vouch for) are rebuilt: all their
    current attachments go, the policy is dropped and created again (`convergence`), in one restriction group
    with the re-attachments."""
    for policy_type, attachment_kind in ((RlsPolicy, RlsAttachment.KIND), (MaskingPolicy, MaskingAttachment.KIND)):
        for key, wanted in sorted(state.desired.of_kind(policy_type.KIND).items()):
            if state.current.get(policy_type.KIND, key) is None:
                continue
            recorded = state.ledger.get((policy_type.KIND, key))
            if recorded is not None and with_part(recorded) == with_part(wanted.fingerprint(state.cs)):
                continue  # same WITH: at most an ALTER ... USING (`convergence`)
            if recorded is None and state.verified(wanted, key):
                continue  # the catalog shows it exactly as declared: adopted (`convergence`)
            state.rebuilt.add((policy_type.KIND, key))
            rebuilding = f"rebuilding {policy_type.KIND} {key[0]}"
            for attachment in state.attached.get((attachment_kind, key[0]), ()):
                remove(state, attachment, because=rebuilding)
            for grant in state.lookups.get(key[0], ()):
                remove(state, grant, because=rebuilding)  # the dropped policy loses its grants
            remove(state, state.current.of_kind(policy_type.KIND)[key])


def remove_leaving_policies(state: PlanState) -> None:
    """Policies leaving must lose every attachment first (DROP refuses while attached)."""
    for policy_kind, attachment_kind in ((RlsPolicy.KIND, RlsAttachment.KIND),
                                         (MaskingPolicy.KIND, MaskingAttachment.KIND)):
        for policy in state.current_items(policy_kind):
            key = state.key(policy)
            if key in state.desired.of_kind(policy_kind) or not may_remove(state, policy, key):
                continue
            dropping = f"dropping {policy_kind} {key[0]}"
            for attachment in state.attached.get((attachment_kind, key[0]), ()):
                remove(state, attachment, because=dropping)
            for grant in state.lookups.get(key[0], ()) if policy_kind == RlsPolicy.KIND else ():
                remove(state, grant, because=dropping)
            remove(state, policy)


def remove_undesired(state: PlanState) -> None:
    """Everything else that is managed (or pruned) and no longer desired, or whose attributes changed in a way
    only detach/attach can express (masking input columns and priority)."""
    removed = state.removed
    for kind in REMOVABLE_KINDS:
        for item in state.current_items(kind):
            key = state.keys[id(item)]
            if (kind, key) in removed:
                continue
            counterpart = state.desired.get(kind, key)
            if counterpart is None:
                if may_remove(state, item, key):
                    remove(state, item)
            elif kind == MaskingAttachment.KIND and counterpart.attributes(state.cs) != item.attributes(state.cs):
                remove(state, item)

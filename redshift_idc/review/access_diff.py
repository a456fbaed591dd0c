"""What an access model change does, for the review: the SQL that takes a warehouse converged to the base
branch's model to this one (every base object marked as managed in the ledger), that change's transition check,
and who sees what on each side's sample rows."""

from __future__ import annotations

from dataclasses import dataclass

from redshift_idc.access.preview.inputs import INPUTS_SUFFIX, PreviewInputs
from redshift_idc.access.transition.check import check_plan
from redshift_idc.access.transition.verdict import TransitionVerdict
from redshift_idc.review import preview_diff
from redshift_idc.review.assembly import AccessModelAsset, ReviewError
from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.ledger import DEFAULT_LEDGER_SCHEMA
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.plan_types import Ledger, Plan
from redshift_idc.runtime.reconcile_request import ScriptEntry


@dataclass(frozen=True)
class AccessModelDiff:
    stack: str
    name: str
    status: str  # "added", "removed", "modified"
    change: Plan  # what the deploy of the head runs on a warehouse converged to the base
    change_scripts: list[ScriptEntry]
    first_deploy: Plan | None  # head from empty (None when the model leaves)
    first_scripts: list[ScriptEntry]
    notes: tuple[str, ...] = ()
    who: preview_diff.WhoSeesWhat | None = None  # None: neither side has preview inputs (older assemblies)
    transition: TransitionVerdict | None = None  # `change` replayed batch by batch (None: nothing to replay)


def _transition(asset: AccessModelAsset, before: AccessState, change: Plan) -> TransitionVerdict | None:
    """The transition check of `change` from `before`, on the asset's personas and sample rows (without them,
    tables are judged by their restrictions only)."""
    if not change.statements:
        return None
    inputs = None
    if asset.preview is not None:
        try:
            inputs = PreviewInputs.from_json(asset.preview, asset.scripts)
        except (KeyError, TypeError, ValueError, AttributeError):
            inputs = None  # who_sees_what reports unreadable inputs
    return check_plan(inputs, before, change, asset.name, str(asset.properties.get("LedgerSchema") or
                                                                 DEFAULT_LEDGER_SCHEMA))


def _ledger(state: AccessState) -> Ledger:
    """Every object of a converged state, as the reconciler's ledger records it."""
    return {(item.KIND, item.key(state.case_sensitive)): item.fingerprint(state.case_sensitive) for item in state}


def who_sees_what(base: AccessModelAsset | None, head: AccessModelAsset | None) -> preview_diff.WhoSeesWhat | None:
    """The base's rules against the head's on the head's personas and sample rows (the base's when the model
    leaves; a retained model keeps its objects, so nobody's access changes)."""
    if head is None:
        assert base is not None
        if base.preview is None or str(base.properties.get("RemovalPolicy", "destroy")).lower() == "retain":
            return None
        empty = AccessState(case_sensitive=base.desired.case_sensitive)
        return preview_diff.compare(PreviewInputs.from_json(base.preview, base.scripts), base.desired, empty)
    if head.preview is None:
        return None if base is None or base.preview is None else preview_diff.WhoSeesWhat(
            0, 0, note=f"the head assembly has no {head.stack}{INPUTS_SUFFIX}; synthesize it with this version")
    try:
        inputs = PreviewInputs.from_json(head.preview, head.scripts)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ReviewError(f"{head.stack}{INPUTS_SUFFIX}: not preview inputs this tool understands "
                          f"({type(error).__name__}: {error})") from None
    return preview_diff.compare(inputs, base.desired if base else None, head.desired)


def diff_access_model(base: AccessModelAsset | None, head: AccessModelAsset | None) -> AccessModelDiff:
    """Plan the head's model against the base's, as if a warehouse had converged to the base."""
    who = who_sees_what(base, head)
    if head is None:
        assert base is not None
        retained = str(base.properties.get("RemovalPolicy", "destroy")).lower() == "retain"
        empty = AccessState(case_sensitive=base.desired.case_sensitive)
        removal = Plan() if retained else plan(empty, base.desired, _ledger(base.desired))
        note = ("removal_policy: retain: deleting the custom resource leaves roles, grants and policies in place"
                if retained else "deleting the custom resource removes every object in its ledger")
        return AccessModelDiff(base.stack, base.name, "removed", removal, [], None, [], (note,), who,
                               _transition(base, base.desired, removal))
    case_sensitive = head.desired.case_sensitive
    current = AccessState.of(base.desired, case_sensitive) if base else AccessState(case_sensitive=case_sensitive)
    prune = str(head.properties.get("Prune", "false")).lower() == "true"
    applied = {s["Name"]: s["Checksum"] for s in base.scripts} if base else {}
    pending = [s for s in head.scripts if applied.get(s["Name"]) != s["Checksum"]]
    notes: list[str] = []
    if base is not None:
        for key in ("ModelName", "WorkgroupName", "Database"):
            if base.properties.get(key) != head.properties.get(key):
                notes.append(f"{key} changes from {base.properties.get(key)!r} to {head.properties.get(key)!r}: "
                             "a new physical id, so CloudFormation creates a new custom resource and deletes the old")
        if base.desired.case_sensitive != case_sensitive:
            notes.append(f"case_sensitive_identifiers changes to {str(case_sensitive).lower()}")
    change = plan(head.desired, current, _ledger(current), prune=prune, scope=head.scope)
    return AccessModelDiff(
        head.stack, head.name, "modified" if base else "added", change, pending,
        plan(head.desired, AccessState(case_sensitive=case_sensitive), {}, prune=prune, scope=head.scope),
        head.scripts, tuple(notes), who, _transition(head, current, change))

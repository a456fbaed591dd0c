"""The workgroup's role quota at deploy time: refuse, before any change, a plan whose roles would exceed it.

Redshift caps the roles of a cluster or Serverless workgroup (1,000 unless AWS raised it; the environment's
`warehouse.role_quota`, carried by the model document). `validate` counts only the roles a model declares; what
the warehouse already holds is known only here, after the read. Without this check a deploy over the quota would
fail at the CREATE ROLE that crosses it, with everything before it committed.

What counts: every role the read shows (SVV_ROLES) that someone created, whether this model manages it or not;
not Redshift's own `sys:` and `ds:` roles. r_CREATE_ROLE says "there is a quota of the number of roles that can be
created", and the system-defined roles are not created by anyone; no page says more (an open question the README's
Redshift notes list, and the conformance recorder can settle).

The plan is walked in its order (`Plan.statements`, sorted by phase), by what each statement does to the state
(`Statement.removes`, then `.adds`, objects of kind `Role.KIND`), never by its SQL: a deploy creates its new roles
(phase 3) before it drops the leaving ones (phase 5, `planning/phases.py`), so that no one loses access in between,
and a replacement needs headroom for the new roles while the old ones still exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from redshift_idc.runtime.access_state import Role
from redshift_idc.runtime.planning.plan_types import Statement
from redshift_idc.runtime.planning.scope import is_system_role

ROLE_QUOTA_KEY = "role_quota"  # the model document's key; absent (older templates, the bench without it): unchecked


@dataclass(frozen=True)
class RolePeak:
    """Roles in the warehouse now, the most the plan reaches, and how it gets there."""

    now: int  # every role the read shows that counts (not Redshift's own)
    system: int  # Redshift's own (`sys:`, `ds:`) the read also showed, not counted
    peak: int  # the largest count after any statement (at least `now`)
    creates: int
    drops: int
    at_creates: int = 0  # the largest count right after a statement that creates a role (0: none does)

    def exceeds(self, quota: int) -> bool:
        """Only a CREATE ROLE can cross the quota: a plan that creates none, or creates only after its drops made
        room, is never refused, whatever the warehouse held before."""
        return self.at_creates > quota


def role_peak(roles: Iterable[str], statements: Sequence[Statement]) -> RolePeak:
    """Walk the statements in order from the roles the read showed: each role a statement removes -1, each it
    adds +1 (a statement that does both, removals first). Plain loops, no generator per statement: this runs on
    every round's plan, 230,021 statements for a first deploy of 10,000 roles x 20 tables."""
    names = list(roles)
    system = sum(1 for name in names if is_system_role(name))
    count = len(names) - system
    creates = drops = at_creates = 0
    for statement in statements:
        for item in statement.removes:
            if isinstance(item, Role):
                count -= 1
                drops += 1
        for item in statement.adds:
            if isinstance(item, Role):
                count += 1
                creates += 1
                at_creates = max(at_creates, count)
    return RolePeak(len(names) - system, system, max(len(names) - system, at_creates), creates, drops, at_creates)


def quota_problem(found: RolePeak, quota: int) -> str:
    """Why the plan may not run ('' when it may), with both numbers and the way out."""
    if not found.exceeds(quota):
        return ""
    replacing = (f"; it creates its {_roles(found.creates, 'new')} before it drops the "
                 f"{_roles(found.drops, 'leaving')} (so that no one loses access in between), so it needs room for "
                 "both at once") if found.drops else ""
    return (f"this deploy would exceed the workgroup's role quota: the warehouse holds {_roles(found.now, '')} now "
            f"(not counting Redshift's own {found.system:,} sys:/ds: roles), and the plan reaches "
            f"{_roles(found.peak, '')}{replacing}; the quota is "
            f"{quota:,} (warehouse.role_quota). Nothing was changed. Ask AWS to raise the quota (Service Quotas, "
            "Amazon Redshift) and set warehouse.role_quota in the environment's config to the new value; or deploy "
            "the removals first (the model without its new roles), then the additions; or merge groups that share "
            "grants into fewer roles")


def _roles(count: int, which: str) -> str:
    """`1 new role`, `1,200 new roles` (the runtime imports nothing of the package outside itself, so not
    `wording.plural`)."""
    return f"{count:,} {which + ' ' if which else ''}role{'' if count == 1 else 's'}"

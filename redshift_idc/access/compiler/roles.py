"""Role grants (`role_grants`): a declared role granted to declared roles, never in a cycle.

The roles themselves are declared by the `Resolver`, since every other kind resolves its grantees
against them.
"""

from __future__ import annotations

from redshift_idc.access.compiler.resolver import Resolver, fail
from redshift_idc.runtime.access_state import RoleGrant
from redshift_idc.runtime.sql_text import fold


def compile_role_grants(resolver: Resolver) -> None:
    for i, spec in enumerate(resolver.model.role_grants):
        granted = resolver.role(f"role_grants[{i}].grant", spec.grant)
        for j, grantee in enumerate(spec.to):
            resolver.objects.append(RoleGrant(granted, resolver.role(f"role_grants[{i}].to[{j}]", grantee)))
    _check_role_cycles(resolver)


def _check_role_cycles(resolver: Resolver) -> None:
    """Redshift refuses a grant that closes a cycle; refused here so the plan never holds one."""
    edges: dict[str, set[str]] = {}
    for item in resolver.objects:
        if isinstance(item, RoleGrant):
            edges.setdefault(fold(item.grantee, resolver.cs), set()).add(fold(item.role, resolver.cs))

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == target:
                return True
            if nxt not in seen:
                seen.add(nxt)
                if reaches(nxt, target, seen):
                    return True
        return False

    for role in sorted(edges):
        if reaches(role, role, set()):
            fail("role_grants", f"role grants form a cycle through '{role}'; Redshift refuses cycles")

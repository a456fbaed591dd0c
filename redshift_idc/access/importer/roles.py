"""The `roles` and `role_grants` sections: which catalog roles the model names, and how."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from redshift_idc.access.importer.reader import CatalogReader
from redshift_idc.runtime.access_state import Role, RoleGrant
from redshift_idc.runtime.planning.scope import is_system_role
from redshift_idc.runtime.sql_text import SqlTextError, fold, validate_role_name


def read_roles(reader: CatalogReader) -> dict[str, list[str]]:
    app = reader.config.redshift_idc_application
    namespace = app.identity_namespace
    groups = {fold(g.display_name): g.display_name for g in app.groups}
    system = sorted({str(r[0]) for r in reader.snapshot.rows.get("roles", ()) if is_system_role(str(r[0]))})
    if system:
        reader.warnings.append(f"{len(system)} system role(s) left out, Redshift's own: {', '.join(system)}")
    idc: list[str] = []
    plain: list[str] = []
    taken: dict[str, str] = {}
    for item in sorted(reader.state.of_kind(Role.KIND).values(), key=lambda r: fold(getattr(r, "name", ""))):
        assert isinstance(item, Role)
        role = item.name
        prefix, colon, rest = role.partition(":")
        if colon and fold(prefix) == fold(namespace):
            group = groups.get(fold(rest))
            if group is None:
                reader.warnings.append(
                    f"role {role} is left out with everything granted to it: IdC group '{rest}' is not among the "
                    f"groups config/{reader.config.name}.yaml assigns (redshift_idc_application.groups); add it "
                    "there and import again")
                continue
            ref, target = group, idc
        elif colon:
            reader.warnings.append(
                f"role {role} is left out with everything granted to it: its prefix '{prefix}:' is not the "
                f"environment's identity namespace '{namespace}' (another identity provider's role, created "
                "by it at sign-in, not by a model)")
            continue
        else:
            try:
                validate_role_name(role)
            except SqlTextError as error:
                reader.warnings.append(f"role {role!r} is left out with everything granted to it: {error}")
                continue
            ref, target = role, plain
        if fold(ref) in taken:
            reader.warnings.append(f"role {role} is left out with everything granted to it: the model would name "
                                   f"it '{ref}', like role {taken[fold(ref)]} (role names are case-insensitive)")
            continue
        taken[fold(ref)] = role
        reader.refs[fold(role)] = ref
        target.append(ref)
    return {k: v for k, v in (("idc_groups", idc), ("plain", plain)) if v}


def read_role_grants(reader: CatalogReader) -> list[dict[str, Any]]:
    to: dict[str, set[str]] = defaultdict(set)
    for item in reader.state.of_kind(RoleGrant.KIND).values():
        assert isinstance(item, RoleGrant)
        role, grantee = reader.grantee(item.role), reader.grantee(item.grantee)
        if role is not None and grantee is not None:
            to[role].add(grantee)
    return [{"grant": role, "to": sorted(to[role], key=fold)} for role in sorted(to, key=fold)]

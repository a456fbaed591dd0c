"""The synthetic access models both benchmarks use: R IdC-group roles, each with USAGE on one schema,
SELECT on each of T tables and one RLS attachment; one RLS policy; RLS on for every table."""

from __future__ import annotations

from redshift_idc.runtime.access_state import (
    AccessObject,
    AccessState,
    RlsAttachment,
    RlsPolicy,
    RlsTable,
    Role,
    SchemaPrivilege,
    TablePrivilege,
)


def _role_objects(role: str, index: int, tables: int) -> list[AccessObject]:
    items: list[AccessObject] = [Role(role), SchemaPrivilege("sales", "USAGE", role)]
    items += [TablePrivilege("sales", f"table_{t:02d}", "SELECT", role) for t in range(tables)]
    items.append(RlsAttachment("region_filter", "sales", f"table_{index % tables:02d}", role))
    return items


def large_model(roles: int, tables: int) -> AccessState:
    items: list[AccessObject] = [RlsPolicy("region_filter", (("region", "VARCHAR(20)"),), "region = 'EU'")]
    items += [RlsTable("sales", f"table_{t:02d}") for t in range(tables)]
    for r in range(roles):
        items += _role_objects(f"AWSIDC:group-{r:04d}", r, tables)
    return AccessState.of(items)


def changed_model(roles: int, tables: int, every: int = 10) -> AccessState:
    """`large_model` with every `every`-th role replaced by a new one holding the same grants: that many
    roles (and their grants and attachments) removed, as many created."""
    items: list[AccessObject] = [RlsPolicy("region_filter", (("region", "VARCHAR(20)"),), "region = 'EU'")]
    items += [RlsTable("sales", f"table_{t:02d}") for t in range(tables)]
    for r in range(roles):
        name = f"AWSIDC:group-{r:04d}" if r % every else f"AWSIDC:group-{r:04d}-v2"
        items += _role_objects(name, r, tables)
    return AccessState.of(items)

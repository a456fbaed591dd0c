"""The data lake through IdC: `external_schemas` over Data Catalog databases, `databases` made from a
datashare or Glue database ARN, and `database_grants` (to declared databases only)."""

from __future__ import annotations

import difflib

from redshift_idc.access.compiler.resolver import Resolver, fail
from redshift_idc.runtime.access_state import DatabasePrivilege, ExternalDatabase, ExternalSchema
from redshift_idc.runtime.sql_text import fold


def compile_external(resolver: Resolver) -> None:
    m = resolver.model
    seen: set[str] = set()
    for i, spec in enumerate(m.external_schemas):
        where = f"external_schemas[{i}]"
        resolver.unique_name(where, spec.name, seen, "external schema")
        assert spec.catalog_database is not None
        resolver.objects.append(ExternalSchema(spec.name, spec.catalog_database, spec.catalog_id or ""))
    declared: set[str] = set()
    for i, db in enumerate(m.databases):
        resolver.unique_name(f"databases[{i}]", db.name, declared, "database")
        resolver.objects.append(ExternalDatabase(db.name, db.from_arn))
    databases = {fold(db.name, resolver.cs): db.name for db in m.databases}
    for i, grant in enumerate(m.database_grants):
        where = f"database_grants[{i}]"
        if fold(grant.database, resolver.cs) not in databases:
            close = difflib.get_close_matches(grant.database, sorted(databases.values()), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            fail(f"{where}.database", f"unknown database '{grant.database}'; {hint}declare it under `databases`")
        for j, grantee in enumerate(grant.to):
            role = resolver.role(f"{where}.to[{j}]", grantee, public=True)
            resolver.objects += [DatabasePrivilege(grant.database, p, role) for p in grant.privileges]

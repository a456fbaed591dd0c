"""Row-level security (`rls`): policies, their lookup tables and attachments, per-table conjunctions, the
roles that bypass RLS, and the tables prune may lift undeclared restrictions on.

A policy's expression may only name its WITH columns, or declared columns of the lookup tables its
subqueries read (expressions.py); Redshift attaches no policy to a lookup table, so that is refused here.
"""

from __future__ import annotations

from redshift_idc.access.compiler.resolver import Resolver, fail
from redshift_idc.access.expressions import ExpressionError, policy_lookups
from redshift_idc.runtime.access_state import RlsAttachment, RlsLookupGrant, RlsPolicy, RlsTable, SystemPrivilege
from redshift_idc.runtime.sql_text import collapse_whitespace, fold


def compile_rls(resolver: Resolver) -> None:
    rls = resolver.model.rls
    cs = resolver.cs
    seen: set[str] = set()
    lookups: dict[tuple[str, str], str] = {}  # folded lookup table -> where it is first read
    attached: dict[tuple[str, str], str] = {}  # folded table with a policy attached -> where
    for i, policy in enumerate(rls.policies):
        where = f"rls.policies[{i}]"
        resolver.unique_name(where, policy.name, seen, "RLS policy")
        columns = resolver.policy_columns(where, policy.with_)
        try:
            found = policy_lookups(policy.using, [c for c, _ in columns], resolver.table_columns, cs)
        except ExpressionError as error:
            fail(f"{where}.using", str(error))
        resolver.functions(f"{where}.using", policy.using)
        resolver.objects.append(RlsPolicy(policy.name, columns, collapse_whitespace(policy.using)))
        for lookup in found:
            schema, name = resolver.table(f"{where}.using", f"{lookup.schema}.{lookup.table}")
            lookups.setdefault((fold(schema, cs), fold(name, cs)), f"{where}.using")
            resolver.objects.append(RlsLookupGrant(schema, name, policy.name))
        for j, attach in enumerate(policy.attach):
            schema, name = resolver.table(f"{where}.attach[{j}].table", attach.table, tuple(policy.with_))
            attached.setdefault((fold(schema, cs), fold(name, cs)), f"{where}.attach[{j}].table")
            for k, grantee in enumerate(attach.to):
                role = resolver.role(f"{where}.attach[{j}].to[{k}]", grantee, public=True)
                resolver.objects.append(RlsAttachment(policy.name, schema, name, role))
    for table, at in sorted(attached.items()):
        if table in lookups:
            fail(at, f"{'.'.join(table)} is the lookup table of a policy ({lookups[table]}), and Redshift "
                 "attaches no policy to a lookup table, nor reads a lookup table that has one; keep "
                 "entitlements in a table of their own")
    for i, table_spec in enumerate(rls.tables):
        schema, name = resolver.table(f"rls.tables[{i}].table", table_spec.table)
        resolver.objects.append(RlsTable(schema, name, table_spec.conjunction))
    for i, grantee in enumerate(rls.ignore_rls):
        resolver.objects.append(SystemPrivilege("IGNORE RLS", resolver.role(f"rls.ignore_rls[{i}]", grantee)))
    for i, lifted in enumerate(resolver.model.lift_undeclared_restrictions):
        resolver.table(f"lift_undeclared_restrictions[{i}]", lifted)
        if not resolver.model.prune:
            fail(f"lift_undeclared_restrictions[{i}]", "only with prune: true (it lets prune lift the RLS and "
                 "masking on this table that the model does not declare); set prune: true or remove it")

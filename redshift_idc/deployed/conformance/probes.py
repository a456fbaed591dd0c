"""The open questions of REDSHIFT_REFERENCE.md (section 9 and what issue 21 found) that a scratch workgroup can
answer, each as a probe: a few statements on the recorder's own objects, whose success or error text is the
answer, and the statements that put things back.

Probes run after the recorded read, so they never change what the replay test plans against. Each statement
runs alone (its own transaction) unless the probe is about batches; every outcome is recorded, the undo
statements' too. A probe whose setup fails records that and is not run. The fake warehouse answers each probe
the way the tests' `fake_redshift.py` assumes; a recording from a real workgroup says whether it should.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redshift_idc.deployed.conformance.objects import (
    ADMIN,
    ANALYST,
    LOOKUP,
    M_FULL,
    P_REGION,
    READER,
    SALES,
    SCHEMA,
    Extras,
)
from redshift_idc.deployed.conformance.session import Outcome, Session
from redshift_idc.runtime.access_state import (
    AccessObject,
    DefaultPrivilege,
    MaskingAttachment,
    RlsAttachment,
    Role,
    TablePrivilege,
)
from redshift_idc.runtime.catalog_import import column_queries
from redshift_idc.runtime.ledger import MAX_BATCH_STATEMENTS, MAX_STATEMENT_BYTES
from redshift_idc.runtime.planning.object_sql import create_sql, remove_sql
from redshift_idc.runtime.sql_text import quote_ident, quote_qualified

# Just over the batcher's 90 KB cap, in a full batch: does the Data API cap a batch's total size?
BATCH_TOTAL_BYTES = MAX_STATEMENT_BYTES + 2_000
PROBE_ROLE = "conformance_probe"
CASE_ROLE = "Conformance_Case"
SALES_Q = quote_qualified(SCHEMA, SALES)


@dataclass(frozen=True)
class Probe:
    """`sqls` run alone one by one (or as one batch with `batch`), after `creates` was made (each object's CREATE
    or GRANT form, `object_sql.create_sql`). Undone by `undo`, then by removing what `sqls` may have made
    (`leaves`) and `creates`, in reverse (`object_sql.remove_sql`); cleanup removes `creates` and `leaves` too,
    whatever happened. `read`: read queries (by name) whose rows about the recorder's objects are recorded."""

    name: str
    question: str
    reference: str
    sqls: tuple[str, ...]
    creates: tuple[AccessObject, ...] = ()
    leaves: tuple[AccessObject, ...] = ()
    undo: tuple[str, ...] = ()
    batch: bool = False
    read: tuple[str, ...] = ()

    @property
    def setup(self) -> tuple[str, ...]:
        return tuple(create_sql(item) for item in self.creates)

    @property
    def undo_sql(self) -> tuple[str, ...]:
        return (*self.undo, *(remove_sql(item) for item in (*self.leaves, *reversed(self.creates))))

    @property
    def objects(self) -> tuple[AccessObject, ...]:
        return (*self.creates, *self.leaves)


def _role(name: str) -> str:
    return f"ROLE {quote_ident(name)}"


def probes(extras: Extras, admin_user: str) -> list[Probe]:
    """Every probe this run can make (IdC ones only with `--with-idc`)."""
    probe = quote_ident(PROBE_ROLE)
    found = [
        Probe("grant_role_to_member", "GRANT ROLE to a role that already holds it: error or no-op?",
              "REDSHIFT_REFERENCE.md 9 q6 and 9.1 (teleport: 'already a member'); issue 21 item 7",
              (f"GRANT ROLE {quote_ident(READER)} TO {_role(ANALYST)}",)),
        Probe("duplicate_object_grant", "GRANT of an object privilege the role already holds: error or no-op?",
              "REDSHIFT_REFERENCE.md 9 q6", (f"GRANT SELECT ON TABLE {SALES_Q} TO {_role(READER)}",)),
        Probe("revoke_not_held", "REVOKE of an object privilege the role does not hold: error or no-op?",
              "REDSHIFT_REFERENCE.md 9 q6", (f"REVOKE INSERT ON TABLE {SALES_Q} FROM {_role(READER)}",)),
        Probe("revoke_role_not_member", "REVOKE ROLE from a role that does not hold it: error or no-op?",
              "REDSHIFT_REFERENCE.md 9 q6", (f"REVOKE ROLE {quote_ident(ADMIN)} FROM {_role(READER)}",)),
        Probe("rls_off_when_off", "ALTER TABLE ... ROW LEVEL SECURITY OFF on a table without RLS: error or no-op?",
              "tests/fake_redshift.py (assumed no-op)",
              (f"ALTER TABLE {quote_qualified(SCHEMA, LOOKUP)} ROW LEVEL SECURITY OFF",)),
        Probe("create_existing_role", "CREATE ROLE of an existing role: the error text",
              "REDSHIFT_REFERENCE.md 3.1", (f"CREATE ROLE {quote_ident(READER)}",)),
        Probe("role_grant_cycle", "GRANT ROLE that would make a cycle: the error text",
              "REDSHIFT_REFERENCE.md 3.2 [D21]", (f"GRANT ROLE {quote_ident(ANALYST)} TO {_role(READER)}",)),
        Probe("drop_role_with_privilege", "DROP ROLE ... FORCE while the role holds an object privilege: the error",
              "REDSHIFT_REFERENCE.md 0.3 [O8]", (f"DROP ROLE {probe} FORCE",),
              creates=(Role(PROBE_ROLE), TablePrivilege(SCHEMA, SALES, "SELECT", PROBE_ROLE))),
        Probe("drop_role_with_masking", "DROP ROLE ... FORCE while a masking policy is attached to the role",
              "REDSHIFT_REFERENCE.md 9 q11 (the fake assumes it fails)", (f"DROP ROLE {probe} FORCE",),
              creates=(Role(PROBE_ROLE),
                       MaskingAttachment(M_FULL.name, SCHEMA, SALES, ("email",), PROBE_ROLE, ("email",), 30)),
              read=("masking_attachments",)),
        Probe("drop_role_with_rls", "DROP ROLE ... FORCE while an RLS policy is attached to the role: does the "
              "attachment go with it?", "REDSHIFT_REFERENCE.md 3.6 [D36]", (f"DROP ROLE {probe} FORCE",),
              creates=(Role(PROBE_ROLE), RlsAttachment(P_REGION.name, SCHEMA, SALES, PROBE_ROLE)),
              read=("rls_attachments",)),
        Probe("drop_attached_masking_policy", "DROP MASKING POLICY while attached: the error text",
              "REDSHIFT_REFERENCE.md 0.9 [D42]", (f"DROP MASKING POLICY {quote_ident(M_FULL.name)}",)),
        Probe("drop_attached_rls_policy", "DROP RLS POLICY while attached: the error text",
              "REDSHIFT_REFERENCE.md 3.6 [D31]", (f"DROP RLS POLICY {quote_ident(P_REGION.name)}",)),
        Probe("owner_to_role", "ALTER TABLE ... OWNER TO a role: refused?",
              "issue 21 item 4 (brainly/terraform-provider-redshift#142)",
              (f"ALTER TABLE {SALES_Q} OWNER TO {quote_ident(READER)}",),
              undo=(f"ALTER TABLE {SALES_Q} OWNER TO {quote_ident(admin_user)}",) if admin_user else ()),
        Probe("role_name_case", "CREATE ROLE of a quoted mixed-case name: how SVV_ROLES shows it",
              "REDSHIFT_REFERENCE.md 9 q3; issue 21 item 8", (create_sql(Role(CASE_ROLE)),),
              leaves=(Role(CASE_ROLE),), read=("roles",)),
        Probe("missing_identity_provider", "CREATE ROLE \"<namespace>:<name>\" with no provider for the namespace: "
              "the error text", "runtime/data_api.py MISSING_IDENTITY_PROVIDER (seed 001)",
              (create_sql(Role("conformance_nons:probe")),), leaves=(Role("conformance_nons:probe"),)),
        Probe("policy_ddl_in_batch", "RLS and masking DDL inside one BatchExecuteStatement (a transaction)",
              "REDSHIFT_REFERENCE.md 9 q5",
              ("CREATE RLS POLICY \"conformance_p_batch\" WITH (\"region\" VARCHAR(64)) USING (\"region\" = 'x')",
               "DROP RLS POLICY \"conformance_p_batch\"",
               "CREATE MASKING POLICY \"conformance_m_batch\" WITH (\"email\" VARCHAR(256)) USING (\"email\")",
               "DROP MASKING POLICY \"conformance_m_batch\""), batch=True),
        Probe("statuses_after_failure", "SubStatements' statuses after a failed statement in a batch",
              "REDSHIFT_REFERENCE.md 9 q7",
              (f"GRANT SELECT ON TABLE {SALES_Q} TO {_role(READER)}", f"CREATE ROLE {quote_ident(READER)}",
               f"GRANT SELECT ON TABLE {SALES_Q} TO {_role(READER)}"), batch=True),
    ]
    if admin_user:  # default privileges belong to a user: the admin's own, for objects it creates later
        found.append(Probe(
            "drop_role_with_default_privilege", "DROP ROLE ... FORCE while a default privilege (ALTER DEFAULT "
            "PRIVILEGES) names the role: refused, or does the entry go with it?",
            "REDSHIFT_REFERENCE.md 9 q11 (the fake assumes it fails)", (f"DROP ROLE {probe} FORCE",),
            creates=(Role(PROBE_ROLE), DefaultPrivilege(admin_user, SCHEMA, "TABLES", "SELECT", PROBE_ROLE)),
            read=("default_privileges",)))
    if extras.idc:
        found.append(Probe(
            "identity_provider_in_batch", "ALTER IDENTITY PROVIDER inside a batch (a transaction block): the error",
            "REDSHIFT_REFERENCE.md 0.1 [O5][O6]",
            ("ALTER IDENTITY PROVIDER \"conformance_idp\" NAMESPACE 'conformance_ns'",), batch=True))
    return found


def run_probe(session: Session, probe: Probe, read: Any) -> dict[str, Any]:
    """One probe's record. `read(names) -> {name: rows}` reads the named read queries (the recorder's)."""
    result: dict[str, Any] = {"name": probe.name, "question": probe.question, "reference": probe.reference}
    setup = [_step(sql, session.alone(sql, "probe")) for sql in probe.setup]
    if setup:
        result["setup"] = setup
    if all(step["ok"] for step in setup):
        if probe.batch:
            outcome = session.batch(probe.sqls, "probe")
            result["steps"] = [{**_step("; ".join(probe.sqls), outcome), "sub_statuses": list(outcome.sub_statuses)}]
        else:
            result["steps"] = [_step(sql, session.alone(sql, "probe")) for sql in probe.sqls]
        if probe.read:
            rows = read(probe.read)
            result["read"] = {name: [list(r) for r in rows.get(name, ()) if _ours(r)] for name in probe.read}
    else:
        result["steps"] = []
        result["skipped"] = "its setup failed"
    undo = [_step(sql, session.alone(sql, "probe")) for sql in probe.undo_sql]
    if undo:
        result["undo"] = undo
    return result


def _ours(row: Sequence[Any]) -> bool:
    """A row about the recorder's objects (no other name of the workgroup goes into a recording)."""
    return any(isinstance(cell, str) and "conformance_" in cell.lower() for cell in row)


def _step(sql: str, outcome: Outcome) -> dict[str, Any]:
    return {"sql": sql, "ok": outcome.ok, "error": outcome.error or None}


def batch_size_statements(total_bytes: int = BATCH_TOTAL_BYTES, count: int = MAX_BATCH_STATEMENTS) -> list[str]:
    """`count` small read-only statements (svv_columns lookups of the importer, `catalog_import.column_queries`)
    of together just over `total_bytes`."""
    each = total_bytes // count + 1
    statements: list[str] = []
    for number in range(count):
        pairs: list[tuple[str, str]] = []
        sql = ""
        while len(sql.encode("utf-8")) < each:
            pairs.append((SCHEMA, f"conformance_t{number:02d}_{len(pairs):03d}"))
            sql = column_queries(pairs)[0][1]
        statements.append(sql)
    return statements


def batch_size_probe(session: Session) -> dict[str, Any]:
    """Whether a batch of 40 small statements of together just over 90 KB runs (REDSHIFT_REFERENCE.md 7.1: the
    100 KB limit is per statement; whether a batch's total is capped is unconfirmed)."""
    statements = batch_size_statements()
    outcome = session.batch(statements, "batch-size")
    return {"question": "Is a BatchExecuteStatement's total size capped (40 statements, just over 90 KB)?",
            "reference": "REDSHIFT_REFERENCE.md 7.1", "statements": len(statements),
            "largest_statement_bytes": max(len(s.encode("utf-8")) for s in statements),
            "total_bytes": sum(len(s.encode("utf-8")) for s in statements), "ok": outcome.ok,
            "error": outcome.error or None}

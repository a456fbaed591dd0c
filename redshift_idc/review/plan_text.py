"""A plan as a reviewer reads it: the statements under their phase's title, the restriction groups, what runs
alone, and the policies whose catalog text was edited by hand. `plan`, `drift` and the review print this."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redshift_idc.access.scripts import split_statements
from redshift_idc.runtime.access_state import MaskingPolicy, RlsPolicy
from redshift_idc.runtime.catalog_import import PolicyKey, StoredText
from redshift_idc.runtime.planning.phases import RESTRICTION_PHASE
from redshift_idc.runtime.planning.plan_types import Plan, Statement
from redshift_idc.runtime.reconcile_request import ScriptEntry

PHASE_TITLES = {
    1: "create, alter or replace identity providers, external schemas and databases (each statement alone, "
       "outside any transaction, before the rest)",
    9: "revoke default privileges (ALTER DEFAULT PRIVILEGES ... REVOKE: what objects created later get)",
    10: "revoke system privileges", 11: "revoke column grants", 12: "revoke table grants", 13: "revoke scoped grants",
    14: "revoke schema grants", 15: "revoke database grants",
    16: "revoke role grants (of roles that carry no RLS or masking attachment)",
    17: "lockdown: revoke SELECT on the tables of a restriction change too large for one transaction",
    20: "create roles", 21: "create RLS policies", 22: "grant lookup tables to RLS policies (GRANT SELECT ... TO RLS "
    "POLICY)", 23: "create masking policies",
    30: "restriction changes: RLS, masking, policies altered or rebuilt, role grants that carry them; each group "
        "commits in one transaction",
    40: "revoke lookup tables from RLS policies", 41: "drop RLS policies", 42: "drop masking policies",
    45: "drop roles", 50: "grant roles to roles", 51: "grant database privileges", 52: "grant schema privileges",
    53: "grant on all tables in schemas (scoped, current and future)", 54: "grant table privileges",
    55: "grant column privileges", 56: "grant system privileges",
    57: "lockdown ends: SELECT granted again",
    58: "grant default privileges (ALTER DEFAULT PRIVILEGES ... GRANT: what objects created later get)",
    91: "revoke the direct grants of users who left IAM Identity Center (deprovision_users)",
    92: "transfer what they own (transfer_ownership_to)",
    93: "drop users who left IAM Identity Center",
    99: "drop identity providers, external schemas and databases (each statement alone, outside any transaction, "
        "after the rest)",
}


ALONE = "runs alone (ExecuteStatement): cannot run inside a transaction block"


def render_for_review(planned: Plan, scripts: Sequence[ScriptEntry]) -> str:
    lines: list[str] = []
    for script in scripts:
        lines.append(f"-- script {script['Name']} (sha256 {script['Checksum'][:12]}), applied once before the model")
        statements = script.get("Statements")  # absent from assemblies of older versions
        if statements is None:
            statements = split_statements(f"sql/{script['Name']}", script["Sql"])
        lines += [f"{statement};" for statement in statements]
        lines.append("")
    phase = None
    group: tuple[str, ...] | None = None
    statement: Statement
    for statement in planned.statements:
        if statement.phase != phase:
            phase, group = statement.phase, None
            lines.append(f"-- {PHASE_TITLES.get(phase, f'phase {phase}')}")
        if statement.phase == RESTRICTION_PHASE and statement.sort_key[:1] != group:
            group = statement.sort_key[:1]
            lines.append(f"--   group {int(group[0]) + 1}: " + (
                "one transaction" if statement.group else "its tables are locked down while it applies"))
        if statement.note:
            lines.append(f"-- {statement.note}")
        covered = statement.covers
        if covered > 1:
            lines.append(f"-- one statement for {covered:,} objects")
        sql = wrapped(statement.sql) if covered > 1 else statement.sql
        # Marked one by one: the reviewer sees which statements commit on their own (no rollback with the rest).
        lines.append(f"{sql};" if statement.transactional else f"{sql};  -- {ALONE}")
    if planned.adopt:
        lines.append(f"-- {len(planned.adopt)} existing object(s) already as declared: recorded in the ledger, no DDL")
    if planned.record:
        lines.append(f"-- {len(planned.record)} policy ledger row(s) take the hash of the catalog's text of the last "
                     "CREATE or ALTER: ledger only, no DDL")
    lines += [f"-- note: {note}" for note in planned.notes]
    if planned.others_skipped:
        lines.append(f"-- {planned.others_skipped} object(s) other access models manage: left to them (never removed "
                     "here, prune included)")
    if not planned.statements and not scripts:
        lines.append("-- no changes: the warehouse already matches the model")
    return "\n".join(lines) + "\n"


WRAP_WIDTH = 120


def wrapped(sql: str, width: int = WRAP_WIDTH) -> str:
    """A long statement for many objects on several lines, each broken after a comma outside quotes and names
    and indented under the first: the same SQL to Redshift, readable in a pull request."""
    pieces: list[str] = []
    start = 0
    quote = ""
    for index, char in enumerate(sql):
        if quote:
            if char == quote:
                quote = ""  # a doubled quote closes and opens again: the same state afterwards
        elif char in "'\"":
            quote = char
        elif char == "," and sql.startswith(", ", index):
            pieces.append(sql[start:index + 1])
            start = index + 2
    pieces.append(sql[start:])
    lines: list[str] = []
    line = ""
    for piece in pieces:
        if line and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = "    " + piece
        else:
            line = f"{line} {piece}" if line else piece
    lines.append(line)
    return "\n".join(lines)


POLICY_WORDS = {RlsPolicy.KIND: "RLS policy", MaskingPolicy.KIND: "masking policy"}


def text_drift_notes(planned: Plan, stored: Mapping[PolicyKey, StoredText] | None) -> list[str]:
    """Comment lines for each policy whose catalog text is not what the ledger recorded (`Plan.text_drift`),
    with the text the catalog holds now, raw: the ALTER that restores the model's text is among the
    statements, and the reader sees what it replaces."""
    lines: list[str] = []
    for drift in planned.text_drift:
        what = f"{POLICY_WORDS.get(drift.kind, drift.kind)} {drift.key[0]}"
        if drift.recorded:
            lines.append(f"-- {what}: its text in the catalog changed since a deploy recorded it (edited by hand?); "
                         f'the ALTER {"RLS" if drift.kind == RlsPolicy.KIND else "MASKING"} POLICY below restores '
                         "the model's")
        else:
            lines.append(f"-- {what}: recorded by an older version, which kept no hash of its text in the catalog; "
                         "the ALTER below restores the model's text once, then the deploy records the hash")
        text = stored.get((drift.kind, drift.key)) if stored is not None else None
        if text is not None:
            first, *rest = text.expression.splitlines() or [""]
            lines += [f"--   in the catalog now: {first}", *(f"--     {line}" for line in rest)]
    return lines

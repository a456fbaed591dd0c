"""Identity providers in a plan (CREATE/ALTER/DROP IDENTITY PROVIDER). They cannot run inside a transaction block,
so their statements are `transactional=False` and `ledger.steps` sends each alone, outside any batch:
create/alter before everything else, drop after everything else, never CASCADE unless the model opts in. Their
definition is compared by fingerprint with the ledger (the catalog blanks the parameters); `enabled` is also
compared with the catalog. Never pruned: only what the ledger records is dropped."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from redshift_idc.runtime.access_state import IdentityProvider, LedgerEntry, fingerprint_parts
from redshift_idc.runtime.planning.object_sql import (
    alter_identity_provider_sql,
    create_identity_provider_sql,
    drop_identity_provider_sql,
    uses_parameters,
)
from redshift_idc.runtime.planning.phases import IDENTITY_PROVIDER_DROP_PHASE, IDENTITY_PROVIDER_PHASE
from redshift_idc.runtime.planning.plan_types import SecretRef, Statement
from redshift_idc.runtime.planning.removals import may_remove
from redshift_idc.runtime.planning.state import PlanState


def _statement(state: PlanState, phase: int, item: IdentityProvider, step: str, sql: str,
               with_secrets: Callable[[Mapping[SecretRef, str]], str] | None = None) -> Statement:
    secrets = tuple((arn, key) for _, arn, key in item.secrets) if with_secrets is not None else ()
    return Statement(phase=phase, sort_key=(item.KIND, *item.key(state.cs), step), sql=sql, transactional=False,
                     secrets=secrets, with_secrets=with_secrets if secrets else None)


def _create(state: PlanState, item: IdentityProvider, step: str = "1") -> list[Statement]:
    """CREATE (then DISABLE: CREATE has no enable flag)."""
    made = [_statement(state, IDENTITY_PROVIDER_PHASE, item, step, create_identity_provider_sql(item),
                       lambda resolved: create_identity_provider_sql(item, resolved))]
    if item.enabled is False:
        made.append(_statement(state, IDENTITY_PROVIDER_PHASE, item, f"{step}b",
                               alter_identity_provider_sql(item, ["enabled"])))
    return made


def identity_providers(state: PlanState) -> None:
    """Dropped when the model no longer declares them and the ledger says we made them; created, adopted (the
    catalog shows exactly the model's definition) or changed otherwise."""
    kind = IdentityProvider.KIND
    desired = state.desired.of_kind(kind)
    for key, present in sorted(state.current.of_kind(kind).items()):
        if key in desired or not may_remove(state, present):
            continue
        assert isinstance(present, IdentityProvider)
        drop = _statement(state, IDENTITY_PROVIDER_DROP_PHASE, present, "0",
                          drop_identity_provider_sql(present, state.cascade))
        state.statements.append(dataclasses.replace(drop, ledger_remove=(state.entry(present),)
                                                    if state.managed(present) else ()))
    for key, wanted in sorted(desired.items()):
        assert isinstance(wanted, IdentityProvider)
        existing = state.current.get(kind, key)
        recorded = state.ledger.get((kind, key))
        old = (LedgerEntry(kind, key, recorded),) if recorded is not None else ()
        new = (state.entry(wanted),)
        if existing is None:
            # Missing (managed and dropped by hand, or never made): one ledger row either way.
            made = _create(state, wanted)
            state.statements += [dataclasses.replace(made[0], ledger_add=new, ledger_remove=old), *made[1:]]
            continue
        assert isinstance(existing, IdentityProvider)
        if recorded is None and state.verified(wanted, key):
            state.adopt.append(state.entry(wanted))
            continue
        statements = _changes(state, wanted, existing, recorded)
        if statements:
            # The ledger row changes with the CREATE of a replacement, else with the last ALTER.
            at = next((i for i, st in enumerate(statements) if st.sql.startswith("CREATE ")), len(statements) - 1)
            statements[at] = dataclasses.replace(statements[at], ledger_add=new, ledger_remove=old)
            state.statements += statements


def _changes(state: PlanState, wanted: IdentityProvider, present: IdentityProvider, recorded: str | None,
             ) -> list[Statement]:
    """What takes an existing provider to `wanted`. Recorded: the fingerprint parts that changed. Not
    recorded (made by hand, or its ledger row was lost after the CREATE committed): its parameters,
    IAM role and role creation are unknown, so they are all set again (idempotent)."""
    parts = fingerprint_parts(recorded or "")
    target = fingerprint_parts(wanted.fingerprint(state.cs))
    if parts:
        replace = parts["type"] != target["type"] or parts["app"] != target["app"]
        clauses = [c for c in ("parameters", "namespace", "iam_role", "auto") if parts[c] != target[c]]
    else:
        replace = False
        clauses = [c for c, needed in (("parameters", uses_parameters(wanted)),
                                       ("namespace", present.namespace != wanted.namespace),
                                       ("iam_role", bool(wanted.iam_role)), ("auto", True)) if needed]
    if present.type and present.type.lower() != wanted.type.lower():
        replace = True
    # What the catalog shows of an AWSIDC provider (`catalog_import.provider_definition`) is its truth, ledger
    # or not: another application is a replacement (APPLICATION_ARN cannot be altered), another role an ALTER.
    seen = state.definitions.get(wanted.KIND, wanted.key(state.cs)) if state.definitions is not None else None
    if isinstance(seen, IdentityProvider):
        if seen.application_arn and wanted.application_arn and seen.application_arn != wanted.application_arn:
            replace = True
        if seen.iam_role and wanted.iam_role and seen.iam_role != wanted.iam_role and "iam_role" not in clauses:
            clauses.append("iam_role")
    if replace:
        # TYPE and APPLICATION_ARN cannot be altered: drop (CASCADE only if the model says so), create.
        drop = _statement(state, IDENTITY_PROVIDER_PHASE, present, "0",
                          drop_identity_provider_sql(present, state.cascade))
        return [drop, *_create(state, wanted)]
    # Nothing to set: a type without PARAMETERS, a provider without IAM role (ALTER cannot unset them).
    clauses = [c for c in clauses if (c != "parameters" or uses_parameters(wanted))
               and (c != "iam_role" or wanted.iam_role)]
    if present.enabled is not None:
        toggle = present.enabled != wanted.enabled
    else:
        toggle = not parts or parts["enabled"] != target["enabled"]
    statements: list[Statement] = []
    if toggle and wanted.enabled is False:  # disable first, enable last
        statements.append(_statement(state, IDENTITY_PROVIDER_PHASE, wanted, "0",
                                     alter_identity_provider_sql(wanted, ["enabled"])))
    if clauses:
        statements.append(_statement(
            state, IDENTITY_PROVIDER_PHASE, wanted, "1", alter_identity_provider_sql(wanted, clauses),
            (lambda resolved: alter_identity_provider_sql(wanted, clauses, resolved))
            if "parameters" in clauses else None))
    if toggle and wanted.enabled is not False:
        statements.append(_statement(state, IDENTITY_PROVIDER_PHASE, wanted, "2",
                                     alter_identity_provider_sql(wanted, ["enabled"])))
    return statements

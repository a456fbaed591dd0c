"""How long the first deploy of an access model applies, said before anything deploys.

The estimate counts the Data API steps the reconciler would submit against an empty warehouse (the
largest plan a model can have: every later deploy applies a difference) and prices each at
`limits.ESTIMATED_SECONDS_PER_BATCH`. `validate`, `plan` and synth share `check_apply_budget` through
the model loader, so a model that cannot converge inside CloudFormation's hour is refused there, with
what to change, instead of failing an hour into its deploy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from redshift_idc.config.errors import ConfigError
from redshift_idc.runtime.access_state import AccessState, TablePrivilege
from redshift_idc.runtime.ledger import LedgerTables, steps
from redshift_idc.runtime.limits import (
    APPLY_ESTIMATE_LIMIT_SECONDS,
    ESTIMATED_SECONDS_PER_BATCH,
    SERVICE_TIMEOUT_SECONDS,
)
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.runtime.reconcile_request import estimated_apply_seconds
from redshift_idc.wording import plural


@dataclass(frozen=True)
class ApplyEstimate:
    statements: int
    batches: int  # Data API steps: the plan's batches, lone statements and their intents, one per pending script
    seconds: float
    kinds: tuple[tuple[str, int], ...]  # statements per kind, most first

    @property
    def within_budget(self) -> bool:
        return self.seconds <= APPLY_ESTIMATE_LIMIT_SECONDS

    def summary(self) -> str:
        batches = plural(self.batches, "Data API batch", "Data API batches")
        return (f"{plural(self.statements, 'statement')} in {batches}; estimated apply time "
                f"{self.seconds:,.0f} s at {ESTIMATED_SECONDS_PER_BATCH} s per batch (a deploy may apply for "
                f"{APPLY_ESTIMATE_LIMIT_SECONDS:,} s of the {SERVICE_TIMEOUT_SECONDS:,} s CloudFormation gives "
                "a custom resource)")


class ApplyBudgetError(ConfigError):
    """The first deploy of a model would not fit one CloudFormation custom resource's hour."""

    def __init__(self, message: str, estimate: ApplyEstimate) -> None:
        super().__init__(message)
        self.statements = estimate.statements
        self.batches = estimate.batches
        self.estimated_seconds = round(estimate.seconds, 1)


def estimate(planned: Plan, model: str, ledger_schema: str, scripts: int = 0) -> ApplyEstimate:
    cut = steps(planned, model, LedgerTables(ledger_schema))
    intents = sum(1 for step in cut if not step.transactional)  # each sent alone is announced first (fence.py)
    kinds = Counter(s.sort_key[1] if s.sort_key and s.sort_key[0].isdigit() else s.sort_key[0]
                    for s in planned.statements if s.sort_key)
    batches = len(cut) + intents + scripts
    return ApplyEstimate(len(planned.statements), batches, estimated_apply_seconds(batches),
                         tuple(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))))


def first_deploy(desired: AccessState, model: str = "model", ledger_schema: str = "redshift_idc",
                 scripts: int = 0, *, prune: bool = False) -> ApplyEstimate:
    planned = plan(desired, AccessState(case_sensitive=desired.case_sensitive), {}, prune=prune)
    return estimate(planned, model, ledger_schema, scripts)


def check_apply_budget(desired: AccessState, scripts: Sequence[object], *, where: str, model: str = "model",
                       ledger_schema: str = "redshift_idc") -> ApplyEstimate:
    """The first deploy's estimate; ApplyBudgetError, naming the size and the way out, when it is over."""
    found = first_deploy(desired, model, ledger_schema, len(scripts))
    if found.within_budget:
        return found
    counts = dict(found.kinds)
    table_grants = counts.get(TablePrivilege.KIND, 0)
    hints = []
    if table_grants:
        hints.append(f"{table_grants:,} of the statements are table grants: grant the tables once to a plain role "
                     "and grant that role to the groups (roles.plain and role_grants), or grant whole schemas with "
                     "scoped grants (table_grants: - {all_tables_in: <schema>, ...}), one statement per schema and "
                     "role instead of one per table and role")
    else:
        hints.append("give groups that share grants one plain role holding them (roles.plain and role_grants), "
                     "and prefer scoped grants (all_tables_in) to per-table grants")
    raise ApplyBudgetError(f"{where}: the first deploy of this model is {found.summary()}, over the limit. Make it "
                           f"smaller: {'; '.join(hints)}.", found)

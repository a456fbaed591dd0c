"""How long the first deploy of an access model applies, said before anything deploys.

The estimate counts the Data API steps the reconciler would submit against an empty warehouse (the largest plan a
model can have: every later deploy applies a difference) and prices each with the environment's `apply_estimate:`
terms (`config/apply_estimate.py`):

    step = seconds_per_batch + seconds_per_statement x its SQL statements + seconds_per_object x the objects they
           cover + seconds_status_lag + seconds_per_call x its calls (submit, one DescribeStatement)
    apply = the steps + the fence claim + a read per invocation and one to verify + the Provider's pause before
            each invocation
    estimate = apply x margin

A step's statements include its ledger rows and the fence guard and progress the reconciler adds; a plan
statement covers `Statement.covers` objects (a statement for many objects, all it lists), every other statement
one. `validate`, `plan` and synth share `check_apply_budget` through the model loader, so a model that cannot
converge inside CloudFormation's hour is refused there, with what to change, instead of failing an hour into its
deploy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from redshift_idc.config.apply_estimate import ApplyEstimateConfig
from redshift_idc.config.errors import ConfigError
from redshift_idc.runtime.access_state import AccessState, Role, TablePrivilege
from redshift_idc.runtime.ledger import MAX_BATCH_STATEMENTS, RESERVED_STATEMENTS, LedgerTables, Step, steps
from redshift_idc.runtime.limits import (
    APPLY_ESTIMATE_LIMIT_SECONDS,
    INVOCATION_BUDGET_SECONDS,
    PROVIDER_QUERY_INTERVAL_SECONDS,
    SERVICE_TIMEOUT_SECONDS,
)
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.wording import plural

if TYPE_CHECKING:
    from redshift_idc.config.environment import EnvironmentConfig

DEFAULT_TERMS = ApplyEstimateConfig()
CALLS_PER_STEP = 2  # BatchExecuteStatement and one DescribeStatement (`statement_runner.Pacing` times that poll)


class TermsArguments(TypedDict):
    terms: ApplyEstimateConfig
    terms_from: str


@dataclass(frozen=True)
class ApplyEstimate:
    statements: int
    batches: int  # Data API steps: the plan's batches, lone statements and their intents, one per pending script
    seconds: float  # the estimate: margin included
    kinds: tuple[tuple[str, int], ...]  # statements per kind, most first
    terms: ApplyEstimateConfig = field(default=DEFAULT_TERMS)  # what it priced a step at

    @property
    def within_budget(self) -> bool:
        return self.seconds <= APPLY_ESTIMATE_LIMIT_SECONDS

    def summary(self) -> str:
        batches = plural(self.batches, "Data API batch", "Data API batches")
        return (f"{plural(self.statements, 'statement')} in {batches}; estimated apply time {self.seconds:,.0f} s "
                f"at {self.terms.describe()} (a deploy may apply for {APPLY_ESTIMATE_LIMIT_SECONDS:,} s of the "
                f"{SERVICE_TIMEOUT_SECONDS:,} s CloudFormation gives a custom resource)")


class ApplyBudgetError(ConfigError):
    """The first deploy of a model would not fit one CloudFormation custom resource's hour."""

    def __init__(self, message: str, estimate: ApplyEstimate) -> None:
        super().__init__(message)
        self.statements = estimate.statements
        self.batches = estimate.batches
        self.estimated_seconds = round(estimate.seconds, 1)


def step_seconds(terms: ApplyEstimateConfig, statements: int, objects: int, calls: int = CALLS_PER_STEP) -> float:
    """One Data API step of `statements` SQL statements covering `objects` objects, waited for with `calls` calls."""
    return (terms.seconds_per_batch + terms.seconds_per_statement * statements + terms.seconds_per_object * objects
            + terms.seconds_status_lag + terms.seconds_per_call * calls)


def _priced(step: Step, terms: ApplyEstimateConfig) -> float:
    """A batch with the fence guard and progress the reconciler adds; or a statement alone, after its intent batch
    (the guard and the intent: `fence.py`)."""
    covered = sum(s.covers for s in step.statements)
    if not step.transactional:
        return step_seconds(terms, 1, covered) + step_seconds(terms, RESERVED_STATEMENTS, RESERVED_STATEMENTS)
    count = len(step.sqls) + RESERVED_STATEMENTS
    return step_seconds(terms, count, covered + count - len(step.statements))


def estimate(planned: Plan, model: str, ledger_schema: str, scripts: int = 0,
             terms: ApplyEstimateConfig = DEFAULT_TERMS) -> ApplyEstimate:
    """`planned`'s steps priced with `terms` (see the module docstring); `scripts`: pending scripts, each priced
    as a full batch (the most one script step holds)."""
    tables = LedgerTables(ledger_schema)
    cut = steps(planned, model, tables)
    intents = sum(1 for step in cut if not step.transactional)  # each sent alone is announced first (fence.py)
    applying = sum(_priced(step, terms) for step in cut)
    applying += scripts * step_seconds(terms, MAX_BATCH_STATEMENTS, MAX_BATCH_STATEMENTS)
    from redshift_idc.runtime.catalog import read_queries  # here: it brings botocore, which synth need not load

    queries = read_queries(tables, model)
    results = sum(1 for name, _ in queries if not name.startswith("bootstrap_"))  # a GetStatementResult each
    read = step_seconds(terms, len(queries), len(queries), CALLS_PER_STEP + results)
    claim = step_seconds(terms, RESERVED_STATEMENTS, RESERVED_STATEMENTS)
    invocations = max(1, math.ceil(applying / INVOCATION_BUDGET_SECONDS))
    total = applying + claim + (invocations + 1) * read + invocations * PROVIDER_QUERY_INTERVAL_SECONDS
    kinds = Counter(s.sort_key[1] if s.sort_key and s.sort_key[0].isdigit() else s.sort_key[0]
                    for s in planned.statements if s.sort_key)
    return ApplyEstimate(len(planned.statements), len(cut) + intents + scripts, total * terms.margin,
                         tuple(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))), terms)


def first_deploy(desired: AccessState, model: str = "model", ledger_schema: str = "redshift_idc",
                 scripts: int = 0, *, prune: bool = False, terms: ApplyEstimateConfig = DEFAULT_TERMS,
                 coalesce: bool = True) -> ApplyEstimate:
    planned = plan(desired, AccessState(case_sensitive=desired.case_sensitive), {}, prune=prune, coalesce=coalesce)
    return estimate(planned, model, ledger_schema, scripts, terms)


def estimate_terms(environment: EnvironmentConfig | None) -> TermsArguments:
    """`check_apply_budget`'s `terms` and `terms_from` for an environment (None: the defaults)."""
    if environment is None:
        return {"terms": DEFAULT_TERMS, "terms_from": "the defaults"}
    source = f"config/{environment.name}.yaml"
    if "apply_estimate" in environment.model_fields_set:
        return {"terms": environment.apply_estimate, "terms_from": f"{source}'s apply_estimate:"}
    return {"terms": environment.apply_estimate, "terms_from": f"the defaults ({source} sets no apply_estimate:)"}


def check_apply_budget(desired: AccessState, scripts: Sequence[object], *, where: str, model: str = "model",
                       ledger_schema: str = "redshift_idc", terms: ApplyEstimateConfig = DEFAULT_TERMS,
                       terms_from: str = "the defaults", coalesce: bool = True) -> ApplyEstimate:
    """The first deploy's estimate; ApplyBudgetError, naming the size, the terms (and `terms_from`: where they
    were set) and the way out, when it is over."""
    found = first_deploy(desired, model, ledger_schema, len(scripts), terms=terms, coalesce=coalesce)
    if found.within_budget:
        return found
    counts = dict(found.kinds)
    table_grants = counts.get(TablePrivilege.KIND, 0)
    roles = counts.get(Role.KIND, 0)
    hints = []
    if not coalesce:
        hints.append("turn coalesce_statements back on (the access model's setting): one statement then grants many "
                     "tables to many roles")
    if table_grants * 4 >= found.statements:
        hints.append(f"{table_grants:,} of the statements are table grants: grant the tables once to a plain role "
                     "and grant that role to the groups (roles.plain and role_grants), or grant whole schemas with "
                     "scoped grants (table_grants: - {all_tables_in: <schema>, ...}), one statement per schema and "
                     "role instead of one per table and role")
    if roles * 4 >= found.statements:
        hints.append(f"{roles:,} of the statements create roles, one each (CREATE ROLE takes one name): deploy the "
                     "groups in parts (some in this deploy, the rest in the next), or merge groups that share grants "
                     "into fewer roles")
    if not hints:
        hints.append("give groups that share grants one plain role holding them (roles.plain and role_grants), "
                     "and prefer scoped grants (all_tables_in) to per-table grants")
    raise ApplyBudgetError(f"{where}: the first deploy of this model is {found.summary()}, over the limit. Make it "
                           f"smaller: {'; '.join(hints)}. (The terms are {terms_from}; if your workgroup is faster, "
                           "measure it and set apply_estimate: in the environment config, README \"The real "
                           "limits\".)", found)

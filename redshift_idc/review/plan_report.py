"""The reports of `python -m redshift_idc plan`: the SQL a deploy will run, for a pull request.

Offline (default) it plans against an empty warehouse: exactly what the first deploy runs. With
`--snapshot FILE` it plans, offline, against the catalog a `snapshot` file holds: a model `import` wrote
from it shows no statement, only the objects a deploy would adopt into the ledger. (`plan --live` prints
the drift report instead, `deployed/drift.py`: what the next deploy runs on the live warehouse.)

Identity provider client secrets never appear: the model only references them (Secrets Manager), and
the plan shows them as `***`; the reconciler puts the real value in the statement it sends, only then.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from redshift_idc.access.checked import checked_model
from redshift_idc.access.estimate import ApplyEstimate, estimate
from redshift_idc.access.model import prune_scope
from redshift_idc.access.model_file import AccessModel
from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.config.errors import ConfigError
from redshift_idc.review.plan_text import render_for_review, text_drift_notes
from redshift_idc.runtime.catalog import other_database_policy_problem
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.ownership import OwnershipError
from redshift_idc.wording import plural

if TYPE_CHECKING:
    from redshift_idc.access.preview.results import Preview, PreviewWarning
    from redshift_idc.access.transition.verdict import TransitionVerdict


def plan_header(config: EnvironmentConfig, model: AccessModel, size: ApplyEstimate) -> str:
    """Which environment a plan is for: plans of two environments with the same model differ here."""
    warehouse = config.warehouse
    return "".join(f"-- {line}\n" for line in (
        f"plan for environment {config.name} (config/{config.name}.yaml): account {config.account}, region "
        f"{config.region}",
        f"workgroup {warehouse.workgroup_name}, namespace {warehouse.namespace_name}, database "
        f"{warehouse.database_name}; access model access/{model.name}.yaml",
        f"first deploy from an empty warehouse: {plural(size.statements, 'statement')} in "
        f"{plural(size.batches, 'Data API batch', 'Data API batches')}",
    ))


@dataclass(frozen=True)
class PlanReport:
    """What `plan` prints, and what `--strict` fails on: the transition verdict and the model's lints that
    `allow_warnings` does not accept."""

    text: str
    transition: TransitionVerdict | None = None
    lints: tuple[PreviewWarning, ...] = ()

    def strict_error(self) -> str:
        """'' when `--strict` passes, else why it fails."""
        problems = [*(self.transition.details() if self.transition is not None and not self.transition.ok else ()),
                    *(f"warning [{w.code}]: {w.message}" for w in self.lints)]
        return "--strict: " + "\n".join(problems) if problems else ""


def offline_plan(config: EnvironmentConfig) -> str:
    return offline_plan_report(config).text


def offline_plan_report(config: EnvironmentConfig) -> PlanReport:
    """The first deploy's SQL under a header naming the environment, then its size and estimated apply time
    (the model loader has already refused a model whose estimate does not fit), who sees what, and the
    transition check's verdict as the last line."""
    checked = checked_model(config, transition="report")
    assert checked.transition is not None
    model, scripts, planned = checked.model, checked.scripts, checked.first_deploy
    size = estimate(planned, model.name, model.ledger_schema, len(scripts), config.apply_estimate)
    text = (plan_header(config, model, size) + "".join(f"-- warning: {w}\n" for w in checked.warnings)
            + render_for_review(planned, scripts)
            + f"-- first deploy: {size.summary()}\n" + deprovision_note(config, model)
            + (preview_summary(checked.preview) if checked.preview is not None
               else f"-- no access preview: {checked.preview_note}\n"))
    return PlanReport(text + checked.transition.render(), checked.transition, checked.lints)


def deprovision_note(config: EnvironmentConfig, model: AccessModel) -> str:
    """What `deprovision_users` will do, which no offline plan can show (it depends on the live users)."""
    if not model.deprovision_users:
        return ""
    namespace = config.redshift_idc_application.identity_namespace
    target = f"; what they own goes to {model.transfer_ownership_to}" if model.transfer_ownership_to else (
        "; one who owns objects fails the deploy (set transfer_ownership_to)")
    return (f"-- deprovision_users: each deploy drops the users \"{namespace}:...\" who left IAM Identity Center or "
            f"every group the environment assigns{target}; `plan --live` lists them\n")


def preview_summary(result: Preview) -> str:
    """Who sees what, in a few comment lines: rows of each table per persona, and the preview's lints
    (`make preview` shows the rows themselves)."""
    lines = ["-- who sees what on the sample rows (make preview ENV=... for the rows):"]
    for view in result.personas:
        seen = [f"{t.table} {len(t.rows)}/{t.total_rows}" if t.access == "ok" else f"{t.table} denied"
                for t in view.tables]
        lines.append(f"--   {view.persona.name}: {', '.join(seen)}")
    lines += [f"-- warning [{w.code}]: {w.message}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def snapshot_plan(config: EnvironmentConfig, path: Path) -> str:
    return snapshot_plan_report(config, path).text


def snapshot_plan_report(config: EnvironmentConfig, path: Path) -> PlanReport:
    """The environment's model planned against the catalog of a `snapshot` file, offline: what a deploy
    would run on that warehouse as it was read, with the model's ledger rows if the snapshot holds them."""
    from redshift_idc.access.transition.check import check_plan
    from redshift_idc.access.transition.states import with_definitions
    from redshift_idc.deployed.snapshot import SnapshotError, load_snapshot

    try:
        snapshot = load_snapshot(path)
    except SnapshotError as error:
        raise ConfigError(str(error)) from None
    if snapshot.environment != config.name:
        raise ConfigError(f"{path}: a snapshot of environment {snapshot.environment}, not {config.name}; plan it with "
                          f"--env {snapshot.environment}, or take one of this environment (`python -m redshift_idc "
                          f"snapshot --env {config.name} ...`)")
    checked = checked_model(config, transition="skip")
    model, desired, scripts = checked.model, checked.desired, checked.scripts
    problem = snapshot.ledger_schema_problem()
    if problem:
        raise ConfigError(f"{path}: access model '{model.name}': {problem}")
    parsed = snapshot.parsed(desired.case_sensitive)
    clash = other_database_policy_problem(desired, parsed)  # the deploy refuses it too
    if clash:
        raise ConfigError(f"{path}: access model '{model.name}': {clash}")
    ledger = snapshot.ledger_for(model.name)
    definitions = snapshot.definitions(desired.case_sensitive)
    try:
        planned = plan(desired, parsed.state, ledger, prune=model.prune,
                       identity_provider_drop_cascade=model.identity_provider_drop_cascade,
                       coalesce=model.coalesce_statements,
                       definitions=definitions, scope=prune_scope(model), stored=parsed.stored_hashes(),
                       owners=snapshot.owners_for(model.name))
    except OwnershipError as error:
        raise ConfigError(f"{path}: access model '{model.name}': {error}") from None
    applied = snapshot.scripts_for(model.name)
    pending = [s for s in scripts if applied.get(s["Name"]) != s["Checksum"]]
    recorded = (f"{len(ledger)} ledger row(s) of access/{model.name}.yaml" if snapshot.model == model.name else
                f"no ledger rows of access/{model.name}.yaml (never deployed there, so everything present is adopted)")
    lines = [f"plan for environment {config.name} (config/{config.name}.yaml) against the catalog snapshot {path}",
             f"read from {snapshot.where} as {snapshot.read_as}; access model access/{model.name}.yaml; {recorded}"]
    lines += [f"warning: {w}" for w in (*checked.warnings, *parsed.warnings)]
    if not snapshot.reads_default_privileges:
        lines.append("warning: this snapshot holds no default privileges (taken by an earlier version): the plan "
                     "grants every one the model declares, whether the warehouse has it or not; take a new snapshot")
    if not snapshot.reads_other_ledgers:
        lines.append("warning: this snapshot holds no other access model's ledger rows (taken by an earlier version):"
                     " objects other models manage in this database are not known here; take a new snapshot")
    lines = [f"-- {line}" for line in lines] + text_drift_notes(planned, parsed.stored)
    text = "".join(f"{line}\n" for line in lines) + render_for_review(planned, pending)
    text += (f"-- against the snapshot: {len(planned.statements):,} statement(s) and {len(pending)} script(s); "
             f"{len(planned.adopt):,} object(s) recorded in the ledger without DDL\n")
    if planned.statements or pending:
        size = estimate(planned, model.name, model.ledger_schema, len(pending), config.apply_estimate)
        text += f"-- next deploy: {size.summary()}\n"
    verdict = check_plan(checked.inputs, with_definitions(parsed.state, definitions), planned, model.name,
                         model.ledger_schema)
    return PlanReport(text + verdict.render(), verdict, checked.lints)

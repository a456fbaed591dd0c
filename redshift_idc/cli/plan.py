"""`python -m redshift_idc plan`: the SQL a deploy will run, for a pull request.

Offline (default) it plans against an empty warehouse: exactly what the first deploy runs. With
`--live` it prints the drift report (`drift.py`: a read-only read of the current state through the Data
API with the caller's credentials), which is what the next deploy runs. With `--snapshot FILE` it plans,
offline, against the catalog a `snapshot` file holds: a model `import` wrote from it shows no statement,
only the objects a deploy would adopt into the ledger.

Identity provider client secrets never appear: the model only references them (Secrets Manager), and
the plan shows them as `***`; the reconciler puts the real value in the statement it sends, only then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from redshift_idc import project
from redshift_idc.access.estimate import ApplyEstimate, estimate
from redshift_idc.access.model import AccessModel, load_model, load_scripts, prune_scope
from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.config.yaml_files import available_environments, read_yaml
from redshift_idc.runtime.access_state import AccessState, MaskingPolicy, RlsPolicy
from redshift_idc.runtime.catalog_import import PolicyKey, StoredText
from redshift_idc.runtime.sql_text import fold

if TYPE_CHECKING:
    from redshift_idc.access.preview import Preview, PreviewInputs
    from redshift_idc.access.transition import TransitionVerdict
from redshift_idc.access.scripts import split_statements
from redshift_idc.runtime.planner import RESTRICTION_PHASE, OwnershipError, Plan, Statement, plan
from redshift_idc.runtime.reconciler import ScriptEntry

PHASE_TITLES = {
    1: "create, alter or replace identity providers, external schemas and databases (each statement alone, "
       "outside any transaction, before the rest)",
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
        # Marked one by one: the reviewer sees which statements commit on their own (no rollback with the rest).
        lines.append(f"{statement.sql};" if statement.transactional else f"{statement.sql};  -- {ALONE}")
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


def model_for(config: EnvironmentConfig) -> tuple[AccessModel, AccessState]:
    if config.access_model is None:
        raise ConfigError(f"config/{config.name}.yaml: access_model: not set; this environment has no access model")
    return load_model(config.access_model, config)


class TransitionError(ConfigError):
    """A plan with a batch boundary after which someone would see more than before and after the deploy."""


@dataclass(frozen=True)
class CheckedModel:
    """An environment's access model after every check `validate`, `plan` and synth share."""

    model: AccessModel
    desired: AccessState
    scripts: list[ScriptEntry]  # read and split into statements
    inputs: PreviewInputs  # the tables, personas and sample rows the preview and the transition check use
    first_deploy: Plan  # the plan from an empty warehouse
    transition: TransitionVerdict | None  # that plan replayed batch by batch (None: not asked for)
    preview: Preview | None  # who sees what; None when the preview could not evaluate the model ...
    preview_note: str = ""  # ... and why (a model with expectations is refused instead)


def preview_inputs(config: EnvironmentConfig, model: AccessModel, scripts: Sequence[ScriptEntry]) -> PreviewInputs:
    from redshift_idc.access.preview import PreviewInputs

    return PreviewInputs.of_model(model, scripts, config.redshift_idc_application.identity_namespace,
                                  project.access_dir())


def checked_model(config: EnvironmentConfig, *, transition: Literal["enforce", "report", "skip"] = "enforce",
                  ) -> CheckedModel:
    """The model, its scripts (each file read and split), its sample data files, the roles IAM federation
    names, who sees what with its expectations, and the first deploy's transition check: one set of checks for
    `validate`, `plan` and synth, so the three cannot disagree. A model the preview cannot evaluate is refused
    only when it has expectations (they cannot be checked); otherwise `preview_note` says why there is no
    preview. A first deploy with a widening window fails here (`enforce`: validate and synth); `plan` prints the
    verdict instead (`report`, failing with --strict); `plan --snapshot` checks the plan it prints, not the first
    deploy's (`skip`)."""
    from redshift_idc.access.preview import PreviewError, evaluate, failed_expectations, raise_failed_expectations
    from redshift_idc.access.transition import check_plan

    model, desired = model_for(config)
    scripts = load_scripts(model)
    check_federation_roles(config, model)
    check_one_ledger_schema(config, model)
    inputs = preview_inputs(config, model, scripts)
    empty = AccessState(case_sensitive=desired.case_sensitive)
    first = plan(desired, empty, {}, prune=model.prune, scope=prune_scope(model),
                 identity_provider_drop_cascade=model.identity_provider_drop_cascade)
    verdict = None if transition == "skip" else check_plan(inputs, empty, first, model.name, model.ledger_schema)
    if transition == "enforce" and verdict is not None and not verdict.ok:
        raise TransitionError(f"access/{model.name}.yaml: the first deploy's plan has a batch boundary that widens "
                              "access:\n" + verdict.render().rstrip("\n"))
    try:
        result = evaluate(inputs, desired)
    except PreviewError as error:
        if model.expect:
            raise PreviewError(f"{error} (the model's expectations need the preview)") from None
        return CheckedModel(model, desired, scripts, inputs, first, verdict, None, str(error))
    result.failures = failed_expectations(model, result)
    raise_failed_expectations(result)
    return CheckedModel(model, desired, scripts, inputs, first, verdict, result)


def check_federation_roles(config: EnvironmentConfig, model: AccessModel) -> None:
    """The database roles IAM-federated users get must be roles the access model creates: Redshift ignores a
    `RedshiftDbRoles` entry that names no role, so a typo would fail silently at sign-in."""
    if config.iam_federation is None:
        return
    declared = {fold(role, model.case_sensitive_identifiers) for role in model.roles.plain}
    for index, role in enumerate(config.iam_federation.db_roles):
        if fold(role, model.case_sensitive_identifiers) not in declared:
            raise ConfigError(f"config/{config.name}.yaml: iam_federation.db_roles[{index}]: '{role}' is not a role "
                              f"of access model '{model.name}'; declare it under roles.plain in "
                              f"access/{model.name}.yaml (known: {', '.join(model.roles.plain) or 'none'})")


def check_one_ledger_schema(config: EnvironmentConfig, model: AccessModel) -> None:
    """Access models deployed to one database keep their ledgers in one schema, or none of them could see what the
    others manage (one owner per object; the deploy refuses it too): another environment under config/ deploying a
    model to the same workgroup and database with another ledger_schema is refused here, before any deploy. An
    environment or model that does not load is left to its own validation."""
    warehouse = config.warehouse
    where = (config.account, config.region, warehouse.workgroup_name, fold(warehouse.database_name))
    for name in available_environments():
        if name == config.name:
            continue
        try:
            other = load_environment(name)
        except ConfigError:
            continue
        there = (other.account, other.region, other.warehouse.workgroup_name, fold(other.warehouse.database_name))
        if other.access_model is None or there != where:
            continue
        schema = _declared_ledger_schema(other.access_model)
        if schema is not None and fold(schema) != fold(model.ledger_schema):
            raise ConfigError(
                f"config/{config.name}.yaml: access model '{model.name}' keeps its ledger in schema "
                f"'{model.ledger_schema}', but config/{name}.yaml deploys access model '{other.access_model}' to the "
                f"same workgroup {warehouse.workgroup_name} and database {warehouse.database_name} with ledger_schema "
                f"'{schema}': access models deployed to one database must use the same ledger_schema, so that each "
                f"sees the objects the others manage; set one ledger_schema in access/{model.name}.yaml and "
                f"access/{other.access_model}.yaml")


def _declared_ledger_schema(model_name: str) -> str | None:
    """The ledger_schema an access model file sets (the default when it sets none), read without compiling the
    model; None when the file cannot be read."""
    try:
        data = read_yaml(project.access_dir() / f"{model_name}.yaml")
    except (ConfigError, OSError):
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None
    value = data.get("ledger_schema", AccessModel.model_fields["ledger_schema"].default)
    return value if isinstance(value, str) else None


def environment_preview(config: EnvironmentConfig) -> tuple[AccessModel, Preview]:
    """Who sees what in the environment's model, on its sample rows (`preview` and the Streamlit example's
    preview mode), its expectations checked (`failures`) but not raised: the preview shows them."""
    from redshift_idc.access.preview import build_preview

    model, desired = model_for(config)
    return model, build_preview(model, desired, load_scripts(model),
                                config.redshift_idc_application.identity_namespace, project.access_dir())


def plan_header(config: EnvironmentConfig, model: AccessModel, size: ApplyEstimate) -> str:
    """Which environment a plan is for: plans of two environments with the same model differ here."""
    warehouse = config.warehouse
    return "".join(f"-- {line}\n" for line in (
        f"plan for environment {config.name} (config/{config.name}.yaml): account {config.account}, region "
        f"{config.region}",
        f"workgroup {warehouse.workgroup_name}, namespace {warehouse.namespace_name}, database "
        f"{warehouse.database_name}; access model access/{model.name}.yaml",
        f"first deploy from an empty warehouse: {size.statements:,} statements in {size.batches:,} Data API batches",
    ))


@dataclass(frozen=True)
class PlanReport:
    """What `plan` prints, and the transition verdict `--strict` fails on."""

    text: str
    transition: TransitionVerdict | None = None

    def strict_error(self) -> str:
        """'' when `--strict` passes, else why it fails."""
        if self.transition is None or self.transition.ok:
            return ""
        return "--strict: " + "\n".join(self.transition.details())


def offline_plan(config: EnvironmentConfig) -> str:
    return offline_plan_report(config).text


def offline_plan_report(config: EnvironmentConfig) -> PlanReport:
    """The first deploy's SQL under a header naming the environment, then its size and estimated apply time
    (the model loader has already refused a model whose estimate does not fit), who sees what, and the
    transition check's verdict as the last line."""
    checked = checked_model(config, transition="report")
    assert checked.transition is not None
    model, scripts, planned = checked.model, checked.scripts, checked.first_deploy
    size = estimate(planned, model.name, model.ledger_schema, len(scripts))
    text = (plan_header(config, model, size) + render_for_review(planned, scripts)
            + f"-- first deploy: {size.summary()}\n" + deprovision_note(config, model)
            + (preview_summary(checked.preview) if checked.preview is not None
               else f"-- no access preview: {checked.preview_note}\n"))
    return PlanReport(text + checked.transition.render(), checked.transition)


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


def preview_command(config: EnvironmentConfig, persona: str | None = None, output: str = "text",
                    strict: bool = False) -> str:
    """`python -m redshift_idc preview`: the access preview of the environment's model. `strict`: warnings
    the model does not accept (`allow_warnings`), and failed expectations, are errors."""
    from redshift_idc.access.preview import PreviewError, render_json, render_markdown, render_text, unaccepted

    model, result = environment_preview(config)
    if strict and (unaccepted(model, result) or result.failures):
        problems = [f"warning [{w.code}]: {w.message}" for w in unaccepted(model, result)] + [
            f"failed expectation: {f}" for f in result.failures]
        raise PreviewError(f"access/{model.name}.yaml: --strict: {len(problems)} problem(s) (accept a warning "
                           "with allow_warnings: [{code: ..., reason: ...}]):\n  " + "\n  ".join(problems))
    if persona is not None:
        chosen = [p for p in result.personas if p.persona.name.lower() == persona.lower()]
        if not chosen:
            known = ", ".join(p.persona.name for p in result.personas)
            raise ConfigError(f"access/{model.name}.yaml: no persona '{persona}' (personas: {known})")
        result.personas = chosen
    renderers = {"text": render_text, "markdown": render_markdown, "json": render_json}
    return renderers[output](result)




def snapshot_plan(config: EnvironmentConfig, path: Path) -> str:
    return snapshot_plan_report(config, path).text


def snapshot_plan_report(config: EnvironmentConfig, path: Path) -> PlanReport:
    """The environment's model planned against the catalog of a `snapshot` file, offline: what a deploy
    would run on that warehouse as it was read, with the model's ledger rows if the snapshot holds them."""
    from redshift_idc.access.transition import check_plan, with_definitions
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
    ledger = snapshot.ledger_for(model.name)
    definitions = snapshot.definitions(desired.case_sensitive)
    try:
        planned = plan(desired, parsed.state, ledger, prune=model.prune,
                       identity_provider_drop_cascade=model.identity_provider_drop_cascade,
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
    lines += [f"warning: {w}" for w in parsed.warnings]
    if not snapshot.reads_other_ledgers:
        lines.append("warning: this snapshot holds no other access model's ledger rows (taken by an earlier version):"
                     " objects other models manage in this database are not known here; take a new snapshot")
    lines = [f"-- {line}" for line in lines] + text_drift_notes(planned, parsed.stored)
    text = "".join(f"{line}\n" for line in lines) + render_for_review(planned, pending)
    text += (f"-- against the snapshot: {len(planned.statements):,} statement(s) and {len(pending)} script(s); "
             f"{len(planned.adopt):,} object(s) recorded in the ledger without DDL\n")
    if planned.statements or pending:
        text += f"-- next deploy: {estimate(planned, model.name, model.ledger_schema, len(pending)).summary()}\n"
    verdict = check_plan(checked.inputs, with_definitions(parsed.state, definitions), planned, model.name,
                         model.ledger_schema)
    return PlanReport(text + verdict.render(), verdict)

"""One compiled, checked access model per environment: what synth, `validate`, `plan`, `preview`, `drift`,
`import` and the review read. The model file is compiled once (`model_for`), then checked with every check the
three verdicts share (IAM federation roles, one ledger schema per database, the workgroup's role quota, the
preview's expectations, the first deploy's transition), so `validate`, `plan` and synth cannot disagree.

Data flows one way: config -> this compiled model -> stacks / planner / preview -> handler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from redshift_idc import project
from redshift_idc.access.model import CompiledAccess, load_model, load_scripts, parse_model, prune_scope
from redshift_idc.access.model_file import AccessModel
from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.config.warehouse import DEFAULT_ROLE_QUOTA
from redshift_idc.config.yaml_files import available_environments, read_yaml
from redshift_idc.runtime.access_state import AccessState, Role
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.plan_types import Plan
from redshift_idc.runtime.planning.scope import Scope
from redshift_idc.runtime.reconcile_request import ScriptEntry
from redshift_idc.runtime.sql_text import fold
from redshift_idc.runtime.users import DeprovisionSettings
from redshift_idc.wording import plural

if TYPE_CHECKING:
    from redshift_idc.access.preview.inputs import PreviewInputs
    from redshift_idc.access.preview.results import Preview, PreviewWarning
    from redshift_idc.access.transition.verdict import TransitionVerdict


def model_for(config: EnvironmentConfig, given: AccessModel | None = None) -> CompiledAccess:
    """The environment's access model file, validated and compiled once (the first step of `checked_model`).
    `given`: the model as a typed object instead of `access/<name>.yaml` (a user's own CDK app builds it in
    Python); it goes through the same validation and compiler as the file would."""
    if given is not None:
        document = given.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude={"name"})
        return parse_model(document, name=given.name, source=Path(f"AccessModel {given.name!r}"), environment=config)
    if config.access_model is None:
        raise ConfigError(f"config/{config.name}.yaml: access_model: not set; this environment has no access model")
    return load_model(config.access_model, config)


class RoleQuotaError(ConfigError):
    """A model declaring more roles than the workgroup may hold."""

    def __init__(self, message: str, roles: int, quota: int) -> None:
        super().__init__(message)
        self.roles = roles
        self.quota = quota


def check_role_quota(desired: AccessState, quota: int, *, where: str, setting: str) -> None:
    """RoleQuotaError when the model declares more roles than `quota` (`setting`: where the quota is set). Only the
    declared roles: what else the warehouse holds is known only at deploy (`runtime/role_quota.py`)."""
    roles = len(desired.of_kind(Role.KIND))
    at_deploy = ("This counts the model's roles only: at deploy the reconciler also counts every role already in "
                 "the workgroup (not Redshift's own sys: and ds: roles), and refuses before any change when its plan "
                 "would exceed the quota")
    if roles > quota:
        raise RoleQuotaError(
            f"{where}: the model declares {plural(roles, 'role')}, over the workgroup's role quota of {quota:,} "
            f"({setting}; Redshift's default is {DEFAULT_ROLE_QUOTA:,} per workgroup): its first deploy would fail "
            "at the CREATE ROLE that crosses it. Ask AWS to raise the quota (Service Quotas, Amazon Redshift) and set "
            f"{setting} to the raised value, or merge groups that share grants into fewer roles. {at_deploy}.",
            roles, quota)


class TransitionError(ConfigError):
    """A plan with a batch boundary after which someone would see more than before and after the deploy."""


@dataclass(frozen=True)
class CheckedModel:
    """An environment's access model after every check `validate`, `plan` and synth share."""

    compiled: CompiledAccess  # the model, its desired state and its deprovision settings
    scripts: list[ScriptEntry]  # read and split into statements
    inputs: PreviewInputs  # the tables, personas and sample rows the preview and the transition check use
    first_deploy: Plan  # the plan from an empty warehouse
    transition: TransitionVerdict | None  # that plan replayed batch by batch (None: not asked for)
    preview: Preview | None  # who sees what; None when the preview could not evaluate the model ...
    preview_note: str = ""  # ... and why (a model with expectations is refused instead)
    warnings: tuple[str, ...] = ()  # valid but probably not meant (`validate`, `plan` and synth show them)
    lints: tuple[PreviewWarning, ...] = ()  # the model's lints `allow_warnings` does not accept (also in `warnings`)

    @property
    def model(self) -> AccessModel:
        return self.compiled.model

    @property
    def desired(self) -> AccessState:
        return self.compiled.desired

    @property
    def deprovision(self) -> DeprovisionSettings | None:
        return self.compiled.deprovision

    @property
    def scope(self) -> Scope:
        """The tables prune may act on, as the planner takes them."""
        return prune_scope(self.model)


def preview_inputs(config: EnvironmentConfig, model: AccessModel, scripts: Sequence[ScriptEntry]) -> PreviewInputs:
    from redshift_idc.access.preview.inputs import PreviewInputs

    return PreviewInputs.of_model(model, scripts, config.redshift_idc_application.identity_namespace,
                                  project.access_dir())


def checked_model(config: EnvironmentConfig, *, transition: Literal["enforce", "report", "skip"] = "enforce",
                  given: AccessModel | None = None) -> CheckedModel:
    """The model, its scripts (each file read and split), its sample data files, the roles IAM federation
    names, who sees what with its expectations, the model's lints (`model_lints.py`: those `allow_warnings` does not
    accept join `warnings`), and the first deploy's transition check: one set of checks for
    `validate`, `plan` and synth, so the three cannot disagree. A model the preview cannot evaluate is refused
    only when it has expectations (they cannot be checked); otherwise `preview_note` says why there is no
    preview. A first deploy with a widening window fails here (`enforce`: validate and synth); `plan` prints the
    verdict instead (`report`, failing with --strict); `plan --snapshot` checks the plan it prints, not the first
    deploy's (`skip`). `given`: the model as a typed object (see `model_for`)."""
    from redshift_idc.access.model_lints import model_lints, unaccepted
    from redshift_idc.access.preview.build import evaluate
    from redshift_idc.access.preview.expectations import failed_expectations, raise_failed_expectations
    from redshift_idc.access.preview.results import PreviewError
    from redshift_idc.access.transition.check import check_plan

    compiled = model_for(config, given)
    model, desired = compiled.model, compiled.desired
    scripts = load_scripts(model)
    check_federation_roles(config, model)
    check_one_ledger_schema(config, model)
    check_role_quota(desired, config.warehouse.role_quota, where=f"access/{model.name}.yaml",
                                     setting=f"warehouse.role_quota in config/{config.name}.yaml")
    inputs = preview_inputs(config, model, scripts)
    empty = AccessState(case_sensitive=desired.case_sensitive)
    first = plan(desired, empty, {}, prune=model.prune, scope=prune_scope(model),
                 identity_provider_drop_cascade=model.identity_provider_drop_cascade,
                 coalesce=model.coalesce_statements)
    verdict = None if transition == "skip" else check_plan(inputs, empty, first, model.name, model.ledger_schema)
    lints = tuple(unaccepted(model, model_lints(
        model, scripts, federated=config.warehouse.federated_permissions is not None, environment=config.name)))
    warnings = tuple(w for w in (empty_model_warning(config, model, first, scripts),) if w is not None) + tuple(
        f"[{lint.code}] {lint.message}" for lint in lints)
    if transition == "enforce" and verdict is not None and not verdict.ok:
        raise TransitionError(f"access/{model.name}.yaml: the first deploy's plan has a batch boundary that widens "
                              "access:\n" + verdict.render().rstrip("\n"))
    try:
        result = evaluate(inputs, desired)
    except PreviewError as error:
        if model.expect:
            raise PreviewError(f"{error} (the model's expectations need the preview)") from None
        return CheckedModel(compiled, scripts, inputs, first, verdict, None, str(error), warnings, lints)
    result.failures = failed_expectations(model, result)
    raise_failed_expectations(result)
    return CheckedModel(compiled, scripts, inputs, first, verdict, result, warnings=warnings, lints=lints)


def empty_model_warning(config: EnvironmentConfig, model: AccessModel, first_deploy: Plan,
                        scripts: Sequence[ScriptEntry]) -> str | None:
    """A model whose first deploy runs nothing (an empty file, or one with only comments, is valid YAML and a
    valid model) manages nothing, which is rarely what its author meant: said, not refused, since an environment
    may start with an empty model and fill it in later."""
    if first_deploy.statements or scripts:
        return None
    return (f"access/{model.name}.yaml declares no roles, grants or policies: its first deploy creates nothing. "
            "Declare what the warehouse should hold (roles, schema_grants, table_grants, rls, masking: the README's "
            f"\"The access model\"), or set access_model: null in config/{config.name}.yaml if this environment "
            "manages no access")


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
    from redshift_idc.access.preview.build import build_preview

    compiled = model_for(config)
    model = compiled.model
    return model, build_preview(model, compiled.desired, load_scripts(model),
                                config.redshift_idc_application.identity_namespace, project.access_dir())

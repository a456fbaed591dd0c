"""Loading and compiling an access model (`access/<model>.yaml`): the entry points every consumer calls.

`load_model`/`parse_model` validate the file (model_file.py) and compile it: the compiler
(`access/compiler/`, one module per object kind) cross-checks every reference offline, before anything
deploys, and builds the desired `AccessState` the planner diffs against the warehouse. `load_scripts`
reads the model's SQL scripts, split into statements for the Lambda.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from redshift_idc import project
from redshift_idc.access.compiler.deprovision import deprovision_settings
from redshift_idc.access.compiler.external import compile_external
from redshift_idc.access.compiler.identity_providers import compile_identity_providers
from redshift_idc.access.compiler.masking import compile_masking
from redshift_idc.access.compiler.preview_inputs import check_preview_inputs
from redshift_idc.access.compiler.privileges import (
    compile_column_grants,
    compile_default_privileges,
    compile_schema_grants,
    compile_table_grants,
)
from redshift_idc.access.compiler.resolver import Resolver
from redshift_idc.access.compiler.rls import compile_rls
from redshift_idc.access.compiler.roles import compile_role_grants
from redshift_idc.access.estimate import check_apply_budget, estimate_terms
from redshift_idc.access.model_file import AccessModel, split_table
from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.config.errors import ConfigError, format_validation_error, not_a_mapping
from redshift_idc.config.yaml_files import read_yaml
from redshift_idc.runtime.access_state import AccessState, IdentityProvider
from redshift_idc.runtime.planning.scope import AutoCreated, Scope
from redshift_idc.runtime.reconcile_request import ScriptEntry
from redshift_idc.runtime.sql_text import SqlTextError
from redshift_idc.runtime.users import DeprovisionSettings

ACCESS_DIR = project.access_dir()  # the project's own; readers ask `project` at call time
SQL_DIR = project.sql_dir()


def prune_scope(model: AccessModel) -> Scope:
    """The tables the model declares, those prune may lift restrictions on, and the roles it leaves, as the
    planner takes them."""
    providers = (IdentityProvider(p.name, p.type, p.namespace, auto_create_roles=p.auto_create()[0],
                                  auto_create_groups=p.auto_create()[1]) for p in model.identity_providers)
    return Scope(frozenset(split_table(t) for t in model.tables),
                 frozenset(split_table(t) for t in model.lift_undeclared_restrictions), model.prune_ignore_roles,
                 tuple(a for a in map(AutoCreated.of, providers) if a is not None))


@dataclass(frozen=True)
class CompiledAccess:
    """An access model file compiled once: what the planner converges to and what departing users get. Every
    consumer (stacks, plan, preview, drift, import) reads these; none compiles the model again."""

    model: AccessModel
    desired: AccessState
    deprovision: DeprovisionSettings | None  # None: deprovision_users is off


def compile_model(model: AccessModel, environment: EnvironmentConfig | None = None,
                  identity_namespace: str = "AWSIDC") -> CompiledAccess:
    """The desired state and the deprovision settings. With an environment, IdC roles use its namespace and
    must be assigned groups."""
    if environment is not None:
        app = environment.redshift_idc_application
        resolver = Resolver(model, app.identity_namespace, tuple(g.display_name for g in app.groups),
                            tuple(u.user_name for u in app.users), scripts=lambda: load_scripts(model))
    else:
        resolver = Resolver(model, identity_namespace, None, scripts=lambda: load_scripts(model))
    desired = _compile(resolver)
    return CompiledAccess(model, desired, deprovision_settings(resolver))


def _compile(resolver: Resolver) -> AccessState:
    """Each object kind in turn, in this order: the first bad reference is the one reported, so a model
    with several errors always names the same one first."""
    check_preview_inputs(resolver)
    compile_role_grants(resolver)
    compile_schema_grants(resolver)
    compile_table_grants(resolver)
    compile_column_grants(resolver)
    compile_external(resolver)
    compile_default_privileges(resolver)
    compile_rls(resolver)
    compile_masking(resolver)
    compile_identity_providers(resolver)
    return resolver.state()


def parse_model(data: Any, *, name: str, source: Path, environment: EnvironmentConfig | None = None,
                identity_namespace: str = "AWSIDC") -> CompiledAccess:
    """Validate, then compile: every error names the file and the field."""
    if not isinstance(data, dict):
        raise not_a_mapping(source, data, "tables: {public.sales: [id, amount]}")
    if "name" in data:
        raise ConfigError(f"{source}: name: unknown key; the model's name is the file name ('{name}'): remove it")
    try:
        model = AccessModel.model_validate({**data, "name": name})
    except ValidationError as error:
        raise ConfigError(format_validation_error(source, error, AccessModel)) from None
    try:
        compiled = compile_model(model, environment, identity_namespace)
    except (ValueError, SqlTextError) as error:
        raise ConfigError(f"{source}: {error}") from None
    check_apply_budget(compiled.desired, model.scripts, where=str(source), model=name,
                       ledger_schema=model.ledger_schema, coalesce=model.coalesce_statements,
                       **estimate_terms(environment))
    return compiled


def load_model(name: str, environment: EnvironmentConfig | None = None, access_dir: Path | None = None,
               ) -> CompiledAccess:
    access_dir = access_dir or project.access_dir()
    path = access_dir / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in access_dir.glob("*.yaml"))) or "none"
        raise ConfigError(f"{project.shown(path)}: no such access model '{name}' (known: {known})")
    data = read_yaml(path)
    return parse_model({} if data is None else data, name=name, source=project.shown(path), environment=environment)


def load_scripts(model: AccessModel, sql_dir: Path | None = None) -> list[ScriptEntry]:
    """The model's SQL scripts as `{Name, Sql, Checksum, Statements}`, in the declared order, each split
    into its statements here (the Lambda gets them split). Every problem names the access file and the
    `scripts` entry."""
    from redshift_idc.access.scripts import script_entry
    from redshift_idc.runtime.reconcile_request import SCRIPT_STATEMENTS

    sql_dir = sql_dir or project.sql_dir()
    scripts: list[ScriptEntry] = []
    for index, relative in enumerate(model.scripts):
        where = f"access/{model.name}.yaml: scripts[{index}]"
        path = (sql_dir / relative).resolve()
        if sql_dir.resolve() not in path.parents:
            raise ConfigError(f"{where}: '{relative}' is outside sql/; name a file under sql/, e.g. "
                              f"{model.name}/001_setup.sql")
        if not path.is_file():
            present = sorted(str(p.relative_to(sql_dir)) for p in sql_dir.rglob("*.sql")) if sql_dir.is_dir() else []
            close = difflib.get_close_matches(relative, present, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f" (create sql/{relative}, or fix the name)"
            raise ConfigError(f"{where}: no such file sql/{relative}{hint}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{where}: cannot read sql/{relative} as UTF-8 text: {error}") from None
        entry = script_entry(relative, text, f"{where}: sql/{relative}")
        statements = entry["Statements"]
        if not statements:
            raise ConfigError(f"{where}: sql/{relative} holds no statement; remove the entry or add the SQL")
        if len(statements) > SCRIPT_STATEMENTS:
            raise ConfigError(f"{where}: sql/{relative} has {len(statements)} statements; at most "
                              f"{SCRIPT_STATEMENTS} fit one transaction: split it into several scripts")
        scripts.append(entry)
    return scripts

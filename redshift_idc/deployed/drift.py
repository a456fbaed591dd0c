"""`python -m redshift_idc drift`: does the live warehouse still match the access model? Changes nothing.

It reads the current state through the Data API with the caller's credentials, in one batch of SELECTs
(the reconciler's read without its ledger bootstrap: nothing is created, granted or recorded), plans
against the model exactly as the next deploy would, and prints the statements that would converge it
followed by a one-line summary. For scheduled jobs the exit code says what happened:

    0  in sync: the next deploy would run no DDL and no script
    1  drift: the statements printed are what the next deploy would run
    2  error: configuration, AWS (credentials, permissions, workgroup) or Redshift; the message says which

Only SQL counts as drift. Ledger bookkeeping the next deploy would also do (objects that already exist as
declared but are not recorded yet, records of objects gone from both model and warehouse, the hash of a
policy's catalog text first read since its CREATE/ALTER) is mentioned in the summary, not counted: the
warehouse's access already matches the model.

A policy edited by hand (`ALTER RLS POLICY p USING (true)`) is drift: its text in the catalog is no longer
the one the ledger recorded the hash of. The report names it, shows the catalog's text as it is now, and
lists the ALTER that restores the model's text (the next deploy runs it).

With `deprovision_users` the report also asks the identity store (with the caller's credentials) about the
IdC users the warehouse holds, as the deploy would, and lists those the next deploy removes, and why, with
their statements; a departed user the deploy would refuse (owns objects, has a blocker, is the creator of a
default privilege the model declares) is drift too: the deploy would fail.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from redshift_idc.access.checked import model_for, preview_inputs
from redshift_idc.access.estimate import estimate
from redshift_idc.access.model import load_scripts, prune_scope
from redshift_idc.access.transition.check import check_plan
from redshift_idc.access.transition.states import with_definitions
from redshift_idc.access.transition.verdict import TransitionVerdict
from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.deployed.session import LiveError, admin_secret_arn, data_api_error
from redshift_idc.review.plan_text import render_for_review, text_drift_notes
from redshift_idc.runtime.catalog import SECADMIN, ledger_schema_problem, other_database_policy_problem
from redshift_idc.runtime.data_api import RETRIES, DataApi, Target, is_transient
from redshift_idc.runtime.idc_directory import IDENTITYSTORE_CONFIG, Assigned, IdcDirectory
from redshift_idc.runtime.ledger import LedgerTables
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.planning.ownership import OwnershipError
from redshift_idc.runtime.reconcile_request import ReconcileError, Request, Script, statement_token
from redshift_idc.runtime.reconciler import Reconciler
from redshift_idc.runtime.user_defaults import ModelDefaults
from redshift_idc.runtime.users import check_users, with_statements

IN_SYNC, DRIFT, ERROR = 0, 1, 2
WIDENS = 3  # plan --live --strict only: the next deploy's plan widens access between two batches


class DriftError(LiveError):
    """A problem that stops the report, worded for whoever reads the scheduled job's log."""


@dataclass(frozen=True)
class DriftReport:
    target: str  # workgroup/database
    model: str
    text: str  # the statements that would converge the warehouse, as `plan` renders them
    statements: int
    scripts: int
    ledger_only: int
    warnings: tuple[str, ...] = ()
    refused: int = 0  # departed users the next deploy would refuse to drop (deprovision_users): it would fail
    transition: TransitionVerdict | None = None  # the next deploy's plan replayed batch by batch
    others: int = 0  # objects other access models manage that this model's prune leaves alone

    @property
    def in_sync(self) -> bool:
        return not (self.statements or self.scripts or self.refused)

    @property
    def exit_code(self) -> int:
        return IN_SYNC if self.in_sync else DRIFT

    @property
    def summary(self) -> str:
        bookkeeping = (f"; {self.ledger_only} ledger record(s) the next deploy would update without DDL"
                       if self.ledger_only else "")
        if self.others:
            bookkeeping += f"; {self.others} object(s) other access models manage left to them"
        if self.in_sync:
            return f"in sync: {self.target} matches access/{self.model}.yaml{bookkeeping}"
        failing = (f"; the next deploy would fail: {self.refused} user(s) who left IAM Identity Center cannot "
                   "be dropped (see above)" if self.refused else "")
        if not (self.statements or self.scripts):
            return (f"drift: the next deploy to {self.target} would fail: {self.refused} user(s) who left IAM Identity "
                    f"Center cannot be dropped (see above; nothing was changed){bookkeeping}")
        parts = [f"{self.statements} statement(s)"] + ([f"{self.scripts} script(s)"] if self.scripts else [])
        return (f"drift: {' and '.join(parts)} would converge {self.target} to access/{self.model}.yaml "
                f"(nothing was changed){failing}{bookkeeping}")


def drift_report(config: EnvironmentConfig, secret_arn: str, client: Any = None,
                 sleep: Callable[[float], None] = time.sleep, identitystore: Any = None) -> DriftReport:
    """Read the live state (SELECTs only) and plan against the model; raises DriftError, ConfigError,
    ReconcileError or botocore's errors. `identitystore`: the client deprovision_users asks (default: one with
    the caller's credentials, only when the model deprovisions)."""
    compiled = model_for(config)
    model, desired, settings = compiled.model, compiled.desired, compiled.deprovision
    scripts = load_scripts(model)
    target = Target(config.warehouse.workgroup_name, config.warehouse.database_name, secret_arn)
    api = DataApi(target, client or boto3.client("redshift-data", region_name=config.region, config=RETRIES))
    request = Request(model=model.name, desired=desired, token=statement_token(f"drift:{time.time_ns()}"),
                      prune=model.prune, ledger_schema=model.ledger_schema,
                      scripts=[Script.of(s) for s in scripts], deprovision=settings)
    directory = None
    if settings is not None:
        app = config.redshift_idc_application
        directory = IdcDirectory(
            identitystore or boto3.client("identitystore", region_name=config.region, config=IDENTITYSTORE_CONFIG),
            config.identity_center.identity_store_id, [Assigned(g.display_name, g.group_id) for g in app.groups],
            [Assigned(u.user_name, u.user_id) for u in app.users], sleep=sleep)
    reconciler = Reconciler(api, request, read_only=True, directory=directory)
    where = f"{target.workgroup}/{target.database}"
    try:
        snapshot = reconciler.read_now(sleep)
        other_ledgers = reconciler.other_ledger_models(snapshot)
    except ReconcileError as error:
        raise DriftError(_read_failure(str(error), where, LedgerTables(model.ledger_schema))) from None
    problem = ledger_schema_problem(other_ledgers, model.ledger_schema)
    if problem:  # the deploy refuses it too (one ledger schema per database)
        raise DriftError(f"{where}: access model '{model.name}': {problem}")
    if not snapshot.secadmin:
        raise DriftError(f"{where}: user {snapshot.user or '(unknown)'} lacks {SECADMIN}, so RLS attachments and "
                         "masking are invisible to it and the report would be wrong; a deploy grants it "
                         f"(GRANT ROLE \"{SECADMIN}\" TO \"{snapshot.user}\")")
    clash = other_database_policy_problem(desired, snapshot)  # the deploy refuses it too
    if clash:
        raise DriftError(f"{where}: access model '{model.name}': {clash}")
    pending = [s for s in scripts if snapshot.scripts.get(s["Name"]) != s["Checksum"]]
    warnings = list(snapshot.warnings)
    warnings += [f"script {s['Name']} was applied with another checksum; the next deploy refuses changed scripts"
                 for s in pending if s["Name"] in snapshot.scripts]
    try:
        planned = plan(desired, snapshot.state, snapshot.ledger, prune=model.prune,
                       identity_provider_drop_cascade=model.identity_provider_drop_cascade,
                       coalesce=model.coalesce_statements,
                       definitions=snapshot.definitions, scope=prune_scope(model), stored=snapshot.stored_hashes(),
                       owners=snapshot.owners)
    except OwnershipError as error:  # the deploy would fail the same way (one owner per object)
        raise DriftError(f"{where}: access model '{model.name}': {error}") from None
    departed = None
    if settings is not None and directory is not None and snapshot.users is not None:
        departed = check_users(snapshot.users, settings, directory, reader=snapshot.user,
                               defaults=ModelDefaults.of(model.name, desired, planned))  # as the deploy: after the plan
        warnings += departed.warnings
        planned = with_statements(planned, departed.statements)
    header = [f"-- drift report for {where} as {snapshot.user}, model access/{model.name}.yaml; "
              "what the next deploy would run:", *(departed.report_lines() if departed is not None else [])]
    text = ("\n".join([header[0], *(f"-- {line}" for line in header[1:]), *(f"-- warning: {w}" for w in warnings),
                       *text_drift_notes(planned, snapshot.stored)])
            + "\n" + render_for_review(planned, pending))
    verdict = None
    if planned.statements or pending:
        size = estimate(planned, model.name, model.ledger_schema, len(pending), config.apply_estimate)
        text += f"-- next deploy: {size.summary()}\n"
        verdict = check_plan(preview_inputs(config, model, scripts),
                             with_definitions(snapshot.state, snapshot.definitions), planned, model.name,
                             model.ledger_schema)
        text += verdict.render()
    return DriftReport(where, model.name, text, len(planned.statements), len(pending),
                       len(planned.adopt) + len(planned.forget) + len(planned.record), tuple(warnings),
                       len(departed.refused) if departed is not None else 0, verdict, planned.others_skipped)


def _read_failure(message: str, where: str, tables: LedgerTables) -> str:
    text = f"{where}: {message}"
    if "does not exist" in message and ("managed_object" in message or "applied_script" in message):
        return (f"{text}\nThe ledger table {tables.objects} is missing: the access model has never been deployed "
                "to this warehouse (or to this database). Deploy it first; `plan --live` shows the first deploy.")
    if is_transient(message):
        return f"{text}\nThis looks transient (a paused workgroup resuming, a cancelled first query): run again."
    return text


def _aws_error(error: ClientError | BotoCoreError, where: str) -> str:
    return data_api_error(error, where, "drift")


def drift_command(env: str, secret_arn: str | None, outputs: Path | None, *, client: Any = None,
                  sleep: Callable[[float], None] = time.sleep, config_dir: Path | None = None,
                  out: TextIO | None = None, err: TextIO | None = None, strict: bool = False) -> int:
    """The CLI: prints the report and summary to `out`, errors to `err`; returns 0, 1 or 2, and with `strict`
    (`plan --live --strict`) WIDENS when the next deploy's plan has a batch boundary that widens access."""
    out = out or sys.stdout
    err = err or sys.stderr
    where = f"drift --env {env}"
    try:
        config = load_environment(env, config_dir)
        where = f"{config.warehouse.workgroup_name}/{config.warehouse.database_name}"
        report = drift_report(config, admin_secret_arn(config, secret_arn, outputs, "drift"), client, sleep)
    except (ConfigError, LiveError) as error:
        print(f"error: {error}", file=err)
        return ERROR
    except (ClientError, BotoCoreError) as error:
        print(f"error: {_aws_error(error, where)}", file=err)
        return ERROR
    if report.in_sync:
        for warning in report.warnings:
            print(f"-- warning: {warning}", file=out)
    else:
        print(report.text, end="", file=out)
    print(report.summary, file=out)
    if strict and report.transition is not None and not report.transition.ok:
        print("--strict: " + "\n".join(report.transition.details()), file=err)
        return WIDENS
    return report.exit_code

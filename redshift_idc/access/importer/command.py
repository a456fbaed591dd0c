"""`python -m redshift_idc import`: the snapshot read (live or from a file), the model written, and what
needs a person reported; exit codes 0 written, 1 needs work, 2 nothing written."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from redshift_idc import project
from redshift_idc.access.importer.round_trip import import_model
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.deployed.session import LiveError, admin_secret_arn, data_api_error
from redshift_idc.deployed.snapshot import load_snapshot, read_snapshot, write_new

MODEL_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
WRITTEN, NEEDS_WORK, ERROR = 0, 1, 2


class ImportModelError(LiveError):
    """A problem that stops the import before anything is written."""


def _model_name(out_path: Path) -> str:
    name = out_path.name.removesuffix(".yaml")
    if not out_path.name.endswith(".yaml") or not MODEL_NAME.match(name):
        raise ImportModelError(f"--out {out_path}: a model is access/<name>.yaml, its name lower-case letters, "
                               "digits and hyphens starting with a letter (e.g. access/imported.yaml): the name keys "
                               "the reconciler's ledger")
    return name


def import_command(env: str | None, secret_arn: str | None, outputs: Path | None, from_snapshot: Path | None,
                   out_path: Path, *, force: bool = False, client: Any = None,
                   sleep: Callable[[float], None] | None = None, config_dir: Path | None = None,
                   out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The CLI: writes the model, prints a summary on `out` and what needs a person on `err`; returns 0 (written,
    adopts everything it declares), 1 (written, needs work before it deploys) or 2 (nothing written)."""
    out = out or sys.stdout
    err = err or sys.stderr
    where = f"import --env {env}"
    try:
        name = _model_name(out_path)
        if out_path.exists() and not force:
            raise ImportModelError(f"{out_path}: already exists; pass --force to replace it, or choose another --out")
        if from_snapshot is not None:
            snapshot = load_snapshot(from_snapshot)
            if env is not None and env != snapshot.environment:
                raise ImportModelError(f"{from_snapshot}: read from environment {snapshot.environment}, not "
                                       f"{env}; pass --env {snapshot.environment} (or leave --env out)")
            config = load_environment(snapshot.environment, config_dir)
        else:
            if env is None:
                raise ImportModelError("import needs --env <name> to read a live warehouse (or --from-snapshot FILE)")
            config = load_environment(env, config_dir)
            where = f"{config.warehouse.workgroup_name}/{config.warehouse.database_name}"
            snapshot = read_snapshot(config, admin_secret_arn(config, secret_arn, outputs, "import"), client, sleep)
        result = import_model(snapshot, config, name, project.shown(out_path))
        write_new(out_path, result.text, force, "access model")
    except (ConfigError, LiveError) as error:
        print(f"error: {error}", file=err)
        return ERROR
    except (ClientError, BotoCoreError) as error:
        print(f"error: {data_api_error(error, where, 'import')}", file=err)
        return ERROR
    for warning in (*snapshot.warnings, *result.warnings):
        print(f"warning: {warning}", file=err)
    for problem in result.problems:
        print(f"needs work: {problem}", file=err)
    source = f"snapshot {from_snapshot}" if from_snapshot is not None else f"the live catalog of {snapshot.where}"
    if result.problems:
        print(f"wrote {out_path} from {source}; it needs the changes above before it deploys", file=out)
        return NEEDS_WORK
    print(f"wrote {out_path} from {source}: planned against that catalog it runs no DDL and records "
          f"{result.adopted} object(s) in the ledger; name it in config/{config.name}.yaml: access_model: {name}",
          file=out)
    return WRITTEN

"""Lambda code assets built without Docker.

A handler needs its entry folder (`redshift_idc/cdk/handlers/<name>/index.py`) and our runtime package
(`redshift_idc/runtime`, standard library + boto3 only). We copy both into a staging folder, files in
sorted order and nothing else (no `__pycache__`), so the asset hash, and with it the template, depends
only on the source content: the same commit synthesizes byte-identical templates on any machine.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

PROJECT_ROOT = Path(__file__).resolve().parents[3]  # the folder that holds the redshift_idc package
LAMBDA_DIR = PROJECT_ROOT / "redshift_idc/cdk/handlers"
RUNTIME_FILES = ("redshift_idc/__init__.py", "redshift_idc/runtime")


def lambda_runtime() -> lambda_.Runtime:
    """The newest Python runtime CDK knows; cdk-nag's AwsSolutions-L1 requires the latest. A function, not a constant:
    reading it is a call into jsii, which importing this module must not make (`redshift_idc/cdk/app_start.py`)."""
    return lambda_.Runtime.PYTHON_3_14


_staging_root: Path | None = None


def staging_dir() -> Path:
    """A private temporary folder for this process's staged assets, removed at exit."""
    global _staging_root
    if _staging_root is None:
        _staging_root = Path(tempfile.mkdtemp(prefix="redshift-idc-assets-"))
        atexit.register(shutil.rmtree, _staging_root, True)
    return _staging_root


def remove_staging_dir() -> None:
    """Remove this process's staged assets now: `app_start.leave` ends the process without running atexit. The
    cloud assembly holds its own copy of each (`asset.<hash>/`) once the synth has returned."""
    global _staging_root
    if _staging_root is not None:
        shutil.rmtree(_staging_root, ignore_errors=True)
        _staging_root = None


def _source_files(entry: Path) -> list[tuple[Path, str]]:
    """(source file, path inside the asset), sorted, Python sources only."""
    files: list[tuple[Path, str]] = [(p, p.relative_to(entry).as_posix()) for p in entry.rglob("*.py")]
    for item in RUNTIME_FILES:
        source = PROJECT_ROOT / item
        candidates = [source] if source.is_file() else list(source.rglob("*.py"))
        files.extend((p, p.relative_to(PROJECT_ROOT).as_posix()) for p in candidates)
    return sorted((f for f in files if "__pycache__" not in f[1]), key=lambda f: f[1])


def stage_handler(name: str) -> Path:
    """Copy `redshift_idc/cdk/handlers/<name>` and the runtime package into a fresh folder and return it."""
    entry = LAMBDA_DIR / name
    if not (entry / "index.py").is_file():
        raise FileNotFoundError(f"{entry}/index.py: no such Lambda entry point")
    target = staging_dir() / name
    if target.exists():
        shutil.rmtree(target)
    for source, relative in _source_files(entry):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(source.read_bytes())
    return target


def handler_code(name: str) -> lambda_.Code:
    return lambda_.Code.from_asset(str(stage_handler(name)))

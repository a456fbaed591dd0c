"""Where the project's files live: `config/`, `access/` and `sql/` under one root, looked up at call time.

Every reader asks here rather than binding a path at import, so one setting moves them all: the tests
point `ROOT` at a temporary copy to check that `validate`, `plan` and synth give the same verdict on the
same files, and a user's own CDK app (`redshift_idc.cdk.RedshiftIdcEnvironment`) points it at the user's
project while it builds an environment (`root_at`).

The default root is the checkout when the package runs from one (its parent folder holds pyproject.toml),
and the current directory otherwise: installed in site-packages, the package's parent is no project."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _default_root() -> Path:
    package_parent = Path(__file__).resolve().parent.parent
    return package_parent if (package_parent / "pyproject.toml").is_file() else Path.cwd()


ROOT = _default_root()


@contextmanager
def root_at(root: Path) -> Iterator[Path]:
    """Read the project's files under `root` for the duration of the block (the construct builds one
    environment from a user's project), then restore the previous root, so one app can hold environments
    of several projects."""
    global ROOT
    previous, ROOT = ROOT, root.resolve()
    try:
        yield ROOT
    finally:
        ROOT = previous


def config_dir() -> Path:
    return ROOT / "config"


def access_dir() -> Path:
    return ROOT / "access"


def sql_dir() -> Path:
    return ROOT / "sql"


def shown(path: Path) -> Path:
    """A path as messages name it: relative to the project (`config/demo.yaml`) when it is inside."""
    try:
        return path.resolve().relative_to(ROOT.resolve())
    except ValueError:
        return path

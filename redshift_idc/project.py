"""Where the project's files live: `config/`, `access/` and `sql/` under one root, looked up at call time.

Every reader asks here rather than binding a path at import, so one setting moves them all: the tests
point `ROOT` at a temporary copy to check that `validate`, `plan` and synth give the same verdict on the
same files."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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

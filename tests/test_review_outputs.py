"""The README's local review flow (`make synth-all SYNTH_OUT=cdk.out-base`, then `make review`) leaves cloud
assemblies and summary.md in the checkout: git must not offer them for commit, and `make test`'s linters and type
checker must not read the copies of the code the assemblies hold as Lambda assets (they did: hundreds of ruff
errors from cdk.out-base/*/asset.*)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
REVIEW_OUTPUTS = ["cdk.out/demo/manifest.json", "cdk.out-base/demo/asset.1/index.py", "cdk.out.new/tree.json",
                  "cdk.out.types/pipeline/manifest.json", "summary.md"]
UNUSED_IMPORT = "import os\n"  # F401 for ruff
WRONG_TYPE = 'count: int = "one"\n'  # an assignment error for mypy


def _tool(name: str) -> str:
    found = VENV_BIN / name
    if not found.is_file():
        pytest.skip(f"needs {name} next to the test's Python")
    return str(found)


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_git_ignores_the_review_outputs_but_not_the_code() -> None:
    def ignored(path: str) -> bool:
        result = subprocess.run(["git", "check-ignore", "--no-index", "-q", path],  # noqa: S603, S607
                                cwd=ROOT, capture_output=True, text=True, check=False, timeout=30)
        assert result.returncode in (0, 1), result.stderr
        return result.returncode == 0

    assert [path for path in REVIEW_OUTPUTS if not ignored(path)] == []
    # Only the summary at the root: a summary.md elsewhere, or code named like an assembly, is the project's.
    assert [path for path in ("docs/summary.md", "redshift_idc/review/summary.py", "cdk.json") if ignored(path)] == []


def test_ruff_with_the_project_config_skips_cloud_assemblies(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for relative in ("cdk.out-base/demo/asset.1/bad.py", "cdk.out/demo/asset.2/bad.py", "code/bad.py"):
        _write(tmp_path, relative, UNUSED_IMPORT)
    _write(tmp_path, "summary.md", "# Review\n")
    result = subprocess.run([_tool("ruff"), "check", "--no-cache", "--output-format", "json", "."],  # noqa: S603
                            cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 1, result.stderr  # code/bad.py: the check does lint what it should
    linted = {Path(finding["filename"]).relative_to(tmp_path).as_posix() for finding in json.loads(result.stdout)}
    assert linted == {"code/bad.py"}


def test_mypy_with_the_project_config_skips_cloud_assemblies(tmp_path: Path) -> None:
    """mypy checks the folders pyproject.toml lists (`make lint` runs it with no arguments); an assembly
    synthesized under one of them is left out too."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]["files"]
    assert not [entry for entry in listed if entry.startswith("cdk.out")]
    for entry in listed:
        _write(tmp_path, entry if entry.endswith(".py") else f"{entry}/placeholder.py", "")
    folder = next(entry for entry in listed if not entry.endswith(".py"))
    _write(tmp_path, f"{folder}/wrong.py", WRONG_TYPE)
    _write(tmp_path, f"{folder}/cdk.out-base/demo/asset.1/bad.py", WRONG_TYPE)
    result = subprocess.run([_tool("mypy"), "--no-incremental"], cwd=tmp_path,  # noqa: S603
                            capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    flagged = {line.split(":", 1)[0] for line in result.stdout.splitlines() if ": error:" in line}
    assert flagged == {f"{folder}/wrong.py"}

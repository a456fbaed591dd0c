"""`pip install .` gives other applications the TIP client with boto3 and PyJWT alone (issue: awslabs/mcp#4619,
cube-js/cube#10893 ask for exactly this plumbing): a fresh virtualenv gets requirements-client.lock (hashes
checked) and the package, then runs the client's whole flow without aws-cdk-lib, pydantic or DuckDB, and the
client's own command, `python -m redshift_idc.client`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def completed(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PYTHON", "VIRTUAL_ENV", "REDSHIFT_IDC_"))}
    return subprocess.run([str(c) for c in command], cwd=cwd, env=environment, capture_output=True, text=True,  # noqa: S603 (fixed commands)
                          timeout=600, check=False)


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = completed(*command, cwd=cwd)
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def client_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The environment an application would have: only the client's locked dependencies and this package,
    installed from a copy of the source (the build writes into its tree; the checkout stays clean)."""
    base = tmp_path_factory.mktemp("client-only")
    source = base / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "redshift_idc", source / "redshift_idc", ignore=shutil.ignore_patterns("__pycache__"))
    venv.create(base / "venv", with_pip=True, clear=True)
    python = base / "venv" / "bin" / "python"
    pip = (python, "-m", "pip", "--disable-pip-version-check", "--no-input")
    run(*pip, "install", "--quiet", "--require-hashes", "--no-deps", "-r", ROOT / "requirements-client.lock")
    run(*pip, "install", "--quiet", "--no-deps", "--no-build-isolation", source)
    return python


def test_the_client_runs_with_only_boto3_and_pyjwt(client_only: Path) -> None:
    printed = run(client_only, ROOT / "tests" / "client_only_usage.py", cwd=client_only.parent)
    assert json.loads(printed) == {"who": "ming@example.com",
                                   "rows": [{"current_user": "AWSIDC:ming@example.com"}]}


def test_the_install_holds_the_package_and_nothing_of_the_cdk_app(client_only: Path) -> None:
    listed = run(client_only, "-m", "pip", "list", "--format", "json", "--disable-pip-version-check")
    names = {p["name"].lower() for p in json.loads(listed)}
    assert {"redshift-idc", "boto3", "pyjwt"} <= names
    assert names.isdisjoint({"aws-cdk-lib", "constructs", "cdk-nag", "pydantic", "duckdb", "sqlglot", "pyyaml"})
    located = run(client_only, "-c", "import redshift_idc.client.tip as t; print(t.__file__)", cwd=client_only.parent)
    assert "site-packages" in located  # the installed copy, not the checkout


def test_the_clients_own_command_runs_and_the_cdk_apps_names_the_extra(client_only: Path) -> None:
    assert "query" in run(client_only, "-m", "redshift_idc.client", "--help", cwd=client_only.parent)
    helped = run(client_only, "-m", "redshift_idc.client", "query", "--help", cwd=client_only.parent)
    assert "--id-token-file" in helped and "--stack-prefix" in helped
    tokenless = completed(client_only, "-m", "redshift_idc.client", "query", "SELECT 1", cwd=client_only.parent)
    assert (tokenless.returncode, tokenless.stdout) == (2, "")
    assert tokenless.stderr == "no id token: pass --id-token-file FILE or set REDSHIFT_IDC_ID_TOKEN\n"
    cdk_app = completed(client_only, "-m", "redshift_idc", "--help", cwd=client_only.parent)
    assert (cdk_app.returncode, cdk_app.stdout) == (2, "")
    assert cdk_app.stderr == ('python -m redshift_idc needs the cdk extra: pip install "redshift-idc[cdk]" (only the '
                              "TIP client is installed: python -m redshift_idc.client --help)\n")

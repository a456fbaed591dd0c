"""An access model file with nothing in it (or only comments) is valid and plans to 0 statements: `validate`,
`plan` and synth say so, naming the file and the fix, and still succeed (an environment may start empty)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import app as cdk_app
from redshift_idc import project
from redshift_idc.access.checked import checked_model
from redshift_idc.cdk import app_start
from redshift_idc.cli.main import main as cli
from redshift_idc.config.environment import load_environment
from tests.conftest import run_captured

ROOT = Path(__file__).resolve().parents[1]
WARNING = "access/demo.yaml declares no roles, grants or policies: its first deploy creates nothing."
FIX = "or set access_model: null in config/demo.yaml if this environment manages no access"


@pytest.fixture
def copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for folder in ("config", "access", "sql"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.setattr(project, "ROOT", tmp_path)
    return tmp_path


@pytest.mark.parametrize("content", ["", "# the demo's access model: to do\n\n# roles: ...\n", "prune: false\n",
                                     "tables:\n  public.sales: [region]\n"],
                         ids=["empty", "comments only", "settings only", "tables only"])
def test_validate_warns_about_a_model_that_creates_nothing(copy: Path, content: str) -> None:
    (copy / "access" / "demo.yaml").write_text(content, encoding="utf-8")
    code, out, err = run_captured(lambda: cli(["validate", "--env", "demo"]))
    assert code == 0
    assert "access/demo.yaml is valid" in out
    assert err.startswith(f"warning: {WARNING}") and FIX in err, err


def test_plan_and_synth_warn_too(copy: Path) -> None:
    (copy / "access" / "demo.yaml").write_text("# nothing yet\n", encoding="utf-8")
    code, out, _ = run_captured(lambda: cli(["plan", "--env", "demo"]))
    assert code == 0
    assert f"-- warning: {WARNING}" in out.splitlines()[3], out  # right under the header, before any SQL
    assert "0 statements in 0 Data API batches" in out

    outdir = copy / "cdk.out"
    code, _, err = run_captured(lambda: cdk_app.main(app_start.new_app(outdir=str(outdir), context={"env": "demo"})))
    assert code == 0, err
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))

    def metadata(artifact: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        extra = artifact.get("additionalMetadataFile")  # where the CDK keeps a stack's metadata, by default
        found: dict[str, list[dict[str, Any]]] = artifact.get("metadata", {})
        return json.loads((outdir / extra).read_text(encoding="utf-8")) if extra else found

    warnings = {(stack, entry["data"]) for stack, artifact in manifest["artifacts"].items()
                for entries in metadata(artifact).values() for entry in entries
                if entry["type"] == "aws:cdk:warning"}
    warned = {stack for stack, data in warnings if WARNING in data and FIX in data}
    assert warned == {f"{load_environment('demo').stack_prefix}Access"}, warnings


def test_a_model_that_declares_something_gets_no_warning() -> None:
    assert checked_model(load_environment("demo")).warnings == ()

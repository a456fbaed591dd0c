"""`app.py` and `python -m redshift_idc` as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from redshift_idc.cli.main import main
from redshift_idc.config.errors import ConfigError
from redshift_idc.review.synth_summary import summarize
from tests.conftest import Synthesized

ROOT = Path(__file__).resolve().parent.parent


def test_app_refuses_an_unknown_environment_without_a_traceback() -> None:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"env": "no-such-env"}), "CDK_OUTDIR": "/nonexistent"}
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 2
    assert "config/no-such-env.yaml: no such environment 'no-such-env'" in result.stderr
    assert "demo" in result.stderr and "Traceback" not in result.stderr


def test_summary_lists_stacks_resource_counts_and_next_steps(demo: Synthesized) -> None:
    text = summarize(demo.outdir, "demo")
    assert "DemoWarehouse  (aws://111111111111/us-east-1, " in text
    assert f"template: {demo.outdir / 'DemoWarehouse.template.json'}" in text
    assert "AWS::RedshiftServerless::Workgroup" in text
    assert re.search(r"AWS::SSO::ApplicationAssignment +6\n", text)
    assert "DemoAccess  (aws://111111111111/us-east-1, " in text and "Custom::AccessModel" in text
    assert "make plan ENV=demo" in text
    assert "The demo deploys nowhere" in text and "copy config/demo.yaml" in text
    assert "make deploy ENV=demo" not in text and "deploys exactly this" not in text


def test_a_summary_for_another_environment_than_the_assemblys_is_an_error(demo: Synthesized) -> None:
    with pytest.raises(ConfigError, match=r"holds the stacks .*DemoWarehouse.*, not environment 'dev' \(no "
                                          r"DevWarehouse\); run `make synth ENV=dev`"):
        summarize(demo.outdir, "dev")


def test_summary_of_an_empty_folder_says_so(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {}}))
    assert "No stacks found" in summarize(tmp_path, "demo")


def test_validate_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--env", "demo"]) == 0
    assert "config/demo.yaml is valid" in capsys.readouterr().out
    assert main(["validate", "--env", "nope"]) == 2
    assert "no such environment 'nope'" in capsys.readouterr().err


def test_without_the_cdk_extra_python_m_redshift_idc_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`tests/test_client_install.py` runs it where the extra is really missing; here any other missing module
    is still an error with its traceback, not hidden behind the hint."""
    import builtins

    from redshift_idc import __main__ as entry

    real_import = builtins.__import__
    missing = "yaml"

    def importer(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "redshift_idc.cli.main":
            raise ModuleNotFoundError(f"No module named '{missing}'", name=missing)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", importer)
    assert entry.run() == 2
    assert capsys.readouterr() == ("", 'python -m redshift_idc needs the cdk extra: pip install "redshift-idc[cdk]" '
                                       "(only the TIP client is installed: python -m redshift_idc.client --help)\n")
    missing = "aws_cdk.aws_iam"
    assert entry.run() == 2
    missing = "yamlish"
    with pytest.raises(ModuleNotFoundError, match="yamlish"):
        entry.run()

"""The CDK entry point runs the access model's checks on a thread while Node builds CDK's template validator
(`redshift_idc/cdk/app_start.py`): the thread must never call into jsii, its result and errors must be the checks'
own, and the synth must validate the templates exactly once, with CDK's validator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import app as cdk_app
from redshift_idc.access.checked import checked_model
from redshift_idc.cdk import app_start
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from tests.conftest import run_captured

ROOT = Path(__file__).resolve().parents[1]


def test_the_checks_thread_makes_no_call_into_jsii() -> None:
    """jsii's kernel takes one caller at a time: what the thread runs and imports must not call it (in a fresh
    interpreter, where nothing is imported yet, with every call the kernel receives recorded)."""
    code = ("import importlib, json, sys\n"
            "from redshift_idc.cdk import app_start\n"  # loads aws-cdk-lib and cdk-nag, as app.py does
            "import jsii._kernel.providers.process as process\n"
            "calls = []\n"
            "send = process._NodeProcess.send\n"
            "def recorded(self, request, response_type):\n"
            "    calls.append(type(request).__name__)\n"
            "    return send(self, request, response_type)\n"
            "process._NodeProcess.send = recorded\n"
            "from redshift_idc.access.checked import checked_model\n"
            "from redshift_idc.config.environment import load_environment\n"
            "for name in ('sample-lakehouse', 'demo'):\n"
            "    checked_model(load_environment(name))\n"
            "for module in app_start.THREAD_IMPORTS:\n"
            "    importlib.import_module(module)\n"
            "print(json.dumps({'calls': calls, 'stacks': 'redshift_idc.cdk.stacks.access_stack' in sys.modules}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT,  # noqa: S603 (our own code, fixed)
                          capture_output=True, text=True, check=True)
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"calls": [], "stacks": True}, outcome


def test_the_thread_returns_what_the_checks_return() -> None:
    config, checked = app_start.ChecksAhead("demo").result()
    assert config == load_environment("demo")
    assert checked is not None
    direct = checked_model(config)
    assert checked.first_deploy.statements == direct.first_deploy.statements
    assert checked.warnings == direct.warnings


def test_the_thread_raises_the_checks_errors_in_the_caller() -> None:
    with pytest.raises(ConfigError) as raised:
        app_start.ChecksAhead("no-such-environment").result()
    with pytest.raises(ConfigError) as direct:
        load_environment("no-such-environment")
    assert str(raised.value) == str(direct.value)


def test_cdk_validation_false_builds_no_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_VALIDATION", "false")
    assert app_start.template_validator() is None


def test_the_synth_validates_each_template_once_with_cdks_validator(tmp_path: Path) -> None:
    """Registered by hand, CDK's validator replaces the one CDK would build: one report of it, not two."""
    outdir = tmp_path / "cdk.out"
    code, _, err = run_captured(lambda: cdk_app.main(app_start.new_app(outdir=str(outdir), context={"env": "demo"})))
    assert code == 0, err
    report = json.loads((outdir / "validation-report.json").read_text(encoding="utf-8"))
    plugins = [p["pluginName"] for p in report["pluginReports"]]
    assert plugins.count("CloudFormation Validate") == 1, plugins
    assert "AwsSolutions" in plugins, plugins  # (a pack with nothing to report has no entry)


def test_the_app_leaves_a_complete_assembly_and_no_staged_assets(tmp_path: Path) -> None:
    """`python app.py` ends without waiting for jsii's Node process (`app_start.leave`): the cloud assembly is whole
    (manifest, every stack's template, the validation report) and the staged Lambda assets are gone."""
    outdir, scratch = tmp_path / "cdk.out", tmp_path / "tmp"
    scratch.mkdir()
    environment = {**os.environ, "CDK_OUTDIR": str(outdir), "TMPDIR": str(scratch),
                   "CDK_CONTEXT_JSON": json.dumps({"env": "demo"})}
    done = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=environment,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    assert {s["displayName"] for s in stacks} == {"DemoWarehouse", "DemoIdentity", "DemoAccess"}
    for stack in stacks:
        template = json.loads((outdir / stack["properties"]["templateFile"]).read_text(encoding="utf-8"))
        assert template["Resources"]
    assert (outdir / "validation-report.json").is_file()
    assert list(scratch.glob("redshift-idc-assets-*")) == []

"""`pip install "redshift-idc[cdk]"` is enough for a user's own CDK app: the wheel, installed with the `cdk` extra
into a fresh virtualenv outside the checkout (versions as requirements.lock pins them), synthesizes
examples/own_cdk_app copied outside the checkout too: exit 0, nag-clean, the user's stack beside ours, the
Lambda handlers staged from site-packages, and an access model that breaks its expectations refused as synth
refuses it here. Nothing is imported from the checkout (cwd outside it, `redshift_idc.__file__` checked).

It needs PyPI (the first run downloads aws-cdk-lib and the rest, ~90 s more; pip's cache makes reruns faster):
measured 113 s on a shared 2-core machine from a warm cache (wheel 29 s, install 56 s, the example's synth 15 s,
the refused synth a few seconds: it fails before any stack is built)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from redshift_idc.cdk.components.lambda_asset import stage_handler

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "own_cdk_app"
HANDLERS = ("deploy_lookups", "idc_oauth_app", "reconcile")
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\],]+==[^\s\\;]+)")


def execute(*command: str | Path, cwd: Path, extra: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    """A command with none of this interpreter's or CDK's settings (PYTHONPATH would reach the checkout)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CDK_"))}
    return subprocess.run([str(c) for c in command], cwd=cwd, env={**environment, **(extra or {})},  # noqa: S603
                          capture_output=True, text=True, timeout=900, check=False)


def run(*command: str | Path, cwd: Path, extra: dict[str, str] | None = None) -> str:
    done = execute(*command, cwd=cwd, extra=extra)
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def lock_pins() -> str:
    """requirements.lock's pins without their hashes: a constraints file the local wheel (which has no hash in the
    lock) can be installed with; pip refuses the lock itself as `-c` once the wheel is not hashed."""
    return "".join(f"{m.group(1)}\n" for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
                   if (m := PIN.match(line)))


@dataclass(frozen=True)
class Installed:
    python: Path
    wheel: Path
    base: Path  # outside the checkout: the venv, the wheel and the copied example live here
    seconds: dict[str, float]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel, built from a copy of the source (the build writes into its tree; the checkout stays clean), and a
    fresh virtualenv with it and its `cdk` extra."""
    base = tmp_path_factory.mktemp("cdk-install")
    assert ROOT not in base.parents
    seconds: dict[str, float] = {}
    started = time.monotonic()
    source = base / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(ROOT / "redshift_idc", source / "redshift_idc", ignore=shutil.ignore_patterns("__pycache__"))
    venv.create(base / "venv", with_pip=True, clear=True)
    python = base / "venv" / "bin" / "python"
    pip = (python, "-m", "pip", "--disable-pip-version-check", "--no-input")
    run(*pip, "wheel", "--quiet", "--no-deps", "--prefer-binary", "--wheel-dir", base / "dist", source, cwd=base)
    (wheel,) = (base / "dist").glob("redshift_idc-*.whl")
    seconds["wheel"] = time.monotonic() - started
    constraints = base / "constraints.txt"
    constraints.write_text(lock_pins(), encoding="utf-8")
    started = time.monotonic()
    run(*pip, "install", "--quiet", "--prefer-binary", "-c", constraints, f"{wheel}[cdk]", cwd=base)
    seconds["install"] = time.monotonic() - started
    return Installed(python, wheel, base, seconds)


def synthesize(installed: Installed, name: str, edit: tuple[str, str, str] | None = None,
               ) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The example copied outside the checkout (one file edited: path, old, new), run as `cdk synth` runs it:
    its cdk.json's context in CDK_CONTEXT_JSON, the assembly in CDK_OUTDIR."""
    app = installed.base / name
    shutil.copytree(EXAMPLE, app, ignore=shutil.ignore_patterns("__pycache__", "cdk.out"))
    if edit is not None:
        path, old, new = edit
        text = (app / path).read_text(encoding="utf-8")
        assert old in text
        (app / path).write_text(text.replace(old, new), encoding="utf-8")
    context = json.loads((app / "cdk.json").read_text(encoding="utf-8"))["context"]
    started = time.monotonic()
    done = execute(installed.python, "app.py", cwd=app,
                   extra={"CDK_OUTDIR": str(app / "cdk.out"), "CDK_CONTEXT_JSON": json.dumps(context)})
    installed.seconds[name] = time.monotonic() - started
    return app / "cdk.out", done


@pytest.fixture(scope="module")
def assembly(installed: Installed) -> Path:
    outdir, done = synthesize(installed, "app")
    assert done.returncode == 0, done.stderr
    print(f"\ncdk install test timings (s): {json.dumps({k: round(v, 1) for k, v in installed.seconds.items()})}")
    return outdir


def test_the_wheel_ships_the_handlers_and_the_runtime(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert {f"redshift_idc/cdk/handlers/{h}/index.py" for h in HANDLERS} <= names
    assert {"redshift_idc/__init__.py", "redshift_idc/runtime/__init__.py", "redshift_idc/runtime/planner.py",
            "redshift_idc/cdk/deployer_actions.json"} <= names


def test_the_app_imports_the_installed_package_not_the_checkout(installed: Installed, assembly: Path) -> None:
    located = run(installed.python, "-c", "import redshift_idc; print(redshift_idc.__file__)", cwd=assembly.parent)
    assert Path(located.strip()).is_relative_to(installed.base / "venv")
    assert "site-packages" in located


def test_the_handlers_stage_from_site_packages_as_from_the_checkout(installed: Installed) -> None:
    """The Lambda assets (entry folder + runtime package) hold the same files with the same bytes, so the installed
    package deploys the code this checkout tests."""
    script = ("import hashlib, json, sys\nfrom redshift_idc.cdk.components.lambda_asset import stage_handler\n"
              "print(json.dumps({h: {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()\n"
              "    for p in sorted(d.rglob('*')) if p.is_file()} for h in sys.argv[1:] for d in [stage_handler(h)]}))")
    there = json.loads(run(installed.python, "-c", script, *HANDLERS, cwd=installed.base))
    here = {h: {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(d.rglob("*")) if p.is_file()} for h in HANDLERS for d in [stage_handler(h)]}
    assert there == here
    assert "redshift_idc/runtime/planner.py" in there["reconcile"]


def test_the_example_synthesizes_nag_clean_with_the_users_stack_and_ours(assembly: Path) -> None:
    report = json.loads((assembly / "validation-report.json").read_text(encoding="utf-8"))
    # A pack with nothing to report is left out; ours is checked in-process (test_own_cdk_app.py).
    assert "AwsSolutions" in {p["pluginName"] for p in report["pluginReports"]}
    assert [(p["pluginName"], v["ruleName"]) for p in report["pluginReports"] for v in p["violations"]] == []
    assert {p["conclusion"] for p in report["pluginReports"]} == {"success"}

    manifest = json.loads((assembly / "manifest.json").read_text(encoding="utf-8"))
    stacks = {a["displayName"]: a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"}
    assert set(stacks) == {"Analytics/Warehouse", "Analytics/Access", "Reporting"}
    # The names verify, the TIP client and the deployer policy look for.
    assert stacks["Analytics/Warehouse"]["properties"]["stackName"] == "AnalyticsWarehouse"
    assert stacks["Analytics/Access"]["properties"]["stackName"] == "AnalyticsAccess"

    def resources(display: str) -> list[dict[str, object]]:
        template = assembly / stacks[display]["properties"]["templateFile"]
        return list(json.loads(template.read_text(encoding="utf-8"))["Resources"].values())

    assert "AWS::RedshiftServerless::Workgroup" in {r["Type"] for r in resources("Analytics/Warehouse")}
    assert "Custom::AccessModel" in {r["Type"] for r in resources("Analytics/Access")}
    parameters = [r for r in resources("Reporting") if r["Type"] == "AWS::SSM::Parameter"]
    assert len(parameters) == 2
    assert all("Fn::ImportValue" in json.dumps(p["Properties"]) for p in parameters)  # read from our stack


def test_a_model_that_breaks_its_expectations_fails_the_users_synth(installed: Installed, assembly: Path) -> None:
    """The checks `make synth` runs here (the access model's expectations on its sample rows) run there too."""
    outdir, done = synthesize(installed, "broken", ("access/analytics.yaml", "rows: 3", "rows: 2"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "eve" in done.stderr and "public.orders" in done.stderr
    assert not (outdir / "manifest.json").exists()

"""The Lambda asset is built without Docker and holds exactly what the handler imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from redshift_idc.cdk.components.lambda_asset import PROJECT_ROOT, stage_handler
from redshift_idc.cdk.components.log_retention import SUPPORTED_DAYS, retention_days
from redshift_idc.config.warehouse import LOG_RETENTION_DAYS

RUNTIME = sorted(p.relative_to(PROJECT_ROOT).as_posix() for p in (PROJECT_ROOT / "redshift_idc/runtime").rglob("*.py"))


@pytest.mark.parametrize("handler", ["deploy_lookups", "reconcile", "idc_oauth_app"])
def test_staged_asset_holds_entry_point_and_runtime_only(handler: str) -> None:
    staged = stage_handler(handler)
    files = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())
    assert files == sorted(["index.py", "redshift_idc/__init__.py", *RUNTIME])
    assert "redshift_idc/runtime/planner.py" in files and "redshift_idc/config/environment.py" not in files
    assert "redshift_idc/runtime/planning/state.py" in files  # subpackages of the runtime too


@pytest.mark.parametrize(("handler", "entry_points"), [("deploy_lookups", ["on_event"]),
                                                      ("reconcile", ["on_event", "is_complete"]),
                                                      ("idc_oauth_app", ["on_event"])])
def test_staged_handler_imports_with_nothing_but_the_asset_and_boto3(handler: str, entry_points: list[str],
                                                                      tmp_path: Path) -> None:
    staged = stage_handler(handler)
    # -I: isolated mode, so neither the project folder nor PYTHONPATH is on sys.path; pydantic,
    # PyYAML and CDK must not be needed (the Lambda runtime does not have them).
    checks = "; ".join(f"assert callable(index.{name})" for name in entry_points)
    code = (f"import sys; sys.path.insert(0, sys.argv[1]); import index; {checks}; "
            "assert not {'pydantic', 'yaml', 'aws_cdk'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-I", "-c", code, str(staged)], check=True, cwd=tmp_path)  # noqa: S603


def test_every_retention_config_accepts_maps_to_a_cdk_value() -> None:
    assert SUPPORTED_DAYS == LOG_RETENTION_DAYS
    assert retention_days(365).name == "ONE_YEAR"
    assert retention_days(3653).name == "TEN_YEARS"

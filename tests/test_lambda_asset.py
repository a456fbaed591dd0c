"""The Lambda asset is built without Docker and holds exactly what the handler imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from components.lambda_asset import stage_handler
from components.log_retention import SUPPORTED_DAYS, retention_days
from redshift_idc.config import LOG_RETENTION_DAYS


def test_staged_asset_holds_entry_point_and_runtime_only() -> None:
    staged = stage_handler("deploy_lookups")
    files = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file())
    assert files == [
        "index.py",
        "redshift_idc/__init__.py",
        "redshift_idc/runtime/__init__.py",
        "redshift_idc/runtime/custom_resource.py",
        "redshift_idc/runtime/lookups.py",
    ]


def test_staged_handler_imports_with_nothing_but_the_asset_and_boto3(tmp_path: Path) -> None:
    staged = stage_handler("deploy_lookups")
    # -I: isolated mode, so neither the project folder nor PYTHONPATH is on sys.path; pydantic,
    # PyYAML and CDK must not be needed (the Lambda runtime does not have them).
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import index; "
            "assert callable(index.on_event); "
            "assert not {'pydantic', 'yaml', 'aws_cdk'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-I", "-c", code, str(staged)], check=True, cwd=tmp_path)  # noqa: S603


def test_every_retention_config_accepts_maps_to_a_cdk_value() -> None:
    assert SUPPORTED_DAYS == LOG_RETENTION_DAYS
    assert retention_days(365).name == "ONE_YEAR"
    assert retention_days(3653).name == "TEN_YEARS"

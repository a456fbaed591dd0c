"""Shared fixtures. A CDK synth costs seconds (jsii starts Node), so each app is synthesized once per
test session (per xdist worker) and many tests assert on the result."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template

from redshift_idc.cdk.app import add_environment
from redshift_idc.cdk.app_start import new_app
from redshift_idc.config.environment import EnvironmentConfig, load_environment


@dataclass
class Synthesized:
    """One environment, synthesized with both nag packs exactly as `make synth` does."""

    config: EnvironmentConfig
    outdir: Path
    templates: dict[str, Template]

    @property
    def warehouse(self) -> Template:
        return self.templates["warehouse"]

    def template_json(self, key: str = "warehouse") -> dict[str, Any]:
        return dict(self.templates[key].to_json())

    def validation_report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return report


def synthesize(config: EnvironmentConfig, outdir: Path) -> Synthesized:
    app = new_app(outdir=str(outdir))
    stacks = add_environment(app, config)
    app.synth()  # raises if cdk-nag or our rule pack reports an unacknowledged finding
    return Synthesized(config, outdir, {k: Template.from_stack(s) for k, s in stacks.items()})


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(load_environment("demo"), tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(load_environment("sample-existing-vpc"), tmp_path_factory.mktemp("sample"))


def getatt_of(logical_id: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def only_resource(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources_of(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def run_captured(call: Callable[[], int]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a CLI entry point called in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = call()
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def serverless() -> Iterator[tuple[Any, Stubber]]:
    """A redshift-serverless client whose every call the Stubber answers (no credentials are ever used)."""
    client = boto3.client("redshift-serverless", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()

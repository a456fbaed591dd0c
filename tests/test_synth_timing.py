"""`bench/synth_timing.py` times what `make synth` runs against a bare one-bucket app run the same way: the command
it times is the Makefile's (less the output folder), with the Makefile's environment, and the bare app differs from
it only by its app and its context."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from bench.bare_app import bare_app
from bench.synth_timing import BARE_APP, MAKE_ENVIRONMENT, ROOT, bare_command, project_command
from tests.test_make_env import MAKE, make

OUT = Path("cdk.out.new")


@pytest.mark.skipif(MAKE is None, reason="needs make")
def test_the_timed_command_is_the_makefiles_synth_command() -> None:
    result = make("synth", "ENV=dev")
    assert result.returncode == 0, result.stderr
    synth = [line.split(" || ")[0].strip() for line in result.stdout.splitlines() if "cdk synth" in line]
    assert synth == [" ".join(project_command("dev", OUT))]


def test_the_bare_app_runs_with_the_same_cli_and_flags() -> None:
    project, bare = project_command("dev", OUT), bare_command(OUT)
    assert [a for a in project if a not in ("-c", "env=dev")] == [a for a in bare if a not in ("--app", BARE_APP)]
    assert (ROOT / BARE_APP.split()[-1]).is_file()


def test_the_timing_runs_with_what_the_makefile_exports() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    assert {f"export {name} := {value}" for name, value in MAKE_ENVIRONMENT.items()} <= set(makefile)


def test_the_bare_app_is_one_bucket() -> None:
    stacks = bare_app(cdk.App()).node.children
    assert len(stacks) == 1 and isinstance(stacks[0], cdk.Stack)
    resources = Template.from_stack(stacks[0]).to_json()["Resources"]
    assert [r["Type"] for r in resources.values()] == ["AWS::S3::Bucket"]

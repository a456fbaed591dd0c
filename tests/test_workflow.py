"""The pull request workflow: valid YAML, runs on pull requests, and every command it runs is a Makefile
target (the Makefile is the one place that defines the project's commands)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "pr-check.yml"
# `make <target> VAR=value ...`; values may name step env variables ("$BASE_DIR"), nothing else of the shell.
SHELL_SYNTAX = re.compile(r"[;&|<>`]|\$\(|\$\{")
ASSIGNMENT = re.compile(r"^[A-Z][A-Z0-9_]*=\S*$")


def makefile_targets(path: Path = ROOT / "Makefile") -> set[str]:
    """Explicit targets (`name: prerequisites`), not variable assignments (`:=`) or special targets."""
    targets: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_][A-Za-z0-9_.\-/ ]*?)\s*::?(?!=)", line)
        if match and "$" not in match.group(1):
            targets.update(match.group(1).split())
    return targets


def _workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _steps() -> list[dict[str, Any]]:
    return [step for job in _workflow()["jobs"].values() for step in job["steps"]]


def test_makefile_targets_are_parsed() -> None:
    targets = makefile_targets()
    assert {"install", "test", "synth-all", "review", "base-worktree"} <= targets
    assert not {"SHELL", "VENV", ".PHONY", "export"} & targets


def test_workflow_is_valid_yaml_that_runs_on_pull_requests() -> None:
    workflow = _workflow()
    # YAML 1.1 reads the bare key `on` as True.
    triggers = workflow.get("on", workflow.get(True))
    assert triggers is not None and "pull_request" in triggers
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_every_run_line_is_a_make_target() -> None:
    targets = makefile_targets()
    run_lines = [line.strip() for step in _steps() if "run" in step
                 for line in str(step["run"]).splitlines() if line.strip()]
    assert run_lines
    for line in run_lines:
        assert not SHELL_SYNTAX.search(line), line
        words = shlex.split(line)
        assert words[0] == "make", line
        named = [w for w in words[1:] if not ASSIGNMENT.match(w)]
        assert named and all(w in targets for w in named), f"{line}: not a Makefile target: {named}"


def test_the_pipeline_tests_synthesizes_both_sides_and_publishes_the_summary() -> None:
    steps = _steps()
    commands = [shlex.split(line)[1] for step in steps if "run" in step for line in str(step["run"]).splitlines()
                if line.strip()]
    assert commands == ["test", "synth-all", "base-worktree", "synth-all", "review"]
    uses = {str(step["uses"]).split("@")[0]: step for step in steps if "uses" in step}
    assert uses["actions/checkout"]["with"]["fetch-depth"] == 0
    assert str(uses["actions/setup-python"]["with"]["python-version"]) == "3.11"
    assert str(uses["actions/setup-node"]["with"]["node-version"]) == "22"  # jsii supports 22 and 24
    assert {"cdk.out", "summary.md"} <= set(uses["actions/upload-artifact"]["with"]["path"].split())
    assert uses["marocchino/sticky-pull-request-comment"]["with"]["path"] == "summary.md"
    # Every action is pinned to a version, not a branch.
    assert all(re.search(r"@v\d+(\.\d+)*$", str(step["uses"])) for step in steps if "uses" in step)

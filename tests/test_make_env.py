"""The Makefile's ENV: every target that reads config/<ENV>.yaml refuses an empty `ENV=` before running anything
(`make synth ENV=` synthesized the demo, then failed with "not environment 'cdk.out'"), and the commands make
echoes carry no stray backslash-continuation lines."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="needs make")

# Each target that takes ENV, with the other variables it needs.
ENV_TARGETS = [("synth",), ("plan",), ("preview",), ("snapshot", "OUT=snap.json"), ("import", "OUT=access/x.yaml"),
               ("deploy",), ("diff",), ("drift",), ("verify",), ("bootstrap",)]
KNOWN = sorted(p.stem for p in (ROOT / "config").glob("*.yaml") if not p.stem.startswith("_"))


# Under `make test` the tests run inside make: a child make would inherit its level ("Entering directory" lines)
# and its command-line variables (MAKEFLAGS), so each runs as if from a shell.
MAKE_ENVIRONMENT = {k: v for k, v in os.environ.items()
                    if k not in {"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR"}}


def make(*args: str, dry_run: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MAKE), *(["-n"] if dry_run else []), *args], cwd=ROOT,  # noqa: S603
                          capture_output=True, text=True, check=False, timeout=60, env=MAKE_ENVIRONMENT)


@pytest.mark.parametrize("target", ENV_TARGETS, ids=[t[0] for t in ENV_TARGETS])
@pytest.mark.parametrize("empty", ["ENV=", "ENV= "])
def test_an_empty_env_is_refused_with_the_known_environments(target: tuple[str, ...], empty: str) -> None:
    result = make(*target, empty)
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""  # nothing would run, not even the install
    assert (f"ENV is empty: name an environment, e.g. make {target[0]} ENV=demo (known: {', '.join(KNOWN)})"
            in result.stderr), result.stderr


def test_preview_with_an_empty_env_fails_before_installing() -> None:
    result = make("preview", "ENV=", dry_run=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "ENV is empty" in result.stderr and "pip" not in result.stderr


def test_targets_that_need_no_environment_ignore_an_empty_env() -> None:
    assert make("help", "ENV=").returncode == 0
    pipeline = make("bootstrap", "PIPELINE=yes", "ENV=")
    assert pipeline.returncode == 0, pipeline.stderr
    assert "deployer-policy --pipeline --apply" in pipeline.stdout


@pytest.mark.parametrize("target", ENV_TARGETS, ids=[t[0] for t in ENV_TARGETS])
def test_a_named_environment_reaches_the_command(target: tuple[str, ...]) -> None:
    result = make(*target, "ENV=dev")
    assert result.returncode == 0, result.stderr
    assert "--env dev" in result.stdout or "-c env=dev" in result.stdout, result.stdout


@pytest.mark.parametrize("command", [("preview",), ("import", "OUT=access/x.yaml"), ("verify",),
                                     ("snapshot", "OUT=snap.json"), ("drift",), ("plan",)], ids=lambda c: c[0])
def test_echoed_commands_have_no_stray_continuation(command: tuple[str, ...]) -> None:
    """Dry-run output is what make echoes on a real run (bootstrap and synth-all echo nothing: `@`)."""
    result = make(*command, "ENV=demo")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.rstrip().endswith("\\") or not line.strip()] == [], lines
    assert any(f"-m redshift_idc {command[0]} --env demo" in line for line in lines), lines


def test_optional_arguments_are_still_passed() -> None:
    def command(*args: str) -> str:
        result = make(*args)
        assert result.returncode == 0, result.stderr
        return " ".join(result.stdout.split())

    assert ("import --env dev --out 'o.yaml' --from-snapshot 's.json' --secret-arn 'arn:s' --outputs 'c.json' "
            "--force") in command("import", "ENV=dev", "OUT=o.yaml", "SNAPSHOT=s.json", "SECRET_ARN=arn:s",
                                  "OUTPUTS=c.json", "FORCE=yes")
    assert "snapshot --env dev --out 'o.json' --secret-arn 'arn:s' --force" in command(
        "snapshot", "ENV=dev", "OUT=o.json", "SECRET_ARN=arn:s", "FORCE=yes")
    assert "preview --env dev --format json --persona 'Ethan' --strict" in command(
        "preview", "ENV=dev", "FORMAT=json", "PERSONA=Ethan", "STRICT=yes")
    assert "verify --env dev --secret-arn 'arn:s' --outputs 'c.json'" in command(
        "verify", "ENV=dev", "SECRET_ARN=arn:s", "OUTPUTS=c.json")
    assert "verify --env dev --outputs 'cdk-outputs.json'" in command("verify", "ENV=dev")
    assert "drift --env dev --outputs 'c.json'" in command("drift", "ENV=dev", "OUTPUTS=c.json")

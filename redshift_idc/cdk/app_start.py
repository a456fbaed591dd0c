"""What the CDK entry point (`app.py`) needs before the project's heavy modules load: the App with the project's
feature flags, CDK's template validator built early, and the access model's checks on a thread beside it.

Why the last two: aws-cdk-lib's built-in CloudFormation validation (on by default; the bare one-bucket app of
`bench/bare_app.py` pays it too) spends about 4 s of Node CPU building its rule engine before it validates the first
template, while Python waits on jsii's pipe. The model's checks (imports and checks, about 1 s for the demo, more for
a large model) need no Node at all. Built on purpose before the stacks, the engine takes those seconds while a
thread runs the checks on the other core and then loads the stacks' modules (about 0.6 s of Python imports), and the
synth finishes that much sooner. The same checks run on the same
config, a bad model still stops the synth before any template is written (its error is raised where `checked_model`
would have raised it), and the validator is the one CDK would have built, with its default rules (the report names
it "CloudFormation Validate", as before). One byte changes in the templates, in CDK's own analytics (the
`CDKMetadata` resource, which only exists with version reporting on): CDK lists the rules of a validator registered
by hand there, as it does for cdk-nag's packs.

jsii's kernel takes one caller at a time, so the thread imports and runs only code that never calls into jsii while the
main thread makes the one jsii call meanwhile: every jsii assembly (aws-cdk-lib, cdk-nag) is loaded before the thread
starts, the checks (`redshift_idc.access`, `config`, `runtime`) never load one, and no module of `THREAD_IMPORTS`
calls into jsii at import (a CDK duration or runtime is made where it is used, not as a module constant).
tests/test_app_start.py holds both by recording every call the kernel receives.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import aws_cdk as cdk
import cdk_nag  # noqa: F401 (its jsii assembly loads here, before the thread starts: see above)

if TYPE_CHECKING:
    from redshift_idc.access.checked import CheckedModel
    from redshift_idc.config.environment import EnvironmentConfig

DEFAULT_ENVIRONMENT = "demo"
# What the checks' thread imports once they pass: the stacks of an environment, and all they import.
THREAD_IMPORTS = ("redshift_idc.cdk.app",)

# The feature flags `cdk init` sets for this aws-cdk-lib, in cdk.json's context as the CLI expects, except three
# of ours: stacks of one environment reference each other (workgroup ARN, key, secret), so producers stay
# protected (`defaultCrossStackReferences: strong`); one partition (`target-partitions: [aws]`); and the
# config's `tags` stay stack tags too, which CloudFormation propagates to every resource it creates
# (`explicitStackTags: false`; true would tag only the resources CDK tags itself).
# Read from there, so in-process test synths use exactly the flags `cdk synth` does. Installed (site-packages),
# there is no checkout and no flags here: a user's own app has its own cdk.json (examples/own_cdk_app/cdk.json
# sets the same flags).
CHECKOUT_CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
FEATURE_FLAGS: dict[str, Any] = (json.loads(CHECKOUT_CDK_JSON.read_text(encoding="utf-8"))["context"]
                                 if CHECKOUT_CDK_JSON.is_file() else {})


def new_app(*, outdir: str | None = None, context: dict[str, Any] | None = None) -> cdk.App:
    return cdk.App(outdir=outdir, context={**FEATURE_FLAGS, **(context or {})})


def environment_name(app: cdk.App) -> str:
    """The environment `-c env=NAME` asks for (default: the demo)."""
    return str(app.node.try_get_context("env") or DEFAULT_ENVIRONMENT)


class ChecksAhead:
    """An environment's config, loaded, its access model checked (`checked_model`, every check synth makes) and the
    stacks' modules imported, on a thread started now; `result` waits for it and raises what the checks raised."""

    def __init__(self, environment: str) -> None:
        self._environment = environment
        self._outcome: tuple[EnvironmentConfig, CheckedModel | None] | BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="access-model-checks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            from redshift_idc.access.checked import checked_model
            from redshift_idc.config.environment import load_environment

            config = load_environment(self._environment)
            checked = checked_model(config) if config.access_model is not None else None
            for module in THREAD_IMPORTS:
                import_module(module)
            self._outcome = (config, checked)
        except BaseException as error:  # handed to the main thread, which raises it
            self._outcome = error

    def result(self) -> tuple[EnvironmentConfig, CheckedModel | None]:
        """The config and its checked model (None: the environment has no access model)."""
        self._thread.join()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        if self._outcome is None:
            raise RuntimeError(f"the checks of environment {self._environment!r} ended without a result")
        return self._outcome


def template_validator() -> cdk.CloudFormationValidatePlugin | None:
    """CDK's built-in template validator, its rule engine built now; register it on the App (at its root, as CDK
    requires) and CDK uses it instead of building its own at synth. None when `CDK_VALIDATION=false` turns CDK's
    validation off: registering one would turn it back on."""
    if os.environ.get("CDK_VALIDATION") == "false":
        return None
    return _validator()


@cache
def _validator() -> cdk.CloudFormationValidatePlugin:
    """One per process, as CDK's own is: its engine costs seconds to build and holds no state between synths."""
    return cdk.CloudFormationValidatePlugin()


def leave(code: int) -> NoReturn:
    """End the CDK app's process now, without waiting for jsii's Node process to wind down.

    `app.synth()` returns once Node has written the whole cloud assembly. What is left is jsii's orderly stop at exit
    (an exit message, then waiting for Node and its child process to end), which takes about a second for this app
    (its loaded modules, CDK's validation engine) against half that for the bare app, and the CLI waits for it before
    it reads the assembly. Node ends by itself, well under a second later, when its stdin closes with this process.
    Nothing else of ours needs atexit: the staged Lambda assets are removed here and the output is flushed first."""
    from redshift_idc.cdk.components.lambda_asset import remove_staging_dir

    remove_staging_dir()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth -c env=NAME` (default: demo) synthesizes config/NAME.yaml;
`-c pipeline=true` synthesizes the delivery pipeline of pipeline.yaml instead.

Only aws-cdk-lib and `app_start` load first: the environment's checks run on a thread while Node builds CDK's
template validator, and the stacks' modules load after them; the process ends as soon as the synth has written the
cloud assembly (`redshift_idc/cdk/app_start.py` says why)."""

from __future__ import annotations

import sys

import aws_cdk as cdk

from redshift_idc.cdk.app_start import ChecksAhead, environment_name, leave, new_app, template_validator
from redshift_idc.config.errors import ConfigError


def main(app: cdk.App | None = None) -> int:
    """`app`: the tests' (with an `env` context and an outdir); the CLI's otherwise."""
    app = app or new_app()
    try:
        if str(app.node.try_get_context("pipeline") or "").lower() == "true":
            from redshift_idc.cdk.app import add_pipeline
            from redshift_idc.config.pipeline import load_pipeline

            add_pipeline(app, load_pipeline())
        else:
            checks = ChecksAhead(environment_name(app))
            validator = template_validator()  # Node builds the engine while the checks run
            config, checked = checks.result()
            from redshift_idc.cdk.app import add_environment

            add_environment(app, config, checked=checked)
            if validator is not None:
                cdk.Validations.of(app).add_plugins(validator)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    leave(main())  # without waiting for jsii's Node process to wind down (`app_start.leave` says why)

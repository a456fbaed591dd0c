#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth -c env=NAME` (default: demo) synthesizes config/NAME.yaml;
`-c pipeline=true` synthesizes the delivery pipeline of pipeline.yaml instead."""

from __future__ import annotations

import sys

import aws_cdk as cdk

from redshift_idc.cdk.app import DEFAULT_ENVIRONMENT, add_environment, add_pipeline, new_app
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.config.pipeline import load_pipeline


def main(app: cdk.App | None = None) -> int:
    """`app`: the tests' (with an `env` context and an outdir); the CLI's otherwise."""
    app = app or new_app()
    try:
        if str(app.node.try_get_context("pipeline") or "").lower() == "true":
            add_pipeline(app, load_pipeline())
        else:
            add_environment(app, load_environment(str(app.node.try_get_context("env") or DEFAULT_ENVIRONMENT)))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

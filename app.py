#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth -c env=NAME` (default: demo) synthesizes config/NAME.yaml."""

from __future__ import annotations

import sys

from redshift_idc.app_builder import DEFAULT_ENVIRONMENT, add_environment, new_app
from redshift_idc.config import ConfigError, load_environment


def main() -> int:
    app = new_app()
    name = str(app.node.try_get_context("env") or DEFAULT_ENVIRONMENT)
    try:
        config = load_environment(name)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    add_environment(app, config)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m redshift_idc <command>`: the commands' parsers in one table, and the errors every command reports
the same way (a message on stderr, exit 2, no traceback)."""

from __future__ import annotations

import argparse
import sys

from redshift_idc.cdk.deployer_policy import DeployerPolicyError
from redshift_idc.cli import (
    conformance,
    deployer_policy,
    drift,
    import_model,
    plan,
    preview,
    query,
    review,
    snapshot,
    summary,
    validate,
    verify,
)
from redshift_idc.config.errors import ConfigError

# In the order `--help` lists them.
COMMANDS = (summary, validate, plan, drift, snapshot, import_model, verify, review, preview, deployer_policy, query,
            conformance)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m redshift_idc")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except (ConfigError, DeployerPolicyError) as error:
        print(error, file=sys.stderr)
        return 2
    return code

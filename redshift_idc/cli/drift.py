"""`python -m redshift_idc drift`: the live warehouse against the access model, read-only."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from redshift_idc.cli.options import ADMIN_ARN_HELP, add_env_option
from redshift_idc.deployed.drift import drift_command

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser("drift", help="compare the live warehouse with the access model, change nothing; "
                                 "exit 0 in sync, 1 drift, 2 error")
    add_env_option(parser)
    parser.add_argument("--secret-arn", help=ADMIN_ARN_HELP)
    parser.add_argument("--outputs", type=Path, help="`cdk deploy --outputs-file` JSON to read AdminSecretArn from")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return drift_command(args.env, args.secret_arn, args.outputs)

"""`python -m redshift_idc verify`: the post-deploy checks of what CloudFormation cannot see, read-only."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from redshift_idc.cli.options import add_env_option
from redshift_idc.deployed.verify.runner import checks_help, verify_command

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser("verify", help="check what CloudFormation cannot see (IdC region, identity provider, "
                                 "assignments, token issuers, OAuth application, sys:secadmin), read-only; exit 0 "
                                 "all ok, 1 a check failed, 2 error",
                                 description=checks_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_env_option(parser)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--outputs", type=Path, metavar="FILE",
                        help="`cdk deploy --outputs-file` JSON with the Warehouse (and Identity) stacks' outputs")
    source.add_argument("--outputs-from-env", action="store_true",
                        help="read the outputs from CDK_OUTPUT__<stack>__<output> variables (the pipeline sets them)")
    parser.add_argument("--secret-arn",
                        help="admin secret ARN (default: the warehouse stack's AdminSecretArn output)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return verify_command(args.env, args.outputs, outputs_from_env=args.outputs_from_env, secret_arn=args.secret_arn)

"""`python -m redshift_idc deployer-policy`: the CloudFormation execution policy `make bootstrap` installs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from redshift_idc.cdk.deployer_policy import deployer_policy_command, write_actions_from

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "deployer-policy", help="the CloudFormation execution policy `make bootstrap` installs (in place of "
        "AdministratorAccess): print it for review, or --apply it with your credentials")
    parser.add_argument("--env", default="demo", help="environment: config/<env>.yaml, whose account and region "
                        "are bootstrapped (default: demo)")
    parser.add_argument("--pipeline", action="store_true",
                        help="the pipeline's tooling account (pipeline.yaml) instead of an environment's")
    parser.add_argument("--apply", action="store_true", help="create or update the managed policies in IAM and "
                        "print their ARNs, comma-separated (for cdk bootstrap --cloudformation-execution-policies)")
    parser.add_argument("--write-actions", type=Path, metavar="DIR",
                        help="rewrite redshift_idc/cdk/deployer_actions.json from the resource types of the templates "
                        "under DIR (make deployer-actions)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.write_actions is not None:
        print(write_actions_from(args.write_actions))
        return 0
    return deployer_policy_command(args.env, pipeline=args.pipeline, apply_policies=args.apply)

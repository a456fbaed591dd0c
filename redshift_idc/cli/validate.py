"""`python -m redshift_idc validate`: load an environment and compile and check its access model, nothing more."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from redshift_idc.access.checked import checked_model
from redshift_idc.cli.options import add_env_option
from redshift_idc.config.environment import load_environment

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser("validate", help="validate config/<env>.yaml (and its access model) and exit")
    add_env_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_environment(args.env)
    if config.access_model is not None:
        for warning in checked_model(config).warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"access/{config.access_model}.yaml is valid")
    print(f"config/{config.name}.yaml is valid")
    return 0

"""What several commands share: the subcommand table's type and the options that read the same everywhere."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # argparse's type for the table `add_subparsers` returns; each command module adds its parser to it.
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

ADMIN_ARN_HELP = "admin secret ARN (the warehouse stack's AdminSecretArn output)"


def add_env_option(parser: argparse.ArgumentParser) -> None:
    """`--env`, the demo by default: the commands a newcomer tries first work on the sample environment."""
    parser.add_argument("--env", default="demo", help="environment: config/<env>.yaml (default: demo)")

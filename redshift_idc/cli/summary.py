"""`python -m redshift_idc summary`: what a synth produced."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from redshift_idc.cli.options import add_env_option
from redshift_idc.review.synth_summary import summarize

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser("summary", help="print what a synth produced")
    add_env_option(parser)
    parser.add_argument("cloud_assembly", nargs="?", default="cdk.out", type=Path,
                        help="the synthesized cloud assembly directory (default: cdk.out)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print(summarize(args.cloud_assembly, args.env))
    return 0

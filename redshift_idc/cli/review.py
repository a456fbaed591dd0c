"""`python -m redshift_idc review`: a pull request's template and access model changes, as markdown."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from redshift_idc.review.summary import review

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser("review", help="markdown summary of a pull request: template and access "
                                 "model changes between two synthesized cloud assemblies (offline)")
    parser.add_argument("--base", required=True, type=Path, help="the base branch's assembly (cdk.out-base)")
    parser.add_argument("--head", required=True, type=Path, help="the pull request's assembly (cdk.out)")
    parser.add_argument("--env", help="only this environment (default: every one found)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print(review(args.base, args.head, args.env), end="")
    return 0

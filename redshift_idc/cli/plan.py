"""`python -m redshift_idc plan`: the SQL a deploy will run, for a pull request: offline against an empty
warehouse (default) or a `snapshot` file (`review/plan_report.py` writes both), or `--live`, which is the drift
report with a difference that is not a failure."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from redshift_idc.cli.options import ADMIN_ARN_HELP, add_env_option
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.deployed.drift import DRIFT, WIDENS, drift_command
from redshift_idc.review.plan_report import offline_plan_report, snapshot_plan_report

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser("plan", help="print the SQL a deploy of the access model will run")
    add_env_option(parser)
    against = parser.add_mutually_exclusive_group()
    against.add_argument("--live", action="store_true",
                         help="diff against the live warehouse (Data API, your AWS credentials)")
    against.add_argument("--snapshot", type=Path, metavar="FILE",
                         help="plan against the catalog in a `snapshot` file (offline) instead of an empty "
                              "warehouse: what a deploy would run there; a model `import` wrote from it shows no "
                              "statement, only objects recorded in the ledger")
    parser.add_argument("--secret-arn", help=ADMIN_ARN_HELP)
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when the transition check finds a batch boundary after which someone would "
                             "see more than before and after the deploy (the plan's last line), or the model has a "
                             "lint its allow_warnings does not accept")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_environment(args.env)
    if args.live:
        if not args.secret_arn:
            raise ConfigError("plan --live needs --secret-arn (the warehouse stack's AdminSecretArn output)")
        # The drift report is exactly the live plan (read-only); here a difference is not a failure.
        code = drift_command(args.env, args.secret_arn, None, strict=args.strict)
        return {DRIFT: 0, WIDENS: 1}.get(code, code)
    report = (snapshot_plan_report(config, args.snapshot) if args.snapshot is not None
              else offline_plan_report(config))
    print(report.text, end="")
    if args.strict and report.strict_error():
        print(report.strict_error(), file=sys.stderr)
        return 1
    return 0

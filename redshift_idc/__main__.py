"""Command line: `python -m redshift_idc <command>`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from redshift_idc.config import ConfigError, load_environment
from redshift_idc.synth_summary import summarize


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m redshift_idc")
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("summary", help="print what a synth produced")
    summary.add_argument("--env", default="demo")
    summary.add_argument("cloud_assembly", nargs="?", default="cdk.out", type=Path)
    validate = commands.add_parser("validate", help="validate config/<env>.yaml and exit")
    validate.add_argument("--env", default="demo")
    args = parser.parse_args(argv)
    try:
        if args.command == "summary":
            print(summarize(args.cloud_assembly, args.env))
        elif args.command == "validate":
            config = load_environment(args.env)
            print(f"config/{config.name}.yaml is valid")
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m redshift_idc snapshot`: the live catalog as a JSON file, for `import` and `plan` offline."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from redshift_idc.cli.options import ADMIN_ARN_HELP
from redshift_idc.deployed.snapshot import snapshot_command

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "snapshot", help="write the live catalog to a JSON file, read-only (SELECTs only): for `import "
        "--from-snapshot` and `plan --snapshot` on a machine without credentials",
        description="Reads, with your AWS credentials and the namespace admin secret, the rows of the reconciler's "
        "catalog queries (without its ledger bootstrap), the RLS and masking policies' and identity providers' "
        "definitions, the ledger of the environment's access model if it was deployed, and the columns of every "
        "table the grants and policies name, and writes them as deterministic JSON (sorted; environment, "
        "workgroup, namespace, database and format version included; no secret: client secrets are blanked). "
        "Nothing is created, granted or recorded. Exit 0 written, 2 error.")
    parser.add_argument("--env", required=True, help="environment: config/<env>.yaml, whose warehouse is read")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--secret-arn", metavar="ARN", help=ADMIN_ARN_HELP)
    source.add_argument("--outputs", type=Path, metavar="FILE",
                        help="`cdk deploy --outputs-file` JSON to read AdminSecretArn from")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="the JSON file to write")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return snapshot_command(args.env, args.secret_arn, args.outputs, args.out, force=args.force)

"""`python -m redshift_idc import`: an access model written from an existing warehouse's catalog."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from redshift_idc.access.importer.command import import_command

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "import", help="write an access model from an existing warehouse's catalog (live or a snapshot), "
        "read-only; planned against that catalog it runs no DDL, a deploy only adopts the objects",
        description="Read-only: writes access/<name>.yaml from the live catalog (--secret-arn or --outputs: your AWS "
        "credentials, SELECTs only) or from a `snapshot` file (--from-snapshot: no credentials): roles (IdC "
        "group roles '<namespace>:<group>' of groups the environment assigns as roles.idc_groups, other roles as "
        "roles.plain), role, schema, table, column and scoped grants, RLS policies, attachments, table settings "
        "and IGNORE RLS, masking policies and attachments, identity providers (secrets as secretsmanager: "
        "placeholders to fill in), and every table they name with its columns. Policy text is written as "
        "Redshift returns it, with a comment saying so. What the model cannot hold is left out and reported on "
        "stderr. The file is then compiled with the environment and planned against the catalog: exit 0 "
        "written and it plans to no DDL, 1 written but it needs the changes printed, 2 nothing written.")
    parser.add_argument("--env", help="environment: config/<env>.yaml (with --from-snapshot: default the "
                        "snapshot's); its identity namespace and groups decide which roles are IdC group roles")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--secret-arn", metavar="ARN",
                        help="read the live warehouse with this admin secret (the AdminSecretArn output)")
    source.add_argument("--outputs", type=Path, metavar="FILE",
                        help="read the live warehouse, the admin secret's ARN from this `cdk deploy "
                             "--outputs-file` JSON")
    source.add_argument("--from-snapshot", type=Path, metavar="FILE",
                        help="read the catalog from a `snapshot` file instead (offline)")
    parser.add_argument("--out", required=True, type=Path, metavar="access/NAME.yaml",
                        help="the model to write; its file name is the model's name, which the environment's "
                             "access_model: must then name")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return import_command(args.env, args.secret_arn, args.outputs, args.from_snapshot, args.out, force=args.force)

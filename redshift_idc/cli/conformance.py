"""`python -m redshift_idc conformance`: record what a real scratch workgroup answers (the tests' evidence)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from redshift_idc.deployed.conformance.command import Arguments, conformance_command
from redshift_idc.deployed.conformance.objects import PREFIX, Extras

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "conformance", help="record what a scratch Redshift Serverless workgroup answers to every statement and "
        "catalog query the project uses (creates and removes objects: scratch databases only)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Records, on a SCRATCH database, what real Redshift answers, so the tests' fake warehouse can be\n"
            "checked against it (tests/fixtures/conformance/). It:\n"
            "  1. reads the catalog and REFUSES a database holding schemas, tables, roles or users beyond what a\n"
            "     new workgroup has (public, the sys:/ds: roles, the admin), unless --force;\n"
            f"  2. creates a schema, three tables and roles named {PREFIX}..., and deploys an access model\n"
            "     twice as the reconciler would (ledger, fence): every CREATE/DROP ROLE, GRANT/REVOKE (schema,\n"
            "     scoped, table, column, system, role), RLS and masking policy form the planner emits;\n"
            "  3. reads back every catalog query of the reconciler, verify, snapshot and import (raw rows);\n"
            "  4. asks the reference's open questions (duplicate GRANT, GRANT ROLE to a member, REVOKE of what\n"
            "     is not held, DROP ROLE with attachments, role name case, a batch over 90 KB, ...);\n"
            "  5. removes everything it created, also when something failed, and writes one JSON file\n"
            "     (no account id, ARN or secret in it) to contribute under tests/fixtures/conformance/.\n"
            "Needs AWS credentials allowed redshift-data:BatchExecuteStatement, ExecuteStatement,\n"
            "DescribeStatement, GetStatementResult and CancelStatement on the workgroup and\n"
            "secretsmanager:GetSecretValue on the namespace's admin secret (the admin must be a superuser).\n"
            "Forms that need IAM Identity Center, Glue or a datashare run only with the --with-* flag naming\n"
            "the resource. With --force the file also holds the rows of the database's other roles and grants\n"
            "(the catalog queries read everything): review it before publishing.\n"
            "Exit 0 recorded; 1 recorded, but a deploy failed (contribute it too) or cleanup left objects\n"
            "behind (named); 2 error, nothing written."))
    parser.add_argument("--workgroup", required=True, metavar="W", help="the Redshift Serverless workgroup name")
    parser.add_argument("--secret-arn", required=True, metavar="S",
                        help="ARN of the namespace's admin secret (username and password); never printed")
    parser.add_argument("--database", default="dev", metavar="D", help="the scratch database (default: dev)")
    parser.add_argument("--region", metavar="R", help="AWS region (default: the secret ARN's)")
    parser.add_argument("--out", type=Path, default=Path("conformance.json"), metavar="FILE",
                        help="the JSON file to write (default: conformance.json)")
    parser.add_argument("--force", action="store_true",
                        help="run on a database that is not a scratch one, and replace --out if it exists")
    parser.add_argument("--with-idc", nargs=2, metavar=("APPLICATION_ARN", "ROLE_ARN"),
                        help="also CREATE/ALTER/DROP IDENTITY PROVIDER (TYPE AWSIDC) with this Redshift IdC "
                        "application and the IAM role it uses")
    parser.add_argument("--with-glue", metavar="GLUE_DATABASE",
                        help="also CREATE EXTERNAL SCHEMA FROM DATA CATALOG DATABASE of this Glue database")
    parser.add_argument("--with-datashare", metavar="DATASHARE_ARN",
                        help="also CREATE DATABASE FROM ARN of this datashare, and GRANT USAGE ON DATABASE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    idc = args.with_idc or ("", "")
    extras = Extras(idc[0], idc[1], args.with_glue or "", args.with_datashare or "")
    return conformance_command(Arguments(args.workgroup, args.secret_arn, args.database, args.region, args.out,
                                         args.force, extras))

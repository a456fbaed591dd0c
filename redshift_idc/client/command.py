"""The client's own command, `python -m redshift_idc.client query`: SQL run as the user an IdP signed in.

It needs only `pip install .` (boto3, PyJWT): an application's operator can check, from any machine, what
a user sees before wiring the library in. `python -m redshift_idc query` (the CDK app's command line) runs
the same code, with the stack prefix taken from `config/<env>.yaml`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from redshift_idc.client.tip import TipClientConfig, TipError, TipSession

# Where the id token is read from without --id-token-file: never a command-line argument, which other users of
# the machine can read in the process list.
ID_TOKEN_VARIABLE = "REDSHIFT_IDC_ID_TOKEN"  # noqa: S105 (the variable's name)


def add_query_arguments(parser: argparse.ArgumentParser, *, id_token_file_required: bool) -> None:
    """The id token, the deploy's outputs and the SQL: what both `query` commands take."""
    file_help = "file holding the IdP's id token (JWT)"
    if not id_token_file_required:
        file_help += f" (default: the {ID_TOKEN_VARIABLE} environment variable)"
    parser.add_argument("--id-token-file", required=id_token_file_required, type=Path, help=file_help)
    parser.add_argument("--outputs", default=Path("cdk-outputs.json"), type=Path,
                        help="`cdk deploy --outputs-file` JSON with the Identity and Warehouse stacks' outputs "
                             "(default: cdk-outputs.json)")
    parser.add_argument("sql", help="the SQL statement to run as the signed-in user, e.g. 'SELECT current_user'")


def read_id_token(id_token_file: Path | None, environ: Mapping[str, str] = os.environ) -> str:
    if id_token_file is None:
        token = environ.get(ID_TOKEN_VARIABLE, "").strip()
        if not token:
            raise TipError(f"no id token: pass --id-token-file FILE or set {ID_TOKEN_VARIABLE}")
        return token
    try:
        token = id_token_file.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise TipError(f"{id_token_file}: cannot read the id token file ({error.strerror})") from None
    if not token:
        raise TipError(f"{id_token_file}: the id token file is empty")
    return token


def query_command(id_token_file: Path | None, outputs: Path, stack_prefix: str | None, sql: str,
                  out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print who the query runs as, then the result table. 2 on a TipError. Without a stack prefix, the outputs
    file's one environment with identity propagation."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        token = read_id_token(id_token_file)
        session = TipSession.from_id_token(token, TipClientConfig.from_outputs(outputs, stack_prefix))
        print(f"-- as {session.who}", file=out)
        print(session.query(sql).to_table(), file=out)
    except TipError as error:
        print(error, file=err)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m redshift_idc.client",
        description="The trusted identity propagation client (boto3 and PyJWT only): query Redshift through the "
                    "Data API as the user your identity provider signed in.")
    commands = parser.add_subparsers(dest="command", required=True)
    query = commands.add_parser(
        "query", help="run SQL as a signed-in IdP user (trusted identity propagation)",
        description="Exchanges the IdP's id token for an identity-enhanced session (bridge role, IAM Identity "
                    "Center, client role: the deploy's outputs name them) and runs one statement as that user. "
                    "Prints who it runs as, then the rows. Exit 0 done, 2 error (what to fix on stderr).")
    add_query_arguments(query, id_token_file_required=False)
    query.add_argument("--stack-prefix", metavar="PREFIX",
                       help="the environment's stack prefix, e.g. Demo for DemoIdentity and DemoWarehouse "
                            "(default: the outputs file's one environment with identity propagation)")
    args = parser.parse_args(argv)
    return query_command(args.id_token_file, args.outputs, args.stack_prefix, args.sql)

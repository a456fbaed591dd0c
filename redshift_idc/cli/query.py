"""`python -m redshift_idc query`: the client's `query` (`python -m redshift_idc.client query`), with the stack
prefix of `config/<env>.yaml`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from redshift_idc.cli.options import add_env_option
from redshift_idc.client.command import add_query_arguments, query_command
from redshift_idc.config.environment import load_environment

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser("query", help="run SQL as a signed-in IdP user (trusted identity propagation)")
    add_env_option(parser)
    add_query_arguments(parser, id_token_file_required=True)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return query_command(args.id_token_file, args.outputs, load_environment(args.env).stack_prefix, args.sql)

"""`python -m redshift_idc preview`: who sees what, each persona's rows of each table, offline."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from redshift_idc.access.checked import environment_preview
from redshift_idc.cli.options import add_env_option
from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.errors import ConfigError

if TYPE_CHECKING:
    from redshift_idc.cli.options import Commands


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser("preview", help="who sees what: each persona's rows of each table, offline, "
                                 "on the model's sample rows")
    add_env_option(parser)
    parser.add_argument("--persona", help="only this persona (default: every one)")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                        help="text (default), markdown (for a pull request) or json (one object)")
    parser.add_argument("--strict", action="store_true",
                        help="fail (exit 2) on warnings the model's allow_warnings does not accept")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print(preview_command(load_environment(args.env), args.persona, args.format, args.strict), end="")
    return 0


def preview_command(config: EnvironmentConfig, persona: str | None = None, output: str = "text",
                    strict: bool = False) -> str:
    """`python -m redshift_idc preview`: the access preview of the environment's model. `strict`: warnings
    the model does not accept (`allow_warnings`), and failed expectations, are errors."""
    from redshift_idc.access.model_lints import unaccepted
    from redshift_idc.access.preview.render import render_json, render_markdown, render_text
    from redshift_idc.access.preview.results import PreviewError

    model, result = environment_preview(config)
    if strict and (unaccepted(model, result.warnings) or result.failures):
        problems = [f"warning [{w.code}]: {w.message}" for w in unaccepted(model, result.warnings)] + [
            f"failed expectation: {f}" for f in result.failures]
        raise PreviewError(f"access/{model.name}.yaml: --strict: {len(problems)} problem(s) (accept a warning "
                           "with allow_warnings: [{code: ..., reason: ...}]):\n  " + "\n  ".join(problems))
    if persona is not None:
        chosen = [p for p in result.personas if p.persona.name.lower() == persona.lower()]
        if not chosen:
            known = ", ".join(p.persona.name for p in result.personas)
            raise ConfigError(f"access/{model.name}.yaml: no persona '{persona}' (personas: {known})")
        result.personas = chosen
    renderers = {"text": render_text, "markdown": render_markdown, "json": render_json}
    return renderers[output](result)

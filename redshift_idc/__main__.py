"""Command line: `python -m redshift_idc <command>`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from redshift_idc.config import ConfigError, load_environment
from redshift_idc.deployer_policy import DeployerPolicyError, deployer_policy_command, write_actions_from
from redshift_idc.drift import DRIFT, drift_command
from redshift_idc.plan_cli import checked_model, offline_plan, preview_command
from redshift_idc.review_summary import review
from redshift_idc.synth_summary import summarize
from redshift_idc.tip_client import query_command
from redshift_idc.verify import checks_help, verify_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m redshift_idc")
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("summary", help="print what a synth produced")
    summary.add_argument("--env", default="demo", help="environment: config/<env>.yaml (default: demo)")
    summary.add_argument("cloud_assembly", nargs="?", default="cdk.out", type=Path,
                         help="the synthesized cloud assembly directory (default: cdk.out)")
    validate = commands.add_parser("validate", help="validate config/<env>.yaml (and its access model) and exit")
    validate.add_argument("--env", default="demo", help="environment: config/<env>.yaml (default: demo)")
    plan_parser = commands.add_parser("plan", help="print the SQL a deploy of the access model will run")
    plan_parser.add_argument("--env", default="demo", help="environment: config/<env>.yaml (default: demo)")
    plan_parser.add_argument("--live", action="store_true",
                             help="diff against the live warehouse (Data API, your AWS credentials)")
    plan_parser.add_argument("--secret-arn", help="admin secret ARN (the warehouse stack's AdminSecretArn output)")
    drift = commands.add_parser("drift", help="compare the live warehouse with the access model, change nothing; "
                                "exit 0 in sync, 1 drift, 2 error")
    drift.add_argument("--env", default="demo", help="environment: config/<env>.yaml (default: demo)")
    drift.add_argument("--secret-arn", help="admin secret ARN (the warehouse stack's AdminSecretArn output)")
    drift.add_argument("--outputs", type=Path, help="`cdk deploy --outputs-file` JSON to read AdminSecretArn from")
    verify = commands.add_parser("verify", help="check what CloudFormation cannot see (IdC region, identity provider, "
                                 "assignments, token issuers, OAuth application, sys:secadmin), read-only; exit 0 "
                                 "all ok, 1 a check failed, 2 error",
                                 description=checks_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    verify.add_argument("--env", default="demo", help="environment: config/<env>.yaml (default: demo)")
    source = verify.add_mutually_exclusive_group()
    source.add_argument("--outputs", type=Path, metavar="FILE",
                        help="`cdk deploy --outputs-file` JSON with the Warehouse (and Identity) stacks' outputs")
    source.add_argument("--outputs-from-env", action="store_true",
                        help="read the outputs from CDK_OUTPUT__<stack>__<output> variables (the pipeline sets them)")
    verify.add_argument("--secret-arn", help="admin secret ARN (default: the warehouse stack's AdminSecretArn output)")
    review_parser = commands.add_parser("review", help="markdown summary of a pull request: template and access "
                                        "model changes between two synthesized cloud assemblies (offline)")
    review_parser.add_argument("--base", required=True, type=Path, help="the base branch's assembly (cdk.out-base)")
    review_parser.add_argument("--head", required=True, type=Path, help="the pull request's assembly (cdk.out)")
    review_parser.add_argument("--env", help="only this environment (default: every one found)")
    preview = commands.add_parser("preview", help="who sees what: each persona's rows of each table, offline, "
                                  "on the model's sample rows")
    preview.add_argument("--env", default="demo", help="environment: config/<env>.yaml (default: demo)")
    preview.add_argument("--persona", help="only this persona (default: every one)")
    preview.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                         help="text (default), markdown (for a pull request) or json (one object)")
    preview.add_argument("--strict", action="store_true",
                         help="fail (exit 2) on warnings the model's allow_warnings does not accept")
    policy = commands.add_parser(
        "deployer-policy", help="the CloudFormation execution policy `make bootstrap` installs (in place of "
        "AdministratorAccess): print it for review, or --apply it with your credentials")
    policy.add_argument("--env", default="demo", help="environment: config/<env>.yaml, whose account and region "
                        "are bootstrapped (default: demo)")
    policy.add_argument("--pipeline", action="store_true",
                        help="the pipeline's tooling account (pipeline.yaml) instead of an environment's")
    policy.add_argument("--apply", action="store_true", help="create or update the managed policies in IAM and "
                        "print their ARNs, comma-separated (for cdk bootstrap --cloudformation-execution-policies)")
    policy.add_argument("--write-actions", type=Path, metavar="DIR",
                        help="rewrite redshift_idc/deployer_actions.json from the resource types of the templates "
                        "under DIR (make deployer-actions)")
    query = commands.add_parser("query", help="run SQL as a signed-in IdP user (trusted identity propagation)")
    query.add_argument("--env", default="demo", help="environment: config/<env>.yaml (default: demo)")
    query.add_argument("--id-token-file", required=True, type=Path, help="file holding the IdP's id token (JWT)")
    query.add_argument("--outputs", default=Path("cdk-outputs.json"), type=Path,
                       help="`cdk deploy --outputs-file` JSON with the Identity and Warehouse stacks' outputs "
                            "(default: cdk-outputs.json)")
    query.add_argument("sql", help="the SQL statement to run as the signed-in user, e.g. 'SELECT current_user'")
    args = parser.parse_args(argv)
    try:
        if args.command == "summary":
            print(summarize(args.cloud_assembly, args.env))
        elif args.command == "validate":
            config = load_environment(args.env)
            if config.access_model is not None:
                checked_model(config)
                print(f"access/{config.access_model}.yaml is valid")
            print(f"config/{config.name}.yaml is valid")
        elif args.command == "plan":
            config = load_environment(args.env)
            if args.live:
                if not args.secret_arn:
                    raise ConfigError("plan --live needs --secret-arn (the warehouse stack's AdminSecretArn output)")
                # The drift report is exactly the live plan (read-only); here a difference is not a failure.
                code = drift_command(args.env, args.secret_arn, None)
                return 0 if code == DRIFT else code
            else:
                print(offline_plan(config), end="")
        elif args.command == "preview":
            print(preview_command(load_environment(args.env), args.persona, args.format, args.strict), end="")
        elif args.command == "drift":
            return drift_command(args.env, args.secret_arn, args.outputs)
        elif args.command == "verify":
            return verify_command(args.env, args.outputs, outputs_from_env=args.outputs_from_env,
                                  secret_arn=args.secret_arn)
        elif args.command == "deployer-policy":
            if args.write_actions is not None:
                print(write_actions_from(args.write_actions))
                return 0
            return deployer_policy_command(args.env, pipeline=args.pipeline, apply_policies=args.apply)
        elif args.command == "review":
            print(review(args.base, args.head, args.env), end="")
        elif args.command == "query":
            prefix = load_environment(args.env).stack_prefix
            return query_command(args.id_token_file, args.outputs, prefix, args.sql)
    except (ConfigError, DeployerPolicyError) as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

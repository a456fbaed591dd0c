"""Command line: `python -m redshift_idc <command>`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from redshift_idc.access.importer import import_command
from redshift_idc.cdk.deployer_policy import DeployerPolicyError, deployer_policy_command, write_actions_from
from redshift_idc.cli.plan import checked_model, offline_plan_report, preview_command, snapshot_plan_report
from redshift_idc.client.tip import query_command
from redshift_idc.config.environment import load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.deployed.drift import DRIFT, WIDENS, drift_command
from redshift_idc.deployed.snapshot import snapshot_command
from redshift_idc.deployed.verify import checks_help, verify_command
from redshift_idc.review.summary import review
from redshift_idc.review.synth_summary import summarize


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
    against = plan_parser.add_mutually_exclusive_group()
    against.add_argument("--live", action="store_true",
                         help="diff against the live warehouse (Data API, your AWS credentials)")
    against.add_argument("--snapshot", type=Path, metavar="FILE",
                         help="plan against the catalog in a `snapshot` file (offline) instead of an empty "
                              "warehouse: what a deploy would run there; a model `import` wrote from it shows no "
                              "statement, only objects recorded in the ledger")
    plan_parser.add_argument("--secret-arn", help="admin secret ARN (the warehouse stack's AdminSecretArn output)")
    plan_parser.add_argument("--strict", action="store_true",
                             help="exit 1 when the transition check finds a batch boundary after which someone would "
                                  "see more than before and after the deploy (the plan's last line)")
    drift = commands.add_parser("drift", help="compare the live warehouse with the access model, change nothing; "
                                "exit 0 in sync, 1 drift, 2 error")
    drift.add_argument("--env", default="demo", help="environment: config/<env>.yaml (default: demo)")
    drift.add_argument("--secret-arn", help="admin secret ARN (the warehouse stack's AdminSecretArn output)")
    drift.add_argument("--outputs", type=Path, help="`cdk deploy --outputs-file` JSON to read AdminSecretArn from")
    snapshot = commands.add_parser(
        "snapshot", help="write the live catalog to a JSON file, read-only (SELECTs only): for `import "
        "--from-snapshot` and `plan --snapshot` on a machine without credentials",
        description="Reads, with your AWS credentials and the namespace admin secret, the rows of the reconciler's "
        "catalog queries (without its ledger bootstrap), the RLS and masking policies' and identity providers' "
        "definitions, the ledger of the environment's access model if it was deployed, and the columns of every "
        "table the grants and policies name, and writes them as deterministic JSON (sorted; environment, "
        "workgroup, namespace, database and format version included; no secret: client secrets are blanked). "
        "Nothing is created, granted or recorded. Exit 0 written, 2 error.")
    snapshot.add_argument("--env", required=True, help="environment: config/<env>.yaml, whose warehouse is read")
    snapshot_source = snapshot.add_mutually_exclusive_group()
    snapshot_source.add_argument("--secret-arn", metavar="ARN",
                                 help="admin secret ARN (the warehouse stack's AdminSecretArn output)")
    snapshot_source.add_argument("--outputs", type=Path, metavar="FILE",
                                 help="`cdk deploy --outputs-file` JSON to read AdminSecretArn from")
    snapshot.add_argument("--out", required=True, type=Path, metavar="FILE", help="the JSON file to write")
    snapshot.add_argument("--force", action="store_true", help="replace --out if it exists")
    importer = commands.add_parser(
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
    importer.add_argument("--env", help="environment: config/<env>.yaml (with --from-snapshot: default the "
                          "snapshot's); its identity namespace and groups decide which roles are IdC group roles")
    import_source = importer.add_mutually_exclusive_group()
    import_source.add_argument("--secret-arn", metavar="ARN",
                               help="read the live warehouse with this admin secret (the AdminSecretArn output)")
    import_source.add_argument("--outputs", type=Path, metavar="FILE",
                               help="read the live warehouse, the admin secret's ARN from this `cdk deploy "
                                    "--outputs-file` JSON")
    import_source.add_argument("--from-snapshot", type=Path, metavar="FILE",
                               help="read the catalog from a `snapshot` file instead (offline)")
    importer.add_argument("--out", required=True, type=Path, metavar="access/NAME.yaml",
                          help="the model to write; its file name is the model's name, which the environment's "
                               "access_model: must then name")
    importer.add_argument("--force", action="store_true", help="replace --out if it exists")
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
                        help="rewrite redshift_idc/cdk/deployer_actions.json from the resource types of the templates "
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
                code = drift_command(args.env, args.secret_arn, None, strict=args.strict)
                return {DRIFT: 0, WIDENS: 1}.get(code, code)
            else:
                report = (snapshot_plan_report(config, args.snapshot) if args.snapshot is not None
                          else offline_plan_report(config))
                print(report.text, end="")
                if args.strict and report.strict_error():
                    print(report.strict_error(), file=sys.stderr)
                    return 1
        elif args.command == "preview":
            print(preview_command(load_environment(args.env), args.persona, args.format, args.strict), end="")
        elif args.command == "snapshot":
            return snapshot_command(args.env, args.secret_arn, args.outputs, args.out, force=args.force)
        elif args.command == "import":
            return import_command(args.env, args.secret_arn, args.outputs, args.from_snapshot, args.out,
                                  force=args.force)
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

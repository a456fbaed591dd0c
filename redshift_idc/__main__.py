"""`python -m redshift_idc <command>` (`cli/main.py`), or, where only the TIP client is installed, how to get it."""

import sys

# The `cdk` extra's import names (pyproject.toml): without them the command line cannot load.
CDK_EXTRA_MODULES = frozenset({"yaml", "pydantic", "pydantic_core", "aws_cdk", "constructs", "cdk_nag", "duckdb",
                               "sqlglot"})
CDK_EXTRA_HINT = ('python -m redshift_idc needs the cdk extra: pip install "redshift-idc[cdk]" (only the TIP client '
                  "is installed: python -m redshift_idc.client --help)")


def run() -> int:
    try:
        from redshift_idc.cli.main import main
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in CDK_EXTRA_MODULES:
            raise
        print(CDK_EXTRA_HINT, file=sys.stderr)
        return 2
    return main()


if __name__ == "__main__":
    sys.exit(run())

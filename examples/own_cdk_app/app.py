#!/usr/bin/env python3
"""A user's own CDK app with one Redshift IdC environment in it: `pip install "redshift-idc[cdk]"`, then
`npx cdk synth` here (cdk.json runs this file). The environment comes from config/analytics.yaml, its access
model from access/analytics.yaml; `Reporting` is the user's own stack, reading the warehouse's outputs.

The same environment from typed objects instead of the YAML:

    config = EnvironmentConfig.model_validate({"name": "analytics", "account": "222222222222", ...})
    RedshiftIdcEnvironment(app, "Analytics", config=config, project_root=Path(__file__).parent)
"""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from redshift_idc.cdk import RedshiftIdcEnvironment, WarehouseStack
from redshift_idc.config.errors import ConfigError

HERE = Path(__file__).resolve().parent


class ReportingStack(cdk.Stack):
    """The user's own: publishes where the warehouse is for the user's other applications (SSM parameters),
    with values taken from the warehouse stack (cross-stack references CDK resolves at deploy)."""

    def __init__(self, scope: Construct, construct_id: str, *, warehouse: WarehouseStack,
                 env: cdk.Environment) -> None:
        super().__init__(scope, construct_id, env=env, description="Where the analytics warehouse is")
        ssm.StringParameter(self, "WorkgroupArn", parameter_name="/analytics/redshift/workgroup-arn",
                            string_value=warehouse.workgroup.attr_workgroup_workgroup_arn)
        ssm.StringParameter(self, "WorkgroupEndpoint", parameter_name="/analytics/redshift/endpoint",
                            string_value=warehouse.workgroup.attr_workgroup_endpoint_address)


def main() -> int:
    app = cdk.App()  # CDK_OUTDIR and cdk.json's context come from the CDK CLI (or the environment)
    try:
        analytics = RedshiftIdcEnvironment.from_yaml(app, "Analytics", HERE / "config" / "analytics.yaml")
    except ConfigError as error:  # the file, the field and the fix, as `make synth` prints them
        print(error, file=sys.stderr)
        return 2
    config = analytics.config
    ReportingStack(app, "Reporting", warehouse=analytics.warehouse,
                   env=cdk.Environment(account=config.account, region=config.region))
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())

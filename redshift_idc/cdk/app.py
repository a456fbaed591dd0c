"""Builds the CDK app for one environment; `app.py` and the tests share it, so tests check what ships."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks
from constructs import Construct

from redshift_idc.access.checked import CheckedModel, checked_model
from redshift_idc.access.model_file import AccessModel
from redshift_idc.cdk.components.serverless_nag_rules import RedshiftServerlessChecks
from redshift_idc.cdk.stacks.access_stack import AccessStack
from redshift_idc.cdk.stacks.connections_stack import ConnectionsStack
from redshift_idc.cdk.stacks.identity_stack import IdentityStack
from redshift_idc.cdk.stacks.warehouse_stack import WarehouseStack
from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.errors import ConfigError

if TYPE_CHECKING:
    from redshift_idc.cdk.stacks.pipeline_stack import PipelineStack
    from redshift_idc.config.pipeline import PipelineConfig

# For a kind of stack (Warehouse, Identity, Connections, Access): its construct id and, when not derived from
# that id, its CloudFormation stack name.
StackNames = Callable[[str], tuple[str, str | None]]


def add_environment(app: Construct, config: EnvironmentConfig, *, nag: bool = True,
                    checked: CheckedModel | None = None) -> dict[str, cdk.Stack]:
    """Add every stack of one environment (to an app, or to a pipeline stage), and the rule packs that
    must pass before it deploys. `checked`: the config's access model, already checked (`app.py` checks it while
    Node builds CDK's template validator: `app_start.py`)."""
    stacks = environment_stacks(app, config, lambda kind: (f"{config.stack_prefix}{kind}", None), checked=checked)
    if nag:
        add_rule_packs(app)
    return stacks


def environment_stacks(scope: Construct, config: EnvironmentConfig, names: StackNames,
                       access_model: AccessModel | None = None, *,
                       checked: CheckedModel | None = None) -> dict[str, cdk.Stack]:
    """The stacks of one environment in `scope` (`add_environment`'s and `RedshiftIdcEnvironment`'s), keyed
    warehouse, identity, connections, access (the last three when the config asks for them). The access model
    (`config.access_model`'s file, or `access_model` as a typed object) is checked first, with the checks
    `validate` and `plan` make, so a bad model fails before any stack is built."""
    wanted = config.access_model is not None or access_model is not None
    if checked is None and wanted:
        checked = checked_model(config, given=access_model)
    construct_id, stack_name = names("Warehouse")
    warehouse = WarehouseStack(scope, construct_id, stack_name=stack_name, config=config)
    stacks: dict[str, cdk.Stack] = {"warehouse": warehouse}
    if config.identity_propagation is not None:
        construct_id, stack_name = names("Identity")
        stacks["identity"] = IdentityStack(scope, construct_id, stack_name=stack_name, config=config,
                                           propagation=config.identity_propagation, warehouse=warehouse)
    if config.query_editor_v2 is not None or config.iam_federation is not None:
        construct_id, stack_name = names("Connections")
        stacks["connections"] = ConnectionsStack(scope, construct_id, stack_name=stack_name, config=config,
                                                 warehouse=warehouse)
    if checked is not None:
        construct_id, stack_name = names("Access")
        stacks["access"] = AccessStack(scope, construct_id, stack_name=stack_name, config=config,
                                       warehouse=warehouse, checked=checked)
        for warning in checked.warnings:  # `cdk synth` prints them; the deploy goes ahead
            cdk.Annotations.of(stacks["access"]).add_warning_v2("redshift-idc:access-model", warning)
    return stacks


NAG_PACKS = ("nist",)  # optional packs, by the `nag` context (`make synth NAG=nist`)


def add_rule_packs(scope: Construct) -> None:
    """AwsSolutions and our Redshift Serverless pack always; NIST 800-53 R5 too with `-c nag=nist`."""
    cdk.Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), RedshiftServerlessChecks(scope))
    asked = {p.strip().lower() for p in str(scope.node.try_get_context("nag") or "").split(",") if p.strip()}
    unknown = sorted(asked - set(NAG_PACKS))
    if unknown:
        raise ConfigError(f"nag: unknown rule pack(s) {', '.join(unknown)}; known: {', '.join(NAG_PACKS)}")
    if "nist" in asked:
        cdk.Validations.of(scope).add_plugins(NIST80053R5Checks(scope))


def add_pipeline(app: cdk.App, pipeline: PipelineConfig) -> PipelineStack:
    """The delivery pipeline with every environment it deploys, checked by the same rule packs. Imported here: an
    environment's synth (`make synth`) needs none of CDK Pipelines nor what the pipeline's verify step reads."""
    from redshift_idc.cdk.stacks.pipeline_stack import PipelineStack

    environments = [load_environment(stage.environment) for stage in pipeline.stages]
    stack = PipelineStack(app, "RedshiftIdcPipeline", pipeline=pipeline, environments=environments,
                          add_environment=lambda scope, config: add_environment(scope, config, nag=False))
    add_rule_packs(app)
    return stack

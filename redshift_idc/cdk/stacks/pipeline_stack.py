"""Optional delivery pipeline (CDK Pipelines): tests, synth, the access-model plan, then one stage per
environment in order, with a manual approval where `pipeline.yaml` asks for one."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence

from aws_cdk import CfnOutput, Environment, Stack, Stage, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from constructs import Construct

from redshift_idc.cdk.components.nag import acknowledge_generated_findings, acknowledge_star_resources
from redshift_idc.cdk.components.verifier_role import fixed_role_name, role_arn
from redshift_idc.cdk.stacks.identity_stack import IdentityStack
from redshift_idc.cdk.stacks.verifier_stack import VerifierStack
from redshift_idc.cdk.stacks.warehouse_stack import WarehouseStack
from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.config.pipeline import PipelineConfig
from redshift_idc.deployed.session import output_env_var
from redshift_idc.deployed.verify.deployment import required_outputs

# Findings on what CDK Pipelines generates, each with why it is acceptable. Anything else fails synth.
PIPELINE_FINDINGS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"AwsSolutions-IAM5\[Action::(s3:(Abort|DeleteObject|GetBucket|GetObject|List)|"
                r"kms:(GenerateDataKey|ReEncrypt))\*\]"),
     "CDK Pipelines' grant on the pipeline's own artifact bucket and its KMS key (action groups CDK chooses); "
     "the resources are that bucket and that key only."),
    (re.compile(r"AwsSolutions-IAM5\[Resource::<PipelineArtifactsBucket\w+\.Arn>/\*\]"),
     "Objects of the pipeline's own artifact bucket: artifacts have generated keys."),
    (re.compile(r"AwsSolutions-IAM5\[Resource::arn:aws:codebuild:[a-z0-9-]+:\d{12}:report-group/[^\]]*\]"),
     "CodeBuild report groups named after the generated build projects (CDK's grant)."),
    (re.compile(r"AwsSolutions-IAM5\[Resource::arn:aws:logs:[a-z0-9-]+:\d{12}:log-group:/aws/codebuild/[^\]]*\]"),
     "CodeBuild log groups named after the generated build projects (CDK's grant)."),
    (re.compile(r"AwsSolutions-IAM5\[Resource::arn:\*:iam::\d{12}:role/\*\]"),
     "Self-mutation assumes only the CDK bootstrap roles, selected by the aws-cdk:bootstrap-role tag condition."),
    (re.compile(r"AwsSolutions-S1"),
     "The artifact bucket holds only build artifacts, encrypted with the pipeline's KMS key and private; "
     "an access-log bucket would need its own log bucket in turn."),
)


# The `Resource: "*"` grants CDK Pipelines generates, per construct path and action, each with why it stays: CDK
# offers no way to narrow them (a narrower statement can be added, never one taken away), so each reason says
# what narrowing would need. Any other `*` fails synth (redshift_idc.cdk.components.nag.acknowledge_star_resources).
SELF_MUTATION = "Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy"
FILE_ASSETS = "Pipeline/Assets/FileRole/DefaultPolicy"
PIPELINE_STAR_GRANTS: dict[tuple[str, str], str] = {
    (SELF_MUTATION, "cloudformation:DescribeStacks"):
        "the CDK CLI in the self-mutation build reads the bootstrap stack of each target account and region "
        "(CDKToolkit, or a renamed one) before assuming its roles; CDK Pipelines does not know those stack ARNs",
    (SELF_MUTATION, "s3:ListBucket"):
        "the CLI lists the target environments' bootstrap asset buckets, whose names it learns only from those "
        "stacks at run time; reading and writing objects goes through the bootstrap roles",
    (FILE_ASSETS, "codebuild:BatchGetBuilds"):
        "the asset-publishing project's own role: naming that project's ARN here would make the project and its "
        "role depend on each other, which CloudFormation cannot create (CDK leaves it at *)",
    (FILE_ASSETS, "codebuild:StartBuild"): "as codebuild:BatchGetBuilds, the asset project's own role",
    (FILE_ASSETS, "codebuild:StopBuild"): "as codebuild:BatchGetBuilds, the asset project's own role",
}


# Adds one environment's stacks to a scope: `redshift_idc.cdk.app.add_environment`, passed in so the
# stages hold exactly what `make synth ENV=<name>` builds.
AddEnvironment = Callable[[Construct, EnvironmentConfig], Mapping[str, Stack]]
# The profile the verify step's commands give the AWS SDK: it assumes the environment's verifier role with the
# CodeBuild container's credentials.
VERIFY_PROFILE = "verify"


class EnvironmentStage(Stage):
    """One environment's stacks, as `make synth` builds them, plus the read-only role the verify step assumes
    in the environment's account (trusted only by that step's role in the pipeline's account)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig,
                 add_environment: AddEnvironment, verify_role_arn: str) -> None:
        super().__init__(scope, construct_id, env=Environment(account=config.account, region=config.region))
        stacks = add_environment(self, config)
        warehouse, identity = stacks["warehouse"], stacks.get("identity")
        assert isinstance(warehouse, WarehouseStack) and (identity is None or isinstance(identity, IdentityStack))
        self.environment_stacks = {stack.node.id: stack for stack in stacks.values()}
        self.verifier = VerifierStack(self, f"{config.stack_prefix}Verifier", config=config, warehouse=warehouse,
                                      identity=identity, trusted_role_arn=verify_role_arn)

    def output(self, stack_id: str, key: str) -> CfnOutput:
        found = self.environment_stacks[stack_id].node.find_child(key)
        assert isinstance(found, CfnOutput), (stack_id, key)
        return found


class PipelineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, pipeline: PipelineConfig,
                 environments: Sequence[EnvironmentConfig], add_environment: AddEnvironment) -> None:
        super().__init__(scope, construct_id, env=Environment(account=pipeline.account, region=pipeline.region),
                         description="Self-mutating delivery pipeline of the Redshift IdC warehouse environments")
        source = pipelines.CodePipelineSource.connection(pipeline.repository, pipeline.branch,
                                                         connection_arn=pipeline.connection_arn)
        plan_commands = [f"make plan ENV={env.name} > plans/{env.name}.sql" for env in environments
                         if env.access_model is not None]
        synth = pipelines.ShellStep(
            "Synth",
            input=source,
            commands=["make test", "make pipeline-synth", "mkdir -p plans", *plan_commands,
                      "cat plans/*.sql 2>/dev/null || true"],
            primary_output_directory="cdk.out",
        )
        self.plans = synth.add_output_directory("plans")
        self.pipeline = pipelines.CodePipeline(
            self, "Pipeline", synth=synth, self_mutation=True, cross_account_keys=True, enable_key_rotation=True,
            docker_enabled_for_synth=False, publish_assets_in_parallel=False,
            pipeline_type=codepipeline.PipelineType.V2,
            code_build_defaults=pipelines.CodeBuildOptions(
                # Ubuntu 24.04 image: Node 22 (jsii ended support for Node 20) and Python 3.12+.
                build_environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_8_0)),
        )
        by_name = {env.name: env for env in environments}
        for stage in pipeline.stages:
            env = by_name[stage.environment]
            pre: list[pipelines.Step] = []
            if stage.approval:
                approval = pipelines.ManualApprovalStep(
                    f"Approve-{env.name}",
                    comment=(f"Deploys environment {env.name} ({env.account}/{env.region}). Read the access-model "
                             f"plan first: the Plan-{env.name} action's log just before this approval."),
                )
                if env.access_model is not None:
                    # Print the plan (an artifact of the synth step) right before the approval that depends on it.
                    show = pipelines.ShellStep(f"Plan-{env.name}", input=self.plans,
                                               commands=[f"cat {env.name}.sql"])
                    approval.add_step_dependency(show)
                    pre.append(show)
                pre.append(approval)
            verify_role_name = fixed_role_name(self.stack_name, f"Verify-{env.name}")
            deployment = EnvironmentStage(
                self, env.stack_prefix, config=env, add_environment=add_environment,
                verify_role_arn=role_arn(env.identity_center.partition, pipeline.account, verify_role_name))
            verify_role = iam.Role(
                self.pipeline, f"VerifyRole-{env.name}", role_name=verify_role_name,
                assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
                description=f"The Verify-{env.name} step: may only assume environment {env.name}'s verifier role",
            )
            verify_role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"],
                                                          resources=[deployment.verifier.role_arn]))
            self.pipeline.add_stage(deployment, pre=pre, post=[
                self._verify_step(env, deployment, source, verify_role, deployment.verifier.role_arn)])
        self.pipeline.build_pipeline()  # now, so its generated roles exist to be checked below
        self.acknowledged = [*acknowledge_generated_findings(self.pipeline, PIPELINE_FINDINGS),
                             *(f"AwsSolutions-IAM5[Resource::*] @ {line}"
                               for line in acknowledge_star_resources(self.pipeline, PIPELINE_STAR_GRANTS))]

    @staticmethod
    def _verify_step(env: EnvironmentConfig, deployment: EnvironmentStage, source: pipelines.IFileSetProducer,
                     role: iam.IRole, verifier_arn: str) -> pipelines.CodeBuildStep:
        """After the stage's stacks: `python -m redshift_idc verify` from the repository, with the stage's
        outputs as CDK_OUTPUT__* variables, as the environment's read-only verifier role; a failed check fails
        the stage."""
        return pipelines.CodeBuildStep(
            f"Verify-{env.name}", input=source, role=role,
            env_from_cfn_outputs={output_env_var(stack, key): deployment.output(stack, key)
                                  for stack, key in required_outputs(env)},
            commands=[
                "make .venv/.installed",
                f"aws configure set role_arn {shlex.quote(verifier_arn)} --profile {VERIFY_PROFILE}",
                f"aws configure set credential_source EcsContainer --profile {VERIFY_PROFILE}",
                f"AWS_PROFILE={VERIFY_PROFILE} .venv/bin/python -m redshift_idc verify --env {shlex.quote(env.name)} "
                "--outputs-from-env",
            ],
        )

"""The CloudFormation execution policy `make bootstrap` installs in place of CDK's default AdministratorAccess.

CloudFormation deploys our stacks with the bootstrap's execution role, so that role needs what each resource
type's handlers call, nothing else. The registry schema of each type lists exactly that (`handlers.create/
read/update/delete.permissions`); cfn-lint ships those schemas, pinned in `requirements.lock`.
`deployer_actions.json` beside this module holds them for the resource types our templates use, filtered to
real IAM actions, so bootstrap needs no cfn-lint and a reviewer sees every action in one reviewed file;
`make deployer-actions` rewrites it, and a test checks it against the schemas and every synthesized template.

Resources are scoped where CloudFormation's names are predictable: IAM roles and Lambda functions to the names
CloudFormation generates for our stacks (`<stack name>-<logical id>-<suffix>`, plus roles a config names),
every regional service to the environment's region (`aws:RequestedRegion`). Managed policies hold at most
6,144 characters, so the statements are packed into as few policies as fit (CDK's bootstrap takes several).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.exceptions import ClientError, NoCredentialsError

from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.pipeline import PIPELINE_FILE, PipelineConfig, load_pipeline
from redshift_idc.config.yaml_files import available_environments
from redshift_idc.deployed.session import no_credentials

ACTIONS_FILE = Path(__file__).with_name("deployer_actions.json")
STACK_KINDS = ("Warehouse", "Identity", "Connections", "Access")
STAGE_ONLY_KINDS = ("Verifier",)  # a pipeline stage also deploys the role its Verify step assumes
PIPELINE_STACK = "RedshiftIdcPipeline"
MANAGED_POLICY_CHARS = 6144  # IAM counts characters without whitespace
# Types whose registry schema lists no handler permissions (CloudFormation's older, non-registry handlers),
# with what their API calls need, from the service authorization reference.
UNLISTED_HANDLERS: dict[str, tuple[str, ...]] = {
    "AWS::CodeBuild::Project": ("codebuild:BatchGetProjects", "codebuild:CreateProject", "codebuild:DeleteProject",
                                "codebuild:UpdateProject", "iam:PassRole"),
}
# CloudFormation calls a custom resource's service token (a Lambda function of the same stack) with the role.
CUSTOM_RESOURCE_ACTIONS = ("lambda:InvokeFunction",)
NO_PERMISSION_TYPES = ("AWS::CDK::Metadata",)  # CDK's analytics resource: CloudFormation calls nothing
# IAM actions that act on a service-linked role (the service creates it on first use, with the caller's rights).
SERVICE_LINKED_ROLE_ACTIONS = ("iam:CreateServiceLinkedRole",)


def regenerate(resource_types: Iterable[str]) -> dict[str, list[str]]:
    """Handler permissions per resource type from cfn-lint's registry schemas (us-east-1, where every type
    exists), keeping only actions IAM knows; `Custom::*` and CDK's metadata have fixed entries."""
    import cfnlint  # a test and tooling dependency only: bootstrap reads the written file

    data = Path(cfnlint.__file__).parent / "data"
    providers = json.loads((data / "schemas" / "providers" / "us-east-1.json").read_text(encoding="utf-8"))
    known = json.loads((data / "AdditionalSpecs" / "Policies.json").read_text(encoding="utf-8"))

    def is_iam_action(action: str) -> bool:
        service, _, name = action.partition(":")
        return name.lower() in known.get(service, {}).get("Actions", {})

    result: dict[str, list[str]] = {}
    for resource_type in sorted(set(resource_types)):
        if resource_type == "Custom::*":
            result[resource_type] = list(CUSTOM_RESOURCE_ACTIONS)
            continue
        if resource_type in NO_PERMISSION_TYPES:
            result[resource_type] = []
            continue
        schema = json.loads((data / "schemas" / "resources" / f"{providers[resource_type]}.json")
                            .read_text(encoding="utf-8"))
        handlers = schema.get("handlers", {})
        actions = {a for handler in ("create", "read", "update", "delete")
                   for a in handlers.get(handler, {}).get("permissions", [])}
        actions |= set(UNLISTED_HANDLERS.get(resource_type, ()))
        result[resource_type] = sorted(a for a in actions if is_iam_action(a))
    return result


def deployer_actions() -> dict[str, list[str]]:
    actions: dict[str, list[str]] = json.loads(ACTIONS_FILE.read_text(encoding="utf-8"))["types"]
    return actions


def write_actions(resource_types: Iterable[str]) -> None:
    body = {"source": "CloudFormation registry schemas' handler permissions (cfn-lint's copy, pinned in "
                      "requirements.lock), real IAM actions only; rewrite with `make deployer-actions`",
            "types": regenerate(resource_types)}
    ACTIONS_FILE.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def write_actions_from(directory: Path) -> str:
    """Rewrite the actions file for the resource types of every template under `directory` (the assemblies
    `make deployer-actions` synthesizes) and those it already lists; says what changed."""
    before = deployer_actions()
    found = {r["Type"] for path in sorted(directory.rglob("*.template.json"))
             for r in json.loads(path.read_text(encoding="utf-8")).get("Resources", {}).values()}
    types = {("Custom::*" if t.startswith("Custom::") else t) for t in found} | set(before)
    write_actions(types)
    added = sorted(set(deployer_actions()) - set(before))
    return f"{ACTIONS_FILE.name}: {len(types)} resource types" + (f", added {', '.join(added)}" if added else "")


def covers(resource_type: str, actions: Mapping[str, Sequence[str]]) -> bool:
    return resource_type in actions or (resource_type.startswith("Custom::") and "Custom::*" in actions)


def uncovered_types(templates: Iterable[Mapping[str, Any]]) -> list[str]:
    """Resource types of these templates the execution policy has no entry for (add them: make deployer-actions)."""
    actions = deployer_actions()
    found = {r["Type"] for template in templates for r in template.get("Resources", {}).values()}
    return sorted(t for t in found if not covers(t, actions))


@dataclass(frozen=True)
class Target:
    """One bootstrapped account and region, and the stacks CloudFormation deploys there."""

    partition: str
    account: str
    region: str
    stack_names: tuple[str, ...]
    named_roles: tuple[str, ...]

    @property
    def policy_name_prefix(self) -> str:
        return f"redshift-idc-cfn-exec-{self.region}"


def target_for(env: EnvironmentConfig, environments: Sequence[EnvironmentConfig],
               pipeline: PipelineConfig | None) -> Target:
    """Every environment of the repository deploying to env's account and region shares its bootstrap, directly
    (`make deploy`) and through the pipeline's stages (`<Stage>-<Stack>`); so does the pipeline's own stack."""
    same = [e for e in environments if (e.account, e.region) == (env.account, env.region)]
    if env.name not in {e.name for e in same}:
        same.append(env)
    stages = {s.environment for s in pipeline.stages} if pipeline else set()
    names: set[str] = set()
    roles: set[str] = set()
    for e in same:
        stacks = [f"{e.stack_prefix}{kind}" for kind in STACK_KINDS]
        names.update(stacks)
        if e.name in stages:
            stage_stacks = [*stacks, *(f"{e.stack_prefix}{kind}" for kind in STAGE_ONLY_KINDS)]
            names.update(f"{e.stack_prefix}-{s}" for s in stage_stacks)
        if e.iam_federation is not None and e.iam_federation.role_name is not None:
            roles.add(e.iam_federation.role_name)
    if pipeline is not None and (pipeline.account, pipeline.region) == (env.account, env.region):
        names.add(PIPELINE_STACK)
    return Target(env.identity_center.partition, env.account, env.region, tuple(sorted(names)), tuple(sorted(roles)))


def pipeline_target(pipeline: PipelineConfig, environments: Sequence[EnvironmentConfig]) -> Target:
    """The tooling account's bootstrap: the pipeline's own stack, and any environment deploying there too."""
    here = [e for e in environments if (e.account, e.region) == (pipeline.account, pipeline.region)]
    if here:
        return target_for(here[0], environments, pipeline)
    partition = environments[0].identity_center.partition if environments else "aws"
    return Target(partition, pipeline.account, pipeline.region, (PIPELINE_STACK,), ())


def _statements(target: Target, actions: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    by_service: dict[str, set[str]] = {}
    for type_actions in actions.values():
        for action in type_actions:
            by_service.setdefault(action.split(":", 1)[0], set()).add(action)
    arn = f"arn:{target.partition}"
    iam = by_service.pop("iam", set())
    linked = iam & set(SERVICE_LINKED_ROLE_ACTIONS)
    roles = [f"{arn}:iam::{target.account}:role/{name}-*" for name in target.stack_names]
    roles += [f"{arn}:iam::{target.account}:role/{name}" for name in target.named_roles]
    statements: list[dict[str, Any]] = [{
        "Sid": "IamOfTheseStacks",
        "Effect": "Allow",
        "Action": sorted(iam - linked),
        "Resource": [*roles, f"{arn}:iam::{target.account}:oidc-provider/*",
                     f"{arn}:iam::{target.account}:saml-provider/*"],
    }]
    if linked:
        statements.append({"Sid": "ServiceLinkedRoles", "Effect": "Allow", "Action": sorted(linked),
                           "Resource": f"{arn}:iam::{target.account}:role/aws-service-role/*"})
    lambda_actions = by_service.pop("lambda", set())
    invoke = lambda_actions & set(CUSTOM_RESOURCE_ACTIONS)
    functions = [f"{arn}:lambda:{target.region}:{target.account}:function:{name}-*" for name in target.stack_names]
    statements.append({"Sid": "LambdaOfTheseStacks", "Effect": "Allow", "Action": sorted(lambda_actions | invoke),
                       "Resource": functions})
    # CDK's templates read the bootstrap version from SSM (the BootstrapVersion parameter), as the role.
    statements.append({"Sid": "CdkBootstrapVersion", "Effect": "Allow", "Action": ["ssm:GetParameters"],
                       "Resource": f"{arn}:ssm:{target.region}:{target.account}:parameter/cdk-bootstrap/*"})
    region = {"StringEquals": {"aws:RequestedRegion": target.region}}
    for service in sorted(by_service):
        statements.append({"Sid": "".join(p.capitalize() for p in service.split("-")) + "InRegion",
                           "Effect": "Allow", "Action": sorted(by_service[service]), "Resource": "*",
                           "Condition": region})
    return statements


def _size(document: Mapping[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def policy_documents(target: Target, actions: Mapping[str, Sequence[str]] | None = None) -> list[dict[str, Any]]:
    """The statements packed in order into as few managed policies as fit IAM's size limit."""
    documents: list[dict[str, Any]] = []
    for statement in _statements(target, actions if actions is not None else deployer_actions()):
        if documents and _size({**documents[-1], "Statement": [*documents[-1]["Statement"], statement]}) \
                <= MANAGED_POLICY_CHARS:
            documents[-1]["Statement"].append(statement)
            continue
        document = {"Version": "2012-10-17", "Statement": [statement]}
        if _size(document) > MANAGED_POLICY_CHARS:
            raise ValueError(f"statement {statement['Sid']} alone exceeds IAM's {MANAGED_POLICY_CHARS}-character "
                             "managed policy limit")
        documents.append(document)
    return documents


def policy_names(target: Target, count: int) -> list[str]:
    return [f"{target.policy_name_prefix}-{index + 1}" for index in range(count)]


def _document_text(document: Mapping[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def _same_document(current: Any, wanted: Mapping[str, Any]) -> bool:
    """IAM returns a version's document URL-encoded JSON (boto3 decodes it to a dict)."""
    if isinstance(current, str):
        current = json.loads(unquote(current))
    return bool(_document_text(current) == _document_text(wanted))


MAX_POLICY_VERSIONS = 5


def apply(iam: Any, target: Target, documents: Sequence[Mapping[str, Any]]) -> list[str]:
    """Create each managed policy, or give it a new default version when its document changed; returns the
    ARNs in order. Idempotent: an unchanged policy gets no new version. At IAM's five versions, the oldest
    non-default one is deleted first."""
    arns: list[str] = []
    for name, document in zip(policy_names(target, len(documents)), documents, strict=True):
        arn = f"arn:{target.partition}:iam::{target.account}:policy/{name}"
        try:
            policy = iam.get_policy(PolicyArn=arn)["Policy"]
        except iam.exceptions.NoSuchEntityException:
            iam.create_policy(PolicyName=name, PolicyDocument=_document_text(document),
                              Description="CloudFormation execution policy for the redshift-idc stacks "
                                          "(python -m redshift_idc deployer-policy)")
            arns.append(arn)
            continue
        current = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        if not _same_document(current["Document"], document):
            versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
            if len(versions) >= MAX_POLICY_VERSIONS:
                oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
                iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=_document_text(document), SetAsDefault=True)
        arns.append(arn)
    return arns


def deployer_policy_command(env_name: str | None, *, pipeline: bool, apply_policies: bool,
                            iam: Any = None) -> int:
    """Print the policies for review, or (`--apply`) create/update them and print their ARNs comma-separated,
    the form `cdk bootstrap --cloudformation-execution-policies` takes."""
    environments = [load_environment(name) for name in available_environments()]
    pipeline_config = load_pipeline() if PIPELINE_FILE.exists() else None
    if pipeline:
        if pipeline_config is None:
            raise DeployerPolicyError(f"{PIPELINE_FILE.name} not found: --pipeline renders the tooling account's "
                                      "policy from it")
        target = pipeline_target(pipeline_config, environments)
    else:
        target = target_for(load_environment(env_name or "demo"), environments, pipeline_config)
    documents = policy_documents(target)
    if not apply_policies:
        names = policy_names(target, len(documents))
        print(json.dumps({"account": target.account, "region": target.region, "stacks": list(target.stack_names),
                          "policies": dict(zip(names, documents, strict=True))}, indent=1))
        return 0
    if iam is None:
        iam = boto3.client("iam")
    try:
        print(",".join(apply(iam, target, documents)))
    except NoCredentialsError:
        needs = (f"creating the execution policies in account {target.account} needs iam:GetPolicy, "
                 "CreatePolicy and CreatePolicyVersion")
        raise DeployerPolicyError(no_credentials(needs)) from None
    except ClientError as error:
        err = error.response.get("Error", {})
        raise DeployerPolicyError(f"could not create the execution policies in account {target.account}: "
                                  f"{err.get('Code')}: {err.get('Message')}") from None
    return 0


class DeployerPolicyError(Exception):
    """Why the execution policies could not be rendered or applied, for the person running bootstrap."""

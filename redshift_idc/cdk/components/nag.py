"""cdk-nag acknowledgements, always next to the resource they concern and with a specific reason."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import custom_resources as cr
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

CFN_VALIDATE = "CloudFormation-Validate"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one finding (`AwsSolutions-IAM5[Resource::...]` style ids) on one construct.

    The pack prefix is derived from the rule id so callers write the id the report prints:
    `AwsSolutions-L1` -> `AwsSolutions::AwsSolutions-L1`; CDK's own template checks are written
    `CloudFormation-Validate-W3010` -> `CloudFormation-Validate::W3010`.
    """
    if rule.startswith(CFN_VALIDATE):
        full = f"{CFN_VALIDATE}::{rule.removeprefix(CFN_VALIDATE + '-')}"
    else:
        full = f"{rule.split('-', 1)[0]}::{rule}"
    Validations.of(construct).acknowledge(Acknowledgment(id=full, reason=reason))


# NIST 800-53 R5 (`make synth NAG=nist`): the findings every custom-resource Lambda and role of ours has, with why.
NIST_INLINE_POLICY = (
    "NIST.800.53.R5-IAMNoInlinePolicy",
    "CDK's DefaultPolicy of this one role: created, changed and deleted with the role and attached to nothing "
    "else; a customer managed policy would be a second, reusable object with the same statements to govern.")
NIST_CUSTOM_RESOURCE_LAMBDA = (
    ("NIST.800.53.R5-LambdaConcurrency",
     "A custom-resource handler that runs only while CloudFormation deploys this stack, one request at a time; "
     "reserved concurrency would take from the account's unreserved pool, and an account at the minimum "
     "(10) cannot reserve any, so the deploy itself would fail."),
    ("NIST.800.53.R5-LambdaDLQ",
     "A custom-resource handler: CloudFormation (through CDK's Provider framework) waits for its answer and "
     "fails the deploy with the error when none comes; a dead-letter queue would hold events nobody replays."),
    ("NIST.800.53.R5-LambdaInsideVPC",
     "Calls only AWS service APIs (Redshift Data API, IAM Identity Center, S3, Secrets Manager) over TLS with "
     "IAM authentication and never connects to the warehouse's network, whose isolated subnets have no NAT "
     "and no interface endpoints for those services."),
)


def acknowledge_nist_role(role: IConstruct) -> None:
    """The role's DefaultPolicy (acknowledged on the role, so a policy CDK adds later is covered)."""
    acknowledge(role, *NIST_INLINE_POLICY)


def acknowledge_nist_custom_resource_function(function: IConstruct) -> None:
    for rule, reason in NIST_CUSTOM_RESOURCE_LAMBDA:
        acknowledge(function, rule, reason)


def acknowledge_provider_framework(provider: cr.Provider) -> None:
    """CDK's Provider framework brings its own functions, roles and (with is-complete) a state machine.
    Their findings are acknowledged on them, each with its reason; the `function ARN:*` wildcards are
    read from the synthesized policy documents, so only findings that exist are acknowledged."""
    stack = Stack.of(provider)
    for child in provider.node.children:
        if isinstance(child, lambda_.Function):
            acknowledge_nist_custom_resource_function(child)
        for role_id in ("ServiceRole", "Role"):
            role = child.node.try_find_child(role_id)
            if role is None:
                continue
            acknowledge_nist_role(role)
            if role_id == "ServiceRole":
                acknowledge(role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                            "AWSLambdaBasicExecutionRole]",
                            "CDK's Provider framework role; the managed policy only lets it write its own logs.")
            policy = role.node.try_find_child("DefaultPolicy")
            if isinstance(policy, iam.Policy):
                for logical_id in _qualified_function_arns(stack.resolve(policy.document.to_json())):
                    acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
                                "The Provider framework invokes this function by version or alias qualifier "
                                "(CDK's own grant, limited to that one function).")


def _qualified_function_arns(document: Any) -> list[str]:
    """Logical ids X in `{"Fn::Join": ["", [{"Fn::GetAtt": [X, "Arn"]}, ":*"]]}` within a policy document."""
    found: list[str] = []
    if isinstance(document, dict):
        join = document.get("Fn::Join")
        if isinstance(join, list) and len(join) == 2 and isinstance(join[1], list) and len(join[1]) == 2:
            first, second = join[1]
            if second == ":*" and isinstance(first, dict) and "Fn::GetAtt" in first:
                found.append(str(first["Fn::GetAtt"][0]))
        for value in document.values():
            found += _qualified_function_arns(value)
    elif isinstance(document, list):
        for value in document:
            found += _qualified_function_arns(value)
    return sorted(set(found))


def acknowledge_generated_findings(scope: IConstruct, known: Sequence[tuple[re.Pattern[str], str]]) -> list[str]:
    """Acknowledge the AwsSolutions findings of constructs a library generated under `scope` (CDK
    Pipelines builds dozens of roles we never write), each only if its rule id matches a pattern in
    `known`, with that pattern's reason. A finding no pattern explains stays, so synth fails on it.
    Returns the acknowledged `rule @ path` lines (for tests)."""
    by_path = {c.node.path: c for c in scope.node.find_all()}
    report = AwsSolutionsChecks().validate_scope(scope)
    done: list[str] = []
    for violation in report.violations:
        reason = next((why for pattern, why in known if pattern.fullmatch(violation.rule_name)), None)
        if reason is None:
            continue
        for resource in violation.violating_resources:
            construct = by_path.get(resource.construct_path or "")
            if construct is not None:
                acknowledge(construct, violation.rule_name, reason)
                done.append(f"{violation.rule_name} @ {resource.construct_path}")
    return sorted(done)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def star_resource_actions(document: Any) -> list[str]:
    """The actions a policy document grants on `Resource: "*"`, sorted."""
    return sorted({str(action) for statement in _as_list(document.get("Statement", []))
                   if "*" in _as_list(statement.get("Resource")) for action in _as_list(statement.get("Action"))})


def acknowledge_star_resources(scope: IConstruct, allowed: Mapping[tuple[str, str], str]) -> list[str]:
    """`AwsSolutions-IAM5[Resource::*]` on policies a library generated under `scope`, acknowledged per
    construct path and action: a policy is acknowledged only when every action it grants on `*` is listed
    for its path (relative to the stack) in `allowed`, and the reason names each action's own reason. Any
    other `*` stays a finding, so synth fails on it. Returns `path: actions` lines (for tests)."""
    stack = Stack.of(scope)
    done: list[str] = []
    for construct in scope.node.find_all():
        if not isinstance(construct, iam.Policy):
            continue
        actions = star_resource_actions(stack.resolve(construct.document.to_json()))
        path = construct.node.path.removeprefix(stack.node.path + "/")
        if not actions or any((path, action) not in allowed for action in actions):
            continue
        acknowledge(construct, "AwsSolutions-IAM5[Resource::*]",
                    "; ".join(f"{action}: {allowed[(path, action)]}" for action in actions))
        done.append(f"{construct.node.path}: {', '.join(actions)}")
    return sorted(done)

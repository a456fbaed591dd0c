"""cdk-nag acknowledgements, always next to the resource they concern and with a specific reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
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

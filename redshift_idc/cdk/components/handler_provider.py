"""A Python handler from `redshift_idc/cdk/handlers/<name>/` behind CDK's Provider framework: the one way this project
builds a custom resource's Lambda, role, encrypted log groups and provider."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from redshift_idc.cdk.components.lambda_asset import handler_code, lambda_runtime
from redshift_idc.cdk.components.nag import (
    acknowledge,
    acknowledge_nist_custom_resource_function,
    acknowledge_nist_role,
    acknowledge_provider_framework,
)


@dataclass
class HandlerProvider:
    role: iam.Role
    on_event: lambda_.Function
    is_complete: lambda_.Function | None
    provider: cr.Provider

    @property
    def service_token(self) -> str:
        return self.provider.service_token


@dataclass(frozen=True)
class Polling:
    """How the Provider framework drives `index.is_complete`: the Lambda's timeout, the pause between
    calls, and the waiter's total (attempt) budget, in seconds (CDK durations only where they are used: making one is
    a call into jsii, which importing a module must not make, `redshift_idc/cdk/app_start.py`)."""

    is_complete_timeout: int
    query_interval: int
    total_timeout: int
    on_event_timeout: int


def handler_provider(scope: Construct, *, handler: str, description: str, key: kms.IKey,
                     log_retention: logs.RetentionDays, prefix: str = "", memory_size: int = 256,
                     on_event_id: str = "Function", is_complete_id: str | None = None,
                     timeout: Duration | None = None, polling: Polling | None = None) -> HandlerProvider:
    """Creates, directly under `scope`, `<prefix>Logs`, `<prefix>Role` (may write those logs; the caller
    adds what the handler needs), the function(s) and `<prefix>Provider` with `<prefix>ProviderLogs`, all
    logs encrypted with the project key. With `is_complete_id` and `polling`, the provider polls
    `index.is_complete` (no Lambda then waits for long work); CDK's waiter state machine findings are
    acknowledged."""
    if (is_complete_id is None) != (polling is None):
        raise ValueError("is_complete_id and polling go together")
    log_group = logs.LogGroup(scope, f"{prefix}Logs", encryption_key=key, retention=log_retention,
                              removal_policy=RemovalPolicy.DESTROY)
    role = iam.Role(scope, f"{prefix}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                    description=description)
    log_group.grant_write(role)
    code = handler_code(handler)

    def function(construct_id: str, entry_point: str, function_timeout: Duration) -> lambda_.Function:
        return lambda_.Function(
            scope, construct_id, runtime=lambda_runtime(), handler=f"index.{entry_point}", code=code, role=role,
            timeout=function_timeout, memory_size=memory_size, log_group=log_group,
            description=f"{description} ({entry_point})",
        )

    on_event = function(f"{prefix}{on_event_id}", "on_event",
                        Duration.seconds(polling.on_event_timeout) if polling else (timeout or Duration.minutes(2)))
    is_complete = (function(f"{prefix}{is_complete_id}", "is_complete", Duration.seconds(polling.is_complete_timeout))
                   if is_complete_id and polling else None)
    framework_logs = logs.LogGroup(scope, f"{prefix}ProviderLogs", encryption_key=key, retention=log_retention,
                                   removal_policy=RemovalPolicy.DESTROY)
    if is_complete is None or polling is None:
        provider = cr.Provider(scope, f"{prefix}Provider", on_event_handler=on_event, log_group=framework_logs)
    else:
        provider = cr.Provider(
            scope, f"{prefix}Provider", on_event_handler=on_event, is_complete_handler=is_complete,
            query_interval=Duration.seconds(polling.query_interval),
            total_timeout=Duration.seconds(polling.total_timeout), log_group=framework_logs,
            # Logging the waiter to CloudWatch would make CDK grant logs:PutResourcePolicy and the log
            # delivery actions on "*"; Step Functions keeps the execution history, the handlers log the detail.
            disable_waiter_state_machine_logging=True,
        )
        state_machine = provider.node.find_child("waiter-state-machine")
        acknowledge(state_machine, "AwsSolutions-SF1",
                    "CDK's Provider waiter only polls our is-complete handler: Step Functions keeps its execution "
                    "history and the handlers log every step to the encrypted log group; CloudWatch logging would "
                    "need logs:PutResourcePolicy and log-delivery actions on Resource '*'.")
        acknowledge(state_machine, "AwsSolutions-SF2",
                    "CDK's Provider waiter only polls our is-complete handler; the handlers' logs hold every step, "
                    "so X-Ray traces of the polling loop would add nothing to debug with.")
    acknowledge_provider_framework(provider)
    acknowledge_nist_role(role)
    for handler_function in (on_event, is_complete):
        if handler_function is not None:
            acknowledge_nist_custom_resource_function(handler_function)
    return HandlerProvider(role, on_event, is_complete, provider)

"""Reading a deployed environment with the caller's credentials: the deploy's stack outputs, the admin
secret's ARN, and AWS errors worded for whoever runs the command.

`drift` and `verify` both look at what a deploy left behind, so they read the outputs, check the secret ARN
and explain missing credentials one way, here. The outputs come from a `cdk deploy --outputs-file` JSON
(`make deploy ENV=<env> OUTPUTS=cdk-outputs.json`) or, in the delivery pipeline, from environment variables
named `CDK_OUTPUT__<stack>__<output>`, which CDK Pipelines fills from the stage's CloudFormation outputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from redshift_idc.config.environment import EnvironmentConfig

ADMIN_SECRET_OUTPUT = "AdminSecretArn"  # noqa: S105 -- the name of an output holding an ARN
OUTPUTS_ENV_PREFIX = "CDK_OUTPUT__"
SECRET_ARN = re.compile(r"^arn:aws(-[a-z]+)*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@!-]+$")
CREDENTIALS_HELP = ("sign in with `aws sso login --profile <profile>` and set AWS_PROFILE, or set "
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)")
# Error codes AWS services use for "the caller may not do this" (sso-admin, identitystore and the Data API
# say AccessDeniedException, STS and IAM AccessDenied, some older APIs UnauthorizedOperation).
ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation",
                                 "UnauthorizedException"})


class LiveError(Exception):
    """A problem reading the deployed environment's coordinates, worded for the person running the command."""


def output_env_var(stack: str, key: str) -> str:
    """The environment variable that carries output `key` of `stack` (the pipeline sets it): CodeBuild
    variable names take letters, digits and underscores, which stack ids and output keys are made of."""
    return f"{OUTPUTS_ENV_PREFIX}{stack}__{key}"


@dataclass(frozen=True)
class Outputs:
    """Stack outputs by stack id (`DevWarehouse`) and output key, and where they came from (for messages)."""

    source: str
    stacks: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    hint: str = ""
    container: str = "the file"  # where the stacks listed in a message were found

    def get(self, stack: str, key: str) -> str | None:
        value = self.stacks.get(stack, {}).get(key)
        return value or None

    def missing(self, stack: str, key: str) -> str:
        """Why `stack.key` is not available, naming the stacks that are."""
        known = ", ".join(sorted(self.stacks)) or "none"
        return f"{self.source}: missing output {stack}.{key} (stacks in {self.container}: {known})"

    def require(self, stack: str, key: str) -> str:
        value = self.get(stack, key)
        if value is None:
            raise LiveError(f"{self.missing(stack, key)}; {self.hint}" if self.hint else self.missing(stack, key))
        return value


def load_outputs(path: Path, hint: str = "") -> Outputs:
    """A `cdk deploy --outputs-file` JSON: `{"<stack>": {"<output>": "<value>"}}`. `hint` says how to get one."""
    hint = hint or f"write it with `make deploy ENV=<env> OUTPUTS={path}`"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LiveError(f"{path}: no such outputs file; {hint}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LiveError(f"{path}: not a readable CDK outputs file ({error}); {hint}") from None
    if not isinstance(document, dict):
        raise LiveError(f"{path}: expected a JSON object of stacks and their outputs; {hint}")
    stacks = {str(stack): {str(k): v for k, v in outputs.items() if isinstance(v, str)}
              for stack, outputs in document.items() if isinstance(outputs, dict)}
    return Outputs(str(path), stacks, hint)


def outputs_from_environ(environ: Mapping[str, str]) -> Outputs:
    """The outputs the pipeline passes as `CDK_OUTPUT__<stack>__<output>` variables."""
    stacks: dict[str, dict[str, str]] = {}
    for name, value in sorted(environ.items()):
        stack, _, key = name.removeprefix(OUTPUTS_ENV_PREFIX).partition("__")
        if name.startswith(OUTPUTS_ENV_PREFIX) and stack and key and value:
            stacks.setdefault(stack, {})[key] = value
    return Outputs(f"environment variables {OUTPUTS_ENV_PREFIX}*", stacks,
                   "the pipeline's verify step sets them from the stage's stack outputs", "the variables")


def secret_arn_from_outputs(outputs: Outputs, stack_prefix: str) -> str:
    """`<prefix>Warehouse.AdminSecretArn`: the ARN (never the value) of the namespace's admin secret."""
    return outputs.require(f"{stack_prefix}Warehouse", ADMIN_SECRET_OUTPUT)


def check_secret_arn(value: str, config: EnvironmentConfig) -> str:
    """The admin secret's ARN, checked before any call: a typo would otherwise reach the API."""
    if not SECRET_ARN.match(value):
        raise LiveError(f"--secret-arn {value!r} is not a Secrets Manager secret ARN; expected "
                        f"arn:aws:secretsmanager:{config.region}:{config.account}:secret:<name> (the "
                        f"{config.stack_prefix}Warehouse stack's {ADMIN_SECRET_OUTPUT} output)")
    region = value.split(":")[3]
    if region != config.region:
        raise LiveError(f"--secret-arn is in region {region}, but config/{config.name}.yaml deploys to "
                        f"{config.region}: pass the {config.stack_prefix}Warehouse stack's {ADMIN_SECRET_OUTPUT} "
                        "output")
    return value


def no_credentials(needs: str) -> str:
    """The message for botocore's NoCredentialsError: what the command needs, and how to give it."""
    return f"no AWS credentials found. {needs} with your credentials: {CREDENTIALS_HELP}"


def admin_secret_arn(config: EnvironmentConfig, secret_arn: str | None, outputs: Path | None, command: str) -> str:
    """The admin secret's ARN for a command that reads the warehouse (`drift`, `snapshot`, `import`): from
    --secret-arn, else from the deploy's outputs file, checked before any call."""
    if not secret_arn:
        if outputs is None:
            raise LiveError(f"config/{config.name}.yaml: {command} needs --secret-arn or --outputs (the `cdk deploy "
                            f"--outputs-file` JSON holding {config.stack_prefix}Warehouse.{ADMIN_SECRET_OUTPUT})")
        hint = f"write it with `make deploy ENV=<env> OUTPUTS={outputs}`, or pass --secret-arn"
        secret_arn = secret_arn_from_outputs(load_outputs(outputs, hint), config.stack_prefix)
    return check_secret_arn(secret_arn, config)


def data_api_error(error: ClientError | BotoCoreError, where: str, command: str) -> str:
    """An AWS error of a command that reads the warehouse through the Data API, worded for its user."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "") or "the Data API"
        return (f"{where}: {operation} failed: {info.get('Code', 'error')}: {info.get('Message', '')} "
                "(check your AWS credentials, the region, the workgroup name and the secret ARN)")
    if isinstance(error, NoCredentialsError):
        return f"{where}: " + no_credentials(
            f"{command} reads the warehouse through the Redshift Data API (redshift-data:BatchExecuteStatement and "
            "DescribeStatement/GetStatementResult on the workgroup, secretsmanager:GetSecretValue on the admin "
            "secret)")
    return f"{where}: could not call the Redshift Data API: {type(error).__name__}: {error}"

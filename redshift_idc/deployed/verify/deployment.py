"""The environment as verify sees it: its config, its deploy's outputs, and the clients the checks call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.deployed.session import ADMIN_SECRET_OUTPUT, LiveError, Outputs, check_secret_arn
from redshift_idc.deployed.verify.results import CheckError
from redshift_idc.runtime.data_api import RETRIES

AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
# The stack outputs verify reads: (stack suffix, output key). The pipeline passes exactly these.
WAREHOUSE_OUTPUTS = ("RedshiftIdcApplicationArn", "IdcManagedApplicationArn", ADMIN_SECRET_OUTPUT)
IDENTITY_OUTPUTS = ("OAuthApplicationArn", "TrustedTokenIssuerArn", "BridgeRoleArn")


def required_outputs(config: EnvironmentConfig) -> list[tuple[str, str]]:
    """(stack id, output key) of every output verify reads for this environment."""
    stacks = [("Warehouse", WAREHOUSE_OUTPUTS)]
    if config.identity_propagation is not None:
        stacks.append(("Identity", IDENTITY_OUTPUTS))
    return [(f"{config.stack_prefix}{suffix}", key) for suffix, keys in stacks for key in keys]


@dataclass(frozen=True)
class Clients:
    """The clients the checks call, all in the environment's region (where the IdC instance must be)."""

    sso_admin: Any
    identitystore: Any
    redshift: Any
    redshift_data: Any
    redshift_serverless: Any

    @classmethod
    def for_region(cls, region: str) -> Clients:
        return cls(boto3.client("sso-admin", region_name=region, config=AWS_CONFIG),
                   boto3.client("identitystore", region_name=region, config=AWS_CONFIG),
                   boto3.client("redshift", region_name=region, config=AWS_CONFIG),
                   boto3.client("redshift-data", region_name=region, config=RETRIES),
                   boto3.client("redshift-serverless", region_name=region, config=AWS_CONFIG))


@dataclass(frozen=True)
class Deployment:
    """The environment as configured and as its deploy's outputs describe it."""

    config: EnvironmentConfig
    outputs: Outputs
    secret_arn: str | None = None  # --secret-arn; otherwise the Warehouse stack's AdminSecretArn output

    def output(self, suffix: str, key: str) -> str:
        stack = f"{self.config.stack_prefix}{suffix}"
        value = self.outputs.get(stack, key)
        if value is None:
            hint = f"; {self.outputs.hint}" if self.outputs.hint else ""
            raise CheckError(self.outputs.missing(stack, key), f"deploy the {stack} stack and pass its outputs{hint}")
        return value

    def admin_secret_arn(self) -> str:
        value = self.secret_arn or self.output("Warehouse", ADMIN_SECRET_OUTPUT)
        try:
            return check_secret_arn(value, self.config)
        except LiveError as error:
            raise CheckError(str(error)) from None

"""The `warehouse` and `network` sections: the Redshift Serverless namespace and workgroup, the S3 locations
its default IAM role reads, and the VPC it runs in."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from redshift_idc.config.base import StrictModel, WholeNumber
from redshift_idc.config.federated_permissions import FederatedPermissionsConfig

# Regions where Redshift Serverless offers base capacities above 512 RPU (Redshift management guide,
# "Compute capacity for Amazon Redshift Serverless").
EXTENDED_RPU_REGIONS = frozenset({"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1"})
MAX_CAPACITY_RPU_LIMIT = 5632
# Serverless namespace and workgroup names (botocore redshift-serverless model: 3-64, [a-z0-9-]).
ServerlessName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{3,64}$")]
# First database name: a letter, then letters, digits, `_+.@-`; at most 127 characters.
DatabaseName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_+.@-]{0,126}$")]
VpcId = Annotated[str, StringConstraints(pattern=r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")]
SecurityGroupId = Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8}([0-9a-f]{9})?$")]
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)
# Price-performance targets of AI-driven scaling (Redshift management guide, "Compute capacity for Amazon Redshift
# Serverless"; AWS::RedshiftServerless::Workgroup PerformanceTarget): the level and the name the console shows.
PRICE_PERFORMANCE_LEVELS = {1: "LOW_COST", 25: "ECONOMICAL", 50: "BALANCED", 75: "RESOURCEFUL", 100: "HIGH_PERFORMANCE"}
# The base capacity a workgroup gets when the environment sets neither a base capacity nor a target.
DEFAULT_BASE_CAPACITY_RPU = 8
# Roles per cluster or Serverless workgroup: 1,000 unless AWS raised it for the account (Redshift management guide,
# "Quotas and limits in Amazon Redshift"; CREATE ROLE points there). An adjustable quota has no API that tells
# synth its value, so the environment states it.
DEFAULT_ROLE_QUOTA = 1000


_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key/[A-Za-z0-9-]{1,128}")


class S3ReadLocation(StrictModel):
    """One S3 location the namespace's default IAM role may read: a bucket, a key prefix in it, and the KMS
    key its objects are encrypted with (when not S3-managed)."""

    bucket: str
    prefix: str = Field(default="", max_length=1024, description="object key prefix, e.g. sales/ (empty: the bucket)")
    kms_key_arn: str | None = None

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _S3_BUCKET.fullmatch(value) or ".." in value:
            raise ValueError("expected an S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, "
                             "starting and ending with a letter or digit (e.g. acme-sales-data), without s3://")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value.startswith("/"):
            raise ValueError(f"an S3 key prefix has no leading slash: write '{value.lstrip('/')}'")
        if any(ch in value for ch in "*?$") or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("an S3 key prefix is read literally: no '*', '?', '$' or control characters "
                             "(every object under the prefix is readable; e.g. sales/2024/)")
        return value

    @field_validator("kms_key_arn")
    @classmethod
    def _kms_key_arn(cls, value: str | None) -> str | None:
        if value is not None and not _KMS_KEY_ARN.fullmatch(value):
            raise ValueError("expected a KMS key ARN like 'arn:aws:kms:us-east-1:111111111111:key/"
                             "1234abcd-12ab-34cd-56ef-1234567890ab' (not an alias: IAM policies name keys by ARN)")
        return value


class DefaultIamRoleConfig(StrictModel):
    """The namespace's default IAM role, for `COPY ... IAM_ROLE default` (seed 002 loads its sales data this
    way). It reads exactly these locations, nothing else: not the seed's AmazonS3ReadOnlyAccess."""

    s3_read: tuple[S3ReadLocation, ...]

    @field_validator("s3_read")
    @classmethod
    def _locations(cls, value: tuple[S3ReadLocation, ...]) -> tuple[S3ReadLocation, ...]:
        if not value:
            raise ValueError("at least one S3 location is required (e.g. [{bucket: acme-sales-data, "
                             "prefix: sales/}]); without COPY from S3, remove default_iam_role")
        seen: set[tuple[str, str]] = set()
        for index, location in enumerate(value):
            if (location.bucket, location.prefix) in seen:
                raise ValueError(f"[{index}]: s3://{location.bucket}/{location.prefix} is listed twice")
            seen.add((location.bucket, location.prefix))
        return value


class WarehouseConfig(StrictModel):
    """Redshift Serverless namespace and workgroup."""

    namespace_name: ServerlessName
    workgroup_name: ServerlessName
    database_name: DatabaseName = "dev"
    base_capacity_rpu: WholeNumber | None = Field(
        default=DEFAULT_BASE_CAPACITY_RPU, description="fixed base capacity; none (null) with price_performance_target")
    max_capacity_rpu: WholeNumber | None = None
    price_performance_target: WholeNumber | None = Field(
        default=None, description="AI-driven scaling to a price-performance level (1, 25, 50, 75 or 100) instead of "
                                  "a fixed base capacity")
    port: WholeNumber = 5439
    enhanced_vpc_routing: Literal[False] = Field(
        default=False,
        description="must stay false: trusted identity propagation does not support enhanced VPC routing",
    )
    log_retention_days: WholeNumber = 365
    default_iam_role: DefaultIamRoleConfig | None = None
    role_quota: WholeNumber = Field(
        default=DEFAULT_ROLE_QUOTA,
        description="the workgroup's role quota: validation and the deploy refuse a model that would exceed it",
    )
    federated_permissions: FederatedPermissionsConfig | None = None

    @field_validator("enhanced_vpc_routing", mode="before")
    @classmethod
    def _no_enhanced_vpc_routing(cls, value: Any) -> Any:
        if value is not False:
            raise ValueError("enhanced VPC routing is not supported with IAM Identity Center trusted identity "
                             "propagation (Redshift IdC limitations); remove the key or set it to false")
        return value

    @model_validator(mode="before")
    @classmethod
    def _base_capacity_or_target(cls, data: Any) -> Any:
        """No base capacity written (or `null`, to drop one a base file sets): none with a price-performance
        target, the default otherwise (never neither: a workgroup created with neither gets AWS's default
        scaling, which has changed over time). A base capacity written next to a target stays, to be refused."""
        if isinstance(data, dict) and data.get("base_capacity_rpu") is None:
            rest = {key: value for key, value in data.items() if key != "base_capacity_rpu"}
            return rest if data.get("price_performance_target") is None else {**rest, "base_capacity_rpu": None}
        return data

    @field_validator("base_capacity_rpu")
    @classmethod
    def _base_capacity(cls, value: int | None) -> int | None:
        if value is not None and not (value == 4 or (8 <= value <= 512 and value % 8 == 0)
                                      or (512 < value <= 1024 and value % 32 == 0)):
            raise ValueError("Redshift Serverless base capacity is 4, a multiple of 8 from 8 to 512, "
                             "or a multiple of 32 from 544 to 1024 (extended regions only)")
        return value

    @field_validator("price_performance_target", mode="before")
    @classmethod
    def _price_performance_level(cls, value: Any) -> Any:
        """Any value but a level (0 included: no level means "off"; a name; a boolean) gets the five levels
        with their console names, not a generic whole-number example."""
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value not in PRICE_PERFORMANCE_LEVELS):
            levels = ", ".join(f"{level} ({name})" for level, name in PRICE_PERFORMANCE_LEVELS.items())
            raise ValueError(f"the price-performance target is one of {levels}, written in digits, e.g. "
                             "price_performance_target: 50; for a fixed base capacity instead, remove the key")
        return value

    @field_validator("price_performance_target")
    @classmethod
    def _price_performance_target(cls, value: int | None, info: ValidationInfo) -> int | None:
        """A workgroup scales either from a fixed base capacity or to a price-performance target: AWS takes one
        or the other (the console's two choices). `base_capacity_rpu` is declared first, so it is in
        `info.data` whenever it was given and valid."""
        if value is not None and info.data.get("base_capacity_rpu") is not None:
            raise ValueError(f"set together with base_capacity_rpu ({info.data['base_capacity_rpu']}): a workgroup "
                             "scales either to a price-performance target or from a fixed base capacity, not both; "
                             "remove base_capacity_rpu (write base_capacity_rpu: null when a file this one extends "
                             "sets it) or remove price_performance_target")
        return value

    @field_validator("max_capacity_rpu")
    @classmethod
    def _max_capacity(cls, value: int | None) -> int | None:
        if value is not None and not (8 <= value <= MAX_CAPACITY_RPU_LIMIT and value % 8 == 0):
            raise ValueError(f"max capacity is a multiple of 8 from 8 to {MAX_CAPACITY_RPU_LIMIT} RPU")
        return value

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not (5431 <= value <= 5455 or 8191 <= value <= 8215):
            raise ValueError("Redshift Serverless ports are 5431-5455 or 8191-8215 (default 5439)")
        return value

    @field_validator("role_quota")
    @classmethod
    def _role_quota(cls, value: int) -> int:
        if value < 1:
            raise ValueError("the role quota is a positive whole number: Redshift's default is "
                             f"{DEFAULT_ROLE_QUOTA:,} roles per workgroup; write the value AWS raised it to "
                             "(Service Quotas), or remove the key")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError("CloudWatch Logs accepts only these retention periods: "
                             f"{', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value

    @model_validator(mode="after")
    def _max_not_below_base(self) -> WarehouseConfig:
        base = self.base_capacity_rpu
        if self.max_capacity_rpu is not None and base is not None and self.max_capacity_rpu < base:
            raise ValueError(f"max_capacity_rpu: {self.max_capacity_rpu} is below "
                             f"base_capacity_rpu ({self.base_capacity_rpu}); raise it or remove it")
        return self


class CreatedVpc(StrictModel):
    """A new VPC with isolated subnets only: the Data API needs no network path, so no NAT, no IGW."""

    mode: Literal["create"]
    cidr: Annotated[str, StringConstraints(pattern=r"^(\d{1,3}\.){3}\d{1,3}/(1[6-9]|2[0-4])$")] = "10.40.0.0/16"


class ExistingVpc(StrictModel):
    """A VPC someone else owns: three private subnets in three AZs, optional security groups."""

    mode: Literal["existing"]
    vpc_id: VpcId
    subnet_ids: Annotated[tuple[SubnetId, ...], Field(min_length=3, max_length=3)]
    security_group_ids: tuple[SecurityGroupId, ...] = ()

    @field_validator("subnet_ids")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("the three subnet ids must be distinct (one private subnet per availability zone)")
        return value


Network = Annotated[CreatedVpc | ExistingVpc, Field(discriminator="mode")]

"""`warehouse.federated_permissions`: register the Serverless namespace with Redshift federated permissions
(the Lakehouse registration), so its permissions are defined once and enforced by every warehouse of the account
and Region, optionally with IAM Identity Center identity propagation through the project's Lakehouse application.

CloudFormation has no property for it: a custom resource calls redshift-serverless `UpdateLakehouseConfiguration`
(`redshift_idc/runtime/lakehouse_registration.py`). The checks that span sections (the Region, the application
type) are `check_federated_permissions`, called by the environment.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from redshift_idc.config.base import StrictModel

# Regions where federated permissions are NOT offered: Redshift Database Developer Guide, "Considerations when using
# Amazon Redshift federated permissions" (federated-permissions-considerations), section "Unsupported Regions", as
# read on 2026-12-07. An earlier version of that page listed 11 supported Regions instead; the current one lists
# these exceptions, so every other commercial Region Redshift Serverless runs in is accepted. Update this set, and
# its date, from that page.
FEDERATED_PERMISSIONS_SOURCE = ("https://docs.aws.amazon.com/redshift/latest/dg/"
                                "federated-permissions-considerations.html")
UNSUPPORTED_REGIONS: dict[str, str] = {
    "af-south-1": "Africa (Cape Town)",
    "ap-south-2": "Asia Pacific (Hyderabad)",
    "eu-south-1": "Europe (Milan)",
    "eu-south-2": "Europe (Spain)",
    "me-central-1": "Middle East (UAE)",
}
# The page is the commercial partition's; GovCloud and the isolated partitions are not covered by it.
UNCOVERED_PARTITION_MARKERS = ("-gov-", "-iso-", "-isob-")
# IdC identity propagation on a registered namespace goes through a Redshift IdC application of type Lakehouse
# (federated-permissions-prereqs and -onboarding: "a Redshift IdC application arn of Lakehouse type").
PROPAGATION_APPLICATION_TYPE = "Lakehouse"

# UpdateLakehouseConfiguration `catalogName` (botocore redshift-serverless model): 1-64 characters of
# [a-z0-9_-] with at least one letter.
CatalogName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]*[a-z][a-z0-9_-]*$", min_length=1,
                                               max_length=64)]


class FederatedPermissionsConfig(StrictModel):
    """The namespace's Lakehouse registration: the AWS Glue Data Catalog name it is registered under, and whether
    IAM Identity Center identity propagation is associated (through the project's Redshift IdC application)."""

    catalog_name: CatalogName = Field(description="the Glue Data Catalog name, e.g. sales-catalog; objects are then "
                                                  "named \"<database>@<catalog_name>\".<schema>.<object> elsewhere")
    identity_propagation: bool | None = Field(
        default=None,
        description="associate the project's Redshift IdC application (it must be application_type: Lakehouse); "
                    "omitted: on exactly when that application is a Lakehouse application",
    )


def propagation_on(config: FederatedPermissionsConfig, application_type: str | None) -> bool:
    """Whether the registration associates the IdC application: as written, else when it is a Lakehouse one."""
    if config.identity_propagation is not None:
        return config.identity_propagation
    return application_type == PROPAGATION_APPLICATION_TYPE


def check_federated_permissions(config: FederatedPermissionsConfig, *, region: str | None,
                                application_type: str | None) -> None:
    """The checks that need other sections: the Region the page lists as unsupported (or a partition it does not
    cover), and identity propagation through an application that is not a Lakehouse one. Raised messages start
    with the field path under `warehouse`, as the error formatter expects."""
    where = "federated_permissions"
    if region is not None and region in UNSUPPORTED_REGIONS:
        raise ValueError(f"{where}: Redshift federated permissions are not offered in {region} "
                         f"({UNSUPPORTED_REGIONS[region]}; {FEDERATED_PERMISSIONS_SOURCE}, \"Unsupported "
                         "Regions\"): deploy this environment to another Region, or remove federated_permissions")
    if region is not None and any(marker in region for marker in UNCOVERED_PARTITION_MARKERS):
        raise ValueError(f"{where}: {region} is outside the commercial partition, which is all "
                         f"{FEDERATED_PERMISSIONS_SOURCE} covers: remove federated_permissions")
    if config.identity_propagation and application_type != PROPAGATION_APPLICATION_TYPE:
        shown = application_type or "not set (Redshift's default type)"
        raise ValueError(f"{where}.identity_propagation: identity propagation on a registered namespace needs a "
                         f"Redshift IdC application of type {PROPAGATION_APPLICATION_TYPE}, and "
                         f"redshift_idc_application.application_type is {shown}: set it to "
                         f"{PROPAGATION_APPLICATION_TYPE} (with its two service integrations), or set "
                         "identity_propagation: false")

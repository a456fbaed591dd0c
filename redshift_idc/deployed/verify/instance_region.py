"""The first check: Redshift needs the IAM Identity Center instance in its own region. When it fails, the
other IdC checks skip (they would fail for that one reason)."""

from __future__ import annotations

from typing import Any

from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.deployed.verify.aws_calls import pages
from redshift_idc.deployed.verify.results import FAILED, OK, CheckResult, check

REGION = "IdC instance in the warehouse's region"


@check(REGION)
def check_instance_region(sso_admin: Any, config: EnvironmentConfig) -> CheckResult:
    """The configured IdC instance is listed in the warehouse's region, active, with the configured store."""
    region = config.region
    arn = config.identity_center.instance_arn
    instances = pages(sso_admin, "list_instances", "Instances", "*")
    found = next((i for i in instances if i.get("InstanceArn") == arn), None)
    if found is None:
        others = sorted(str(i.get("InstanceArn")) for i in instances)
        listed = f"it lists {', '.join(others)}" if others else "it lists no instance"
        return CheckResult(
            REGION, FAILED, f"ListInstances in {region} does not list {arn} ({listed})",
            f"Redshift needs the IAM Identity Center instance in its own region (seed 000: for IdC and for "
            f"datashares): set identity_center.instance_arn and identity_store_id in config/{config.name}.yaml to "
            f"{region}'s instance, or deploy the environment to the instance's region",
            stops=f"the IdC instance is not in {region}")
    problems = []
    if found.get("Status", "ACTIVE") != "ACTIVE":
        problems.append(f"its status is {found.get('Status')}")
    regions = {str(r.get("RegionName")) for r in found.get("Regions") or [] if r.get("Status", "ACTIVE") == "ACTIVE"}
    if regions and region not in regions:
        problems.append(f"it is active in {', '.join(sorted(regions))}, not in {region}")
    store = found.get("IdentityStoreId")
    if store and store != config.identity_center.identity_store_id:
        problems.append(f"its identity store is {store}, configured {config.identity_center.identity_store_id}")
    if problems:
        return CheckResult(REGION, FAILED, f"{arn}: {'; '.join(problems)}",
                           f"correct identity_center in config/{config.name}.yaml (IAM Identity Center > Settings "
                           f"in {region}), or wait until the instance is active in {region}",
                           stops=f"the IdC instance does not match config/{config.name}.yaml")
    return CheckResult(REGION, OK, f"{arn} in {region}")

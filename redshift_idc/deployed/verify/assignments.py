"""Every configured group and user assigned to the Redshift IdC application, and how verify finds a
principal's id by name as the deploy does (the OAuth application check reuses both)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redshift_idc.config.environment import EnvironmentConfig
from redshift_idc.config.identity_center import IdcGroup, IdcUser
from redshift_idc.deployed.verify.aws_calls import call, pages
from redshift_idc.deployed.verify.deployment import Deployment
from redshift_idc.deployed.verify.results import FAILED, OK, SKIPPED, CheckResult, check

ASSIGNMENTS = "groups and users assigned to the Redshift IdC application"


def _identity_store_resources(config: EnvironmentConfig, kind: str) -> str:
    store = config.identity_center.identity_store_id
    partition = config.identity_center.partition
    return (f"arn:{partition}:identitystore::{config.account}:identitystore/{store} and "
            f"arn:{partition}:identitystore:::{kind}/*")


def resolve_principals(identitystore: Any, config: EnvironmentConfig, groups: Iterable[IdcGroup],
                       users: Iterable[IdcUser] = ()) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(principal type, label, id) of each group and user, with ids looked up by display name / user name
    where the config has none (as the deploy does), and the labels the identity store does not know."""
    store = config.identity_center.identity_store_id
    found: list[tuple[str, str, str]] = []
    unknown: list[str] = []
    wanted = [("GROUP", f"group {g.display_name}", g.group_id, "displayName", g.display_name) for g in groups]
    wanted += [("USER", f"user {u.user_name}", u.user_id, "userName", u.user_name) for u in users]
    for kind, label, known_id, attribute, value in wanted:
        principal_id = known_id
        if principal_id is None:
            method, key = ("get_group_id", "GroupId") if kind == "GROUP" else ("get_user_id", "UserId")
            response = call(identitystore, method, _identity_store_resources(config, kind.lower()),
                            absent=("ResourceNotFoundException",), IdentityStoreId=store,
                            AlternateIdentifier={"UniqueAttribute": {"AttributePath": attribute,
                                                                     "AttributeValue": value}})
            principal_id = str(response[key]) if response else None
        if principal_id is None:
            unknown.append(label)
        else:
            found.append((kind, label, principal_id))
    return found, unknown


def assigned_principals(sso_admin: Any, application_arn: str, instance_arn: str) -> set[tuple[str, str]]:
    """(principal type, principal id) of everyone assigned to the application, to compare with the config."""
    items = pages(sso_admin, "list_application_assignments", "ApplicationAssignments",
                  f"{instance_arn} and {application_arn}", ApplicationArn=application_arn)
    return {(str(a.get("PrincipalType")), str(a.get("PrincipalId"))) for a in items}


@check(ASSIGNMENTS)
def check_assignments(sso_admin: Any, identitystore: Any, deployment: Deployment) -> CheckResult:
    """Every configured group and user is assigned to the IdC-managed application: an unassigned user gets
    "Invalid scope" when connecting (seed 000)."""
    config = deployment.config
    application = config.redshift_idc_application
    if not application.groups and not application.users:
        return CheckResult(ASSIGNMENTS, SKIPPED, f"config/{config.name}.yaml assigns no group or user")
    managed = deployment.output("Warehouse", "IdcManagedApplicationArn")
    principals, unknown = resolve_principals(identitystore, config, application.groups, application.users)
    assigned = assigned_principals(sso_admin, managed, config.identity_center.instance_arn)
    missing = [f"{label} ({principal_id})" for kind, label, principal_id in principals
               if (kind, principal_id) not in assigned]
    problems = []
    if unknown:
        problems.append(f"not in identity store {config.identity_center.identity_store_id}: {', '.join(unknown)}")
    if missing:
        problems.append(f"not assigned to {managed}: {', '.join(missing)}")
    if problems:
        fixes = []
        if unknown:
            fixes.append(f"create them in IAM Identity Center (or correct display_name / user_name in "
                         f"config/{config.name}.yaml): the deploy resolves names the same way")
        if missing:
            fixes.append(f"deploy the {config.stack_prefix}Warehouse stack (it assigns every group and user of "
                         "redshift_idc_application), or assign them in IAM Identity Center > Applications; an "
                         "assignment can take an hour to reach users (session caching)")
        return CheckResult(ASSIGNMENTS, FAILED, "; ".join(problems), "; ".join(fixes))
    groups = sum(1 for kind, _, _ in principals if kind == "GROUP")
    extra = len(assigned - {(kind, principal_id) for kind, _, principal_id in principals})
    note = f"; {extra} other principal(s) assigned outside the config" if extra else ""
    return CheckResult(ASSIGNMENTS, OK, f"{groups} group(s) and {len(principals) - groups} user(s){note}")

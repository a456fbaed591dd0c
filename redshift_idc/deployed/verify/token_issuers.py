"""Third-party trusted token issuers of the Redshift IdC application, and how an issuer or an audience list
differs from the config (the OAuth application check reuses both)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redshift_idc.deployed.verify.aws_calls import call, pages
from redshift_idc.deployed.verify.deployment import Deployment
from redshift_idc.deployed.verify.results import FAILED, OK, SKIPPED, CheckError, CheckResult, check
from redshift_idc.runtime.idc_trusted_token_issuer import trusted_token_issuer_name

TOKEN_ISSUERS = "trusted token issuers of the Redshift IdC application"  # noqa: S105 -- a check's name


def issuer_mismatches(sso_admin: Any, issuer_arn: str, url: str, claim: str, attribute: str) -> list[str]:
    """How the trusted token issuer differs from the configured URL and claim mapping ([] when it matches)."""
    response = call(sso_admin, "describe_trusted_token_issuer", issuer_arn, absent=("ResourceNotFoundException",),
                    TrustedTokenIssuerArn=issuer_arn)
    if response is None:
        return [f"{issuer_arn} does not exist"]
    oidc = (response.get("TrustedTokenIssuerConfiguration") or {}).get("OidcJwtConfiguration") or {}
    problems = []
    for what, wanted, actual in (("issuer URL", url, oidc.get("IssuerUrl")),
                                 ("claim attribute path", claim, oidc.get("ClaimAttributePath")),
                                 ("identity store attribute path", attribute, oidc.get("IdentityStoreAttributePath"))):
        if actual != wanted:
            problems.append(f"{what} is {actual!r}, configured {wanted!r}")
    return problems


def audience_difference(wanted: Iterable[str], actual: Iterable[str]) -> str:
    """'' when equal, else which audiences are missing and which are extra."""
    wanted_set, actual_set = set(wanted), set(actual)
    parts = []
    if wanted_set - actual_set:
        parts.append(f"missing audiences {', '.join(sorted(wanted_set - actual_set))}")
    if actual_set - wanted_set:
        parts.append(f"extra audiences {', '.join(sorted(actual_set - wanted_set))}")
    return "; ".join(parts)


@check(TOKEN_ISSUERS)
def check_token_issuers(sso_admin: Any, redshift: Any, deployment: Deployment) -> CheckResult:
    """Each configured third-party issuer: its TTI (found by the name the stack gives it) has the configured
    URL and claim mapping, and the Redshift IdC application authorizes it with exactly its audiences."""
    config = deployment.config
    issuers = config.redshift_idc_application.trusted_token_issuers
    if not issuers:
        return CheckResult(TOKEN_ISSUERS, SKIPPED, "redshift_idc_application.trusted_token_issuers is not configured")
    instance = config.identity_center.instance_arn
    application_arn = deployment.output("Warehouse", "RedshiftIdcApplicationArn")
    listed = pages(sso_admin, "list_trusted_token_issuers", "TrustedTokenIssuers", instance, InstanceArn=instance)
    by_name = {str(i.get("Name")): str(i.get("TrustedTokenIssuerArn")) for i in listed}
    applications = pages(redshift, "describe_redshift_idc_applications", "RedshiftIdcApplications", "*",
                         absent=("RedshiftIdcApplicationNotExistsFault",), RedshiftIdcApplicationArn=application_arn)
    if not applications:
        raise CheckError(f"the Redshift IdC application {application_arn} does not exist",
                         f"deploy the {config.stack_prefix}Warehouse stack")
    authorized = {str(i.get("TrustedTokenIssuerArn")): list(i.get("AuthorizedAudiencesList") or [])
                  for i in applications[0].get("AuthorizedTokenIssuerList") or []}
    problems = []
    for issuer in issuers:
        name = trusted_token_issuer_name(issuer.name, issuer.issuer_url)
        arn = by_name.get(name)
        if arn is None:
            problems.append(f"{issuer.name}: no trusted token issuer named {name} in {instance}")
            continue
        problems += [f"{issuer.name}: {p}" for p in issuer_mismatches(
            sso_admin, arn, issuer.issuer_url, issuer.claim_attribute_path, issuer.identity_store_attribute_path)]
        if arn not in authorized:
            problems.append(f"{issuer.name}: {arn} is not authorized on the Redshift IdC application")
        elif difference := audience_difference(issuer.audiences, authorized[arn]):
            problems.append(f"{issuer.name}: authorized with {difference}")
    if problems:
        return CheckResult(TOKEN_ISSUERS, FAILED, "; ".join(problems),
                           f"deploy the {config.stack_prefix}Warehouse stack: it creates each issuer and authorizes "
                           "it with its audiences (a change made by hand is put back)")
    return CheckResult(TOKEN_ISSUERS, OK, f"{len(issuers)} issuer(s) with their URL, claim mapping and audiences")

"""Every check in order, and the `verify` command around them: the checklist, and the exit code

    0  every check ok (or skipped because the environment does not use it)
    1  a check failed: the checklist says which and how to fix it
    2  configuration, usage or credentials: nothing was checked
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TextIO

from botocore.exceptions import NoCredentialsError

from redshift_idc.config.environment import EnvironmentConfig, load_environment
from redshift_idc.config.errors import ConfigError
from redshift_idc.deployed.session import (
    LiveError,
    check_secret_arn,
    load_outputs,
    no_credentials,
    outputs_from_environ,
)
from redshift_idc.deployed.verify.assignments import ASSIGNMENTS, check_assignments
from redshift_idc.deployed.verify.deployment import Clients, Deployment
from redshift_idc.deployed.verify.instance_region import REGION, check_instance_region
from redshift_idc.deployed.verify.lakehouse import LAKEHOUSE_REGISTRATION, check_lakehouse_registration
from redshift_idc.deployed.verify.oauth_application import OAUTH_APPLICATION, check_oauth_application
from redshift_idc.deployed.verify.results import FAILED, OK, SKIPPED, CheckError, CheckResult
from redshift_idc.deployed.verify.scaling import SCALING, check_scaling
from redshift_idc.deployed.verify.token_issuers import TOKEN_ISSUERS, check_token_issuers
from redshift_idc.deployed.verify.warehouse import (
    IDENTITY_PROVIDER,
    SECADMIN_CHECK,
    WarehouseView,
    check_identity_provider,
    check_secadmin,
    read_warehouse,
)
from redshift_idc.runtime.catalog import SECADMIN
from redshift_idc.wording import plural

ALL_OK, CHECK_FAILED, ERROR = 0, 1, 2
# Each check and what it compares, in the order they run (the CLI's --help prints this).
CHECKS: tuple[tuple[str, str], ...] = (
    (REGION, "sso-admin ListInstances in the environment's region returns identity_center.instance_arn, active, "
             "with identity_center.identity_store_id: Redshift needs IdC in its own region, for IdC and for "
             "datashares (seed 000)"),
    (IDENTITY_PROVIDER, "as the admin secret's user (a superuser): an enabled AWSIDC identity provider whose "
                        "namespace is redshift_idc_application.identity_namespace"),
    (ASSIGNMENTS, "every redshift_idc_application group and user (ids resolved by name in the identity store) "
                  "is assigned to the application's IdC-managed application"),
    (TOKEN_ISSUERS, "each redshift_idc_application.trusted_token_issuers entry exists with its issuer URL and "
                    "claim mapping and is authorized on the Redshift IdC application with its audiences"),
    (OAUTH_APPLICATION, "identity_propagation: its trusted token issuer (URL, claim mapping), the jwt-bearer "
                        "grant with its audiences, the IAM authentication method for the bridge role only, the "
                        "redshift:connect scope on the Redshift IdC application, the assignment setting and the "
                        "assigned groups"),
    (SECADMIN_CHECK, f"the admin secret's user, as which the reconciler runs, holds {SECADMIN}: without it RLS "
                     "attachments and masking are invisible and the reconciler refuses to plan"),
    (SCALING, "redshift-serverless GetWorkgroup: warehouse.price_performance_target (status ENABLED, the level) or "
              "base_capacity_rpu, and max_capacity_rpu when set; the defaults AWS reports for the mode not chosen "
              "are not differences"),
    (LAKEHOUSE_REGISTRATION, "warehouse.federated_permissions: redshift-serverless GetNamespace reports the "
                             "namespace's lakehouseRegistrationStatus REGISTERED, under catalog_name"),
)
# What no check can see, said under a checklist with no failure: how BI tools reach the warehouse as the user.
BI_HINTS: tuple[str, ...] = (
    "QuickSight carries the signed-in user to Redshift (trusted identity propagation) only in Direct Query "
    "datasets; SPICE datasets do not support it (docs.aws.amazon.com/quicksight/latest/user/"
    "redshift-trusted-identity-propagation.html): a SPICE dataset holds what its data source's database user "
    "read at import, so the access model's grants, RLS and masking do not apply to its readers",
)


def _not_applicable(name: str, config: EnvironmentConfig) -> bool:
    """Checks that skip as "not configured" whatever happened before (so they never read as blocked)."""
    application = config.redshift_idc_application
    return ((name == ASSIGNMENTS and not application.groups and not application.users)
            or (name == TOKEN_ISSUERS and not application.trusted_token_issuers)
            or (name == OAUTH_APPLICATION and config.identity_propagation is None))


def run_checks(deployment: Deployment, clients: Clients,
               sleep: Callable[[float], None] = time.sleep) -> list[CheckResult]:
    """Every check, in `CHECKS` order. The IdC checks skip when the instance check found no usable instance
    (they would fail for that one reason); the two SQL checks share one read of the warehouse."""
    config = deployment.config
    region = check_instance_region(clients.sso_admin, config)
    view: WarehouseView | CheckError
    try:
        view = read_warehouse(clients.redshift_data, deployment, sleep)
    except CheckError as error:
        view = error
    idc: dict[str, Callable[[], CheckResult]] = {
        ASSIGNMENTS: lambda: check_assignments(clients.sso_admin, clients.identitystore, deployment),
        TOKEN_ISSUERS: lambda: check_token_issuers(clients.sso_admin, clients.redshift, deployment),
        OAUTH_APPLICATION: lambda: check_oauth_application(clients.sso_admin, clients.identitystore, deployment),
    }
    results = [region, check_identity_provider(view, deployment)]
    for name, run in idc.items():
        blocked = region.stops and not _not_applicable(name, config)
        results.append(CheckResult(name, SKIPPED, f"{region.stops} (first check)") if blocked else run())
    results.append(check_secadmin(view, config))
    results.append(check_scaling(clients.redshift_serverless, config))
    results.append(check_lakehouse_registration(clients.redshift_serverless, config))
    return results


NO_CREDENTIALS_NEEDS = ("verify reads IAM Identity Center (sso-admin, identitystore), the Redshift IdC application, "
                        "the workgroup's settings and the warehouse (Data API as the admin secret's user)")


def verify_command(env: str, outputs: Path | None, *, outputs_from_env: bool = False, secret_arn: str | None = None,
                   clients: Clients | None = None, sleep: Callable[[float], None] | None = None,
                   config_dir: Path | None = None, environ: Mapping[str, str] | None = None,
                   out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The CLI: the checklist to `out`, errors that stop everything to `err`; returns 0, 1 or 2."""
    sleep = sleep or time.sleep
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        config = load_environment(env, config_dir)
        if outputs is not None:
            found = load_outputs(outputs, f"write it with `make deploy ENV={config.name} OUTPUTS={outputs}`")
        elif outputs_from_env:
            found = outputs_from_environ(os.environ if environ is None else environ)
        else:
            raise LiveError(f"config/{config.name}.yaml: verify needs --outputs (the `cdk deploy --outputs-file` "
                            f"JSON: `make deploy ENV={config.name} OUTPUTS=cdk-outputs.json`) or --outputs-from-env")
        if secret_arn:
            check_secret_arn(secret_arn, config)
        deployment = Deployment(config, found, secret_arn)
        results = run_checks(deployment, clients or Clients.for_region(config.region), sleep)
    except (ConfigError, LiveError) as error:
        print(f"error: {error}", file=err)
        return ERROR
    except NoCredentialsError:
        print(f"error: {no_credentials(NO_CREDENTIALS_NEEDS)}", file=err)
        return ERROR
    print(f"verify {config.name}: account {config.account}, region {config.region}, workgroup "
          f"{config.warehouse.workgroup_name}; outputs from {found.source}", file=out)
    for result in results:
        for line in result.lines():
            print(line, file=out)
    counts = {status: sum(1 for r in results if r.status == status) for status in (OK, FAILED, SKIPPED)}
    print(f"{plural(len(results), 'check')}: {counts[OK]} ok, {counts[FAILED]} failed, {counts[SKIPPED]} skipped",
          file=out)
    if counts[FAILED]:
        return CHECK_FAILED
    for hint in BI_HINTS:
        print(f"hint: {hint}", file=out)
    return ALL_OK


def checks_help(width: int = 100) -> str:
    """The checks as --help lists them (argparse keeps this text's line breaks)."""
    lines = textwrap.wrap("Read-only, with your AWS credentials: compares what CloudFormation cannot see with "
                          "config/<env>.yaml and the deploy's outputs. Each output line is `ok  <name>`, `skipped "
                          "<name>: why`, or `FAILED <name>: detail` followed by `    fix: ...`. The checks, in order:",
                          width, break_on_hyphens=False)
    for number, (name, what) in enumerate(CHECKS, start=1):
        lines += textwrap.wrap(f"{name}: {what}", width, initial_indent=f"  {number}. ", subsequent_indent="     ",
                               break_on_hyphens=False)
    lines += ["", *textwrap.wrap("exit status: 0 every check ok (or skipped: not configured), 1 a check failed, 2 "
                                 "configuration, usage or credentials error (nothing was checked)", width)]
    lines += ["", *textwrap.wrap("A checklist with no failure ends with hints on what no check can see (BI tools: "
                                 "QuickSight's SPICE datasets do not carry the user's identity).", width,
                                 break_on_hyphens=False)]
    return "\n".join(lines)

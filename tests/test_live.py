"""Opt-in end-to-end test against a real Redshift Serverless workgroup (never in the default run).

    REDSHIFT_IDC_LIVE_WORKGROUP=<workgroup> REDSHIFT_IDC_LIVE_SECRET_ARN=<admin secret ARN> \\
    [REDSHIFT_IDC_LIVE_DATABASE=dev] AWS_PROFILE=... .venv/bin/pytest tests/test_live.py -s

It applies the demo model, re-applies it (expects zero DDL), applies a changed model, removes
everything it created, and prints what it observed for the open questions of REDSHIFT_REFERENCE.md.
Use a scratch workgroup: the demo scripts create public.sales_data, sales_schema and finance_schema.
"""

from __future__ import annotations

import os
import time

import pytest

from redshift_idc.access.model import load_model, load_scripts
from redshift_idc.config.environment import load_environment
from redshift_idc.runtime.access_state import AccessState, Role
from redshift_idc.runtime.data_api import DataApi, Target
from redshift_idc.runtime.reconcile_request import Outcome, Request, Script, statement_token
from redshift_idc.runtime.reconciler import Reconciler

WORKGROUP = os.environ.get("REDSHIFT_IDC_LIVE_WORKGROUP")
pytestmark = [pytest.mark.live, pytest.mark.skipif(not WORKGROUP, reason="set REDSHIFT_IDC_LIVE_WORKGROUP to run")]


def converge(api: DataApi, desired: AccessState, scripts: list[Script], label: str) -> tuple[Outcome, int]:
    """Converge as the custom resource would (one reconciler per invocation), and report the statements
    applied and the latency this workgroup shows (what the `apply_estimate:` terms assume: README, "The real
    limits")."""
    request = Request(model="live-test", desired=desired, token=statement_token(f"{label}:{time.time_ns()}"),
                      scripts=scripts)
    applied = 0
    for invocation in range(20):
        reconciler = Reconciler(api, request, invocation_id=f"{label}-{invocation}", budget_seconds=600,
                                log=lambda message: print(f"[{label}] {message}"))
        started = time.monotonic()
        outcome = reconciler.run()
        applied += outcome.statements_applied
        batches = max(reconciler.seq - 1, 0)
        if batches:
            print(f"[{label}] {batches} step(s) in {time.monotonic() - started:.1f} s; "
                  f"Redshift reported {[round(d, 2) for d in reconciler.recent_durations]} s for the last statements, "
                  f"their status lags were at most {[round(d, 2) for d in reconciler.runner.recent_status_lags]} s")
        if outcome.done:
            return outcome, applied
        time.sleep(10)
    raise AssertionError(f"{label}: did not converge in 20 invocations")


def test_apply_reapply_change_and_remove() -> None:
    target = Target(str(WORKGROUP), os.environ.get("REDSHIFT_IDC_LIVE_DATABASE", "dev"),
                    os.environ["REDSHIFT_IDC_LIVE_SECRET_ARN"])
    api = DataApi(target)  # long-polls where this boto3 has WaitTimeSeconds, as the Lambda's does
    environment = load_environment("demo")
    compiled = load_model("demo", environment)
    model, desired = compiled.model, compiled.desired
    scripts = [Script.of(s) for s in load_scripts(model)]

    # The first deploy polls, so that DescribeStatement shows each batch's Duration and status lag (the calibration
    # figures it prints); the others wait in the service where they can.
    converge(DataApi(target, long_polling=False), desired, scripts, "apply")
    _, applies = converge(api, desired, scripts, "reapply")
    assert applies == 0, "a second deploy with no change must run no DDL"

    changed = AccessState.of([*desired, Role("live-test-extra")])
    converge(api, changed, scripts, "change")
    snapshot = Reconciler(api, Request("live-test", changed, statement_token(f"read:{time.time_ns()}"))).read_now(
        time.sleep)
    print("open question 3 (role name case as stored):", sorted(r.name for r in snapshot.state if isinstance(r, Role)))
    print("open question 1 (superuser/secadmin visibility):", snapshot.superuser, snapshot.secadmin)
    print("warnings:", snapshot.warnings)

    _, applies = converge(api, AccessState(), [], "remove")
    assert applies >= 1

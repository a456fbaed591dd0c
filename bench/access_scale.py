"""Scale benchmark (prints figures; not a test): a model of 1,000 roles x 20 tables.

    .venv/bin/python bench/access_scale.py [--roles 1000] [--tables 20]

Reports planning time from an empty warehouse and for a no-op re-plan, the number of statements and
Data API batches, and the size of the synthesized access stack (template bytes, resource count, asset
bytes) to show the template does not grow with the model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from bench.scale_models import large_model
from redshift_idc.cdk.app_start import new_app
from redshift_idc.cdk.components.access_reconciler import AccessReconciler
from redshift_idc.runtime.access_state import AccessState, RlsPolicy
from redshift_idc.runtime.ledger import batches
from redshift_idc.runtime.planner import plan

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:bench-AbCdEf"  # noqa: S105 (an ARN)
WORKGROUP_ARN = "arn:aws:redshift-serverless:us-east-1:111111111111:workgroup/00000000-0000-0000-0000-000000000000"
NAMESPACE_ARN = "arn:aws:redshift-serverless:us-east-1:111111111111:namespace/00000000-0000-0000-0000-000000000000"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--roles", type=int, default=1000)
    parser.add_argument("--tables", type=int, default=20)
    args = parser.parse_args()
    desired = large_model(args.roles, args.tables)
    print(f"model: {args.roles} roles x {args.tables} tables = {len(desired)} access objects")

    started = time.perf_counter()
    first = plan(desired, AccessState(), coalesce=True)
    cut = batches(first, "bench")
    print(f"plan from empty: {time.perf_counter() - started:.2f} s, {len(first.statements)} statements for "
          f"{sum(s.covers for s in first.statements)} objects, {len(cut)} Data API batches (<= 40 statements each)")

    ledger = {(item.KIND, item.key()): item.fingerprint() for item in desired}
    applied = AccessState.of(o if not isinstance(o, RlsPolicy) else RlsPolicy(o.name) for o in desired)
    started = time.perf_counter()
    again = plan(desired, applied, ledger, coalesce=True)
    print(f"no-op re-plan: {time.perf_counter() - started:.2f} s, {len(again.statements)} statements, "
          f"{len(again.adopt)} adoptions")

    with tempfile.TemporaryDirectory() as outdir:
        started = time.perf_counter()
        app = new_app(outdir=outdir)
        stack = cdk.Stack(app, "BenchAccess", env=cdk.Environment(account="111111111111", region="us-east-1"))
        AccessReconciler(
            stack, "AccessModel", model_name="bench", desired=desired, scripts=[], prune=False,
            ledger_schema="redshift_idc", removal_policy="destroy", workgroup_name="bench",
            workgroup_arn=WORKGROUP_ARN, namespace_name="bench", namespace_arn=NAMESPACE_ARN,
            database="dev", admin_secret_arn=SECRET_ARN,
            key=kms.Key(stack, "Key", enable_key_rotation=True), log_retention=logs.RetentionDays.ONE_MONTH,
        )
        app.synth()
        template = Path(outdir) / "BenchAccess.template.json"
        assets = sorted(Path(outdir).glob("asset.*.json"))
        resources = len(json.loads(template.read_text())["Resources"])
        print(f"synth: {time.perf_counter() - started:.1f} s; template {template.stat().st_size:,} bytes "
              f"(CloudFormation limit 1,000,000 via S3), {resources} resources (limit 500); "
              f"model asset {assets[0].stat().st_size:,} bytes")


if __name__ == "__main__":
    main()

"""Transition check benchmark (prints figures; not a test): the check `plan` and synth run, on the synthetic models
of `scale_models.py` (R roles x 20 tables, one RLS policy, RLS on everywhere), for the first deploy and for a
change that replaces every tenth role.

    .venv/bin/python bench/transition_scale.py [--roles 100 1000 3200] [--tables 20]

Reports the plan's batches, the principals checked (roles, PUBLIC, pairs of roles attached to one table) and the
seconds the check takes (no sample rows: every table judged by its restrictions, the preview's evaluator is not
needed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale_models import changed_model, large_model
from redshift_idc.access.transition.check import check_plan
from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.planner import plan


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--roles", type=int, nargs="+", default=[100, 1000, 3200])
    parser.add_argument("--tables", type=int, default=20)
    args = parser.parse_args()
    for roles in args.roles:
        model = large_model(roles, args.tables)
        ledger = {(item.KIND, item.key()): item.fingerprint() for item in model}
        for scenario, before, planned in (
                ("create", AccessState(), plan(model, AccessState(), {}, coalesce=True)),
                ("change", model, plan(changed_model(roles, args.tables), model, ledger, coalesce=True))):
            started = time.perf_counter()
            verdict = check_plan(None, before, planned, "bench", "redshift_idc")
            seconds = time.perf_counter() - started
            print(f"{roles:,} roles x {args.tables} tables, {scenario}: {len(planned.statements):,} statements, "
                  f"{verdict.batches:,} batches, {verdict.principals:,} principals, {len(verdict.widenings)} "
                  f"widenings, check {seconds:.2f} s")


if __name__ == "__main__":
    main()

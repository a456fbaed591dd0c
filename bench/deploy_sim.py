"""Deployment benchmark (prints figures; not a test): the real `on_event` / `is_complete` handlers, driven
the way the Provider framework drives them, against `tests/fake_redshift.py` behind a Data API double
with a latency model (`tests/fake_data_api.py`), in simulated time.

    .venv/bin/python bench/deploy_sim.py --roles 1000 --tables 20 --batch-latency 1 --call-latency 0.05 --json

The latency model: a batch runs `--batch-latency + --statement-latency x statements + --object-latency x
objects` seconds and says so `--status-lag` seconds after it ended (its reported Duration excludes the lag);
each call takes `--call-latency`. The double long-polls as botocore 1.44's model allows (`WaitTimeSeconds`: the
runtime then waits in the submission and DescribeStatement); `--no-long-polling` gives it the model of an older
botocore, as a Lambda runtime's boto3 may be, and the runtime polls. Model A of issue 22: `--batch-latency 1
--status-lag 0.3 --call-latency 0.05`; model B: `--batch-latency 0.3 --statement-latency 0.02 --object-latency
0.001 --status-lag 0.3 --call-latency 0.05`.

Scenarios, in order, on one warehouse: `create` (empty warehouse), `noop` (the same model again, an
Update), `change` (every 10th role replaced by a new one with the same grants), `delete`. Each prints one
JSON object (with --json) or one line:

    scenario, statements (DDL the scenario's plan holds), batches (apply steps submitted), min_batches
    (ceil(statements / 40)), data_api_calls (per operation), lambda_invocations (on_event included),
    plans_computed, plan_cpu_s (CPU seconds of the scenario's first plan), simulated_s, overhead
    (simulated_s / (min_batches x batch latency)), execution_s (the scenario's statements' run time, the
    double's latency model summed: what no reconciler could save), describe_per_batch (DescribeStatement calls per
    statement submitted), latency (the model's settings), peak_rss_mb (the largest is-complete invocation,
    replayed alone in a fresh Python process with boto3 loaded, as a Lambda would hold it), lambda_memory_mb,
    and for `create` estimated_s (the apply estimate with the same latency terms and its margin: what the budget
    check compares with its limit)

A model whose first deploy the apply estimate refuses (`make plan` and synth refuse it too) prints the
refusal for `create` and stops, unless --ignore-budget. With --role-quota N (the bench has no environment config,
so by default the quota is not checked) a model declaring more than N roles is refused the same way, as `validate`
refuses it, and the model document carries N, so the reconciler checks the roles the warehouse holds against it.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.replay import Tape, timed_plans
from bench.scale_models import changed_model, large_model
from redshift_idc.access.checked import RoleQuotaError, check_role_quota
from redshift_idc.access.estimate import ApplyBudgetError, check_apply_budget
from redshift_idc.config.apply_estimate import ApplyEstimateConfig
from redshift_idc.runtime.access_state import AccessState
from redshift_idc.runtime.ledger import MAX_BATCH_STATEMENTS
from redshift_idc.runtime.limits import HANDLER_MEMORY_MB
from redshift_idc.runtime.planner import plan
from redshift_idc.runtime.reconcile_handler import model_document
from tests.fake_data_api import FakeDataApi, ProviderDriver, SimClock, cfn_event, resource_properties
from tests.fake_redshift import FakeRedshift, differences

MODEL = "bench"
PROPERTIES = resource_properties(MODEL, workgroup="bench-wg", namespace="bench-ns")
PHYSICAL_ID = f"access-model:{PROPERTIES['WorkgroupName']}/{PROPERTIES['Database']}/{MODEL}"
APPLY_STEPS = (":apply", ":exec", ":intent", ":script", ":grant-secadmin")
REPLAY = Path(__file__).resolve().parent / "replay.py"


# ------------------------------------------------------------------------- recording for the replay


class RecordingClient:
    def __init__(self, client: Any, tape: Callable[[], Tape | None]) -> None:
        self._client = client
        self._tape = tape

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method  # `meta`: its service model says whether the runtime may long-poll

        def call(**params: Any) -> Any:
            tape = self._tape()
            try:
                response = method(**params)
            except Exception as error:
                if tape is not None:
                    tape.records.append(("call", (name, error)))
                raise
            if tape is not None:
                tape.records.append(("call", (name, response)))
            return response
        return call


class RecordingClock:
    def __init__(self, clock: SimClock, tape: Callable[[], Tape | None]) -> None:
        self._clock = clock
        self._tape = tape

    def _record(self, value: float) -> float:
        tape = self._tape()
        if tape is not None:
            tape.records.append(("clock", value))
        return value

    def monotonic(self) -> float:
        return self._record(self._clock.monotonic())

    def time(self) -> float:
        return self._record(self._clock.time())

    def sleep(self, seconds: float) -> None:
        self._clock.sleep(seconds)


def replayed(tapes: list[Tape], runs: int = 5) -> tuple[float, list[float]]:
    """(peak RSS in MB of the largest invocation, CPU seconds of every plan, in order), each invocation
    replayed alone in a fresh process, `runs` times: the highest peak counts, and each plan's fastest
    run (CPU time differs from one process to the next by a third on a shared machine)."""
    peaks: list[float] = []
    plans: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for index, tape in enumerate(tapes):
            path = Path(folder) / f"tape-{index}.pickle"
            with path.open("wb") as handle:
                pickle.dump(Tape(tape.event, tape.context_id, tape.document, long_polling=tape.long_polling), handle)
                for record in tape.records:
                    pickle.dump(record, handle)
            tape.records = []
            fastest: list[float] = []
            for _ in range(runs):
                done = subprocess.run([sys.executable, str(REPLAY), str(path)], capture_output=True,  # noqa: S603
                                      text=True, check=True)
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                peaks.append(float(figures["peak_rss_mb"]))
                seconds = [float(x) for x in figures["plans_cpu_s"]]
                fastest = [min(a, b) for a, b in zip(fastest, seconds, strict=True)] if fastest else seconds
            plans += fastest
    return (round(max(peaks), 1) if peaks else 0.0), plans


# ---------------------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Latency:
    """The double's latency model (see the module docstring)."""

    batch: float = 1.0
    call: float = 0.05
    statement: float = 0.0
    object: float = 0.0
    status_lag: float = 0.0

    def estimate_terms(self) -> ApplyEstimateConfig:
        """The apply estimate's terms for this model (the default margin), so that the budget check refuses
        what the simulation would find too slow, and no more."""
        return ApplyEstimateConfig(seconds_per_batch=self.batch, seconds_per_statement=self.statement,
                                   seconds_per_object=self.object, seconds_status_lag=self.status_lag,
                                   seconds_per_call=self.call)


@dataclass
class Bench:
    latency: Latency
    page_bytes: int
    measure_memory: bool
    role_quota: int | None = None
    long_polling: bool = True
    fake: FakeRedshift = field(default_factory=FakeRedshift)
    clock: SimClock = field(default_factory=SimClock)
    requests: int = 0

    def __post_init__(self) -> None:
        latency = self.latency
        self.api = FakeDataApi(self.fake, self.clock, model=MODEL, batch_latency=latency.batch,
                               call_latency=latency.call, statement_latency=latency.statement,
                               object_latency=latency.object, status_lag=latency.status_lag,
                               page_bytes=self.page_bytes, secadmin=False, long_polling=self.long_polling)
        self.tape: Tape | None = None
        self.tapes: list[Tape] = []
        self.plans = timed_plans()

    def _start_tape(self, event: dict[str, Any], context_id: str, document: bytes) -> None:
        self.tape = (Tape(dict(event), context_id, document, long_polling=self.long_polling) if self.measure_memory
                     else None)

    def _end_tape(self) -> None:
        if self.tape is not None:
            self.tapes.append(self.tape)
        self.tape = None

    def scenario(self, name: str, request_type: str, desired: AccessState | None, model_hash: str) -> dict[str, Any]:
        self.requests += 1
        props = {**PROPERTIES, "ModelHash": model_hash}
        expected = desired if desired is not None else AccessState()
        statements = len(plan(expected, self.fake.state(), self.fake.ledger(MODEL), coalesce=True).statements)
        event = cfn_event(request_type, props, request_id=f"bench-request-{self.requests:03d}",
                          physical_id=None if request_type == "Create" else PHYSICAL_ID)
        document = (model_document(desired, [], role_quota=self.role_quota).encode("utf-8") if desired is not None
                    else None)
        calls_before, ids_before = Counter(self.api.calls), set(self.api.statements)
        self.plans.clear()
        self.tapes = []
        driver = ProviderDriver(self.api, self.clock, client=RecordingClient(self.api, lambda: self.tape),
                                handler_clock=RecordingClock(self.clock, lambda: self.tape),
                                before=self._start_tape, after=self._end_tape)
        started = self.clock.now
        run = driver.run(event, document)
        simulated = self.clock.now - started
        if not run.complete:
            raise SystemExit(f"{name}: the request failed: {run.error}")
        left = differences(self.fake.state(), expected)
        if left:
            raise SystemExit(f"{name}: the warehouse does not match the model: {left[:3]}")
        new = [s for i, s in self.api.statements.items() if i not in ids_before]
        peak, plans = replayed(self.tapes) if self.measure_memory else (None, list(self.plans))
        batches = sum(1 for s in new if s.name.endswith(APPLY_STEPS))
        minimum = math.ceil(statements / MAX_BATCH_STATEMENTS)
        calls = Counter(self.api.calls) - calls_before
        return {
            "scenario": name, "statements": statements, "batches": batches, "min_batches": minimum,
            "data_api_calls": dict(sorted(calls.items())),
            "lambda_invocations": run.invocations, "plans_computed": len(self.plans),
            "plan_cpu_s": round(plans[0], 3) if plans else 0.0,
            "simulated_s": round(simulated, 1),
            "overhead": round(simulated / (minimum * self.latency.batch), 3) if minimum else None,
            "execution_s": round(sum(s.finish - s.created for s in new), 1),
            "describe_per_batch": round(calls["DescribeStatement"] / len(new), 2) if new else None,
            "latency": asdict(self.latency),
            "peak_rss_mb": peak,
            "lambda_memory_mb": HANDLER_MEMORY_MB,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roles", type=int, default=1000)
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--batch-latency", type=float, default=1.0, help="seconds one Data API batch runs")
    parser.add_argument("--call-latency", type=float, default=0.05, help="seconds one Data API call takes")
    parser.add_argument("--statement-latency", type=float, default=0.0, help="seconds per statement of a batch")
    parser.add_argument("--object-latency", type=float, default=0.0,
                        help="seconds per object a batch's statements cover")
    parser.add_argument("--status-lag", type=float, default=0.0,
                        help="seconds between a batch's end and its status saying so")
    parser.add_argument("--page-bytes", type=int, default=1_000_000, help="GetStatementResult page size")
    parser.add_argument("--scenarios", default="create,noop,change,delete")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-invocation memory replay")
    parser.add_argument("--ignore-budget", action="store_true", help="simulate a model the estimate refuses")
    parser.add_argument("--role-quota", type=int, help="the workgroup's role quota (default: not checked)")
    parser.add_argument("--no-long-polling", action="store_true",
                        help="a client whose boto3 predates WaitTimeSeconds (the runtime then polls)")
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario")
    args = parser.parse_args()

    desired, changed = large_model(args.roles, args.tables), changed_model(args.roles, args.tables)
    latency = Latency(args.batch_latency, args.call_latency, args.statement_latency, args.object_latency,
                      args.status_lag)
    bench = Bench(latency, args.page_bytes, not args.no_memory, args.role_quota, not args.no_long_polling)
    wanted = args.scenarios.split(",")
    where = f"{args.roles} roles x {args.tables} tables"
    if args.role_quota is not None:
        try:
            check_role_quota(desired, args.role_quota, where=where, setting="--role-quota")
        except RoleQuotaError as error:
            _print({"scenario": "create", "refused_before_deploy": str(error), "roles": error.roles,
                    "role_quota": error.quota}, args.json)
            return
    estimated: float | None = None
    try:
        estimated = check_apply_budget(desired, [], where=where, terms=latency.estimate_terms(),
                                       terms_from="the bench's latency model").seconds
    except ApplyBudgetError as error:
        if not args.ignore_budget:
            _print({"scenario": "create", "refused_before_deploy": str(error),
                    "statements": error.statements, "batches": error.batches,
                    "estimated_s": error.estimated_seconds}, args.json)
            return
    plans = [("create", "Create", desired, "v1"), ("noop", "Update", desired, "v1-again"),
             ("change", "Update", changed, "v2"), ("delete", "Delete", None, "v2")]
    last = max(index for index, (name, *_) in enumerate(plans) if name in wanted)
    for name, request_type, model, model_hash in plans[:last + 1]:  # each scenario starts where the last ended
        bench.measure_memory = not args.no_memory and name in wanted
        figures = bench.scenario(name, request_type, model, model_hash)
        if name == "create" and estimated is not None:
            figures["estimated_s"] = round(estimated, 1)  # the budget check's, margin included
        if name in wanted:
            _print(figures, args.json)


def _print(figures: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(figures, sort_keys=False))
    else:
        print("  ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()

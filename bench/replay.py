"""Replays one is-complete invocation taped by `deploy_sim.py`, alone in a fresh process, to measure what a
Lambda running it would hold: its peak RSS (boto3 loaded, no simulated warehouse beside it) and the CPU
seconds of each plan it computed, printed as JSON.

    python bench/replay.py <tape>     (run by deploy_sim.py; the tape is its pickle of the invocation)

Only the runtime and boto3 are imported here, as in the Lambda.
"""

from __future__ import annotations

import io
import json
import pickle
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redshift_idc.runtime import reconciler as reconciler_module


@dataclass
class Tape:
    """Everything one is_complete invocation received, in order: replayed in a fresh process to measure
    the memory that invocation alone needs."""

    event: dict[str, Any]
    context_id: str
    document: bytes
    records: list[tuple[str, Any]] = field(default_factory=list)  # ("call", (name, response | error)), ("clock", v)
    long_polling: bool = True  # whether the recorded client had WaitTimeSeconds (the runtime then waited in calls)


class _ReplayClient:
    def __init__(self, records: Iterator[tuple[str, Any]]) -> None:
        import botocore.session

        self._records = records
        # A boto3 client's own model, as in Lambda: the runtime reads it to decide on long polling.
        self.meta = SimpleNamespace(service_model=botocore.session.get_session().get_service_model("redshift-data"))

    def __getattr__(self, name: str) -> Any:
        def call(**_: Any) -> Any:
            kind, (called, response) = next(self._records)
            assert kind == "call" and called == name, f"replay expected {called}, the handler called {name}"
            if isinstance(response, BaseException):
                raise response
            return response
        return call


class _ReplayClock:
    def __init__(self, records: Iterator[tuple[str, Any]]) -> None:
        self._records = records

    def _next(self) -> float:
        kind, value = next(self._records)
        assert kind == "clock", f"replay expected a {kind}, the handler read the clock"
        return float(value)

    def monotonic(self) -> float:
        return self._next()

    def time(self) -> float:
        return self._next()

    def sleep(self, seconds: float) -> None:
        pass


def replay(path: Path) -> None:
    """One invocation from its tape; prints its peak RSS in MB and the CPU seconds of each plan it
    computed, as JSON. The heap is what a Lambda's would be (no simulated warehouse beside it), so the
    plans' CPU time includes only the garbage collection a Lambda would do."""
    import boto3  # noqa: F401 -- loaded like in Lambda, so it counts

    from redshift_idc.runtime.data_api import DataApi, Target
    from redshift_idc.runtime.reconcile_handler import is_complete

    plans = timed_plans(repeat=3)

    handle = path.open("rb")
    tape: Tape = pickle.load(handle)  # noqa: S301 -- our own file, written by the parent process

    def stream() -> Iterator[tuple[str, Any]]:
        """One record at a time: the replay holds only what the handler itself keeps."""
        while True:
            try:
                yield pickle.load(handle)  # noqa: S301
            except EOFError:
                return

    records = stream()

    class S3:
        def get_object(self, **_: Any) -> dict[str, Any]:
            return {"Body": io.BytesIO(tape.document)}

    props = tape.event["ResourceProperties"]
    api = DataApi(Target(props["WorkgroupName"], props["Database"], props["SecretArn"]), _ReplayClient(records),
                  long_polling=tape.long_polling)
    context = type("Context", (), {"aws_request_id": tape.context_id})()
    is_complete(tape.event, context, api=api, s3=S3(), clock=_ReplayClock(records))
    print(json.dumps({"peak_rss_mb": _peak_rss_kb() / 1024, "plans_cpu_s": plans}))


def timed_plans(repeat: int = 1) -> list[float]:
    """Wrap the planner as the reconciler calls it: the CPU seconds of each call land in the list. With
    `repeat`, each call is computed that many times (the planner is a pure function) and the fastest
    counts, as `timeit` does: what is left is the plan's own cost, not the machine's noise."""
    namespace = vars(reconciler_module)
    original = namespace["plan"]
    seconds: list[float] = []

    def timed(*args: Any, **kwargs: Any) -> Any:
        fastest = float("inf")
        for _ in range(repeat - 1):  # first, so that only one plan is ever held (the peak memory counts)
            started = time.process_time()
            original(*args, **kwargs)
            fastest = min(fastest, time.process_time() - started)
        started = time.process_time()
        result = original(*args, **kwargs)
        seconds.append(min(fastest, time.process_time() - started))
        return result
    namespace["plan"] = timed
    return seconds


def _peak_rss_kb() -> float:
    """This process's high-water RSS. Linux's VmHWM belongs to the address space exec made; ru_maxrss
    would also count the parent's RSS at fork time."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


if __name__ == "__main__":
    replay(Path(sys.argv[1]))

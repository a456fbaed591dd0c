"""`make synth`'s synth command against a bare one-bucket CDK app (`bench/bare_app.py`), timed interleaved
(prints figures; not a test).

    .venv/bin/python bench/synth_timing.py [--pairs 5] [--env demo]

Both run the pinned CLI from the checkout's root, `npx cdk synth --quiet --no-notices -o <a temporary folder>`, so
both read the same cdk.json (its feature flags) and Node starts the same way: the project's app with `-c env=ENV`
as `make synth` runs it, the bare app through `--app`. `make synth`'s install check and its summary after the synth
are not timed: the first is a no-op once installed, the second is a command of its own.

One unmeasured run of each warms the caches first. Each pair then runs both, the order alternating from pair to
pair, so that neither always runs on a machine the other has just warmed or loaded (the machine may be shared: the
pairs are printed, not just the median). The figure to quote is the median of the pairs' wall-time ratios. Each run's
CPU time (user + system, of the whole process tree: npx, the CLI, Python and jsii's Node) is printed too: on a
loaded machine it moves less than wall time does, so its ratio tells load from change. Run it after `make install`.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The Makefile's synth recipe, less its output folder (tests/test_synth_timing.py holds the two equal).
SYNTH = ["npx", "cdk", "synth", "--quiet", "--no-notices"]
BARE_APP = ".venv/bin/python bench/bare_app.py"
# What the Makefile exports to every command: jsii's banners about the Node version.
MAKE_ENVIRONMENT = {"JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
                    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def project_command(env: str, out: Path) -> list[str]:
    return [*SYNTH, "-o", str(out), "-c", f"env={env}"]


def bare_command(out: Path) -> list[str]:
    return [*SYNTH, "--app", BARE_APP, "-o", str(out)]


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float  # user + system seconds of every process the run started (each was waited for)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def adopt_orphans() -> None:
    """Become the child subreaper (Linux prctl PR_SET_CHILD_SUBREAPER): the project's app ends without waiting for
    jsii's Node process (`app_start.leave`), which then ends on its own, reparented to us instead of init, so its
    CPU is counted once `reap` has waited for it. Elsewhere nothing changes (and the CPU figure may miss it)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def reap() -> None:
    """Wait for every process left over from a run (adopted orphans), so its CPU counts and the next run starts
    on a machine it no longer loads."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def timed(command: list[str]) -> Run:
    """One run's wall seconds (until the CLI returns, as `make synth` waits) and CPU seconds (every process it
    started, the Node processes that end after it included); a failed run stops the benchmark with the CLI's own
    words."""
    cpu = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, **MAKE_ENVIRONMENT},  # noqa: S603 (fixed arguments)
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    reap()
    run = Run(wall, children_cpu() - cpu)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--env", default="demo", help="the environment make synth synthesizes (config/ENV.yaml)")
    args = parser.parse_args()
    if not (ROOT / ".venv/bin/python").exists() or not (ROOT / "node_modules/.bin/cdk").exists():
        sys.exit("no .venv or node_modules in the checkout: run `make install` first")
    adopt_orphans()

    with tempfile.TemporaryDirectory(prefix="synth-timing-") as folder:
        project = project_command(args.env, Path(folder) / "project")
        bare = bare_command(Path(folder) / "bare")
        timed(project)
        timed(bare)
        pairs: list[tuple[Run, Run]] = []
        for pair in range(1, args.pairs + 1):
            project_first = pair % 2 == 1
            if project_first:
                project_run = timed(project)
                bare_run = timed(bare)
            else:
                bare_run = timed(bare)
                project_run = timed(project)
            pairs.append((project_run, bare_run))
            print(f"pair {pair} ({'make synth' if project_first else 'bare app'} first): "
                  f"make synth {project_run.wall:.2f} s (CPU {project_run.cpu:.2f} s), "
                  f"bare app {bare_run.wall:.2f} s (CPU {bare_run.cpu:.2f} s), "
                  f"ratio {project_run.wall / bare_run.wall:.2f} (CPU {project_run.cpu / bare_run.cpu:.2f})",
                  flush=True)
    median = statistics.median
    print(f"median of {args.pairs} pairs (env {args.env}): ratio {median(p.wall / b.wall for p, b in pairs):.2f} "
          f"(CPU {median(p.cpu / b.cpu for p, b in pairs):.2f}); make synth {median(p.wall for p, _ in pairs):.2f} s "
          f"(CPU {median(p.cpu for p, _ in pairs):.2f} s), bare app {median(b.wall for _, b in pairs):.2f} s "
          f"(CPU {median(b.cpu for _, b in pairs):.2f} s)")


if __name__ == "__main__":
    main()

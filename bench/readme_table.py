"""The README's "Measured" table from `deploy_sim.py --json` runs (prints Markdown; not a test).

    .venv/bin/python bench/deploy_sim.py --roles 100 --tables 20 <model A> --json > 100-A.json
    ...
    .venv/bin/python bench/readme_table.py "100 x 20=A=100-A.json" "100 x 20=B=100-B.json" ...

Each argument is `<model>=<latency model's name>=<file>`, the file holding one JSON object per scenario; the rows
come in the order given, a file's scenarios in its order. A figure a run did not measure (the estimate outside
create, the peak memory of a run with --no-memory) is `-`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HEADER = ("| model | latency | scenario | statements | batches | Data API calls | of them DescribeStatement "
          "| invocations | plan CPU s | simulated s | estimated s | peak MB (of 1,024) |")


def row(model: str, latency: str, figures: dict[str, Any]) -> str:
    """One scenario's row, numbers as the README writes them."""
    calls = figures["data_api_calls"]

    def shown(value: Any) -> str:
        return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
    cells = [model, latency, figures["scenario"], shown(figures["statements"]), shown(figures["batches"]),
             shown(sum(calls.values())), shown(calls.get("DescribeStatement", 0)), shown(figures["lambda_invocations"]),
             shown(figures["plan_cpu_s"]), shown(figures["simulated_s"]), shown(figures.get("estimated_s")),
             shown(figures.get("peak_rss_mb"))]
    return "| " + " | ".join(cells) + " |"


def main(arguments: list[str]) -> None:
    print(HEADER)
    print("|" + "---|" * HEADER.count(" | ") + "---|")
    for argument in arguments:
        model, latency, path = argument.split("=", 2)
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                print(row(model, latency, json.loads(line)))


if __name__ == "__main__":
    main(sys.argv[1:])

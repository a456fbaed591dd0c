"""Access preview benchmark (prints figures; not a test): the demo, and P personas x T tables x R rows.

    .venv/bin/python bench/preview_scale.py [--personas 100] [--tables 20] [--rows 1000]

The large case: P IdC groups (one persona each), T tables of R sample rows (CSV files), every table with
RLS on, ten region policies attached to the groups in turn, SELECT and USAGE for every group.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redshift_idc.access.model import parse_model
from redshift_idc.access.preview.build import build_preview

REGIONS = [f"region-{i}" for i in range(10)]


def large(personas: int, tables: int, rows: int, folder: Path) -> dict[str, object]:
    groups = [f"group-{i:03d}" for i in range(personas)]
    names = [f"sales.t{t:02d}" for t in range(tables)]
    for name in names:
        lines = ["id,region,amount"] + [f"{i},{REGIONS[i % len(REGIONS)]},{i * 3}" for i in range(rows)]
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")
    return {
        "tables": {n: ["id", "region", "amount"] for n in names},
        "roles": {"idc_groups": groups},
        "schema_grants": [{"schema": "sales", "privileges": ["USAGE"], "to": groups}],
        "table_grants": [{"all_tables_in": "sales", "privileges": ["SELECT"], "to": groups}],
        "rls": {"policies": [{"name": f"only_{r.replace('-', '_')}", "with": {"region": "VARCHAR(20)"},
                              "using": f"region = '{r}'",
                              "attach": [{"table": n, "to": groups[i::len(REGIONS)]} for n in names]}
                             for i, r in enumerate(REGIONS)],
                "tables": [{"table": n} for n in names]},
        "sample_data": {n: f"{n}.csv" for n in names},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--personas", type=int, default=100)
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()

    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "redshift_idc", "preview", "--env", "demo"], check=True,
                   capture_output=True, cwd=Path(__file__).resolve().parent.parent)
    print(f"demo preview (python -m redshift_idc preview --env demo, a fresh process): "
          f"{time.perf_counter() - started:.2f} s wall")

    with tempfile.TemporaryDirectory() as folder:
        data = large(args.personas, args.tables, args.rows, Path(folder))
        started = time.perf_counter()
        compiled = parse_model(data, name="bench", source=Path(folder) / "bench.yaml")
        model, desired = compiled.model, compiled.desired
        result = build_preview(model, desired, [], "AWSIDC", Path(folder))
        elapsed = time.perf_counter() - started
        shown = sum(len(t.rows) for p in result.personas for t in p.tables)
        print(f"{args.personas} personas x {args.tables} tables x {args.rows} rows: {elapsed:.2f} s wall "
              f"(model, sample rows and preview), {shown:,} visible rows in all, {len(result.warnings)} warnings")


if __name__ == "__main__":
    main()

"""Scale: the sessions statistics of 100 million rows, by DuckDB, Spark (local mode) and a pandas groupby.

Run from the repository root: .venv/bin/python benchmarks/bench_scale.py [big rows] [small rows]
(defaults 100,000,000 and 100,000; the Parquet files go to a temporary folder, deleted at the end).

For each size, in a fresh child process each (so every peak resident memory is that process's own):
1. **duckdb**: the project's own path: `load_sessions` (read, clean every rule, count the reasons,
   keep the cleaned rows in the engine) then `segment_counts` (sessions and purchases per customer
   type x month), then both purchase-rate models fitted on those counts (independent, hierarchical);
2. **spark**: the same, with `SparkEngine` in local mode (`local[*]`); its start-up is timed apart;
3. **pandas**: the peer: `pandas.read_parquet` of the three columns and a `groupby` (no cleaning),
   on the big size only up to PANDAS_MAX_ROWS (beyond, it needs the rows in memory).
The three must give the same cell counts (asserted). Printed: seconds, rows per second per core,
peak resident memory, and fit time on the big size against the small one. No assertions on times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PANDAS_MAX_ROWS = 20_000_000
CHILD = r"""
import json, resource, sys, time, warnings, logging
warnings.simplefilter("ignore")
logging.getLogger("pymc").setLevel(logging.ERROR)
kind, path = sys.argv[1], sys.argv[2]
out = {}
start = time.perf_counter()
if kind == "pandas":
    import pandas as pd
    frame = pd.read_parquet(path, columns=["CustomerType", "Month", "Purchase"])
    frame["Month"] = frame["Month"].replace({"June": "Jun"})
    grouped = frame.groupby(["CustomerType", "Month"])["Purchase"].agg(["size", "sum"])
    cells = {f"{s}/{m}": [int(r["size"]), int(r["sum"])] for (s, m), r in grouped.iterrows()}
    out["statistics"] = time.perf_counter() - start
else:
    from shopper_bayes.config import load_config
    from shopper_bayes.datasets.sessions import SessionsConfig, load_sessions
    from shopper_bayes.engine.base import connect
    from shopper_bayes.engine.cells import segment_counts
    engine = connect(kind)
    out["start"] = time.perf_counter() - start
    start = time.perf_counter()
    loaded = load_sessions(SessionsConfig(path=path), ("segment", "month"), filtered=False, engine=engine)
    counts = segment_counts(loaded, ["segment", "month"])
    out["statistics"] = time.perf_counter() - start
    out["cleaning"] = loaded.cleaning.to_dict()
    cells = {f"{s}/{m}": [int(counts["sessions"].sel(segment=s, month=m)), int(counts["purchases"].sel(segment=s, month=m))]
             for s in counts["segment"].values for m in counts["month"].values if counts["sessions"].sel(segment=s, month=m) > 0}
    if kind == "duckdb":
        from shopper_bayes.analyses.purchase_rates.model import build_model
        from shopper_bayes.inference.fit import sample
        config = load_config("config.yaml")
        start = time.perf_counter()
        for model in ("independent", "hierarchical"):
            sample(build_model(counts, config.rates, model), config.sampler, config.seed)
        out["fit"] = time.perf_counter() - start
    engine.close()
out["cells"] = cells
out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def child(kind: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    if done.returncode:
        raise SystemExit(f"{kind} on {path.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from shopper_bayes.generate import write

    big = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000_000
    small = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    cores = os.cpu_count()
    print(f"{cores} cores; rows per second per core = rows / seconds / cores used "
          f"(DuckDB and Spark use {cores}, pandas 1)")
    with tempfile.TemporaryDirectory() as folder:
        results = {}
        for rows in (small, big):
            path = Path(folder) / f"sessions-{rows}.parquet"
            write("sessions", rows, 1, path)
            kinds = ["duckdb", "spark"] + (["pandas"] if rows <= PANDAS_MAX_ROWS else [])
            results[rows] = {kind: child(kind, path) for kind in kinds}
            cells = {kind: result["cells"] for kind, result in results[rows].items()}
            assert all(value == cells["duckdb"] for value in cells.values()), "the engines disagree"
            for kind, result in results[rows].items():
                used = 1 if kind == "pandas" else cores
                extra = f", start-up {result['start']:.1f} s" if kind == "spark" else ""
                fit = f", fit both models {result['fit']:.1f} s" if "fit" in result else ""
                print(f"{rows:>13,} rows  {kind:<7} statistics {result['statistics']:7.1f} s "
                      f"({rows / result['statistics'] / used:,.0f} rows/s/core), peak {result['peak_mib']:,.0f} MiB{extra}{fit}")
            path.unlink()
        ratio = results[big]["duckdb"]["fit"] / results[small]["duckdb"]["fit"]
        print(f"fit time, {big:,} rows against {small:,}: {ratio:.2f}x (target: within 2x)")
        print("cleaning on the big size:", json.dumps(results[big]["duckdb"]["cleaning"]))


if __name__ == "__main__":
    main()

"""Scale: a whole `shopper-bayes run` on generated sessions and transactions, with the engine's share timed.

Run from the repository root:

    .venv/bin/python benchmarks/bench_scale_run.py --rows 100000000 --small 100000 [--data /tmp/scale-data]

1. Generates (unless already there, seed 1) in ``--data``: ``rows`` sessions and transactions of
   ``rows / 4.283`` customers (about ``rows`` transactions), and the same for ``--small`` rows.
2. Writes a config beside them: config.yaml with only the ``sessions`` and ``transactions`` datasets
   (or one of them: ``--datasets sessions``) pointing at those files (the generated columns mapped; ``calibration_end`` 2025-03-31 inside the
   generated period; ``clv.statistics: binned``, the setting for large logs, in both runs), every
   other analysis setting as in config.yaml.
3. Runs `shopper-bayes run --config that --output a temporary folder` in a child process for each size,
   big first, with its default workers (analyses of the two datasets in two forked processes), under
   the instrumentation below, and prints per process: seconds inside the engine (every
   ``Engine.scan/sql/fetch/create_table/create_view/lines`` call: reading, cleaning, counting, every
   aggregation, samples drawn by the engine), when its last statistic came (the end of its last engine call of
   more than 0.3 s, counted from the command's start), the analyses' seconds from the run's own timings, and
   the process's peak resident size (VmHWM); then the whole run's wall time and the fit-time ratio
   (whole-run time minus engine time, big over small).
No assertions; the figures go to benchmarks/README.md ("Scale").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRANSACTIONS_PER_CUSTOMER = 4.283  # seed 1: 2,335,000 customers give 10,001,301 transactions

# Runs in the child: patch the engine so each call appends (pid, method, seconds, start, VmHWM) to LOG.
CHILD = r"""
import json, os, sys, time
from pathlib import Path
LOG = sys.argv[1]

def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

from shopper_bayes.engine import base
for cls in (base.DuckDBEngine, base.SparkEngine):
    for name in ("scan", "sql", "fetch", "create_table", "create_view", "lines", "columns"):
        plain = cls.__dict__.get(name)
        if plain is None:
            continue
        def timed(self, *args, _plain=plain, _name=name, **kwargs):
            began = time.time()
            try:
                return _plain(self, *args, **kwargs)
            finally:
                query = next((a for a in reversed(args) if isinstance(a, str)), "")
                with open(LOG, "a") as handle:
                    handle.write(json.dumps({"pid": os.getpid(), "call": _name, "start": began,
                                             "seconds": time.time() - began, "hwm": hwm(), "query": query[:120]}) + "\n")
        setattr(cls, name, timed)

import atexit
from shopper_bayes import runner
plain_analyses = runner._run_analyses
def analyses(*args, **kwargs):
    result = plain_analyses(*args, **kwargs)
    with open(LOG, "a") as handle:
        handle.write(json.dumps({"pid": os.getpid(), "call": "analyses", "timings": result[1], "hwm": hwm()}) + "\n")
    return result
runner._run_analyses = analyses
atexit.register(lambda: open(LOG, "a").write(json.dumps({"pid": os.getpid(), "call": "exit", "hwm": hwm()}) + "\n"))
from shopper_bayes.cli import main
sys.exit(main(sys.argv[2:]))
"""


def generate(data: Path, rows: int) -> tuple[Path, Path]:
    sessions, transactions = data / f"sessions-{rows}.parquet", data / f"transactions-{rows}.parquet"
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    for kind, path, size in (("sessions", sessions, ["--rows", str(rows)]),
                             ("transactions", transactions, ["--customers", str(round(rows / TRANSACTIONS_PER_CUSTOMER))])):
        if not path.exists():
            subprocess.run([sys.executable, "-m", "shopper_bayes.cli", "generate", kind, *size, "--seed", "1",
                            "--out", str(path)], check=True, env=env, cwd=ROOT)
    return sessions, transactions


def config(data: Path, rows: int, sessions: Path, transactions: Path, datasets: str = "sessions,transactions") -> Path:
    """config.yaml with the ads and orders datasets (and their analyses) cut and the generated files mapped; a dataset
    left out of ``datasets`` set to null (its analyses are then skipped)."""
    kept, skipping = [], False
    for line in (ROOT / "config.yaml").read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            skipping = line.split(":")[0] in ("ads", "ad_campaigns", "orders", "demographics")
        if not skipping:
            kept.append(line)
    text = "\n".join(kept) + "\n"
    for old, new in (("path: data/online_shopping_session_data.csv", f"path: {sessions}"),
                     ("path: data/cdnow_transactions.txt", f"path: {transactions}"),
                     ("amount: dollar_value", "amount: amount"), ("quantity: number_of_cds", "quantity: null"),
                     ("category: null ", "category: category "), ("calibration_end: 1997-09-30", "calibration_end: 2025-03-31"),
                     ("statistics: exact ", "statistics: binned ")):
        assert old in text, old
        text = text.replace(old, new, 1)
    for name in ("sessions", "transactions"):
        if name not in datasets.split(","):
            lines, inside = [], False
            for line in text.splitlines():
                if line and not line[0].isspace() and not line.startswith("#"):
                    inside = line.startswith(f"{name}:")
                    if inside:
                        lines.append(f"{name}: null")
                        continue
                if not inside:
                    lines.append(line)
            text = "\n".join(lines) + "\n"
    path = data / (f"scale-{rows}.yaml" if datasets == "sessions,transactions" else f"scale-{rows}-{datasets}.yaml")
    path.write_text(text)
    return path


def run(path: Path, log: Path) -> dict:
    log.unlink(missing_ok=True)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="scale-out-") as output:
        began, began_at = time.perf_counter(), time.time()
        done = subprocess.run([sys.executable, "-c", CHILD, str(log), "run", "--config", str(path), "--output", output,
                               "--quiet"], env=os.environ | {"PYTHONPATH": str(ROOT / "src")}, cwd=ROOT,
                              capture_output=True, text=True)
        wall = time.perf_counter() - began
    failed = f"FAILED ({done.returncode}): {done.stderr.strip()[-1500:]}" if done.returncode else None
    records = [json.loads(line) for line in log.read_text().splitlines()]
    processes: dict[int, dict] = {}
    for record in records:
        entry = processes.setdefault(record["pid"], {"engine": 0.0, "calls": 0, "hwm": 0.0, "analyses": {}, "slowest": [],
                                                     "last": 0.0})
        entry["hwm"] = max(entry["hwm"], record["hwm"])
        if record["call"] == "analyses":
            entry["analyses"].update(record["timings"])
        elif record["call"] != "exit":
            entry["engine"] += record["seconds"]
            entry["calls"] += 1
            entry["slowest"].append((record["seconds"], record["call"], record["query"]))
            if record["seconds"] > 0.3:  # a statistic, not a look at a table's columns
                entry["last"] = max(entry["last"], record["start"] + record["seconds"] - began_at)
    for entry in processes.values():
        entry["slowest"] = sorted(entry["slowest"], reverse=True)[:6]
    return {"wall": wall, "processes": processes, "load": (load_before, os.getloadavg()[0]), "failed": failed}


def show(rows: int, result: dict) -> None:
    print(f"\n{rows:,} rows: whole run {result['wall']:.1f} s (load average {result['load'][0]:.1f} before, "
          f"{result['load'][1]:.1f} after)")
    if result["failed"]:
        print(f"  the run {result['failed']}")
    for pid, entry in result["processes"].items():
        if not entry["calls"] and not entry["analyses"]:
            continue
        analyses = ", ".join(f"{key} {seconds:.1f}" for key, seconds in entry["analyses"].items())
        print(f"  process {pid}: engine {entry['engine']:.1f} s in {entry['calls']} calls, its last statistic "
              f"{entry['last']:.1f} s after the command started, peak {entry['hwm']:,.0f} MiB")
        print(f"    analyses (s): {analyses}")
        for seconds, call, query in entry["slowest"]:
            print(f"    {seconds:7.1f} s {call}: {query[:100]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "scale-data")
    parser.add_argument("--sizes", default="big,small", help="which runs: big, small or both (big,small)")
    parser.add_argument("--datasets", default="sessions,transactions",
                        help="which datasets the runs read: sessions, transactions or both (sessions,transactions)")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    results = {}
    for label in args.sizes.split(","):
        rows = args.rows if label == "big" else args.small
        sessions, transactions = generate(args.data, rows)
        results[rows] = run(config(args.data, rows, sessions, transactions, args.datasets),
                            args.data / f"engine-calls-{rows}.jsonl")
        show(rows, results[rows])
    if len(results) == 2 and not any(result["failed"] for result in results.values()):
        big, small = (results[args.rows], results[args.small])
        fit = lambda r: r["wall"] - max(e["engine"] for e in r["processes"].values())  # noqa: E731
        print(f"\nwhole run minus the engine's time (largest per process): {fit(big):.1f} s against {fit(small):.1f} s, "
              f"{fit(big) / fit(small):.2f}x")


if __name__ == "__main__":
    main()

"""Per-customer summary of 10 million transactions: the project's DuckDB engine and Spark against a pandas groupby.

Run from the repository root: .venv/bin/python benchmarks/bench_transactions.py [--customers N] [--repeats R]
                             [--memory-limit 1GB] [--spark]

1. Generate: shopper_bayes.generate.transactions.write (seed 1) writes a transaction log of
   CUSTOMERS customers (about 4.3 transactions each: 10.0 million rows) to Parquet in a temporary
   folder under /tmp, deleted at the end. Timed, reported apart.
2. Ours, from the file: the project's engine (``DuckDBEngine()``, its own settings: memory limit
   500MB, spilling to a temporary folder, freed memory returned to the system) runs
   shopper_bayes.datasets.transactions.customer_summary over the Parquet file (a relation of the
   engine's connection, customer_id renamed customer), observation_end the generator's last day, time
   unit day: one SQL query (a window ordered by day within each customer, one aggregation per customer,
   amounts summed as DECIMAL), the result fetched through Arrow. It also computes frequency, recency,
   T and monetary value, which the peer does not.
3. Ours, a user's run: the engine loads the file as the transactions dataset (shopper_bayes.datasets.
   transactions.load: the date format sniffed, every cleaning rule, the cleaned rows kept as a table
   in the engine's database file), then customer_summary of the loaded table. Each step timed; peak of
   each step (the high-water mark is reset between them through /proc/self/clear_refs).
4. With ``--spark``, the same user's run on the Spark engine in local mode (``SparkEngine()``,
   ``local[*]``): its start-up (the JVM and the session) timed apart, then the load and the summary.
5. Peer: plain pandas. pandas.read_parquet of the three columns, dates parsed with pd.to_datetime
   (the read), then one DataFrame.groupby("customer_id").agg (the summary): first and last purchase
   (min, max of the day), purchase days (nunique of the day), transactions (size) and revenue (sum of
   the amount). Each step timed.
Each measurement runs in a fresh child process that reports its wall times (imports excluded) and
peak resident size (VmHWM in /proc/self/status, read before it writes its summary to disk for the
check), so no two share a high-water mark. A child that only imports a side's modules gives its
fixed part. Each side runs ``--repeats`` times, the order rotating; the best time and the largest
peak are kept, and each rotation's time ratios are printed too (runs close in time, so under the
same load of a shared machine).
Printed per side: rows per second per core (transactions / seconds / cores) of the step that turns
the rows into the summary (for ours and the peer from the file: reading included).
Check: the summaries have the same customers, first and last purchase, purchase days and
transactions (equal) and revenue (equal to the cent). No assertions on times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CUSTOMERS = 2_335_000  # 10,001,301 transactions with seed 1
SEED = 1
KINDS = ("ours", "engine", "peer")
CORES = os.cpu_count() or 1


def peak_resident_mib() -> float:
    """This process's peak resident size (VmHWM). Not getrusage's ru_maxrss: on Linux that carries the
    parent's peak over fork and exec, so a child started by a large parent reports the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (this benchmark needs Linux)")


def reset_peak() -> None:
    """Start a new high-water mark at the current resident size (Linux: 5 to /proc/self/clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def child(kind: str, data: str, out: str, end: str, limit: str) -> None:
    """Run one measurement in this process and print it as JSON: seconds and peak MiB per step (``read``
    or ``load``, then ``summary``). Each side imports only what it uses; ``imports-*`` stop there."""
    import pandas as pd

    if kind in ("ours", "engine", "imports-ours", "imports-engine"):
        from shopper_bayes.datasets.transactions import (
            TransactionsSettings,
            customer_summary,
            load,
        )
        from shopper_bayes.engine.base import DuckDBEngine
    if kind == "spark":
        from shopper_bayes.datasets.transactions import TransactionsSettings, customer_summary, load
        from shopper_bayes.engine.base import SparkEngine
    steps = {}
    if kind == "ours":
        engine = DuckDBEngine(*[limit] if limit else [])
        start = time.perf_counter()
        relation = engine.con.sql("SELECT customer_id AS customer, date, amount FROM read_parquet($path)",
                                  params={"path": data})
        summary = customer_summary(relation, end, "day")
        steps["summary"] = (time.perf_counter() - start, peak_resident_mib())
        engine.close()
    elif kind == "engine":
        settings = TransactionsSettings(path=Path(data), observation_end=end, time_unit="day", columns={
            "customer": "customer_id", "date": "date", "amount": "amount", "category": "category"})
        engine = DuckDBEngine(*[limit] if limit else [])
        start = time.perf_counter()
        loaded = load(settings, engine=engine)
        steps["load"] = (time.perf_counter() - start, peak_resident_mib())
        reset_peak()
        start = time.perf_counter()
        summary = customer_summary(loaded, end, "day")
        steps["summary"] = (time.perf_counter() - start, peak_resident_mib())
        engine.close()
    elif kind == "spark":
        settings = TransactionsSettings(path=Path(data), observation_end=end, time_unit="day", columns={
            "customer": "customer_id", "date": "date", "amount": "amount", "category": "category"})
        start = time.perf_counter()
        engine = SparkEngine()
        steps["start-up"] = (time.perf_counter() - start, peak_resident_mib())
        start = time.perf_counter()
        loaded = load(settings, engine=engine)
        steps["load"] = (time.perf_counter() - start, peak_resident_mib())
        start = time.perf_counter()
        summary = customer_summary(loaded, end, "day")
        steps["summary"] = (time.perf_counter() - start, peak_resident_mib())
        engine.close()
    elif kind == "peer":
        start = time.perf_counter()
        frame = pd.read_parquet(data, columns=["customer_id", "date", "amount"])
        frame["day"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
        steps["read"] = (time.perf_counter() - start, peak_resident_mib())
        start = time.perf_counter()
        summary = frame.groupby("customer_id").agg(first_purchase=("day", "min"), last_purchase=("day", "max"),
                                                   purchase_days=("day", "nunique"), transactions=("day", "size"),
                                                   revenue=("amount", "sum"))
        steps["summary"] = (time.perf_counter() - start, peak_resident_mib())
    else:
        steps["imports"] = (0.0, peak_resident_mib())
    if kind in (*KINDS, "spark"):
        if kind != "peer":
            summary = summary.rename(columns={"customer": "customer_id"}).set_index("customer_id")
        columns = ["first_purchase", "last_purchase", "purchase_days", "transactions", "revenue"]
        frame = summary[columns].reset_index()
        frame["customer_id"] = frame["customer_id"].astype(str)
        frame["revenue"] = frame["revenue"].astype(float)
        frame.to_parquet(out, index=False)
    print(json.dumps({step: {"seconds": seconds, "peak_mib": peak} for step, (seconds, peak) in steps.items()}))


def run_child(kind: str, data: Path, out: Path, end: str, limit: str = "") -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", kind, str(data), str(out), end, limit],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"the {kind} child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check(ours: Path, peer: Path) -> str:
    """The two summaries agree: same customers, dates, counts; revenue to the cent."""
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(ours).sort_values("customer_id").reset_index(drop=True)
    b = pd.read_parquet(peer).sort_values("customer_id").reset_index(drop=True)
    assert len(a) == len(b) and (a["customer_id"].to_numpy() == b["customer_id"].to_numpy()).all(), "customers differ"
    for column in ("first_purchase", "last_purchase"):
        assert (pd.to_datetime(a[column]).to_numpy() == pd.to_datetime(b[column]).to_numpy()).all(), column
    for column in ("purchase_days", "transactions"):
        assert (a[column].to_numpy() == b[column].to_numpy()).all(), column
    cents = np.abs(a["revenue"].to_numpy() - b["revenue"].to_numpy()).max()
    assert cents < 0.005, f"revenue differs by up to {cents}"
    return f"{len(a):,} customers equal in every column (revenue: largest difference {cents:.2g})"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def shown(result: dict) -> str:
    return "; ".join(f"{step} {r['seconds']:.1f} s, peak {r['peak_mib']:.0f} MiB" for step, r in result.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--spark", action="store_true", help="also the Spark engine in local mode (a JVM start-up)")
    parser.add_argument("--memory-limit", default="", help="DuckDB's memory_limit, e.g. 1GB; default: the engine's own (500MB)")
    args = parser.parse_args()

    import duckdb
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from shopper_bayes.generate.transactions import TransactionsGenerator, write

    print(f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, pandas {pd.__version__}, "
          f"pyarrow {pa.__version__}, numpy {np.__version__}; {os.cpu_count()} CPUs; load average {load_average()}")
    folder = Path(tempfile.mkdtemp(prefix="bench-transactions-", dir="/tmp"))
    try:
        data = folder / "transactions.parquet"
        start = time.perf_counter()
        rows, _ = write(args.customers, SEED, data)
        print(f"generated {rows:,} transactions of {args.customers:,} customers in {time.perf_counter() - start:.1f} s "
              f"({data.stat().st_size / 2**20:.0f} MiB Parquet)")
        end = TransactionsGenerator().parameters()["observation_end"]
        for kind in ("ours", "peer"):
            base = run_child(f"imports-{kind}", data, folder / "none.parquet", end)
            print(f"{kind}, imports only: peak resident size {base['imports']['peak_mib']:.0f} MiB")
        kinds = (*KINDS, "spark") if args.spark else KINDS
        runs = {kind: [] for kind in kinds}
        for repeat in range(args.repeats):
            for kind in kinds[repeat % len(kinds):] + kinds[:repeat % len(kinds)]:
                result = run_child(kind, data, folder / f"{kind}.parquet", end, args.memory_limit)
                runs[kind].append(result)
                print(f"  {kind}: {shown(result)} (load average {load_average()})")
        best = {kind: {step: (min(r[step]["seconds"] for r in results), max(r[step]["peak_mib"] for r in results))
                       for step in results[0]} for kind, results in runs.items()}
        for kind in ("ours", "engine", *(["spark"] if args.spark else [])):
            print(f"check {kind} against peer: {check(folder / f'{kind}.parquet', folder / 'peer.parquet')}")
        ours, engine, peer = best["ours"]["summary"], best["engine"], best["peer"]
        peer_total = min(r["read"]["seconds"] + r["summary"]["seconds"] for r in runs["peer"])
        peer_peak = max(peer["read"][1], peer["summary"][1])
        engine_peak = max(engine["load"][1], engine["summary"][1])
        limit = args.memory_limit or "the engine's (500MB)"
        print(f"DuckDB memory limit: {limit}")
        print(f"from the file:  ours, customer_summary over the Parquet file  {ours[0]:6.1f} s  peak {ours[1]:6.0f} MiB")
        print(f"                peer, read_parquet + groupby                 {peer_total:6.1f} s  peak {peer_peak:6.0f} MiB")
        print(f"                peer / ours: time {peer_total / ours[0]:.2f}x, peak memory {peer_peak / ours[1]:.2f}x")
        print(f"a user's run:   load (cleaning) {engine['load'][0]:6.1f} s  peak {engine['load'][1]:6.0f} MiB; "
              f"customer_summary of the loaded table {engine['summary'][0]:6.1f} s  peak {engine['summary'][1]:6.0f} MiB")
        print(f"summary step:   peer groupby of the loaded frame {peer['summary'][0]:.1f} s; "
              f"peer / ours: time {peer['summary'][0] / engine['summary'][0]:.2f}x, "
              f"peak memory (whole run) {peer_peak / engine_peak:.2f}x")
        rate = rows / CORES
        print(f"rows per second per core ({CORES} cores), from the rows to the summary: "
              f"ours from the file {rate / ours[0]:,.0f}; peer read + groupby {rate / peer_total:,.0f}; "
              f"loaded table to summary: DuckDB {rate / engine['summary'][0]:,.0f}, "
              f"pandas groupby of the read frame {rate / peer['summary'][0]:,.0f}")
        if args.spark:
            spark = best["spark"]
            print(f"Spark local:    start-up {spark['start-up'][0]:6.1f} s; load (cleaning) {spark['load'][0]:6.1f} s; "
                  f"customer_summary {spark['summary'][0]:6.1f} s; peak (driver process) "
                  f"{max(value[1] for value in spark.values()):.0f} MiB; rows per second per core: summary "
                  f"{rate / spark['summary'][0]:,.0f}, load {rate / spark['load'][0]:,.0f} "
                  f"(DuckDB's load {rate / engine['load'][0]:,.0f})")
        # The load of a shared machine moves between rotations; each rotation's ratios compare runs close in time.
        file_ratios = [(p["read"]["seconds"] + p["summary"]["seconds"]) / o["summary"]["seconds"]
                       for o, p in zip(runs["ours"], runs["peer"])]
        step_ratios = [p["summary"]["seconds"] / e["summary"]["seconds"] for e, p in zip(runs["engine"], runs["peer"])]
        print(f"per rotation, peer / ours: from the file {', '.join(f'{r:.2f}' for r in file_ratios)}; "
              f"summary step {', '.join(f'{r:.2f}' for r in step_ratios)}")
        print(f"load average at the end {load_average()}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:7])
    else:
        main()

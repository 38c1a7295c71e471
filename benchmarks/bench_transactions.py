"""Per-customer summary of 10 million transactions: the project's DuckDB query against a pandas groupby.

Run from the repository root: .venv/bin/python benchmarks/bench_transactions.py [--customers N] [--repeats R]
                             [--duckdb-memory-limit 300MB]

1. Generate: shopper_bayes.generate.transactions.write (seed 1) writes a transaction log of
   CUSTOMERS customers (about 4.3 transactions each: 10.0 million rows) to Parquet in a temporary
   folder under /tmp, deleted at the end. Timed, reported apart.
2. Ours: shopper_bayes.datasets.transactions.customer_summary on a DuckDB relation over the Parquet
   file (customer_id renamed customer), observation_end the generator's last day, time unit day.
   One SQL aggregation: purchases per customer and day, then per customer first and last purchase,
   purchase days, transactions, revenue, and frequency, recency, T and monetary value besides.
   DuckDB's settings are its defaults (all cores, memory limit 80% of RAM), as in the project;
   ``--duckdb-memory-limit`` sets ``memory_limit`` on the connection (DuckDB then spills to disk).
3. Peer: plain pandas. pandas.read_parquet of the three columns, dates parsed with pd.to_datetime,
   one DataFrame.groupby("customer_id").agg: first and last purchase (min, max of the day),
   purchase days (nunique of the day), transactions (size) and revenue (sum of the amount).
Each measurement runs in a fresh child process that reports the wall time of the call (imports
excluded) and its own peak resident size (VmHWM in /proc/self/status, read before it writes its
summary to disk for the check), so the two never share a high-water mark. A child that
only imports a side's modules gives its fixed part. Each side runs ``--repeats`` times, the order of the
two alternating; the best time and the largest peak are kept.
Check: the two summaries have the same customers, first and last purchase, purchase days and
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


def peak_resident_mib() -> float:
    """This process's peak resident size (VmHWM). Not getrusage's ru_maxrss: on Linux that carries the
    parent's peak over fork and exec, so a child started by a large parent reports the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (this benchmark needs Linux)")


def child(kind: str, data: str, out: str, end: str, limit: str) -> None:
    """Run one measurement in this process and print it as JSON. Each side imports only what it uses;
    ``imports-ours`` and ``imports-peer`` stop after the imports."""
    import pandas as pd

    if kind in ("ours", "imports-ours"):
        import duckdb

        from shopper_bayes.datasets.transactions import customer_summary
    start = time.perf_counter()
    if kind == "ours":
        con = duckdb.connect()
        if limit:
            con.execute("SET memory_limit = $limit", {"limit": limit})
        relation = con.sql("SELECT customer_id AS customer, date, amount FROM read_parquet($path)", params={"path": data})
        summary = customer_summary(relation, end, "day")
        con.close()
        summary = summary.rename(columns={"customer": "customer_id"}).set_index("customer_id")
    elif kind == "peer":
        frame = pd.read_parquet(data, columns=["customer_id", "date", "amount"])
        frame["day"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
        summary = frame.groupby("customer_id").agg(first_purchase=("day", "min"), last_purchase=("day", "max"),
                                                   purchase_days=("day", "nunique"), transactions=("day", "size"),
                                                   revenue=("amount", "sum"))
    seconds = time.perf_counter() - start
    peak_mib = peak_resident_mib()
    if kind in ("ours", "peer"):
        columns = ["first_purchase", "last_purchase", "purchase_days", "transactions", "revenue"]
        frame = summary[columns].reset_index()
        frame["customer_id"] = frame["customer_id"].astype(str)
        frame["revenue"] = frame["revenue"].astype(float)
        frame.to_parquet(out, index=False)
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib}))


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


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--duckdb-memory-limit", default="", help="e.g. 300MB; default: DuckDB's own (80%% of RAM)")
    args = parser.parse_args()

    import duckdb
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from shopper_bayes.generate.transactions import TransactionsGenerator, write

    print(f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, pandas {pd.__version__}, "
          f"pyarrow {pa.__version__}, numpy {np.__version__}; {os.cpu_count()} CPUs; load average {load()}")
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
            print(f"{kind}, imports only: peak resident size {base['peak_mib']:.0f} MiB")
        runs = {"ours": [], "peer": []}
        for repeat in range(args.repeats):
            for kind in (("ours", "peer") if repeat % 2 == 0 else ("peer", "ours")):
                result = run_child(kind, data, folder / f"{kind}.parquet", end, args.duckdb_memory_limit)
                runs[kind].append(result)
                print(f"  {kind}: {result['seconds']:.1f} s, peak {result['peak_mib']:.0f} MiB (load average {load()})")
        best = {kind: (min(r["seconds"] for r in results), max(r["peak_mib"] for r in results))
                for kind, results in runs.items()}
        print(f"check: {check(folder / 'ours.parquet', folder / 'peer.parquet')}")
        limit = f", memory_limit {args.duckdb_memory_limit}" if args.duckdb_memory_limit else ""
        print(f"ours, DuckDB customer_summary{limit}: {best['ours'][0]:6.1f} s  peak {best['ours'][1]:6.0f} MiB")
        print(f"peer, pandas groupby:          {best['peer'][0]:6.1f} s  peak {best['peer'][1]:6.0f} MiB")
        print(f"peer / ours: time {best['peer'][0] / best['ours'][0]:.2f}x, peak memory {best['peer'][1] / best['ours'][1]:.2f}x")
        print(f"load average at the end {load()}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:7])
    else:
        main()

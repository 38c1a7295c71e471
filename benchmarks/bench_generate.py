"""Time and peak memory of the mock-data generator against writing the same rows from memory.

Run from the repository root: .venv/bin/python benchmarks/bench_generate.py

Cases: 10,000,000 sessions to Parquet and 1,000,000 sessions to CSV.
- Ours: shopper_bayes.generate.generate, which draws and writes chunks of CHUNK_ROWS rows.
- Peer: the same rows drawn at once (SessionsGenerator.table over all rows), turned into a pandas
  DataFrame and written with DataFrame.to_parquet / DataFrame.to_csv(index=False).
Each measurement runs in a fresh child process that reports the wall time of the call (imports
excluded) and its own peak resident size (resource.getrusage). A child that only imports the
modules gives the fixed part of that size. Each case runs REPEATS times; the best time and the
largest peak are kept.
"""

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 2
CASES = [("parquet", 10_000_000), ("csv", 1_000_000)]


def child(kind: str, fmt: str, rows: int, folder: str) -> None:
    """Run one measurement in this process and print it as JSON."""

    from shopper_bayes.generate.base import SessionsGenerator, generate

    out = Path(folder) / f"sessions.{fmt}"
    start = time.perf_counter()
    if kind == "ours":
        generate("sessions", rows, 1, out)
    elif kind == "peer":
        frame = SessionsGenerator().table(1, 0, rows).to_pandas()
        if fmt == "parquet":
            frame.to_parquet(out, index=False)
        else:
            frame.to_csv(out, index=False)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    size_mib = out.stat().st_size / 2**20 if out.exists() else 0.0
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib, "size_mib": size_mib}))


def measure(kind: str, fmt: str, rows: int) -> dict:
    runs = []
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory(dir=".") as folder:
            done = subprocess.run([sys.executable, __file__, "--child", kind, fmt, str(rows), folder],
                                  capture_output=True, text=True, check=True)
            runs.append(json.loads(done.stdout))
    return {"seconds": min(r["seconds"] for r in runs), "peak_mib": max(r["peak_mib"] for r in runs),
            "size_mib": runs[0]["size_mib"]}


def main() -> None:
    base = measure("imports", "csv", 0)
    print(f"imports only: peak resident size {base['peak_mib']:.0f} MiB")
    for fmt, rows in CASES:
        ours, peer = measure("ours", fmt, rows), measure("peer", fmt, rows)
        print(f"{rows:,} sessions to {fmt} ({ours['size_mib']:.0f} MiB file):")
        print(f"  ours (chunked)          {ours['seconds']:6.1f} s  peak {ours['peak_mib']:6.0f} MiB  "
              f"({rows / ours['seconds'] / 1e6:.2f} M rows/s)")
        print(f"  peer (pandas, in memory) {peer['seconds']:5.1f} s  peak {peer['peak_mib']:6.0f} MiB")
        print(f"  peer / ours: time {peer['seconds'] / ours['seconds']:.2f}x, peak memory {peer['peak_mib'] / ours['peak_mib']:.1f}x")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        main()

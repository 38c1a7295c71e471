"""Scale: how often a whole `shopper-bayes run` cleans the sessions, and the seconds it spends loading them.

Run from the repository root:

    .venv/bin/python benchmarks/bench_clean_once.py --rows 10000000 --data /tmp/clean-data [--src other/src ...]

Generates (unless already there, seed 1, Parquet) ``rows`` sessions in ``--data``, writes a config with
only the sessions dataset and its analyses (config.yaml's settings), and runs `shopper-bayes run` on it
(default workers: two forked processes) once for each ``--src`` folder given (default: this tree's
``src``), alternating ``--repeats`` times, so that code before and after a change is timed back to back.
Per run it prints the whole run's wall time, the load average before and after, the number of passes
that cleaned the raw rows (``create_table`` of a ``*_stage`` or ``*_clean`` table, in any process) and
the seconds spent loading (every ``load_sessions`` call and the run's preparation of cleaned tables,
summed over processes). No assertions; the figures go to benchmarks/README.md.
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

CHILD = r"""
import json, os, sys, time
LOG = sys.argv[1]

INSIDE = [0]  # inside the run's preparation: its loads are counted in its own time


def log(**record):
    with open(LOG, "a") as handle:
        handle.write(json.dumps({"pid": os.getpid(), **record}) + "\n")

from shopper_bayes.engine import base
for cls in (base.DuckDBEngine, base.SparkEngine):
    plain = cls.__dict__["create_table"]
    def create_table(self, name, query, _plain=plain, **how):
        began = time.time()
        try:
            return _plain(self, name, query, **how)
        finally:
            log(call="create_table", name=name, seconds=time.time() - began)
    cls.create_table = create_table

from shopper_bayes.datasets import sessions
plain_load = sessions.load_sessions
def load_sessions(*args, **kwargs):
    began = time.time()
    try:
        return plain_load(*args, **kwargs)
    finally:
        if not INSIDE[0]:
            log(call="load", seconds=time.time() - began)
sessions.load_sessions = load_sessions

from shopper_bayes import runner
if hasattr(runner.Loader, "prepare"):
    plain_prepare = runner.Loader.prepare
    def prepare(self, *args, **kwargs):
        began = time.time()
        INSIDE[0] += 1
        try:
            return plain_prepare(self, *args, **kwargs)
        finally:
            INSIDE[0] -= 1
            log(call="prepare", seconds=time.time() - began)
    runner.Loader.prepare = prepare
from shopper_bayes.cli import main
sys.exit(main(sys.argv[2:]))
"""

OTHER_SECTIONS = ("transactions", "customers_", "ads", "ad_campaigns", "orders", "demographics", "clv")


def config(data: Path, sessions: Path) -> Path:
    """config.yaml with every dataset but the sessions (and their analyses) cut, the generated file mapped."""
    kept, skipping = [], False
    for line in (ROOT / "config.yaml").read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            skipping = line.split(":")[0].startswith(OTHER_SECTIONS)
        if not skipping:
            kept.append(line)
    text = "\n".join(kept) + "\n"
    old = "path: data/online_shopping_session_data.csv"
    assert old in text
    path = data / "sessions-only.yaml"
    path.write_text(text.replace(old, f"path: {sessions}", 1))
    return path


def run(src: Path, path: Path, log: Path) -> dict:
    log.unlink(missing_ok=True)
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="clean-once-") as output:
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, str(log), "run", "--config", str(path), "--output", output,
                               "--quiet"], env=os.environ | {"PYTHONPATH": str(src)}, cwd=ROOT,
                              capture_output=True, text=True)
        wall = time.perf_counter() - began
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    passes = [r for r in records if r["call"] == "create_table" and ("_stage" in r["name"] or "_clean" in r["name"])]
    loading = [r for r in records if r["call"] in ("load", "prepare")]
    return {"wall": wall, "load": (before, os.getloadavg()[0]), "passes": len(passes),
            "pass_seconds": sum(r["seconds"] for r in passes), "loading": sum(r["seconds"] for r in loading),
            "calls": len([r for r in records if r["call"] == "load"]),
            "processes": len({r["pid"] for r in loading}),
            "failed": done.stderr.strip()[-1500:] if done.returncode else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "clean-data")
    parser.add_argument("--src", type=Path, action="append", help="a src folder to run (repeatable); default: this tree's")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    sessions = args.data / f"sessions-{args.rows}.parquet"
    if not sessions.exists():
        subprocess.run([sys.executable, "-m", "shopper_bayes.cli", "generate", "sessions", "--rows", str(args.rows),
                        "--seed", "1", "--out", str(sessions)], check=True,
                       env=os.environ | {"PYTHONPATH": str(ROOT / "src")}, cwd=ROOT)
    path = config(args.data, sessions)
    for repeat in range(args.repeats):
        for src in args.src or [ROOT / "src"]:
            result = run(src.resolve(), path, args.data / "calls.jsonl")
            print(f"{src} (run {repeat + 1}): whole run {result['wall']:.1f} s, load average {result['load'][0]:.1f} "
                  f"before, {result['load'][1]:.1f} after; {result['passes']} cleaning passes "
                  f"({result['pass_seconds']:.1f} s), loading {result['loading']:.1f} s in {result['calls']} load calls "
                  f"in {result['processes']} processes" + (f"; FAILED: {result['failed']}" if result["failed"] else ""),
                  flush=True)


if __name__ == "__main__":
    main()

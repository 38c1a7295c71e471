"""Drivers of conversion at scale: the analysis on 1 million generated sessions and on the bundled 12,054,
against scikit-learn's regularised logistic regression on the same design terms, in the same run.

Run from the repository root: .venv/bin/python benchmarks/bench_drivers.py [--sessions N] [--config PATH]

1. Generate: shopper_bayes.generate.write("sessions", N, seed 1) (default N = 1,000,000) writes Parquet
   to a temporary folder under /tmp, deleted at the end. Timed, reported apart.
2. Ours: the drivers analysis as `shopper-bayes run` runs it: the config's (default config.yaml)
   drivers, sampler and diagnostics sections and seed, sessions.path pointed at the generated file (or
   left as configured: the bundled CSV). The loader reads and cleans every row in DuckDB; above
   drivers.max_rows sessions the engine draws the seeded sample the model is fitted on (drivers.holdout
   of it held out). Stages: load (read and clean), rows to pandas (the sample), design, fit (model
   build with the posterior mode, compile, NUTS, log-likelihood and predictive draws), results
   (effects, held-out scores, LOO, diagnostics).
3. Peer: sklearn.linear_model.LogisticRegression(C=1, lbfgs; L2 penalty 0.5 |beta|^2 with the intercept
   unpenalised: the same Normal(0, 1) prior on every coefficient as ours, no prior on the intercept) on
   the same standardised design terms, scored on our held-out sessions: fitted (a) on every session
   except those held out, as a user with all rows in memory would, and (b) on our training sessions
   only (the same rows as ours); each fit the best of three. The peer loads, samples and builds our
   design first, to know the terms and the held-out sessions; only its own steps are its time.
Each case runs in a fresh child process, which reports each stage's wall time (imports excluded and
timed apart), the CPU time of all its threads, and its peak resident size (VmHWM in /proc/self/status,
not ru_maxrss, which on Linux carries the parent's peak over fork and exec), ours also whether the fit
passed the diagnostics gate. Printed: the fit time on N sessions against the bundled data, and ours
against the peer's. No assertions on times.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this tree's code, whatever the environment has installed
SESSIONS = 1_000_000
SEED = 1
PEER_REPEATS = 3  # the peer's fits are cheap: the best of 3 (its wall time is the most exposed to the machine's load)


def peak_resident_mib() -> float:
    """This process's peak resident size (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (this benchmark needs Linux)")


def configured(data: str, path: str | Path = ROOT / "config.yaml"):
    """The config as `shopper-bayes run` reads it, sessions.path pointed at ``data`` ("bundled": as it is)."""
    from shopper_bayes.config import load_config

    config = load_config(path)
    if data != "bundled":
        config = config.model_copy(update={"sessions": config.sessions.model_copy(update={"path": Path(data)})})
    return config


def context(config, fit=None):
    """The drivers analysis and its Context, as the runner builds them."""
    from shopper_bayes.analyses.base import Context
    from shopper_bayes.config import registry
    from shopper_bayes.runner import Loader

    datasets, analyses = registry(config)
    analysis = next(a for a in analyses if a.key == "drivers")
    loader = Loader(config, {dataset.name: dataset for dataset in datasets})
    return analysis, Context(config=config, settings=config.drivers, load=loader.for_analysis(analysis), fit=fit,
                             seed=config.seed)


class Stages:
    """Wall and CPU seconds (of all the process's threads) per named stage, from wrapped functions."""

    def __init__(self):
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.cpu: dict[str, float] = collections.defaultdict(float)

    def wrap(self, owner, attribute: str, name: str) -> None:
        plain = getattr(owner, attribute)

        @functools.wraps(plain)
        def timed(*args, **kwargs):
            began, cpu = time.perf_counter(), time.process_time()
            try:
                return plain(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - began
                self.cpu[name] += time.process_time() - cpu
        setattr(owner, attribute, timed)


def ours(data: str, path: str) -> dict:
    started = time.perf_counter()
    import nutpie
    import pymc  # noqa: F401  (imported by the first fit; timed with the imports here)

    from shopper_bayes.analyses.drivers import run as drivers
    from shopper_bayes.engine.clean import Table
    from shopper_bayes.inference import compiled, fit
    from shopper_bayes.inference.fit import FitCache
    imports = time.perf_counter() - started
    imports_peak = peak_resident_mib()
    config = configured(data, path)
    stages = Stages()
    stages.wrap(drivers, "load", "load (read, clean)")
    stages.wrap(Table, "frame", "rows to pandas")
    stages.wrap(drivers, "build", "design")
    stages.wrap(FitCache, "fit", "fit")
    stages.wrap(compiled.Compiled, "get", "fit: compile")
    stages.wrap(nutpie, "sample", "fit: NUTS")
    stages.wrap(fit, "_predictive", "fit: log-likelihood, predictive draws")
    analysis, ctx = context(config, FitCache(config.sampler, config.seed).fit)
    cpu, started = time.process_time(), time.perf_counter()
    result = analysis.run(ctx).summary
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    seconds, cpu_seconds = dict(stages.seconds), dict(stages.cpu)
    for spent, whole in ((seconds, total), (cpu_seconds, cpu)):
        spent["fit: model build, posterior mode"] = spent["fit"] - sum(
            value for name, value in spent.items() if name.startswith("fit: "))
        spent["results"] = whole - sum(value for name, value in spent.items() if not name.startswith("fit: "))
    return {"imports": imports, "imports_peak_mib": imports_peak, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "total": total, "cpu": cpu,
            "peak_mib": peak_resident_mib(), "sessions": result.sessions, "train": result.train_sessions,
            "terms": len(result.effects), "draws": result.draws, "gate": result.diagnostics.ok,
            "problems": result.diagnostics.problems, "max_rhat": result.diagnostics.max_rhat,
            "auc": result.holdout.auc, "brier": result.holdout.brier, "calibrated": result.holdout.calibrated}


def peer(data: str, path: str) -> dict:
    started = time.perf_counter()
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from shopper_bayes.analyses.drivers import run as drivers
    from shopper_bayes.analyses.drivers.compute import auc
    from shopper_bayes.analyses.drivers.design import build, split, with_indicators
    imports = time.perf_counter() - started
    imports_peak = peak_resident_mib()
    config = configured(data, path)
    settings = config.drivers
    _, ctx = context(config)
    seconds, cpu = {}, {}

    def stage(name, work):
        began, cpu_began = time.perf_counter(), time.process_time()
        value = work()
        seconds[name], cpu[name] = time.perf_counter() - began, time.process_time() - cpu_began
        return value

    loaded = stage("load (read, clean)", lambda: drivers.load(ctx, settings))
    table, sessions = loaded.table, loaded.cleaning.rows_used
    columns = [*table.columns, "_row"]  # the row number identifies the held-out sessions among all rows

    def ours_design():  # as drivers.run does: the engine's seeded sample above max_rows, else every row
        sample = (table.frame(columns, limit=settings.max_rows, seed=config.seed) if sessions > settings.max_rows
                  else table.frame(columns))
        design = build(sample.drop(columns="_row"), settings, config.seed, total=sessions)
        held = sample["_row"].to_numpy()[split(len(sample), settings.holdout, settings.max_rows, config.seed)[1]]
        return design, held
    design, held = stage("setup: our sample, design, held-out sessions", ours_design)
    frame = stage("all rows to pandas", lambda: table.frame(columns))
    frame = with_indicators(frame[~frame["_row"].isin(held)].reset_index(drop=True), settings)
    x = stage("design on every row but the held-out",
              lambda: np.column_stack([term.values(frame) for term in design.terms]))
    y = frame["purchase"].to_numpy(dtype=np.int64)
    assert len(y) + len(held) == sessions and len(held) == len(design.y_test)
    out = {"imports": imports, "imports_peak_mib": imports_peak, "sessions": sessions}
    for name, (train_x, train_y) in {"all": (x, y), "same": (design.train, design.y_train)}.items():
        best = {}
        for _ in range(PEER_REPEATS):
            model = LogisticRegression(C=1.0, solver="lbfgs", max_iter=5000)
            stage(f"fit ({name})", functools.partial(model.fit, train_x, train_y))
            if not best or seconds[f"fit ({name})"] < best["seconds"]:
                best = {"seconds": seconds[f"fit ({name})"], "cpu": cpu[f"fit ({name})"]}
        seconds[f"fit ({name})"], cpu[f"fit ({name})"] = best["seconds"], best["cpu"]
        p = model.predict_proba(design.test)[:, 1]
        out[name] = {"train": len(train_y), "iterations": int(model.n_iter_[0]), "auc": auc(p, design.y_test),
                     "brier": float(((p - design.y_test) ** 2).mean())}
    return out | {"seconds": seconds, "cpu_seconds": cpu, "total": sum(seconds.values()), "peak_mib": peak_resident_mib()}


def run_child(kind: str, data: str, path: str) -> dict:
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, __file__, "--child", kind, data, path], capture_output=True, text=True,
                          cwd=ROOT, env=env, check=False)
    if done.returncode:
        sys.exit(f"the {kind} child on {data} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def show(name: str, ours_: dict, peer_: dict) -> None:
    print(f"\n== {name}: {ours_['sessions']:,} sessions used")
    print(f"ours: {ours_['train']:,} training sessions, {ours_['terms']} terms, {ours_['draws']:,} draws; "
          f"imports {ours_['imports']:.1f} s (peak {ours_['imports_peak_mib']:.0f} MiB)")
    for stage, seconds in ours_["seconds"].items():
        print(f"  {stage:<42} {seconds:7.1f} s  (CPU {ours_['cpu_seconds'][stage]:5.1f} s)")
    print(f"  {'whole analysis':<42} {ours_['total']:7.1f} s  (CPU {ours_['cpu']:.1f} s, "
          f"peak resident {ours_['peak_mib']:,.0f} MiB)")
    gate = "passed" if ours_["gate"] else "FAILED: " + "; ".join(ours_["problems"])
    print(f"  diagnostics gate {gate} (max R-hat {ours_['max_rhat']:.4f}); held-out AUC {ours_['auc']:.4f}, "
          f"Brier {ours_['brier']:.4f}, deciles inside the joint band: {ours_['calibrated']}")
    print(f"peer (scikit-learn LogisticRegression, L2, C=1, lbfgs): imports {peer_['imports']:.1f} s "
          f"(peak {peer_['imports_peak_mib']:.0f} MiB)")
    for stage, seconds in peer_["seconds"].items():
        print(f"  {stage:<42} {seconds:7.1f} s  (CPU {peer_['cpu_seconds'][stage]:5.1f} s)")
    print(f"  {'all stages':<42} {peer_['total']:7.1f} s  (peak resident {peer_['peak_mib']:,.0f} MiB)")
    for part, label in (("all", "every session but the held-out"), ("same", "our training sessions")):
        fitted = peer_[part]
        print(f"  fitted on {label} ({fitted['train']:,}, {fitted['iterations']} iterations): held-out AUC "
              f"{fitted['auc']:.4f}, Brier {fitted['brier']:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=SESSIONS, help="generated sessions (default 1,000,000)")
    parser.add_argument("--config", default=str(ROOT / "config.yaml"), help="the config (default: config.yaml)")
    args = parser.parse_args()

    import duckdb
    import nutpie
    import pymc
    import sklearn

    from shopper_bayes.generate import write

    print(f"Python {platform.python_version()}, PyMC {pymc.__version__}, nutpie {nutpie.__version__}, "
          f"DuckDB {duckdb.__version__}, scikit-learn {sklearn.__version__}; {os.cpu_count()} CPUs; "
          f"load average {load()}")
    folder = Path(tempfile.mkdtemp(prefix="bench-drivers-", dir="/tmp"))
    try:
        data = folder / "sessions.parquet"
        started = time.perf_counter()
        write("sessions", args.sessions, SEED, data)
        print(f"generated {args.sessions:,} sessions in {time.perf_counter() - started:.1f} s "
              f"({data.stat().st_size / 2**20:.0f} MiB Parquet)")
        results = {}
        for name, source in (("bundled", "bundled"), (f"{args.sessions:,} generated", str(data))):
            results[name] = {}
            for kind in ("ours", "peer"):
                results[name][kind] = run_child(kind, source, args.config)
                print(f"  {name}, {kind}: done (load average {load()})", flush=True)
            show(name, results[name]["ours"], results[name]["peer"])
        (small, big) = results.values()
        print(f"\n== ratios (same run; the machine may be shared: load average now {load()})")
        for stage in ("fit", "fit: NUTS", "whole analysis"):
            whole = stage == "whole analysis"
            a = big["ours"]["total"] if whole else big["ours"]["seconds"][stage]
            b = small["ours"]["total"] if whole else small["ours"]["seconds"][stage]
            a_cpu = big["ours"]["cpu"] if whole else big["ours"]["cpu_seconds"][stage]
            b_cpu = small["ours"]["cpu"] if whole else small["ours"]["cpu_seconds"][stage]
            print(f"ours, {stage}, {args.sessions:,} generated / bundled: {a / b:.2f}x ({a:.1f} s / {b:.1f} s), "
                  f"CPU {a_cpu / b_cpu:.2f}x ({a_cpu:.1f} s / {b_cpu:.1f} s)")
        print(f"ours, peak resident, {args.sessions:,} generated / bundled: "
              f"{big['ours']['peak_mib'] / small['ours']['peak_mib']:.2f}x")
        for name, case in results.items():
            fit, fit_cpu = case["ours"]["seconds"]["fit"], case["ours"]["cpu_seconds"]["fit"]
            for part, label in (("all", "every session but the held-out"), ("same", "our training sessions")):
                theirs, theirs_cpu = case["peer"]["seconds"][f"fit ({part})"], case["peer"]["cpu_seconds"][f"fit ({part})"]
                print(f"{name}: our fit / the peer's on {label}: {fit / theirs:,.0f}x ({fit:.1f} s / {theirs:.2f} s), "
                      f"CPU {fit_cpu / theirs_cpu:,.0f}x ({fit_cpu:.1f} s / {theirs_cpu:.2f} s)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps({"ours": ours, "peer": peer}[sys.argv[2]](*sys.argv[3:5])))
    else:
        main()

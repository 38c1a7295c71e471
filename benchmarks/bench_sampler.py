"""nutpie against PyMC's own NUTS on the purchase-rate models: wall time and ESS per second.

Run from the repository root: .venv/bin/python benchmarks/bench_sampler.py [--repeats N] [--empty-cache]

Configurations: two data cases × two models (independent, hierarchical) × two backends (nutpie, pymc).
- bundled: config.yaml as it is (Nov-Dec sessions of the bundled file, rates by CustomerType: 2 cells).
- all months: the same with rates.segments [segment, month] and sessions.filter {} (every month,
  2 segments × 10 months = 20 cells).
Each configuration is fitted the project's way: purchase_rates.build_model, then fit.sample with
the config's sampler settings (4 chains, 1000 draws, 1000 tune, target_accept 0.99, PyMC's default
cores: min(4, CPUs)) and only sampler.backend changed; fit.sample also computes the log-likelihood,
the posterior predictive and the prior predictive, as every run does.

Each configuration runs in a fresh child process that fits it twice with the same seed:
- cold: the first call in the process, so it pays for compiling the model (PyTensor's on-disk
  compile cache, ~/.pytensor, is used as it is unless --empty-cache is given);
- warm: a second call on a newly built model in the same process.
The same seed gives the same draws, so cold - warm is the compile and set-up cost.
Per call: wall time of build_model + fit.sample, the part spent in pm.sample, the sampler's own
sampling time (tree.posterior.attrs["sampling_time"]), min bulk ESS over every posterior variable
(arviz_stats.ess), ESS per second (min bulk ESS / wall time), divergences, max R-hat and the mean
number of leapfrog steps per draw. With --repeats N every configuration runs in N child processes
(ranges are printed); --empty-cache gives every child its own empty PyTensor compile cache, which
measures the first run after installation. No assertions on times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

CASES = ("bundled", "all months")
MODELS = ("independent", "hierarchical")
BACKENDS = ("nutpie", "pymc")
CALLS = ("cold", "warm")


def case_config(case: str):
    """config.yaml, and for "all months" rates by segment × month over every month."""
    from shopper_bayes.config import load_config

    config = load_config("config.yaml")
    if case == "all months":
        rates = config.rates.model_copy(update={"segments": ["segment", "month"]})
        sessions = config.sessions.model_copy(update={"filter": {}})
        config = config.model_copy(update={"rates": rates, "sessions": sessions})
    return config


def child(case: str, model: str, backend: str) -> None:
    """Fit one configuration twice in this process and print one JSON line per call."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)

    import arviz_stats as azs
    import pymc as pm

    from shopper_bayes.analyses.purchase_rates import model as purchase_rates
    from shopper_bayes.datasets.sessions import load_sessions
    from shopper_bayes.engine.cells import segment_counts
    from shopper_bayes.inference import fit

    config = case_config(case)
    sampler = config.sampler.model_copy(update={"backend": backend})
    counts = segment_counts(load_sessions(config.sessions, labels=config.rates.segments).frame, config.rates.segments)

    in_sample = []
    original = pm.sample

    def timed_sample(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            in_sample.append(time.perf_counter() - start)

    pm.sample = timed_sample  # fit.sample calls pm.sample by attribute, so this times its share
    for call in CALLS:
        start = time.perf_counter()
        tree = fit.sample(purchase_rates.build_model(counts, config.rates, model), sampler, config.seed)
        seconds = time.perf_counter() - start
        posterior = tree.posterior.to_dataset()
        ess = azs.ess(posterior, method="bulk")
        rhat = azs.rhat(posterior)
        min_ess = min(float(ess[name].min()) for name in ess.data_vars)
        print(json.dumps({
            "case": case, "model": model, "backend": backend, "call": call,
            "cells": int(counts["sessions"].size), "sessions": int(counts["sessions"].sum()),
            "seconds": seconds, "pm_sample_seconds": in_sample[-1],
            "sampling_seconds": float(tree.posterior.attrs.get("sampling_time", float("nan"))),
            "min_ess_bulk": min_ess, "ess_per_second": min_ess / seconds,
            "divergences": int(tree.sample_stats["diverging"].sum()),
            "max_rhat": max(float(rhat[name].max()) for name in rhat.data_vars),
            "steps_per_draw": float(tree.sample_stats["n_steps"].mean()),
            "chains": sampler.chains, "draws": sampler.draws, "tune": sampler.tune,
            "target_accept": sampler.target_accept,
        }), flush=True)


def run_child(case: str, model: str, backend: str, empty_cache: bool) -> list[dict]:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="bench-pytensor-") as cache:
        if empty_cache:
            flags = env.get("PYTENSOR_FLAGS", "")
            env["PYTENSOR_FLAGS"] = f"{flags},base_compiledir={cache}".lstrip(",")
        done = subprocess.run([sys.executable, __file__, "--child", case, model, backend],
                              capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"child {case} / {model} / {backend} failed with status {done.returncode}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def span(values: list[float], digits: int) -> str:
    """'3.1' for one value or equal values, '3.1-4.2' for a range."""
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return low if low == high else f"{low}-{high}"


def table(rows: list[dict]) -> None:
    def pick(case, model, backend, call, key):
        return [r[key] for r in rows if (r["case"], r["model"], r["backend"], r["call"]) == (case, model, backend, call)]

    header = (f"{'case':<11} {'model':<13} {'backend':<7} {'cold s':>11} {'warm s':>11} {'sampling s':>11} "
              f"{'min ESS':>8} {'ESS/s cold':>11} {'ESS/s warm':>11} {'div':>4} {'max R-hat':>9} {'steps':>5}")
    print(header)
    print("-" * len(header))
    for case in CASES:
        for model in MODELS:
            for backend in BACKENDS:
                get = lambda call, key: pick(case, model, backend, call, key)  # noqa: E731
                print(f"{case:<11} {model:<13} {backend:<7} {span(get('cold', 'seconds'), 1):>11} "
                      f"{span(get('warm', 'seconds'), 1):>11} {span(get('warm', 'sampling_seconds'), 1):>11} "
                      f"{span(get('warm', 'min_ess_bulk'), 0):>8} {span(get('cold', 'ess_per_second'), 0):>11} "
                      f"{span(get('warm', 'ess_per_second'), 0):>11} "
                      f"{span(get('cold', 'divergences') + get('warm', 'divergences'), 0):>4} "
                      f"{span(get('warm', 'max_rhat'), 3):>9} {span(get('warm', 'steps_per_draw'), 1):>5}")
    print("\nnutpie / pymc (per repeat, same run; ranges over repeats)")
    header = f"{'case':<11} {'model':<13} {'time cold':>10} {'time warm':>10} {'ESS/s cold':>11} {'ESS/s warm':>11}"
    print(header)
    print("-" * len(header))
    for case in CASES:
        for model in MODELS:
            ratios = {}
            for call in CALLS:
                for key in ("seconds", "ess_per_second"):
                    nut, pym = pick(case, model, "nutpie", call, key), pick(case, model, "pymc", call, key)
                    ratios[call, key] = [a / b for a, b in zip(nut, pym)]
            print(f"{case:<11} {model:<13} {span(ratios['cold', 'seconds'], 2):>10} {span(ratios['warm', 'seconds'], 2):>10} "
                  f"{span(ratios['cold', 'ess_per_second'], 2):>11} {span(ratios['warm', 'ess_per_second'], 2):>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="child processes per configuration (default 1)")
    parser.add_argument("--empty-cache", action="store_true", help="give every child an empty PyTensor compile cache")
    parser.add_argument("--json", help="also write every measurement to this JSON file")
    args = parser.parse_args()

    from importlib.metadata import version

    print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
          + ", ".join(f"{name} {version(name)}" for name in ("pymc", "pytensor", "nutpie", "numba", "arviz-stats"))
          + (", empty PyTensor compile cache per child" if args.empty_cache else ", PyTensor compile cache as it is"))
    started = time.perf_counter()
    rows = []
    for repeat in range(args.repeats):
        for case in CASES:
            for model in MODELS:
                for backend in BACKENDS:  # the backends alternate, so a change in machine load hits both
                    for row in run_child(case, model, backend, args.empty_cache):
                        row["repeat"] = repeat
                        rows.append(row)
                        print(f"  [{repeat + 1}/{args.repeats}] {case}, {model}, {backend}, {row['call']}: "
                              f"{row['seconds']:.1f} s (pm.sample {row['pm_sample_seconds']:.1f} s, sampling "
                              f"{row['sampling_seconds']:.1f} s), min bulk ESS {row['min_ess_bulk']:.0f}, "
                              f"{row['ess_per_second']:.0f} ESS/s, {row['divergences']} divergences, "
                              f"max R-hat {row['max_rhat']:.3f}", flush=True)
    first = rows[0]
    print(f"\n{first['chains']} chains, {first['draws']} draws, {first['tune']} tune, target_accept "
          f"{first['target_accept']}; cells: " + ", ".join(
              sorted({f"{r['case']} {r['cells']} ({r['sessions']:,} sessions)" for r in rows})))
    print("times in seconds: whole build_model + fit.sample call; 'sampling s' is the sampler's own sampling time "
          "(warm); ESS is the min bulk ESS over the posterior variables; steps = mean leapfrog steps per draw\n")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=1)
    table(rows)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()

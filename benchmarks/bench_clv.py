"""CLV: speed and memory of this project's fit and predictions against named peers, each in one run.

Run from the repository root:

    .venv/bin/python benchmarks/bench_clv.py [--data PATH] [--draws N]     # against PyMC-Marketing
    .venv/bin/python benchmarks/bench_clv.py --before main                 # against the code of a git ref
    .venv/bin/python benchmarks/bench_clv.py --scale [--customers 10000 1000000] [--statistics exact binned]

Every measurement runs in a fresh child process (so peak resident memory is its own) and reports
wall time, CPU time of the process (all threads: on a shared machine the steadier figure) and peak
resident memory. Same sampler settings on every side: nutpie, 4 chains, ``--draws`` draws and
tuning steps. Printed: each side's figures, then the ratios. No assertions.

- Default, against PyMC-Marketing, on the bundled CDNOW master log (23,570 customers; calibration to
  1997-09-30, weeks) or ``--data`` (a log with columns customer, date, amount; CSV or Parquet).
  Project: ``analyses.clv.compute`` (BG/NBD + Gamma-Gamma on weighted distinct triples and pairs;
  per-customer P(alive), purchases, spend and 12-month CLV at 1% a month, in chunks).
  PyMC-Marketing: ``BetaGeoModel.fit`` and ``GammaGammaModel.fit`` on one row per customer, then
  ``GammaGammaModel.expected_customer_lifetime_value`` over every draw and customer.
- ``--before REF``: the same project side with the code of git ref REF (``git archive`` into a
  temporary folder, imported by its child) and with this tree's, on the same data.
- ``--scale``: the project side on generated logs (``generate transactions``, seed 1) of each of
  ``--customers`` customers, calibration to 2024-12-31 (366 of the 540 days), weeks, for each
  ``--statistics`` (``clv.statistics``); fit = the whole fit call (posterior mode, compiling,
  sampling, log-likelihood and prior draws). Ratios: each size against the smallest, same statistics.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT / "data" / "cdnow_transactions.txt"
CALIBRATION_END = {"cdnow": "1997-09-30", "generated": "2024-12-31"}


def read(path: Path):
    import pandas as pd

    if path == CDNOW:
        raw = pd.read_csv(path, sep=r"\s+", dtype=str)
        return pd.DataFrame({"customer": raw["customer_id"], "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                             "amount": raw["dollar_value"].astype(float)})
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    frame = frame.rename(columns={"customer_id": "customer"})[["customer", "date", "amount"]]
    return frame.assign(date=pd.to_datetime(frame["date"]))


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def project(path: Path, draws: int, calibration_end: str, statistics: str = "exact") -> dict:
    from shopper_bayes.analyses.clv.compute import compute
    from shopper_bayes.analyses.clv.config import ClvSettings
    from shopper_bayes.analyses.clv.rfm import rfm_tables
    from shopper_bayes.config import DiagnosticsConfig, SamplerConfig
    from shopper_bayes.inference.fit import sample

    tables = rfm_tables(read(path), calibration_end, None, "week")
    timing = {}

    def fit(model, key, **kw):
        wall, cpu = clock()
        built = model() if callable(model) else model  # main before the whitened fit passed the model itself
        tree = sample(built, SamplerConfig(**kw), 1)
        timing["fit"], timing["fit_cpu"] = time.perf_counter() - wall, time.process_time() - cpu
        return tree

    settings = {"draws": draws, "tune": draws, "prediction_draws": 4 * draws}
    if statistics != "exact":
        settings["statistics"] = statistics
    wall, cpu = clock()
    done = compute(tables, ClvSettings(**settings), fit, DiagnosticsConfig(), 1)
    total, total_cpu = time.perf_counter() - wall, time.process_time() - cpu
    result = done.result
    return {"fit": timing["fit"], "fit_cpu": timing["fit_cpu"], "predict": total - timing["fit"], "total": total,
            "total_cpu": total_cpu, "total_clv": result.total_clv.mean, "customers": result.customers,
            "triples": result.triples, "spend_groups": getattr(result, "spend_groups", None), "ok": result.diagnostics.ok,
            "min_ess": result.diagnostics.min_ess_bulk,
            "params": {name: value.mean for name, value in result.params if value is not None}}


def pymc_marketing(path: Path, draws: int, calibration_end: str) -> dict:
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, rfm_summary

    summary = rfm_summary(read(path), "customer", "date", "amount", observation_period_end=calibration_end,
                          time_unit="D", time_scaler=7)
    spenders = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    settings = {"method": "mcmc", "random_seed": 1, "progressbar": False,
                "sample_kwargs": {"draws": draws, "tune": draws, "chains": 4, "nuts_sampler": "nutpie"}}
    wall, cpu = clock()
    bg = BetaGeoModel()
    bg.fit(summary, **settings)
    gg = GammaGammaModel()
    gg.fit(spenders, **settings)
    fitted, fitted_cpu = clock()
    clv = gg.expected_customer_lifetime_value(transaction_model=bg, data=summary, future_t=12, discount_rate=0.01,
                                              time_unit="W")
    total_clv = float(clv.sum("customer_id").mean())
    done, done_cpu = clock()
    return {"fit": fitted - wall, "fit_cpu": fitted_cpu - cpu, "predict": done - fitted, "total": done - wall,
            "total_cpu": done_cpu - cpu, "total_clv": total_clv, "customers": len(summary)}


def child(args) -> None:
    path = Path(args.data)
    calibration_end = CALIBRATION_END["cdnow" if path == CDNOW else "generated"] if args.data_kind is None \
        else CALIBRATION_END[args.data_kind]
    if args.child == "pymc-marketing":
        result = pymc_marketing(path, args.draws, calibration_end)
    else:
        result = project(path, args.draws, calibration_end, args.statistics[0])
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def run_child(side: str, data: Path, draws: int, statistics: str = "exact", kind: str | None = None,
              pythonpath: Path | None = None) -> dict:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    command = [sys.executable, __file__, "--child", side, "--data", str(data), "--draws", str(draws),
               "--statistics", statistics]
    if kind:
        command += ["--data-kind", kind]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def show(label: str, result: dict) -> None:
    print(f"{label}: fit {result['fit']:.1f} s ({result['fit_cpu']:.1f} CPU s), predictions {result['predict']:.1f} s, "
          f"total {result['total']:.1f} s ({result['total_cpu']:.1f} CPU s), peak {result['peak_mib']:.0f} MiB; "
          + json.dumps({k: v for k, v in result.items() if k not in {"fit", "fit_cpu", "predict", "total", "total_cpu",
                                                                      "peak_mib"}}))


def ratios(label: str, slow: dict, fast: dict) -> None:
    print(f"{label}: " + ", ".join(f"{key} {slow[key] / fast[key]:.2f}x"
                                   for key in ("fit", "fit_cpu", "predict", "total", "total_cpu", "peak_mib")))


def against_pymc_marketing(data: Path, draws: int) -> None:
    ours = run_child("project", data, draws)
    show("project", ours)
    theirs = run_child("pymc-marketing", data, draws)
    show("pymc-marketing", theirs)
    ratios("pymc-marketing / project", theirs, ours)


def against_ref(ref: str, data: Path, draws: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(["git", "archive", ref, "src"], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        before = run_child("project", data, draws, pythonpath=Path(folder) / "src")
    show(ref, before)
    after = run_child("project", data, draws, pythonpath=ROOT / "src")
    show("this tree", after)
    ratios(f"{ref} / this tree", before, after)


def scale(sizes: list[int], choices: list[str], draws: int) -> None:
    from shopper_bayes.generate.transactions import write

    with tempfile.TemporaryDirectory(dir=ROOT) as folder:
        results = {}
        for customers in sizes:
            path = Path(folder) / f"transactions_{customers}.parquet"
            rows, _ = write(customers, 1, path)
            print(f"generated {customers:,} customers, {rows:,} purchases")
            for statistics in choices:
                results[customers, statistics] = run_child("project", path, draws, statistics, kind="generated")
                show(f"{customers:,} customers, statistics {statistics}", results[customers, statistics])
    for statistics in choices:
        for customers in sizes[1:]:
            ratios(f"{customers:,} / {sizes[0]:,} customers, statistics {statistics}", results[customers, statistics],
                   results[sizes[0], statistics])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=CDNOW)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--before", metavar="REF")
    parser.add_argument("--scale", action="store_true")
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--statistics", nargs="+", default=["exact"], choices=["exact", "binned"])
    parser.add_argument("--child", choices=["project", "pymc-marketing"])
    parser.add_argument("--data-kind", choices=list(CALIBRATION_END))
    args = parser.parse_args()
    if args.child:
        child(args)
    elif args.scale:
        scale(sorted(args.customers), args.statistics, args.draws)
    elif args.before:
        against_ref(args.before, args.data, args.draws)
    else:
        against_pymc_marketing(args.data, args.draws)


if __name__ == "__main__":
    main()

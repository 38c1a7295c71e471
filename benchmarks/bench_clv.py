"""CLV: this project's fit and predictions against PyMC-Marketing's own, on the same data, in one run.

Run from the repository root: .venv/bin/python benchmarks/bench_clv.py [--data PATH] [--draws N]

Data: the bundled CDNOW master log (23,570 customers; calibration to 1997-09-30, weeks), or
``--data`` a transaction log with columns customer, date, amount (CSV or Parquet).
Each side runs in a fresh child process (so peak memory is its own), with the same sampler settings
(nutpie, 4 chains, ``--draws`` draws and tuning steps):
- project: ``analyses.clv.compute`` (BG/NBD + Gamma-Gamma fitted on weighted distinct triples and
  pairs; per-customer P(alive), purchases, spend and 12-month CLV at 1% a month, in chunks);
- pymc-marketing: ``BetaGeoModel.fit`` and ``GammaGammaModel.fit`` on one row per customer, then
  ``GammaGammaModel.expected_customer_lifetime_value`` (12 months, 1% a month, weeks) over every
  draw and customer.
Printed per side: wall time (fit, predictions, total) and peak resident memory; then the ratios.
No assertions.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT / "data" / "cdnow_transactions.txt"
CALIBRATION_END = "1997-09-30"


def read(path: Path):
    import pandas as pd

    if path == CDNOW:
        raw = pd.read_csv(path, sep=r"\s+", dtype=str)
        return pd.DataFrame({"customer": raw["customer_id"], "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                             "amount": raw["dollar_value"].astype(float)})
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return frame.assign(date=pd.to_datetime(frame["date"]))


def project(path: Path, draws: int) -> dict:
    from shopper_bayes.analyses.clv.compute import compute
    from shopper_bayes.analyses.clv.config import ClvSettings
    from shopper_bayes.analyses.clv.rfm import rfm_tables
    from shopper_bayes.config import DiagnosticsConfig, SamplerConfig
    from shopper_bayes.inference.fit import sample

    tables = rfm_tables(read(path), CALIBRATION_END, None, "week")
    timing = {}

    def fit(model, key, **kw):
        start = time.perf_counter()
        tree = sample(model, SamplerConfig(**{**kw, "target_accept": 0.8}), 1)
        timing["fit"] = time.perf_counter() - start
        return tree

    start = time.perf_counter()
    done = compute(tables, ClvSettings(draws=draws, tune=draws, prediction_draws=4 * draws), fit, DiagnosticsConfig(), 1)
    total = time.perf_counter() - start
    return {"fit": timing["fit"], "predict": total - timing["fit"], "total": total,
            "total_clv": done.result.total_clv.mean, "customers": done.result.customers}


def pymc_marketing(path: Path, draws: int) -> dict:
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, rfm_summary

    summary = rfm_summary(read(path), "customer", "date", "amount", observation_period_end=CALIBRATION_END,
                          time_unit="D", time_scaler=7)
    spenders = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    settings = {"method": "mcmc", "random_seed": 1, "progressbar": False,
                "sample_kwargs": {"draws": draws, "tune": draws, "chains": 4, "nuts_sampler": "nutpie"}}
    start = time.perf_counter()
    bg = BetaGeoModel()
    bg.fit(summary, **settings)
    gg = GammaGammaModel()
    gg.fit(spenders, **settings)
    fitted = time.perf_counter()
    clv = gg.expected_customer_lifetime_value(transaction_model=bg, data=summary, future_t=12, discount_rate=0.01,
                                              time_unit="W")
    total_clv = float(clv.sum("customer_id").mean())
    done = time.perf_counter()
    return {"fit": fitted - start, "predict": done - fitted, "total": done - start, "total_clv": total_clv,
            "customers": len(summary)}


def child(side: str, path: str, draws: int) -> None:
    result = {"project": project, "pymc-marketing": pymc_marketing}[side](Path(path), draws)
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=CDNOW)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--child", choices=["project", "pymc-marketing"])
    args = parser.parse_args()
    if args.child:
        child(args.child, str(args.data), args.draws)
        return
    results = {}
    for side in ("project", "pymc-marketing"):
        run = subprocess.run([sys.executable, __file__, "--child", side, "--data", str(args.data), "--draws", str(args.draws)],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        results[side] = json.loads(run.stdout.strip().splitlines()[-1])
        print(side, json.dumps(results[side]))
    ours, theirs = results["project"], results["pymc-marketing"]
    for key in ("fit", "predict", "total", "peak_mib"):
        print(f"{key}: pymc-marketing / project = {theirs[key] / ours[key]:.1f}x")


if __name__ == "__main__":
    main()

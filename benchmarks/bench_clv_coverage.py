"""CLV: coverage of the posterior intervals of the purchase and spend parameters over generated data.

Run from the repository root:

    .venv/bin/python benchmarks/bench_clv_coverage.py [--model bg_nbd|pareto_nbd] [--datasets 100]
        [--customers 2000] [--seed 14] [--out results.jsonl]

For each of ``--datasets`` data sets: planted parameters drawn log-uniformly from RANGES (per day;
Gamma-Gamma p, q, v), then ``--customers`` customers simulated by the transactions generator's
process (``TransactionsGenerator.times``: first purchase uniform over 180 days, observed for 540
days; dropout ``repeat_purchase`` = BG/NBD, or ``any_time`` = Pareto/NBD) with Gamma-Gamma spend per
purchase (rounded to cents). The same customers give two data sets:

- *continuous*: (x, t_x, T) and mean repeat spend from the exact purchase times, the model as fitted;
- *daily log*: the log the generator writes (times cut to days, so purchases on the same day are one
  purchase day, their amounts summed), through ``rfm_tables`` with time in days, what the analysis sees.

Each is fitted as the analysis fits (``clv`` defaults: configured priors, posterior mode, whitened
NUTS with nutpie, 4 chains of 500 draws after 500 tuning steps, target_accept 0.9) and gated by the
diagnostics (project thresholds). The peer is the nominal level: printed per parameter and view, the
share of data sets whose 50%, 90% and 95% central intervals hold the planted value, its Monte Carlo
margin 2 sqrt(c (1 - c) / K) at the nominal c, the mean z = (posterior mean - planted) / posterior sd
of the log-parameter with twice its standard error, the sd of z (about 1 when the posterior sds are
right), and the fits that fail the gate. The coverage is frequentist (parameters are
drawn from RANGES, not from the prior), so a well-calibrated posterior covers at about the nominal
rate when the data dominate the prior, as with a few thousand customers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

RANGES = {"r": (0.3, 1.2), "alpha": (15.0, 60.0), "a": (0.5, 2.0), "b": (2.0, 8.0), "s": (0.3, 1.5),
          "beta": (30.0, 240.0), "p": (3.0, 12.0), "q": (2.5, 8.0), "v": (8.0, 30.0)}
LEVELS = (0.5, 0.9, 0.95)
VIEWS = ("continuous", "daily log")


def planted(model: str, rng: np.random.Generator) -> dict[str, float]:
    from shopper_bayes.analyses.clv.model import parameter_names

    return {name: float(np.exp(rng.uniform(*np.log(RANGES[name])))) for name in parameter_names(model, True)}


def simulate(model: str, truth: dict, customers: int, rng: np.random.Generator):
    """The two views of one simulated set of customers: continuous (x, t_x, T, mean repeat spend) and
    the daily log's RFM table."""
    from shopper_bayes.analyses.clv.rfm import Customers, rfm_tables
    from shopper_bayes.generate.transactions import TransactionsGenerator

    dropout = {"bg_nbd": "repeat_purchase", "pareto_nbd": "any_time"}[model]
    generator = TransactionsGenerator(dropout=dropout, **{k: v for k, v in truth.items() if k in ("r", "alpha", "a", "b",
                                                                                                  "s", "beta")})
    who, when = generator.times(customers, rng)
    nu = rng.gamma(truth["q"], 1 / truth["v"], customers)
    amount = np.round(rng.gamma(truth["p"], 1 / nu[who]), 2)
    order = np.lexsort((when, who))
    who, when, amount = who[order], when[order], amount[order]
    frame = pd.DataFrame({"customer": who, "when": when, "amount": amount})
    per = frame.groupby("customer")
    first, last, count = per["when"].min(), per["when"].max(), per.size()
    repeat_spend = (per["amount"].sum() - per["amount"].first()) / (count - 1).where(count > 1)
    continuous = pd.DataFrame({"frequency": count - 1, "recency": last - first,
                               "T": generator.observation_days - first,
                               "monetary_value": repeat_spend.fillna(0.0)}).reset_index(drop=True)
    start = date.fromisoformat(generator.start)
    log = pd.DataFrame({"customer": who.astype(str), "amount": amount,
                        "date": pd.Timestamp(start) + pd.to_timedelta(np.floor(when), unit="D")})
    end = start + timedelta(days=generator.observation_days - 1)
    daily = rfm_tables(log, None, end.isoformat(), "day").customers
    return {"continuous": Customers.of_frame(continuous), "daily log": daily}


def fit(model: str, customers, seed: int) -> dict:
    """The analysis's fit of one RFM table: per parameter the posterior draws' intervals and z."""
    from shopper_bayes.analyses.clv import model as models
    from shopper_bayes.analyses.clv.config import ClvSettings
    from shopper_bayes.config import DiagnosticsConfig, SamplerConfig
    from shopper_bayes.inference.diagnostics import check
    from shopper_bayes.inference.fit import sample

    settings = ClvSettings(model=model)
    cells, spend = models.triples(customers.triples), models.spend_statistics(customers.spend)
    plain = models.build_model(cells, spend, settings.priors, model)
    whitened = models.build_model(cells, spend, settings.priors, model, models.posterior_mode(plain, settings.priors))
    tree = sample(whitened, SamplerConfig(draws=settings.draws, tune=settings.tune, target_accept=settings.target_accept),
                  seed, groups=("log_likelihood",))
    gate = check(tree, DiagnosticsConfig())
    post = tree["posterior"]
    out = {"ok": gate.ok, "problems": gate.problems, "params": {}}
    for name in models.parameter_names(model, len(spend) > 0):
        draws = np.asarray(post[name].values, dtype="float64").reshape(-1)
        bounds = {str(level): [float(q) for q in np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])] for level in LEVELS}
        logs = np.log(draws)
        out["params"][name] = {"mean": float(draws.mean()), "intervals": bounds, "log_mean": float(logs.mean()),
                               "log_sd": float(logs.std())}
    return out


def summarise(records: list[dict]) -> None:
    K = len(records)
    names = list(records[0]["truth"])
    print(f"\n{K} data sets of {records[0]['customers']:,} customers, model {records[0]['model']}")
    for view in VIEWS:
        fails = sum(not record[view]["ok"] for record in records)
        print(f"\n{view}: {fails} of {K} fits fail the gate")
        print("parameter | " + " | ".join(f"{level:.0%} coverage (±{2 * np.sqrt(level * (1 - level) / K):.3f})"
                                          for level in LEVELS) + " | mean z (± 2 se) | sd z")
        for name in names:
            cells = []
            for level in LEVELS:
                hits = [record[view]["params"][name]["intervals"][str(level)][0] <= record["truth"][name]
                        <= record[view]["params"][name]["intervals"][str(level)][1] for record in records]
                share = float(np.mean(hits))
                margin = 2 * np.sqrt(level * (1 - level) / K)
                cells.append(f"{share:.3f}" + (" *" if abs(share - level) > margin else ""))
            z = np.array([(record[view]["params"][name]["log_mean"] - np.log(record["truth"][name]))
                          / record[view]["params"][name]["log_sd"] for record in records])
            spread = z.std(ddof=1) if K > 1 else np.nan
            print(f"{name} | " + " | ".join(cells) + f" | {z.mean():+.2f} (±{2 * spread / np.sqrt(K):.2f}) | {spread:.2f}")
    print("\n*: outside the margin")


def one(model: str, customers: int, seed: int, k: int) -> dict:
    """Data set k: planted parameters, both views simulated and fitted."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))
    truth = planted(model, rng)
    views = simulate(model, truth, customers, rng)
    record = {"k": k, "model": model, "customers": customers, "truth": truth}
    for view in VIEWS:
        record[view] = fit(model, views[view], seed + k)
    return record


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["bg_nbd", "pareto_nbd"], default="bg_nbd")
    parser.add_argument("--datasets", type=int, default=100)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", help="append one JSON line per data set here (and resume from it)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(one(args.model, args.customers, args.seed, args.child)))
        return
    records = []
    if args.out:
        try:
            with open(args.out, encoding="utf-8") as handle:
                records = [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            pass
    started = time.perf_counter()
    for k in range(len(records), args.datasets):
        # each data set in a fresh process: compiled models of earlier fits do not pile up in memory
        done = subprocess.run([sys.executable, __file__, "--model", args.model, "--customers", str(args.customers),
                               "--seed", str(args.seed), "--child", str(k)], capture_output=True, text=True, check=True)
        record = json.loads(done.stdout.strip().splitlines()[-1])
        records.append(record)
        if args.out:
            with open(args.out, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        print(f"data set {k + 1}/{args.datasets} ({time.perf_counter() - started:.0f} s)", flush=True)
    summarise(records)


if __name__ == "__main__":
    main()

"""Calibration of the drivers model's held-out deciles over many seeded splits of the bundled sessions.

Run from the repository root: .venv/bin/python benchmarks/drivers_calibration.py [--splits N] [--draws S]

For every split seed (1..N and config.yaml's seed): the bundled sessions loaded and cleaned as the run
does, the seeded holdout split and design of drivers.build, the posterior approximated by its Laplace
approximation (Normal at drivers.model.posterior_mode, covariance the inverse curvature there; S draws,
default sampler.chains x drivers.draws as in the run), and the held-out deciles scored by
drivers.compute.holdout: each decile's observed purchase rate against its own 95% predictive interval
and against the joint 95% band (all ten inside together with probability 0.95). Three cases:
- configured: the model of config.yaml;
- before the fix: the model before issue 17's calibration fix (no squared durations; the page value
  interacting with month only);
- reference: the configured model, with the held-out outcomes replaced by a draw from its own posterior
  predictive (a parameter drawn from the same approximation, then Bernoulli outcomes): calibrated by
  construction, so it shows how often a calibrated model passes each check on these splits.
Printed: per case, the share of splits with all ten deciles inside their own intervals and inside the
joint band (with exact 95% binomial intervals), how often each decile missed, and the mean held-out AUC.
The Laplace approximation stands in for NUTS (which costs about a minute a fit); drivers_draws.py
compares the two on the configured model's held-out intervals.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this tree's code, whatever the environment has installed

import numpy as np
from scipy import stats
from scipy.linalg import solve_triangular
from scipy.special import expit

from shopper_bayes.analyses.drivers import run as drivers
from shopper_bayes.analyses.drivers.compute import holdout
from shopper_bayes.analyses.drivers.design import Design, build
from shopper_bayes.analyses.drivers.model import posterior_mode
from shopper_bayes.config import load_config, registry
from shopper_bayes.runner import Loader

CASES = ("configured", "before the fix", "reference")


def bundled_sessions(config):
    """The bundled sessions with the drivers' columns, loaded and cleaned as `shopper-bayes run` does."""
    from shopper_bayes.analyses.base import Context

    datasets, analyses = registry(config)
    analysis = next(a for a in analyses if a.key == "drivers")
    load = Loader(config, {dataset.name: dataset for dataset in datasets}).for_analysis(analysis)
    loaded = drivers.load(Context(config=config, settings=config.drivers, load=load, fit=None), config.drivers)
    if loaded.cleaning.rows_used > config.drivers.max_rows:
        raise SystemExit("the bundled sessions exceed drivers.max_rows: this study assumes every row is used")
    return loaded.frame


def laplace_draws(design: Design, prior, draws: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draws of (intercept, beta) from Normal(mode, H^-1), H = L L^T the curvature at the mode:
    theta = mode + L^-T z with z standard normal."""
    mode, chol = posterior_mode(design.train, design.y_train, prior)
    theta = mode + solve_triangular(chol.T, rng.standard_normal((len(mode), draws)), lower=False).T
    return theta[:, 0], theta[:, 1:]


def score(design: Design, intercept, beta, settings, seed: int) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Per decile: inside its own interval, inside the joint band; and the held-out AUC."""
    result = holdout(design, intercept, beta, settings.calibration_bins, settings.interval_prob, seed)
    return (np.array([b.inside for b in result.calibration]), np.array([b.inside_band for b in result.calibration]),
            result.auc)


def share(hits: int, n: int) -> str:
    low, high = stats.binomtest(hits, n).proportion_ci(0.95)
    return f"{hits / n:6.1%} ({hits}/{n}; 95% {low:.0%} to {high:.0%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=100, help="split seeds 1..N, plus config.yaml's seed")
    parser.add_argument("--draws", type=int, default=None, help="Laplace draws (default: chains x drivers.draws)")
    args = parser.parse_args()

    config = load_config(ROOT / "config.yaml")
    settings = config.drivers
    before = settings.model_copy(update={"squared": [], "interactions": [("month", "PageValues > 0")]})
    draws = args.draws or config.sampler.chains * settings.draws
    seeds = [*range(1, args.splits + 1), *([config.seed] if config.seed > args.splits else [])]
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {len(seeds)} splits "
          f"(seeds 1..{args.splits} and {config.seed}), {draws:,} Laplace draws each")
    frame = bundled_sessions(config)
    inside = {case: [] for case in CASES}
    band = {case: [] for case in CASES}
    aucs = {case: [] for case in CASES}
    terms = {}
    started = time.perf_counter()
    for seed in seeds:
        for case, used in (("configured", settings), ("before the fix", before)):
            design = build(frame, used, seed)
            terms[case] = len(design.terms)
            intercept, beta = laplace_draws(design, used.prior, draws, np.random.default_rng([seed, 0]))
            for name, scored in ((case, design), ("reference", None)):
                if name == "reference":
                    if case != "configured":
                        continue
                    rng = np.random.default_rng([seed, 1])
                    star_intercept, star_beta = laplace_draws(design, used.prior, 1, rng)
                    p = expit(star_intercept[0] + design.test @ star_beta[0])
                    scored = replace(design, y_test=(rng.random(len(p)) < p).astype(np.int64))
                own, joint, area = score(scored, intercept, beta, used, seed)
                inside[name].append(own)
                band[name].append(joint)
                aucs[name].append(area)
        if seed == seeds[0] or seed % 10 == 0:
            print(f"  split {seed}: {time.perf_counter() - started:.0f} s", flush=True)
    print(f"\n{len(seeds)} splits of the bundled {len(frame):,} sessions "
          f"({round(settings.holdout * len(frame)):,} held out each); load average now "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for case in CASES:
        own, joint = np.array(inside[case]), np.array(band[case])
        print(f"\n{case} ({terms['configured' if case == 'reference' else case]} terms; mean held-out AUC "
              f"{np.mean(aucs[case]):.4f}):")
        print(f"  all ten deciles inside their own 95% intervals: {share(int(own.all(axis=1).sum()), len(own))}")
        print(f"  all ten deciles inside the joint 95% band:     {share(int(joint.all(axis=1).sum()), len(joint))}")
        print("  splits in which decile k missed its own interval: "
              + ", ".join(f"{k + 1}: {int((~own[:, k]).sum())}" for k in range(own.shape[1])))
        print("  splits in which decile k missed the joint band:   "
              + ", ".join(f"{k + 1}: {int((~joint[:, k]).sum())}" for k in range(joint.shape[1])))
        config_seed = seeds.index(config.seed)
        print(f"  config seed {config.seed}: {int(own[config_seed].sum())}/10 inside their intervals, "
              f"{int(joint[config_seed].sum())}/10 inside the band")


if __name__ == "__main__":
    main()

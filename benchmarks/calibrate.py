"""Calibration study: coverage of the 50% and 90% intervals of the rate models and the bootstrap.

Run from the repository root (about 15 minutes on 2 cores): .venv/bin/python benchmarks/calibrate.py

1. Purchase-rate models, simulation-based calibration: rates and purchases drawn from each model's
   prior over 2 segments x 3 months (5 to 2,000 sessions per cell), the model fitted to each
   replication. Independent model: the exact conjugate posterior (2,000 replications) and NUTS
   (200); hierarchical model: NUTS (500). SBC rank histograms of the rates.
2. Bootstrap correlation intervals of the three duration pairs, percentile and BCa, on generated
   sessions with known correlations: Pearson r at n = 400 and n = 4,000, Spearman r at n = 400,
   500 replications each, 2,000 resamples. Both methods see the same datasets and resamples.

Prints the coverage tables with their binomial margins, the diagnostics of the MCMC fits, the bias
of the sample correlations and the run time; writes the figures calibration_ranks.png and
calibration_coverage.png into benchmarks/figures/.
"""

import sys
import time
from pathlib import Path

import pandas as pd

from shopper_bayes import calibration
from shopper_bayes.config import SamplerConfig
from shopper_bayes.plots_calibration import plot_coverage, plot_ranks

FIGURES = Path(__file__).resolve().parent / "figures"
# Longer chains than calibration.SAMPLER for the hierarchical model: from 2 x 500 draws its rates had
# a bulk ESS of about 140, too close to the 99 thinned draws an SBC rank counts over.
HIERARCHICAL_SAMPLER = SamplerConfig(draws=1000, tune=1000, chains=2)


def run(label, study, *args, **kwargs):
    print(f"running {label} ...", file=sys.stderr, flush=True)
    return study(*args, **kwargs)


def main() -> None:
    start = time.perf_counter()
    rate_studies = [
        run("independent, exact", calibration.exact_study, 2000, seed=1),
        run("independent, MCMC", calibration.mcmc_study, "independent", 200, seed=2),
        run("hierarchical, MCMC", calibration.mcmc_study, "hierarchical", 500, seed=3, sampler=HIERARCHICAL_SAMPLER),
    ]
    bootstrap_studies = [
        run(f"{statistic} {method} n={n}", calibration.bootstrap_study, n, replications, method, statistic, seed=seed)
        for statistic, n, replications, seed in (("pearson", 400, 500, 10_000), ("pearson", 4000, 500, 20_000),
                                                  ("spearman", 400, 500, 30_000))
        for method in ("percentile", "bca")
    ]
    studies = rate_studies + bootstrap_studies
    table = calibration.coverage_table(studies)

    pd.set_option("display.width", 200)
    print("Coverage of central intervals (events: independent events counted; margin: 2 sqrt(q(1-q)/events))")
    shown = table.assign(coverage=table["coverage"].map("{:.3f}".format), margin=table["margin"].map("±{:.3f}".format),
                         coverage_all=table["coverage_all"].map("{:.3f}".format))
    for level, rows in shown.groupby("nominal"):
        print(f"\n{level:.0%} intervals")
        print(rows.drop(columns="nominal").to_string(index=False))
    print(f"\nMCMC fits against the gate (R-hat {calibration.GATE.max_rhat}, bulk and tail ESS "
          f"{calibration.GATE.min_ess:.0f}, MCSE, BFMI, no divergences)")
    for study in rate_studies:
        fits = study.fits
        if fits is None:
            print(f"  {study.label}: {len(study.cdf):,} replications, {study.seconds:.0f} s")
            continue
        divergent = fits["divergences"] > 0
        print(f"  {study.label}: {len(fits)} fits in {study.seconds:.0f} s; {(~fits['ok']).sum()} fail the gate: "
              f"R-hat above {calibration.GATE.max_rhat} in {(fits['max_rhat'] > calibration.GATE.max_rhat).sum()} "
              f"(largest {fits['max_rhat'].max():.3f}), ESS below {calibration.GATE.min_ess:.0f} in "
              f"{(fits['min_ess'] < calibration.GATE.min_ess).sum()} (smallest {fits['min_ess'].min():.0f}), "
              f"divergences in {divergent.sum()}"
              + (f" (median {fits['divergences'][divergent].median():.0f} divergent transitions)" if divergent.any() else ""))
        if 0 < divergent.sum() < len(fits):
            hits = study.hits(0.9)
            print(f"    90% coverage, every cell: {hits[divergent].mean():.3f} in the fits with divergences, "
                  f"{hits[~divergent].mean():.3f} in the others")
    print("\nBootstrap: mean sample correlation minus the planted one, per pair; seconds")
    for study in bootstrap_studies:
        bias = study.estimates.mean(axis=0) - study.truth
        print(f"  {study.label}: {', '.join(f'{b:+.4f}' for b in bias)}; {study.seconds:.0f} s")

    FIGURES.mkdir(exist_ok=True)
    plot_ranks(rate_studies, FIGURES / "calibration_ranks.png")
    plot_coverage(table, FIGURES / "calibration_coverage.png")
    print(f"\nFigures in {FIGURES}. Total run time {(time.perf_counter() - start) / 60:.1f} minutes.")


if __name__ == "__main__":
    main()

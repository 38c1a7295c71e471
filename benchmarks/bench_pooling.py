"""Partial pooling on many small cells (issue 21): the hierarchical model's gate, time, shrinkage,
coverage and simulation-based calibration, its per-column parameterisation against the peers.

Run from the repository root: .venv/bin/python benchmarks/bench_pooling.py [--sbc N] [--no-main] [--no-fits]
(about 15 minutes on 2 shared cores with the default 500 SBC replications; --sbc 0 skips SBC,
--no-fits runs SBC only).

1. Four sets of counts (``shopper_bayes.pooling_study``): bundled (2 cells), months (20 cells,
   whole year), null_region (1,000 cells: bundled sessions + a random 500-level Region) and
   planted_region (1,000 cells: 60,000 generated sessions with region effects of sd 1 on the logit
   scale). The hierarchical model on each, the way the analysis fits it (``build_model`` +
   ``fit.sample``: nutpie, 4 chains x 1,000 draws after 1,000 tuning steps, target_accept 0.99, plus
   the log-likelihood and the predictive draws), in three parameterisations, each fitted once per
   distinct choice of centred columns:
   - rule: chosen per column from the data (``model.parameterisation``), the analysis' default;
   - centred: every column centred, the model of main before issue 21 (the same graph as
     ``git show main:src/shopper_bayes/analyses/purchase_rates/model.py``). This is the named peer:
     Bambi is not installed here, so its default model could not be run;
   - non-centred: every column non-centred, the parameterisation Bambi and PyMC-Marketing default
     to (with this model's priors and zero-sum effects, not Bambi's).
   Per fit: wall seconds of build_model + fit.sample, process CPU seconds of it (every thread; on
   an idle machine with 2 cores the wall time is about CPU / 2 for the sampling), the sampler's own
   seconds, min bulk and tail ESS over every variable, min ESS per wall second, max R-hat,
   divergences, min BFMI and the gate's verdict. One untimed fit of the bundled counts first, so
   that no timed fit pays for nutpie's first-call set-up.
2. Shrinkage (rule fits): null_region, the posterior of sigma_Region and how far the cell rates sit
   from their segment's rate (posterior mean against observed rate); planted_region, the share of
   the 1,000 cells whose 95% interval holds the planted rate, with a binomial margin.
3. Unchanged numbers (unless --no-main): bundled and months fitted by main's own code (its source
   from ``git archive main``, in a child process) against this branch: per cell the difference of
   the posterior means in Monte Carlo standard errors, sqrt(mcse_main^2 + mcse_branch^2).
4. SBC (``calibration.mcmc_study`` with seed 5, the design of benchmarks/calibrate.py: 2 segments x 3 months,
   5 to 2,000 sessions a cell, rates from the hierarchical model's prior, 2 chains x 1,000 draws):
   fits with divergences, the parameterisations chosen, coverage of the 50% and 90% intervals and a
   chi-square test of the rank histogram's flatness per cell (10 bins); the histograms, one per
   cell, are written to benchmarks/figures/pooling_sbc_ranks.png.
5. With --pilot REPLICATIONS SEED, only the pilot that set the rule's threshold: SBC replications
   fitted with every combination of centred and non-centred columns, and the fits with divergences
   each threshold would have chosen (the rule's ``tau^2 / v_l`` ratios, ``model.level_information``).
No assertions: the figures are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "benchmarks" / "figures"
# Not 3 (benchmarks/calibrate.py) nor 4: the threshold of the rule was set on pilot runs with those seeds.
SBC_SEED = 5

MAIN_CHILD = r"""
import json, sys, warnings, logging
warnings.filterwarnings("ignore"); logging.getLogger("pymc").setLevel(logging.ERROR)
import arviz_stats as azs
from shopper_bayes.analyses.purchase_rates.config import RatesConfig
from shopper_bayes.analyses.purchase_rates.model import build_model
from shopper_bayes.config import SamplerConfig
from shopper_bayes.datasets.sessions import SessionsConfig, load_sessions
from shopper_bayes.engine.cells import segment_counts
from shopper_bayes.inference import fit
out = {}
for name, months, segments in (("bundled", ["Nov", "Dec"], ["segment"]), ("months", None, ["segment", "month"])):
    settings = SessionsConfig(path=sys.argv[1], filter={"month": months} if months else {})
    counts = segment_counts(load_sessions(settings, ("segment", "month")).frame, segments)
    tree = fit.sample(build_model(counts, RatesConfig(model="hierarchical"), "hierarchical"), SamplerConfig(), 2026)
    rate = tree.posterior["rate"]
    mcse = azs.mcse(tree, var_names=["rate"], method="mean")
    mcse = (mcse.to_dataset() if hasattr(mcse, "to_dataset") else mcse)["rate"]
    out[name] = {"mean": rate.mean(("chain", "draw")).values.ravel().tolist(), "mcse": mcse.values.ravel().tolist(),
                 "low": rate.quantile(0.025, ("chain", "draw")).values.ravel().tolist(),
                 "high": rate.quantile(0.975, ("chain", "draw")).values.ravel().tolist()}
print(json.dumps(out))
"""


def quiet() -> None:
    warnings.filterwarnings("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)


def variants(counts) -> dict[str, dict[str, bool]]:
    """rule, centred, non-centred: name -> centred per column, one entry per distinct choice (the
    later names of an identical choice are listed after the first, joined by ' = ')."""
    from shopper_bayes.analyses.purchase_rates.model import parameterisation

    dims = list(counts["sessions"].dims)
    wanted = {"rule": parameterisation(counts), "centred": dict.fromkeys(dims, True),
              "non-centred": dict.fromkeys(dims, False)}
    distinct: dict[str, dict[str, bool]] = {}
    for name, chosen in wanted.items():
        same = next((key for key, value in distinct.items() if value == chosen), None)
        if same:
            distinct[f"{same} = {name}"] = distinct.pop(same)
        else:
            distinct[name] = chosen
    return distinct


def timed_fit(counts, centred):
    from shopper_bayes import pooling_study

    cpu = time.process_time()
    fitted = pooling_study.fit_case(counts, centred)
    return fitted, time.process_time() - cpu


def row(case: str, name: str, fitted, cpu: float) -> dict:
    gate = fitted.gate
    steps = float(fitted.tree.sample_stats["n_steps"].mean()) if "n_steps" in fitted.tree.sample_stats else float("nan")
    return {"case": case, "variant": name,
            "centred": ",".join(dim for dim, value in fitted.centred.items() if value) or "none",
            "wall_s": fitted.seconds, "cpu_s": cpu, "sampling_s": fitted.sampling_seconds,
            "ess_bulk": gate.min_ess_bulk, "ess_tail": gate.min_ess_tail,
            "ess_per_s": min(gate.min_ess_bulk, gate.min_ess_tail) / fitted.seconds,
            "rhat": gate.max_rhat, "divergences": gate.divergences, "bfmi": gate.min_bfmi,
            "steps_per_draw": steps, "gate": "pass" if gate.ok else "FAIL: " + "; ".join(gate.problems[:3])}


def fits(cases) -> tuple[list[dict], dict]:
    from shopper_bayes import pooling_study

    print("untimed warm-up fit of the bundled counts ...", file=sys.stderr, flush=True)
    pooling_study.fit_case(cases["bundled"].counts)
    rows, rule_fits = [], {}
    for case, data in cases.items():
        for name, centred in variants(data.counts).items():
            print(f"fitting {case}, {name} ...", file=sys.stderr, flush=True)
            fitted, cpu = timed_fit(data.counts, centred)
            rows.append(row(case, name, fitted, cpu))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            extra = {}
            if case == "null_region":
                extra = pooling_study.shrinkage(fitted.tree, data.counts)
            if data.truth is not None:
                extra = pooling_study.coverage(fitted.tree, data.truth) | pooling_study.shrinkage(fitted.tree, data.counts)
            if extra:
                rows[-1]["extra"] = extra
            if name.startswith("rule"):
                rule_fits[case] = fitted
            del fitted
    return rows, rule_fits


def against_main(rule_fits) -> dict:
    """Bundled and months fitted by main's code in a child process, against this branch's rule fits."""
    import arviz_stats as azs

    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "main", "src"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        env = os.environ | {"PYTHONPATH": str(Path(folder) / "src")}
        done = subprocess.run([sys.executable, "-c", MAIN_CHILD, str(ROOT / "data" / "online_shopping_session_data.csv")],
                              check=True, capture_output=True, text=True, env=env, cwd=folder)
    main = json.loads(done.stdout.strip().splitlines()[-1])
    out = {}
    for case, theirs in main.items():
        tree = rule_fits[case].tree
        rate = tree.posterior["rate"]
        mcse = azs.mcse(tree, var_names=["rate"], method="mean")
        mcse = (mcse.to_dataset() if hasattr(mcse, "to_dataset") else mcse)["rate"].values.ravel()
        ours = rate.mean(("chain", "draw")).values.ravel()
        z = (ours - np.array(theirs["mean"])) / np.sqrt(mcse**2 + np.array(theirs["mcse"]) ** 2)
        low = rate.quantile(0.025, ("chain", "draw")).values.ravel()
        high = rate.quantile(0.975, ("chain", "draw")).values.ravel()
        out[case] = {"cells": int(z.size), "max_abs_z": float(np.abs(z).max()), "share_abs_z_above_2": float(np.mean(np.abs(z) > 2)),
                     "max_abs_mean_diff_pp": float(100 * np.abs(ours - np.array(theirs["mean"])).max()),
                     "max_abs_interval_diff_pp": float(100 * max(np.abs(low - theirs["low"]).max(),
                                                                 np.abs(high - theirs["high"]).max()))}
    return out


def sbc(replications: int) -> dict:
    from scipy import stats

    from shopper_bayes import calibration
    from shopper_bayes.config import SamplerConfig

    study = calibration.mcmc_study("hierarchical", replications, seed=SBC_SEED,
                                   sampler=SamplerConfig(draws=1000, tune=1000, chains=2))
    fits_ = study.fits
    divergent = fits_["divergences"] > 0
    bins = 10
    flat = [float(stats.chisquare(np.bincount(study.rank[:, cell] * bins // (calibration.RANK_DRAWS + 1),
                                              minlength=bins)).pvalue) for cell in range(study.rank.shape[1])]
    FIGURES.mkdir(exist_ok=True)
    plot_cell_ranks(study, FIGURES / "pooling_sbc_ranks.png")
    table = calibration.coverage_table([study])
    return {"replications": replications, "seconds": study.seconds,
            "fits_with_divergences": int(divergent.sum()), "divergent_transitions": int(fits_["divergences"].sum()),
            "fail_gate": int((~fits_["ok"]).sum()), "rhat_above_1.01": int((fits_["max_rhat"] > 1.01).sum()),
            "ess_below_100": int((fits_["min_ess"] < 100).sum()), "bfmi_below_0.3": int((fits_["min_bfmi"] < 0.3).sum()),
            "max_rhat": float(fits_["max_rhat"].max()),
            "min_ess": float(fits_["min_ess"].min()), "min_bfmi": float(fits_["min_bfmi"].min()),
            "centred": fits_["centred"].value_counts().to_dict(),
            "divergent_by_centred": fits_[divergent]["centred"].value_counts().to_dict(),
            "coverage": table[["nominal", "coverage", "events", "margin", "within", "coverage_all"]].to_dict("records"),
            "rank_chisquare_p_per_cell": flat}


def pilot(replications: int, seed: int, thresholds=(1, 4, 8, 16, 32)) -> dict:
    """How the rule's threshold was set: SBC replications of the hierarchical model (the design of
    ``calibration``, 2 chains x 1,000 draws) each fitted with all four combinations of centred and
    non-centred columns; per threshold k of the rule (centred when more than half of the levels have
    v_l <= tau^2 / k), the fits with divergences it would have chosen, and per fixed combination."""
    import itertools

    import nutpie
    import pymc as pm

    from shopper_bayes import calibration
    from shopper_bayes.analyses.purchase_rates.model import build_model, level_information

    dims = ("segment", "month")
    with build_model(calibration.design_counts(), calibration.RATES, "hierarchical"):
        prior = pm.sample_prior_predictive(draws=replications, random_seed=seed)
    purchases = prior.prior_predictive["purchases"].values[0]
    combos = list(itertools.product([False, True], repeat=len(dims)))
    compiled = {combo: nutpie.compile_pymc_model(build_model(calibration.design_counts(), calibration.RATES,
                                                             "hierarchical", dict(zip(dims, combo))))
                for combo in combos}
    divergent = {combo: np.zeros(replications, dtype=bool) for combo in combos}
    ratios = []  # per replication and column: the levels' tau^2 / v_l, sorted
    for replication in range(replications):
        counts = calibration.design_counts(purchases[replication])
        info = level_information(counts)
        ratios.append({dim: np.sort(info[dim]["tau2"] / info[dim]["v"]) for dim in dims})
        for combo in combos:
            tree = nutpie.sample(compiled[combo].with_data(observed_purchases=purchases[replication]), draws=1000,
                                 tune=1000, chains=2, seed=seed + replication, target_accept=0.99, progress_bar=False)
            divergent[combo][replication] = bool(tree.sample_stats["diverging"].sum() > 0)
    out = {"replications": replications, "seed": seed,
           "fixed": {",".join(d for d, c in zip(dims, combo) if c) or "none": int(divergent[combo].sum())
                     for combo in combos}, "rule": {}}
    for k in thresholds:
        # more than half of the levels informed <=> the lower median of tau^2 / v_l is at least k
        chosen = [tuple(bool(r[dim][(len(r[dim]) - 1) // 2] >= k) for dim in dims) for r in ratios]
        out["rule"][k] = int(sum(divergent[combo][i] for i, combo in enumerate(chosen)))
    return out


def plot_cell_ranks(study, path) -> None:
    """One rank histogram per cell (each over independent replications), 10 bins, with the 99% band of a
    bin's count under uniform ranks."""
    from scipy import stats

    from shopper_bayes import calibration
    from shopper_bayes.report.style import PALETTE, new_figure, style

    with style():
        fig = new_figure(11, 5)
        axes = fig.subplots(2, 3, sharey=True)
        reps = study.rank.shape[0]
        bins = 10
        edges = np.linspace(0, calibration.RANK_DRAWS + 1, bins + 1)
        low, high = stats.binom(reps, 1 / bins).ppf([0.005, 0.995])
        labels = [f"{s} / {m} ({n:,} sessions)" for s, row in zip(calibration.SEGMENTS, calibration.SESSIONS)
                  for m, n in zip(calibration.MONTHS, row)]
        for cell, ax in enumerate(axes.ravel()):
            ax.axhspan(low, high, color="0.85", zorder=0)
            ax.axhline(reps / bins, color="0.5", linewidth=1)
            ax.hist(study.rank[:, cell], bins=edges, color=PALETTE[0], edgecolor="white")
            ax.set_title(labels[cell], fontsize=9)
        for ax in axes[1]:
            ax.set_xlabel(f"rank among {calibration.RANK_DRAWS} draws")
        fig.suptitle(f"SBC ranks of the hierarchical model's rates, {reps} replications (grey: 99% range if uniform)",
                     fontweight="bold")
        fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sbc", type=int, default=500, help="SBC replications (0: skip)")
    parser.add_argument("--no-main", action="store_true", help="skip the comparison with main's code")
    parser.add_argument("--no-fits", action="store_true", help="SBC only: skip parts 1 to 3")
    parser.add_argument("--pilot", type=int, nargs=2, metavar=("REPLICATIONS", "SEED"),
                        help="only the pilot that set the rule's threshold (every column combination per replication)")
    args = parser.parse_args()
    quiet()
    from shopper_bayes import pooling_study

    start = time.perf_counter()
    if args.pilot:
        print(json.dumps(pilot(*args.pilot)))
        return
    if args.no_fits:
        print(f"SBC of the hierarchical model, {args.sbc} replications:")
        print(json.dumps(sbc(args.sbc), indent=1))
        return
    cases = {name: pooling_study.case(name) for name in pooling_study.CASES}
    for name, data in cases.items():
        sizes = " x ".join(f"{size} {dim}" for dim, size in data.counts["sessions"].sizes.items())
        print(f"{name}: {sizes}, {int(data.counts['sessions'].sum()):,} sessions")
    rows, rule_fits = fits(cases)
    print(f"\n{'case':<15} {'variant':<28} {'centred':<14} {'wall s':>7} {'CPU s':>7} {'NUTS s':>7} {'ESS bulk':>8} "
          f"{'ESS tail':>8} {'ESS/s':>6} {'R-hat':>6} {'div':>4} {'BFMI':>5} {'steps':>5}  gate")
    for r in rows:
        print(f"{r['case']:<15} {r['variant']:<28} {r['centred']:<14} {r['wall_s']:7.1f} {r['cpu_s']:7.1f} {r['sampling_s']:7.1f} "
              f"{r['ess_bulk']:8.0f} {r['ess_tail']:8.0f} {r['ess_per_s']:6.1f} {r['rhat']:6.3f} {r['divergences']:4d} "
              f"{r['bfmi']:5.2f} {r['steps_per_draw']:5.1f}  {r['gate']}")
    print("\nShrinkage and coverage:")
    for r in rows:
        if "extra" in r:
            print(f"  {r['case']}, {r['variant']}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                           for k, v in r["extra"].items()))
    if not args.no_main:
        print("\nThis branch against main's code (rate per cell; z = difference of means / its Monte Carlo error):")
        for case, result in against_main(rule_fits).items():
            print(f"  {case}: {json.dumps(result)}")
    del rule_fits
    if args.sbc:
        print(f"\nSBC of the hierarchical model, {args.sbc} replications:")
        print(json.dumps(sbc(args.sbc), indent=1))
    print(f"\nTotal {(time.perf_counter() - start) / 60:.1f} minutes. Load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""How many draws the drivers fit needs to pass the diagnostics gate, and what each setting costs.

Run from the repository root: .venv/bin/python benchmarks/drivers_draws.py [--seeds K] [--draws 500,1000]
                             [--sampler-seeds M]

For config.yaml's seed and the seeds 1..K-1 (each one the whole run's seed: the holdout split and the
sampler's), the drivers analysis runs on the bundled sessions as `shopper-bayes run` runs it, once per
drivers.draws setting (chains, tune, target_accept and the gate as configured), in one process; the
settings of one seed share its compiled model, so the compile is timed apart. Printed per fit: the
gate's verdict (R-hat of every posterior quantity below diagnostics.max_rhat, bulk and tail ESS, ...),
the largest R-hat and smallest ESS, the fit's time without the compile (NUTS, log-likelihood and
predictive draws) and the whole analysis's. With M > 1, each seed's model is also sampled with M - 1
other sampler seeds (NUTS only, the same compiled model), for more verdicts per setting at less cost.
Also, as a check of drivers_calibration.py, the held-out deciles' 95% intervals from the NUTS draws
against those from as many draws of the Laplace approximation at the posterior mode. No assertions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_drivers puts this tree's src/ on the path
from bench_drivers import Stages, configured, context
from drivers_calibration import laplace_draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="config.yaml's seed and 1..K-1")
    parser.add_argument("--draws", default="500,1000", help="drivers.draws settings, comma-separated")
    parser.add_argument("--sampler-seeds", type=int, default=1, help="sampler seeds per seed's model (the run's and M-1 others)")
    args = parser.parse_args()

    import numpy as np
    import nutpie

    from shopper_bayes.analyses.drivers import run as drivers
    from shopper_bayes.analyses.drivers.compute import holdout
    from shopper_bayes.analyses.drivers.model import build_model
    from shopper_bayes.inference import compiled, fit
    from shopper_bayes.inference.diagnostics import check
    from shopper_bayes.inference.fit import FitCache, sample

    base = configured("bundled")
    settings = [int(value) for value in args.draws.split(",")]
    seeds = [base.seed, *range(1, args.seeds)]
    stages = Stages()
    stages.wrap(compiled.Compiled, "get", "compile")
    stages.wrap(nutpie, "sample", "NUTS")
    stages.wrap(fit, "_predictive", "predictive")
    designs = []
    plain_build = drivers.build

    def build(*args, **kwargs):
        designs.append(plain_build(*args, **kwargs))
        return designs[-1]
    drivers.build = build
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {base.sampler.chains} chains, "
          f"tune {base.drivers.tune}, target_accept {base.drivers.target_accept}; gate: max R-hat "
          f"{base.diagnostics.max_rhat}, min ESS {base.diagnostics.min_ess}")
    rows = {draws: [] for draws in settings}
    extra = {draws: [] for draws in settings}
    for seed in seeds:
        fits = FitCache(base.sampler, seed)
        for draws in settings:
            config = base.model_copy(update={"seed": seed,
                                             "drivers": base.drivers.model_copy(update={"draws": draws})})
            analysis, ctx = context(config, fits.fit)
            stages.seconds.clear()
            started = time.perf_counter()
            result = analysis.run(ctx).summary
            total = time.perf_counter() - started
            seconds = dict(stages.seconds)
            gate = result.diagnostics
            worst = max(gate.variables, key=lambda v: v.max_rhat)
            fit_time = seconds["NUTS"] + seconds["predictive"]
            design = designs[-1]
            intercept, beta = laplace_draws(design, config.drivers.prior, result.draws,
                                            np.random.default_rng([seed, 0]))
            laplace = holdout(design, intercept, beta, config.drivers.calibration_bins, config.drivers.interval_prob,
                              seed)
            gap = max(abs(a - b) for nuts, approx in zip(result.holdout.calibration, laplace.calibration)
                      for a, b in zip(nuts.predicted.interval, approx.predicted.interval))
            differ = sum(n.inside != a.inside for n, a in zip(result.holdout.calibration, laplace.calibration))
            band_differ = sum(n.inside_band != a.inside_band for n, a in zip(result.holdout.calibration, laplace.calibration))
            rows[draws].append((gate.ok, gate.max_rhat, fit_time, total))
            print(f"seed {seed:>4}, draws {draws:>5}: gate {'passed' if gate.ok else 'FAILED'}, max R-hat "
                  f"{gate.max_rhat:.4f} ({worst.variable}), min ESS bulk {gate.min_ess_bulk:,.0f} tail "
                  f"{gate.min_ess_tail:,.0f}; fit {fit_time:5.1f} s (NUTS {seconds['NUTS']:.1f}, predictive "
                  f"{seconds['predictive']:.1f}), compile {seconds.get('compile', 0.0):4.1f} s, whole analysis "
                  f"{total:5.1f} s; NUTS vs Laplace decile intervals: largest endpoint gap {gap:.4f}, "
                  f"deciles judged otherwise {differ} (own interval), {band_differ} (band); "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
            if not gate.ok:
                print("    " + "; ".join(gate.problems))
            names = [term.name for term in design.terms]
            for other in range(1, args.sampler_seeds):
                model = build_model(design.train, design.y_train, names, config.drivers.prior)
                sampler = config.sampler.model_copy(update={"draws": draws, "tune": config.drivers.tune,
                                                            "target_accept": config.drivers.target_accept})
                started = time.perf_counter()
                tree = sample(model, sampler, seed + 1000 * other, groups=("log_likelihood",), compiled=fits.compiled)
                seconds = time.perf_counter() - started
                verdict = check(tree, config.diagnostics)
                extra[draws].append((verdict.ok, verdict.max_rhat, seconds))
                print(f"    sampler seed {seed + 1000 * other}: gate {'passed' if verdict.ok else 'FAILED'}, max R-hat "
                      f"{verdict.max_rhat:.4f}, min ESS bulk {verdict.min_ess_bulk:,.0f} tail "
                      f"{verdict.min_ess_tail:,.0f}; NUTS {seconds:.1f} s", flush=True)
    print()
    for draws, fits in rows.items():
        passed = sum(ok for ok, *_ in fits)
        rhat = [r for _, r, *_ in fits]
        print(f"draws {draws:>5}: gate passed {passed}/{len(fits)}, max R-hat {min(rhat):.4f}-{max(rhat):.4f}, "
              f"fit {np.median([f for *_, f, _ in fits]):.1f} s median, whole analysis "
              f"{np.median([t for *_, t in fits]):.1f} s median")
        if extra[draws]:
            more = extra[draws]
            rhat = [r for _, r, _ in more]
            print(f"    other sampler seeds: gate passed {sum(ok for ok, *_ in more)}/{len(more)}, max R-hat "
                  f"{min(rhat):.4f}-{max(rhat):.4f}, NUTS {np.median([t for *_, t in more]):.1f} s median")


if __name__ == "__main__":
    main()

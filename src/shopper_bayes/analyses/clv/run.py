"""The clv analysis's run: load, fit, summarise (imported when the analysis runs)."""

from __future__ import annotations

import shutil
from functools import partial

from shopper_bayes.analyses.base import Context, FigureSpec, Output
from shopper_bayes.analyses.clv.compute import compute
from shopper_bayes.analyses.clv.figures import alive_figure, holdout_figure, prior_figure
from shopper_bayes.analyses.clv.rfm import rfm_tables


def _periods(config) -> tuple:
    """``calibration_end``, ``observation_end`` and ``time_unit`` from the transactions dataset's settings."""
    dataset = getattr(config, "transactions", None)
    return (getattr(dataset, "calibration_end", None), getattr(dataset, "observation_end", None),
            getattr(dataset, "time_unit", "week"))


def run(ctx: Context) -> Output:
    loaded = ctx.load()
    calibration_end, observation_end, time_unit = _periods(ctx.config)
    ctx.step("per-customer recency, frequency and spend")
    tables = ctx.once("rfm", partial(rfm_tables, loaded, calibration_end, observation_end, time_unit))
    title = {"bg_nbd": "BG/NBD", "pareto_nbd": "Pareto/NBD"}[ctx.settings.model]
    ctx.step(f"fitting {title} and Gamma-Gamma" + (" (MAP)" if ctx.settings.method == "map" else ""))
    done = compute(tables, ctx.settings, ctx.fit, ctx.config.diagnostics, ctx.seed, ctx.step)
    result, arrays = done.result, done.arrays
    figures = [FigureSpec("clv_alive", lambda: alive_figure(arrays, time_unit),
                          "Probability that a customer is still active, by repeat purchases and recency (posterior mean).",
                          "Heat map of P(alive): high for recent buyers, falling with time since the last purchase, "
                          "faster for frequent buyers."),
               FigureSpec("clv_prior", lambda: prior_figure(arrays),
                          "Prior predictive check: share of customers by repeat purchases implied by the priors alone, "
                          "against the data.",
                          "The prior predictive band covers the observed shares of customers by repeat purchases.")]
    if result.holdout is not None:
        figures.insert(0, FigureSpec("clv_holdout", lambda: holdout_figure(result.holdout, time_unit, result.interval_prob),
                                     "Holdout check: predicted repeat purchases (with predictive interval) against the "
                                     "actual ones, cumulatively and by number of calibration purchases.",
                                     "Two panels comparing predicted and actual holdout repeat purchases."))
    return Output(summary=result, figures=figures, models={"clv": done.tree},
                  files={"reports/customers_clv.parquet": lambda path: shutil.copyfile(done.predictions.path, path)})

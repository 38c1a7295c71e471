"""The purchase-rate analysis: count sessions and purchases per segment cell, fit the model(s),
summarise rates, comparisons, the best cell and the LOO comparison."""

from __future__ import annotations

import hashlib
import json

import xarray as xr

from shopper_bayes.analyses.base import Context, FigureSpec, Output
from shopper_bayes.analyses.purchase_rates import figures
from shopper_bayes.analyses.purchase_rates.config import RatesConfig
from shopper_bayes.analyses.purchase_rates.model import (MODELS, best, build_model, compare, comparison_pairs, exact_posterior,
                                                         parameterisation, summarise)
from shopper_bayes.analyses.purchase_rates.results import RatesResult
from shopper_bayes.engine.cells import segment_counts
from shopper_bayes.errors import UserError
from shopper_bayes.inference import comparison, diagnostics


def counts_key(counts: xr.Dataset) -> dict:
    """What a fit to these counts depends on: the cells (names and levels) and the counts themselves."""
    return {"dims": list(counts["sessions"].dims),
            "levels": {dim: [str(v) for v in counts[dim].values] for dim in counts["sessions"].dims},
            "sessions": counts["sessions"].values.ravel().tolist(),
            "purchases": counts["purchases"].values.ravel().tolist()}


def fit_key(counts: xr.Dataset, settings: RatesConfig, name: str) -> str:
    """Key of a rate-model fit: the counts, the model, its priors and how it is inferred (for the
    hierarchical model, the centred or non-centred effects chosen from the counts, so that a saved
    fit of the same counts made before that choice existed is not reused)."""
    inputs = {"counts": counts_key(counts), "model": name,
              "prior": (settings.prior if name == "independent" else settings.hierarchical_prior).model_dump(),
              "inference": settings.inference if name == "independent" else "mcmc"}
    if name == "hierarchical":
        inputs["centred"] = parameterisation(counts)
    return "purchase_rates:" + hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def fit_rates(ctx: Context, counts: xr.Dataset, settings: RatesConfig, name: str) -> xr.DataTree:
    """Fit one model: exact conjugate draws for the independent model (unless ``inference: mcmc``), NUTS otherwise."""
    def build():
        return build_model(counts, settings, name)

    key = fit_key(counts, settings, name)
    if name == "independent" and settings.inference == "exact":
        sampler = ctx.config.sampler
        tree = ctx.fit(build, key, posterior=lambda: exact_posterior(counts, settings, sampler.chains, sampler.draws, ctx.seed))
    else:
        ctx.step(f"fitting the {name} purchase-rate model (NUTS)")
        tree = ctx.fit(build, key)
    tree.attrs["model"] = name
    return tree


def fitted_models(settings: RatesConfig) -> list[str]:
    """The chosen model first, then the other one when the models are to be compared."""
    others = [name for name in MODELS if name != settings.model] if settings.compare_models else []
    return [settings.model, *others]


def run(ctx: Context) -> Output:
    settings: RatesConfig = ctx.settings
    purchase = ctx.config.sessions.columns.purchase
    for name in settings.segments:
        if name in ("purchase", purchase):
            raise UserError("rates.segments", f"{name!r} is the purchase column, the outcome being modelled",
                            "split sessions by other columns")
    loaded = ctx.load(*settings.segments)
    counts = segment_counts(loaded, settings.segments)
    trees = {name: fit_rates(ctx, counts, settings, name) for name in fitted_models(settings)}
    rate = trees[settings.model].posterior["rate"]
    prob = settings.interval_prob
    result = RatesResult(
        model=settings.model,
        inference={name: tree.attrs["inference"] for name, tree in trees.items()},
        segments=list(settings.segments),
        rates=summarise(rate, counts, prob),
        comparisons=compare(rate, comparison_pairs(counts, settings), prob),
        best=best(rate, counts),
        by_model={name: summarise(tree.posterior["rate"], counts, prob) for name, tree in trees.items()},
        model_comparison=(comparison.compare({name: tree.posterior["rate"] for name, tree in trees.items()}, counts)
                          if len(trees) > 1 else None),
        diagnostics=diagnostics.combine({f"{name} model": diagnostics.check(tree, ctx.config.diagnostics)
                                         for name, tree in trees.items()}),
    )
    sampled = next((name for name in trees if trees[name].attrs["inference"] == "mcmc"), None)
    specs = [
        FigureSpec("purchase_rates", lambda: figures.plot_rates(result), "Purchase rate by segment, both models: "
                   "posterior mean and credible interval, observed rate as a cross",
                   "Purchase rate per segment with credible intervals for each model"),
        FigureSpec("ppc", lambda: figures.plot_predictive(trees, counts, "posterior_predictive", prob),
                   "Posterior predictive check: observed purchase rate against its predictive interval",
                   "Observed purchase rate of each segment inside its posterior predictive interval"),
        FigureSpec("prior_predictive", lambda: figures.plot_predictive(trees, counts, "prior_predictive", prob),
                   "Prior predictive check: purchase rates the priors allow before seeing data",
                   "Range of purchase rates the priors allow for each segment"),
    ]
    if sampled:
        tree = trees[sampled]
        hyper = "hyperparameters and " if sampled == "hierarchical" else ""
        specs += [
            FigureSpec("rank", lambda: figures.plot_rank(tree),
                       f"Rank plots per chain of the {sampled} model (sampled by NUTS): its {hyper}the six cell rates "
                       "with the lowest ESS. Each chain's curve stays inside the grey envelope when the chains agree.",
                       "Rank ECDF plot per chain with its envelope"),
            FigureSpec("trace", lambda: figures.plot_trace(tree),
                       f"Trace plots of the {sampled} model's same variables, divergences marked", "Trace plot per chain"),
        ]
    return Output(summary=result, figures=specs, models={f"purchase_rates_{name}": tree for name, tree in trees.items()})

"""The purchase-rate analysis: count sessions and purchases per segment cell, fit the model(s),
summarise rates, comparisons, the best cell, the LOO comparison, the predictive check and the rank tests."""

from __future__ import annotations

import hashlib
import json

import xarray as xr

from shopper_bayes.analyses.base import Context, FigureSpec, Output
from shopper_bayes.analyses.purchase_rates import checks, figures, refuse_the_outcome
from shopper_bayes.analyses.purchase_rates.config import RatesConfig
from shopper_bayes.analyses.purchase_rates.model import (MODELS, best, build_model, compare, comparison_pairs, exact_groups, exact_posterior,
                                                         lift_draws, parameterisation, summarise)
from shopper_bayes.analyses.purchase_rates.results import RatesResult
from shopper_bayes.engine.cells import segment_counts
from shopper_bayes.inference import comparison, diagnostics, ranks


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
        tree = ctx.fit(build, key, posterior=lambda: exact_posterior(counts, settings, sampler.chains, sampler.draws, ctx.seed),
                       closed_form=exact_groups(counts, settings, ctx.seed))
    else:
        ctx.step(f"fitting the {name} purchase-rate model (NUTS)")
        tree = ctx.fit(build, key)
    tree.attrs["model"] = name
    return tree


def fitted_models(settings: RatesConfig) -> list[str]:
    """The chosen model first, then the other one when the models are to be compared."""
    others = [name for name in MODELS if name != settings.model] if settings.compare_models else []
    return [settings.model, *others]


def split_counts(ctx: Context, settings: RatesConfig) -> tuple[xr.Dataset | None, str | None]:
    """Sessions and purchases per cell and level of ``rates.check_by``, or None and why the check is not done."""
    by = settings.check_by
    if by is None:
        return None, "not done (rates.check_by is null)"
    mapped = ctx.config.sessions.columns.model_dump()
    if by in mapped and mapped[by] is None:
        return None, f"not done: there is no {by} column (sessions.columns.{by} is null); name another in rates.check_by"
    column = mapped.get(by) or by
    if column in {mapped.get(name) or name for name in settings.segments}:
        return None, (f"not done: {by} is already a segment column, so each cell has one {by}; name another column "
                      "in rates.check_by")
    split = segment_counts(ctx.load(*settings.segments, by), [*settings.segments, by])
    if not checks.checkable(split, by):
        return None, f"not done: every cell's sessions have one {by} only; name another column in rates.check_by"
    return split, None


def rank_tests(tree: xr.DataTree, prob: float) -> dict[str, ranks.RankHistogram]:
    """Rank histograms of the variables the rank and trace plots show (:func:`figures.shown`), by panel label."""
    return {label: ranks.rank_histogram(draws.transpose("chain", "draw").values, prob)
            for label, draws in figures.panels(figures.shown(tree)).items()}


def run(ctx: Context) -> Output:
    settings: RatesConfig = ctx.settings
    refuse_the_outcome(settings, ctx.config)
    loaded = ctx.load(*settings.segments)
    counts = segment_counts(loaded, settings.segments)
    split, note = split_counts(ctx, settings)  # counted before the fits, with the run's other statistics
    trees = {name: fit_rates(ctx, counts, settings, name) for name in fitted_models(settings)}
    rate = trees[settings.model].posterior["rate"]
    prob = settings.interval_prob
    pairs = comparison_pairs(counts, settings)
    checked = ({name: checks.predictive_check(tree.posterior["rate"], split, settings.check_by, prob, ctx.seed)
                for name, tree in trees.items()} if split is not None else {})
    sampled = next((name for name in trees if trees[name].attrs["inference"] == "mcmc"), None)
    histograms = rank_tests(trees[sampled], prob) if sampled else {}
    result = RatesResult(
        model=settings.model,
        inference={name: tree.attrs["inference"] for name, tree in trees.items()},
        segments=list(settings.segments),
        rates=summarise(rate, counts, prob),
        comparisons=compare(rate, pairs, prob, settings.practical_lift),
        best=best(rate, counts),
        by_model={name: summarise(tree.posterior["rate"], counts, prob) for name, tree in trees.items()},
        model_comparison=(comparison.compare({name: tree.posterior["rate"] for name, tree in trees.items()}, counts)
                          if len(trees) > 1 else None),
        predictive_check={name: entry for name, (entry, _, _) in checked.items()},
        predictive_check_note=note,
        rank_tests=[{"model": sampled, "variable": label, "p_value": h.p_value, "prob": h.prob, "thin": h.thin,
                     "bins": h.counts.shape[1], "draws_per_chain": int(h.counts[0].sum()), "flagged": h.flagged}
                    for label, h in histograms.items()],
        diagnostics=diagnostics.combine({f"{name} model": diagnostics.check(tree, ctx.config.diagnostics)
                                         for name, tree in trees.items()}),
    )
    specs = [
        FigureSpec("purchase_rates", lambda: figures.plot_rates(result), "Purchase rate by segment, both models: "
                   "posterior mean and credible interval, observed rate as a cross",
                   "Purchase rate per segment with credible intervals for each model"),
    ]
    if result.comparisons:
        lifts = [lift_draws(rate, first, second).values.ravel() for first, second in pairs[:figures.SHOWN_LIFTS]]
        differences = [(rate.sel(first) - rate.sel(second)).values.ravel() for first, second in pairs[:figures.SHOWN_LIFTS]]
        shown = "" if len(pairs) <= figures.SHOWN_LIFTS else f" (the first {figures.SHOWN_LIFTS} of {len(pairs)} comparisons)"
        specs.append(FigureSpec(
            "rate_lift", lambda: figures.plot_lift(result, lifts, differences),
            f"Posterior of the difference A − B (left, pp; the draws above 0 shaded green, P(A > B) printed) and of "
            f"the relative lift A / B − 1 (right) of each comparison{shown}, {result.model} model: the grey band "
            f"holds lifts within ±{settings.practical_lift:.0%}, too small to matter (rates.practical_lift); the "
            "probabilities below, inside and above the band are printed in each panel.",
            "Histograms of the posterior difference and lift between the compared segments, the draws above zero "
            "and the band of negligible lifts shaded"))
    if checked:
        specs.append(FigureSpec(
            "ppc", lambda: figures.plot_check(result, {name: t_rep for name, (_, t_rep, _) in checked.items()},
                                              checked[settings.model][2]),
            f"Posterior predictive check: is each cell's purchase rate the same in every {settings.check_by}? Left: "
            f"the spread of the cells' rates per {settings.check_by} around the cell's rate, observed (line) against "
            f"the spread in data replicated from each model (histogram; the {result.model} model's {prob:.0%} "
            f"interval shaded). Right: each cell and {settings.check_by}, observed rate (cross) against the "
            f"{result.model} model's {prob:.0%} predictive interval.",
            f"Observed spread of purchase rates across {settings.check_by} against its posterior predictive "
            "distribution, and each group's rate against its predictive interval"))
    specs.append(FigureSpec(
        "prior_predictive", lambda: figures.plot_prior_predictive(trees, counts, prob),
        f"Prior predictive check: the {prob:.0%} range of purchase rates each model's priors allow before seeing data, "
        "observed rate as a cross", "Range of purchase rates the priors allow for each segment"))
    if sampled:
        tree = trees[sampled]
        hyper = "its hyperparameters and " if sampled == "hierarchical" else ""
        specs += [
            FigureSpec("rank", lambda: figures.plot_rank(histograms, sampled),
                       f"Rank histograms of the {sampled} model (sampled by NUTS): {hyper}the rates of the (at most "
                       f"{figures.SHOWN_CELLS}) cells with the lowest ESS. Each chain's draws are ranked among all "
                       "chains' draws (thinned by ESS) and counted in bins; when the chains sample the same "
                       f"distribution, all bars of a panel stay inside the grey band with {prob:.0%} probability.",
                       "Rank histogram per chain and variable with the band expected when the chains agree"),
            FigureSpec("trace", lambda: figures.plot_trace(tree),
                       f"Trace plots of the {sampled} model's same variables, divergences marked", "Trace plot per chain"),
        ]
    return Output(summary=result, figures=specs, models={f"purchase_rates_{name}": tree for name, tree in trees.items()})

"""The drivers-of-conversion analysis on the seam."""

from __future__ import annotations

from functools import partial

from shopper_bayes.analyses.base import Context, FigureSpec, Output
from shopper_bayes.analyses.drivers import compute, figures, requests
from shopper_bayes.analyses.drivers.config import DriversSettings
from shopper_bayes.analyses.drivers.design import build
from shopper_bayes.analyses.drivers.model import INPUTS, build_model, fit_key
from shopper_bayes.analyses.drivers.results import DriversResult
from shopper_bayes.datasets.base import Loaded
from shopper_bayes.inference.diagnostics import check


def load(ctx: Context, settings: DriversSettings) -> Loaded:
    """The sessions with the input columns; the whole year unless ``use_sessions_filter``."""
    (needs, options), = requests(settings, ctx.config)
    return ctx.load(*needs, **options)


def run(ctx: Context) -> Output:
    settings: DriversSettings = ctx.settings
    loaded = load(ctx, settings)
    sessions = loaded.cleaning.rows_used
    if sessions > settings.max_rows and loaded.table is not None:  # the engine draws the sample; the rest stay there
        frame = ctx.once("sample", partial(loaded.table.frame, limit=settings.max_rows, seed=ctx.seed))
    else:
        frame = loaded.frame
    design = build(frame, settings, ctx.seed, total=sessions)
    names = [term.name for term in design.terms]
    ctx.step(f"fitting the logistic regression on {len(design.y_train):,} sessions, {len(names)} inputs")
    tree = ctx.fit(lambda: build_model(design.train, design.y_train, names, settings.prior),
                   fit_key(design.train, design.y_train, names, settings.prior),
                   groups=("prior",), inputs=INPUTS,  # the prior check reads the prior predictive; LOO computes its own subsample
                   draws=settings.draws, tune=settings.tune, target_accept=settings.target_accept)
    intercept, beta = compute.draws_of(tree)
    base_rate = float(design.y_train.mean())
    scope = dict(loaded.scope)
    scope["filter"] = scope.get("filter") or "none: all months (drivers.use_sessions_filter: false)"
    result = DriversResult(
        scope=scope, sessions=sessions, train_sessions=len(design.y_train), base_rate=base_rate,
        notes=design.notes, interval_prob=settings.interval_prob, prior=settings.prior.model_dump(),
        effects=compute.effects(design, intercept, beta, settings.interval_prob),
        holdout=compute.holdout(design, intercept, beta, settings.calibration_bins, settings.interval_prob, ctx.seed),
        model_comparison=compute.compare(tree, design, settings.baseline, settings.loo_sessions, ctx.seed),
        prior_check=compute.prior_check(tree, base_rate, settings.interval_prob),
        draws=len(intercept), diagnostics=check(tree, ctx.config.diagnostics), cleaning=loaded.cleaning.to_dict())
    specs = [
        FigureSpec("drivers_forest", lambda: figures.plot_forest(result),
                   "Odds ratio of purchase per sd of each input (per level for labels), ordered by effect",
                   "Forest plot of odds ratios with intervals on a log scale, one row per input"),
        FigureSpec("drivers_calibration", lambda: figures.plot_calibration(result),
                   "Held-out sessions: predicted against observed purchase rate by decile of predicted probability",
                   "Reliability curve: observed rate per decile with its predicted interval, against the diagonal"),
        FigureSpec("drivers_prior_predictive", lambda: figures.plot_prior_check(result),
                   "Prior predictive check: share of sessions buying under the priors, against the observed share",
                   "Histogram of the prior predictive purchase share with the observed share marked"),
    ]
    slim = tree.copy()
    for group in ("log_likelihood", "posterior_predictive", "prior_predictive"):
        if group in slim.children:
            del slim[group]
    return Output(summary=result, figures=specs, models={"drivers_logit": slim})

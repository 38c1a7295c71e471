"""The ad_campaigns analysis's run: load, fit, summarise (imported when the analysis runs)."""

from __future__ import annotations

import warnings

from shopper_bayes.analyses.ad_campaigns.compute import summarise
from shopper_bayes.analyses.ad_campaigns.config import AdCampaignsSettings
from shopper_bayes.analyses.ad_campaigns.figures import ctr_figure, roi_figure
from shopper_bayes.analyses.ad_campaigns.model import build_model, fit_key
from shopper_bayes.analyses.ad_campaigns.stats import statistics
from shopper_bayes.analyses.base import Context, FigureSpec, Output
from shopper_bayes.inference.diagnostics import check


def run(ctx: Context) -> Output:
    settings: AdCampaignsSettings = ctx.settings
    loaded = ctx.load(*settings.by)
    stats = statistics(loaded.table, list(settings.by))
    ctx.step("fitting the over-dispersed model of ad counts")
    with warnings.catch_warnings():
        # The potentials hold the per-ad likelihood of the dispersion and of approval; predictive sampling of
        # the cell totals uses their posterior draws, which is what the warning says it cannot do for priors.
        warnings.filterwarnings("ignore", message="The effect of Potentials", category=UserWarning)
        tree = ctx.fit(build_model(stats, settings), fit_key(stats, settings), groups=("log_likelihood",),
                       draws=settings.draws, tune=settings.tune, target_accept=settings.target_accept)
    result = summarise(stats, tree, settings, check(tree, ctx.config.diagnostics),
                       dict(loaded.scope.get("kept", {})), ctx.seed)
    revenue = "ROI assumes the revenue per conversion of ad_campaigns.revenue_per_conversion"
    figures = [
        FigureSpec("ads_roi", lambda: roi_figure(result), f"ROI per campaign with its interval; dashed: break-even. {revenue}.",
                   "Horizontal intervals of the return on ad spend of each campaign, with a dashed line at zero."),
        FigureSpec("ads_ctr_by_audience", lambda: ctr_figure(result),
                   "CTR per audience cell: the model's interval (thick) against the summed-clicks binomial interval (thin).",
                   "Horizontal intervals of the click-through rate of each audience cell."),
    ]
    return Output(summary=result, figures=figures, models={"ad_campaigns": tree},
                  tables={"ads_cells": stats.groups.drop(columns=["campaign_index", "audience_index"])})

"""Retention and churn: the "no purchase for N days" rule with a Beta interval, and monthly cohorts."""

from __future__ import annotations

import numpy as np

from shopper_bayes.analyses.base import Analysis, Context, FigureSpec, Output, one_load
from shopper_bayes.analyses.customers_churn.compute import ChurnResult, cohort_frame, compute, counts_query
from shopper_bayes.analyses.customers_churn.config import ChurnSettings
from shopper_bayes.analyses.customers_churn.section import console, headline, section
from shopper_bayes.datasets.transactions import over_customers


def run(ctx: Context) -> Output:
    from shopper_bayes.analyses.customers_churn.figures import cohort_figure  # matplotlib: only where figures are drawn

    loaded = ctx.load()
    end = loaded.scope["observation_end"]
    counts, = over_customers(loaded, [counts_query(ctx.settings, end)], end, loaded.scope["calibration_end"])
    result = compute(counts, loaded, ctx.settings, np.random.default_rng(ctx.seed), loaded.scope)
    figure = FigureSpec(
        name="customers_cohorts", draw=lambda: cohort_figure(result),
        caption="Share of each monthly cohort (month of first purchase) with a purchase k months later.",
        alt="Heatmap: rows are cohorts by month of first purchase, columns months since, colour the share buying.")
    return Output(summary=result, figures=[figure], tables={"customers_cohorts": cohort_frame(result)})


ANALYSIS = Analysis(key="customers_churn", title="Retention and churn", dataset="transactions",
                    settings=ChurnSettings, result=ChurnResult, run=run, section=section,
                    console=console, headline=headline, requests=one_load)

"""Revenue concentration: the top customers' share of revenue with a bootstrap interval, Gini, Lorenz curve."""

from __future__ import annotations

import numpy as np

from shopper_bayes.analyses.base import Analysis, Context, FigureSpec, Output, one_load
from shopper_bayes.analyses.customers_pareto.compute import ParetoResult, Revenue, compute, queries
from shopper_bayes.analyses.customers_pareto.config import ParetoSettings
from shopper_bayes.analyses.customers_pareto.section import console, headline, section
from shopper_bayes.datasets.transactions import over_customers


def run(ctx: Context) -> Output:
    from shopper_bayes.analyses.customers_pareto.figures import lorenz_figure  # matplotlib: only where figures are drawn

    loaded = ctx.load()
    revenue = Revenue(*over_customers(loaded, queries(ctx.settings), loaded.scope["observation_end"],
                                      loaded.scope["calibration_end"]))
    result = compute(revenue, ctx.settings, np.random.default_rng(ctx.seed), loaded.scope)
    figures = []
    if result.revenue_share is not None:
        figures.append(FigureSpec(
            name="customers_lorenz", draw=lambda: lorenz_figure(result),
            caption="Lorenz curve: cumulative share of revenue against the share of customers, least spending first.",
            alt="A Lorenz curve bowed below the diagonal, with a line marking where the top customers start."))
    return Output(summary=result, figures=figures)


ANALYSIS = Analysis(key="customers_pareto", title="Who brings the revenue", dataset="transactions",
                    settings=ParetoSettings, result=ParetoResult, run=run, section=section,
                    console=console, headline=headline, requests=one_load)

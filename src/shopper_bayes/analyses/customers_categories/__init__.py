"""Top categories: purchases, share with interval, P(most purchased) and revenue per category."""

from __future__ import annotations

import numpy as np

from shopper_bayes.analyses.base import Analysis, Context, FigureSpec, Output
from shopper_bayes.analyses.customers_categories.compute import CategoriesResult, compute, table_frame
from shopper_bayes.analyses.customers_categories.config import CategoriesSettings
from shopper_bayes.analyses.customers_categories.section import console, headline, section


def requests(settings: CategoriesSettings, config) -> list:
    """The run's one load: the purchases with a category."""
    return [(("category",), {})]


def run(ctx: Context) -> Output:
    from shopper_bayes.analyses.customers_categories.figures import categories_figure  # matplotlib: only where figures are drawn

    (needs, options), = requests(ctx.settings, ctx.config)
    loaded = ctx.load(*needs, **options)
    result = compute(loaded, ctx.settings, np.random.default_rng(ctx.seed), loaded.scope)
    if not result.available:
        return Output(summary=result)
    figure = FigureSpec(
        name="customers_categories", draw=lambda: categories_figure(result),
        caption=f"Share of purchases of the top categories with {result.interval_prob:.0%} intervals.",
        alt="Horizontal bar chart of the top categories' share of purchases with interval whiskers.")
    return Output(summary=result, figures=[figure], tables={"customers_categories": table_frame(result)})


ANALYSIS = Analysis(key="customers_categories", title="Top categories", dataset="transactions",
                    settings=CategoriesSettings, result=CategoriesResult, run=run, section=section,
                    console=console, headline=headline, requests=requests)

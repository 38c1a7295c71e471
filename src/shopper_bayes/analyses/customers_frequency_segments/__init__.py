"""Purchase-frequency segments: one-time, occasional and frequent buyers, their shares and revenue."""

from __future__ import annotations

import numpy as np

from shopper_bayes.analyses.base import Analysis, Context, FigureSpec, Output, one_load
from shopper_bayes.analyses.customers_frequency_segments.compute import (
    FrequencySegmentsResult,
    compute,
    per_purchase_days,
    table_frame,
)
from shopper_bayes.analyses.customers_frequency_segments.config import FrequencySegmentsSettings
from shopper_bayes.analyses.customers_frequency_segments.section import console, headline, section
from shopper_bayes.datasets.transactions import over_customers


def run(ctx: Context) -> Output:
    from shopper_bayes.analyses.customers_frequency_segments.figures import segments_figure  # matplotlib: only where figures are drawn

    loaded = ctx.load()
    table, = over_customers(loaded, [per_purchase_days()], loaded.scope["observation_end"],
                            loaded.scope["calibration_end"])
    result = compute(table, ctx.settings, np.random.default_rng(ctx.seed), loaded.scope)
    figure = FigureSpec(
        name="customers_frequency_segments", draw=lambda: segments_figure(result),
        caption=f"Share of customers (with {result.interval_prob:.0%} interval) and of revenue by purchase frequency.",
        alt="Bar chart: for one-time, occasional and frequent buyers, their share of customers and of revenue.")
    return Output(summary=result, figures=[figure], tables={"customers_frequency_segments": table_frame(result)})


ANALYSIS = Analysis(key="customers_frequency_segments", title="Purchase frequency", dataset="transactions",
                    settings=FrequencySegmentsSettings, result=FrequencySegmentsResult, run=run, section=section,
                    console=console, headline=headline, requests=one_load)

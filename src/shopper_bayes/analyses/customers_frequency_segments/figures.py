"""Figure of the frequency segments: share of customers (with interval) beside share of revenue."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from shopper_bayes.analyses.customers_frequency_segments.compute import FrequencySegmentsResult
from shopper_bayes.report.style import PALETTE, new_figure, style


def segments_figure(result: FrequencySegmentsResult) -> Figure:
    names = [f"{entry.segment}\n({entry.purchase_days} day{'' if entry.purchase_days == '1' else 's'})"
             for entry in result.segments]
    share = np.array([entry.share for entry in result.segments])
    low = np.array([entry.interval[0] for entry in result.segments])
    high = np.array([entry.interval[1] for entry in result.segments])
    revenue = np.array([entry.revenue_share or 0.0 for entry in result.segments])
    x = np.arange(len(names))
    with style():
        fig = new_figure()
        ax = fig.subplots()
        ax.bar(x - 0.2, share * 100, 0.4, color=PALETTE[0], label="customers")
        ax.vlines(x - 0.2, low * 100, high * 100, color="black", linewidth=2, label=f"{result.interval_prob:.0%} interval")
        ax.bar(x + 0.2, revenue * 100, 0.4, color=PALETTE[1], label="revenue")
        ax.set_xticks(x, names)
        ax.set_ylabel("share (%)")
        ax.set_title("Customers and revenue by purchase frequency")
        ax.legend()
    return fig

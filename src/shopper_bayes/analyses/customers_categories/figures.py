"""Figure of the top categories: share of purchases with interval, largest on top."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from shopper_bayes.analyses.customers_categories.compute import CategoriesResult
from shopper_bayes.report.style import PALETTE, new_figure, style


def categories_figure(result: CategoriesResult) -> Figure:
    entries = result.categories[::-1]
    share = np.array([entry.share for entry in entries]) * 100
    low = np.array([entry.interval[0] for entry in entries]) * 100
    high = np.array([entry.interval[1] for entry in entries]) * 100
    y = np.arange(len(entries))
    with style():
        fig = new_figure(height=max(2.5, 0.35 * len(entries) + 1.2))
        ax = fig.subplots()
        ax.barh(y, share, color=PALETTE[0])
        ax.hlines(y, low, high, color="black", linewidth=2)
        ax.set_yticks(y, [entry.category for entry in entries])
        ax.set_xlabel(f"share of purchases (%), {result.interval_prob:.0%} interval")
        ax.set_title(f"Top {len(entries)} of {result.n_categories} categories")
    return fig

"""Cohort heatmap: month of first purchase x months since, share of the cohort still buying."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from shopper_bayes.analyses.customers_churn.compute import ChurnResult
from shopper_bayes.report.style import new_figure, style


def cohort_figure(result: ChurnResult) -> Figure:
    values = np.array([[np.nan if share is None else share * 100 for share in cohort.shares]
                       for cohort in result.cohorts])
    labels = [f"{cohort.cohort} (n={cohort.customers:,})" for cohort in result.cohorts]
    # Month 0 is 100% by definition; the colour scale is set by the later months.
    later = values[:, 1:] if values.shape[1] > 1 else values
    top = np.nanmax(later) if np.isfinite(later).any() else 100
    with style():
        fig = new_figure(height=max(2.5, 0.3 * len(labels) + 1.5))
        ax = fig.subplots()
        image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0, vmax=top)
        ax.set_yticks(np.arange(len(labels)), labels)
        ax.set_xlabel("months since first purchase")
        ax.set_title("Share of each cohort buying, by month")
        ax.grid(False)
        if values.size <= 400:
            for (i, j), value in np.ndenumerate(values):
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7,
                            color="white" if value < 0.6 * top else "black")
        fig.colorbar(image, ax=ax, label="% of cohort with a purchase")
    return fig

"""Figures of the demographics analysis, drawn from the typed result only."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from shopper_bayes.analyses.demographics.result import DemographicsResult
from shopper_bayes.report.style import PALETTE, TARGET, WIDTH, new_figure, style

FLAG_COLOURS = {"target": PALETTE[2], "underperforming": TARGET, "unclear": PALETTE[0]}


def spend_forest(result: DemographicsResult) -> Figure:
    """Per modelled column, one panel: posterior mean and interval of mean spend per level (sorted),
    coloured by flag, the observed mean as an open circle and the overall mean as a dashed line."""
    columns = list(result.groups)
    heights = [max(len(result.groups[column]), 2) for column in columns]
    with style():
        fig = new_figure(WIDTH, 1.0 + 0.22 * sum(heights) + 0.5 * len(columns))
        axes = fig.subplots(len(columns), 1, sharex=True, gridspec_kw={"height_ratios": heights}, squeeze=False)[:, 0]
        overall = result.overall_spend
        for ax, column in zip(axes, columns):
            levels = sorted(result.groups[column], key=lambda level: level.mean)
            y = np.arange(len(levels))
            for i, level in enumerate(levels):
                colour = FLAG_COLOURS[level.flag]
                ax.plot(level.interval, [i, i], color=colour, lw=2)
                ax.plot(level.mean, i, "o", color=colour, ms=5)
                ax.plot(level.observed_mean, i, "o", mfc="none", mec="0.4", ms=5)
            ax.axvline(overall.mean, color="0.3", ls="--", lw=1)
            ax.set_yticks(y, [f"{level.level} ({level.customers:,})" for level in levels])
            ax.set_title(column.replace("_", " "), loc="left", fontsize=10)
            ax.grid(axis="y", visible=False)
        axes[-1].set_xlabel("mean spend per customer profile (filled: model, open: observed)")
        handles = [axes[0].plot([], [], "o-", color=colour, label=flag)[0] for flag, colour in FLAG_COLOURS.items()]
        handles.append(axes[0].axvline(np.nan, color="0.3", ls="--", lw=1, label=f"overall {overall.mean:,.0f}"))
        fig.legend(handles=handles, loc="outside upper center", ncols=4, frameon=False)
    return fig


def category_zone_heatmap(result: DemographicsResult) -> Figure:
    """Categories (rows, by total orders) × zones (columns): each cell the category's share of the zone's orders."""
    categories = [entry.name for entry in result.categories]
    zones = sorted({entry.zone for entry in result.zones})
    share = np.zeros((len(categories), len(zones)))
    for entry in result.zones:
        share[categories.index(entry.category), zones.index(entry.zone)] = entry.share
    with style():
        fig = new_figure(WIDTH, 1.2 + 0.3 * len(categories))
        ax = fig.subplots()
        image = ax.imshow(share * 100, aspect="auto", cmap="Blues")
        ax.set_xticks(range(len(zones)), zones)
        ax.set_yticks(range(len(categories)), categories)
        ax.grid(False)
        for i in range(len(categories)):
            for j in range(len(zones)):
                value = share[i, j] * 100
                ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if value > share.max() * 60 else "black")
        fig.colorbar(image, ax=ax, label="% of the zone's orders")
        ax.set_title("Categories by zone")
    return fig

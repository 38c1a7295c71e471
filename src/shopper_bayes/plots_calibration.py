"""Figures of the calibration studies: SBC rank histograms and coverage against the nominal level."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from shopper_bayes.calibration import RANK_DRAWS, RateStudy, independent_events
from shopper_bayes.report.style import PALETTE, new_figure, style


def plot_ranks(studies: list[RateStudy], path) -> None:
    """One histogram per study of the drawn rate's rank among the thinned posterior draws.

    Calibrated fits give a flat histogram; the grey band holds 99% of bin counts under uniformity.
    """
    with style():
        _plot_ranks(studies, path)


def _plot_ranks(studies: list[RateStudy], path) -> None:
    fig = new_figure(4 * len(studies), 3.4)
    axes = fig.subplots(1, len(studies), squeeze=False)
    for ax, study in zip(axes[0], studies):
        ranks = independent_events(study.rank, study.cells_independent)
        bins = 20 if ranks.size >= 400 else 10  # at least 20 expected per bin
        edges = np.linspace(0, RANK_DRAWS + 1, bins + 1)
        low, high = stats.binom(ranks.size, 1 / bins).ppf([0.005, 0.995])
        ax.axhspan(low, high, color="0.85", zorder=0)
        ax.axhline(ranks.size / bins, color="0.5", linewidth=1)
        ax.hist(ranks, bins=edges, color=PALETTE[0], edgecolor="white")
        ax.set_title(study.label, fontsize=10)
        ax.set_xlabel(f"rank among {RANK_DRAWS} posterior draws ({ranks.size:,} ranks)")
    axes[0][0].set_ylabel("count")
    fig.suptitle("SBC rank histograms of the purchase rates (grey: 99% range of a bin's count if ranks are uniform)",
                 fontweight="bold")
    fig.savefig(path)


def plot_coverage(table: pd.DataFrame, path) -> None:
    """Per nominal level, one row per study: coverage (dot) against the nominal level ± its binomial margin (grey)."""
    levels = sorted(table["nominal"].unique())
    studies = list(dict.fromkeys(table["study"]))
    with style():
        fig = new_figure(5 * len(levels), 1.4 + 0.4 * len(studies))
        axes = fig.subplots(1, len(levels), sharey=True, squeeze=False)
        _draw_coverage(axes, table, levels, studies)
        fig.savefig(path)


def _draw_coverage(axes, table, levels, studies) -> None:
    for ax, level in zip(axes[0], levels):
        rows = table[table["nominal"] == level].set_index("study").loc[studies]
        y = np.arange(len(studies))
        ax.barh(y, 2 * rows["margin"], left=level - rows["margin"], height=0.6, color="0.85")
        ax.axvline(level, color="0.5", linewidth=1)
        colours = [PALETTE[0] if within else PALETTE[3] for within in rows["within"]]
        ax.scatter(rows["coverage"], y, color=colours, zorder=3, s=30)
        ax.set_yticks(y, studies)
        ax.set_title(f"central {level:.0%} intervals", fontsize=10)
        ax.set_xlabel("share of intervals containing the truth")
        ax.grid(axis="y", visible=False)
    axes[0][0].invert_yaxis()  # shared: the first study on top in every panel
    axes[0][0].figure.suptitle("Coverage (dot) against the nominal level ± its binomial margin (grey): blue within, "
                               "red outside", fontweight="bold")

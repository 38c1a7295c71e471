"""Figures of the CLV analysis: each takes typed results and returns a Figure (never saved here)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from shopper_bayes.analyses.clv.results import ClvArrays, Holdout
from shopper_bayes.report.style import PALETTE, PREDICTIVE, new_figure, style


def holdout_figure(holdout: Holdout, time_unit: str, prob: float) -> Figure:
    """Cumulative repeat purchases per holdout period, and holdout purchases by calibration purchases."""
    with style():
        fig = new_figure(height=3.8)
        left, right = fig.subplots(1, 2)
        period = np.array([row.period + 1 for row in holdout.cumulative])
        lo = [row.interval[0] for row in holdout.cumulative]
        hi = [row.interval[1] for row in holdout.cumulative]
        left.fill_between(period, lo, hi, color=PREDICTIVE, alpha=0.25, label=f"{prob:.0%} predictive interval")
        left.plot(period, [row.predicted for row in holdout.cumulative], color=PREDICTIVE, label="predicted")
        left.plot(period, [row.actual for row in holdout.cumulative], color=PALETTE[3], label="actual")
        left.set(title="Cumulative repeat purchases", xlabel=f"{time_unit}s into the holdout", ylabel="purchases")
        left.legend(loc="upper left")
        groups = [row.calibration_purchases for row in holdout.by_frequency]
        x = np.arange(len(groups))
        predicted = np.array([row.predicted for row in holdout.by_frequency])
        errors = np.array([[row.predicted - row.interval[0], row.interval[1] - row.predicted] for row in holdout.by_frequency]).T
        right.bar(x, predicted, color=PREDICTIVE, alpha=0.5, yerr=errors, capsize=3, label="predicted")
        right.plot(x, [row.actual for row in holdout.by_frequency], "o", color=PALETTE[3], label="actual")
        right.set(title="By calibration purchases", xlabel="repeat purchases in calibration", ylabel="holdout purchases",
                  xticks=x, xticklabels=groups)
        right.legend(loc="upper center")
        return fig


def alive_figure(arrays: ClvArrays, time_unit: str) -> Figure:
    """Posterior mean P(alive) by frequency and recency, for customers of the largest age."""
    with style():
        fig = new_figure(height=4.5)
        ax = fig.subplots()
        alive = arrays.alive
        recency = alive["recency"].values
        frequency = alive["frequency"].values
        image = ax.imshow(alive.values, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1,
                          extent=(recency[0], recency[-1], frequency[0] - 0.5, frequency[-1] + 0.5))
        ax.grid(False)
        ax.set(title=f"P(alive) at age {alive.attrs['T']:.1f} {time_unit}s", xlabel=f"recency ({time_unit}s)",
               ylabel="repeat purchases")
        fig.colorbar(image, ax=ax, label="P(alive)")
        return fig


def prior_figure(arrays: ClvArrays) -> Figure:
    """Prior predictive share of customers by calibration repeat purchases against the observed share."""
    with style():
        fig = new_figure(height=3.5)
        ax = fig.subplots()
        shares = arrays.prior_shares.values
        x = np.arange(shares.shape[1])
        lo, mid, hi = np.quantile(shares, [0.05, 0.5, 0.95], axis=0)
        ax.fill_between(x, lo, hi, color=PREDICTIVE, alpha=0.25, step="mid", label="prior predictive 90%")
        ax.plot(x, mid, color=PREDICTIVE, drawstyle="steps-mid", label="prior predictive median")
        ax.plot(x, arrays.observed_shares.values, "o", color=PALETTE[3], label="observed")
        ax.set(title="Prior check: customers by repeat purchases", xlabel="repeat purchases in calibration",
               ylabel="share of customers", xticks=x, xticklabels=list(arrays.prior_shares["group"].values))
        ax.legend()
        return fig

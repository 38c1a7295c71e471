"""Figures of the drivers analysis, drawn from the typed result only."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from shopper_bayes.analyses.drivers.results import DriversResult, ordered
from shopper_bayes.report.style import PLUGIN, PREDICTIVE, TARGET, new_figure, style


def plot_forest(result: DriversResult) -> Figure:
    effects = ordered(result)
    with style():
        fig = new_figure(height=1.2 + 0.3 * max(len(effects), 1))
        ax = fig.subplots()
        for row, effect in enumerate(effects):
            low, high = effect.odds_ratio.interval
            colour = PREDICTIVE if low > 1 else TARGET if high < 1 else "grey"
            ax.plot([low, high], [row, row], color=colour, linewidth=2.5)
            ax.plot(effect.odds_ratio.mean, row, "o", color=colour)
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        from shopper_bayes.analyses.drivers.labels import labeller

        label = labeller(result)
        ax.set_yticks(range(len(effects)), [label(effect.term) for effect in effects])
        ax.invert_yaxis()
        ax.set_xlabel(f"odds ratio (log scale), {result.interval_prob:.0%} interval")
        # A figure title: centred over the axes alone it ran off the right edge past the long input names.
        fig.suptitle("What goes with buying (associations, not causes)", fontweight="bold")
    return fig


def plot_calibration(result: DriversResult) -> Figure:
    bins = result.holdout.calibration
    predicted = np.array([b.predicted.mean for b in bins])
    with style():
        fig = new_figure(width=5.5, height=5.0)
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, label="perfect calibration")
        for b in bins:
            ax.plot([b.predicted.mean] * 2, b.band, color=PREDICTIVE, linewidth=1.0)
            ax.plot([b.predicted.mean] * 2, b.predicted.interval, color=PREDICTIVE, linewidth=2.5, alpha=0.6)
        ax.plot(predicted, predicted, "_", color=PREDICTIVE, markersize=10,
                label=f"predicted rate; {result.interval_prob:.0%} interval of the\nobserved rate (thick), joint "
                      f"{result.interval_prob:.0%} band\nof all deciles (thin)")
        ax.plot(predicted, [b.observed for b in bins], "o", color=PLUGIN, label="observed rate")
        ax.set_xlabel("predicted purchase probability (decile mean)")
        ax.set_ylabel("purchase rate")
        holdout = result.holdout
        auc = "n/a" if holdout.auc is None else f"{holdout.auc:.3f}"
        ax.set_title(f"Held-out sessions: AUC {auc}, Brier {holdout.brier:.3f}")
        ax.legend(loc="upper left", fontsize=8)
    return fig


def plot_prior_check(result: DriversResult) -> Figure:
    check = result.prior_check
    edges = np.array(check.edges)
    with style():
        fig = new_figure(height=3.5)
        ax = fig.subplots()
        ax.bar(edges[:-1], check.counts, width=np.diff(edges), align="edge", color=PREDICTIVE, alpha=0.7,
               label="prior predictive draws")
        ax.axvline(check.observed, color=TARGET, linewidth=2, label=f"observed share {check.observed:.1%}")
        ax.set_xlabel("share of training sessions that buy")
        ax.set_ylabel("prior draws")
        ax.set_title("Prior predictive check")
        ax.legend(fontsize=8)
    return fig

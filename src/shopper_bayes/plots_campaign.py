"""Figure of the campaign's predicted sales: posterior predictive next to plug-in, target marked."""

from __future__ import annotations

import numpy as np

from shopper_bayes.counts import segment_name
from shopper_bayes.plots_style import PLUGIN, PREDICTIVE, TARGET, plt, save


def plot_campaign(result: dict, path) -> None:
    dist = result["distribution"]
    sales = np.asarray(dist["sales"])
    fig, ax = plt.subplots(figsize=(7.5, 4))
    ax.bar(sales, dist["prob"], width=1.0, color=PREDICTIVE, alpha=0.55,
           label=f"posterior predictive: P(≥ target) = {result['prob_at_least_target']:.1%}")
    ax.step(sales, dist["prob_plugin"], where="mid", color=PLUGIN, linewidth=1.8,
            label=f"plug-in binomial: P(≥ target) = {result['prob_at_least_target_plugin']:.1%}")
    ax.axvline(result["target"] - 0.5, color=TARGET, linestyle="--", linewidth=1.5,
               label=f"target: {result['target']} sales")
    ax.set_title(f"Sales from {result['sessions']:,} sessions of {segment_name(result['segment'])}, rate {result['boost']:+.0%}")
    ax.set_xlabel("sales (purchasing sessions)")
    ax.set_ylabel("probability")
    ax.set_ylim(0, max(max(dist["prob"]), max(dist["prob_plugin"])) * 1.4)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    save(fig, path)

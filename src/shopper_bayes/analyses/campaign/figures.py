"""Figure of the campaign's predicted sales: posterior predictive next to plug-in, target marked."""

from __future__ import annotations

from textwrap import fill

import numpy as np

from matplotlib.figure import Figure

from shopper_bayes.analyses.campaign.compute import describe_boost
from shopper_bayes.analyses.campaign.results import CampaignResult
from shopper_bayes.analyses.campaign.section import shown_prob
from shopper_bayes.report.style import PALETTE, PLUGIN, PREDICTIVE, TARGET, new_figure, style


def plot_campaign(result: CampaignResult) -> Figure:
    """The predicted number of sales: posterior predictive probabilities (bars) against the plug-in binomial
    (line), the target dashed; P(at least the target) printed to the precision its draws support."""
    dist = result.distribution
    sales = np.asarray(dist.sales)
    with style():
        fig = new_figure(height=4.2)
        ax = fig.subplots()
        ax.bar(sales, dist.prob, width=1.0, color=PREDICTIVE, alpha=0.55,
               label=f"posterior predictive: P(≥ {result.target:,} sales) = "
                     f"{shown_prob(result.prob_at_least_target, result.draws)}")
        ax.step(sales, dist.prob_plugin, where="mid", color=PLUGIN, linewidth=1.8,
                label=f"plug-in binomial: P(≥ {result.target:,} sales) = {shown_prob(result.prob_at_least_target_plugin)}")
        ax.axvline(result.target - 0.5, color=TARGET, linestyle="--", linewidth=1.5)
        ax.annotate(f"target: {result.target} sales", (result.target - 0.5, 1), xycoords=("data", "axes fraction"),
                    xytext=(4, -4), textcoords="offset points", va="top", color=TARGET, fontsize=8)
        boost = describe_boost(result.boost, result.boost_type, result.boost_sd)
        ax.set_title(fill(f"Predicted sales from {result.sessions:,} {result.label} sessions, boost {boost}", 64))
        ax.set_xlabel("sales (sessions ending in a purchase)")
        ax.set_ylabel("probability of exactly this many sales")
        ax.set_ylim(0, max(max(dist.prob), max(dist.prob_plugin)) * 1.15)
        fig.legend(fontsize=8, frameon=False, loc="outside lower center", ncols=2)
    return fig


def plot_scenarios(result: CampaignResult, prob_wanted: float) -> Figure:
    """P(sales >= target) against the boost, one line per session volume, predictive solid and plug-in
    dashed, one panel per target; the wanted probability drawn as a line."""
    rows = [row.model_dump() for row in result.grid]
    targets = sorted({row["target"] for row in rows})
    volumes = sorted({row["sessions"] for row in rows})
    relative = result.boost_type == "relative"
    with style():
        fig = new_figure(width=min(7.5 * len(targets), 15), height=4.4)
        axes = fig.subplots(1, len(targets), squeeze=False, sharey=True)
        _draw_scenarios(axes[0], targets, volumes, rows, relative, prob_wanted)
        axes[0][0].set_ylabel("P(sales ≥ target), %")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(volumes), fontsize=8, frameon=False)
        sd = result.boost_sd
        uncertainty = f", boost uncertain (± {describe_boost(sd, result.boost_type)[1:]})" if sd else ""
        what = f"at least {targets[0]:,} sales" if len(targets) == 1 else "reaching the target"
        fig.suptitle(fill(f"Probability of {what} by boost and sessions, {result.label}{uncertainty}", 64),
                     fontweight="bold")
    return fig


def _draw_scenarios(axes, targets, volumes, rows, relative, prob_wanted) -> None:
    for ax, target in zip(axes, targets):
        for index, volume in enumerate(volumes):
            line = sorted((row for row in rows if row["target"] == target and row["sessions"] == volume),
                          key=lambda row: row["boost"])
            x = [row["boost"] * 100 for row in line]
            colour = PALETTE[index % len(PALETTE)]
            ax.plot(x, [row["prob"] * 100 for row in line], "-o", color=colour, markersize=3.5,
                    label=f"{volume:,} sessions, posterior predictive")
            ax.plot(x, [row["prob_plugin"] * 100 for row in line], "--", color=colour, linewidth=1.2,
                    label=f"{volume:,} sessions, plug-in")
        ax.axhline(prob_wanted * 100, color="0.25", linewidth=1.2, linestyle=":")
        ax.annotate(f"{prob_wanted:.0%} wanted", (0.01, prob_wanted * 100), xycoords=("axes fraction", "data"),
                    xytext=(0, 3), textcoords="offset points", color="0.25", fontsize=8)
        if len(targets) > 1:
            ax.set_title(f"at least {target:,} sales", fontsize=11)
        ax.set_xlabel("boost, % of the purchase rate" if relative else "boost, percentage points")
        ax.set_ylim(-2, 102)

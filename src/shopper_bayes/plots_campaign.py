"""Figure of the campaign's predicted sales: posterior predictive next to plug-in, target marked."""

from __future__ import annotations

import numpy as np

from shopper_bayes.campaign import describe_boost
from shopper_bayes.counts import segment_name
from shopper_bayes.plots_style import PALETTE, PLUGIN, PREDICTIVE, TARGET, plt, save


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
    boost = describe_boost(result["boost"], result["boost_type"], result["boost_sd"])
    ax.set_title(f"Sales from {result['sessions']:,} sessions of {segment_name(result['segment'])}, boost {boost}")
    ax.set_xlabel("sales (purchasing sessions)")
    ax.set_ylabel("probability")
    ax.set_ylim(0, max(max(dist["prob"]), max(dist["prob_plugin"])) * 1.4)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    save(fig, path)


def plot_scenarios(result: dict, prob_wanted: float, path) -> None:
    """P(sales >= target) against the boost, one line per session volume, predictive solid and plug-in
    dashed, one panel per target; the wanted probability drawn as a line."""
    rows = result["grid"]
    targets = sorted({row["target"] for row in rows})
    volumes = sorted({row["sessions"] for row in rows})
    relative = result["boost_type"] == "relative"
    fig, axes = plt.subplots(1, len(targets), figsize=(6.5 * len(targets), 4.2), squeeze=False, sharey=True)
    for ax, target in zip(axes[0], targets):
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
        ax.set_title(f"at least {target:,} sales", fontsize=11)
        ax.set_xlabel("boost, % of the purchase rate" if relative else "boost, percentage points")
        ax.set_ylim(-2, 102)
    axes[0][0].set_ylabel("probability of reaching the target, %")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=len(volumes),
               fontsize=8, frameon=False)
    sd = result["boost_sd"]
    uncertainty = f", boost uncertainty {describe_boost(0, result['boost_type'], sd).split(' ', 1)[1]}" if sd else ""
    fig.suptitle(f"Campaign scenarios for {segment_name(result['segment'])}{uncertainty}", fontweight="bold")
    fig.tight_layout()
    save(fig, path)

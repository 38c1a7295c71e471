"""Figure of purchase rates per segment cell: posterior means with credible intervals."""

from __future__ import annotations

from shopper_bayes.counts import segment_name
from shopper_bayes.plots_style import PALETTE, plt, save


def plot_rates(rates: list[dict], path) -> None:
    """Forest plot: one row per cell, posterior mean and interval, observed rate as a cross."""
    labels = [segment_name(row["segment"]) for row in rates]
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.45 * len(rates)))
    for y, row in enumerate(rates):
        lo, hi = row["interval"]
        ax.plot([lo * 100, hi * 100], [y, y], color=PALETTE[0], linewidth=3, solid_capstyle="round")
        ax.plot(row["mean"] * 100, y, "o", color=PALETTE[0], markersize=7,
                label="posterior mean and credible interval" if y == 0 else None)
        if row["observed_rate"] is not None:
            ax.plot(row["observed_rate"] * 100, y, "x", color=PALETTE[3], markersize=8,
                    label="observed rate" if y == 0 else None)
        ax.annotate(f"n={row['sessions']:,}", (hi * 100, y), xytext=(6, 0), textcoords="offset points",
                    va="center", fontsize=8, color="0.35")
    ax.set_yticks(range(len(rates)), labels)
    ax.invert_yaxis()
    ax.set_ylim(len(rates) - 0.4, -0.9)
    prob = rates[0]["interval_prob"]
    ax.set_xlabel(f"purchase rate, % of sessions ({prob:.0%} credible interval)")
    ax.set_title("Purchase rate by segment")
    ax.legend(loc="upper right", fontsize=8, ncols=2, frameon=False)
    ax.margins(x=0.15)
    save(fig, path)

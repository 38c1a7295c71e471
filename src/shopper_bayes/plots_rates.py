"""Figure of purchase rates per segment cell: posterior means with credible intervals, per model."""

from __future__ import annotations

from shopper_bayes.counts import segment_name
from shopper_bayes.plots_style import PALETTE, plt, save


def plot_rates(by_model: dict[str, list[dict]], path) -> None:
    """Forest plot: one row per cell, one line per model (mean and interval), the observed rate as a cross."""
    models = list(by_model)
    rates = by_model[models[0]]
    labels = [segment_name(row["segment"]) for row in rates]
    offsets = [0.0] if len(models) == 1 else [0.15 * (i - (len(models) - 1) / 2) * 2 for i in range(len(models))]
    fig, ax = plt.subplots(figsize=(7.5, 1.3 + 0.5 * len(rates) * max(1, len(models) * 0.7)))
    for index, (model, rows) in enumerate(by_model.items()):
        colour = PALETTE[index]
        for y, row in enumerate(rows):
            lo, hi = row["interval"]
            at = y + offsets[index]
            ax.plot([lo * 100, hi * 100], [at, at], color=colour, linewidth=3, solid_capstyle="round")
            ax.plot(row["mean"] * 100, at, "o", color=colour, markersize=6, label=f"{model} model" if y == 0 else None)
    for y, row in enumerate(rates):
        if row["observed_rate"] is not None:
            ax.plot(row["observed_rate"] * 100, y, "x", color=PALETTE[3], markersize=8, markeredgewidth=2,
                    label="observed rate" if y == 0 else None)
        right = max(r["interval"][1] for r in (rows[y] for rows in by_model.values()))
        ax.annotate(f"n={row['sessions']:,}", (right * 100, y), xytext=(8, 0), textcoords="offset points",
                    va="center", fontsize=8, color="0.35")
    ax.set_yticks(range(len(rates)), labels)
    ax.invert_yaxis()
    ax.set_ylim(len(rates) - 0.5, -1.0)
    prob = rates[0]["interval_prob"]
    ax.set_xlabel(f"purchase rate, % of sessions (posterior mean and {prob:.0%} credible interval)")
    ax.set_title("Purchase rate by segment")
    ax.legend(loc="upper right", fontsize=8, ncols=3, frameon=False)
    ax.margins(x=0.15)
    save(fig, path)

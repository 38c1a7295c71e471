"""Figures of the ad campaign analysis, drawn from the typed result only."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from shopper_bayes.analyses.ad_campaigns.compute import revenue_text
from shopper_bayes.analyses.ad_campaigns.results import AdCampaignsResult
from shopper_bayes.report.document import prob_cell
from shopper_bayes.report.style import PALETTE, new_figure, style

FLAG_COLOURS = {"profitable": PALETTE[2], "wasteful": PALETTE[3], "unclear": PALETTE[1], "undefined": PALETTE[7]}


def roi_figure(result: AdCampaignsResult) -> Figure:
    """ROI per campaign: posterior mean and interval, coloured by flag, with the break-even line at 0."""
    rows = [c for c in result.campaigns if c.roi.mean is not None]
    with style():
        fig = new_figure(height=1.2 + 0.5 * max(len(rows), 1))
        ax = fig.add_subplot()
        for y, campaign in enumerate(rows):
            lo, hi = campaign.roi.interval
            colour = FLAG_COLOURS[campaign.flag]
            ax.plot([lo * 100, hi * 100], [y, y], color=colour, linewidth=4, solid_capstyle="round")
            ax.plot(campaign.roi.mean * 100, y, "o", color="white", markeredgecolor=colour, markersize=8)
            shown = prob_cell(campaign.prob_roi_positive.value)
            ax.annotate(f"{campaign.flag}, P(ROI > 0) {'= ' * shown[0].isdigit()}{shown}", (hi * 100, y),
                        xytext=(6, 0), textcoords="offset points", va="center", fontsize=8)
        ax.axvline(0, color="black", linewidth=1, linestyle="--")
        ax.text(0, len(rows) - 0.4, " break-even", fontsize=8, va="bottom")
        ax.set_yticks(range(len(rows)), [f"campaign {c.campaign}" for c in rows])
        ax.set_ylim(-0.6, len(rows) - 0.2)
        ax.set_xlabel(f"ROI, % of spend ({int(result.interval_prob * 100)}% interval)\n"
                      f"assuming a {revenue_text(result.revenue_per_conversion)}")
        ax.set_title("Return on ad spend per campaign")
        ax.margins(x=0.25)
    return fig


def ctr_figure(result: AdCampaignsResult) -> Figure:
    """CTR per audience cell: the model's interval (thick) against the summed-clicks binomial interval (thin)."""
    rows = result.audiences
    with style():
        fig = new_figure(height=1.2 + 0.4 * max(len(rows), 1))
        ax = fig.add_subplot()
        for y, audience in enumerate(rows):
            lo, hi = audience.ctr.interval
            ax.plot([lo * 100, hi * 100], [y, y], color=PALETTE[0], linewidth=5, alpha=0.6,
                    label="model (ads vary)" if y == 0 else None)
            naive = audience.widening[0].naive_interval
            if naive[0] is not None:
                ax.plot([naive[0] * 100, naive[1] * 100], [y, y], color="black", linewidth=1.5,
                        label="summed clicks as one binomial" if y == 0 else None)
            ax.plot(audience.ctr.mean * 100, y, "o", color=PALETTE[0])
        ax.set_yticks(np.arange(len(rows)), [a.name for a in rows])
        ax.set_xlabel(f"click-through rate, % of impressions ({int(result.interval_prob * 100)}% interval)")
        ax.set_title("CTR by audience")
        ax.legend(loc="best", fontsize=8)
    return fig

"""The behaviour profile figure, drawn from the typed result only."""

from __future__ import annotations

from matplotlib.figure import Figure

from shopper_bayes.analyses.session_behaviour.results import BehaviourResult
from shopper_bayes.report.style import PALETTE, new_figure, style


def _panels(result: BehaviourResult) -> list[tuple[str, str, str]]:
    """(kind, name, title) of each panel: the headline metrics, then the shares."""
    page = result.engaged_page_type
    return [("metric", "total_seconds", "Time on site (s)"), ("metric", f"{page}_seconds", f"{page.capitalize()} time (s)"),
            ("metric", f"{page}_pages", f"{page.capitalize()} pages"), ("metric", "bounce_rate", "Bounce rate"),
            ("metric", "exit_rate", "Exit rate"), ("share", "positive_page_value", "Positive page value"),
            ("share", "engaged_not_buying", "Engaged, not buying"), ("share", "purchase", "Purchase rate")]


def plot_profiles(result: BehaviourResult) -> Figure:
    """One panel per measure, one row per cell: mean (dot) with its interval; medians as open circles."""
    cells = result.cells
    with style():
        fig = new_figure(height=2.0 + 0.5 * len(cells) * 2)
        axes = fig.subplots(2, 4, sharey=True)
        for ax, (kind, name, title) in zip(axes.ravel(), _panels(result)):
            for row, cell in enumerate(cells):
                colour = PALETTE[row % len(PALETTE)]
                value = cell.metric(name) if kind == "metric" else None
                estimate = value.mean if value is not None else cell.share(name).share
                low, high = estimate.interval
                ax.plot([low, high], [row, row], color=colour, linewidth=2.5)
                ax.plot(estimate.mean, row, "o", color=colour)
                if value is not None:
                    ax.plot(value.median, row, "o", markerfacecolor="none", color=colour)
            ax.set_title(title, fontsize=9)
            ax.tick_params(labelsize=8)
            ax.margins(x=0.15)
        axes[0, 0].set_yticks(range(len(cells)), [cell.cell for cell in cells])
        axes[0, 0].set_ylim(-0.6, len(cells) - 0.4)
        axes[0, 0].invert_yaxis()
        fig.suptitle(f"Behaviour by segment: mean and {result.interval_prob:.0%} interval (open circle: median)", fontsize=10)
    return fig

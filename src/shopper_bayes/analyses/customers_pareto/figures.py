"""Lorenz curve of revenue over customers, with the top group marked."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from shopper_bayes.analyses.customers_pareto.compute import ParetoResult
from shopper_bayes.report.document import pct
from shopper_bayes.report.style import PALETTE, new_figure, style


def lorenz_figure(result: ParetoResult) -> Figure:
    x, y = (np.array(values) * 100 for values in zip(*result.lorenz))
    with style():
        fig = new_figure(width=5.5, height=5.0)
        ax = fig.subplots()
        ax.plot([0, 100], [0, 100], color="grey", linestyle="--", label="equal spending")
        ax.plot(x, y, color=PALETTE[0], label=f"Lorenz curve (Gini {result.gini:.2f})" if result.gini is not None else "Lorenz curve")
        if result.revenue_share is not None:
            cut = 100 * (1 - result.top_customers / result.customers)
            ax.axvline(cut, color=PALETTE[3], linewidth=1)
            ax.annotate(f"top {pct(result.top_customers / result.customers, 0)} of customers:\n"
                        f"{pct(result.revenue_share)} of revenue", xy=(cut, 100 * (1 - result.revenue_share)),
                        xytext=(5, 60), textcoords="data", arrowprops={"arrowstyle": "->"})
        ax.set_xlabel("customers, least spending first (%)")
        ax.set_ylabel("cumulative share of revenue (%)")
        ax.set_title("Revenue concentration")
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.legend(loc="upper left")
    return fig

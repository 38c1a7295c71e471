"""Figure of the monthly trends: new and returning customers (stacked) and revenue per month."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from shopper_bayes.analyses.customers_monthly.compute import MonthlyResult
from shopper_bayes.report.style import PALETTE, new_figure, style


def monthly_figure(result: MonthlyResult) -> Figure:
    months = [entry.month for entry in result.months]
    x = np.arange(len(months))
    new = np.array([entry.new_customers for entry in result.months])
    returning = np.array([entry.returning_customers for entry in result.months])
    revenue = np.array([entry.revenue for entry in result.months])
    partial = np.array([entry.partial for entry in result.months])
    with style():
        fig = new_figure(height=5.5)
        top, bottom = fig.subplots(2, 1, sharex=True)
        top.bar(x, new, color=PALETTE[1], label="new customers")
        top.bar(x, returning, bottom=new, color=PALETTE[0], label="returning customers")
        top.set_ylabel("active customers")
        top.set_title("Customers and revenue per month")
        top.legend()
        bottom.plot(x, revenue, marker="o", color=PALETTE[2])
        bottom.plot(x[partial], revenue[partial], "o", mfc="white", color=PALETTE[2], label="partial month")
        if partial.any():
            bottom.legend()
        bottom.set_ylabel("revenue")
        step = max(1, len(months) // 12)
        bottom.set_xticks(x[::step], months[::step], rotation=45, ha="right")
    return fig

"""Monthly trends: orders, revenue, active customers, new vs returning, and the month-of-year pattern."""

from __future__ import annotations

from shopper_bayes.analyses.base import Analysis, Context, FigureSpec, Output, one_load
from shopper_bayes.analyses.customers_monthly.compute import MonthlyResult, compute, table_frame
from shopper_bayes.analyses.customers_monthly.config import MonthlySettings
from shopper_bayes.analyses.customers_monthly.section import console, headline, section


def run(ctx: Context) -> Output:
    from shopper_bayes.analyses.customers_monthly.figures import monthly_figure  # matplotlib: only where figures are drawn

    loaded = ctx.load()
    result = compute(loaded, loaded.scope)
    figure = FigureSpec(
        name="customers_monthly", draw=lambda: monthly_figure(result),
        caption="Active customers per calendar month (new and returning) and revenue per month; open dots are partial months.",
        alt="Stacked bars of new and returning customers per month above a line of monthly revenue.")
    return Output(summary=result, figures=[figure], tables={"customers_monthly": table_frame(result)})


ANALYSIS = Analysis(key="customers_monthly", title="Monthly trends", dataset="transactions",
                    settings=MonthlySettings, result=MonthlyResult, run=run, section=section,
                    console=console, headline=headline, requests=one_load)

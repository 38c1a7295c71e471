"""Report section, console lines and headline of revenue concentration."""

from __future__ import annotations

from shopper_bayes.analyses.customers_pareto.compute import ParetoResult
from shopper_bayes.report.document import Decision, Figure, Section, Sentence, Table, num, num_range, pct, pct_range


def _top(result: ParetoResult) -> str:
    return f"the top {pct(result.top_fraction, 0)} of customers ({result.top_customers:,} of {result.customers:,})"


def section(result: ParetoResult) -> Section:
    blocks: list = [f"{result.customers:,} customers and {num(result.revenue)} of revenue, ranked by revenue per customer."]
    if result.revenue_share is not None:
        blocks.append(f"{_top(result)[0].upper() + _top(result)[1:]} brought {pct(result.revenue_share)} of revenue "
                      f"({pct_range(result.interval)})."
                      + (f" They spent {num(result.ratio, 1)} times as much per customer as the rest "
                         f"({num_range(result.ratio_interval, 1)})." if result.ratio is not None else ""))
        blocks.append(Table(["measure", "value", f"{result.interval_prob:.0%} interval"], [
            [f"share of revenue, top {pct(result.top_fraction, 0)}", pct(result.revenue_share), pct_range(result.interval)],
            ["revenue per customer, top / rest", num(result.ratio, 1), num_range(result.ratio_interval, 1)],
            ["Gini coefficient", num(result.gini, 3), num_range(result.gini_interval, 3)],
        ], name="customers_pareto"))
        blocks.append(Figure("customers_lorenz"))
    if result.note:
        blocks.append(result.note[0].upper() + result.note[1:] + ".")
    if result.revenue_share is not None and result.revenue_share > 0.5:
        blocks.append(Decision([
            f"More than half of revenue rests on {result.top_customers:,} customers: losing a few of them costs more "
            "than losing many others, so retention spend per customer can be that much higher for the top group.",
        ]))
    methods = [
        f"Customers are ranked by revenue up to the observation end; the top group is the first "
        f"ceil({result.top_fraction:g} x customers). The ratio is revenue per top customer over revenue per other "
        "customer. The Gini coefficient is 0 when every customer spends the same and near 1 when one customer brings "
        "all revenue; the Lorenz curve shows the cumulative share of revenue against the share of customers.",
        f"Intervals: nonparametric bootstrap over customers ({result.resamples:,} resamples with replacement, "
        "percentile interval), treating the customers as a sample of the customers the shop could have had. "
        f"The resamples draw from {result.revenue_groups:,} groups of customers with revenue within 0.1% of each "
        "other, each customer counted at the group's mean revenue; the figures above are exact.",
    ]
    return Section("Who brings the revenue", blocks, methods=methods, terms=["Gini coefficient", "Lorenz curve", "bootstrap"],
                   anchor="customers-pareto")


def console(result: ParetoResult) -> list[str]:
    if result.revenue_share is None:
        return [f"Revenue concentration: {result.note}"]
    ratio = f", {num(result.ratio, 1)}x the rest per customer ({num_range(result.ratio_interval, 1)})" if result.ratio else ""
    return [f"Revenue concentration: {_top(result)} brought {pct(result.revenue_share)} of revenue "
            f"({pct_range(result.interval)}){ratio}; Gini {num(result.gini, 3)}"]


def headline(result: ParetoResult) -> list[Sentence]:
    if result.revenue_share is None:
        return []
    return [Sentence(f"The top {pct(result.top_fraction, 0)} of customers brought {pct(result.revenue_share)} of revenue "
                     f"({pct_range(result.interval)}).", [result.revenue_share, *result.interval])]

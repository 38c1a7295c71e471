"""Report section, console lines and headline of the monthly trends."""

from __future__ import annotations

from shopper_bayes.analyses.customers_monthly.compute import MonthlyResult
from shopper_bayes.report.document import Decision, Figure, Section, Sentence, Table, num

METHODS = [
    "Orders are transaction rows, revenue their summed amounts, active customers those with a purchase in the "
    "calendar month; a customer is new in the month of their first purchase in the data and returning after it "
    "(customers who bought before the data starts count as new once). These are counts, without intervals. "
    "The month-of-year pattern averages the complete months of each name; partial months are marked. It mixes "
    "season with the ageing of the customer base: when most customers joined in a few months, later months look "
    "weaker whatever the season.",
]


def _peak(result: MonthlyResult):
    complete = [entry for entry in result.months if not entry.partial] or result.months
    return max(complete, key=lambda entry: entry.revenue)


def section(result: MonthlyResult) -> Section:
    rows = [[entry.month + (" (partial)" if entry.partial else ""), f"{entry.orders:,}", num(entry.revenue),
             f"{entry.active_customers:,}", f"{entry.new_customers:,}", f"{entry.returning_customers:,}"]
            for entry in result.months]
    peak = _peak(result)
    blocks: list = [
        f"{len(result.months)} calendar months from {result.months[0].month} to {result.months[-1].month}. "
        f"Revenue peaked in {peak.month} at {num(peak.revenue)} from {peak.orders:,} orders.",
        Figure("customers_monthly"),
        Table(["month", "orders", "revenue", "active customers", "new", "returning"], rows, name="customers_monthly"),
    ]
    if result.month_of_year:
        blocks.append(Table(["month", "complete months averaged", "orders", "revenue", "active customers"],
                            [[entry.month, str(entry.years), num(entry.orders, 0), num(entry.revenue),
                              num(entry.active_customers, 0)] for entry in result.month_of_year],
                            name="customers_month_of_year", caption="Month-of-year pattern (mean per complete month)"))
    if result.note:
        blocks.append(result.note[0].upper() + result.note[1:] + ".")
    blocks.append(Decision(_decision(result)))
    limitations = []
    if _acquisition_peak(result):
        limitations.append("the revenue peak is a month of new customers; month-to-month changes mix season with "
                           "the ageing of the customer base, and the counts carry no intervals.")
    return Section("Monthly trends", blocks, methods=METHODS, terms=[], anchor="customers-monthly",
                   limitations=limitations)


def _acquisition_peak(result: MonthlyResult) -> bool:
    """Whether most of the peak month's active customers were new: the peak then measures acquisition."""
    peak = _peak(result)
    return peak.new_customers > peak.returning_customers


def _decision(result: MonthlyResult) -> list[str]:
    """The choice a trend chart invites (plan around a season, or not), with the counts behind it."""
    peak = _peak(result)
    lines = []
    if _acquisition_peak(result):
        lines.append(f"Do not plan around the peak as a season: in {peak.month} {peak.new_customers:,} of the "
                     f"{peak.active_customers:,} active customers were new, so the peak measures when customers "
                     "were acquired.")
    new = [entry for entry in result.months if entry.new_customers > 0]
    if new and new[-1] is not result.months[-1]:
        lines.append(f"No customer is new after {new[-1].month}: later months show one ageing group of customers, "
                     "so their decline is not a seasonal pattern; judge a season only on data with steady acquisition.")
    lines.append("These are counts without intervals: compare a month with the same month a year earlier (the "
                 "month-of-year table) before acting on a change.")
    return lines


def console(result: MonthlyResult) -> list[str]:
    peak, last = _peak(result), result.months[-1]
    lines = [f"Monthly trends: {len(result.months)} months; revenue peaked in {peak.month} ({num(peak.revenue)}); "
             f"last month {last.month}{' (partial)' if last.partial else ''}: {last.active_customers:,} active customers, "
             f"{last.new_customers:,} new"]
    if result.note:
        lines.append(f"  note: {result.note}")
    return lines


def headline(result: MonthlyResult) -> list[Sentence]:
    peak = _peak(result)
    if _acquisition_peak(result):
        return [Sentence(f"Revenue peaked in {peak.month} at {num(peak.revenue)}, a month when {peak.new_customers:,} "
                         f"of {peak.active_customers:,} active customers were new (acquisition, not a season).",
                         [peak.revenue, peak.new_customers, peak.active_customers])]
    return [Sentence(f"Revenue peaked in {peak.month} at {num(peak.revenue)}.", [peak.revenue])]

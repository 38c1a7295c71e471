"""Report section, console lines and headline of the monthly trends."""

from __future__ import annotations

from shopper_bayes.analyses.customers_monthly.compute import MonthlyResult
from shopper_bayes.report.document import Figure, Section, Sentence, Table, num

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
    return Section("Monthly trends", blocks, methods=METHODS, terms=[], anchor="customers-monthly")


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
    return [Sentence(f"Revenue peaked in {peak.month} at {num(peak.revenue)}.", [peak.revenue])]

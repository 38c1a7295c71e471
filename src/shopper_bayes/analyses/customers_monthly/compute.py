"""Monthly trends: orders, revenue, active, new and returning customers per calendar month (in the engine).

These are counts of the data, not estimates, so they carry no interval. A month is "partial" when
the data covers only part of it (it starts after the first day or ends at the observation end before
the month's last day); the month-of-year pattern averages complete months only and is given when
the data spans more than a year.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel

from shopper_bayes.analyses.base import Result
from shopper_bayes.datasets.cleaning import MONTHS
from shopper_bayes.datasets.transactions import aggregate, over_customers


class MonthEntry(BaseModel):
    month: str  # YYYY-MM
    orders: int
    revenue: float
    active_customers: int
    new_customers: int
    returning_customers: int
    partial: bool


class MonthOfYearEntry(BaseModel):
    month: str  # Jan..Dec
    years: int  # complete months of this name averaged
    orders: float
    revenue: float
    active_customers: float


class MonthlyResult(Result):
    months: list[MonthEntry]
    month_of_year: list[MonthOfYearEntry] | None
    scope: dict[str, Any]
    note: str | None = None


# From the cohort-month table the customer analyses share (computed once per run with the per-customer table): a
# month's active customers are its buyers summed over cohorts, its new customers those of its own cohort.
MONTHLY_SQL = """
SELECT strftime(month_start, '%Y-%m') AS month, CAST(sum(orders) AS BIGINT) AS orders, sum(revenue) AS revenue,
       CAST(sum(buying) AS BIGINT) AS active_customers,
       CAST(coalesce(sum(buying) FILTER (WHERE cohort = month_start), 0) AS BIGINT) AS new_customers
FROM {months} GROUP BY 1 ORDER BY 1
"""


def monthly_table(data, observation_end, calibration_end=None) -> pd.DataFrame:
    """Per calendar month up to ``observation_end``: orders, revenue, active and new customers (new: first purchase
    that month), computed where the purchases are (the engine, or DuckDB over a frame). ``calibration_end``: the
    dataset's, so that the table is the one the other customer analyses read."""
    table, = over_customers(data, [MONTHLY_SQL], observation_end, calibration_end)
    table["revenue"] = table["revenue"].astype("float64")
    table["returning_customers"] = table["active_customers"] - table["new_customers"]
    return table


def compute(data, scope: dict[str, Any]) -> MonthlyResult:
    """``data``: loaded purchases (aggregated in their engine) or a frame of them."""
    table = monthly_table(data, scope["observation_end"], scope.get("calibration_end"))
    first = pd.Timestamp(aggregate(data, "SELECT min(date) AS first FROM {rows}", ["date"])["first"].iloc[0])
    end = pd.Timestamp(scope["observation_end"])
    periods = pd.PeriodIndex(table["month"], freq="M")
    partial = ((periods == first.to_period("M")) & (first.day > 1)) | \
              ((periods == end.to_period("M")) & (end != periods.end_time.normalize()))
    table["partial"] = partial
    months = [MonthEntry(**row) for row in table.to_dict("records")]
    span_months = (end.to_period("M") - first.to_period("M")).n + 1
    complete = table[~partial].assign(name=periods[~partial].month.map(lambda m: MONTHS[m - 1]))
    month_of_year, note = None, None
    if len(table) == 1:
        note = "one month of data: no trend to show"
    if span_months > 12:
        grouped = complete.groupby("name").agg(years=("orders", "size"), orders=("orders", "mean"),
                                              revenue=("revenue", "mean"), active_customers=("active_customers", "mean"))
        month_of_year = [MonthOfYearEntry(month=name, **grouped.loc[name].to_dict()) for name in MONTHS if name in grouped.index]
    elif note is None:
        note = "the data spans a year or less: no month-of-year pattern"
    return MonthlyResult(months=months, month_of_year=month_of_year, scope=scope, note=note)


def table_frame(result: MonthlyResult) -> pd.DataFrame:
    return pd.DataFrame([entry.model_dump() for entry in result.months])

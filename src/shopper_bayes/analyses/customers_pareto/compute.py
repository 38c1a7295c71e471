"""Revenue concentration: the top customers' share of revenue, how much more they spend, Gini, Lorenz.

The top group is the ceil(top_fraction x customers) customers with the most revenue. The point
figures are exact, from per-customer revenue ranked in the engine. Intervals come from the
nonparametric bootstrap over customers (customers resampled with replacement, percentile interval):
it treats the customers as a sample from the population of customers the shop could have had. The
bootstrap runs on the customers grouped by revenue in bins 0.1% wide on the log scale (each group's
size and revenue; customers without positive revenue grouped by their exact value), each resample
drawing the groups' sizes from a multinomial and giving a group's customers its mean revenue: the
cost no longer grows with the number of customers, and the grouping moves no one's revenue by more
than 0.1%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shopper_bayes.analyses.base import Result
from shopper_bayes.analyses.customers_pareto.config import ParetoSettings
from shopper_bayes.inference.conjugate import central_interval

LORENZ_POINTS = 101
BIN_WIDTH = 0.001  # revenue groups of the bootstrap: bins this wide on the log scale
CHUNK_ELEMENTS = 2_000_000  # resamples x groups drawn at once


class ParetoResult(Result):
    customers: int
    top_customers: int
    top_fraction: float
    revenue: float
    revenue_share: float | None
    interval: tuple[float | None, float | None]
    ratio: float | None  # revenue per top customer / revenue per other customer
    ratio_interval: tuple[float | None, float | None]
    gini: float | None
    gini_interval: tuple[float | None, float | None]
    lorenz: list[tuple[float, float]]  # (share of customers, share of revenue), poorest first
    interval_prob: float
    resamples: int
    revenue_groups: int  # customers grouped by revenue for the bootstrap
    scope: dict[str, Any]
    note: str | None = None


def ranked_query(top_fraction: float) -> str:
    """Customers ranked by revenue (``j``: 0 for the least), in ``LORENZ_POINTS - 1`` segments cut at the Lorenz
    curve's points (segment of ``j``: the last p with floor(p n / 100) <= j): per segment the customers, revenue,
    least revenue, sum of j x revenue, and revenue of the top ceil(top_fraction x n) customers and of the others.
    Sums in DECIMAL: the same in every run."""
    top = f"n - CAST(ceil(CAST({top_fraction!r} AS DOUBLE) * n) AS BIGINT)"
    return f"""
        WITH ranked AS (SELECT CAST(revenue AS DECIMAL(38, 8)) AS y, row_number() OVER (ORDER BY revenue) - 1 AS j,
                               count(*) OVER () AS n FROM {{customers}})
        SELECT CAST(({LORENZ_POINTS - 1} * (j + 1) + n - 1) // n - 1 AS BIGINT) AS segment, count(*) AS customers,
               CAST(sum(y) AS DOUBLE) AS revenue, CAST(min(y) AS DOUBLE) AS least, CAST(sum(j * y) AS DOUBLE) AS ranked,
               CAST(sum(y) FILTER (WHERE j >= {top}) AS DOUBLE) AS top,
               CAST(sum(y) FILTER (WHERE j < {top}) AS DOUBLE) AS rest
        FROM ranked GROUP BY 1 ORDER BY 1"""


GROUPS_QUERY = f"""
    SELECT CASE WHEN revenue > 0 THEN CAST(floor(ln(revenue) / {BIN_WIDTH!r}) AS BIGINT) END AS bin,
           CASE WHEN revenue > 0 THEN NULL ELSE revenue END AS value,
           count(*) AS customers, CAST(sum(CAST(revenue AS DECIMAL(38, 8))) AS DOUBLE) AS revenue
    FROM {{customers}} GROUP BY 1, 2"""


def queries(settings: ParetoSettings) -> list[str]:
    """What :func:`compute` takes, as queries over the per-customer summary (``{customers}``, column ``revenue``)."""
    return [ranked_query(settings.top_fraction), GROUPS_QUERY]


def lorenz_curve(ranked: pd.DataFrame, n: int, total: float) -> list[tuple[float, float]]:
    """Share of revenue of the poorest p% of customers, p = 0, 1, ..., 100, interpolated linearly between
    customers: (revenue of the floor(p n / 100) poorest + the fraction's share of the next one) / total."""
    points = LORENZ_POINTS - 1
    if total <= 0:
        return [(p / points, p / points) for p in range(LORENZ_POINTS)]
    sums = np.zeros(points)
    least = np.full(points, np.nan)
    segment = ranked["segment"].to_numpy(np.int64)
    sums[segment], least[segment] = ranked["revenue"].to_numpy(float), ranked["least"].to_numpy(float)
    before = np.concatenate([[0.0], np.cumsum(sums)])  # revenue of the customers in segments < p
    following = pd.Series(least[::-1]).ffill().to_numpy()[::-1]  # the first customer at or after segment p
    curve = []
    for p in range(LORENZ_POINTS):
        fraction = (p * n % points) / points
        curve.append((p / points, float((before[p] + (fraction * following[p] if fraction else 0.0)) / total)))
    return curve


def group_resamples(mean: np.ndarray, size: np.ndarray, k: int, count: int, rng: np.random.Generator):
    """Per bootstrap resample of the customers, grouped (``mean`` revenue decreasing, ``size`` customers): top
    share, ratio and Gini, in chunks. A resample's group sizes are multinomial; within a group every customer
    has the group's mean, so a group of c customers starting at rank s (0 for the most) adds
    mean x c x (n - 2 s - c) to the Gini's sum_i (n - 1 - 2 i) y_i."""
    n = int(size.sum())
    step = max(1, CHUNK_ELEMENTS // len(size))
    for start in range(0, count, step):
        counts = rng.multinomial(n, size / n, size=min(step, count - start))
        first = np.cumsum(counts, axis=1) - counts
        total = counts @ mean
        top = (np.clip(k - first, 0, counts) * mean).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            yield (top / total, (top / k) / ((total - top) / (n - k)),
                   (counts * (n - 2 * first - counts)) @ mean / (n * total))


@dataclass
class Revenue:
    """Per-customer revenue as :func:`compute` needs it: the results of :func:`queries`."""

    ranked: pd.DataFrame
    groups: pd.DataFrame


def compute(revenue: Revenue, settings: ParetoSettings, rng: np.random.Generator, scope: dict[str, Any]) -> ParetoResult:
    """From the ranked segments (point figures) and the revenue groups (bootstrap)."""
    ranked = revenue.ranked
    n = int(ranked["customers"].sum())
    k = min(n, math.ceil(settings.top_fraction * n))
    total = float(ranked["revenue"].sum())
    top, rest = (float(ranked[name].fillna(0).sum()) for name in ("top", "rest"))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = top / total if total else math.nan
        ratio = (top / k) / (rest / (n - k)) if k < n and rest else math.nan
        gini = (2 * float(ranked["ranked"].sum()) - (n - 1) * total) / (n * total) if total else math.nan
    lorenz = lorenz_curve(ranked, n, total)

    notes = []
    if total <= 0:
        notes.append("no revenue: shares, ratio and Gini are undefined")
    elif k == n:
        notes.append("too few customers for a top group and a rest: the ratio is undefined")
    elif rest == 0:
        notes.append("the customers outside the top group brought no revenue: the ratio is undefined")
    if n < 2:
        notes.append("one customer only: no bootstrap interval")
    defined = total > 0
    ratio_defined = defined and k < n and rest > 0
    intervals = {"share": (None, None), "ratio": (None, None), "gini": (None, None)}
    if defined and n >= 2:
        groups = revenue.groups.assign(mean=revenue.groups["revenue"] / revenue.groups["customers"])
        groups = groups.sort_values("mean", ascending=False, kind="stable")
        samples = [], [], []
        for chunk in group_resamples(groups["mean"].to_numpy(float), groups["customers"].to_numpy(np.int64), k,
                                     settings.resamples, rng):
            for store, values in zip(samples, chunk):
                store.append(values)
        for name, values in zip(intervals, samples):
            values = np.concatenate(values)
            values = values[np.isfinite(values)]
            if values.size:
                low, high = central_interval(values, settings.interval_prob)
                intervals[name] = (float(low), float(high))
    return ParetoResult(
        customers=n, top_customers=k, top_fraction=settings.top_fraction, revenue=total,
        revenue_share=share if defined else None, interval=intervals["share"],
        ratio=ratio if ratio_defined else None, ratio_interval=intervals["ratio"] if ratio_defined else (None, None),
        gini=gini if defined else None, gini_interval=intervals["gini"], lorenz=lorenz,
        interval_prob=settings.interval_prob, resamples=settings.resamples, revenue_groups=len(revenue.groups),
        scope=scope, note="; ".join(notes) or None)

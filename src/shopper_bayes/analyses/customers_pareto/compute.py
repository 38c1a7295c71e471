"""Revenue concentration: the top customers' share of revenue, how much more they spend, Gini, Lorenz.

The top group is the ceil(top_fraction x customers) customers with the most revenue. Intervals come
from the nonparametric bootstrap over customers (customers resampled with replacement, everything
recomputed on each resample, percentile interval): it treats the customers as a sample from the
population of customers the shop could have had.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from shopper_bayes.analyses.base import Result
from shopper_bayes.analyses.customers_pareto.config import ParetoSettings
from shopper_bayes.inference.conjugate import central_interval

LORENZ_POINTS = 101
CHUNK = 100  # resamples drawn at once (CHUNK x customers values in memory)


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
    scope: dict[str, Any]
    note: str | None = None


def statistics(samples: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top share, ratio (revenue per top customer / per other customer) and Gini of each row of
    ``samples``, customers' revenues sorted in decreasing order; the top group is the first ``k``.

    Gini of n values sorted decreasingly: sum_i (n - 1 - 2i) y_i / (n sum y), i from 0."""
    n = samples.shape[1]
    total = samples.sum(axis=1)
    top = samples[:, :k].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = top / total
        ratio = (top / k) / ((total - top) / (n - k))
        gini = samples @ (n - 1 - 2 * np.arange(n, dtype=float)) / (n * total)
    return share, ratio, gini


def resamples(revenue: np.ndarray, count: int, rng: np.random.Generator):
    """Bootstrap samples of ``revenue`` (sorted decreasingly), each sorted decreasingly too, in chunks:
    sorting the drawn positions sorts the sample (16-bit positions take numpy's fast radix sort)."""
    n = len(revenue)
    small = n <= np.iinfo(np.uint16).max
    for start in range(0, count, CHUNK):
        picks = rng.integers(0, n, size=(min(CHUNK, count - start), n), dtype=np.uint32 if small else np.int64)
        if small:
            picks = picks.astype(np.uint16)
        yield revenue.take(np.sort(picks, axis=1, kind="stable").astype(np.intp))


def compute(summary: pd.DataFrame, settings: ParetoSettings, rng: np.random.Generator,
            scope: dict[str, Any]) -> ParetoResult:
    """From the per-customer summary's ``revenue``."""
    revenue = np.sort(summary["revenue"].to_numpy(dtype=float))[::-1]
    n = len(revenue)
    k = min(n, math.ceil(settings.top_fraction * n))
    total = float(revenue.sum())
    share, ratio, gini = (float(value[0]) for value in statistics(revenue[None, :], k))
    cumulative = np.concatenate([[0.0], np.cumsum(revenue[::-1])]) / total if total > 0 else np.linspace(0, 1, n + 1)
    at = np.linspace(0, 1, LORENZ_POINTS)
    lorenz = [(float(x), float(y)) for x, y in zip(at, np.interp(at * n, np.arange(n + 1), cumulative))]

    notes = []
    if total <= 0:
        notes.append("no revenue: shares, ratio and Gini are undefined")
    elif k == n:
        notes.append("too few customers for a top group and a rest: the ratio is undefined")
    elif revenue[k:].sum() == 0:
        notes.append("the customers outside the top group brought no revenue: the ratio is undefined")
    if n < 2:
        notes.append("one customer only: no bootstrap interval")
    defined = total > 0
    ratio_defined = defined and k < n and revenue[k:].sum() > 0
    intervals = {"share": (None, None), "ratio": (None, None), "gini": (None, None)}
    if defined and n >= 2:
        samples = [], [], []
        for chunk in resamples(revenue, settings.resamples, rng):
            for store, values in zip(samples, statistics(chunk, k)):
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
        interval_prob=settings.interval_prob, resamples=settings.resamples, scope=scope,
        note="; ".join(notes) or None)

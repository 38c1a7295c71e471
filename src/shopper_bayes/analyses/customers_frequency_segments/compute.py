"""Purchase-frequency segments: customers by number of purchase days, with Dirichlet intervals.

Model: each customer falls in one segment independently of the others with the same probabilities
(exchangeable customers); shares ~ Dirichlet(prior, ..., prior), so the posterior is
Dirichlet(prior + customers per segment), drawn exactly with numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel

from shopper_bayes.analyses.base import Result
from shopper_bayes.analyses.customers_frequency_segments.config import FrequencySegmentsSettings
from shopper_bayes.engine.base import exact_sum
from shopper_bayes.inference.conjugate import central_interval, dirichlet_shares

SEGMENTS = ("one-time", "occasional", "frequent")


class SegmentEntry(BaseModel):
    segment: str
    purchase_days: str
    customers: int
    share: float
    interval: tuple[float, float]
    revenue: float
    revenue_share: float | None
    revenue_per_customer: float | None


class FrequencySegmentsResult(Result):
    """``share``: observed share of customers; ``interval``: its central posterior interval."""

    customers: int
    revenue: float
    interval_prob: float
    draws: int
    segments: list[SegmentEntry]
    scope: dict[str, Any]
    note: str | None = None


def day_ranges(settings: FrequencySegmentsSettings) -> list[str]:
    low, high = settings.occasional_from, settings.frequent_from
    middle = f"{low}" if high - 1 == low else f"{low}–{high - 1}"
    return ["1", middle, f"{high} or more"]


def per_purchase_days() -> str:
    """What :func:`compute` takes, as a query over the per-customer summary (``{customers}``): customers and their
    revenue per number of purchase days."""
    return (f"SELECT purchase_days, count(*) AS customers, {exact_sum('revenue')} AS revenue FROM {{customers}} "
            "GROUP BY 1 ORDER BY 1")


def compute(table: pd.DataFrame, settings: FrequencySegmentsSettings, rng: np.random.Generator,
            scope: dict[str, Any]) -> FrequencySegmentsResult:
    """Segments from customers and revenue per number of purchase days (:func:`per_purchase_days`)."""
    code = np.searchsorted([settings.occasional_from, settings.frequent_from], table["purchase_days"].to_numpy(),
                           side="right")
    table = (pd.DataFrame({"segment": code, "customers": table["customers"].to_numpy(np.int64),
                           "revenue": table["revenue"].to_numpy(np.float64)})
             .groupby("segment")[["customers", "revenue"]].sum()
             .reindex(range(len(SEGMENTS)), fill_value=0))
    table.index = list(SEGMENTS)
    customers, revenue = int(table["customers"].sum()), float(table["revenue"].sum())
    shares = xr.DataArray(dirichlet_shares(table["customers"], settings.prior, settings.draws, rng),
                          dims=("draw", "segment"), coords={"segment": list(SEGMENTS)})
    bounds = central_interval(shares.to_numpy(), settings.interval_prob)
    entries = []
    for i, (name, days) in enumerate(zip(SEGMENTS, day_ranges(settings))):
        count, money = int(table.loc[name, "customers"]), float(table.loc[name, "revenue"])
        entries.append(SegmentEntry(
            segment=name, purchase_days=days, customers=count, share=count / customers,
            interval=(float(bounds[0, i]), float(bounds[1, i])), revenue=money,
            revenue_share=money / revenue if revenue > 0 else None,
            revenue_per_customer=money / count if count else None))
    note = None
    if customers == table.loc["one-time", "customers"]:
        note = "no customer bought on more than one day: every customer is a one-time buyer"
    elif customers == 1:
        note = "one customer only: the shares say little"
    return FrequencySegmentsResult(customers=customers, revenue=revenue, interval_prob=settings.interval_prob,
                                   draws=settings.draws, segments=entries, scope=scope, note=note)


def table_frame(result: FrequencySegmentsResult) -> pd.DataFrame:
    return pd.DataFrame([entry.model_dump() for entry in result.segments])

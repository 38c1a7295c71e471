"""The ``summary.json`` entry ``clv`` (typed) and the arrays behind the figures."""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr
from pydantic import BaseModel

from shopper_bayes.analyses.base import Estimate, Result
from shopper_bayes.inference.diagnostics import Diagnostics


class ClvParams(BaseModel):
    """Purchase rate r, alpha (in time units); BG/NBD dropout a, b or Pareto/NBD dropout s, beta (in time
    units), the other model's None; Gamma-Gamma p, q, v (None without repeat spend)."""

    r: Estimate
    alpha: Estimate
    a: Estimate | None = None
    b: Estimate | None = None
    s: Estimate | None = None
    beta: Estimate | None = None
    p: Estimate | None = None
    q: Estimate | None = None
    v: Estimate | None = None


class HoldoutPeriod(BaseModel):
    """Cumulative repeat purchases from the start of the holdout to the end of ``period`` (0-based)."""

    period: int
    predicted: float
    interval: tuple[float, float]
    actual: int


class HoldoutGroup(BaseModel):
    """Holdout repeat purchases of the customers with ``calibration_purchases`` repeat purchases
    in the calibration period (``7+``: seven or more)."""

    calibration_purchases: str
    customers: int
    predicted: float
    interval: tuple[float, float]
    actual: int


class Holdout(BaseModel):
    """Posterior predictive repeat purchases in the holdout against the actual ones (``interval``:
    central predictive interval; ``draws``: simulated holdouts behind it)."""

    predicted: float
    interval: tuple[float, float]
    actual: int
    inside: bool
    draws: int
    length: float
    customers: int
    new_customers: int
    cumulative: list[HoldoutPeriod]
    by_frequency: list[HoldoutGroup]


class Segment(BaseModel):
    """Customers ranked by posterior mean CLV; ``clv``: the segment's summed CLV."""

    segment: str
    customers: int
    clv: Estimate
    share: float


class TopCustomer(BaseModel):
    customer_id: str
    frequency: int
    recency: float
    T: float
    monetary_value: float
    p_alive: float
    expected_purchases: float
    expected_spend: float | None
    clv: Estimate


class ClvResult(Result):
    """``alive``: expected number of customers still active; ``next_quarter``: expected repeat purchases
    in the next 3 months; ``purchases``: over ``horizon_months``; ``total_clv``: CLV summed over customers
    (``None`` when no customer has a repeat purchase with positive spend). ``model``: ``bg_nbd`` or
    ``pareto_nbd``. ``no_repeat``: customers without a repeat purchase (alive by the BG/NBD's
    assumption, as dropout happens only after a purchase; not so under the Pareto/NBD). ``triples``:
    distinct (frequency, recency, T) fitted; ``spend_groups``: Gamma-Gamma terms fitted (distinct
    pairs, or bins of spend); ``statistics``: ``exact`` or ``binned``. ``draws``: posterior draws
    behind every per-customer number and total (1 for MAP)."""

    model: str
    method: str
    time_unit: str
    calibration_end: str
    observation_end: str
    horizon_months: int
    discount_rate: float
    interval_prob: float
    customers: int
    no_repeat: int
    triples: int
    statistics: str = "exact"
    spend_customers: int
    spend_groups: int = 0
    draws: int
    priors: dict[str, dict[str, float]]
    params: ClvParams
    alive: Estimate
    next_quarter: Estimate
    purchases: Estimate
    total_clv: Estimate
    segments: list[Segment]
    holdout: Holdout | None
    top_customers: list[TopCustomer]
    notes: list[str]
    diagnostics: Diagnostics


@dataclass
class ClvArrays:
    """What the figures draw besides the summary: P(alive) on a frequency x recency grid, and the
    prior predictive share of customers by calibration repeat purchases (``draw`` x ``group``) with
    the observed share."""

    alive: xr.DataArray
    prior_shares: xr.DataArray
    observed_shares: xr.DataArray

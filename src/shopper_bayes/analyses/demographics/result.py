"""The ``summary.json`` entry of the demographics analysis (key ``demographics``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shopper_bayes.analyses.base import Estimate, Probability, Result
from shopper_bayes.inference.diagnostics import Diagnostics


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Level(_Entry):
    """One level of a demographic column: profiles, observed and modelled mean per profile.

    ``mean``/``interval``: the posterior of the level's mean for the data's mix of the other
    modelled columns; ``prob_above_mean``: P(that mean > the overall mean); ``prob_top``: P(the level
    is among the column's ``top_levels`` highest; None when the column has no more levels than that).
    """

    level: str
    customers: int
    observed_mean: float
    mean: float
    interval: tuple[float, float]
    prob_above_mean: Probability
    flag: str
    prob_top: Probability | None


class Cross(_Entry):
    """One gender × age-group cell of mean spend per profile."""

    gender: str
    age_group: str
    customers: int
    observed_mean: float | None
    mean: float
    interval: tuple[float, float]


class Share(_Entry):
    """A category or product: orders and revenue, share of orders (exact Dirichlet posterior) and of
    revenue (Bayesian bootstrap over purchases), and P(it ranks first) by each."""

    name: str
    category: str | None = None
    orders: int
    revenue: float
    share: float
    interval: tuple[float, float]
    prob_top: Probability
    revenue_share: float
    revenue_interval: tuple[float, float]
    prob_top_revenue: Probability


class ZoneShare(_Entry):
    """A category's share of one zone's orders, with its exact Dirichlet (Beta-marginal) interval."""

    zone: str
    category: str
    orders: int
    share: float
    interval: tuple[float, float]


class Check(_Entry):
    """A posterior predictive check: a statistic of the profiles, observed and replicated.
    ``p_value``: P(replicated >= observed); near 0 or 1 means the model misses it. ``draws``: the replicated
    data sets behind it (a p-value of 0 or 1 means below 1 / draws or above 1 - 1 / draws, never certainty)."""

    model: str
    statistic: str
    observed: float
    replicated: Estimate
    p_value: float
    draws: int


class DemographicsResult(Result):
    unit: str
    purchases: int
    customers: int
    customer_ids: int
    conflicting_ids: int
    max_profiles_per_id: int
    by: list[str]
    cells: int
    likelihood: str
    interval_prob: float
    target_prob: float
    top_levels: int
    overall_spend_observed: float
    overall_spend: Estimate
    groups: dict[str, list[Level]]  # spend per profile, by column
    overall_orders_observed: float
    overall_orders: Estimate
    orders_groups: dict[str, list[Level]]  # orders per profile, by column
    gender_age: list[Cross]
    categories: list[Share]
    products: list[Share]
    products_by_revenue: list[Share]
    zones: list[ZoneShare]
    checks: list[Check]
    ignored_columns: list[str]
    label_merges: list[dict]
    notes: list[str]
    draws: int
    diagnostics: Diagnostics

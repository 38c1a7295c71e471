"""The ``summary.json`` entry ``ad_campaigns``: typed results, rendered by the section and console."""

from __future__ import annotations

from pydantic import BaseModel

from shopper_bayes.analyses.ad_campaigns.config import Revenue
from shopper_bayes.analyses.base import Estimate, Probability, Result
from shopper_bayes.inference.diagnostics import Diagnostics


class Widening(BaseModel):
    """A rate's model interval against the interval of the summed counts treated as one binomial
    (Beta(1 + count, 1 + trials - count)): ``ratio`` = model width / that width."""

    measure: str
    sum_ratio: float | None
    naive_interval: tuple[float | None, float | None]
    ratio: float | None


class Unit(BaseModel):
    """A campaign or an audience cell: observed sums, rates (per impression for ``ctr``; per 1,000
    impressions for ``lead_rate`` and ``conversion_rate``; conversions per lead for
    ``approval_rate``), money figures and the verdict. ``flag``: profitable, wasteful, unclear or
    undefined (no spend)."""

    name: str
    ads: int
    impressions: int
    clicks: int
    spend: float
    leads: int
    conversions: int
    ctr: Estimate
    lead_rate: Estimate
    approval_rate: Estimate
    conversion_rate: Estimate
    cpl: Estimate
    cac: Estimate
    roi: Estimate
    prob_roi_positive: Probability | None
    flag: str
    widening: list[Widening]


class Campaign(Unit):
    campaign: str
    prob_best: Probability


class Audience(Unit):
    audience: dict[str, str]


class BudgetOption(BaseModel):
    """A campaign x audience cell as the place for the next budget: expected conversions it buys
    (at its observed cost per impression), the ROI and the probability it buys the most."""

    campaign: str
    audience: str
    spend: float
    conversions: Estimate
    roi: Estimate
    prob_best: Probability


class Budget(BaseModel):
    amount: float
    min_spend: float
    candidates: int
    excluded: int
    options: list[BudgetOption]
    note: str | None = None


class PredictiveCheck(BaseModel):
    """Posterior predictive check per ad: the share of ads whose count falls outside its central
    predictive interval (expected: 1 - interval_prob), the same with no over-dispersion (Poisson /
    binomial noise only), and the number of ads with a count of 0, observed against predicted."""

    measure: str
    ads: int
    outside: float
    outside_without_dispersion: float
    zeros_observed: int
    zeros_predicted: Estimate
    prob_zeros_at_least_observed: Probability


class Spread(BaseModel):
    """How much the ads of a campaign differ beyond count noise: clicks and leads vary (1 + δ) times
    as much as Poisson noise; approval has Beta-binomial concentration κ (smaller: more spread)."""

    campaign: str
    clicks_variance_factor: Estimate
    leads_variance_factor: Estimate
    approval_concentration: Estimate


class AdCampaignsResult(Result):
    by: list[str]
    interval_prob: float
    revenue_per_conversion: float | Revenue
    thresholds: dict[str, float]
    ads: int
    kept: dict[str, int]
    campaigns: list[Campaign]
    audiences: list[Audience]
    budget: Budget
    spread: list[Spread]
    checks: list[PredictiveCheck]
    assumptions: list[str]
    draws: int
    diagnostics: Diagnostics

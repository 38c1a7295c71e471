"""Typed results of the campaign planner: its ``summary.json`` entry."""

from __future__ import annotations

from shopper_bayes.analyses.base import Result
from shopper_bayes.inference.diagnostics import Diagnostics


class BoostAnswer(Result):
    boost: float | None
    prob: float | None = None
    reason: str | None


class SessionsAnswer(Result):
    sessions: int | None
    prob: float | None = None
    reason: str | None


class Inverse(Result):
    prob_wanted: float
    search: str
    smallest_boost: BoostAnswer
    smallest_boost_plugin: BoostAnswer
    smallest_sessions: SessionsAnswer
    smallest_sessions_plugin: SessionsAnswer


class Scenario(Result):
    boost: float
    sessions: int
    target: int
    prob: float
    prob_plugin: float


class Distribution(Result):
    sales: list[int]
    prob: list[float]
    prob_plugin: list[float]


class CampaignResult(Result):
    """Probabilities are Monte Carlo averages over ``draws`` posterior draws of the segment's rate."""

    segment: dict[str, str]
    label: str
    draws: int
    model: str
    boost: float
    boost_type: str
    boost_sd: float
    sessions: int
    target: int
    prob_at_least_target: float
    prob_at_least_target_plugin: float
    # Monte Carlo standard error of prob_at_least_target, by the effective sample size of MCMC draws (None in
    # summaries written before it was stored)
    prob_at_least_target_mcse: float | None = None
    expected_sales: float
    expected_sales_plugin: float
    sales_interval: tuple[int, int]
    interval_prob: float
    boosted_rate: float
    boosted_rate_plugin: float
    inverse: Inverse
    grid: list[Scenario]
    distribution: Distribution
    diagnostics: Diagnostics

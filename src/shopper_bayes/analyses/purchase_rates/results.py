"""Typed results of the purchase-rate analysis: its ``summary.json`` entry."""

from __future__ import annotations

from shopper_bayes.analyses.base import Estimate, Result
from shopper_bayes.inference.diagnostics import Diagnostics
from shopper_bayes.inference.comparison import LooComparison


class RateRow(Result):
    segment: dict[str, str]
    label: str
    sessions: int
    purchases: int
    observed_rate: float | None
    mean: float
    interval: tuple[float, float]
    interval_prob: float


class Comparison(Result):
    a: dict[str, str]
    b: dict[str, str]
    difference: Estimate
    lift: Estimate
    interval_prob: float
    prob_a_greater: float
    draws: int


class BestRow(Result):
    segment: dict[str, str]
    label: str
    prob_best: float
    expected_loss: float
    draws: int


class RatesResult(Result):
    """``model``: the chosen model; ``inference``: ``exact`` (conjugate draws) or ``mcmc`` per model."""

    model: str
    inference: dict[str, str]
    segments: list[str]
    rates: list[RateRow]
    comparisons: list[Comparison]
    best: list[BestRow]
    by_model: dict[str, list[RateRow]]
    model_comparison: LooComparison | None
    diagnostics: Diagnostics

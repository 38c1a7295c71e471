"""Typed results of the purchase-rate analysis: its ``summary.json`` entry."""

from __future__ import annotations

from shopper_bayes.analyses.base import Estimate, Probability, Result
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


class PracticalBand(Result):
    """Where the lift A / B - 1 falls against the band of lifts too small to matter, (-lift, +lift)."""

    lift: float
    below: Probability
    inside: Probability
    above: Probability


class Comparison(Result):
    a: dict[str, str]
    b: dict[str, str]
    difference: Estimate
    lift: Estimate
    interval_prob: float
    prob_a_greater: float
    draws: int
    practical: PracticalBand


class BestRow(Result):
    segment: dict[str, str]
    label: str
    prob_best: float
    expected_loss: float
    draws: int


class CheckGroup(Result):
    """One cell's sessions of one level of the check column: observed rate against its predictive interval."""

    segment: dict[str, str]
    label: str
    sessions: int
    purchases: int
    observed_rate: float
    predicted: Estimate


class PredictiveCheck(Result):
    """Posterior predictive check of one model: the spread of the cells' rates across the levels of ``by``.

    ``observed``: the statistic on the data; ``replicated``: its posterior predictive mean and central
    interval; ``p_value``: P(replicated >= observed) over ``p_value.draws`` replications; ``passed``: the
    observed value lies inside the central ``interval_prob`` interval. ``outside``: the groups furthest
    outside their own predictive interval (at most 10 of ``groups_outside``).
    """

    by: str
    statistic: str
    observed: float
    replicated: Estimate
    interval_prob: float
    p_value: Probability
    passed: bool
    groups: int
    groups_outside: int
    outside: list[CheckGroup]


class RankTest(Result):
    """Rank histogram test of one variable of a NUTS fit: ``flagged`` when ``p_value`` < 1 - ``prob``,
    i.e. when a bar of its panel in ``rank.png`` leaves the band."""

    model: str
    variable: str
    p_value: float
    prob: float
    thin: int
    bins: int
    draws_per_chain: int
    flagged: bool


class RatesResult(Result):
    """``model``: the chosen model; ``inference``: ``exact`` (conjugate draws) or ``mcmc`` per model;
    ``predictive_check``: per model (empty with ``predictive_check_note`` saying why when not done)."""

    model: str
    inference: dict[str, str]
    segments: list[str]
    rates: list[RateRow]
    comparisons: list[Comparison]
    best: list[BestRow]
    by_model: dict[str, list[RateRow]]
    model_comparison: LooComparison | None
    predictive_check: dict[str, PredictiveCheck]
    predictive_check_note: str | None = None
    rank_tests: list[RankTest] = []
    diagnostics: Diagnostics

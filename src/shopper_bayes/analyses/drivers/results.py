"""Typed results of the drivers analysis: its ``summary.json`` entry."""

from __future__ import annotations

from shopper_bayes.analyses.base import Estimate, Probability, Result
from shopper_bayes.inference.diagnostics import Diagnostics


class Effect(Result):
    """One input's association with purchase: odds ratio per sd (numeric) or per level (against
    ``reference``), P(OR > 1), and the average marginal effect in probability (0.01 = 1 pp)."""

    term: str
    column: str
    level: str | None
    reference: str | None
    unit: str
    scale: float
    odds_ratio: Estimate
    prob_positive: Probability
    marginal_effect: Estimate


class CalibrationBin(Result):
    """Held-out sessions of one decile of predicted probability: the predicted purchase rate, the
    interval its observed rate should fall in (posterior predictive: parameter uncertainty and binomial
    noise), the joint band (all deciles inside together with that probability), and the observed rate."""

    bin: int
    sessions: int
    predicted: Estimate
    band: tuple[float, float]
    observed: float
    inside: bool  # inside this decile's own interval
    inside_band: bool


class Holdout(Result):
    sessions: int
    purchases: int
    auc: float | None
    auc_interval: tuple[float | None, float | None]
    brier: float
    brier_base_rate: float
    calibration: list[CalibrationBin]
    band_pointwise_prob: float  # the joint band is every decile's central interval at this probability
    calibrated: bool  # every decile inside the joint band
    note: str | None = None


class ModelScore(Result):
    elpd_loo: float
    se: float
    p_loo: float
    method: str


class ModelComparison(Result):
    """ELPD (expected log predictive density, leave-one-session-out) of the full model and of the
    rates-only baseline; ``elpd_diff`` = full minus baseline, with its standard error."""

    models: dict[str, ModelScore]
    elpd_diff: float
    se_diff: float
    max_pareto_k: float
    bad_pareto_k: int
    statement: str


class PriorCheck(Result):
    """Prior predictive share of training sessions that buy: histogram over prior draws."""

    edges: list[float]
    counts: list[int]
    interval: tuple[float, float]
    observed: float


class DriversResult(Result):
    scope: dict
    sessions: int
    train_sessions: int
    base_rate: float
    notes: list[str]
    interval_prob: float
    prior: dict
    effects: list[Effect]
    holdout: Holdout
    model_comparison: ModelComparison
    prior_check: PriorCheck
    draws: int
    diagnostics: Diagnostics
    cleaning: dict


def ordered(result: DriversResult) -> list[Effect]:
    """Effects from the largest odds ratio to the smallest."""
    return sorted(result.effects, key=lambda effect: -effect.odds_ratio.mean)

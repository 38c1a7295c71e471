"""Campaign planning: will ``sessions`` sessions at a boosted purchase rate bring ``target`` sales?

Predictive answer: sales ~ Binomial(sessions, rate x (1 + boost)) with ``rate`` drawn from the
fitted posterior of the segment's purchase rate, so the uncertainty about the rate is carried into
the probability. P(sales >= target) is averaged over posterior draws of the exact Binomial tail
(the Rao-Blackwellised posterior predictive, which has less Monte Carlo error than counting
simulated sales). The plug-in answer treats the observed rate x (1 + boost) as known.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from shopper_bayes.errors import UserError


def boosted(rate_draws: np.ndarray, boost: float, where: str = "campaign.boost") -> np.ndarray:
    """Rates multiplied by (1 + boost); a boost that pushes any rate past 1 is an error."""
    rates = np.asarray(rate_draws, dtype=float) * (1 + boost)
    if rates.max() > 1:
        raise UserError(where, f"a boost of {boost:+.0%} pushes the purchase rate past 1 (up to {rates.max():.3f})",
                        "use a smaller boost")
    return rates


def prob_at_least(target: int, sessions: int, rates: np.ndarray) -> float:
    """P(sales >= target), sales ~ Binomial(sessions, rate), averaged over the rates given."""
    return float(np.mean(stats.binom.sf(target - 1, sessions, np.asarray(rates, dtype=float))))


def predictive_pmf(sessions: int, rates: np.ndarray) -> np.ndarray:
    """P(sales = k) for k = 0..sessions, averaged over the rates given."""
    k = np.arange(sessions + 1)
    return stats.binom.pmf(k[:, None], sessions, np.asarray(rates, dtype=float)[None, :]).mean(axis=1)


BOOST_STEP = 0.001  # the smallest boost is searched on a grid of 0.1% steps
MAX_SESSIONS = 10_000_000


def _smallest(reaches, low: int, high: int) -> int | None:
    """Smallest integer k in [low, high] with reaches(k) true, for reaches monotone in k."""
    if not reaches(high):
        return None
    while low < high:
        middle = (low + high) // 2
        if reaches(middle):
            high = middle
        else:
            low = middle + 1
    return low


def smallest_boost(rates: np.ndarray, *, sessions: int, target: int, prob_wanted: float) -> dict:
    """The smallest relative boost (on a 0.1% grid) giving P(sales >= target) >= prob_wanted.

    P(sales >= target) grows with the boost for every rate, so a bisection finds it exactly on the
    grid; boosts are bounded by the one that brings the largest rate to 1.
    """
    rates = np.asarray(rates, dtype=float)
    top = int(np.floor((1 / rates.max() - 1) / BOOST_STEP))
    found = _smallest(lambda k: prob_at_least(target, sessions, rates * (1 + k * BOOST_STEP)) >= prob_wanted,
                      -int(round(1 / BOOST_STEP)) + 1, top)
    if found is None:
        return {"boost": None, "reason": f"even the largest possible boost ({top * BOOST_STEP:+.1%}) falls short"}
    boost = found * BOOST_STEP
    return {"boost": boost, "prob": prob_at_least(target, sessions, rates * (1 + boost)), "reason": None}


def smallest_sessions(rates: np.ndarray, *, target: int, prob_wanted: float) -> dict:
    """The smallest number of sessions giving P(sales >= target) >= prob_wanted at these rates."""
    rates = np.asarray(rates, dtype=float)
    found = _smallest(lambda m: prob_at_least(target, m, rates) >= prob_wanted, max(target, 1), MAX_SESSIONS)
    if found is None:
        return {"sessions": None, "reason": f"not reached within {MAX_SESSIONS:,} sessions"}
    return {"sessions": found, "prob": prob_at_least(target, found, rates), "reason": None}


def inverse(rate_draws: np.ndarray, observed_rate: float, *, boost: float, sessions: int, target: int,
            prob_wanted: float) -> dict:
    """What it takes to reach the target with probability ``prob_wanted``: predictive and plug-in."""
    draws, plugin = np.asarray(rate_draws, dtype=float), np.array([observed_rate])
    return {
        "prob_wanted": prob_wanted,
        "smallest_boost": smallest_boost(draws, sessions=sessions, target=target, prob_wanted=prob_wanted),
        "smallest_boost_plugin": smallest_boost(plugin, sessions=sessions, target=target, prob_wanted=prob_wanted),
        "smallest_sessions": smallest_sessions(boosted(draws, boost), target=target, prob_wanted=prob_wanted),
        "smallest_sessions_plugin": smallest_sessions(boosted(plugin, boost), target=target, prob_wanted=prob_wanted),
    }


def _quantile(pmf: np.ndarray, q: float) -> int:
    return int(np.searchsorted(np.cumsum(pmf), q - 1e-12))


def plan(rate_draws: np.ndarray, observed_rate: float, *, segment, boost: float, sessions: int,
         target: int, interval_prob: float, prob_wanted: float = 0.9) -> dict:
    """The campaign result: predictive and plug-in probabilities of reaching the target."""
    rates = boosted(rate_draws, boost)
    plugin_rate = float(boosted(np.array([observed_rate]), boost)[0])
    pmf = predictive_pmf(sessions, rates)
    tail = (1 - interval_prob) / 2
    support = np.flatnonzero(pmf > 1e-7)
    return {
        "segment": segment,
        "boost": boost,
        "sessions": sessions,
        "target": target,
        "prob_at_least_target": prob_at_least(target, sessions, rates),
        "prob_at_least_target_plugin": float(stats.binom.sf(target - 1, sessions, plugin_rate)),
        "expected_sales": float(sessions * rates.mean()),
        "expected_sales_plugin": sessions * plugin_rate,
        "sales_interval": [_quantile(pmf, tail), _quantile(pmf, 1 - tail)],
        "interval_prob": interval_prob,
        "boosted_rate": float(rates.mean()),
        "boosted_rate_plugin": plugin_rate,
        "inverse": inverse(rate_draws, observed_rate, boost=boost, sessions=sessions, target=target,
                           prob_wanted=prob_wanted),
        "distribution": {
            "sales": support.tolist(),
            "prob": pmf[support].tolist(),
            "prob_plugin": stats.binom.pmf(support, sessions, plugin_rate).tolist(),
        },
    }

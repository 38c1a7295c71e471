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


def _quantile(pmf: np.ndarray, q: float) -> int:
    return int(np.searchsorted(np.cumsum(pmf), q - 1e-12))


def plan(rate_draws: np.ndarray, observed_rate: float, *, segment, boost: float, sessions: int,
         target: int, interval_prob: float) -> dict:
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
        "distribution": {
            "sales": support.tolist(),
            "prob": pmf[support].tolist(),
            "prob_plugin": stats.binom.pmf(support, sessions, plugin_rate).tolist(),
        },
    }

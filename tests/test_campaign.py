"""Campaign probabilities against scipy's binomial tail and a numerical integral over the posterior."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from shopper_bayes import campaign
from shopper_bayes.errors import UserError

PURCHASES, SESSIONS = 728, 3722  # returning customers, Nov-Dec, bundled data
POSTERIOR = stats.beta(1 + PURCHASES, 1 + SESSIONS - PURCHASES)


def integral(target: int, sessions: int, boost: float) -> float:
    """P(sales >= target) = integral of Binomial tail at p(1+boost) times the Beta posterior density."""
    upper = min(1.0, 1 / (1 + boost))
    value, _ = integrate.quad(lambda p: stats.binom.sf(target - 1, sessions, p * (1 + boost)) * POSTERIOR.pdf(p),
                              0, upper, points=[POSTERIOR.mean()], limit=200)
    return value


@pytest.mark.parametrize(("boost", "sessions", "target"), [(0.15, 500, 100), (0.0, 500, 100), (0.3, 200, 60), (-0.1, 1000, 170)])
def test_predictive_probability_matches_integral(boost, sessions, target):
    draws = POSTERIOR.rvs(20_000, random_state=np.random.default_rng(7))
    result = campaign.plan(draws, PURCHASES / SESSIONS, segment="Returning_Customer", boost=boost,
                           sessions=sessions, target=target, interval_prob=0.95)
    exact = integral(target, sessions, boost)
    # Monte Carlo error of an average of tail probabilities over 20,000 independent draws.
    tails = stats.binom.sf(target - 1, sessions, draws * (1 + boost))
    assert result["prob_at_least_target"] == pytest.approx(exact, abs=4 * tails.std() / np.sqrt(draws.size) + 1e-9)


def test_plugin_probability_is_scipy_binomial_tail():
    result = campaign.plan(POSTERIOR.rvs(1000, random_state=1), PURCHASES / SESSIONS, segment="R", boost=0.15,
                           sessions=500, target=100, interval_prob=0.95)
    assert result["prob_at_least_target_plugin"] == stats.binom.sf(99, 500, PURCHASES / SESSIONS * 1.15)
    # "at least 100" includes 100: it differs from P(X > 100) by P(X = 100).
    assert result["prob_at_least_target_plugin"] > stats.binom.sf(100, 500, PURCHASES / SESSIONS * 1.15)


def test_predictive_distribution_sums_to_one_and_matches_tail():
    draws = POSTERIOR.rvs(5000, random_state=3)
    pmf = campaign.predictive_pmf(500, draws * 1.15)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    assert pmf[100:].sum() == pytest.approx(campaign.prob_at_least(100, 500, draws * 1.15), abs=1e-9)


def test_edge_targets():
    draws = POSTERIOR.rvs(1000, random_state=2)
    assert campaign.prob_at_least(0, 500, draws) == 1.0
    assert campaign.prob_at_least(501, 500, draws) == 0.0


def test_boost_past_one_is_an_error_naming_the_values():
    with pytest.raises(UserError, match=r"campaign.boost.*\+300%.*past 1"):
        campaign.boosted(np.array([0.2, 0.3]), 3.0)


@pytest.mark.parametrize("rates", [POSTERIOR.rvs(4000, random_state=5), np.array([PURCHASES / SESSIONS])],
                         ids=["predictive", "plugin"])
def test_smallest_boost_reaches_the_wanted_probability_and_one_step_less_does_not(rates):
    found = campaign.smallest_boost(rates, sessions=500, target=100, prob_wanted=0.9)
    boost = found["boost"]
    assert campaign.prob_at_least(100, 500, rates * (1 + boost)) >= 0.9
    assert campaign.prob_at_least(100, 500, rates * (1 + boost - campaign.BOOST_STEP)) < 0.9


@pytest.mark.parametrize("rates", [POSTERIOR.rvs(4000, random_state=6) * 1.15, np.array([PURCHASES / SESSIONS * 1.15])],
                         ids=["predictive", "plugin"])
def test_smallest_sessions_reaches_the_wanted_probability_and_one_less_does_not(rates):
    found = campaign.smallest_sessions(rates, target=100, prob_wanted=0.9)
    sessions = found["sessions"]
    assert campaign.prob_at_least(100, sessions, rates) >= 0.9
    assert campaign.prob_at_least(100, sessions - 1, rates) < 0.9


def test_probability_is_monotone_in_boost_and_sessions():
    draws = POSTERIOR.rvs(2000, random_state=4)
    by_boost = [campaign.prob_at_least(100, 500, draws * (1 + b)) for b in np.linspace(-0.5, 1.0, 31)]
    by_sessions = [campaign.prob_at_least(100, m, draws * 1.15) for m in range(100, 1000, 25)]
    assert np.all(np.diff(by_boost) >= 0) and np.all(np.diff(by_sessions) >= 0)


def test_unreachable_target_is_an_answer_not_an_error():
    draws = POSTERIOR.rvs(2000, random_state=8)
    found = campaign.smallest_boost(draws, sessions=500, target=499, prob_wanted=0.9)
    assert found["boost"] is None and "largest possible boost" in found["reason"]

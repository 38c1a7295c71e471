"""Campaign probabilities against scipy's binomial tail and a numerical integral over the posterior."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from shopper_bayes.analyses.campaign import compute as campaign
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
    result = campaign.plan(draws, PURCHASES / SESSIONS, campaign.Boost(boost), segment={"segment": "Returning_Customer"},
                           sessions=sessions, target=target, interval_prob=0.95)
    exact = integral(target, sessions, boost)
    # Monte Carlo error of an average of tail probabilities over 20,000 independent draws.
    tails = stats.binom.sf(target - 1, sessions, draws * (1 + boost))
    assert result["prob_at_least_target"] == pytest.approx(exact, abs=4 * tails.std() / np.sqrt(draws.size) + 1e-9)


def test_plugin_probability_is_scipy_binomial_tail():
    result = campaign.plan(POSTERIOR.rvs(1000, random_state=1), PURCHASES / SESSIONS, campaign.Boost(0.15), segment={"segment": "R"},
                           sessions=500, target=100, interval_prob=0.95)
    assert result["prob_at_least_target_plugin"] == stats.binom.sf(99, 500, PURCHASES / SESSIONS * 1.15)
    # "at least 100" includes 100: it differs from P(X > 100) by P(X = 100).
    assert result["prob_at_least_target_plugin"] > stats.binom.sf(100, 500, PURCHASES / SESSIONS * 1.15)


def test_predictive_distribution_sums_to_one_and_matches_tail():
    draws = POSTERIOR.rvs(5000, random_state=3)
    pmf = campaign.predictive_pmf(500, draws * 1.15)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    assert pmf[100:].sum() == pytest.approx(campaign.prob_at_least(100, 500, draws * 1.15), abs=1e-9)


@pytest.mark.parametrize("sessions, rates", [(500, POSTERIOR.rvs(5000, random_state=4) * 1.15), (5000, np.array([0.001, 0.9])),
                                             (30, np.array([0.0, 0.5, 1.0])), (1000, np.array([0.0])), (1000, np.array([1.0]))])
def test_predictive_distribution_equals_the_mixture_over_every_number_of_sales(sessions, rates):
    """Computed only where some rate gives the sales a probability above 1e-15: every other value is 0, and
    the whole distribution equals scipy's pmf averaged over the rates at every number of sales."""
    k = np.arange(sessions + 1)
    mixture = stats.binom.pmf(k[:, None], sessions, rates[None, :]).mean(axis=1)
    np.testing.assert_allclose(campaign.predictive_pmf(sessions, rates), mixture, rtol=1e-12, atol=1e-15)


def test_edge_targets():
    draws = POSTERIOR.rvs(1000, random_state=2)
    assert campaign.prob_at_least(0, 500, draws) == 1.0
    assert campaign.prob_at_least(501, 500, draws) == 0.0


def test_boost_past_one_is_an_error_naming_the_values():
    with pytest.raises(UserError, match=r"campaign.boost.*\+300.0%.*past 1 \(up to 1.200\)"):
        campaign.boosted(np.array([0.2, 0.3]), campaign.Boost(3.0))
    with pytest.raises(UserError, match=r"campaign.boost.*\+75.0 pp.*past 1 \(up to 1.050\)"):
        campaign.boosted(np.array([0.2, 0.3]), campaign.Boost(0.75, "absolute"))
    with pytest.raises(UserError, match=r"campaign.boost.*-25.0 pp.*below 0 \(down to -0.050\)"):
        campaign.boosted(np.array([0.2, 0.3]), campaign.Boost(-0.25, "absolute"))


@pytest.mark.parametrize("rates", [POSTERIOR.rvs(4000, random_state=5), np.array([PURCHASES / SESSIONS])],
                         ids=["predictive", "plugin"])
def test_smallest_boost_reaches_the_wanted_probability_and_one_step_less_does_not(rates):
    found = campaign.smallest_boost(rates, campaign.Boost(0.15), sessions=500, target=100, prob_wanted=0.9)
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
    found = campaign.smallest_boost(draws, campaign.Boost(0.15), sessions=500, target=499, prob_wanted=0.9)
    assert found["boost"] is None and "largest possible boost" in found["reason"]


def absolute_integral(target: int, sessions: int, boost: float) -> float:
    """P(sales >= target) for rate + boost: the Binomial tail integrated against the Beta posterior."""
    value, _ = integrate.quad(lambda p: stats.binom.sf(target - 1, sessions, p + boost) * POSTERIOR.pdf(p),
                              max(0.0, -boost), min(1.0, 1 - boost), points=[POSTERIOR.mean()], limit=200)
    return value


@pytest.mark.parametrize(("boost", "sessions", "target"), [(0.03, 500, 100), (-0.02, 800, 140), (0.05, 300, 70)])
def test_absolute_boost_matches_integral(boost, sessions, target):
    draws = POSTERIOR.rvs(20_000, random_state=np.random.default_rng(11))
    result = campaign.plan(draws, PURCHASES / SESSIONS, campaign.Boost(boost, "absolute"), segment={"segment": "R"},
                           sessions=sessions, target=target, interval_prob=0.95)
    tails = stats.binom.sf(target - 1, sessions, draws + boost)
    exact = absolute_integral(target, sessions, boost)
    assert result["prob_at_least_target"] == pytest.approx(exact, abs=4 * tails.std() / np.sqrt(draws.size) + 1e-9)
    assert result["prob_at_least_target_plugin"] == stats.binom.sf(target - 1, sessions, PURCHASES / SESSIONS + boost)


@pytest.mark.parametrize(("kind", "boost", "sd"), [("relative", 0.15, 0.05), ("absolute", 0.03, 0.01)])
def test_uncertain_boost_matches_a_double_integral(kind, boost, sd):
    """Rate from the Beta posterior and boost ~ Normal(boost, sd), independent: Gauss-Hermite over the
    boost, adaptive quadrature over the rate (at every node at once)."""
    rng = np.random.default_rng(12)
    draws = POSTERIOR.rvs(40_000, random_state=rng)
    noise = rng.standard_normal(draws.size)
    result = campaign.plan(draws, PURCHASES / SESSIONS, campaign.Boost(boost, kind, sd, noise), segment={"segment": "R"},
                           sessions=500, target=100, interval_prob=0.95)
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    lifts = boost + sd * nodes

    def at_every_node(p: float) -> np.ndarray:
        rates = p * (1 + lifts) if kind == "relative" else p + lifts
        return stats.binom.sf(99, 500, np.clip(rates, 0.0, 1.0)) * POSTERIOR.pdf(p)

    values, _ = integrate.quad_vec(at_every_node, 0, 1, points=[POSTERIOR.mean()], epsabs=1e-12, epsrel=1e-10)
    exact = float(values @ weights) / np.sqrt(2 * np.pi)
    rates = campaign.Boost(boost, kind, sd, noise).apply(draws)
    tails = stats.binom.sf(99, 500, rates)
    assert result["prob_at_least_target"] == pytest.approx(exact, abs=4 * tails.std() / np.sqrt(draws.size))
    # The boost's uncertainty widens the predictive distribution: a 90%-likely target becomes less sure.
    certain = campaign.plan(draws, PURCHASES / SESSIONS, campaign.Boost(boost, kind), segment={"segment": "R"},
                            sessions=500, target=100, interval_prob=0.95)
    assert result["prob_at_least_target"] < certain["prob_at_least_target"]
    low, high = result["sales_interval"]
    assert high - low > certain["sales_interval"][1] - certain["sales_interval"][0]


@pytest.mark.parametrize("kind", ["relative", "absolute"])
def test_smallest_uncertain_boost_reaches_the_wanted_probability_and_one_step_less_does_not(kind):
    rng = np.random.default_rng(13)
    draws = POSTERIOR.rvs(4000, random_state=rng)
    boost = campaign.Boost(0.1 if kind == "relative" else 0.02, kind, 0.05 if kind == "relative" else 0.01,
                           rng.standard_normal(4000))
    found = campaign.smallest_boost(draws, boost, sessions=500, target=100, prob_wanted=0.9)
    value = found["boost"]
    assert campaign.prob_at_least(100, 500, boost.apply(draws, value)) >= 0.9
    assert campaign.prob_at_least(100, 500, boost.apply(draws, value - campaign.BOOST_STEP)) < 0.9


def test_scenario_grid_covers_every_combination_and_is_monotone():
    draws = POSTERIOR.rvs(3000, random_state=14)
    boosts, volumes, targets = [0.0, 0.1, 0.2, 0.3], [400, 500, 600], [90, 100]
    rows = campaign.scenario_grid(draws, PURCHASES / SESSIONS, campaign.Boost(0.15), boosts=boosts,
                                  sessions=volumes, targets=targets)
    assert len(rows) == len(boosts) * len(volumes) * len(targets)
    table = {(r["boost"], r["sessions"], r["target"]): r for r in rows}
    for volume in volumes:
        for target in targets:
            probs = [table[(b, volume, target)]["prob"] for b in boosts]
            assert np.all(np.diff(probs) >= 0)
            plugin = [table[(b, volume, target)]["prob_plugin"] for b in boosts]
            assert plugin == [stats.binom.sf(target - 1, volume, PURCHASES / SESSIONS * (1 + b)) for b in boosts]
    for boost in boosts:
        probs = [table[(boost, volume, 100)]["prob"] for volume in volumes]
        assert np.all(np.diff(probs) >= 0)


def test_the_monte_carlo_error_of_the_probability_matches_its_spread_over_repeated_draws():
    """The stated standard error of P(sales >= target) equals the spread of P over 400 independent sets of
    4,000 posterior draws (within sampling error of an sd from 400 values, about 4%)."""
    rng = np.random.default_rng(11)
    rates = [POSTERIOR.rvs(4000, random_state=rng) * 1.15 for _ in range(400)]
    spread = np.std([campaign.prob_at_least(100, 500, r) for r in rates], ddof=1)
    stated = np.array([campaign.prob_at_least_mcse(100, 500, r) for r in rates[:20]])
    assert stated.mean() == pytest.approx(spread, rel=0.12)
    assert 0.0003 < spread < 0.003  # the scale the report's whole-percent display rests on


def test_the_standard_error_of_mcmc_draws_is_that_of_their_effective_sample_size():
    assert campaign.effective_mcse(0.001, 4000, "exact", 900.0) == 0.001
    assert campaign.effective_mcse(0.001, 4000, "mcmc", 1000.0) == pytest.approx(0.002)
    assert campaign.effective_mcse(0.001, 4000, "mcmc", 9000.0) == 0.001  # never below independent draws
    assert campaign.effective_mcse(0.001, 4000, "mcmc", None) == 0.001

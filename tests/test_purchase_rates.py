"""Purchase rates: counts against pandas, the posterior (exact and NUTS) against the conjugate Beta posterior."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import BUNDLED, only, rate_trees, write_config


def bundled_nov_dec() -> pd.DataFrame:
    frame = pd.read_csv(BUNDLED)
    frame = frame[frame["Month"].isin(["Nov", "Dec"]) & frame["Purchase"].notna()]
    return frame


def test_counts_and_observed_rates_equal_pandas(bundled_result):
    _, result = bundled_result
    expected = bundled_nov_dec().groupby("CustomerType")["Purchase"].agg(["size", "sum", "mean"])
    rows = {row["label"]: row for row in result.summary["purchase_rates"]["rates"]}
    assert sorted(rows) == sorted(expected.index)
    for segment, row in rows.items():
        assert row["segment"] == {"segment": segment}
        assert row["sessions"] == expected.loc[segment, "size"]
        assert row["purchases"] == expected.loc[segment, "sum"]
        assert row["observed_rate"] == pytest.approx(expected.loc[segment, "mean"], abs=1e-12)


@pytest.fixture(scope="module")
def nuts_independent(tmp_path_factory):
    """The independent model sampled by NUTS (``rates.inference: mcmc``), purchase rates only."""
    from shopper_bayes.config import load_config
    from shopper_bayes.runner import analyse

    folder = tmp_path_factory.mktemp("nuts_independent")
    config = load_config(write_config(folder, rates={"inference": "mcmc", "compare_models": False},
                                      **only("purchase_rates")))
    return config, analyse(config)


@pytest.mark.parametrize("inference", ["exact", "mcmc"])
def test_posterior_matches_conjugate_beta(inference, bundled_result, nuts_independent):
    config, result = bundled_result if inference == "exact" else nuts_independent
    prior = config.rates.prior
    assert config.rates.model == "independent"
    assert result.summary["purchase_rates"]["inference"]["independent"] == inference
    tree = rate_trees(result)["independent"]
    assert tree.attrs["inference"] == inference
    draws = tree.posterior["rate"].sizes["chain"] * tree.posterior["rate"].sizes["draw"]
    for row in result.summary["purchase_rates"]["rates"]:
        exact = stats.beta(prior.alpha + row["purchases"], prior.beta + row["sessions"] - row["purchases"])
        # Monte Carlo standard error of the mean with a conservative ESS of a quarter of the draws.
        mcse = exact.std() / np.sqrt(draws / 4)
        assert row["mean"] == pytest.approx(exact.mean(), abs=4 * mcse)
        lo, hi = exact.ppf([0.025, 0.975])
        # Quantiles in the tails: allow 4 MCSE of a quantile, sqrt(q(1-q)/n)/pdf(x).
        for got, want, q in ((row["interval"][0], lo, 0.025), (row["interval"][1], hi, 0.975)):
            q_mcse = np.sqrt(q * (1 - q) / (draws / 4)) / exact.pdf(want)
            assert got == pytest.approx(want, abs=4 * q_mcse)


def test_probability_new_beats_returning_matches_numerical_integral(bundled_result):
    _, result = bundled_result
    rows = {row["label"]: row for row in result.summary["purchase_rates"]["rates"]}
    new, ret = (stats.beta(1 + rows[s]["purchases"], 1 + rows[s]["sessions"] - rows[s]["purchases"])
                for s in ("New_Customer", "Returning_Customer"))
    grid = np.linspace(0, 1, 200_001)
    exact = np.trapezoid(new.pdf(grid) * ret.cdf(grid), grid)  # P(new > returning)
    (comparison,) = result.summary["purchase_rates"]["comparisons"]
    assert comparison["a"] == {"segment": "New_Customer"} and comparison["b"] == {"segment": "Returning_Customer"}
    assert comparison["prob_a_greater"] == pytest.approx(exact, abs=0.005)


def test_two_segment_columns_give_one_cell_per_combination(tmp_path):
    from shopper_bayes.config import load_config
    from shopper_bayes.datasets.sessions import load_sessions
    from shopper_bayes.engine.cells import segment_counts

    config = load_config(write_config(tmp_path, rates={"segments": ["segment", "month"]}))
    counts = segment_counts(load_sessions(config.sessions, labels=config.rates.segments).frame, ["segment", "month"])
    assert counts["sessions"].dims == ("segment", "month")
    assert list(counts["month"].values) == ["Nov", "Dec"]  # calendar order, not text order
    expected = bundled_nov_dec().groupby(["CustomerType", "Month"])["Purchase"].agg(["size", "sum"])
    for (segment, month), row in expected.iterrows():
        cell = {"segment": segment, "month": month}
        assert int(counts["sessions"].sel(cell)) == row["size"]
        assert int(counts["purchases"].sel(cell)) == row["sum"]

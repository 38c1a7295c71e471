"""Purchase rates: counts against pandas, the posterior (exact and NUTS) against the conjugate Beta posterior, the
lift band against a Beta integral, the predictive check and the rank band on data they must pass or flag."""

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


# ---------------------------------------------------------------- the "too small to matter" band of the lift


def _beta_rates(counts: dict[str, tuple[int, int]], draws: int, seed: int):
    """Exact draws of the independent model's posterior, Beta(1 + purchases, 1 + sessions - purchases) per cell,
    shaped (chain, draw, segment) like a fitted tree's ``rate``."""
    import xarray as xr

    rng = np.random.default_rng(seed)
    values = np.stack([rng.beta(1 + y, 1 + n - y, size=(1, draws)) for y, n in counts.values()], axis=-1)
    return xr.DataArray(values, dims=("chain", "draw", "segment"), coords={"segment": list(counts)})


def _band_integral(a: tuple[int, int], b: tuple[int, int], band: float) -> tuple[float, float, float]:
    """P(lift < -band), P(-band <= lift <= band), P(lift > band) for lift = rA / rB - 1, by integrating over
    rB: P(rA < c rB) = integral of f_B(x) F_A(c x) dx."""
    rate_a, rate_b = (stats.beta(1 + y, 1 + n - y) for y, n in (a, b))
    grid = np.linspace(0, 1, 400_001)

    def below(c):
        return np.trapezoid(rate_b.pdf(grid) * rate_a.cdf(np.minimum(c * grid, 1)), grid)

    low, high = below(1 - band), below(1 + band)
    return low, high - low, 1 - high


@pytest.mark.parametrize("band", [0.05, 0.1])
def test_probability_inside_the_practical_band_matches_the_beta_integral(band):
    """Two close cells (lift about +2% with a wide posterior): the three probabilities of compare() against the
    integral over the exact Beta posteriors, within 4 Monte Carlo standard errors."""
    from shopper_bayes.analyses.purchase_rates.model import compare

    counts = {"A": (102, 1000), "B": (100, 1000)}
    draws = 40_000
    (row,) = compare(_beta_rates(counts, draws, seed=3), [({"segment": "A"}, {"segment": "B"})], 0.95, band)
    exact = _band_integral(counts["A"], counts["B"], band)
    assert 0.15 < exact[1] < 0.85  # the band matters here: a test of it can fail
    practical = row["practical"]
    assert practical["lift"] == band
    for key, want in zip(("below", "inside", "above"), exact):
        assert practical[key]["draws"] == draws
        assert practical[key]["value"] == pytest.approx(want, abs=4 * np.sqrt(want * (1 - want) / draws))


def test_the_bundled_comparison_reports_the_band_from_the_config(bundled_result):
    config, result = bundled_result
    (comparison,) = result.summary["purchase_rates"]["comparisons"]
    rows = {row["label"]: row for row in result.summary["purchase_rates"]["rates"]}
    new, ret = ((rows[s]["purchases"], rows[s]["sessions"]) for s in ("New_Customer", "Returning_Customer"))
    exact = _band_integral(new, ret, config.rates.practical_lift)
    practical = comparison["practical"]
    assert practical["lift"] == config.rates.practical_lift == 0.05
    draws = comparison["draws"]
    for key, want in zip(("below", "inside", "above"), exact):
        assert practical[key]["draws"] == draws
        assert practical[key]["value"] == pytest.approx(want, abs=4 * np.sqrt(max(want * (1 - want), 1 / draws) / draws))


# ---------------------------------------------------------------- the posterior predictive check


def test_spread_statistic_equals_a_direct_computation():
    from shopper_bayes.analyses.purchase_rates.checks import spread

    sessions = np.array([[100, 50, 0], [10, 20, 30]])
    purchases = np.array([[30, 5, 0], [1, 4, 9]])
    total, squares = 0, 0.0
    for y_row, n_row in zip(purchases, sessions):
        cell_rate = y_row.sum() / n_row.sum()
        for y, n in zip(y_row, n_row):
            if n:
                squares += n * (y / n - cell_rate) ** 2
                total += n
    assert spread(purchases, sessions) == pytest.approx(np.sqrt(squares / total), rel=1e-12)


def _split_data(rng, overdispersion: float):
    """4 segments x 3 months of 400 sessions each: a rate per segment from Beta(2, 8); each month's rate moved
    by Normal(0, overdispersion) on the logit scale (0: data from the model, one rate per segment)."""
    import xarray as xr
    from scipy.special import expit, logit

    segments, months = ["a", "b", "c", "d"], ["Oct", "Nov", "Dec"]
    rates = expit(logit(rng.beta(2, 8, size=(len(segments), 1))) + overdispersion * rng.normal(size=(len(segments), 3)))
    sessions = np.full((len(segments), len(months)), 400)
    purchases = rng.binomial(sessions, rates)
    return xr.Dataset({"sessions": (("segment", "month"), sessions), "purchases": (("segment", "month"), purchases)},
                      coords={"segment": segments, "month": months})


@pytest.mark.parametrize(("overdispersion", "flagged_at_least", "flagged_at_most"), [(0.0, 0, 13), (0.3, 90, 100)])
def test_the_predictive_check_flags_overdispersed_cells_and_passes_data_from_the_model(
        overdispersion, flagged_at_least, flagged_at_most):
    """100 data sets: from the model (one rate per segment) the check fails at its nominal 5% (at most 13 of 100,
    binomial 99.9% bound); with month rates spread around their segment's (logit sd 0.3) it fails nearly always."""
    import xarray as xr

    from shopper_bayes.analyses.purchase_rates.checks import predictive_check
    from shopper_bayes.analyses.purchase_rates.config import RatesConfig
    from shopper_bayes.analyses.purchase_rates.model import exact_posterior

    rng = np.random.default_rng(2026)
    flagged, p_values = 0, []
    for replication in range(100):
        split = _split_data(rng, overdispersion)
        counts = split.sum("month")
        rate = exact_posterior(counts, RatesConfig(), chains=2, draws=500, seed=replication)["rate"]
        rate = xr.DataArray(rate, dims=("chain", "draw", "segment"), coords={"segment": counts["segment"].values})
        entry, t_rep, groups = predictive_check(rate, split, "month", 0.95, seed=replication)
        assert entry["p_value"]["draws"] == t_rep.size == 1000 and entry["groups"] == len(groups) == 12
        flagged += not entry["passed"]
        p_values.append(entry["p_value"]["value"])
    assert flagged_at_least <= flagged <= flagged_at_most, flagged
    if overdispersion == 0:
        # under the model, P(replicated >= observed) is roughly uniform: about half of the values above 0.5
        assert 30 <= sum(p > 0.5 for p in p_values) <= 70


def test_the_bundled_check_splits_the_cells_by_month_as_pandas_does(bundled_result):
    """The default check (rates.check_by: month) on the bundled Nov-Dec sessions: its groups are the pandas
    counts per customer type and month, and Returning_Customer's rate falls from Nov to Dec far beyond chance."""
    _, result = bundled_result
    checks = result.summary["purchase_rates"]["predictive_check"]
    assert set(checks) == {"independent", "hierarchical"}
    expected = bundled_nov_dec().groupby(["CustomerType", "Month"])["Purchase"].agg(["size", "sum"])
    for check in checks.values():
        assert check["by"] == "month" and check["groups"] == len(expected) == 4
        assert not check["passed"] and check["p_value"]["value"] < 0.001
        assert check["observed"] > check["replicated"]["interval"][1]
        for group in check["outside"]:
            row = expected.loc[(group["segment"]["segment"], group["segment"]["month"])]
            assert (group["sessions"], group["purchases"]) == (row["size"], row["sum"])
            lo, hi = group["predicted"]["interval"]
            assert not lo <= group["observed_rate"] <= hi
        assert {g["label"] for g in check["outside"]} == {"Returning_Customer / Nov", "Returning_Customer / Dec"}


# ---------------------------------------------------------------- rank histograms of a NUTS fit


def _ar1(rng, phi: float, chains: int = 4, draws: int = 1000) -> np.ndarray:
    """Chains of a stationary AR(1) with unit variance: autocorrelated, all sampling Normal(0, 1)."""
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains)
    noise = rng.normal(size=(chains, draws)) * np.sqrt(1 - phi**2)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


@pytest.mark.parametrize(("kind", "flagged_at_least", "flagged_at_most"),
                         [("independent", 0, 21), ("autocorrelated", 0, 21), ("one chain shifted", 190, 200)])
def test_the_rank_band_holds_agreeing_chains_and_flags_a_shifted_one(kind, flagged_at_least, flagged_at_most):
    """200 fits each. Chains sampling one distribution (independent draws, or AR(1) with phi 0.8, thinned by
    their ESS) leave the 95% band in at most 5% of fits (21 of 200: binomial 99.9% bound); one chain shifted
    by half a posterior sd leaves it nearly always. A bar outside the band and p < 0.05 are the same event."""
    from shopper_bayes.inference.ranks import rank_histogram

    rng = np.random.default_rng(11)
    flagged = 0
    for _ in range(200):
        if kind == "independent":
            draws = rng.normal(size=(4, 1000))
        elif kind == "autocorrelated":
            draws = _ar1(rng, 0.8)
        else:
            draws = rng.normal(size=(4, 1000)) + np.array([[0.5], [0], [0], [0]])
        histogram = rank_histogram(draws, 0.95)
        outside = bool(((histogram.counts < histogram.low) | (histogram.counts > histogram.high)).any())
        assert outside == histogram.flagged == (histogram.p_value < 0.05)
        assert histogram.counts.sum() == histogram.counts.shape[0] * histogram.counts[0].sum()
        flagged += histogram.flagged
    assert flagged_at_least <= flagged <= flagged_at_most, flagged


def test_the_rank_figure_draws_the_band_and_names_the_chains():
    from matplotlib.patches import Rectangle

    from shopper_bayes.analyses.purchase_rates.figures import plot_rank
    from shopper_bayes.inference.ranks import rank_histogram

    rng = np.random.default_rng(5)
    histograms = {"mu_logit": rank_histogram(rng.normal(size=(4, 1000)), 0.9),
                  "rate of A": rank_histogram(rng.normal(size=(4, 1000)) + np.array([[1], [0], [0], [0]]), 0.9)}
    figure = plot_rank(histograms, "hierarchical")
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == list(histograms)
    for ax, histogram in zip(panels, histograms.values()):
        spans = [(patch.get_y(), patch.get_y() + patch.get_height()) for patch in ax.patches if isinstance(patch, Rectangle)]
        assert (histogram.low, histogram.high) in spans
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert [name for name in legend if name.startswith("chain")] == ["chain 0", "chain 1", "chain 2", "chain 3"]
    assert any("90% band" in name for name in legend)
    assert "outside the band" in " ".join(t.get_text() for t in panels[1].texts)
    assert "inside the band" in " ".join(t.get_text() for t in panels[0].texts)

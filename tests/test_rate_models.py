"""Rate models checked against independent answers: conjugate Beta posteriors, planted truth,
brute-force PSIS-LOO over every session, and a deliberately broken fit for the gate."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from conftest import write_config
from shopper_bayes import diagnostics, model_comparison, purchase_rates
from shopper_bayes.config import load_config
from shopper_bayes.counts import cells, segment_counts, segment_name
from shopper_bayes.generate import generate, truth_path
from shopper_bayes.pipeline import fit_rates, rates_section
from shopper_bayes.datasets.sessions import load_sessions

SAMPLER = {"draws": 1000, "tune": 1000, "chains": 4}


def exact_posterior(config, row):
    prior = config.rates.prior
    return stats.beta(prior.alpha + row["purchases"], prior.beta + row["sessions"] - row["purchases"])


@pytest.fixture(scope="module")
def two_columns(tmp_path_factory):
    """Both models fitted on the bundled Nov-Dec data split by segment x month."""
    folder = tmp_path_factory.mktemp("two_columns")
    config = load_config(write_config(folder, rates={"segments": ["segment", "month"]}, sampler=SAMPLER))
    counts = segment_counts(load_sessions(config).frame, config.rates.segments)
    section, trees = rates_section(config, counts)
    return config, counts, section, trees


def test_independent_model_matches_the_conjugate_posterior_in_every_cell_of_two_columns(two_columns):
    config, counts, section, trees = two_columns
    assert section["rates_model"] == "independent"
    assert len(section["purchase_rates"]) == 4
    draws = trees["independent"].posterior["rate"]
    for row in section["purchase_rates"]:
        exact = exact_posterior(config, row)
        cell = dict(row["segment"])
        sample = draws.sel(cell).values.ravel()
        # Kolmogorov-Smirnov distance against the exact Beta; MCMC draws are autocorrelated, so the
        # bound uses a quarter of the draws as the effective size.
        distance = stats.kstest(sample, exact.cdf).statistic
        assert distance < 1.63 / np.sqrt(sample.size / 4), (cell, distance)
        assert row["mean"] == pytest.approx(exact.mean(), abs=4 * exact.std() / np.sqrt(sample.size / 4))


def test_difference_lift_and_best_match_exact_beta_draws(two_columns):
    config, counts, section, _ = two_columns
    rng = np.random.default_rng(7)
    rows = {segment_name(row["segment"]): row for row in section["purchase_rates"]}
    exact = {name: exact_posterior(config, row).rvs(400_000, random_state=rng) for name, row in rows.items()}
    for comparison in section["rate_comparisons"]:
        a, b = exact[segment_name(comparison["a"])], exact[segment_name(comparison["b"])]
        assert comparison["prob_a_greater"] == pytest.approx(np.mean(a > b), abs=0.02)
        assert comparison["difference"]["mean"] == pytest.approx(np.mean(a - b), abs=0.003)
        for got, want in zip(comparison["difference"]["interval"], np.quantile(a - b, [0.025, 0.975])):
            assert got == pytest.approx(want, abs=0.006)
        for got, want in zip(comparison["lift"]["interval"], np.quantile(a / b - 1, [0.025, 0.975])):
            assert got == pytest.approx(want, abs=0.04)
    stacked = np.stack([exact[segment_name(row["segment"])] for row in section["best_segment"]])
    for index, row in enumerate(section["best_segment"]):
        assert row["prob_best"] == pytest.approx(np.mean(stacked.argmax(axis=0) == index), abs=0.03)
        assert row["expected_loss"] == pytest.approx(np.mean(stacked.max(axis=0) - stacked[index]), abs=0.003)


def test_default_comparisons_are_every_cell_against_the_largest(two_columns):
    _, counts, section, _ = two_columns
    largest = max(cells(counts), key=lambda cell: int(counts["sessions"].sel(cell)))
    assert {json.dumps(c["b"], sort_keys=True) for c in section["rate_comparisons"]} == {json.dumps(largest, sort_keys=True)}
    assert len(section["rate_comparisons"]) == 3


def test_named_pairs_and_reference_are_used(tmp_path):
    config = load_config(write_config(tmp_path, rates={"segments": ["segment", "month"],
                                                       "comparisons": {"pairs": [["New_Customer / Nov", "New_Customer / Dec"]]}}))
    counts = segment_counts(load_sessions(config).frame, config.rates.segments)
    pairs = purchase_rates.comparison_pairs(counts, config.rates)
    assert pairs == [({"segment": "New_Customer", "month": "Nov"}, {"segment": "New_Customer", "month": "Dec"})]
    config = load_config(write_config(tmp_path, rates={"comparisons": {"reference": "New_Customer"}}))
    counts = segment_counts(load_sessions(config).frame, config.rates.segments)
    assert purchase_rates.comparison_pairs(counts, config.rates) == [
        ({"segment": "Returning_Customer"}, {"segment": "New_Customer"})]


def test_loo_on_weighted_outcomes_equals_psis_loo_over_every_session():
    """The per-(cell, outcome) shortcut against arviz-stats run on one log-likelihood column per session."""
    import arviz_stats as azs

    rng = np.random.default_rng(3)
    sessions, purchases = np.array([40, 25, 60]), np.array([9, 3, 30])
    counts = xr.Dataset({"sessions": ("segment", sessions), "purchases": ("segment", purchases)},
                        coords={"segment": ["a", "b", "c"]})
    draws = np.stack([rng.beta(1 + k, 1 + n - k, size=(4, 500)) for n, k in zip(sessions, purchases)], axis=-1)
    rate = xr.DataArray(draws, dims=("chain", "draw", "segment"), coords={"segment": ["a", "b", "c"]})
    result = model_comparison.compare({"m": rate}, counts)["models"]["m"]

    columns = []
    for index, (n, k) in enumerate(zip(sessions, purchases)):
        columns += [np.log(draws[..., index])] * k + [np.log1p(-draws[..., index])] * (n - k)
    tree = xr.DataTree.from_dict({
        "posterior": xr.Dataset({"rate": (("chain", "draw", "segment"), draws)}),
        "log_likelihood": xr.Dataset({"y": (("chain", "draw", "session"), np.stack(columns, axis=-1))}),
    })
    brute = azs.loo(tree)
    assert result["elpd_loo"] == pytest.approx(float(brute.elpd), rel=1e-9)
    assert result["se"] == pytest.approx(float(brute.se), rel=1e-6)
    assert result["p_loo"] == pytest.approx(float(brute.p), rel=1e-6)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Generated sessions over every month (some segment x month cells tiny), both models fitted."""
    folder = tmp_path_factory.mktemp("generated")
    data = folder / "sessions.csv"
    generate("sessions", 2500, 5, data)
    truth = json.loads(truth_path(data).read_text())["parameters"]["purchase_rate"]
    config = load_config(write_config(folder, sessions={"path": str(data), "filter": {}},
                                      rates={"segments": ["segment", "month"], "model": "hierarchical"},
                                      sampler=SAMPLER))
    counts = segment_counts(load_sessions(config).frame, config.rates.segments)
    section, trees = rates_section(config, counts)
    return truth, counts, section, trees


def _truth_of(truth: dict, segment: dict) -> float:
    month = {"Jun": "June"}.get(segment["month"], segment["month"])
    return truth[segment["segment"]][month]


def test_hierarchical_model_samples_cleanly_and_covers_the_planted_rates(generated):
    truth, counts, section, _ = generated
    assert section["diagnostics"]["ok"], section["diagnostics"]["problems"]
    rows = section["purchase_rates"]
    assert min(row["sessions"] for row in rows) < 20  # the data has tiny cells
    missed = [row["segment"] for row in rows if not row["interval"][0] <= _truth_of(truth, row["segment"]) <= row["interval"][1]]
    # 95% intervals over 20 cells: more than 4 misses has probability 0.3% for honest intervals.
    assert len(missed) <= 4, missed


def test_hierarchical_model_shrinks_tiny_cells_toward_the_population_and_is_closer_to_the_truth(generated):
    from scipy.special import logit

    truth, counts, section, trees = generated
    # Months with few sessions: their effect (zero-sum, so a logit deviation from the average month)
    # is pulled toward 0 compared with the month's own deviation.
    month_sessions = counts["sessions"].sum("segment")
    month_logit = logit((counts["purchases"].sum("segment") + 0.5) / (month_sessions + 1))
    raw = month_logit - month_logit.mean()
    effect = trees["hierarchical"].posterior["effect_month"].mean(("chain", "draw"))
    tiny_months = [m for m in counts["month"].values if int(month_sessions.sel(month=m)) < 100]
    assert len(tiny_months) >= 2
    shrunk = np.abs(effect.sel(month=tiny_months)).mean()
    own = np.abs(raw.sel(month=tiny_months)).mean()
    assert float(shrunk) < 0.8 * float(own), (float(shrunk), float(own))
    # And the pooled estimates of the tiny cells are closer to the planted rates than each cell on its own.
    hierarchical = section["purchase_rates"]
    independent = section["purchase_rates_by_model"]["independent"]
    tiny = [i for i, row in enumerate(hierarchical) if row["sessions"] < 60]
    assert len(tiny) >= 4
    error = {name: np.mean([(rows[i]["mean"] - _truth_of(truth, rows[i]["segment"])) ** 2 for i in tiny])
             for name, rows in (("hierarchical", hierarchical), ("independent", independent))}
    assert error["hierarchical"] < error["independent"], error
    width = {name: np.mean([rows[i]["interval"][1] - rows[i]["interval"][0] for i in tiny])
             for name, rows in (("hierarchical", hierarchical), ("independent", independent))}
    assert width["hierarchical"] < width["independent"], width


def test_model_comparison_names_a_best_model_and_a_statement(generated):
    _, _, section, _ = generated
    comparison = section["model_comparison"]
    assert set(comparison["models"]) == {"independent", "hierarchical"}
    assert comparison["best"] == comparison["ranking"][0]
    assert comparison["models"][comparison["best"]]["elpd_diff"] == 0
    other = comparison["ranking"][1]
    assert comparison["models"][other]["elpd_diff"] > 0
    assert comparison["best"] in comparison["statement"]


def test_gate_trips_on_a_broken_fit_and_passes_on_the_bundled_data(tmp_path, bundled_result):
    config = load_config(write_config(tmp_path, sampler={"backend": "pymc", "draws": 10, "tune": 5, "chains": 2},
                                      rates={"model": "hierarchical"}))
    counts = segment_counts(load_sessions(config).frame, config.rates.segments)
    result = diagnostics.check(fit_rates(config, counts, "hierarchical"), config.diagnostics)
    assert result["ok"] is False
    assert any("ESS" in problem for problem in result["problems"])
    assert {row["variable"] for row in result["variables"]} >= {"mu_logit", "sigma_segment", "effect_segment", "rate"}
    _, bundled = bundled_result
    assert bundled.summary["diagnostics"]["ok"] is True
    assert set(bundled.summary["diagnostics"]["by_model"]) == {"independent", "hierarchical"}


def test_saved_posteriors_load_with_arviz_and_carry_their_fingerprint(bundled_result, tmp_path):
    from shopper_bayes.pipeline import fingerprint, model_file, write_outputs

    config, result = bundled_result
    write_outputs(result, config, tmp_path)
    for name in ("independent", "hierarchical"):
        tree = xr.open_datatree(tmp_path / model_file(name), engine="h5netcdf")
        assert tree.attrs["model"] == name
        assert tree.attrs["fingerprint"] == fingerprint(config, name)
        assert {"posterior", "log_likelihood", "posterior_predictive", "prior", "prior_predictive"} <= set(tree.children)

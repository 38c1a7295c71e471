"""Partial pooling (issue 21): each segment column's effects are centred or non-centred by a rule on
the data, the model is the same either way, and the fits pass the gate where they did before and
on many small cells with no effect. The 1,000-cell fits, their times and the SBC study are
``benchmarks/bench_pooling.py``."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy import stats

from shopper_bayes import pooling_study
from shopper_bayes.analyses.purchase_rates.config import RatesConfig
from shopper_bayes.analyses.purchase_rates.model import build_model, level_information, parameterisation
from shopper_bayes.engine.cells import segment_counts

HIERARCHICAL = RatesConfig(model="hierarchical")


def counts_of(sessions, purchases, dims=("segment", "Region")) -> xr.Dataset:
    sessions, purchases = np.asarray(sessions), np.asarray(purchases)
    coords = {dim: [f"{dim}{i}" for i in range(size)] for dim, size in zip(dims, sessions.shape)}
    return xr.Dataset({"sessions": (dims, sessions), "purchases": (dims, purchases)}, coords=coords)


@pytest.fixture(scope="module")
def cases():
    return {name: pooling_study.case(name) for name in pooling_study.CASES}


@pytest.fixture(scope="module")
def fitted(cases):
    """The hierarchical fit of a case, fitted once for the tests that read it."""
    cache = {}

    def fit(name):
        if name not in cache:
            cache[name] = pooling_study.fit_case(cases[name].counts)
        return cache[name]
    return fit


@pytest.fixture(scope="module")
def random_regions():
    """120 random regions over the bundled year (240 cells, about 50 sessions a cell, about 100 a region):
    rates follow the segment alone, the regions have no effect. Its counts and hierarchical fit."""
    frame = pooling_study.bundled_frame(None)
    frame["Region"] = np.char.add("R", np.random.default_rng(3).integers(120, size=len(frame)).astype(str))
    counts = segment_counts(frame, ["segment", "Region"])
    return counts, pooling_study.fit_case(counts)


def test_the_rule_keeps_the_bundled_and_monthly_models_centred_and_does_not_centre_a_null_region(cases):
    assert parameterisation(cases["bundled"].counts) == {"segment": True}
    assert parameterisation(cases["months"].counts) == {"segment": True, "month": True}
    assert parameterisation(cases["null_region"].counts) == {"segment": True, "Region": False}
    assert parameterisation(cases["planted_region"].counts) == {"segment": True, "Region": True}
    assert {dims: tuple(case.counts["sessions"].shape) for dims, case in cases.items()} == {
        "bundled": (2,), "months": (2, 10), "null_region": (2, 500), "planted_region": (2, 500)}


def test_the_rule_follows_information_per_level_not_cell_counts():
    rng = np.random.default_rng(1)
    # Strong effects, large cells: every level's logit known to +-0.05 against effects of sd ~1.
    effects = rng.normal(0, 1, 8)
    sessions = np.full((2, 8), 5_000)
    strong = counts_of(sessions, rng.binomial(sessions, 1 / (1 + np.exp(1.5 - effects))))
    # No effect, tiny cells: 3 sessions a cell.
    sessions = np.full((2, 400), 3)
    null = counts_of(sessions, rng.binomial(sessions, 0.2))
    assert parameterisation(strong) == {"segment": False, "Region": True}  # two equal segments: tau^2 = 0
    assert parameterisation(null) == {"segment": False, "Region": False}
    # A level without sessions is never well informed; a column with one level with sessions is non-centred.
    one = counts_of([[100, 0]], [[30, 0]], ("segment", "month"))
    info = level_information(one)
    assert np.isinf(info["month"]["v"][1]) and info["month"]["levels_with_sessions"] == 1
    assert parameterisation(one) == {"segment": False, "month": False}


def test_both_parameterisations_keep_the_variable_names_and_define_the_same_prior(cases):
    counts = cases["null_region"].counts
    names = {"rate", "mu_logit", "sigma_segment", "sigma_Region", "effect_segment", "effect_Region", "population_rate"}
    draws = {}
    for centred in (True, False):
        model = build_model(counts, HIERARCHICAL, "hierarchical", {"segment": True, "Region": centred})
        assert names <= set(model.named_vars)
        assert ("effect_Region_offset" in model.named_vars) is (not centred)
        assert model.named_vars_to_dims["effect_Region"] == ("Region",)
        with model:
            prior = pm.sample_prior_predictive(draws=1000, random_seed=5).prior
        draws[centred] = prior
        assert float(np.abs(prior["effect_Region"].sum("Region")).max()) < 1e-9  # zero-sum either way
    # The same distribution of a level's effect and of a cell's rate (Kolmogorov-Smirnov, 1,000 draws each).
    for name, cell in (("effect_Region", {"Region": "R007"}), ("rate", {"segment": "New_Customer", "Region": "R123"})):
        a, b = (draws[c][name].sel(cell).values.ravel() for c in (True, False))
        assert stats.ks_2samp(a, b).pvalue > 0.001, name


@pytest.mark.parametrize("name", ["bundled", "months"])
def test_bundled_and_monthly_fits_pass_the_gate(fitted, name):
    fit = fitted(name)
    assert fit.gate.ok, fit.gate.problems
    assert all(fit.centred.values())


def test_many_small_cells_without_an_effect_pass_the_gate_and_are_pulled_to_their_segment(random_regions):
    # A quicker version of the benchmark's 1,000-cell null_region case.
    counts, fitted = random_regions
    assert fitted.centred == {"segment": True, "Region": False}
    assert fitted.gate.ok, fitted.gate.problems
    shrunk = pooling_study.shrinkage(fitted.tree, counts)
    # Region sd near zero (a planted-free column), far below that of segment effects (about 0.5).
    assert shrunk["sigma_q95"] < 0.25
    # Cell rates pulled to their segment's rate: a tenth of the observed rates' distance or less.
    assert shrunk["cell_distance_posterior"] < 0.1 * shrunk["cell_distance_observed"]


def _loo(counts, hierarchical_tree):
    """PSIS-LOO of the hierarchical fit against the exact independent posterior on the same counts."""
    from shopper_bayes.analyses.purchase_rates.config import RatesConfig
    from shopper_bayes.analyses.purchase_rates.model import build_model, exact_posterior
    from shopper_bayes.inference.comparison import compare
    from shopper_bayes.inference.fit import exact

    rates = RatesConfig()
    independent = exact(build_model(counts, rates, "independent"), exact_posterior(counts, rates, 4, 1000, 1), 1)
    return compare({"independent": independent.posterior["rate"], "hierarchical": hierarchical_tree.posterior["rate"]},
                   counts)


def test_loo_prefers_the_independent_model_where_segments_interact(cases, fitted):
    """Segment x month over the year: new customers buy relatively more in May than the month effect
    explains, an interaction the additive hierarchical model lacks, so the independent model must win."""
    result = _loo(cases["months"].counts, fitted("months").tree)
    assert result.ranking[0] == "independent"
    assert result.models["hierarchical"].elpd_diff > 4


def test_loo_prefers_the_hierarchical_model_on_many_tiny_additive_cells(random_regions):
    """240 cells of about 50 sessions whose rates follow the segment alone (regions have no effect): the
    independent model spends a parameter per cell and must predict new sessions worse."""
    counts, fitted = random_regions
    result = _loo(counts, fitted.tree)
    assert result.ranking[0] == "hierarchical"
    diff = result.models["independent"]
    assert diff.elpd_diff > 4 and diff.elpd_diff > 2 * diff.se_diff

"""Rate models checked against independent answers: conjugate Beta posteriors, planted truth,
brute-force PSIS-LOO over every session, a deliberately broken fit and hand-built fits that each
break one check of the gate."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from conftest import only, rate_trees, write_config
from shopper_bayes.analyses.purchase_rates import model as purchase_rates
from shopper_bayes.config import DiagnosticsConfig, load_config
from shopper_bayes.datasets.sessions import load_sessions
from shopper_bayes.engine.cells import cells, segment_counts, segment_name
from shopper_bayes.generate import generate, truth_path
from shopper_bayes.inference import comparison as model_comparison
from shopper_bayes.inference import diagnostics
from shopper_bayes.runner import analyse

SAMPLER = {"draws": 1000, "tune": 1000, "chains": 4}
ONLY_RATES = only("purchase_rates")


def counts_of(config):
    """Sessions and purchases per cell of ``rates.segments``, as the purchase-rate analysis counts them."""
    segments = config.rates.segments
    return segment_counts(load_sessions(config.sessions, labels=segments).frame, segments)


def rates_of(config):
    """The purchase-rate analysis alone: (its summary.json entry, its fitted trees by model)."""
    run = analyse(config)
    return run.summary["purchase_rates"], rate_trees(run)


def exact_posterior(config, row):
    prior = config.rates.prior
    return stats.beta(prior.alpha + row["purchases"], prior.beta + row["sessions"] - row["purchases"])


@pytest.fixture(scope="module")
def two_columns(tmp_path_factory):
    """The independent model sampled by NUTS (``rates.inference: mcmc``) on the bundled Nov-Dec data
    split by segment x month."""
    folder = tmp_path_factory.mktemp("two_columns")
    config = load_config(write_config(folder, rates={"segments": ["segment", "month"], "inference": "mcmc",
                                                     "compare_models": False}, sampler=SAMPLER, **ONLY_RATES))
    section, trees = rates_of(config)
    return config, counts_of(config), section, trees


def test_independent_model_matches_the_conjugate_posterior_in_every_cell_of_two_columns(two_columns):
    config, counts, section, trees = two_columns
    assert section["model"] == "independent" and section["inference"] == {"independent": "mcmc"}
    assert len(section["rates"]) == 4
    draws = trees["independent"].posterior["rate"]
    for row in section["rates"]:
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
    rows = {segment_name(row["segment"]): row for row in section["rates"]}
    exact = {name: exact_posterior(config, row).rvs(400_000, random_state=rng) for name, row in rows.items()}
    for comparison in section["comparisons"]:
        a, b = exact[segment_name(comparison["a"])], exact[segment_name(comparison["b"])]
        assert comparison["prob_a_greater"] == pytest.approx(np.mean(a > b), abs=0.02)
        assert comparison["difference"]["mean"] == pytest.approx(np.mean(a - b), abs=0.003)
        for got, want in zip(comparison["difference"]["interval"], np.quantile(a - b, [0.025, 0.975])):
            assert got == pytest.approx(want, abs=0.006)
        for got, want in zip(comparison["lift"]["interval"], np.quantile(a / b - 1, [0.025, 0.975])):
            assert got == pytest.approx(want, abs=0.04)
    stacked = np.stack([exact[segment_name(row["segment"])] for row in section["best"]])
    for index, row in enumerate(section["best"]):
        assert row["prob_best"] == pytest.approx(np.mean(stacked.argmax(axis=0) == index), abs=0.03)
        assert row["expected_loss"] == pytest.approx(np.mean(stacked.max(axis=0) - stacked[index]), abs=0.003)


def test_the_best_segment_is_stated_with_its_sessions_and_interval(two_columns):
    """A best segment resting on a handful of sessions must read as such (a user's 3-session segment was "most likely
    best" with P = 0.69): the headline and the console give its sessions, rate and interval beside P(best)."""
    from shopper_bayes.analyses import purchase_rates
    from shopper_bayes.report.document import pct, pct_range

    _, _, section, _ = two_columns
    result = purchase_rates.ANALYSIS.result.model_validate(section)
    first = result.best[0]
    row = next(row for row in result.rates if row.segment == first.segment)
    stated = f"{row.sessions:,} sessions, {pct(row.mean)}"
    headline = " ".join(sentence.text for sentence in purchase_rates.ANALYSIS.headline(result))
    assert f"{first.label} most probably has the highest purchase rate (probability {pct(first.prob_best)}; {stated}, 95% CrI " \
           f"{pct_range(row.interval)};" in headline
    console = next(line for line in purchase_rates.ANALYSIS.console(result) if "most likely best" in line)
    assert console.endswith(f"; {stated}, {pct_range(row.interval)})")


def test_default_comparisons_are_every_cell_against_the_largest(two_columns):
    _, counts, section, _ = two_columns
    largest = max(cells(counts), key=lambda cell: int(counts["sessions"].sel(cell)))
    assert {json.dumps(c["b"], sort_keys=True) for c in section["comparisons"]} == {json.dumps(largest, sort_keys=True)}
    assert len(section["comparisons"]) == 3


def test_named_pairs_and_reference_are_used(tmp_path):
    config = load_config(write_config(tmp_path, rates={"segments": ["segment", "month"],
                                                       "comparisons": {"pairs": [["New_Customer / Nov", "New_Customer / Dec"]]}}))
    counts = counts_of(config)
    pairs = purchase_rates.comparison_pairs(counts, config.rates)
    assert pairs == [({"segment": "New_Customer", "month": "Nov"}, {"segment": "New_Customer", "month": "Dec"})]
    config = load_config(write_config(tmp_path, rates={"comparisons": {"reference": "New_Customer"}}))
    counts = counts_of(config)
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
    result = model_comparison.compare({"m": rate}, counts).models["m"]

    columns = []
    for index, (n, k) in enumerate(zip(sessions, purchases)):
        columns += [np.log(draws[..., index])] * k + [np.log1p(-draws[..., index])] * (n - k)
    tree = xr.DataTree.from_dict({
        "posterior": xr.Dataset({"rate": (("chain", "draw", "segment"), draws)}),
        "log_likelihood": xr.Dataset({"y": (("chain", "draw", "session"), np.stack(columns, axis=-1))}),
    })
    brute = azs.loo(tree)
    assert result.elpd_loo == pytest.approx(float(brute.elpd), rel=1e-9)
    assert result.se == pytest.approx(float(brute.se), rel=1e-6)
    assert result.p_loo == pytest.approx(float(brute.p), rel=1e-6)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Generated sessions over every month (some segment x month cells tiny), both models fitted."""
    folder = tmp_path_factory.mktemp("generated")
    data = folder / "sessions.csv"
    generate("sessions", 2500, 5, data)
    truth = json.loads(truth_path(data).read_text())["parameters"]["purchase_rate"]
    config = load_config(write_config(folder, sessions={"path": str(data), "filter": {}},
                                      rates={"segments": ["segment", "month"], "model": "hierarchical"},
                                      sampler=SAMPLER, **ONLY_RATES))
    section, trees = rates_of(config)
    return truth, counts_of(config), section, trees


def _truth_of(truth: dict, segment: dict) -> float:
    month = {"Jun": "June"}.get(segment["month"], segment["month"])
    return truth[segment["segment"]][month]


def test_hierarchical_model_samples_cleanly_and_covers_the_planted_rates(generated):
    truth, counts, section, _ = generated
    assert section["diagnostics"]["ok"], section["diagnostics"]["problems"]
    rows = section["rates"]
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
    hierarchical = section["rates"]
    independent = section["by_model"]["independent"]
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
    from shopper_bayes.inference.fit import sample

    config = load_config(write_config(tmp_path, sampler={"backend": "pymc", "draws": 10, "tune": 5, "chains": 2},
                                      rates={"model": "hierarchical"}))
    model = purchase_rates.build_model(counts_of(config), config.rates, "hierarchical")
    result = diagnostics.check(sample(model, config.sampler, config.seed), config.diagnostics)
    assert result.ok is False
    assert any("ESS" in problem for problem in result.problems)
    assert {row.variable for row in result.variables} >= {"mu_logit", "sigma_segment", "effect_segment", "rate"}
    _, bundled = bundled_result
    gate = bundled.summary["diagnostics"]
    assert gate["ok"] is True
    assert {"Purchase rates", "Campaign outlook"} <= set(gate["by_model"])
    assert set(gate["by_model"]["Purchase rates"]["by_model"]) == {"independent model", "hierarchical model"}
    assert gate["by_model"]["Purchase rates"]["method"] == "exact+mcmc"


# --- the gate, one check at a time, on fits built by hand -------------------------------------

CHAINS, DRAWS = 4, 1000


def hand_fit(x: np.ndarray, diverging: np.ndarray | None = None, energy: np.ndarray | None = None) -> xr.DataTree:
    """A fit of one scalar ``x`` (chain, draw) with its sample stats; by default no divergences and
    independent energies (energy BFMI about 2)."""
    rng = np.random.default_rng(5)
    stats_ = xr.Dataset({"diverging": (("chain", "draw"), np.zeros(x.shape, bool) if diverging is None else diverging),
                         "energy": (("chain", "draw"), rng.standard_normal(x.shape) if energy is None else energy)})
    return xr.DataTree.from_dict({"posterior": xr.Dataset({"x": (("chain", "draw"), x)}), "sample_stats": stats_})


def _levels() -> np.ndarray:
    """Evenly spread probability levels, one per draw of a half chain (R-hat and ESS split chains in two)."""
    return (np.arange(DRAWS // 2) + 0.5) / (DRAWS // 2)


def good_draws(rng) -> np.ndarray:
    return rng.standard_normal((CHAINS, DRAWS))


def chains_disagree_on_the_spread(rng) -> np.ndarray:
    """Every half chain has the same centre and the same 5% tails, in random order (so ESS is high), but
    two chains crowd their middle 90% toward the centre: only the rank-normalised folded R-hat sees it."""
    def half(shape: float) -> np.ndarray:
        level = _levels()
        middle = (level > 0.05) & (level < 0.95)
        centred = (level[middle] - 0.5) / 0.45
        level[middle] = 0.5 + 0.45 * np.sign(centred) * np.abs(centred) ** shape
        return rng.permutation(stats.norm.ppf(level))

    return np.array([np.concatenate([half(1.0 if chain < 2 else 0.4) for _ in range(2)]) for chain in range(CHAINS)])


def chains_wander_slowly(rng) -> np.ndarray:
    """Every half chain holds exactly the same values (so the chains agree: R-hat about 1), visited in
    the order of an AR(1) path with coefficient 0.9, so consecutive draws are strongly correlated."""
    values = stats.norm.ppf(_levels())
    rows = []
    for _ in range(CHAINS):
        halves = []
        for _ in range(2):
            path = np.zeros(DRAWS // 2)
            for t, shock in enumerate(rng.standard_normal(DRAWS // 2)[1:], start=1):
                path[t] = 0.9 * path[t - 1] + shock
            halves.append(values[np.argsort(np.argsort(path))])
        rows.append(np.concatenate(halves))
    return np.array(rows)


def one_divergence() -> np.ndarray:
    diverging = np.zeros((CHAINS, DRAWS), bool)
    diverging[1, 10] = True
    return diverging


def sticky_energy(rng) -> np.ndarray:
    """Energies of an AR(1) with coefficient 0.9: BFMI = E[(E_t - E_t-1)^2] / Var(E) = 2 (1 - 0.9) = 0.2."""
    energy = np.zeros((CHAINS, DRAWS))
    shocks = rng.standard_normal((CHAINS, DRAWS))
    for t in range(1, DRAWS):
        energy[:, t] = 0.9 * energy[:, t - 1] + shocks[:, t]
    return energy


@pytest.mark.parametrize(("broken", "problem"), [
    ("rhat", r"^x: R-hat 1\.\d+ above 1\.01$"),
    ("ess", r"^x: bulk ESS \d+ below 400$"),
    ("divergences", r"^1 divergent transitions \(allowed 0\)$"),
    ("bfmi", r"^energy BFMI 0\.\d+ below 0\.3 in a chain$"),
], ids=["rhat", "ess", "divergences", "bfmi"])
def test_gate_trips_each_check_on_its_own(broken, problem):
    rng = np.random.default_rng(11)
    limits = DiagnosticsConfig()  # the defaults
    fits = {
        "rhat": lambda: hand_fit(chains_disagree_on_the_spread(rng)),
        "ess": lambda: hand_fit(chains_wander_slowly(rng)),
        "divergences": lambda: hand_fit(good_draws(rng), diverging=one_divergence()),
        "bfmi": lambda: hand_fit(good_draws(rng), energy=sticky_energy(rng)),
    }
    result = diagnostics.check(fits[broken](), limits)
    assert result.ok is False
    assert len(result.problems) == 1, result.problems
    assert re.match(problem, result.problems[0]), result.problems
    # The figure behind the problem is on the wrong side of its limit; every other is on the right side.
    assert (result.max_rhat > limits.max_rhat) == (broken == "rhat")
    assert (result.min_ess_bulk < limits.min_ess) == (broken == "ess")
    assert result.min_ess_tail >= limits.min_ess
    assert result.max_mcse_ratio <= limits.max_mcse_ratio
    assert (result.divergences > limits.max_divergences) == (broken == "divergences")
    assert (result.min_bfmi < limits.min_bfmi) == (broken == "bfmi")


def test_gate_passes_a_good_hand_built_fit_and_combines_by_model():
    rng = np.random.default_rng(11)
    limits = DiagnosticsConfig()
    good = diagnostics.check(hand_fit(good_draws(rng)), limits)
    assert good.ok is True and good.problems == []
    bad = diagnostics.check(hand_fit(good_draws(rng), diverging=one_divergence()), limits)
    both = diagnostics.combine({"first": good, "second": bad})
    assert both.ok is False and both.problems == ["second: 1 divergent transitions (allowed 0)"]
    assert both.divergences == 1 and set(both.by_model) == {"first", "second"}


def test_saved_posteriors_load_with_arviz_and_are_reused_by_what_they_were_fitted_to(bundled_result, tmp_path):
    from shopper_bayes.analyses.base import Context
    from shopper_bayes.analyses.purchase_rates.compute import fit_rates
    from shopper_bayes.inference.fit import FitCache
    from shopper_bayes.outputs import Staging
    from shopper_bayes.runner import render

    config, result = bundled_result
    with Staging(tmp_path) as staging:
        render(result, config, staging)
        staging.commit()
    for name in ("independent", "hierarchical"):
        tree = xr.open_datatree(tmp_path / f"models/purchase_rates_{name}.nc", engine="h5netcdf")
        assert tree.attrs["model"] == name
        assert tree.attrs["inference"] == ("exact" if name == "independent" else "mcmc")
        assert tree.attrs["fit_key"] == rate_trees(result)[name].attrs["fit_key"]
        assert {"posterior", "log_likelihood", "posterior_predictive", "prior", "prior_predictive"} <= set(tree.children)
    # A fit asked for again with the same counts, model, priors, sampler and seed is read back, not refitted.
    fits = FitCache(config.sampler, config.seed, saved=tmp_path / "models")
    context = Context(config=config, settings=config.rates, load=None, fit=fits.fit, seed=config.seed)
    counts = counts_of(config)
    for name in ("independent", "hierarchical"):
        again = fit_rates(context, counts, config.rates, name)
        np.testing.assert_array_equal(again.posterior["rate"].values, rate_trees(result)[name].posterior["rate"].values)
    assert fits.fits == 0
    assert all(source.startswith("reused") for source in fits.sources.values()) and len(fits.sources) == 2


def test_the_independent_models_groups_by_formula_equal_pymcs():
    """The exact fit's log-likelihood, predictive draws and prior come by formula, with no PyMC function compiled:
    the same layout (groups, variables, dims, coords) as PyMC's own, the log-likelihood equal to PyMC's on the same
    draws (a cell with no sessions included), and the predictive draws with the means PyMC's draws estimate."""
    from shopper_bayes.analyses.purchase_rates.config import RatesConfig
    from shopper_bayes.inference.fit import exact

    counts = xr.Dataset({"purchases": (("segment", "month"), np.array([[3, 5], [0, 70]])),
                         "sessions": (("segment", "month"), np.array([[10, 20], [0, 300]]))},
                        coords={"segment": ["a", "b"], "month": ["Nov", "Dec"]})
    rates = RatesConfig()
    model = purchase_rates.build_model(counts, rates, "independent")
    draws = purchase_rates.exact_posterior(counts, rates, 2, 2000, seed=1)
    theirs = exact(model, draws, 1)
    ours = exact(model, draws, 1, closed_form=purchase_rates.exact_groups(counts, rates, 1))
    assert set(ours.children) == set(theirs.children)
    for group in theirs.children:
        a, b = ours[group].to_dataset(), theirs[group].to_dataset()
        assert {name: (v.dims, v.shape) for name, v in a.data_vars.items()} == \
            {name: (v.dims, v.shape) for name, v in b.data_vars.items()}, group
        for dim in a.dims:
            assert a[dim].values.tolist() == b[dim].values.tolist(), (group, dim)
    np.testing.assert_allclose(ours.log_likelihood["purchases"], theirs.log_likelihood["purchases"], rtol=1e-10)
    np.testing.assert_array_equal(ours.observed_data["purchases"], counts["purchases"])
    n = counts["sessions"]
    for group, expected in (("posterior_predictive", n * draws["rate"].mean(axis=(0, 1))),
                            ("prior_predictive", n * rates.prior.alpha / (rates.prior.alpha + rates.prior.beta))):
        for tree in (ours, theirs):
            simulated = tree[group]["purchases"]
            sd = simulated.std(("chain", "draw")) / np.sqrt(simulated.sizes["chain"] * simulated.sizes["draw"])
            assert (abs(simulated.mean(("chain", "draw")) - expected) <= 5 * sd + 1e-12).all(), (group, simulated)
    assert float(ours.prior["rate"].mean()) == pytest.approx(rates.prior.alpha / (rates.prior.alpha + rates.prior.beta), abs=0.03)

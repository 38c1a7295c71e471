"""Drivers of conversion: the logistic regression recovers planted coefficients, the held-out AUC and
calibration on the bundled data, rank AUC and DeLong against brute force, exact baseline LOO, the
design (split, standardisation, constant columns), marginal effects, bad input, undefined cases."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy.special import expit

from shopper_bayes.analyses import drivers
from shopper_bayes.analyses.base import Context
from shopper_bayes.analyses.drivers.compute import (auc, baseline_loo, delong_interval, holdout, joint_band,
                                                    log_likelihood, marginal_effects)
from shopper_bayes.analyses.drivers.config import DriversSettings
from shopper_bayes.analyses.drivers.design import build, split
from shopper_bayes.analyses.drivers.model import build_model
from shopper_bayes.config import DiagnosticsConfig, SamplerConfig
from shopper_bayes.datasets.sessions import DATASET, SessionsConfig
from shopper_bayes.errors import UserError
from shopper_bayes.generate.base import generate, truth_path
from shopper_bayes.inference.fit import FitCache

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "online_shopping_session_data.csv"
DURATIONS = ["Administrative_Duration", "Informational_Duration", "ProductRelated_Duration"]
SEED = 2026


def run(dataset: SessionsConfig, **settings):
    """The analysis with 2 chains (the tests' budget); everything else as configured."""
    analysis = drivers.ANALYSIS
    ctx = Context(config=SimpleNamespace(seed=SEED, sessions=dataset, sampler=SamplerConfig(), diagnostics=DiagnosticsConfig()),
                  settings=analysis.settings(**settings), load=lambda *needs, **kw: DATASET.load(dataset, needs, **kw),
                  fit=FitCache(SamplerConfig(chains=2), SEED).fit, seed=SEED)
    output = analysis.run(ctx)
    result = analysis.result.model_validate_json(output.summary.model_dump_json())
    return result, output


@pytest.fixture(scope="module")
def bundled():
    result, output = run(SessionsConfig(path=BUNDLED), draws=300)
    return result, output


def test_held_out_auc_brier_and_calibration_on_the_bundled_data(bundled):
    result, _ = bundled
    holdout_ = result.holdout
    assert result.sessions == 12_054 and holdout_.sessions == round(0.2 * 12_054)
    assert result.scope["filter"].startswith("none: all months")
    assert holdout_.auc >= 0.91
    assert holdout_.auc_interval[0] < holdout_.auc < holdout_.auc_interval[1]
    assert holdout_.brier < holdout_.brier_base_rate
    assert len(holdout_.calibration) == 10 and sum(b.sessions for b in holdout_.calibration) == holdout_.sessions
    assert holdout_.calibrated and all(b.inside_band for b in holdout_.calibration)
    assert 0.95 < holdout_.band_pointwise_prob < 1
    for b in holdout_.calibration:
        assert b.band[0] <= b.predicted.interval[0] <= b.predicted.mean <= b.predicted.interval[1] <= b.band[1]
        assert b.inside == (b.predicted.interval[0] <= b.observed <= b.predicted.interval[1])
    predicted = [b.predicted.mean for b in holdout_.calibration]
    assert predicted == sorted(predicted)


def test_bundled_fit_reports_effects_comparison_and_prior_check(bundled):
    result, output = bundled
    assert result.diagnostics.divergences == 0
    terms = {effect.term: effect for effect in result.effects}
    page_value = terms["PageValues"]
    assert page_value.odds_ratio.interval[0] > 1 and page_value.prob_positive.value > 0.999
    assert page_value.marginal_effect.mean > 0 and page_value.unit.startswith("per sd of log(1 + PageValues)")
    assert terms["ExitRates"].marginal_effect.interval[1] < 0  # over all sessions, exits go with less buying
    slope = terms["ExitRates × PageValues > 0: positive"]  # the extra slope among sessions with a page value
    assert slope.marginal_effect.mean is None and "ExitRates's marginal effect" in slope.marginal_effect.note
    assert terms["ProductRelated_Duration²"].unit.startswith("per sd of the square of standardised log(1 + ")
    assert terms["month: Nov"].reference == "May"  # the most frequent month
    interaction = terms["month: Nov × PageValues > 0: positive"]
    assert interaction.marginal_effect.mean is None and interaction.marginal_effect.note
    comparison = result.model_comparison
    assert comparison.elpd_diff > 2 * comparison.se_diff > 0
    assert set(comparison.models) == {"behaviour", "segment only"}
    check = result.prior_check
    assert check.interval[0] < check.observed < check.interval[1] and sum(check.counts) == 1000
    section = drivers.ANALYSIS.section(result)
    text = " ".join(block for block in section.blocks if isinstance(block, str))
    assert "not causes" in text
    assert drivers.ANALYSIS.console(result)[0].startswith("Drivers of conversion")
    assert drivers.ANALYSIS.headline(result)
    for figure in output.figures:
        figure.draw()
    assert set(output.models["drivers_logit"].children) >= {"posterior", "sample_stats"}
    assert "log_likelihood" not in output.models["drivers_logit"].children


def test_planted_coefficients_are_recovered_and_a_constant_column_is_a_note(tmp_path):
    """Generated sessions where purchase depends on behaviour through stated coefficients: each
    coefficient inside its 95% interval. Months without special days make SpecialDay constant."""
    out = tmp_path / "sessions.csv"
    generate("sessions", 24_000, 7, out)
    planted = json.loads(truth_path(out).read_text())["parameters"]["purchase_coefficients"]
    months = ["Mar", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    result, _ = run(SessionsConfig(path=out, filter={"month": months}), use_sessions_filter=True,
                    numeric=[*DURATIONS, "BounceRates", "ExitRates", "SpecialDay"], log=DURATIONS, squared=[],
                    positive=[], interactions=[], draws=500, loo_sessions=300)
    assert result.notes == ["SpecialDay is constant (0) in the sessions used: left out of the model"]
    assert result.diagnostics.divergences == 0 and result.diagnostics.max_rhat < 1.03
    terms = {effect.term: effect for effect in result.effects}
    assert "SpecialDay" not in terms
    for column in [*DURATIONS, "BounceRates", "ExitRates"]:
        effect = terms[column]
        truth = planted[column] * effect.scale  # the planted log odds ratio per training sd
        low, high = np.log(effect.odds_ratio.interval)
        assert low < truth < high, (column, truth, low, high)
    low, high = np.log(terms["Weekend: TRUE"].odds_ratio.interval)
    assert low < planted["Weekend"] < high
    assert any("SpecialDay" in line for line in drivers.ANALYSIS.console(result))


def test_rank_auc_equals_the_pair_count_with_ties():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 8, 300).astype(float)  # many ties
    y = (rng.random(300) < 0.3).astype(int)
    pos, neg = scores[y == 1], scores[y == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert auc(scores, y) == pytest.approx(pairs, rel=1e-12)


def test_delong_interval_equals_the_placement_value_formula():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=400)
    y = (rng.random(400) < expit(2 * scores - 1)).astype(int)
    pos, neg = scores[y == 1], scores[y == 0]
    kernel = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = kernel.mean(axis=1), kernel.mean(axis=0)
    se = np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    area = kernel.mean()
    assert delong_interval(scores, y, 0.95) == pytest.approx((area - 1.959964 * se, area + 1.959964 * se), rel=1e-6)


def test_baseline_loo_is_exact_leave_one_out():
    rng = np.random.default_rng(3)
    levels = rng.choice(["a", "b", "c"], 60)
    y = (rng.random(60) < 0.3).astype(int)
    brute = []
    for i in range(60):
        same = (levels == levels[i]) & (np.arange(60) != i)
        rate = (y[same].sum() + 1) / (same.sum() + 2)  # Beta(1, 1) posterior mean = predictive
        brute.append(np.log(rate if y[i] else 1 - rate))
    assert baseline_loo(levels, y) == pytest.approx(np.array(brute), rel=1e-12)


def test_subsample_log_likelihood_equals_the_models_own():
    """The LOO subsample's log-likelihood, computed from the draws, is PyMC's compute_log_likelihood of the
    model at the same draws (which the fit no longer computes for every training session)."""
    import arviz_base as azb
    import pymc as pm

    frame = frame_for_design(300, 6)
    settings = DriversSettings(numeric=["ExitRates", "PageValues"], log=["PageValues"], squared=[],
                               categorical=["segment"], positive=[], interactions=[])
    design = build(frame, settings, seed=2)
    names = [term.name for term in design.terms]
    model = build_model(design.train, design.y_train, names, settings.prior)
    rng = np.random.default_rng(3)
    whitened = rng.normal(0, 0.5, size=(2, 5, len(names) + 1))
    tree = azb.from_dict({"posterior": {"whitened": whitened}}, dims={"whitened": ["coef"]},
                         coords={"coef": ["intercept", *names]})
    with model:
        tree = pm.compute_log_likelihood(tree, progressbar=False)
        deterministic = pm.sample_posterior_predictive(tree, var_names=["intercept", "beta"], progressbar=False)
    intercept = deterministic.posterior_predictive["intercept"].values.reshape(-1)
    beta = deterministic.posterior_predictive["beta"].values.reshape(10, -1)
    rows = np.array([0, 5, 17, len(design.y_train) - 1])
    ours = log_likelihood(design, intercept, beta, rows)
    theirs = tree.log_likelihood["purchase"].values.reshape(10, -1)[:, rows]
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def frame_for_design(n: int = 400, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "purchase": (rng.random(n) < 0.3).astype(int),
        "PageValues": np.where(rng.random(n) < 0.3, rng.lognormal(2, 1, n), 0.0),
        "ExitRates": rng.uniform(0, 0.2, n),
        "SpecialDay": np.zeros(n),
        "segment": rng.choice(["New", "Returning", "Returning"], n),
        "month": rng.choice(["Nov", "Dec"], n),
    })


def test_design_split_standardisation_and_constant_columns():
    frame = frame_for_design()
    settings = DriversSettings(numeric=["PageValues", "ExitRates", "SpecialDay"], log=["PageValues"], squared=[],
                               categorical=["segment", "month"], positive=["PageValues"], interactions=[])
    design = build(frame, settings, seed=9)
    train, test, used = split(len(frame), 0.2, 10_000, 9)
    assert used == 400 and len(test) == 80 and not set(train) & set(test) and len(train) + len(test) == 400
    assert [term.name for term in design.terms] == ["PageValues", "ExitRates", "segment: New", "month: Nov",
                                                    "PageValues > 0: positive"]
    assert design.notes == ["SpecialDay is constant (0) in the sessions used: left out of the model"]
    logged = np.log1p(frame["PageValues"].to_numpy()[train])
    assert design.train[:, 0] == pytest.approx((logged - logged.mean()) / logged.std(ddof=1))
    assert design.train[:, 0].mean() == pytest.approx(0, abs=1e-12)
    assert design.terms[2].reference == "Returning"  # the most frequent level
    assert np.allclose(design.train[:, 4] + design.terms[4].center, frame["PageValues"].to_numpy()[train] > 0)
    sampled = build(frame, settings.model_copy(update={"max_rows": 100}), seed=9)
    assert len(sampled.y_train) + len(sampled.y_test) == 100
    assert sampled.notes[0] == "fitted on a random sample of 100 of 400 sessions (drivers.max_rows; seed 9)"
    again = build(frame, settings.model_copy(update={"max_rows": 100}), seed=9)
    assert again.y_test.tolist() == sampled.y_test.tolist() and np.array_equal(again.test, sampled.test)


def test_design_squares_and_slopes_per_level_against_a_direct_computation():
    frame = frame_for_design()
    settings = DriversSettings(numeric=["PageValues", "ExitRates"], log=["PageValues"], squared=["ExitRates"],
                               categorical=["segment"], positive=["PageValues"],
                               interactions=[["ExitRates", "PageValues > 0"], ["segment", "ExitRates"]])
    design = build(frame, settings, seed=9)
    train, _, _ = split(len(frame), 0.2, 10_000, 9)
    names = [term.name for term in design.terms]
    assert names == ["PageValues", "ExitRates", "ExitRates²", "segment: New", "PageValues > 0: positive",
                     "ExitRates × PageValues > 0: positive", "ExitRates × segment: New"]
    exit_rate = frame["ExitRates"].to_numpy()[train]
    z = (exit_rate - exit_rate.mean()) / exit_rate.std(ddof=1)
    assert design.train[:, 1] == pytest.approx(z, abs=1e-12)
    square = (z**2 - (z**2).mean()) / (z**2).std(ddof=1)
    assert design.train[:, 2] == pytest.approx(square)
    positive = frame["PageValues"].to_numpy()[train] > 0
    assert design.train[:, 5] == pytest.approx(z * positive - (z * positive).mean())
    new = frame["segment"].to_numpy()[train] == "New"
    assert design.train[:, 6] == pytest.approx(z * new - (z * new).mean())
    test_rows = split(len(frame), 0.2, 10_000, 9)[1]
    z_test = (frame["ExitRates"].to_numpy()[test_rows] - exit_rate.mean()) / exit_rate.std(ddof=1)
    assert design.test[:, 2] == pytest.approx((z_test**2 - (z**2).mean()) / (z**2).std(ddof=1))


def test_marginal_effects_against_a_direct_computation():
    frame = frame_for_design(300, 5)
    settings = DriversSettings(numeric=["ExitRates"], log=[], squared=[], categorical=["segment"], positive=[],
                               interactions=[])
    design = build(frame, settings, seed=1)
    intercept, beta = np.array([-1.0, -0.5]), np.array([[0.8, 0.6], [0.2, -0.4]])
    ame = marginal_effects(design, intercept, beta)
    x = design.train[:, 0]
    new = (design.train_frame["segment"] == "New").to_numpy(float)
    center = design.terms[1].center
    for s in range(2):
        p = expit(intercept[s] + beta[s, 0] * x + beta[s, 1] * (new - center))
        assert ame[s, 0] == pytest.approx((beta[s, 0] * p * (1 - p)).mean(), rel=1e-12)
        at_new = expit(intercept[s] + beta[s, 0] * x + beta[s, 1] * (1 - center))
        at_returning = expit(intercept[s] + beta[s, 0] * x + beta[s, 1] * (0 - center))
        assert ame[s, 1] == pytest.approx((at_new - at_returning).mean(), rel=1e-12)


def test_marginal_effect_of_a_column_with_a_square_and_a_slope_per_level_against_finite_differences():
    frame = frame_for_design(300, 7)
    settings = DriversSettings(numeric=["ExitRates"], log=[], squared=["ExitRates"], categorical=["segment"],
                               positive=[], interactions=[["ExitRates", "segment"]])
    design = build(frame, settings, seed=1)
    assert [term.name for term in design.terms] == ["ExitRates", "ExitRates²", "segment: New", "ExitRates × segment: New"]
    intercept, beta = np.array([-1.0, 0.3]), np.array([[0.8, -0.3, 0.6, 0.5], [0.2, 0.4, -0.4, -0.7]])
    ame = marginal_effects(design, intercept, beta)
    train = design.train_frame
    sd = design.terms[0].base[1]

    def probability(part) -> np.ndarray:
        x = np.column_stack([term.values(part) for term in design.terms])
        return expit(intercept[:, None] + beta @ x.T)

    h = 1e-6 * sd  # one millionth of an sd of ExitRates, both ways
    up, down = train.assign(ExitRates=train["ExitRates"] + h), train.assign(ExitRates=train["ExitRates"] - h)
    slope = (probability(up) - probability(down)) / (2 * h) * sd  # per sd
    assert ame[:, 0] == pytest.approx(slope.mean(axis=1), rel=1e-6)
    level = probability(train.assign(segment="New")) - probability(train.assign(segment="Returning"))
    assert ame[:, 2] == pytest.approx(level.mean(axis=1), rel=1e-12)
    assert np.isnan(ame[:, [1, 3]]).all()


def test_joint_band_against_sidak_for_independent_deciles_and_the_plain_interval_for_identical_ones():
    rng = np.random.default_rng(8)
    independent = rng.normal(size=(200_000, 10))
    low, high, level = joint_band(independent, 0.95)
    assert level == pytest.approx(0.95 ** (1 / 10), abs=5e-4)  # Sidak: each of 10 independent intervals
    assert np.mean(np.all((independent >= low) & (independent <= high), axis=1)) == pytest.approx(0.95, abs=1e-3)
    identical = np.repeat(rng.normal(size=(200_000, 1)), 10, axis=1)
    assert joint_band(identical, 0.95)[2] == pytest.approx(0.95, abs=1e-3)


def test_calibration_passes_for_the_true_probabilities_and_fails_for_a_slope_too_flat():
    """Held-out outcomes drawn from invlogit(-2 + 2 x): draws around the truth are calibrated, draws
    of a slope of 0.7 (too flat: low deciles over-, high deciles under-predicted) are not."""
    rng = np.random.default_rng(11)
    frame = frame_for_design(20_000, 9)
    settings = DriversSettings(numeric=["ExitRates"], log=[], squared=[], categorical=[], positive=[],
                               interactions=[], baseline="segment")
    design = build(frame, settings, seed=3)
    x = design.test[:, 0]
    design.y_test = (rng.random(len(x)) < expit(-2 + 2 * x)).astype(np.int64)
    draws = 400
    truth = holdout(design, rng.normal(-2, 0.02, draws), rng.normal(2, 0.02, (draws, 1)), 10, 0.95, 0)
    assert truth.calibrated
    flat = holdout(design, rng.normal(-2, 0.02, draws), rng.normal(0.7, 0.02, (draws, 1)), 10, 0.95, 0)
    assert not flat.calibrated
    assert not flat.calibration[0].inside_band and not flat.calibration[-1].inside_band


def test_auc_of_held_out_sessions_without_a_buyer_is_a_note():
    frame = frame_for_design(200, 6)
    settings = DriversSettings(numeric=["ExitRates"], log=[], squared=[], categorical=["segment"], positive=[],
                               interactions=[])
    design = build(frame, settings, seed=2)
    design.y_test = np.zeros_like(design.y_test)
    result = holdout(design, np.array([-1.0]), np.array([[0.5, 0.1]]), 5, 0.95, 0)
    assert result.auc is None and result.auc_interval == (None, None) and "AUC undefined" in result.note
    assert result.brier >= 0


def test_an_input_column_not_in_the_file_is_a_user_error_naming_it():
    with pytest.raises(UserError, match="NoSuchColumn"):
        run(SessionsConfig(path=BUNDLED), numeric=["NoSuchColumn"], log=[], squared=[], positive=[], interactions=[])


@pytest.mark.parametrize("settings, message", [
    ({"log": ["Nope"]}, "log column 'Nope' is not in numeric"),
    ({"positive": ["Nope"]}, "positive column 'Nope' is not in numeric"),
    ({"interactions": [["month", "Nope"]]}, "interaction column 'Nope'"),
    ({"categorical": ["PageValues"]}, "both numeric and categorical"),
    ({"squared": ["Nope"]}, "squared column 'Nope' is not in numeric"),
    ({"interactions": [["ExitRates", "BounceRates"]]}, "two numeric columns"),
    ({"interactions": [["PageValues", "PageValues > 0"]]}, "its own positive values"),
])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValidationError, match=message):
        DriversSettings(**settings)


def test_above_max_rows_the_engine_draws_the_sample_and_the_notes_say_so():
    result, _ = run(SessionsConfig(path=BUNDLED), max_rows=2000, draws=200, loo_sessions=200)
    assert result.sessions == 12_054  # every session in scope, counted by the engine
    assert result.train_sessions == 1600  # 80% of the 2,000 drawn
    assert result.notes[0] == f"fitted on a random sample of 2,000 of 12,054 sessions (drivers.max_rows; seed {SEED})"

"""CLV analysis: RFM tables against PyMC-Marketing's rfm_summary, the BG/NBD, Pareto/NBD and Gamma-Gamma
formulas against published numbers, scipy and numerical integrals, the weighted likelihoods against the
per-customer ones, the CDNOW sample fits against the published maximum-likelihood estimates, MAP really
being MAP, chunking, the time grid."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import integrate
from scipy.special import betaln, gammaln, hyp2f1

from shopper_bayes.analyses import clv
from shopper_bayes.analyses.base import Context
from shopper_bayes.analyses.clv import model as models, predict
from shopper_bayes.analyses.clv.purchases import BgNbd, ParetoNbd, expected_purchases, log_dead_integral
from shopper_bayes.analyses.clv.config import ClvSettings
from shopper_bayes.analyses.clv.rfm import Customers, rfm_tables
from shopper_bayes.config import DiagnosticsConfig, SamplerConfig
from shopper_bayes.datasets.base import Loaded
from shopper_bayes.datasets.cleaning import CleaningReport
from shopper_bayes.errors import UserError
from shopper_bayes.generate.transactions import TransactionsGenerator
from shopper_bayes.inference.fit import FitCache

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "cdnow_sample.txt"
CALIBRATION_END, OBSERVATION_END = dt.date(1997, 9, 30), dt.date(1998, 6, 30)
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "v": 15.44}
# Pareto/NBD on the same sample: Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves"
PUBLISHED_PARETO = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}


def cdnow_sample() -> pd.DataFrame:
    raw = pd.read_csv(SAMPLE, sep=r"\s+", header=None, names=["master", "sample", "date", "cds", "dollars"], dtype=str)
    return pd.DataFrame({"customer": raw["master"], "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                         "amount": raw["dollars"].astype(float)})


def context(frame: pd.DataFrame, settings: ClvSettings, fit=None, calibration_end=CALIBRATION_END,
            observation_end=OBSERVATION_END, seed: int = 7) -> Context:
    config = SimpleNamespace(seed=seed, sampler=SamplerConfig(), diagnostics=DiagnosticsConfig(),
                             transactions=SimpleNamespace(calibration_end=calibration_end,
                                                          observation_end=observation_end, time_unit="week"))
    loaded = Loaded(frame, CleaningReport("test", len(frame), len(frame)))
    fit = fit or FitCache(SamplerConfig(), seed).fit
    return Context(config=config, settings=settings, load=lambda *needs: loaded, fit=fit, seed=seed)


# ---------------------------------------------------------------- RFM tables


def test_rfm_tables_equal_pymc_marketing_rfm_summary_and_holdout_counts():
    from pymc_marketing.clv import rfm_summary

    frame = cdnow_sample()
    tables = rfm_tables(frame, CALIBRATION_END, OBSERVATION_END, "week")
    customers = tables.customers.frame()
    reference = rfm_summary(frame, "customer", "date", "amount", observation_period_end="1997-09-30",
                            time_unit="D", time_scaler=7)
    both = reference.merge(customers, on="customer_id", suffixes=("_ref", ""))
    assert len(customers) == len(tables.customers) == len(reference) == len(both) == 2357
    assert customers.equals(customers.sort_values(["frequency", "recency", "T", "customer_id"], ignore_index=True))
    for column in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(both[column], both[f"{column}_ref"], rtol=1e-12, atol=1e-9)
    assert customers["frequency"].sum() == 2457  # Fader, Hardie & Lee (2005): 2,457 repeat purchases
    # holdout: purchase days after 1997-09-30 of calibration customers, counted with plain pandas
    days = frame.groupby(["customer", frame["date"].dt.normalize()]).size().reset_index()
    later = days[(days["date"] > "1997-09-30") & (days["date"] <= "1998-06-30")]
    assert customers["holdout"].sum() == tables.customers.triples["holdout"].sum() == len(later) == 1882
    per_customer = later.groupby("customer").size()
    np.testing.assert_array_equal(customers["holdout"], per_customer.reindex(customers["customer_id"], fill_value=0))
    assert tables.holdout_length == 39.0 and len(tables.holdout_periods) == 39
    weeks = ((later["date"] - pd.Timestamp("1997-09-30")).dt.days - 1) // 7
    np.testing.assert_array_equal(tables.holdout_periods["purchases"], np.bincount(weeks, minlength=39))
    assert len(models.triples(tables.customers.triples)) == 1016  # as the issue says
    # the triples and the spend pairs of the engine against pandas on the rows
    counted = customers.groupby(["frequency", "recency", "T"]).size().rename("customers").reset_index()
    pd.testing.assert_frame_equal(tables.customers.triples.drop(columns="holdout"), counted)
    buyers = customers[(customers["frequency"] > 0) & (customers["monetary_value"] > 0)]
    assert tables.customers.spend["customers"].sum() == len(buyers)
    np.testing.assert_allclose(np.sort(np.repeat(tables.customers.spend["total"], tables.customers.spend["customers"])),
                               np.sort(buyers["frequency"] * buyers["monetary_value"]), rtol=1e-12)
    assert tables.customers.zero_spend == ((customers["frequency"] > 0) & (customers["monetary_value"] <= 0)).sum()


def test_rfm_tables_days_and_bad_options():
    frame = cdnow_sample()
    days = rfm_tables(frame, None, "1997-09-30", "day").customers.frame()
    weeks = rfm_tables(frame, None, "1997-09-30", "week").customers.frame()
    np.testing.assert_allclose(days["T"], weeks["T"] * 7)
    with pytest.raises(UserError, match="time_unit"):
        rfm_tables(frame, None, None, "fortnight")
    with pytest.raises(UserError, match="calibration_end"):
        rfm_tables(frame, "1996-01-01", None, "week")


# ---------------------------------------------------------------- closed forms


def test_hardie_worked_example_and_p_alive():
    """Hardie's BG/NBD spreadsheet note: x = 2, t_x = 30.43, T = 38.86 -> 1.226 purchases in 39 weeks."""
    v = {name: PUBLISHED[name] for name in BgNbd.params}
    assert expected_purchases(BgNbd, 39, 2, 30.43, 38.86, v) == pytest.approx(1.226, abs=5e-4)
    # P(alive) against the BG/NBD likelihood's two terms, written out with scipy
    r, alpha, a, b = v.values()
    x, tx, T = 2, 30.43, 38.86
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    dead = betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * np.log(alpha + tx)
    assert BgNbd.p_alive(x, tx, T, v) == pytest.approx(1 / (1 + np.exp(dead - alive)), rel=1e-12)
    assert BgNbd.p_alive(0, 0, T, v) == 1.0
    # the simulation of a holdout window agrees with the closed form (law of large numbers), alive or with
    # P(alive) = 0.4; x = 7 makes two purchases or more common, where the dropout draw cuts them short
    rng = np.random.default_rng(3)
    for x_, alive_ in ((2, 1.0), (7, 1.0), (7, 0.4)):
        bought, events, window = BgNbd.simulate(rng, 39.0, np.full(400_000, float(x_)), alive_, 38.86, v)
        assert (bought <= events).all() and (window == 39.0).all()
        assert bought.mean() == pytest.approx(alive_ * BgNbd.if_alive(39.0, x_, 38.86, v),
                                              abs=4 * bought.std() / np.sqrt(len(bought)))


def pareto_loglik_scipy(x, tx, T, r, alpha, s, beta):
    """Pareto/NBD log likelihood per customer, Fader & Hardie (2005, 'A note on deriving the Pareto/NBD
    model', eqs. 19 and 21-22) with scipy's hyp2f1; also the log of its 'alive' part."""
    big, small = max(alpha, beta), min(alpha, beta)
    second = s + 1 if alpha >= beta else r + x
    a0 = (hyp2f1(r + s + x, second, r + s + x + 1, (big - small) / (big + tx)) / (big + tx) ** (r + s + x)
          - hyp2f1(r + s + x, second, r + s + x + 1, (big - small) / (big + T)) / (big + T) ** (r + s + x))
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return head + np.log(np.exp(alive) + s / (r + s + x) * a0), head + alive


def test_pareto_dead_integral_against_adaptive_quadrature():
    """The quadrature of the Pareto/NBD's 'died at tau' integral against scipy's adaptive quad, over
    parameters from far below to far above CDNOW's and purchase counts up to 80."""
    rng = np.random.default_rng(5)
    worst = 0.0
    for _ in range(400):
        r, s = np.exp(rng.uniform(-3, 2, 2))
        alpha, beta = np.exp(rng.uniform(-3, 6, 2))
        x = rng.choice([0, 1, 2, 5, 20, 80])
        T = np.exp(rng.uniform(-1, 5))
        tx = 0.0 if x == 0 else T * rng.uniform() ** rng.choice([0.2, 1, 5])
        m, n = r + x, s + 1
        scale = m * np.log(alpha + tx) + n * np.log(beta + tx)
        value, _ = integrate.quad(lambda t: np.exp(scale - m * np.log(alpha + t) - n * np.log(beta + t)), tx, T,
                                  limit=500, epsabs=0, epsrel=1e-12,
                                  points=[p for p in (tx + (alpha + tx) / m, tx + (beta + tx) / n) if tx < p < T] or None)
        worst = max(worst, abs(log_dead_integral(np, m, n, alpha, beta, tx, T) - (np.log(value) - scale)))
    assert worst < 1e-6


def test_pareto_closed_forms_against_scipy_and_integrals():
    v = dict(PUBLISHED_PARETO)
    r, alpha, s, beta = v.values()
    x, tx, T = np.array([0, 2, 2, 7, 30]), np.array([0, 30.43, 5.0, 20.0, 38.0]), np.array([38.86, 38.86, 38.86, 30.0, 39.0])
    both = [pareto_loglik_scipy(*row, *v.values()) for row in zip(x, tx, T)]
    np.testing.assert_allclose(ParetoNbd.p_alive(x, tx, T, v), [np.exp(alive - full) for full, alive in both], rtol=1e-7)
    assert ParetoNbd.p_alive(3, 20.0, 20.0, v) == 1.0  # bought at T: alive
    # E[purchases in t | alive] = E[lambda] E[min(lifetime left, t)], lambda ~ Gamma(r + x, alpha + T),
    # mu ~ Gamma(s, beta + T): the second factor integrated over mu numerically
    t = 39.0
    for x_, T_, s_ in ((2, 38.86, s), (0, 10.0, 1.0), (12, 50.0, 2.5)):
        density = lambda mu: np.exp(s_ * np.log(beta + T_) + (s_ - 1) * np.log(mu) - (beta + T_) * mu - gammaln(s_))
        within, _ = integrate.quad(lambda mu: -np.expm1(-mu * t) / mu * density(mu), 0, np.inf, limit=200, epsrel=1e-11)
        expected = (r + x_) / (alpha + T_) * within
        assert ParetoNbd.if_alive(t, x_, T_, v | {"s": s_}) == pytest.approx(expected, rel=1e-8)
    # the simulation of a holdout window agrees with the closed form (law of large numbers)
    rng = np.random.default_rng(2)
    bought, _, window = ParetoNbd.simulate(rng, t, np.full(400_000, 2.0), 1.0, 38.86, v)
    assert (window <= t).all() and bought.mean() == pytest.approx(ParetoNbd.if_alive(t, 2, 38.86, v),
                                                                  abs=4 * bought.std() / np.sqrt(len(bought)))


def continuous_customers(generator: TransactionsGenerator, customers: int, seed: int) -> pd.DataFrame:
    """(frequency, recency, T) from the generator's exact purchase times (no cut to days)."""
    who, when = generator.times(customers, np.random.default_rng(seed))
    frame = pd.DataFrame({"who": who, "when": when}).groupby("who")["when"].agg(["min", "max", "size"])
    return pd.DataFrame({"frequency": frame["size"] - 1, "recency": frame["max"] - frame["min"],
                         "T": generator.observation_days - frame["min"], "monetary_value": 0.0})


@pytest.mark.parametrize("dropout, model", [("repeat_purchase", BgNbd), ("any_time", ParetoNbd)])
def test_generated_bg_nbd_and_pareto_nbd_processes_are_recovered(dropout, model):
    """The generator's BG/NBD and Pareto/NBD processes (times in days) against the models: the posterior
    mode of 20,000 customers lies within 3.5 Laplace sds of every planted purchase parameter."""
    generator = TransactionsGenerator(dropout=dropout)
    customers = Customers.of_frame(continuous_customers(generator, 20_000, 11))
    priors = ClvSettings().priors
    fitted = models.build_model(models.triples(customers.triples), models.spend_statistics(customers.spend), priors,
                                model.name)
    mode, chol = models.posterior_mode(fitted, priors)
    sd = np.sqrt(np.diag(np.linalg.inv(chol @ chol.T)))
    planted = np.log([getattr(generator, name) for name in model.params])
    assert np.all(np.abs(mode - planted) < 3.5 * sd), (np.exp(mode), np.exp(planted), (mode - planted) / sd)


def test_expected_spend_is_the_posterior_mean_of_p_over_nu():
    """Gamma-Gamma: nu | x, z ~ Gamma(p x + q, v + x z), so E[p / nu] = p (v + x z) / (p x + q - 1)."""
    x, z = np.array([0, 1, 3, 10]), np.array([0.0, 5.0, 20.0, 80.0])
    p, q, v = PUBLISHED["p"], PUBLISHED["q"], PUBLISHED["v"]
    np.testing.assert_allclose(models.expected_spend(x, z, p, q, v), p * (v + x * z) / (p * x + q - 1), rtol=1e-12)
    assert np.isnan(models.expected_spend(1, 5.0, p, 0.9, v))  # q <= 1: infinite mean, flagged as undefined


def test_weighted_triples_give_the_per_customer_log_likelihood():
    """The weighted fit's log density equals one BG/NBD term per customer (scipy, written out) plus one
    Gamma-Gamma term per customer: the same posterior, exactly, not only within Monte Carlo error."""
    table = rfm_tables(cdnow_sample(), CALIBRATION_END, None, "week").customers
    model = models.build_model(models.triples(table.triples), models.spend_statistics(table.spend), ClvSettings().priors)
    customers = table.frame()
    inputs = [model.rvs_to_values[rv] for rv in model.free_RVs]
    outputs = model.replace_rvs_by_values([model["purchases_loglik"], model["spend_loglik"]])
    function = pytensor.function(inputs, outputs, mode="FAST_COMPILE")
    x, tx, T = (customers[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    buyers = customers[(customers["frequency"] > 0) & (customers["monetary_value"] > 0)]
    rng = np.random.default_rng(1)
    for _ in range(3):
        theta = {name: value * np.exp(rng.normal(0, 0.2)) for name, value in PUBLISHED.items()}
        r, alpha, a, b, p, q, v = (theta[n] for n in ("r", "alpha", "a", "b", "p", "q", "v"))
        purchases, spend = function(np.log([r, alpha, a, b, p, q, v]))
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        survive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
        drop = np.where(x > 0, betaln(a + 1, b + np.maximum(x, 1) - 1) - betaln(a, b) - (r + x) * np.log(alpha + tx), -np.inf)
        assert purchases == pytest.approx(np.sum(common + np.logaddexp(survive, drop)), rel=1e-10)
        bx, bz = buyers["frequency"].to_numpy(float), buyers["monetary_value"].to_numpy(float)
        gg = (gammaln(p * bx + q) - gammaln(p * bx) - gammaln(q) + q * np.log(v) + (p * bx - 1) * np.log(bz)
              + p * bx * np.log(bx) - (p * bx + q) * np.log(bx * bz + v))
        assert spend == pytest.approx(gg.sum(), rel=1e-10)


def test_weighted_triples_give_the_per_customer_pareto_log_likelihood():
    """The Pareto/NBD's weighted log density (quadrature) equals one term per customer written with
    scipy's hyp2f1, at points around the published estimates and far from them."""
    table = rfm_tables(cdnow_sample(), CALIBRATION_END, None, "week").customers
    model = models.build_model(models.triples(table.triples), models.spend_statistics(table.spend), ClvSettings().priors,
                               "pareto_nbd")
    customers = table.frame()
    inputs = [model.rvs_to_values[rv] for rv in model.free_RVs]
    function = pytensor.function(inputs, model.replace_rvs_by_values([model["purchases_loglik"]]), mode="FAST_COMPILE")
    x, tx, T = (customers[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    rng = np.random.default_rng(4)
    for spread in (0.2, 0.2, 1.5, 1.5):
        r, alpha, s, beta = (value * np.exp(rng.normal(0, spread)) for value in PUBLISHED_PARETO.values())
        (purchases,) = function(np.log([r, alpha, s, beta, 1.0, 1.0, 1.0]))
        expected = sum(pareto_loglik_scipy(*row, r, alpha, s, beta)[0] for row in zip(x, tx, T))
        assert purchases == pytest.approx(expected, rel=1e-9)


def test_binned_statistics_round_times_and_bin_spend_within_the_stated_error():
    table = rfm_tables(cdnow_sample(), CALIBRATION_END, None, "week").customers
    customers = table.frame()
    cells = models.triples(table.triples, "binned")
    assert cells["customers"].sum() == 2357 and len(cells) < 1016
    assert (cells["recency"] == cells["recency"].round()).all() and (cells["T"] == cells["T"].round()).all()
    assert (cells["recency"] <= cells["T"]).all()
    rounded = customers.assign(T=customers["T"].round())  # customers per rounded age, counted with pandas
    pd.testing.assert_series_equal(cells.groupby("T")["customers"].sum(), rounded.groupby("T").size().rename("customers"))
    # Gamma-Gamma on 1% bins of total spend against one scipy term per customer: within (1%)^3 / 3 each
    buyers = customers[(customers["frequency"] > 0) & (customers["monetary_value"] > 0)]
    exact, binned = models.spend_statistics(table.spend), models.spend_statistics(table.spend, "binned")
    assert exact.customers == binned.customers == len(buyers) and len(binned) < len(exact)
    p, q, v = (pt.scalar(name) for name in "pqv")
    functions = [pytensor.function([p, q, v], models.gamma_gamma_loglik(stats, p, q, v)) for stats in (exact, binned)]
    x, z = buyers["frequency"].to_numpy(float), buyers["monetary_value"].to_numpy(float)
    for theta in ((6.25, 3.74, 15.44), (1.0, 1.5, 200.0), (20.0, 10.0, 2.0)):
        pp, qq, vv = theta
        reference = np.sum(gammaln(pp * x + qq) - gammaln(pp * x) - gammaln(qq) + qq * np.log(vv) + (pp * x - 1) * np.log(z)
                           + pp * x * np.log(x) - (pp * x + qq) * np.log(x * z + vv))
        assert functions[0](*theta) == pytest.approx(reference, rel=1e-12)
        bound = len(x) * (pp * x.max() + qq) * 0.0101**3 / 3
        assert abs(functions[1](*theta) - reference) < bound, theta
        assert functions[1](*theta) != reference


def test_prediction_chunks_and_batches_give_the_same_numbers(monkeypatch):
    from shopper_bayes.analyses.clv import rfm

    table = rfm_tables(cdnow_sample(), CALIBRATION_END, None, "week").customers
    rng = np.random.default_rng(3)
    params = {name: value * np.exp(rng.normal(0, 0.05, 30)) for name, value in PUBLISHED.items()}
    terms = predict.pair_terms(BgNbd, table.triples, params, "week", 12, 0.01)
    whole = predict.customer_predictions(BgNbd, table, params, terms, 0.9, [0.1, 0.5])
    monkeypatch.setattr(predict, "CHUNK_ELEMENTS", 30 * 97)
    monkeypatch.setattr(rfm, "BATCH_ROWS", 500)  # 5 batches out of the engine, written as 5 row groups
    chunked = predict.customer_predictions(BgNbd, table, params, terms, 0.9, [0.1, 0.5])
    import pyarrow.parquet as pq

    assert pq.ParquetFile(chunked.path).metadata.num_row_groups == 5
    pd.testing.assert_frame_equal(whole.table, chunked.table)
    pd.testing.assert_frame_equal(whole.top, chunked.top)
    np.testing.assert_allclose(whole.totals["clv"], chunked.totals["clv"], rtol=1e-10)
    # per triple and linear in the mean spend against every customer x draw written out
    customers = table.frame()
    pd.testing.assert_frame_equal(whole.table[customers.columns[:-1]], customers.drop(columns="holdout"))
    x, tx, T, z = (customers[name].to_numpy(float)[:, None] for name in ("frequency", "recency", "T", "monetary_value"))
    alive = BgNbd.p_alive(x, tx, T, {name: params[name][None, :] for name in BgNbd.params})
    spend = models.expected_spend(np.where(z > 0, x, 0), z, *(params[name][None, :] for name in ("p", "q", "v")))
    at = terms.index.get_indexer(pd.MultiIndex.from_frame(customers[["frequency", "T"]]))
    for name, values in (("p_alive", alive), ("purchases", terms.horizon[at] * alive), ("spend", spend),
                         ("clv", terms.discounted[at] * alive * spend)):
        np.testing.assert_allclose(whole.table[f"{name}_mean"], values.mean(axis=1), rtol=1e-12)
        lo, hi = np.quantile(values, [0.05, 0.95], axis=1)
        np.testing.assert_allclose(whole.table[f"{name}_lo"], lo, rtol=1e-12)
        np.testing.assert_allclose(whole.table[f"{name}_hi"], hi, rtol=1e-12)
    np.testing.assert_allclose(whole.totals["alive"], alive.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(whole.totals["quarter"], (terms.quarter[at] * alive).sum(axis=0), rtol=1e-12)
    clv_draws = terms.discounted[at] * alive * spend
    np.testing.assert_allclose(whole.totals["clv"], clv_draws.sum(axis=0), rtol=1e-12)
    # segments: the customers ranked by mean CLV with pandas (ties in the rows' order)
    rank = pd.Series(clv_draws.mean(axis=1)).rank(ascending=False, method="first").to_numpy() / len(customers)
    expected = np.array(["top 10%", "10%–50%", "bottom 50%"])[np.searchsorted([0.1, 0.5, 1.0], rank)]
    np.testing.assert_array_equal(whole.table["segment"].astype(str), expected)
    for name in ("top 10%", "10%–50%", "bottom 50%"):
        np.testing.assert_allclose(whole.segments[name], clv_draws[expected == name].sum(axis=0), rtol=1e-12)
        assert whole.segment_sizes[name] == (expected == name).sum()
    pd.testing.assert_frame_equal(whole.top.reset_index(drop=True),
                                  whole.table.nlargest(10, "clv_mean").reset_index(drop=True))
    # the CLV of one draw, summed month by month with the closed form, without the pair shortcut
    d, row = 0, customers.iloc[0]
    args = {n: params[n][d] for n in BgNbd.params}
    months = [expected_purchases(BgNbd, m * 30.4375 / 7, row["frequency"], row["recency"], row["T"], args) for m in range(13)]
    spend = models.expected_spend(row["frequency"], row["monetary_value"], params["p"][d], params["q"][d], params["v"][d])
    clv_one = sum((months[m] - months[m - 1]) * spend / 1.01 ** m for m in range(1, 13))
    one_customer = Customers.of_frame(customers.iloc[[0]].drop(columns="holdout"))
    one_draw = {k: v[[d]] for k, v in params.items()}
    terms = predict.pair_terms(BgNbd, one_customer.triples, one_draw, "week", 12, 0.01)
    one = predict.customer_predictions(BgNbd, one_customer, one_draw, terms, 0.9, [0.5])
    assert one.table["clv_mean"].iloc[0] == pytest.approx(clv_one, rel=1e-10)


def test_settings_reject_bad_segments():
    with pytest.raises(ValueError):
        ClvSettings(segments=[0.5, 0.1])


# ---------------------------------------------------------------- fits


@pytest.fixture(scope="module")
def cdnow_fit(tmp_path_factory):
    output = clv.ANALYSIS.run(context(cdnow_sample(), ClvSettings()))
    return output


def test_cdnow_sample_posterior_covers_published_estimates(cdnow_fit):
    result = cdnow_fit.summary
    assert result.diagnostics.ok, result.diagnostics.problems
    assert result.method == "mcmc" and result.triples == 1016 and result.customers == 2357
    for name, value in PUBLISHED.items():
        estimate = getattr(result.params, name)
        assert estimate.interval[0] < value < estimate.interval[1], (name, estimate)
    # Hardie's customer: posterior mean of E[purchases in 39 weeks] within 5% of 1.226
    post = cdnow_fit.models["clv"].posterior
    draws = {n: post[n].values.reshape(-1) for n in BgNbd.params}
    assert expected_purchases(BgNbd, 39, 2, 30.43, 38.86, draws).mean() == pytest.approx(1.226, rel=0.05)


@pytest.fixture(scope="module")
def cdnow_pareto_fit(tmp_path_factory):
    return clv.ANALYSIS.run(context(cdnow_sample(), ClvSettings(model="pareto_nbd", draws=300, tune=300)))


def test_cdnow_sample_pareto_posterior_covers_published_estimates(cdnow_pareto_fit):
    result = cdnow_pareto_fit.summary
    assert result.diagnostics.ok, result.diagnostics.problems
    assert result.model == "pareto_nbd" and result.params.a is None and result.params.b is None
    for name, value in (PUBLISHED_PARETO | {n: PUBLISHED[n] for n in ("p", "q", "v")}).items():
        estimate = getattr(result.params, name)
        assert estimate.interval[0] < value < estimate.interval[1], (name, estimate)
    assert set(result.priors) == {"r", "alpha", "s", "beta", "p", "q", "v"}
    section = clv.ANALYSIS.section(result)
    assert "Pareto/NBD (Schmittlein" in section.methods[0] and "pareto_nbd" in clv.ANALYSIS.console(result)[0]
    assert "Pareto/NBD" in section.blocks[next(i for i, b in enumerate(section.blocks) if getattr(b, "name", "") ==
                                                "clv_parameters")].caption


@pytest.mark.parametrize("fixture, model", [("cdnow_fit", BgNbd), ("cdnow_pareto_fit", ParetoNbd)])
def test_cdnow_holdout_simulation_agrees_with_the_closed_form(fixture, model, request, tmp_path):
    cdnow_fit = request.getfixturevalue(fixture)
    result, table = cdnow_fit.summary, None
    holdout = result.holdout
    assert holdout.actual == 1882 and holdout.customers == 2357 and len(holdout.cumulative) == 39
    assert sum(group.actual for group in holdout.by_frequency) == 1882
    post = cdnow_fit.models["clv"].posterior
    keep = np.linspace(0, post.sizes["chain"] * post.sizes["draw"] - 1, holdout.draws).round().astype(int)
    draws = {n: post[n].values.reshape(-1)[keep][:, None] for n in model.params}
    customers = rfm_tables(cdnow_sample(), CALIBRATION_END, OBSERVATION_END, "week").customers.frame()
    x, tx, T = (customers[c].to_numpy(float)[None, :] for c in ("frequency", "recency", "T"))
    closed = expected_purchases(model, 39, x, tx, T, draws).sum(axis=1).mean()
    spread = holdout.interval[1] - holdout.interval[0]
    assert holdout.predicted == pytest.approx(closed, abs=spread / 10)  # mean of simulations vs expectation
    assert holdout.cumulative[-1].predicted == pytest.approx(holdout.predicted)
    path = tmp_path / "customers_clv.parquet"
    cdnow_fit.files["reports/customers_clv.parquet"](path)
    table = pd.read_parquet(path)
    assert len(table) == 2357 and table["holdout_purchases"].sum() == 1882
    assert (table["clv_lo"] <= table["clv_mean"]).all() and (table["clv_mean"] <= table["clv_hi"]).all()
    assert table["clv_mean"].sum() == pytest.approx(result.total_clv.mean, rel=1e-9)
    assert sum(s.customers for s in result.segments) == 2357
    assert result.top_customers[0].clv.mean == pytest.approx(table["clv_mean"].max())
    assert set(type(result).model_validate_json(result.model_dump_json()).model_dump()) >= {
        "model", "method", "params", "holdout", "total_clv", "top_customers", "diagnostics"}
    for spec in cdnow_fit.figures:
        assert spec.draw().axes
    section = clv.ANALYSIS.section(result)
    assert section.title == "Customer value" and clv.ANALYSIS.console(result)


def test_map_really_runs_map():
    def no_sampling(*args, **kwargs):
        raise AssertionError("clv.method: map must not sample")

    output = clv.ANALYSIS.run(context(cdnow_sample(), ClvSettings(method="map"), fit=no_sampling))
    result = output.summary
    assert result.method == "map" and result.draws == 1
    assert result.diagnostics.method == "map" and not result.diagnostics.ok
    assert output.models["clv"].attrs["inference"] == "map"
    # with wide priors the posterior mode sits next to the published maximum-likelihood values
    for name, value in PUBLISHED.items():
        estimate = getattr(result.params, name)
        assert estimate.interval == (None, None) and estimate.mean == pytest.approx(value, rel=0.06), name
    assert result.holdout.interval[0] < result.holdout.predicted < result.holdout.interval[1]


def test_no_repeat_buyers_gives_notes_not_errors():
    frame = pd.DataFrame({"customer": ["a", "b", "c"], "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
                          "amount": [10.0, 20.0, 30.0]})
    result = clv.ANALYSIS.run(context(frame, ClvSettings(method="map"), calibration_end=None, observation_end="2024-06-30")).summary
    assert result.total_clv.mean is None and "no repeat purchase" in result.total_clv.note
    assert result.params.p is None and result.holdout is None and result.top_customers == []
    assert clv.ANALYSIS.console(result) and clv.ANALYSIS.section(result).blocks


def test_holdout_simulation_is_the_same_in_passes_and_threads(monkeypatch):
    """The purchase times are drawn a few events at a time (the frequent buyers' chunks would otherwise hold
    GBs) and the chunks run on threads: every purchase still lands in one period, the purchases per group do
    not depend on the passes, and the same seed gives the same simulation."""
    table = rfm_tables(cdnow_sample(), CALIBRATION_END, None, "week").customers
    triples = predict.Triples.of(table.triples)
    rng = np.random.default_rng(3)
    params = {name: value * np.exp(rng.normal(0, 0.05, 40)) for name, value in PUBLISHED.items()}
    monkeypatch.setattr(predict, "CHUNK_ELEMENTS", 40 * 300)  # 8 chunks
    whole = predict.simulate_holdout(BgNbd, triples, params, 39.0, 39, seed=5)
    again = predict.simulate_holdout(BgNbd, triples, params, 39.0, 39, seed=5)
    np.testing.assert_array_equal(whole.by_period, again.by_period)
    monkeypatch.setattr(predict, "EVENTS_PER_PASS", 7)
    passes = predict.simulate_holdout(BgNbd, triples, params, 39.0, 39, seed=5)
    np.testing.assert_array_equal(passes.by_frequency, whole.by_frequency)
    np.testing.assert_array_equal(passes.by_period.sum(axis=1), whole.by_frequency.sum(axis=1))
    np.testing.assert_array_equal(whole.by_period.sum(axis=1), whole.by_frequency.sum(axis=1))
    assert not np.array_equal(passes.by_period, whole.by_period)  # other draws of the times ...
    first, last = passes.by_period[:, :13].sum(), passes.by_period[:, 26:].sum()  # ... from the same law
    assert abs(first / whole.by_period[:, :13].sum() - 1) < 0.02 and abs(last / whole.by_period[:, 26:].sum() - 1) < 0.02

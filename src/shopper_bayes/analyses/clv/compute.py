"""From the cleaned transaction log to the ``clv`` result: RFM tables, fit, predictions, holdout check."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from shopper_bayes.analyses.base import Estimate
from shopper_bayes.analyses.clv import model as models
from shopper_bayes.analyses.clv import predict
from shopper_bayes.analyses.clv.config import ClvSettings
from shopper_bayes.analyses.clv.purchases import MODELS
from shopper_bayes.analyses.clv.results import (ClvArrays, ClvParams, ClvResult, Holdout, HoldoutGroup, HoldoutPeriod,
                                                Segment, TopCustomer)
from shopper_bayes.analyses.clv.rfm import RfmTables
from shopper_bayes.inference.diagnostics import Diagnostics, check

MAP_NOTE = "MAP point estimate: no posterior interval"


def fit_key(cells: pd.DataFrame, spend: models.SpendStatistics, settings: ClvSettings) -> str:
    """What the fit depends on: the weighted triples, the spend statistics, the model, the priors, the draws."""
    digest = hashlib.sha256()
    digest.update(np.array([spend.sum_log_z, spend.sum_x_log_z]).tobytes())
    for table in (cells, spend.bins):
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    digest.update(json.dumps([settings.model, used_priors(settings), settings.draws, settings.tune,
                              settings.target_accept]).encode())
    return f"clv-{settings.model}-whitened-{digest.hexdigest()[:16]}"


def used_priors(settings: ClvSettings) -> dict[str, dict[str, float]]:
    """The configured priors of the fitted model's parameters (purchase model and Gamma-Gamma)."""
    names = MODELS[settings.model].params + models.SPEND_PARAMS
    return {name: getattr(settings.priors, name).model_dump() for name in names}


def estimate(values: np.ndarray, prob: float) -> Estimate:
    values = np.asarray(values, dtype="float64")
    if not np.all(np.isfinite(values)):
        return Estimate(mean=None, interval=(None, None), note="undefined in some draws (Gamma-Gamma q <= 1)")
    if values.size == 1:
        return Estimate(mean=float(values[0]), interval=(None, None), note=MAP_NOTE)
    lo, hi = np.quantile(values, [(1 - prob) / 2, (1 + prob) / 2])
    return Estimate(mean=float(values.mean()), interval=(float(lo), float(hi)))


def _interval(values: np.ndarray, prob: float) -> tuple[float, float]:
    lo, hi = np.quantile(values, [(1 - prob) / 2, (1 + prob) / 2])
    return float(lo), float(hi)


def holdout_check(model, tables: RfmTables, triples: predict.Triples, params: dict[str, np.ndarray], prob: float,
                  seed: int) -> Holdout:
    """Simulated holdout repeat purchases (one data set per draw) against the actual ones."""
    periods = len(tables.holdout_periods)
    sim = predict.simulate_holdout(model, triples, params, tables.holdout_length, periods, seed)
    cumulative_sim = np.cumsum(sim.by_period, axis=1)
    cumulative_actual = np.cumsum(tables.holdout_periods["purchases"].to_numpy())
    cumulative = [HoldoutPeriod(period=k, predicted=float(cumulative_sim[:, k].mean()),
                                interval=_interval(cumulative_sim[:, k], prob), actual=int(cumulative_actual[k]))
                  for k in range(periods)]
    counts = tables.customers.triples
    group = np.minimum(counts["frequency"].to_numpy(), predict.FREQUENCY_GROUPS - 1)
    actual_group = np.bincount(group, weights=counts["holdout"].to_numpy(), minlength=predict.FREQUENCY_GROUPS)
    size = np.bincount(group, weights=counts["customers"].to_numpy(), minlength=predict.FREQUENCY_GROUPS)
    by_frequency = [HoldoutGroup(calibration_purchases=f"{g}" if g < predict.FREQUENCY_GROUPS - 1 else f"{g}+",
                                 customers=int(size[g]), predicted=float(sim.by_frequency[:, g].mean()),
                                 interval=_interval(sim.by_frequency[:, g], prob), actual=int(actual_group[g]))
                    for g in range(predict.FREQUENCY_GROUPS)]
    total = cumulative_sim[:, -1]
    interval = _interval(total, prob)
    actual = int(counts["holdout"].sum())
    return Holdout(predicted=float(total.mean()), interval=interval, actual=actual,
                   inside=interval[0] <= actual <= interval[1], draws=len(total), length=tables.holdout_length,
                   customers=triples.customers, new_customers=tables.new_in_holdout,
                   cumulative=cumulative, by_frequency=by_frequency)


def prior_shares(tree: xr.DataTree | None, triples: predict.Triples, settings: ClvSettings, seed: int) -> xr.DataArray:
    """Prior predictive share of customers by calibration repeat purchases (0..6, 7+), from prior
    draws of the purchase model's parameters and the customers' own ages T (a sample of at most 2,000)."""
    rng = np.random.default_rng(seed)
    draws = 200
    model = MODELS[settings.model]
    if tree is not None and "prior" in tree.children:
        params = predict.thin(tree["prior"], model.params, draws)
    else:
        params = {name: np.exp(rng.normal(getattr(settings.priors, name).mu, getattr(settings.priors, name).sigma, draws))
                  for name in model.params}
    chosen = rng.choice(triples.customers, size=min(triples.customers, 2000), replace=False)
    T = triples.T[triples.at(chosen)][None, :]
    x = model.prior_counts(rng, T, params)
    groups = np.minimum(x, predict.FREQUENCY_GROUPS - 1)
    shares = np.stack([(groups == g).mean(axis=1) for g in range(predict.FREQUENCY_GROUPS)], axis=1)
    return xr.DataArray(shares, dims=("draw", "group"), coords={"group": _group_names()})


def _group_names() -> list[str]:
    return [str(g) for g in range(predict.FREQUENCY_GROUPS - 1)] + [f"{predict.FREQUENCY_GROUPS - 1}+"]


def observed_shares(triples: predict.Triples) -> xr.DataArray:
    groups = np.minimum(triples.x.astype(np.int64), predict.FREQUENCY_GROUPS - 1)
    shares = np.bincount(groups, weights=triples.size, minlength=predict.FREQUENCY_GROUPS) / triples.customers
    return xr.DataArray(shares, dims=("group",), coords={"group": _group_names()})


@dataclass
class Computed:
    result: ClvResult
    arrays: ClvArrays
    predictions: predict.CustomerPredictions
    tree: xr.DataTree


def compute(tables: RfmTables, settings: ClvSettings, fit, limits, seed: int, step=lambda text: None) -> Computed:
    """Fit (MCMC through ``fit(model, key, **overrides)``, or MAP) and predict; ``step(text)`` tells the console
    what comes next."""
    customers = tables.customers
    purchases = MODELS[settings.model]
    cells = models.triples(customers.triples, settings.statistics)
    spend = models.spend_statistics(customers.spend, settings.statistics)
    model = models.build_model(cells, spend, settings.priors, settings.model)
    if settings.method == "map":
        tree = models.fit_map(model, settings.priors)
        diagnostics = Diagnostics.not_sampled("map", "MAP point estimate (clv.method: map): no posterior draws, "
                                              "no intervals, no convergence check", limits)
    else:
        def whitened():
            whitening = models.posterior_mode(model, settings.priors)
            return models.build_model(cells, spend, settings.priors, settings.model, whitening)

        tree = fit(whitened, fit_key(cells, spend, settings), groups=("prior",),  # the prior figure reads the prior
                   draws=settings.draws, tune=settings.tune,
                   target_accept=settings.target_accept)
        diagnostics = check(tree, limits)
    names = purchases.params + (models.SPEND_PARAMS if len(spend) else ())
    params = predict.thin(tree["posterior"], names, settings.prediction_draws)
    prob = settings.interval_prob
    terms = predict.pair_terms(purchases, customers.triples, params, tables.time_unit, settings.horizon_months,
                               settings.discount_rate)
    step(f"predicting {len(customers):,} customers' value")
    preds = predict.customer_predictions(purchases, customers, params, terms, prob, settings.segments,
                                         settings.top_customers)
    draws = len(params["r"])
    all_draws = predict.thin(tree["posterior"], names, 10**9)
    holdout = None
    if tables.holdout_periods is not None:
        step("simulating the holdout period")
        simulated = predict.thin(tree["posterior"], names, settings.holdout_draws)
        if draws == 1:  # MAP: the point repeated; the interval is then the process noise alone
            simulated = {name: np.repeat(value, settings.holdout_draws) for name, value in simulated.items()}
        holdout = holdout_check(purchases, tables, preds.triples, simulated, prob, seed)
    total = preds.totals["clv"]
    total_estimate = estimate(total, prob) if len(spend) else Estimate(mean=None, interval=(None, None),
                                                                        note="no repeat purchase with positive spend")
    segments = [Segment(segment=name, customers=preds.segment_sizes[name], clv=estimate(values, prob),
                        share=float(np.mean(values / total)) if len(spend) and np.all(total > 0) else 0.0)
                for name, values in preds.segments.items()]
    top_customers = [TopCustomer(customer_id=str(row.customer_id), frequency=int(row.frequency), recency=float(row.recency),
                                 T=float(row.T), monetary_value=float(row.monetary_value), p_alive=float(row.p_alive_mean),
                                 expected_purchases=float(row.purchases_mean), expected_spend=float(row.spend_mean),
                                 clv=Estimate(mean=float(row.clv_mean),
                                              interval=(None, None) if draws == 1 else (float(row.clv_lo), float(row.clv_hi)),
                                              note=MAP_NOTE if draws == 1 else None))
                     for row in preds.top.itertuples()]
    notes = []
    if customers.zero_spend:
        notes.append(f"{customers.zero_spend} repeat buyers spent nothing on their repeat purchases: the Gamma-Gamma "
                     "fit leaves them out and their expected spend is the population mean")
    if draws < len(all_draws["r"]):
        notes.append(f"per-customer numbers use {draws:,} of the {len(all_draws['r']):,} posterior draws, evenly spaced")
    counts = customers.triples
    result = ClvResult(
        model=settings.model, method=settings.method, time_unit=tables.time_unit,
        calibration_end=str(tables.calibration_end), observation_end=str(tables.observation_end),
        horizon_months=settings.horizon_months, discount_rate=settings.discount_rate, interval_prob=prob,
        customers=preds.triples.customers, no_repeat=int(counts.loc[counts["frequency"] == 0, "customers"].sum()),
        triples=len(cells), spend_customers=spend.customers, spend_groups=len(spend),
        statistics=settings.statistics, draws=draws, priors=used_priors(settings),
        params=ClvParams(**{name: estimate(all_draws[name], prob) for name in names}),
        alive=estimate(preds.totals["alive"], prob), next_quarter=estimate(preds.totals["quarter"], prob),
        purchases=estimate(preds.totals["purchases"], prob), total_clv=total_estimate, segments=segments,
        holdout=holdout, top_customers=top_customers, notes=notes, diagnostics=diagnostics)
    arrays = ClvArrays(alive=predict.alive_matrix(purchases, preds.triples, params),
                       prior_shares=prior_shares(tree if settings.method == "mcmc" else None, preds.triples, settings, seed),
                       observed_shares=observed_shares(preds.triples))
    return Computed(result, arrays, preds, tree)

"""Purchase rate per segment cell: two models, summaries, comparisons and the best cell.

This docstring is the model's description; the report's methods text (``section.py``) follows it.

``independent``: purchases[c] ~ Binomial(sessions[c], rate[c]), rate[c] ~ Beta(alpha, beta), each
cell on its own. Conjugate: the posterior is Beta(alpha + purchases, beta + sessions - purchases),
which the tests check the MCMC fit against.

``hierarchical``: logit(rate[c]) = mu + the sum, over the segment columns, of the effect of the
cell's level in that column; each column's effects ~ ZeroSumNormal(sigma_column) with sigma_column
~ HalfNormal (partial pooling): a level with few sessions is pulled toward the population, a large
one keeps its own rate. With several columns the effects add on the logit scale (no interaction);
the LOO comparison with the independent model shows when the data disagree. Zero-sum effects
remove the ridge between mu and the effects; the centred form samples without divergences on the
bundled and generated data at ``target_accept`` 0.99. Where the data put the sds near zero (few
levels, tiny cells) it can diverge, as calibration over its own prior shows (benchmarks/README.md);
the non-centred form avoids that but mixes too slowly for the gate on the bundled data. The gate
reports divergences when they occur.

Both assume sessions within a cell are exchangeable and independent.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from shopper_bayes.analyses.purchase_rates.config import RatesConfig
from shopper_bayes.engine.cells import cell_label, cells, find_cell, segment_name

SAMPLE_DIMS = ("chain", "draw")
MODELS = ("independent", "hierarchical")


def build_model(counts: xr.Dataset, rates: RatesConfig, name: str) -> pm.Model:
    """The PyMC model ``name`` with one ``rate`` per cell, dims named after the segment columns.

    The counts enter as data containers ``sessions`` and ``observed_purchases``, so a compiled model
    can be re-run on other counts of the same cells (the calibration study does, hundreds of times).
    """
    dims = tuple(counts["sessions"].dims)
    coords = {dim: counts[dim].values.tolist() for dim in dims}
    with pm.Model(coords=coords) as model:
        sessions = pm.Data("sessions", counts["sessions"].values, dims=dims)
        observed = pm.Data("observed_purchases", counts["purchases"].values, dims=dims)
        if name == "independent":
            rate = pm.Beta("rate", alpha=rates.prior.alpha, beta=rates.prior.beta, dims=dims)
        else:
            prior = rates.hierarchical_prior
            mu = pm.Normal("mu_logit", mu=prior.mean_loc, sigma=prior.mean_scale)
            logit_rate = mu
            for index, dim in enumerate(dims):
                sigma = pm.HalfNormal(f"sigma_{dim}", sigma=prior.sd_scale)
                effect = pm.ZeroSumNormal(f"effect_{dim}", sigma=sigma, dims=dim)
                logit_rate = logit_rate + pt.shape_padright(effect, len(dims) - 1 - index)
            rate = pm.Deterministic("rate", pm.math.invlogit(logit_rate), dims=dims)
            pm.Deterministic("population_rate", pm.math.invlogit(mu))
        pm.Binomial("purchases", n=sessions, p=rate, observed=observed, dims=dims)
    return model


def exact_posterior(counts: xr.Dataset, rates: RatesConfig, chains: int, draws: int, seed: int) -> dict[str, np.ndarray]:
    """Independent draws from the independent model's conjugate posterior, rate[c] ~ Beta(alpha +
    purchases[c], beta + sessions[c] - purchases[c]), shaped (chain, draw, *cells)."""
    purchases, sessions = counts["purchases"].values, counts["sessions"].values
    rng = np.random.default_rng([seed, 7])
    shape = (chains, draws, *purchases.shape)
    return {"rate": rng.beta(rates.prior.alpha + purchases, rates.prior.beta + sessions - purchases, size=shape)}


def _interval(draws: xr.DataArray, interval_prob: float) -> list[float]:
    tail = (1 - interval_prob) / 2
    return [float(v) for v in draws.quantile([tail, 1 - tail], dim=SAMPLE_DIMS).values]


def summarise(rate: xr.DataArray, counts: xr.Dataset, interval_prob: float) -> list[dict]:
    """Per cell: counts, observed rate, posterior mean and central interval of the rate.

    Cells with no sessions are listed (their rate is what the prior or the population says).
    """
    rows = []
    for cell in cells(counts):
        sessions = int(counts["sessions"].sel(cell))
        purchases = int(counts["purchases"].sel(cell))
        draws = rate.sel(cell)
        rows.append({
            "segment": cell_label(cell),
            "label": segment_name(cell),
            "sessions": sessions,
            "purchases": purchases,
            "observed_rate": purchases / sessions if sessions else None,
            "mean": float(draws.mean()),
            "interval": _interval(draws, interval_prob),
            "interval_prob": interval_prob,
        })
    return rows


def comparison_pairs(counts: xr.Dataset, rates: RatesConfig) -> list[tuple[dict, dict]]:
    """The (A, B) cell pairs to compare: the configured pairs, else every cell with data against the reference."""
    wanted = rates.comparisons
    if wanted.pairs:
        return [(find_cell(counts, a, "rates.comparisons.pairs"), find_cell(counts, b, "rates.comparisons.pairs"))
                for a, b in wanted.pairs]
    if wanted.reference is None:
        flat = counts["sessions"].stack(cell=counts["sessions"].dims)
        reference = {dim: str(flat[dim].values[int(np.argmax(flat.values))]) for dim in counts["sessions"].dims}
    else:
        reference = find_cell(counts, wanted.reference, "rates.comparisons.reference")
    return [(cell, reference) for cell in cells(counts)
            if cell != reference and int(counts["sessions"].sel(cell)) > 0]


def compare(rate: xr.DataArray, pairs: list[tuple[dict, dict]], interval_prob: float) -> list[dict]:
    """For each pair: posterior of the difference A - B and of the lift A / B - 1, and P(A > B)."""
    rows = []
    for first, second in pairs:
        a, b = rate.sel(first), rate.sel(second)
        difference, lift = a - b, a / b - 1
        rows.append({
            "a": cell_label(first),
            "b": cell_label(second),
            "difference": {"mean": float(difference.mean()), "interval": _interval(difference, interval_prob)},
            "lift": {"mean": float(lift.mean()), "interval": _interval(lift, interval_prob)},
            "interval_prob": interval_prob,
            "prob_a_greater": float((a > b).mean()),
            "draws": int(a.size),
        })
    return rows


def best(rate: xr.DataArray, counts: xr.Dataset) -> list[dict]:
    """Across the cells with sessions: P(cell has the highest rate) and its expected loss.

    Expected loss of choosing c is E[max_k rate_k - rate_c], the purchase rate given up in
    expectation, as Bayesian A/B-testing tools report it. Sorted from the most probable best.
    """
    chosen = [cell for cell in cells(counts) if int(counts["sessions"].sel(cell)) > 0]
    draws = np.stack([rate.sel(cell).values.ravel() for cell in chosen])
    top = draws.max(axis=0)
    winner = draws.argmax(axis=0)
    rows = [{"segment": cell_label(cell),
             "label": segment_name(cell),
             "prob_best": float(np.mean(winner == index)),
             "expected_loss": float(np.mean(top - draws[index])),
             "draws": int(top.size)}
            for index, cell in enumerate(chosen)]
    return sorted(rows, key=lambda row: (-row["prob_best"], row["expected_loss"]))

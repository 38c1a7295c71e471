"""Purchase rate per segment cell: independent Beta-Binomial models.

Model: purchases[c] ~ Binomial(sessions[c], rate[c]), rate[c] ~ Beta(alpha, beta), independently
for every cell c. Assumes sessions within a cell are exchangeable and independent. The posterior is
conjugate, Beta(alpha + purchases, beta + sessions - purchases), which the tests check the MCMC
fit against.
"""

from __future__ import annotations

import itertools

import numpy as np
import pymc as pm
import xarray as xr

from shopper_bayes.config import BetaPrior
from shopper_bayes.counts import cell_label, cells

SAMPLE_DIMS = ("chain", "draw")


def build_model(counts: xr.Dataset, prior: BetaPrior) -> pm.Model:
    """A PyMC model with one ``rate`` per cell, dims named after the segment columns."""
    dims = tuple(counts["sessions"].dims)
    coords = {dim: counts[dim].values.tolist() for dim in dims}
    with pm.Model(coords=coords) as model:
        rate = pm.Beta("rate", alpha=prior.alpha, beta=prior.beta, dims=dims)
        pm.Binomial("purchases", n=counts["sessions"].values, p=rate, observed=counts["purchases"].values, dims=dims)
    return model


def summarise(rate: xr.DataArray, counts: xr.Dataset, interval_prob: float) -> list[dict]:
    """Per cell: counts, observed rate, posterior mean and central interval of the rate."""
    tail = (1 - interval_prob) / 2
    mean = rate.mean(SAMPLE_DIMS)
    bounds = rate.quantile([tail, 1 - tail], dim=SAMPLE_DIMS)
    rows = []
    for cell in cells(counts):
        sessions = int(counts["sessions"].sel(cell))
        purchases = int(counts["purchases"].sel(cell))
        lo, hi = (float(v) for v in bounds.sel(cell).values)
        rows.append({
            "segment": cell_label(cell),
            "sessions": sessions,
            "purchases": purchases,
            "observed_rate": purchases / sessions if sessions else None,
            "mean": float(mean.sel(cell)),
            "interval": [lo, hi],
            "interval_prob": interval_prob,
        })
    return rows


def compare(rate: xr.DataArray, counts: xr.Dataset) -> list[dict]:
    """P(rate A > rate B) for every pair of cells, the cell with the higher mean named ``a``."""
    flat = rate.stack(sample=SAMPLE_DIMS)
    rows = []
    for first, second in itertools.combinations(cells(counts), 2):
        draws_1 = flat.sel(first).values
        draws_2 = flat.sel(second).values
        if draws_2.mean() > draws_1.mean():
            first, second, draws_1, draws_2 = second, first, draws_2, draws_1
        rows.append({"a": cell_label(first), "b": cell_label(second),
                     "prob_a_greater": float(np.mean(draws_1 > draws_2))})
    return rows

"""The spend and orders models of customer profiles, fitted on sufficient statistics per cell.

A cell is one combination of the modelled demographic levels (for example F / 26-35 / Delhi /
Banking). Per cell the data enter only through n (profiles), Σ y, Σ log y and Σ (log y)² of spend y,
and Σ (orders - 1), so the fit time depends on the number of cells, not of rows.

Spend per profile: y ~ Gamma(shape, shape / m) (mean m) or, with ``likelihood: lognormal``,
log y ~ Normal(log m - sigma²/2, sigma) (mean m again). log m = intercept + Σ_k effect_k[level],
each column's effects zero-sum with sd ~ HalfNormal (partial pooling within the column; a column
of two levels gets the prior sd itself, as two levels cannot inform an sd).

Orders per profile: orders = 1 + Poisson(rate) (every profile bought at least once), log rate =
intercept + Σ_k effect_k[level], zero-sum effects with their own sds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from shopper_bayes.analyses.demographics.config import DemographicsSettings


MIN_POOLED = 3  # levels a column needs for its effects' sd to be estimated (partial pooling)


def cell_codes(cells: pd.DataFrame, levels: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Per modelled column, each cell's level as an index into ``levels[column]``."""
    return {column: pd.Categorical(cells[column], categories=names).codes.astype(np.int64)
            for column, names in levels.items()}


def clearly_different(log_means: np.ndarray, standard_errors: np.ndarray) -> bool:
    """Whether the levels' observed log means spread more than twice their typical standard error:
    then the data pin each effect and the centred form samples well; otherwise the non-centred one."""
    return bool(np.std(log_means) > 2 * np.median(standard_errors))


def _linear(prefix: str, effect_sd: float, intercept, codes: dict[str, np.ndarray], sizes: dict[str, int],
            centred: dict[str, bool]):
    """intercept + the zero-sum effect of each column at each cell's level; a column with fewer than
    :data:`MIN_POOLED` levels has the fixed prior sd ``effect_sd`` (two levels cannot inform an sd).
    Centred and non-centred forms are the same model; ``centred`` picks the one that samples better."""
    eta = intercept
    for column, code in codes.items():
        sd = pm.HalfNormal(f"{prefix}_sd_{column}", sigma=effect_sd) if sizes[column] >= MIN_POOLED else effect_sd
        if centred[column]:
            effect = pm.ZeroSumNormal(f"{prefix}_{column}", sigma=sd, dims=column)
        else:
            effect = pm.Deterministic(f"{prefix}_{column}", sd * pm.ZeroSumNormal(f"{prefix}_{column}_z", sigma=1.0,
                                                                                   dims=column), dims=column)
        eta = eta + effect[code]
    return eta


def parameterisation(cells: pd.DataFrame, codes: dict[str, np.ndarray], sizes: dict[str, int]) -> dict[str, dict[str, bool]]:
    """Per outcome and column, whether to use the centred form (see :func:`clearly_different`)."""
    out = {"spend": {}, "orders": {}}
    n = cells["n"].to_numpy(np.float64)
    sd_log = np.sqrt(max(cells["sum_log2"].sum() / n.sum() - (cells["sum_log"].sum() / n.sum()) ** 2, 1e-12))
    for column, code in codes.items():
        count = np.bincount(code, weights=n, minlength=sizes[column])
        log_mean = np.bincount(code, weights=cells["sum_log"], minlength=sizes[column]) / count
        out["spend"][column] = clearly_different(log_mean, sd_log / np.sqrt(count))
        extra = np.bincount(code, weights=cells["extra_orders"], minlength=sizes[column]) + 0.5
        out["orders"][column] = clearly_different(np.log(extra / count), 1 / np.sqrt(extra))
    return out


def build_model(cells: pd.DataFrame, levels: dict[str, list[str]], settings: DemographicsSettings) -> pm.Model:
    """The joint model of spend and orders; ``cells`` has the modelled columns and the statistics
    ``n``, ``sum_y``, ``sum_log``, ``sum_log2``, ``extra_orders``."""
    codes = cell_codes(cells, levels)
    sizes = {column: len(names) for column, names in levels.items()}
    centred = parameterisation(cells, codes, sizes)
    n = cells["n"].to_numpy(np.float64)
    sum_y, sum_log, sum_log2 = (cells[name].to_numpy(np.float64) for name in ("sum_y", "sum_log", "sum_log2"))
    spend_prior, orders_prior = settings.spend_prior, settings.orders_prior
    log_mean = float(np.log(sum_y.sum() / n.sum()))
    coords = {"cell": cells["cell"].tolist(), **levels}
    with pm.Model(coords=coords) as model:
        intercept = pm.Normal("spend_intercept", mu=log_mean + spend_prior.intercept_loc, sigma=spend_prior.intercept_sd)
        eta = _linear("spend", spend_prior.effect_sd, intercept, codes, sizes, centred["spend"])
        if settings.likelihood == "gamma":
            shape = pm.Gamma("spend_shape", alpha=spend_prior.shape_alpha, beta=spend_prior.shape_beta)
            loglik = (n * shape * (pt.log(shape) - eta) - n * pt.gammaln(shape)
                      + (shape - 1) * sum_log - shape * pt.exp(-eta) * sum_y)
        else:
            sigma = pm.HalfNormal("spend_sigma", sigma=spend_prior.sigma_sd)
            mu = eta - sigma**2 / 2
            loglik = (-n * pt.log(sigma) - 0.5 * n * np.log(2 * np.pi) - sum_log
                      - (sum_log2 - 2 * mu * sum_log + n * mu**2) / (2 * sigma**2))
        pm.Potential("spend_loglik", loglik)
        orders_intercept = pm.Normal("orders_intercept", mu=orders_prior.intercept_loc, sigma=orders_prior.intercept_sd)
        rate = pt.exp(_linear("orders", orders_prior.effect_sd, orders_intercept, codes, sizes, centred["orders"]))
        pm.Poisson("extra_orders", mu=n * rate, observed=cells["extra_orders"].to_numpy(np.int64), dims="cell")
    return model

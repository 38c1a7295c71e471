"""The spend and orders models of customer profiles, fitted on sufficient statistics per cell.

A cell is one combination of the modelled demographic levels (for example F / 26-35 / Delhi /
Banking). Per cell the data enter only through n (profiles), Σ y, Σ log y and Σ (log y)² of spend y,
and Σ (orders - 1), so the fit time depends on the number of cells, not of rows.

Spend per profile: y ~ Gamma(shape, shape / m) (mean m) or, with ``likelihood: lognormal``,
log y ~ Normal(log m - sigma²/2, sigma) (mean m again). log m = intercept + Σ_k effect_k[level],
each column's effects zero-sum (ZeroSumNormal) with sd ~ HalfNormal (partial pooling within the column; a column
of two levels gets the prior sd itself, as two levels cannot inform an sd).

Orders per profile: orders = 1 + Poisson(rate) (every profile bought at least once), log rate =
intercept + Σ_k effect_k[level], zero-sum effects with their own sds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from scipy.linalg import helmert

from shopper_bayes.analyses.demographics.config import DemographicsSettings


MIN_POOLED = 3  # levels a column needs for its effects' sd to be estimated (partial pooling)


def cell_codes(cells: pd.DataFrame, levels: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Per modelled column, each cell's level as an index into ``levels[column]``."""
    return {column: pd.Categorical(cells[column], categories=names).codes.astype(np.int64)
            for column, names in levels.items()}


def zero_sum_basis(size: int) -> np.ndarray:
    """``size`` x (size - 1) orthonormal columns, each summing to zero (Helmert's): ``basis @ w`` with
    w ~ Normal(0, sd) independently is a ZeroSumNormal(sd) vector of ``size`` effects."""
    return helmert(size).T


def _linear(prefix: str, effect_sd: float, intercept, codes: dict[str, np.ndarray], sizes: dict[str, int],
            standard_error: dict[str, float]):
    """intercept + the zero-sum effect of each column at each cell's level; a column with fewer than
    :data:`MIN_POOLED` levels has the fixed prior sd ``effect_sd`` (two levels cannot inform an sd).

    Each column's effects are ``zero_sum_basis @ w`` with w ~ Normal(0, sd) (ZeroSumNormal, written out): the
    basis rows of every cell's levels form one constant matrix, so the linear predictor is one matrix product.
    NUTS moves in u = w / s, where s = (1/sd² + 1/se²)^(-1/2) is the scale of w given sd when the data
    measure each coordinate to about ``standard_error[column]`` (se): u ~ Normal(0, sd / s) is the same
    model. Where the data say little (sd much below se) this is the non-centred form, where they pin the
    effects (sd much above se) the centred one, and in between it moves smoothly, so neither the funnel of
    the centred form near sd = 0 nor the narrowing of the non-centred one at large sd meets the sampler
    (the bundled orders: no divergences at target_accept 0.8 and 0.9, where either fixed form had some)."""
    columns = list(codes)
    pooled = [column for column in columns if sizes[column] >= MIN_POOLED]
    sd = pm.HalfNormal(f"{prefix}_sd", sigma=effect_sd, dims=f"{prefix}_pooled") if pooled else None
    scale = pt.concatenate([pt.repeat(sd[pooled.index(column)], sizes[column] - 1) if column in pooled
                            else pt.as_tensor(np.full(sizes[column] - 1, effect_sd)) for column in columns])
    se = np.concatenate([np.full(sizes[column] - 1, standard_error[column]) for column in columns])
    spread = pt.sqrt(1 + (scale / se) ** 2)  # sd / s
    u = pm.Normal(f"{prefix}_u", mu=0.0, sigma=spread, shape=int(se.size))
    w = scale * u / spread
    start = 0
    for column in columns:
        width = sizes[column] - 1
        pm.Deterministic(f"{prefix}_{column}", pt.as_tensor(zero_sum_basis(sizes[column])) @ w[start:start + width],
                         dims=column)
        start += width
    design = np.concatenate([zero_sum_basis(sizes[column])[codes[column]] for column in columns], axis=1)
    return intercept + pt.as_tensor(design) @ w


def standard_errors(cells: pd.DataFrame, codes: dict[str, np.ndarray], sizes: dict[str, int]) -> dict[str, dict[str, float]]:
    """Per outcome and column, the typical (median over levels) standard error of a level's log mean: of spend
    from the pooled sd of log spend, of the order rate from the level's extra orders (Poisson). They set only
    the coordinates NUTS moves in (:func:`_linear`), not the model."""
    out = {"spend": {}, "orders": {}}
    n = cells["n"].to_numpy(np.float64)
    sd_log = np.sqrt(max(cells["sum_log2"].sum() / n.sum() - (cells["sum_log"].sum() / n.sum()) ** 2, 1e-12))
    for column, code in codes.items():
        count = np.bincount(code, weights=n, minlength=sizes[column])
        extra = np.bincount(code, weights=cells["extra_orders"], minlength=sizes[column]) + 0.5
        out["spend"][column] = max(float(np.median(sd_log / np.sqrt(np.maximum(count, 1)))), 1e-6)
        out["orders"][column] = max(float(np.median(1 / np.sqrt(extra))), 1e-6)
    return out


def build_model(cells: pd.DataFrame, levels: dict[str, list[str]], settings: DemographicsSettings) -> pm.Model:
    """The joint model of spend and orders; ``cells`` has the modelled columns and the statistics
    ``n``, ``sum_y``, ``sum_log``, ``sum_log2``, ``extra_orders``."""
    codes = cell_codes(cells, levels)
    sizes = {column: len(names) for column, names in levels.items()}
    standard_error = standard_errors(cells, codes, sizes)
    n = cells["n"].to_numpy(np.float64)
    sum_y, sum_log, sum_log2 = (cells[name].to_numpy(np.float64) for name in ("sum_y", "sum_log", "sum_log2"))
    spend_prior, orders_prior = settings.spend_prior, settings.orders_prior
    log_mean = float(np.log(sum_y.sum() / n.sum()))
    pooled = [column for column in levels if sizes[column] >= MIN_POOLED]
    coords = {"cell": cells["cell"].tolist(), **levels, "spend_pooled": pooled, "orders_pooled": pooled}
    with pm.Model(coords=coords) as model:
        intercept = pm.Normal("spend_intercept", mu=log_mean + spend_prior.intercept_loc, sigma=spend_prior.intercept_sd)
        eta = _linear("spend", spend_prior.effect_sd, intercept, codes, sizes, standard_error["spend"])
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
        rate = pt.exp(_linear("orders", orders_prior.effect_sd, orders_intercept, codes, sizes, standard_error["orders"]))
        pm.Poisson("extra_orders", mu=n * rate, observed=cells["extra_orders"].to_numpy(np.int64), dims="cell")
    return model

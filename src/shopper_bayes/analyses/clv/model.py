"""The CLV model: BG/NBD or Pareto/NBD for purchases and dropout (``purchases``), Gamma-Gamma for
spend, fitted in one PyMC model on weighted sufficient statistics.

The purchase likelihood depends on a customer only through (frequency x, recency t_x, age T), so
customers sharing a triple share one term, weighted by their number. Gamma-Gamma (Fader, Hardie &
Lee 2005, 'RFM and CLV'): a customer's repeat purchases are Gamma(p, nu) values with
nu ~ Gamma(q, v); its likelihood depends on (x, mean spend z), summed over the distinct pairs with
their counts (or over bins of total spend: :func:`spend_statistics`). The two models share no
parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt
import xarray as xr
from scipy.optimize import minimize

from shopper_bayes.analyses.clv.config import ClvPriors
from shopper_bayes.analyses.clv.purchases import MODELS

SPEND_PARAMS = ("p", "q", "v")


SPEND_BIN_WIDTH = 0.01  # binned statistics: total repeat spend in bins 1% wide (on the log scale)


def triples(counts: pd.DataFrame, statistics: str = "exact") -> pd.DataFrame:
    """The distinct (frequency, recency, T) with their ``customers``, from such a table (``Customers.triples``).
    ``binned`` rounds recency and T to whole time units first and adds up the triples that meet (``exact``:
    as measured, whole days in time units)."""
    counts = counts[["frequency", "recency", "T", "customers"]]
    if statistics == "binned":
        counts = counts.assign(recency=counts["recency"].round(), T=counts["T"].round())
    return counts.groupby(["frequency", "recency", "T"], sort=True)["customers"].sum().reset_index()


@dataclass
class SpendStatistics:
    """What the Gamma-Gamma likelihood needs of the repeat buyers with positive mean spend z over x
    repeat purchases. ``bins``: per frequency, groups of total spend S = x z with their number of
    ``customers`` n, mean S (``total``) and sum of squared deviations from it (``spread``): one group
    per distinct (x, z) (spread 0) for ``exact`` statistics, S in bins 1% wide for ``binned``.
    ``sum_log_z`` and ``sum_x_log_z``: sums over the customers of log z and x log z (exact either way)."""

    bins: pd.DataFrame
    sum_log_z: float
    sum_x_log_z: float

    @property
    def customers(self) -> int:
        return int(self.bins["customers"].sum())

    def __len__(self) -> int:
        return len(self.bins)


def spend_statistics(pairs: pd.DataFrame, statistics: str = "exact") -> SpendStatistics:
    """The :class:`SpendStatistics` of the repeat buyers with positive spend, from the distinct (frequency x,
    total repeat spend S) with their ``customers`` (``Customers.spend``)."""
    n = pairs["customers"].to_numpy("float64")
    x = pairs["frequency"].to_numpy("float64")
    total = pairs["total"].to_numpy("float64")
    log_z = np.log(total / x)
    if statistics == "binned":
        frame = pd.DataFrame({"frequency": pairs["frequency"].to_numpy(np.int64), "key": np.floor(np.log(total) / SPEND_BIN_WIDTH),
                              "n": n, "weighted": n * total})
        sums = frame.groupby(["frequency", "key"])[["weighted", "n"]].transform("sum")
        frame["mean"] = sums["weighted"] / sums["n"]
        frame["deviation"] = n * (total - frame["mean"]) ** 2
        bins = frame.groupby(["frequency", "key"], sort=True).agg(customers=("n", "sum"), total=("mean", "first"),
                                                                     spread=("deviation", "sum"))
        bins = bins.reset_index("key", drop=True).reset_index()
    else:  # one group per distinct (x, S)
        bins = pd.DataFrame({"frequency": pairs["frequency"].to_numpy(np.int64), "customers": n, "total": total,
                             "spread": 0.0})
    bins["customers"] = bins["customers"].astype(np.int64)
    return SpendStatistics(bins, float((n * log_z).sum()),
                           float((n * x * log_z).sum()))


def gamma_gamma_loglik(spend: SpendStatistics, p, q, v):
    """Sum over the customers of the log density of a mean spend z over x purchases (Fader & Hardie
    2013, eq. 1a): log Gamma(p x + q) - log Gamma(p x) - log Gamma(q) + q log v + (p x - 1) log z
    + p x log x - (p x + q) log(S + v), S = x z. Terms of x alone are computed per distinct x, the
    log z terms are fixed sums, and log(S + v) is summed per group of S: n log(m + v) - D / (2 (m +
    v)^2) for n values of mean m and squared deviations D: exact for one distinct S, within
    (1%)^3 / 3 per customer for the 1% bins (the next term of the expansion)."""
    bins = spend.bins
    n = bins["customers"].to_numpy("float64")
    x = bins["frequency"].to_numpy("float64")
    distinct, index = np.unique(x, return_inverse=True)
    per_x = (pt.gammaln(p * distinct + q) - pt.gammaln(p * distinct) - pt.gammaln(q) + q * pt.log(v)
             + p * distinct * np.log(distinct))
    shifted = bins["total"].to_numpy("float64") + v
    log_total = n * pt.log(shifted) - bins["spread"].to_numpy("float64") / (2 * shifted**2)
    return (pt.dot(np.bincount(index, weights=n), per_x) + p * spend.sum_x_log_z - spend.sum_log_z
            - p * pt.dot(x, log_total) - q * pt.sum(log_total))


def parameter_names(model: str, spend: bool) -> tuple[str, ...]:
    return MODELS[model].params + (SPEND_PARAMS if spend else ())


def prior_moments(priors: ClvPriors, names) -> tuple[np.ndarray, np.ndarray]:
    """Prior mean and sd of the log-parameters (independent Normals: the configured LogNormals)."""
    return (np.array([getattr(priors, name).mu for name in names], dtype="float64"),
            np.array([getattr(priors, name).sigma for name in names], dtype="float64"))


def build_model(cells: pd.DataFrame, spend: SpendStatistics, priors: ClvPriors, model: str = "bg_nbd",
                whitening: tuple[np.ndarray, np.ndarray] | None = None) -> pm.Model:
    """The joint model: theta = the log-parameters (``model``'s, then Gamma-Gamma's when some repeat buyer
    spent something) ~ independent Normals from the config, the weighted purchase and Gamma-Gamma terms
    as potentials.

    With ``whitening`` = (theta_hat, L), the posterior mode and the Cholesky factor of the curvature
    there (:func:`posterior_mode`), the free variable is z = L^T (theta - theta_hat) with the
    multivariate normal prior that the prior on theta implies: an exact linear change of variables
    (the posterior is unchanged) that makes the posterior nearly round, so NUTS takes few leapfrog
    steps per draw and gives nearly independent draws however correlated the parameters are (the
    Pareto/NBD's s and beta are, strongly).
    """
    names = parameter_names(model, len(spend) > 0)
    mean, sd = prior_moments(priors, names)
    with pm.Model(coords={"parameter": list(names)}) as built:
        if whitening is None:
            theta = pm.Normal("log_parameters", mu=mean, sigma=sd, dims="parameter")
        else:
            mode, chol = whitening
            prior_chol = np.linalg.cholesky(chol.T @ np.diag(sd**2) @ chol)
            z = pm.MvNormal("whitened", mu=chol.T @ (mean - mode), chol=prior_chol, dims="parameter")
            theta = mode + pt.dot(np.linalg.inv(chol.T), z)
        values = {name: pm.Deterministic(name, pt.exp(theta[i])) for i, name in enumerate(names)}
        pm.Potential("purchases_loglik", MODELS[model].loglik(cells, values))
        if len(spend):
            pm.Potential("spend_loglik", gamma_gamma_loglik(spend, values["p"], values["q"], values["v"]))
    return built


def posterior_mode(model: pm.Model, priors: ClvPriors) -> tuple[np.ndarray, np.ndarray]:
    """The posterior mode of the log-parameters of an unwhitened :func:`build_model` (L-BFGS from the
    prior mean), and the Cholesky factor of the curvature (negative Hessian of the log posterior)
    there, by central differences of the gradient; eigenvalues below the smallest prior precision are
    raised to it, so the factor exists wherever the mode lies."""
    mean, sd = prior_moments(priors, model.coords["parameter"])
    value = model.rvs_to_values[model["log_parameters"]]
    logp = model.logp()
    function = pytensor.function([value], [-logp, -pt.grad(logp, value)])
    mode = minimize(lambda theta: [np.asarray(part, dtype="float64") for part in function(theta)], mean, jac=True,
                    method="L-BFGS-B").x
    step = 1e-5
    columns = [(function(mode + step * unit)[1] - function(mode - step * unit)[1]) / (2 * step) for unit in np.eye(len(mode))]
    hessian = np.array(columns)
    values, vectors = np.linalg.eigh((hessian + hessian.T) / 2)
    hessian = (vectors * np.maximum(values, np.min(1 / sd**2))) @ vectors.T
    return mode, np.linalg.cholesky(hessian)


def fit_map(model: pm.Model, priors: ClvPriors) -> xr.DataTree:
    """The posterior mode (:func:`posterior_mode`), as a one-draw posterior marked ``inference: map``."""
    mode, _ = posterior_mode(model, priors)
    names = list(model.coords["parameter"])
    posterior = xr.Dataset({name: (("chain", "draw"), np.exp(mode[i]).reshape(1, 1)) for i, name in enumerate(names)})
    posterior["log_parameters"] = (("chain", "draw", "parameter"), mode.reshape(1, 1, -1))
    posterior = posterior.assign_coords(parameter=names)
    tree = xr.DataTree.from_dict({"posterior": posterior})
    tree.attrs["inference"] = "map"
    return tree


def spend_coefficients(x, p, q, v):
    """Gamma-Gamma's expected spend is linear in the mean spend z given x purchases: (base, slope) with
    E = base + slope z, base = (1 - w) p v / (q - 1), slope = w = p x / (p x + q - 1); NaN when q <= 1 (the
    population mean is infinite)."""
    x = np.asarray(x, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        population = np.where(q > 1, p * v / (q - 1), np.nan)
        weight = np.where(q > 1, p * x / (p * x + q - 1), np.nan)
    return (1 - weight) * population, weight


def expected_spend(x, z, p, q, v):
    """E[value of a future purchase | x purchases of mean value z] under Gamma-Gamma (NaN when q <= 1)."""
    base, slope = spend_coefficients(x, p, q, v)
    return base + slope * z

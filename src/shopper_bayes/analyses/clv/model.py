"""BG/NBD and Gamma-Gamma, fitted on weighted sufficient statistics, and their closed-form predictions.

BG/NBD (Fader, Hardie & Lee 2005): while alive a customer buys at Poisson rate lambda ~ Gamma(r,
alpha) (rate alpha), and after each purchase drops out for good with probability p ~ Beta(a, b).
Its likelihood depends on a customer only through (frequency x, recency t_x, age T), so customers
sharing a triple share one term: the fit sums the distinct triples' log densities (PyMC-Marketing's
``BetaGeoNBD``) times their counts. Gamma-Gamma: a customer's repeat purchases are Gamma(p, nu)
values with nu ~ Gamma(q, v); its likelihood depends on (x, mean spend), summed over distinct pairs
with their counts. The two models share no parameter; they are fitted in one PyMC model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pymc_marketing.clv.distributions import BetaGeoNBD
from scipy.special import hyp2f1

from shopper_bayes.analyses.clv.config import ClvPriors

PURCHASE_PARAMS = ("r", "alpha", "a", "b")
SPEND_PARAMS = ("p", "q", "v")


def triples(customers: pd.DataFrame) -> pd.DataFrame:
    """Distinct (frequency, recency, T) with the number of customers sharing each."""
    return customers.groupby(["frequency", "recency", "T"], sort=True).size().rename("customers").reset_index()


def spend_pairs(customers: pd.DataFrame) -> pd.DataFrame:
    """Distinct (frequency, monetary_value) of repeat buyers with positive mean spend, with counts."""
    buyers = customers[(customers["frequency"] > 0) & (customers["monetary_value"] > 0)]
    return buyers.groupby(["frequency", "monetary_value"], sort=True).size().rename("customers").reset_index()


def gamma_gamma_logp(x, z, p, q, v):
    """Log density of a mean spend z over x purchases under Gamma-Gamma (Fader & Hardie 2013, eq. 1a)."""
    return (pt.gammaln(p * x + q) - pt.gammaln(p * x) - pt.gammaln(q) + q * pt.log(v)
            + (p * x - 1) * pt.log(z) + p * x * pt.log(x) - (p * x + q) * pt.log(x * z + v))


def _priors(priors: ClvPriors, spend: bool) -> dict:
    """The LogNormal priors on (r, alpha, a, b, p, q, v), written in coordinates in which the posterior
    is nearly uncorrelated (NUTS with a diagonal mass matrix then takes few steps).

    Each coordinate is a linear combination of log-parameters, each given its conditional Normal,
    so the joint prior is exactly the configured independent LogNormals: log r; log(alpha / r), the
    inverse mean purchase rate; log a; log(b / a); log q; log p; log(p v / q), the scale of mean spend.
    """
    def normal(name, shift, parameter):
        prior = getattr(priors, parameter)
        return pm.Normal(name, mu=shift + prior.mu, sigma=prior.sigma)

    log_r = normal("log_r", 0.0, "r")
    log_alpha = log_r + normal("log_alpha_over_r", -log_r, "alpha")
    log_a = normal("log_a", 0.0, "a")
    log_b = log_a + normal("log_b_over_a", -log_a, "b")
    values = {"r": pt.exp(log_r), "alpha": pt.exp(log_alpha), "a": pt.exp(log_a), "b": pt.exp(log_b)}
    if spend:
        log_q = normal("log_q", 0.0, "q")
        log_p = normal("log_p", 0.0, "p")
        log_scale = normal("log_spend_scale", log_p - log_q, "v")  # log(p v / q)
        values |= {"p": pt.exp(log_p), "q": pt.exp(log_q), "v": pt.exp(log_scale - log_p + log_q)}
    return {name: pm.Deterministic(name, value) for name, value in values.items()}


def build_model(cells: pd.DataFrame, pairs: pd.DataFrame, priors: ClvPriors) -> pm.Model:
    """The joint model: LogNormal priors from the config, weighted BG/NBD and Gamma-Gamma terms."""
    with pm.Model() as model:
        values = _priors(priors, spend=len(pairs) > 0)
        observed = np.column_stack([cells["recency"], cells["frequency"]]).astype("float64")
        purchases = BetaGeoNBD.dist(a=values["a"], b=values["b"], r=values["r"], alpha=values["alpha"],
                                    T=cells["T"].to_numpy("float64"))
        pm.Potential("purchases_loglik", pt.dot(cells["customers"].to_numpy("float64"), pm.logp(purchases, observed)))
        if len(pairs):
            spend = gamma_gamma_logp(pairs["frequency"].to_numpy("float64"), pairs["monetary_value"].to_numpy("float64"),
                                     values["p"], values["q"], values["v"])
            pm.Potential("spend_loglik", pt.dot(pairs["customers"].to_numpy("float64"), spend))
    return model


def fit_map(model: pm.Model, seed: int) -> xr.DataTree:
    """The posterior mode by ``pm.find_MAP``, as a one-draw posterior marked ``inference: map``."""
    with model:
        point = pm.find_MAP(progressbar=False, seed=seed)
    names = [var.name for var in (*model.free_RVs, *model.deterministics)]
    posterior = xr.Dataset({name: (("chain", "draw"), np.asarray(point[name], dtype="float64").reshape(1, 1))
                            for name in names})
    tree = xr.DataTree.from_dict({"posterior": posterior})
    tree.attrs["inference"] = "map"
    return tree


# ---------------------------------------------------------------- predictions (numpy, broadcasting)


def odds_dead(x, t_x, T, r, alpha, a, b):
    """P(dropped out) / P(alive) given (x, t_x, T): 0 for customers without a repeat purchase."""
    x = np.asarray(x, dtype="float64")
    ratio = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300), 0.0)
    return ratio * ((alpha + T) / (alpha + t_x)) ** (r + x)


def p_alive(x, t_x, T, r, alpha, a, b):
    """P(still alive at T | x, t_x, T) under BG/NBD."""
    return 1.0 / (1.0 + odds_dead(x, t_x, T, r, alpha, a, b))


def purchases_if_alive(t, x, T, r, alpha, a, b):
    """E[purchases in (T, T + t] | x, T, alive at T] under BG/NBD (Fader, Hardie & Lee 2005, eq. 10
    without its P(alive) denominator); depends on the customer through (x, T) only."""
    x = np.asarray(x, dtype="float64")
    # a = 1 is a removable singularity of the closed form; 1e-4 away it is exact to about 1e-4 relative
    a = np.where(np.abs(a - 1) < 1e-4, 1 + 1e-4, a)
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1)
    return head * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))


def expected_purchases(t, x, t_x, T, r, alpha, a, b):
    """E[purchases in (T, T + t] | x, t_x, T] under BG/NBD (Fader, Hardie & Lee 2005, eq. 10)."""
    return purchases_if_alive(t, x, T, r, alpha, a, b) / (1 + odds_dead(x, t_x, T, r, alpha, a, b))


def expected_spend(x, z, p, q, v):
    """E[value of a future purchase | x purchases of mean value z] under Gamma-Gamma; with q <= 1 the
    population mean is infinite (NaN here)."""
    x = np.asarray(x, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        population = np.where(q > 1, p * v / (q - 1), np.nan)
        weight = np.where(q > 1, p * x / (p * x + q - 1), np.nan)
    return (1 - weight) * population + weight * z

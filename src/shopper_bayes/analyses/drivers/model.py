"""The logistic regression of purchase on standardised behaviour, built with PyMC directly.

    purchase_i ~ Bernoulli(invlogit(intercept + x_i . beta))
    intercept ~ Normal(intercept_loc, intercept_scale),  beta_j ~ Normal(0, slope_scale)

It is sampled in whitened coordinates: with theta = (intercept, beta), theta_hat the posterior mode
and H = L L^T the curvature (negative Hessian of the log posterior) there, the free variable is
z = L^T (theta - theta_hat). This is an exact linear change of variables (the prior on theta becomes
the multivariate normal prior on z it implies, so the posterior is unchanged); it only makes the
posterior nearly round, so NUTS needs a few leapfrog steps per draw whatever the correlations
between inputs (bounce and exit rates are strongly correlated).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pymc as pm
from scipy.special import expit

from shopper_bayes.analyses.drivers.config import LogitPrior

NEWTON_STEPS = 50
INPUTS = ("whitened_design",)  # data containers compiled as inputs (the fit's ``inputs``)


def prior_moments(prior: LogitPrior, terms: int) -> tuple[np.ndarray, np.ndarray]:
    """Prior mean and sd of theta = (intercept, beta)."""
    mean = np.zeros(terms + 1)
    mean[0] = prior.intercept_loc
    sd = np.full(terms + 1, prior.slope_scale)
    sd[0] = prior.intercept_scale
    return mean, sd


def posterior_mode(x: np.ndarray, y: np.ndarray, prior: LogitPrior) -> tuple[np.ndarray, np.ndarray]:
    """The posterior mode of theta by Newton's method, and the Cholesky factor of the curvature there."""
    design = np.column_stack([np.ones(len(x)), x])
    mean, sd = prior_moments(prior, x.shape[1])
    precision = 1 / sd**2
    theta = mean.copy()
    for _ in range(NEWTON_STEPS):
        p = expit(design @ theta)
        gradient = design.T @ (y - p) - precision * (theta - mean)
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(precision)
        step = np.linalg.solve(hessian, gradient)
        theta = theta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    p = expit(design @ theta)
    hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(precision)
    return theta, np.linalg.cholesky(hessian)


def build_model(x: np.ndarray, y: np.ndarray, terms: list[str], prior: LogitPrior) -> pm.Model:
    """The model above, with theta = theta_hat + L^-T z and z's implied multivariate normal prior."""
    mode, chol = posterior_mode(x, y, prior)
    mean, sd = prior_moments(prior, x.shape[1])
    unwhiten = np.linalg.inv(chol.T)  # theta = mode + unwhiten @ z
    design = np.column_stack([np.ones(len(x)), x])
    prior_chol = np.linalg.cholesky(chol.T @ np.diag(sd**2) @ chol)
    coords = {"coef": ["intercept", *terms], "term": terms}
    with pm.Model(coords=coords) as model:
        z = pm.MvNormal("whitened", mu=chol.T @ (mean - mode), chol=prior_chol, dims="coef")
        theta = mode + pm.math.dot(unwhiten, z)
        pm.Deterministic("intercept", theta[0])
        pm.Deterministic("beta", theta[1:], dims="term")
        # The whitened design enters as data (an input of the compiled model, see INPUTS), not as a constant
        # of a few MB, which numba cannot keep in its on-disk cache.
        whitened_design = pm.Data("whitened_design", design @ unwhiten)
        pm.Bernoulli("purchase", logit_p=design @ mode + pm.math.dot(whitened_design, z), observed=y)
    return model


def fit_key(x: np.ndarray, y: np.ndarray, terms: list[str], prior: LogitPrior) -> str:
    """What the model is fitted to: the design, outcomes, term names and priors."""
    digest = hashlib.sha256()
    for part in (np.ascontiguousarray(x).tobytes(), np.ascontiguousarray(y).tobytes(), "|".join(terms).encode(),
                 prior.model_dump_json().encode()):
        digest.update(part)
    return f"drivers-logit-whitened-v1|{digest.hexdigest()}"

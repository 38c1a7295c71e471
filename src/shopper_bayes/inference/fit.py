"""Fit a PyMC model with NUTS and return an ArviZ DataTree.

Kept apart from model building: the sampler, draws, chains and seed come from the config.
"""

from __future__ import annotations

import logging

import pymc as pm
import xarray as xr

from shopper_bayes.config import SamplerConfig

PRIOR_DRAWS = 1000


def sample(model: pm.Model, sampler: SamplerConfig, seed: int) -> xr.DataTree:
    """Posterior, prior, prior and posterior predictive, log-likelihood, sample stats and observed data."""
    logging.getLogger("pymc").setLevel(logging.ERROR)
    with model:
        tree = pm.sample(
            draws=sampler.draws,
            tune=sampler.tune,
            chains=sampler.chains,
            random_seed=seed,
            nuts_sampler=sampler.backend,
            target_accept=sampler.target_accept,
            progressbar=False,
            compute_convergence_checks=False,  # diagnostics.check reports convergence, once and in full
        )
        pm.compute_log_likelihood(tree, progressbar=False)
        pm.sample_posterior_predictive(tree, random_seed=seed + 1, extend_inferencedata=True, progressbar=False)
        prior = pm.sample_prior_predictive(draws=PRIOR_DRAWS, random_seed=seed + 2)
    for group in ("prior", "prior_predictive"):
        tree[group] = prior[group]
    return tree

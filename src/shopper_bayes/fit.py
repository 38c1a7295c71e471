"""Fit a PyMC model with NUTS and return an ArviZ DataTree.

Kept apart from model building: the sampler, draws, chains and seed come from the config.
"""

from __future__ import annotations

import logging

import pymc as pm
import xarray as xr

from shopper_bayes.config import SamplerConfig


def sample(model: pm.Model, sampler: SamplerConfig, seed: int) -> xr.DataTree:
    """Posterior, log-likelihood, posterior predictive, sample stats and observed data."""
    logging.getLogger("pymc").setLevel(logging.ERROR)
    with model:
        tree = pm.sample(
            draws=sampler.draws,
            tune=sampler.tune,
            chains=sampler.chains,
            random_seed=seed,
            nuts_sampler=sampler.backend,
            progressbar=False,
        )
        pm.compute_log_likelihood(tree, progressbar=False)
        pm.sample_posterior_predictive(tree, random_seed=seed + 1, extend_inferencedata=True, progressbar=False)
    return tree

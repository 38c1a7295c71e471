"""Fit a PyMC model and return an ArviZ DataTree: by NUTS, or exactly where the posterior is closed-form.

Kept apart from model building: the sampler, draws, chains and seed come from the config. Both ways
give the same layout (posterior with chains, log-likelihood, prior and posterior predictive), so
diagnostics, LOO and every figure work on either; ``tree.attrs["inference"]`` says which it was.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import arviz_base as azb
import numpy as np
import pymc as pm
import xarray as xr

from shopper_bayes.config import SamplerConfig

PRIOR_DRAWS = 1000
logging.getLogger("pymc").setLevel(logging.ERROR)  # the run reports its own steps and the gate's verdict


def _predictive(model: pm.Model, tree: xr.DataTree, seed: int, predictive: bool = True) -> xr.DataTree:
    """Add log-likelihood, and unless ``predictive`` is False the posterior predictive, prior and prior
    predictive, all from the model (each needs a compiled function: a model whose analysis checks its fit
    another way can skip them)."""
    logging.getLogger("pymc").setLevel(logging.ERROR)
    with model:
        pm.compute_log_likelihood(tree, progressbar=False)
        if not predictive:
            return tree
        pm.sample_posterior_predictive(tree, random_seed=seed + 1, extend_inferencedata=True, progressbar=False)
        prior = pm.sample_prior_predictive(draws=PRIOR_DRAWS, random_seed=seed + 2)
    for group in ("prior", "prior_predictive"):
        tree[group] = prior[group]
    return tree


def sample(model: pm.Model, sampler: SamplerConfig, seed: int, predictive: bool = True) -> xr.DataTree:
    """NUTS: posterior, sample stats, log-likelihood, prior and posterior predictive, observed data.

    nutpie compiles the model with its data frozen to constants (``freeze_model``), so the terms that
    depend on the data alone (the binomial coefficients of the rate models) are folded at compile
    time instead of recomputed at every gradient: half the time per leapfrog step on 1,000 cells.
    """
    compile_kwargs = {"freeze_model": True} if sampler.backend == "nutpie" else None
    with model:
        tree = pm.sample(
            draws=sampler.draws,
            tune=sampler.tune,
            chains=sampler.chains,
            random_seed=seed,
            nuts_sampler=sampler.backend,
            target_accept=sampler.target_accept,
            compile_kwargs=compile_kwargs,
            progressbar=False,
            compute_convergence_checks=False,  # diagnostics.check reports convergence, once and in full
        )
    tree = _predictive(model, tree, seed, predictive)
    tree.attrs["inference"] = "mcmc"
    return tree


def exact(model: pm.Model, posterior: dict[str, np.ndarray], seed: int) -> xr.DataTree:
    """A closed-form posterior: ``posterior`` maps each free variable of ``model`` to independent draws
    of shape (chain, draw, *the variable's shape)``; dims and coords are taken from the model."""
    dims = {name: list(model.named_vars_to_dims.get(name, ())) for name in posterior}
    coords = {dim: list(values) for dim, values in model.coords.items()}
    tree = azb.from_dict({"posterior": posterior}, coords=coords, dims=dims)
    tree = _predictive(model, tree, seed)
    tree.attrs["inference"] = "exact"
    return tree


class FitCache:
    """Fits of one run by key: a model fitted to the same data with the same settings is sampled once.

    The key must describe what the model was fitted to (the counts, the model and its priors, the
    sampler); the runner hands ``fit`` to every analysis, so two analyses that fit the same model to
    the same counts share one posterior.
    """

    def __init__(self, sampler: SamplerConfig, seed: int, saved: Path | None = None):
        """``saved``: a folder of posteriors from an earlier run (``models/``) to reuse when one was fitted
        to exactly the same key; ``sources`` then says, per key, whether it was reused or fitted."""
        self.sampler, self.seed, self.saved = sampler, seed, saved
        self.trees: dict[str, xr.DataTree] = {}
        self.sources: dict[str, str] = {}
        self.fits = 0

    def _saved(self, digest: str) -> xr.DataTree | None:
        for path in sorted(self.saved.glob("*.nc")) if self.saved and self.saved.is_dir() else []:
            try:
                with xr.open_datatree(path, engine="h5netcdf") as tree:
                    if tree.attrs.get("fit_key") == digest:
                        self.sources[digest] = f"reused {path}"
                        return tree.load()
            except Exception:  # an unreadable or foreign file is never trusted, just passed over
                continue
        return None

    def fit(self, model: pm.Model | Callable[[], pm.Model], key: str, *, posterior: Callable[[], dict] | None = None,
            predictive: bool = True, **overrides) -> xr.DataTree:
        """``model`` (or a function that builds it, so a cached fit costs no model building); with
        ``posterior`` (a function returning exact draws) the closed form is used instead of NUTS;
        ``predictive=False`` skips the prior and posterior predictive groups."""
        sampler = self.sampler.model_copy(update=overrides) if overrides else self.sampler
        full = f"{key}|{sampler.model_dump_json()}|{self.seed}|{'exact' if posterior else 'mcmc'}|{predictive}"
        digest = hashlib.sha256(full.encode()).hexdigest()
        if digest not in self.trees:
            tree = self._saved(digest)
            if tree is None:
                built = model() if callable(model) and not isinstance(model, pm.Model) else model
                self.fits += 1
                tree = exact(built, posterior(), self.seed) if posterior else sample(built, sampler, self.seed, predictive)
                tree.attrs["fit_key"] = digest
                self.sources[digest] = "fitted"
            self.trees[digest] = tree
        return self.trees[digest]

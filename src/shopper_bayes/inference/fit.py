"""Fit a PyMC model and return an ArviZ DataTree: by NUTS, or exactly where the posterior is closed-form.

Kept apart from model building: the sampler, draws, chains and seed come from the config. Both ways
give the same layout (posterior with chains, log-likelihood, prior and posterior predictive), so
diagnostics, LOO and every figure work on either; ``tree.attrs["inference"]`` says which it was.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import arviz_base as azb
import numpy as np
import pymc as pm
import xarray as xr

from shopper_bayes.config import SamplerConfig
from shopper_bayes.inference.compiled import Compiled

PRIOR_DRAWS = 1000
logging.getLogger("pymc").setLevel(logging.ERROR)  # the run reports its own steps and the gate's verdict


GROUPS = ("log_likelihood", "posterior_predictive", "prior")


def _forward_mode():
    """How prior and posterior predictive draws are compiled: PyTensor's Python implementations of the optimised
    graph. Compiling a forward-sampling function to machine code took 2-7 s per model in a run's first process
    (numba; every model of a first run after installation) to save nothing later: per model, warm, 0.08-1.0 s
    against 0.27-0.65 s compiled (benchmarks/README.md). The log-likelihood keeps PyMC's default (compiled):
    the ad model's took 22 s in Python against 0.2 s compiled."""
    from pytensor.compile.mode import Mode

    return Mode(linker="py", optimizer="fast_run")


def _predictive(model: pm.Model, tree: xr.DataTree, seed: int, groups: Sequence[str] = GROUPS) -> xr.DataTree:
    """Add the ``groups`` asked for, all from the model: ``log_likelihood``, ``posterior_predictive``, and
    ``prior`` (the prior and prior predictive groups). Each needs a compiled function and, for a model of
    many observations, draws x observations of memory: an analysis asks only for what it reads."""
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown groups {sorted(unknown)}: choose from {GROUPS}")
    logging.getLogger("pymc").setLevel(logging.ERROR)
    with model:
        if "log_likelihood" in groups:
            pm.compute_log_likelihood(tree, progressbar=False)
        if "posterior_predictive" in groups:
            pm.sample_posterior_predictive(tree, random_seed=seed + 1, extend_inferencedata=True, progressbar=False,
                                          compile_kwargs={"mode": _forward_mode()})
        if "prior" in groups:
            prior = pm.sample_prior_predictive(draws=PRIOR_DRAWS, random_seed=seed + 2, compile_kwargs={"mode": _forward_mode()})
            for group in ("prior", "prior_predictive"):
                tree[group] = prior[group]
    return tree


def one_blas_thread():
    """Matrix products on one thread while a model is fitted. nutpie runs the chains on the cores already,
    and a run may run two analyses at once: a product split over BLAS threads then only waits for them
    (the drivers model on 16,000 sessions x 40 columns: NUTS took 12-13 times the wall time and 11 times the
    CPU time with two OpenBLAS threads on two cores; benchmarks/README.md)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def sample(model: pm.Model, sampler: SamplerConfig, seed: int, groups: Sequence[str] = GROUPS,
           compiled: Compiled | None = None, inputs: Sequence[str] = ()) -> xr.DataTree:
    """NUTS: posterior, sample stats, observed data and the ``groups`` of :func:`_predictive` (all by default).

    With nutpie the model is compiled by ``compiled`` (:mod:`~shopper_bayes.inference.compiled`: once per
    structure, its data frozen into the code except the ``inputs`` containers, the machine code cached
    across runs) and sampled as ``pm.sample`` would (the same chain seeds and settings), its chains on
    every core this process may use (the draws do not depend on the number of threads). BLAS runs on one
    thread meanwhile (:func:`one_blas_thread`).
    """
    with one_blas_thread():
        if sampler.backend == "nutpie":
            tree = _nutpie(model, sampler, seed, compiled or Compiled(), inputs)
        else:
            with model:
                tree = pm.sample(draws=sampler.draws, tune=sampler.tune, chains=sampler.chains, random_seed=seed,
                                 nuts_sampler="pymc", target_accept=sampler.target_accept, progressbar=False,
                                 compute_convergence_checks=False)  # diagnostics.check reports convergence in full
        tree = _predictive(model, tree, seed, groups)
    tree.attrs["inference"] = "mcmc"
    return tree


def _cores() -> int:
    """The cores this process may use (``sched_getaffinity`` where the system has it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _nutpie(model: pm.Model, sampler: SamplerConfig, seed: int, compiled: Compiled,
            inputs: Sequence[str]) -> xr.DataTree:
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata

    chain_seeds = [rng.integers(2**30) for rng in np.random.default_rng(seed).spawn(sampler.chains)]  # as pm.sample
    model_compiled = compiled.get(model, inputs)
    started = time.time()
    tree = nutpie.sample(model_compiled, draws=sampler.draws, tune=max(sampler.tune, 1), chains=sampler.chains,
                         cores=min(sampler.chains, _cores()), seed=int(chain_seeds[0]),
                         save_warmup=False, store_unconstrained=False, progress_bar=False,
                         target_accept=sampler.target_accept)
    patch_nutpie_idata(tree, model, sampling_time=time.time() - started)
    return tree


def exact(model: pm.Model, posterior: dict[str, np.ndarray], seed: int, groups: Sequence[str] = GROUPS,
          closed_form: Callable[[dict[str, np.ndarray], Sequence[str]], dict[str, dict[str, np.ndarray]]] | None = None
          ) -> xr.DataTree:
    """A closed-form posterior: ``posterior`` maps each free variable of ``model`` to independent draws
    of shape (chain, draw, *the variable's shape)``; dims and coords are taken from the model.

    ``closed_form(posterior, groups)``: the other groups by formula (group -> variable -> array, laid out as
    :func:`_predictive` lays them out), so that no PyMC function is compiled (1.5-3 s per model); without it
    they come from the model."""
    dims = {name: list(values) for name, values in model.named_vars_to_dims.items()}
    coords = {dim: list(values) for dim, values in model.coords.items()}
    formulas = closed_form(posterior, groups) if closed_form is not None else {}
    tree = azb.from_dict({"posterior": posterior, **formulas}, coords=coords, dims=dims)
    if closed_form is None:
        with one_blas_thread():
            tree = _predictive(model, tree, seed, groups)
    tree.attrs["inference"] = "exact"
    return tree


# how much lower than the caller's a fit's CPU priority is in a parallel run (:func:`yielding`): at nice +10 a thread
# gets about a tenth of a core that a thread at the caller's priority also wants (Linux's weights 1024 and 110)
FIT_NICENESS = 10


def yielding(function: Callable[[], object]) -> object:
    """``function()`` on a thread of its own at a lower CPU priority (:data:`FIT_NICENESS`; on Linux a thread's priority
    is its own, and the threads it starts, nutpie's chains, inherit it). In a parallel run the engine's statistics in
    the other worker then take the cores first and a fit (or a bootstrap) takes what they leave, instead of half of
    them: the analyses' statistics end sooner and the run as a whole is no longer (benchmarks/README.md). Elsewhere
    (not Linux) it just calls ``function``. Its exceptions are raised here; its result is returned. Stopped while it
    waits (a worker's SIGTERM), it does not wait for the thread: the worker ends with it."""
    import sys
    import threading
    from concurrent.futures import ThreadPoolExecutor

    if sys.platform != "linux":
        return function()

    def lowered():
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + FIT_NICENESS)
        return function()

    pool = ThreadPoolExecutor(1, thread_name_prefix="yielding")
    try:
        return pool.submit(lowered).result()
    finally:
        pool.shutdown(wait=False)


class FitCache:
    """Fits of one run by key: a model fitted to the same data with the same settings is sampled once.

    The key must describe what the model was fitted to (the counts, the model and its priors, the
    sampler); the runner hands ``fit`` to every analysis, so two analyses that fit the same model to
    the same counts share one posterior.
    """

    def __init__(self, sampler: SamplerConfig, seed: int, saved: Path | None = None, yielding: bool = False):
        """``saved``: a folder of posteriors from an earlier run (``models/``) to reuse when one was fitted
        to exactly the same key; ``sources`` then says, per key, whether it was reused or fitted. ``yielding``: each
        fit at a lower CPU priority than the statistics (:func:`yielding`; a parallel run's workers)."""
        self.sampler, self.seed, self.saved, self.yielding = sampler, seed, saved, yielding
        self.compiled = Compiled()
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
            closed_form: Callable | None = None, groups: Sequence[str] = GROUPS, inputs: Sequence[str] = (),
            **overrides) -> xr.DataTree:
        """``model`` (or a function that builds it, so a cached fit costs no model building); with
        ``posterior`` (a function returning exact draws) the closed form is used instead of NUTS, and with
        ``closed_form`` the other groups too (:func:`exact`);
        ``groups``: which of log-likelihood, posterior predictive and prior (with prior predictive) to add. ``inputs``: data containers
        compiled as inputs, so every fit of the run with the same model structure and other values of
        them reuses one compiled model (the others are frozen into the code: faster gradients)."""
        sampler = self.sampler.model_copy(update=overrides) if overrides else self.sampler
        full = f"{key}|{sampler.model_dump_json()}|{self.seed}|{'exact' if posterior else 'mcmc'}|{','.join(groups)}"
        digest = hashlib.sha256(full.encode()).hexdigest()
        if digest not in self.trees:
            tree = self._saved(digest)
            if tree is None:
                def fitted() -> xr.DataTree:
                    built = model() if callable(model) and not isinstance(model, pm.Model) else model
                    return (exact(built, posterior(), self.seed, groups, closed_form) if posterior
                            else sample(built, sampler, self.seed, groups, self.compiled, inputs))

                self.fits += 1
                tree = yielding(fitted) if self.yielding else fitted()
                tree.attrs["fit_key"] = digest
                self.sources[digest] = "fitted"
            self.trees[digest] = tree
        return self.trees[digest]

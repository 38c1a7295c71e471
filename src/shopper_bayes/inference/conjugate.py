"""Exact draws from conjugate posteriors (no MCMC): Dirichlet shares of counts, Beta rates.

Counts ``n_k`` of independent, exchangeable units falling in K classes, with a Dirichlet(prior) prior
on the class shares, give the posterior Dirichlet(prior + n_k); a Beta(alpha, beta) prior on a rate
with ``k`` of ``n`` units gives Beta(alpha + k, beta + n - k). Both are drawn directly with numpy.
"""

from __future__ import annotations

import numpy as np


def dirichlet_shares(counts, prior: float, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Posterior draws of the shares, shape (draws, K), from Dirichlet(prior + counts)."""
    return rng.dirichlet(np.asarray(counts, dtype=float) + prior, size=draws)


def beta_rate(successes: int, trials: int, alpha: float, beta: float, draws: int,
              rng: np.random.Generator) -> np.ndarray:
    """Posterior draws of a rate, from Beta(alpha + successes, beta + trials - successes)."""
    return rng.beta(alpha + successes, beta + trials - successes, size=draws)


def central_interval(draws: np.ndarray, prob: float, axis: int = 0) -> np.ndarray:
    """The central ``prob`` interval of ``draws`` along ``axis``: an array of (lower, upper)."""
    return np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2], axis=axis)

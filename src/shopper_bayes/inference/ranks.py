"""Rank histograms per chain with the band of counts expected when the chains agree, and the test it draws.

A variable's draws are ranked over all chains together, after thinning each chain to every k-th draw
(k from each chain's own bulk and tail ESS, :func:`thin_factor`) so that the kept draws are nearly
independent; each chain's ranks are counted in equal bins (the last few draws of each chain, fewer than
the number of bins, are left out so that every bin holds as many ranks). If every chain samples the same
distribution, the ranks are spread over the chains at random: a chain's count in a bin is then
hypergeometric (its draws among all draws, the bin's ranks among all ranks). The band holds every
bar of a panel (bins x chains) with probability at least ``prob`` (Bonferroni: each bar's own
two-sided test at level (1 - prob) / bars), and the panel's p-value is the Bonferroni-adjusted
smallest bar p-value, so "a bar outside the band" and "p < 1 - prob" are the same event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

MAX_BINS = 20
MIN_PER_BIN = 20  # fewer bins for short chains: at least this many draws expected per bin and chain


@dataclass(frozen=True)
class RankHistogram:
    """One variable: ``counts`` (chain, bin) of ranks, the band ``low`` to ``high`` (the same for every bin), the
    p-value."""

    counts: np.ndarray
    low: float
    high: float
    expected: float
    thin: int
    p_value: float
    prob: float

    @property
    def flagged(self) -> bool:
        return self.p_value < 1 - self.prob


def _two_sided(dist, k: np.ndarray) -> np.ndarray:
    """Two-sided p-value of a count ``k``: twice the smaller tail, at most 1."""
    return np.minimum(1.0, 2 * np.minimum(dist.cdf(k), dist.sf(k - 1)))


def thin_factor(draws: np.ndarray) -> int:
    """Keep every k-th draw, k = draws per chain / ESS per chain (the smaller of bulk and tail ESS, averaged
    over the chains), rounded. Each chain's ESS is its own: chains that disagree lower the ESS of the pooled
    draws, and thinning by that would throw away the draws that show the disagreement."""
    from arviz_stats.base import array_stats

    ess = [min(array_stats.ess(chain[None], chain_axis=0, draw_axis=1, method="bulk"),
               array_stats.ess(chain[None], chain_axis=0, draw_axis=1, method="tail", prob=0.95)) for chain in draws]
    return max(1, round(draws.shape[1] / float(np.mean(ess))))


def rank_histogram(draws: np.ndarray, prob: float, thin: int | None = None) -> RankHistogram:
    """Rank histogram of ``draws`` shaped (chain, draw), its band at ``prob`` and its p-value.
    ``thin``: keep every ``thin``-th draw (default: :func:`thin_factor`)."""
    draws = np.asarray(draws, dtype=float)
    if thin is None:
        thin = thin_factor(draws)
    kept = draws[:, ::thin]
    bins = int(min(MAX_BINS, max(2, kept.shape[1] // MIN_PER_BIN)))
    kept = kept[:, :kept.shape[1] - kept.shape[1] % bins]  # whole bins: every bin holds the same number of ranks
    chains, per_chain = kept.shape
    total = kept.size
    ranks = stats.rankdata(kept.ravel(), method="ordinal").astype(np.int64).reshape(kept.shape) - 1  # 0 .. total - 1
    which = ranks * bins // total
    counts = np.stack([np.bincount(row, minlength=bins) for row in which])
    dist = stats.hypergeom(total, total // bins, per_chain)  # one chain's count in one bin, chains agreeing
    level = (1 - prob) / (bins * chains)
    k = np.arange(per_chain + 1)
    inside = k[_two_sided(dist, k) >= level]
    smallest = float(_two_sided(dist, counts).min())
    return RankHistogram(counts=counts, low=float(inside.min()), high=float(inside.max()), expected=per_chain / bins,
                         thin=thin, p_value=min(1.0, smallest * bins * chains), prob=prob)

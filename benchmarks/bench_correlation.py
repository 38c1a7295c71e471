"""Benchmark bootstrap_correlations against scipy.stats.bootstrap, then check its peak memory.

Run from the repository root: .venv/bin/python benchmarks/bench_correlation.py

1. Memory: 1,000,000 synthetic heavy-tailed rows x 3 columns, 2,000 resamples, BCa; peak traced
   by tracemalloc (numpy reports its buffers to it) and the process's peak resident size.
2. Speed: the bundled Nov-Dec sessions, the three pairs of the three duration columns, 10,000
   resamples, BCa, 95%. scipy gets a vectorized one-pass Pearson statistic (the fastest we found)
   and the fastest of a few batch sizes; it is timed both as one call per pair (scipy bootstraps
   one statistic at a time) and as one call whose statistic returns all three r. For reference,
   also per pair with scipy.stats.pearsonr as the statistic, as scipy's documentation writes it.
   Each timing is the best of three runs. Endpoint differences are Monte Carlo noise; the
   difference between the two scipy runs shows its size.
"""

import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from shopper_bayes.correlation import bootstrap_correlations

DATA = Path(__file__).resolve().parents[1] / "data" / "online_shopping_session_data.csv"
DURATIONS = ["Administrative_Duration", "Informational_Duration", "ProductRelated_Duration"]
PAIRS = [(0, 1), (0, 2), (1, 2)]
RESAMPLES = 10_000
REPEATS = 3
BATCHES = (50, 100, 200, 500)


def pearson_one_pass(x, y, axis=-1):
    """Pearson r along ``axis`` from sums, sums of squares and the cross-product sum."""
    x, y = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    n = x.shape[-1]
    sx, sy = x.sum(axis=-1), y.sum(axis=-1)
    sxy = np.einsum("...i,...i->...", x, y)
    sxx = np.einsum("...i,...i->...", x, x)
    syy = np.einsum("...i,...i->...", y, y)
    return (sxy - sx * sy / n) / np.sqrt((sxx - sx * sx / n) * (syy - sy * sy / n))


def pearsonr_statistic(x, y, axis=-1):
    """The statistic as scipy's documentation writes it for paired bootstraps."""
    return stats.pearsonr(x, y, axis=axis).statistic


def all_three_pairs(a, b, c, axis=-1):
    return np.stack([pearson_one_pass(u, v, axis) for u, v in [(a, b), (a, c), (b, c)]])


def best_time(run):
    """(fastest seconds of REPEATS runs, result of the last run)."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def scipy_per_pair(data, batch, statistic=pearson_one_pass):
    intervals = []
    for p, (i, j) in enumerate(PAIRS):
        result = stats.bootstrap(
            (data[:, i], data[:, j]),
            statistic,
            paired=True,
            vectorized=True,
            n_resamples=RESAMPLES,
            batch=batch,
            method="BCa",
            rng=np.random.default_rng(p + 1),
        )
        intervals.append(result.confidence_interval)
    return np.array(intervals)


def scipy_one_call(data, batch):
    result = stats.bootstrap(
        tuple(data.T),
        all_three_pairs,
        paired=True,
        vectorized=True,
        n_resamples=RESAMPLES,
        batch=batch,
        method="BCa",
        rng=np.random.default_rng(7),
    )
    return np.column_stack(result.confidence_interval)


def fastest_batch(data):
    """Batch size at which scipy bootstraps one pair fastest (2,000 resamples, percentile)."""
    seconds = {}
    for batch in BATCHES:
        start = time.perf_counter()
        stats.bootstrap(
            (data[:, 0], data[:, 2]),
            pearson_one_pass,
            paired=True,
            vectorized=True,
            n_resamples=2000,
            batch=batch,
            method="percentile",
            rng=np.random.default_rng(0),
        )
        seconds[batch] = time.perf_counter() - start
    return min(seconds, key=seconds.get)


def memory_check():
    rows, resamples = 1_000_000, 2000
    rng = np.random.default_rng(1)
    correlated = rng.standard_normal((rows, 3)) @ np.linalg.cholesky(
        [[1.0, 0.4, 0.3], [0.4, 1.0, 0.5], [0.3, 0.5, 1.0]]
    ).T
    frame = pd.DataFrame(np.exp(2 * correlated), columns=["a", "b", "c"])  # heavy-tailed
    tracemalloc.start()
    start = time.perf_counter()
    table = bootstrap_correlations(frame, ["a", "b", "c"], resamples=resamples)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    print(f"Memory check: {rows:,} rows x 3 columns, {resamples:,} resamples, BCa")
    print(f"  time                     {seconds:8.1f} s")
    print(f"  peak traced allocations  {peak / 2**20:8.0f} MiB (tracemalloc, during the call)")
    print(f"  peak resident size       {peak_rss / 2**20:8.0f} MiB (whole process so far)")
    print(table[["x", "y", "r", "low", "high", "note"]].to_string(index=False))
    print()


def speed_comparison():
    frame = pd.read_csv(DATA)
    frame = frame[frame["Month"].isin(["Nov", "Dec"])]
    data = frame[DURATIONS].to_numpy(dtype=float)
    print(
        f"Speed: bundled Nov-Dec sessions ({len(frame):,} rows), 3 pairs, "
        f"{RESAMPLES:,} resamples, BCa 95%"
    )

    ours_seconds, table = best_time(
        lambda: bootstrap_correlations(frame, DURATIONS, resamples=RESAMPLES)
    )
    ours = table[["low", "high"]].to_numpy()
    draws_seconds, _ = best_time(
        lambda: np.random.default_rng(0).integers(0, len(data), size=(RESAMPLES, len(data)))
    )
    batch = fastest_batch(data)
    per_pair_seconds, per_pair = best_time(lambda: scipy_per_pair(data, batch))
    one_call_seconds, one_call = best_time(lambda: scipy_one_call(data, batch))
    documented_seconds, _ = best_time(lambda: scipy_per_pair(data, batch, pearsonr_statistic))

    def timing(label, seconds, note=""):
        print(f"  {label:<28}{seconds:7.2f} s   ratio {seconds / ours_seconds:5.1f}x{note}")

    def difference(label, first, second):
        print(f"  {label:<28}{np.abs(first - second).max():7.4f}")

    print(f"  scipy batch size            {batch} (fastest of {', '.join(map(str, BATCHES))})")
    print(f"  {'bootstrap_correlations':<28}{ours_seconds:7.2f} s")
    print(f"  {'  of which index draws ~':<28}{draws_seconds:7.2f} s   (Generator.integers alone)")
    timing("scipy, one call per pair", per_pair_seconds)
    timing("scipy, one call, 3 r", one_call_seconds)
    timing("scipy, per pair, pearsonr", documented_seconds, "   (statistic as in scipy's docs)")
    print("  max |endpoint difference|")
    difference("  ours vs scipy per pair", ours, per_pair)
    difference("  ours vs scipy one call", ours, one_call)
    difference("  scipy vs scipy", per_pair, one_call)
    print(table[["x", "y", "r", "low", "high"]].to_string(index=False))


if __name__ == "__main__":
    memory_check()
    speed_comparison()

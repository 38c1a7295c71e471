"""Benchmark bootstrap_correlations against scipy.stats.bootstrap, then check its peak memory.

Run from the repository root: .venv/bin/python benchmarks/bench_correlation.py

1. Memory: 1,000,000 synthetic heavy-tailed rows x 3 columns, 2,000 resamples, BCa; peak traced
   by tracemalloc (numpy reports its buffers to it) and the process's peak resident size.
2. Speed: the bundled Nov-Dec sessions, the three pairs of the three duration columns, 10,000
   resamples, BCa, 95%. Ours is timed warm (best of three, in this process; also with a single
   numba thread) and cold: the first call in a fresh process, once with an empty numba cache (so
   it includes compiling the kernels) and once with the cache that run filled. scipy gets a
   vectorized one-pass Pearson statistic (the fastest we found) and the fastest of a few batch
   sizes; it is timed both as one call per pair (scipy bootstraps one statistic at a time) and
   as one call whose statistic returns all three r. For reference, also per pair with
   scipy.stats.pearsonr as the statistic, as scipy's documentation writes it. Each scipy timing
   is the best of three runs. Endpoint differences are Monte Carlo noise; the difference between
   the two scipy runs shows its size.

The load average is printed before and after: on a shared machine, other processes slow the
parallel kernels down more than single-threaded scipy.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numba
import numpy as np
import pandas as pd
from scipy import stats

from shopper_bayes.analyses.correlations.compute import bootstrap_correlations

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


def load_sessions():
    frame = pd.read_csv(DATA)
    return frame[frame["Month"].isin(["Nov", "Dec"])]


# Run in a fresh process: pandas and scipy come first (any caller has them loaded), so the import
# time is mostly numba's; then the first call of bootstrap_correlations.
FIRST_CALL = """
import sys, time
import pandas as pd, scipy.stats
start = time.perf_counter()
from shopper_bayes.analyses.correlations.compute import bootstrap_correlations
imported = time.perf_counter()
frame = pd.read_csv(sys.argv[1])
frame = frame[frame["Month"].isin(["Nov", "Dec"])]
called = time.perf_counter()
bootstrap_correlations(frame, sys.argv[2].split(","), resamples=int(sys.argv[3]))
print(imported - start, time.perf_counter() - called)
"""


def cold_calls():
    """(import, first call) seconds in two fresh processes sharing a new numba cache directory:
    the first compiles the kernels into it, the second loads them from it."""
    command = [sys.executable, "-c", FIRST_CALL, str(DATA), ",".join(DURATIONS), str(RESAMPLES)]
    runs = []
    with tempfile.TemporaryDirectory() as cache:
        environment = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for _ in range(2):
            output = subprocess.run(
                command, env=environment, capture_output=True, text=True, check=True
            ).stdout
            runs.append([float(value) for value in output.split()])
    return runs


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
    frame = load_sessions()
    data = frame[DURATIONS].to_numpy(dtype=float)
    print(
        f"Speed: bundled Nov-Dec sessions ({len(frame):,} rows), 3 pairs, "
        f"{RESAMPLES:,} resamples, BCa 95%; numba {numba.__version__}, "
        f"{numba.get_num_threads()} threads"
    )

    (compile_import, compile_call), (cached_import, cached_call) = cold_calls()
    ours_seconds, table = best_time(
        lambda: bootstrap_correlations(frame, DURATIONS, resamples=RESAMPLES)
    )
    ours = table[["low", "high"]].to_numpy()
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    one_thread_seconds, _ = best_time(
        lambda: bootstrap_correlations(frame, DURATIONS, resamples=RESAMPLES)
    )
    numba.set_num_threads(threads)
    batch = fastest_batch(data)
    per_pair_seconds, per_pair = best_time(lambda: scipy_per_pair(data, batch))
    one_call_seconds, one_call = best_time(lambda: scipy_one_call(data, batch))
    documented_seconds, _ = best_time(lambda: scipy_per_pair(data, batch, pearsonr_statistic))

    def timing(label, seconds, note=""):
        print(f"  {label:<28}{seconds:7.2f} s   ratio {seconds / ours_seconds:5.1f}x{note}")

    def ours_timing(label, seconds, note=""):
        ratio = per_pair_seconds / seconds
        print(f"  {label:<28}{seconds:7.2f} s   scipy per pair is {ratio:5.1f}x{note}")

    def difference(label, first, second):
        print(f"  {label:<28}{np.abs(first - second).max():7.4f}")

    print(f"  scipy batch size            {batch} (fastest of {', '.join(map(str, BATCHES))})")
    ours_timing("bootstrap_correlations", ours_seconds, "   (warm, best of three)")
    ours_timing("  one numba thread", one_thread_seconds, "   (warm, best of three)")
    ours_timing("  first call, compiling", compile_call, f"   (+ {compile_import:.2f} s import)")
    ours_timing("  first call, cached", cached_call, f"   (+ {cached_import:.2f} s import)")
    timing("scipy, one call per pair", per_pair_seconds)
    timing("scipy, one call, 3 r", one_call_seconds)
    timing("scipy, per pair, pearsonr", documented_seconds, "   (statistic as in scipy's docs)")
    print("  max |endpoint difference|")
    difference("  ours vs scipy per pair", ours, per_pair)
    difference("  ours vs scipy one call", ours, one_call)
    difference("  scipy vs scipy", per_pair, one_call)
    print(table[["x", "y", "r", "low", "high"]].to_string(index=False))


if __name__ == "__main__":
    print(f"Load average before: {os.getloadavg()[0]:.2f}")
    memory_check()
    speed_comparison()
    print(f"Load average after: {os.getloadavg()[0]:.2f}")

"""Bootstrap confidence intervals for the correlations between pairs of numeric columns.

Method: a paired bootstrap. Rows (sessions) are assumed to be i.i.d. draws and are resampled
with replacement as whole rows, so each pair keeps its pairing. One set of resamples serves every
pair: compiled kernels (numba) draw each resample's rows and sum the moments every pair's r needs
(sums, sums of squares and cross-products; for Spearman, of the ranks within the resample), in
parallel over resamples. Intervals are percentile or BCa (bias-corrected and accelerated; Efron &
Tibshirani 1993, ch. 14), with the same definitions as scipy.stats.bootstrap.
"""

import numbers

import numpy as np
import pandas as pd
from numba import njit, prange
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata

from shopper_bayes.analyses.correlations.results import POOLED
from shopper_bayes.errors import UserError

TABLE_COLUMNS = ["x", "y", "segment", "r", "low", "high", "method", "statistic", "n", "note"]
METHODS = ("percentile", "bca")
STATISTICS = ("pearson", "spearman")
MIN_RESAMPLES = 100
MIN_ROWS = 3

# Above this many rows the Spearman jackknife runs on a random subsample of this many rows.
SPEARMAN_JACKKNIFE_ROWS = 5_000

# Target size of the arrays that hold one chunk of resamples (the per-resample sums and the r
# computed from them): large enough that per-chunk overhead is negligible.
_CHUNK_BYTES = 8 * 2**20
_JACKKNIFE_BLOCK_BYTES = 64 * 2**20  # target size of one block of the Spearman jackknife
# A variance at or below this fraction of the second moment it was computed from is rounding
# error: the column is treated as constant.
_ZERO_VARIANCE = 1e-10
# Bootstrap r this close to the observed r are equal up to rounding (BCa counts them as ties).
_TIE = 1e-10
# splitmix64 (Steele, Lea & Flood 2014; the output mix of Vigna's reference implementation).
_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_LOW_32_BITS = np.uint64(0xFFFFFFFF)
# Generator outputs set aside per resample; also the "no spare half" mark (no 32-bit number).
_TWO_TO_32 = np.uint64(2**32)


def bootstrap_correlations(
    frame,
    columns,
    *,
    resamples=10_000,
    method="bca",
    seed=0,
    interval_prob=0.95,
    statistic="pearson",
    by=None,
    chunk_size=None,
):
    """Correlation and bootstrap interval for every pair of ``columns``, pooled and per segment.

    Paired bootstrap: rows are resampled with replacement (sessions assumed i.i.d.); the interval
    is the ``method`` ("percentile" or "bca") interval with probability ``interval_prob`` of the
    ``statistic`` ("pearson", or "spearman" = Pearson on average ranks, re-ranked within every
    resample).

    Rows are complete cases over all requested ``columns`` (a row missing any of them is dropped
    for every pair); ``n`` reports how many rows were used. With ``by``, the pooled rows
    (segment "all") come first, then each level of ``by`` (as text, sorted); rows whose ``by``
    value is missing count in the pooled rows only. Each segment gives exactly what running this
    function on that segment's rows alone gives.

    Pairs whose correlation or interval is undefined (fewer than 3 rows, a constant column, a
    column constant in some resample, an undefined BCa correction) get NaN and a plain-English
    ``note``; ``note`` is "" otherwise.

    Resamples are drawn by compiled kernels (numba) running in parallel over resamples. Resample
    b reads its rows from its own stretch of a splitmix64 stream whose key comes from ``seed``
    (see ``_stream_start``), so it depends on ``seed`` and b only: not on ``chunk_size`` or the
    number of threads. Pearson and Spearman see the same resamples. ``chunk_size`` (resamples per
    kernel call) defaults to about 8 MB of per-resample sums (at least one resample). Besides one
    chunk and the resamples x pairs bootstrap r, memory grows with the data only: a few copies of
    the n x k data, plus for Spearman (k + 2) * n values per thread.

    BCa acceleration comes from the exact delete-one jackknife (O(n) for Pearson). For Spearman
    with more than ``SPEARMAN_JACKKNIFE_ROWS`` rows, the jackknife runs on a random subsample of
    that many rows (drawn with ``numpy.random.default_rng(seed)``) and the acceleration is
    rescaled by sqrt(subsample / n), as the acceleration of a smooth statistic scales with
    1/sqrt(n).

    The returned table's ``attrs`` record ``interval_prob``, ``resamples`` and ``seed``.
    """
    _check_frame(frame)
    columns = _checked_columns(frame, columns)
    method = _checked_choice("method", method, METHODS)
    statistic = _checked_choice("statistic", statistic, STATISTICS)
    _check_count("resamples", resamples, MIN_RESAMPLES)
    _check_count("seed", seed, 0)
    _check_interval_prob(interval_prob)
    if chunk_size is not None:
        _check_count("chunk_size", chunk_size, 1)
    levels = [] if by is None else _segment_levels(frame, by)
    settings = {
        "resamples": resamples,
        "method": method,
        "seed": seed,
        "interval_prob": interval_prob,
        "statistic": statistic,
        "chunk_size": chunk_size,
    }
    values = np.column_stack([_numeric_values(frame, name) for name in columns])

    rows = _segment_rows(values, columns, POOLED, settings)
    if levels:
        labels = frame[by]
        known = labels.notna().to_numpy()
        text = labels.astype(str).to_numpy()
        for level in levels:
            rows += _segment_rows(values[known & (text == level)], columns, level, settings)

    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table.attrs.update(interval_prob=interval_prob, resamples=resamples, seed=seed)
    return table


def _check_frame(frame):
    if not isinstance(frame, pd.DataFrame):
        raise UserError("frame", f"is a {type(frame).__name__}", "pass a pandas DataFrame")


def _check_column(frame, name):
    found = int(np.count_nonzero(frame.columns == name))
    if found == 0:
        raise UserError(name, "not in the data", "check the spelling against the data's columns")
    if found > 1:
        raise UserError(name, "appears more than once in the data", "rename the duplicates")


def _segment_levels(frame, by):
    """The non-missing values of column ``by`` as text, sorted."""
    _check_column(frame, by)
    labels = frame[by]
    levels = sorted(set(labels[labels.notna()].astype(str)))
    if POOLED in levels:
        raise UserError(
            by, f"has a level named {POOLED!r}", f"rename it; {POOLED!r} labels the pooled rows"
        )
    return levels


def checked_names(columns) -> list[str]:
    """``columns`` as a list of at least two distinct names (the bootstrap's and the Bag of Little Bootstraps')."""
    if isinstance(columns, str):
        raise UserError("columns", "is a single name", "pass a list of at least two column names")
    columns = list(columns)
    if len(columns) < 2:
        raise UserError("columns", f"lists {len(columns)} column(s)", "pass at least two")
    for position, name in enumerate(columns):
        if name in columns[:position]:
            raise UserError("columns", f"lists {name} twice", "list each column once")
    return columns


def _checked_columns(frame, columns):
    columns = checked_names(columns)
    for name in columns:
        _check_column(frame, name)
    return columns


def _checked_choice(argument, value, choices):
    if isinstance(value, str) and value.lower() in choices:
        return value.lower()
    raise UserError(argument, f"is {value!r}", f"use one of {', '.join(map(repr, choices))}")


def _check_count(argument, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise UserError(argument, f"is {value!r}", f"use a whole number of at least {minimum}")


def _check_interval_prob(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise UserError(
            "interval_prob", f"is {value!r}", "use a probability between 0 and 1, e.g. 0.95"
        )


def _numeric_values(frame, name):
    series = frame[name]
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_complex_dtype(series):
        raise UserError(
            name,
            f"is not numeric (dtype {series.dtype})",
            "convert it, e.g. with pandas.to_numeric",
        )
    values = series.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(values).any():
        raise UserError(name, "contains infinite values", "replace them with finite values or NaN")
    return values


def _segment_rows(values, names, segment, settings):
    """Table rows for one segment; ``values`` holds the segment's rows of all requested columns."""
    where = "" if segment == POOLED else f" in segment {segment}"
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    present = ~np.isnan(values)
    empty = [names[c] for c in range(len(names)) if not present[:, c].any()]
    data = values[present.all(axis=1)]
    n = len(data)
    constant = [n >= 1 and bool(np.all(data[:, c] == data[0, c])) for c in range(len(names))]

    def upfront_note(pair):
        in_pair = [names[c] for c in pair if names[c] in empty]
        if in_pair:
            return f"{in_pair[0]} has no values{where}: correlation undefined"
        if empty:
            return (
                f"no complete rows{where}: {', '.join(empty)} has no values and rows must be "
                "complete in every requested column"
            )
        if n < MIN_ROWS:
            return f"only {n} complete rows{where}, need at least {MIN_ROWS}: correlation undefined"
        for c in pair:
            if constant[c]:
                return f"{names[c]} is constant{where}: correlation undefined"
        return ""

    notes = {pair: upfront_note(pair) for pair in pairs}
    computed = {}
    good = [pair for pair in pairs if not notes[pair]]
    if good:
        used = sorted({c for pair in good for c in pair})
        position = {c: k for k, c in enumerate(used)}
        results = _bootstrap_pairs(
            data[:, used],
            [(position[i], position[j]) for i, j in good],
            [names[c] for c in used],
            where,
            settings,
        )
        computed = dict(zip(good, results))

    rows = []
    for pair in pairs:
        r, low, high, note = computed.get(pair, (np.nan, np.nan, np.nan, notes[pair]))
        rows.append(
            {
                "x": names[pair[0]],
                "y": names[pair[1]],
                "segment": segment,
                "r": r,
                "low": low,
                "high": high,
                "method": settings["method"],
                "statistic": settings["statistic"],
                "n": n,
                "note": note,
            }
        )
    return rows


def _bootstrap_pairs(data, pairs, names, where, settings):
    """(r, low, high, note) per pair; ``data`` is complete, has >= 3 rows and no constant column."""
    k = data.shape[1]
    resamples, statistic = settings["resamples"], settings["statistic"]
    chunk_size = settings["chunk_size"] or _auto_chunk_size(k, len(pairs), resamples)
    key = _stream_key(settings["seed"])
    observed = _observed_r(data, pairs, statistic)
    boot, constant_counts = _resampled_r(data, pairs, statistic, key, resamples, chunk_size)
    acceleration = jackknife_constant = None
    if settings["method"] == "bca":
        rng = np.random.default_rng(settings["seed"])
        acceleration, jackknife_constant = _acceleration(data, pairs, statistic, rng)

    results = []
    for p, (a, b) in enumerate(pairs):
        low = high = np.nan
        note = ""
        if np.isnan(boot[:, p]).any():
            note = "; ".join(
                f"{names[c]} is constant in {constant_counts[c]:,} of {resamples:,} bootstrap "
                f"resamples{where} (too few distinct values): interval undefined"
                for c in (a, b)
                if constant_counts[c]
            )
        elif settings["method"] == "percentile":
            low, high = _percentile_interval(boot[:, p], settings["interval_prob"])
        elif np.isnan(acceleration[p]):
            name = names[a] if jackknife_constant[a] else names[b]
            note = (
                f"BCa interval undefined{where}: a jackknife sample has {name} constant, so the "
                'acceleration cannot be computed; use method="percentile"'
            )
        else:
            low, high = _bca_interval(
                boot[:, p], observed[p], acceleration[p], settings["interval_prob"]
            )
            if np.isnan(low):
                note = (
                    f"BCa interval undefined{where}: every bootstrap r falls on one side of the "
                    'observed r, so the bias correction is infinite; use method="percentile"'
                )
        results.append((observed[p], low, high, note))
    return results


def _auto_chunk_size(k, pairs, resamples):
    """Resamples per kernel call so that one chunk's arrays take about ``_CHUNK_BYTES``."""
    # Per resample, at most: the kernel's sums (Pearson: 2k + k*k), k variances and constant
    # flags, and per pair a co-moment and an r.
    per_resample = 8 * (k * k + 4 * k + 2 * pairs)
    return int(max(1, min(resamples, _CHUNK_BYTES // per_resample)))


def _stream_key(seed):
    """The 64-bit key of the resample generator for ``seed``, via numpy's SeedSequence."""
    return np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]


@njit(cache=True)
def _stream_start(key, resample):
    """The generator state just before the first output of resample ``resample`` (uint64s).

    Resample b reads the splitmix64 generator started at ``key`` from output b * 2**32 on. It
    needs about n / 2 outputs, so for n < 2**32 rows no two resamples share an output, and each
    resample is a pure function of ``key`` and b: resamples can be drawn in any order, by any
    thread.
    """
    return key + resample * _TWO_TO_32 * _GOLDEN_GAMMA


@njit(cache=True)
def _next_row(state, spare, rows, threshold):
    """The next row (0 to rows - 1) of a resample; returns the new (state, spare) and the row.

    Each splitmix64 output gives two 32-bit numbers, high half first; ``spare`` holds the low
    half until it is used (``_TWO_TO_32`` when there is none). A number u gives row
    floor(u * rows / 2**32), unless u * rows mod 2**32 is below ``threshold`` (2**32 mod rows),
    in which case it is skipped. That leaves the same count of numbers for every row (Lemire
    2019), so every row is exactly equally likely.
    """
    while True:
        if spare == _TWO_TO_32:
            state += _GOLDEN_GAMMA
            mixed = (state ^ (state >> np.uint64(30))) * _MIX_1
            mixed = (mixed ^ (mixed >> np.uint64(27))) * _MIX_2
            mixed = mixed ^ (mixed >> np.uint64(31))
            number, spare = mixed >> np.uint64(32), mixed & _LOW_32_BITS
        else:
            number, spare = spare, _TWO_TO_32
        product = number * rows
        if product & _LOW_32_BITS >= threshold:
            return state, spare, np.int64(product >> np.uint64(32))


@njit(parallel=True, cache=True)
def _pearson_sums(z, triples, key, start, size):
    """Sums over the rows of resamples start to start + size - 1 drawn from ``z`` (n x k).

    Returns ``column_sums`` (size x 2 x k: each column's sum and sum of squares) and
    ``cross_sums`` (size x k x k: entry [a, b] is the sum of z[:, a] * z[:, b], set for the pairs
    a < b within some row of ``triples``). Each resample runs in one thread; for each column
    triple (a, b, c) it draws the resample's n rows and adds up the triple's nine sums in row
    order, with no buffer. Sums that two triples share come out the same from both (the same
    values added in the same order), so both write them.
    """
    n, k = z.shape
    rows = np.uint64(n)
    threshold = _TWO_TO_32 % rows
    column_sums = np.empty((size, 2, k))
    cross_sums = np.empty((size, k, k))
    for r in prange(size):
        first_state = _stream_start(key, np.uint64(start + r))
        for t in range(len(triples)):
            a, b, c = triples[t, 0], triples[t, 1], triples[t, 2]
            sum_a = sum_b = sum_c = square_a = square_b = square_c = 0.0
            product_ab = product_ac = product_bc = 0.0
            state, spare = first_state, _TWO_TO_32
            for _ in range(n):
                state, spare, row = _next_row(state, spare, rows, threshold)
                x, y, w = z[row, a], z[row, b], z[row, c]
                sum_a += x
                sum_b += y
                sum_c += w
                square_a += x * x
                square_b += y * y
                square_c += w * w
                product_ab += x * y
                product_ac += x * w
                product_bc += y * w
            column_sums[r, 0, a], column_sums[r, 1, a] = sum_a, square_a
            column_sums[r, 0, b], column_sums[r, 1, b] = sum_b, square_b
            column_sums[r, 0, c], column_sums[r, 1, c] = sum_c, square_c
            cross_sums[r, a, b] = product_ab
            cross_sums[r, a, c] = product_ac
            cross_sums[r, b, c] = product_bc
    return column_sums, cross_sums


@njit(parallel=True, cache=True)
def _spearman_sums(groups, group_counts, first, second, key, start, size):
    """Sums of centred average ranks, re-ranked within each of resamples start to start + size - 1.

    ``groups[c, i]`` numbers row i's value among the sorted distinct values of column c, of which
    there are ``group_counts[c]``. For each resample, with w_i the number of times row i is drawn:
    a row's average rank among the drawn rows is the number drawn with a smaller value plus
    (the number drawn with its value + 1) / 2, centred here at (n + 1) / 2. Returns ``squares``
    (size x k: sum of w_i * rank_i**2 per column) and ``cross`` (size x pairs: sum of
    w_i * rank_i[first[p]] * rank_i[second[p]]). Average ranks always sum to n(n+1)/2, so the
    centred ranks have weighted mean exactly zero and these sums are n times the variances and
    covariances. Each resample runs in one thread, with its own w and ranks.
    """
    k, n = groups.shape
    rows = np.uint64(n)
    threshold = _TWO_TO_32 % rows
    squares = np.empty((size, k))
    cross = np.empty((size, len(first)))
    for r in prange(size):
        weight = np.zeros(n)
        state, spare = _stream_start(key, np.uint64(start + r)), _TWO_TO_32
        for _ in range(n):
            state, spare, row = _next_row(state, spare, rows, threshold)
            weight[row] += 1.0
        rank = np.empty((k, n))
        group_rank = np.empty(n)
        for c in range(k):
            # group_rank[g] first counts the draws with column c's g-th smallest value, then
            # holds their centred average rank.
            group_rank[: group_counts[c]] = 0.0
            for i in range(n):
                group_rank[groups[c, i]] += weight[i]
            below = 0.0
            for g in range(group_counts[c]):
                drawn = group_rank[g]
                group_rank[g] = below + 0.5 * drawn - 0.5 * n
                below += drawn
            total = 0.0
            for i in range(n):
                rank[c, i] = group_rank[groups[c, i]]
                total += weight[i] * rank[c, i] * rank[c, i]
            squares[r, c] = total
        for p in range(len(first)):
            total = 0.0
            for i in range(n):
                total += weight[i] * rank[first[p], i] * rank[second[p], i]
            cross[r, p] = total
    return squares, cross


def _standardized(data):
    return (data - data.mean(axis=0)) / data.std(axis=0)


def _centred_ranks(data):
    return rankdata(data, axis=0) - (len(data) + 1) / 2


def _observed_r(data, pairs, statistic):
    centred = _standardized(data) if statistic == "pearson" else _centred_ranks(data)
    return np.array(
        [
            np.clip(
                centred[:, a] @ centred[:, b]
                / np.sqrt((centred[:, a] @ centred[:, a]) * (centred[:, b] @ centred[:, b])),
                -1.0,
                1.0,
            )
            for a, b in pairs
        ]
    )


def _correlations(cross, variance, constant, pairs):
    """r per pair from co-moments (columns in pair order) and variances (columns per column)."""
    a, b = np.array(pairs).T
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.clip(cross / np.sqrt(variance[:, a] * variance[:, b]), -1.0, 1.0)
    r[constant[:, a] | constant[:, b]] = np.nan
    return r


def _resampled_r(data, pairs, statistic, key, resamples, chunk_size):
    """Bootstrap r (resamples x pairs), and per column how many resamples had it constant.

    ``key`` is the generator key (``_stream_key``).
    """
    boot = np.empty((resamples, len(pairs)))
    constant_counts = np.zeros(data.shape[1], dtype=int)
    if statistic == "pearson":
        chunk_r = _pearson_chunk(_standardized(data), pairs, key)
    else:
        chunk_r = _spearman_chunk(data, pairs, key)
    for start in range(0, resamples, chunk_size):
        r, constant = chunk_r(start, min(chunk_size, resamples - start))
        boot[start : start + len(r)] = r
        constant_counts += constant.sum(axis=0)
    return boot, constant_counts


def _pair_columns(pairs):
    """The pairs' first and second columns as two contiguous int64 arrays (one kernel signature)."""
    return np.ascontiguousarray(np.array(pairs, dtype=np.int64).T)


def _column_triples(k):
    """Column triples (a, b, c) whose pairs (a, b), (a, c) and (b, c) include all pairs of k >= 2.

    Each column a goes with the later columns two at a time; with one later column left, the
    triple repeats it (a, b, b). A triple whose pairs are all covered already is left out, so
    three columns need a single triple.
    """
    triples, covered = [], set()
    for a in range(k - 1):
        for b in range(a + 1, k, 2):
            c = min(b + 1, k - 1)
            pairs = {(a, b), (a, c), (b, c)} - {(b, b)}
            if not pairs <= covered:
                triples.append((a, b, c))
                covered |= pairs
    return np.array(triples, dtype=np.int64)


def _pearson_chunk(z, pairs, key):
    """Function from (first resample, resamples) to (r, constant) via resampled moments of z."""
    n, k = z.shape
    z = np.ascontiguousarray(z)
    triples = _column_triples(k)
    a, b = _pair_columns(pairs)

    def chunk_r(start, size):
        column_sums, cross_sums = _pearson_sums(z, triples, key, start, size)
        mean, second = column_sums[:, 0] / n, column_sums[:, 1] / n
        variance = second - mean**2
        constant = variance <= _ZERO_VARIANCE * second
        cross = cross_sums[:, a, b] / n - mean[:, a] * mean[:, b]
        return _correlations(cross, variance, constant, pairs), constant

    return chunk_r


def _spearman_chunk(data, pairs, key):
    """Function from (first resample, resamples) to (r, constant), re-ranking per resample."""
    k = data.shape[1]
    groups = np.empty((k, len(data)), dtype=np.int64)
    group_counts = np.empty(k, dtype=np.int64)
    for c in range(k):
        distinct, groups[c] = np.unique(data[:, c], return_inverse=True)
        group_counts[c] = len(distinct)
    a, b = _pair_columns(pairs)

    def chunk_r(start, size):
        squares, cross = _spearman_sums(groups, group_counts, a, b, key, start, size)
        return _correlations(cross, squares, squares == 0, pairs), squares == 0

    return chunk_r


def _acceleration(data, pairs, statistic, rng):
    """BCa acceleration per pair, and per column whether some jackknife sample had it constant."""
    n = len(data)
    scale = 1.0
    if statistic == "pearson":
        loo, constant = _pearson_jackknife(_standardized(data), pairs)
    elif n <= SPEARMAN_JACKKNIFE_ROWS:
        loo, constant = _spearman_jackknife(data, pairs)
    else:
        subsample = np.sort(rng.choice(n, size=SPEARMAN_JACKKNIFE_ROWS, replace=False))
        loo, constant = _spearman_jackknife(data[subsample], pairs)
        scale = np.sqrt(SPEARMAN_JACKKNIFE_ROWS / n)
    deviation = loo.mean(axis=1, keepdims=True) - loo
    spread = (deviation**2).sum(axis=1)
    skew = (deviation**3).sum(axis=1)
    # No jackknife variation at all means no skewness to correct for.
    with np.errstate(divide="ignore", invalid="ignore"):
        acceleration = np.where(spread == 0, 0.0, skew / (6 * spread**1.5))
    return scale * acceleration, constant


def _pearson_jackknife(z, pairs):
    """Delete-one Pearson r (pairs x n) from totals minus each row: O(n) per pair."""
    n = len(z)
    mean = (z.sum(axis=0) - z) / (n - 1)
    second = ((z * z).sum(axis=0) - z * z) / (n - 1)
    variance = second - mean**2
    constant = variance <= _ZERO_VARIANCE * second
    a, b = np.array(pairs).T
    cross = ((z[:, a] * z[:, b]).sum(axis=0) - z[:, a] * z[:, b]) / (n - 1)
    loo = _correlations(cross - mean[:, a] * mean[:, b], variance, constant, pairs)
    return loo.T, constant.any(axis=0)


def _spearman_jackknife(data, pairs):
    """Delete-one Spearman r (pairs x n), re-ranked exactly, in blocks of deleted rows.

    Deleting row i lowers the average rank of row j by 1 if x_j > x_i and by 1/2 if x_j == x_i.
    With d the ranks centred at (n+1)/2 and s_ij = sign(x_j - x_i), the remaining ranks centred at
    n/2 are d_j - s_ij/2, so the delete-one sums follow from sign-matrix products. Work is O(n^2)
    in blocks of rows, which is why large inputs use a subsample (see ``_acceleration``).
    """
    n, k = data.shape
    d = _centred_ranks(data)
    total_cross = d.T @ d
    a, b = np.array(pairs).T
    loo = np.empty((n, len(pairs)))
    constant = np.zeros(k, dtype=bool)
    block = max(1, _JACKKNIFE_BLOCK_BYTES // (8 * n * (k + 1)))
    for start in range(0, n, block):
        rows = slice(start, start + block)
        signs = [np.sign(data[None, :, c] - data[rows, c, None]) for c in range(k)]
        signed_sums = np.stack([s @ d for s in signs], axis=1)  # [row, sign column, rank column]
        differing = np.column_stack([np.abs(s).sum(axis=1) for s in signs])
        columns = np.arange(k)
        variance = (
            total_cross[columns, columns]
            - d[rows] ** 2
            - signed_sums[:, columns, columns]
            + 0.25 * differing
        )
        cross = (
            total_cross[a, b]
            - d[rows, a] * d[rows, b]
            - 0.5 * signed_sums[:, a, b]
            - 0.5 * signed_sums[:, b, a]
            + 0.25 * np.column_stack([(signs[i] * signs[j]).sum(axis=1) for i, j in pairs])
        )
        loo[rows] = _correlations(cross, variance, variance == 0, pairs)
        constant |= (variance == 0).any(axis=0)
    return loo.T, constant


def _percentile_interval(boot, interval_prob):
    alpha = (1 - interval_prob) / 2
    return np.quantile(boot, [alpha, 1 - alpha])


def _bca_interval(boot, observed, acceleration, interval_prob):
    """BCa endpoints as scipy.stats.bootstrap computes them; NaN if the bias correction z0 is
    infinite (every bootstrap r on one side of the observed r), where the levels are undefined."""
    alpha = (1 - interval_prob) / 2
    # Ties count half, as in scipy: the mean of the strict and non-strict shares below. Values
    # within _TIE of the observed r are ties: with discrete data, equal r values computed from
    # different rows differ in the last bits, and counting them as below or above would move z0.
    below = np.count_nonzero(boot < observed - _TIE)
    at_or_below = np.count_nonzero(boot <= observed + _TIE)
    share_below = (below + at_or_below) / (2 * len(boot))
    z0 = ndtri(share_below)
    if not np.isfinite(z0):
        return np.nan, np.nan
    z = ndtri(np.array([alpha, 1 - alpha]))
    with np.errstate(divide="ignore"):
        levels = ndtr(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))
    return np.quantile(boot, levels)

"""Bag of Little Bootstraps (Kleiner, Talwalkar, Sarkar & Jordan 2014) for Pearson correlation intervals.

For data too large to resample row by row. With n complete rows in a group (all rows, or one
segment), b = floor(n ** subset_exponent):

1. The engine (SQL) draws ``subsets`` disjoint subsets of b rows without replacement: the
   subsets * b rows with the smallest 32-bit hash of (seed, _row), cut in hash order into blocks
   of b. Only those rows leave the engine (about subsets * n ** subset_exponent of the n; a few
   more are fetched, those below a hash bound set for enough of them, and the rest dropped).
2. Each subset is resampled ``resamples`` times to the full size n: multinomial weights on its b
   rows summing to n (numpy), and r of the weighted rows from the weighted sums
   (sum w, w x, w y, w x^2, w y^2, w x y as one matrix product per chunk of resamples).
3. Per subset, the percentile interval of those r, as offsets from the subset's own r (the truth
   of its bootstrap world); the offsets are averaged over the subsets and put around the r of all
   n rows, which the engine computes (SQL ``corr``).

Assumptions: rows are i.i.d. (as for the paired bootstrap); n ** subset_exponent rows are enough
to show the spread of r, which fails for heavy tails whose rare extreme rows drive it: subsets
seldom hold them, and the intervals come out narrower than the full bootstrap's
(benchmarks/README.md measures how much). The subsets are disjoint (a partition of a random
subsets * b rows) rather than drawn independently, which needs subsets * b <= n; a group smaller
than that (fewer than about subsets ** (1 / (1 - subset_exponent)) rows) is small enough to fetch
and gets the full percentile bootstrap of ``bootstrap_correlations`` with subsets * resamples
resamples. Per-subset quantiles use numpy's ``normal_unbiased`` definition: with about 100
resamples the default (linear) one puts the 2.5% quantile of a normal at -1.88 sd on average,
and averaging over subsets would keep that bias; ``normal_unbiased`` gives -1.97.

Pearson only: Spearman's r needs every row's rank among all n rows, a sort of the whole table per
column (on Spark a window over one partition), which is what this method is for avoiding.
"""

from __future__ import annotations

import math
import numbers
import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd

from shopper_bayes.analyses.correlations.compute import (
    MIN_ROWS,
    POOLED,
    TABLE_COLUMNS,
    _check_count,
    _check_interval_prob,
    bootstrap_correlations,
    checked_names,
)
from shopper_bayes.engine.clean import with_spare
from shopper_bayes.errors import UserError

MIN_SUBSETS = 2
MIN_SUBSET_RESAMPLES = 50
# A variance at or below this fraction of the second moment it was computed from is rounding
# error: the column is treated as constant (as in the full bootstrap).
_ZERO_VARIANCE = 1e-10
# Weight matrices are drawn in chunks of about this many entries (8 bytes each): arrays of 8 MB, which the
# allocator reuses; 32 MB ones went back to the system and were faulted in again each time (30% slower)
_CHUNK_ENTRIES = 2**20
_HASH_RANGE = 2**32
# The row hash: Thomas Mueller's 32-bit integer hash (x ^= x >> 16; x *= 0x45d9f3b; twice;
# x ^= x >> 16) of the low 32 bits of _row xor a key, then again of that xor a second key and the
# high bits of _row (keys from the seed). Only *, &, >> and xor, which sqlglot translates to
# Spark SQL; the constant is below 2**27, so no product overflows a signed 64-bit integer.
_HASH_MULTIPLIER = 0x45D9F3B
_LOW_32_BITS = 0xFFFFFFFF


def blb_correlations(sql, view, columns, by=None, *, subsets=20, subset_exponent=0.7, resamples=100,
                     interval_prob=0.95, seed=0):
    """Pearson r of every pair of ``columns`` and its Bag of Little Bootstraps percentile interval,
    pooled and per segment: the table ``bootstrap_correlations`` returns (same columns, rows,
    notes and segment rules), with method "percentile".

    ``sql(query)`` runs a DuckDB-dialect query and returns a pandas DataFrame; ``view`` names a
    table or view (inserted into the SQL as given) holding the numeric ``columns``, the ``by``
    label column (optional) and ``_row``, a unique non-negative integer per row. ``subsets``
    subsets of b = floor(n ** subset_exponent) rows, each resampled ``resamples`` times (see the
    module docstring). Same ``seed``, same subsets (on any engine: the hash is integer SQL) and the
    same weights. A segment gives exactly what this function gives on that segment's rows alone.

    ``attrs``: interval_prob, resamples (subsets x resamples), seed, subsets, subset_exponent and
    subset_rows (segment -> b, or None where the segment got the full bootstrap or is undefined).
    In two steps: :func:`blb_subsets` (the engine's part) and :func:`blb_intervals` (the resampling).
    """
    return blb_intervals(blb_subsets(sql, view, columns, by, subsets=subsets, subset_exponent=subset_exponent,
                                     resamples=resamples, interval_prob=interval_prob, seed=seed))


class Subsets(NamedTuple):
    """What the engine gives the Bag of Little Bootstraps (:func:`blb_subsets`): each group's statistics, its rows
    per subset (``plans``; None: bootstrapped in full), the pairs undefined upfront, its subsets' rows
    (``candidates``), and the settings."""

    columns: list[str]
    groups: list
    plans: dict
    notes: dict
    wanted: dict
    candidates: dict
    settings: dict
    subset_exponent: float


def blb_subsets(sql, view, columns, by=None, *, subsets=20, subset_exponent=0.7, resamples=100,
                interval_prob=0.95, seed=0) -> Subsets:
    """The engine's part of :func:`blb_correlations` (same arguments): the settings checked, each group's count,
    ranges and r, and the rows of its subsets."""
    columns = checked_names(columns)
    _check_count("subsets", subsets, MIN_SUBSETS)
    _check_count("resamples", resamples, MIN_SUBSET_RESAMPLES)
    _check_count("seed", seed, 0)
    _check_interval_prob(interval_prob)
    exponent_ok = isinstance(subset_exponent, numbers.Real) and not isinstance(subset_exponent, bool)
    if not (exponent_ok and 0.5 < subset_exponent < 1):
        raise UserError("subset_exponent", f"is {subset_exponent!r}", "use a number between 0.5 and 1, e.g. 0.7")
    _check_view(sql, view, columns, by)
    settings = {"subsets": subsets, "resamples": resamples, "interval_prob": interval_prob, "seed": seed}

    stats = _group_stats(sql, view, columns, by)
    _check_finite(stats, columns)
    pooled = stats[stats["pooled"] == 1].iloc[0]
    by_label = {str(row.grp): row for _, row in stats[(stats["pooled"] == 0) & stats["grp"].notna()].iterrows()}
    if POOLED in by_label:
        raise UserError(by, f"has a level named {POOLED!r}", f"rename it; {POOLED!r} labels the pooled rows")
    groups = [(POOLED, pooled), *((label, by_label[label]) for label in sorted(by_label))]

    plans = {segment: _plan(int(row["n"]), subsets, subset_exponent) for segment, row in groups}
    notes = {segment: _upfront_notes(row, columns, segment) for segment, row in groups}
    wanted = {segment: (int(row["n"]), plans[segment]) for segment, row in groups
              if not all(notes[segment].values())}
    candidates = _subset_rows(sql, view, columns, by, wanted, subsets, seed)
    return Subsets(columns, groups, plans, notes, wanted, candidates, settings, subset_exponent)


def blb_intervals(drawn: Subsets) -> pd.DataFrame:
    """The resampling of :func:`blb_correlations`, from what :func:`blb_subsets` drew: its table."""
    columns, groups, plans, notes, wanted, candidates, settings, subset_exponent = drawn
    subsets, resamples, interval_prob, seed = (settings[name] for name in ("subsets", "resamples", "interval_prob",
                                                                            "seed"))
    rows, subset_rows = [], {}
    for segment, stat in groups:
        computed = {}
        b = plans[segment] if segment in wanted else None
        if segment in wanted and b is None:
            computed = _full_bootstrap(candidates[segment], columns, segment, settings)
        elif segment in wanted:
            computed = _little_bootstraps(candidates[segment], stat, columns, segment, b, settings)
        subset_rows[segment] = b
        for (x, y), note in notes[segment].items():
            r, low, high, why = (np.nan, np.nan, np.nan, note) if note else computed[(x, y)]
            rows.append({"x": x, "y": y, "segment": segment, "r": r, "low": low, "high": high,
                         "method": "percentile", "statistic": "pearson", "n": int(stat["n"]), "note": why})

    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table.attrs.update(interval_prob=interval_prob, resamples=subsets * resamples, seed=seed, subsets=subsets,
                       subset_exponent=subset_exponent, subset_rows=subset_rows)
    return table


def _plan(n, subsets, subset_exponent):
    """Rows per subset, b = floor(n ** subset_exponent), for a group of n complete rows; None when
    the subsets do not fit in it (subsets * b > n): the group is bootstrapped in full."""
    b = math.floor(n**subset_exponent)
    return b if subsets * b <= n else None


def _check_view(sql, view, columns, by):
    head = sql(f"SELECT * FROM {view} LIMIT 0")
    for name in [*columns, *([by] if by is not None else []), "_row"]:
        if name not in head.columns:
            raise UserError(name, f"not in {view}", "check the spelling against the data's columns")
    for name in columns:
        dtype = head[name].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
            raise UserError(name, f"is not numeric (dtype {dtype})", "convert it to numbers")


def _ident(name):
    return '"' + str(name).replace('"', '""') + '"'


def _literal(text):
    return "'" + str(text).replace("'", "''") + "'"


def _pairs(columns):
    return [(i, j) for i in range(len(columns)) for j in range(i + 1, len(columns))]


def _renamed(view, columns, by):
    """The view's columns renamed c0, c1, ..., the label as text ``grp`` and ``complete`` (0/1)."""
    label = "CAST(NULL AS VARCHAR)" if by is None else f"CAST({_ident(by)} AS VARCHAR)"
    values = ", ".join(f"{_ident(name)} AS c{i}" for i, name in enumerate(columns))
    complete = " AND ".join(f"{_ident(name)} IS NOT NULL" for name in columns)
    return (f"SELECT {label} AS grp, {values}, CAST(_row AS BIGINT) AS _row, "
            f"CASE WHEN {complete} THEN 1 ELSE 0 END AS complete FROM {view}")


def _group_stats(sql, view, columns, by):
    """Per group (pooled = 1 for all rows; else one row per label): values present per column, min
    and max per column (of all values; of complete rows), complete rows ``n`` and r per pair."""
    parts = ["GROUPING(grp) AS pooled", "grp"]
    for i in range(len(columns)):
        kept = f"CASE WHEN complete = 1 THEN c{i} END"
        parts += [f"COUNT(c{i}) AS present_{i}", f"MIN(c{i}) AS min_{i}", f"MAX(c{i}) AS max_{i}",
                  f"MIN({kept}) AS low_{i}", f"MAX({kept}) AS high_{i}"]
    parts.append("COUNT(CASE WHEN complete = 1 THEN 1 END) AS n")
    for i, j in _pairs(columns):
        parts.append(f"CORR(CASE WHEN complete = 1 THEN c{i} END, CASE WHEN complete = 1 THEN c{j} END) AS r_{i}_{j}")
    query = f"SELECT {', '.join(parts)} FROM ({_renamed(view, columns, by)}) AS t GROUP BY GROUPING SETS ((), (grp))"
    return sql(query)


def _check_finite(stats, columns):
    for i, name in enumerate(columns):
        ends = stats[[f"min_{i}", f"max_{i}"]].to_numpy(dtype=float, na_value=np.nan)
        if np.isinf(ends).any():
            raise UserError(name, "contains infinite values", "replace them with finite values or NULL")
        present = stats[f"present_{i}"].to_numpy() > 0
        if np.isnan(ends[present]).any():
            raise UserError(name, "contains NaN values the engine does not count as missing",
                            "store missing values as NULL")


def _upfront_notes(stat, columns, segment):
    """(x, y) -> the reason r is undefined, "" where it is defined: the full bootstrap's notes."""
    where = "" if segment == POOLED else f" in segment {segment}"
    empty = [name for i, name in enumerate(columns) if stat[f"present_{i}"] == 0]
    n = int(stat["n"])
    notes = {}
    for i, j in _pairs(columns):
        in_pair = [columns[c] for c in (i, j) if columns[c] in empty]
        if in_pair:
            note = f"{in_pair[0]} has no values{where}: correlation undefined"
        elif empty:
            note = (f"no complete rows{where}: {', '.join(empty)} has no values and rows must be "
                    "complete in every requested column")
        elif n < MIN_ROWS:
            note = f"only {n} complete rows{where}, need at least {MIN_ROWS}: correlation undefined"
        else:
            constant = [columns[c] for c in (i, j) if stat[f"low_{c}"] == stat[f"high_{c}"]]
            note = f"{constant[0]} is constant{where}: correlation undefined" if constant else ""
        notes[(columns[i], columns[j])] = note
    return notes


def hash_keys(seed):
    """The two 32-bit keys of the row hash for ``seed``, via numpy's SeedSequence."""
    return [int(key) for key in np.random.SeedSequence(seed).generate_state(2, np.uint32)]


def _hash_layers(source, carried, seed):
    """SQL adding column ``h``: a 32-bit hash of (seed, _row) (see ``row_hash``), one subquery per step.

    Every xor is in parentheses of its own: sqlglot writes DuckDB's ``xor(a, b) * c`` for Spark as
    ``a ^ b * c``, which Spark reads as ``a ^ (b * c)``.
    """
    first, second = hash_keys(seed)

    def mix(x):
        return f"((xor({x} >> 16, {x})) * {_HASH_MULTIPLIER}) & {_LOW_32_BITS}"

    steps = [f"(xor((_row & {_LOW_32_BITS}), {first}))", mix("x"), mix("x"),
             f"(xor((xor((xor(x >> 16, x)), {second})), _row >> 32))", mix("x"), mix("x")]
    query = source
    for step in steps:
        query = f"SELECT {carried}, {step} AS x FROM ({query}) AS t"
    return f"SELECT {carried}, (xor(x >> 16, x)) AS h FROM ({query}) AS t"


def row_hash(rows, seed):
    """The SQL hash of rows (non-negative integers), computed by numpy: the reference for tests."""
    first, second = (np.uint64(key) for key in hash_keys(seed))
    rows = np.asarray(rows, dtype=np.uint64)
    low, shift, multiplier = np.uint64(_LOW_32_BITS), np.uint64(16), np.uint64(_HASH_MULTIPLIER)

    def mix(x):
        return ((x >> shift) ^ x) * multiplier & low

    x = mix(mix((rows & low) ^ first))
    x = mix(mix((x >> shift) ^ x ^ second ^ (rows >> np.uint64(32))))
    return ((x >> shift) ^ x).astype(np.int64)


def _threshold(n, b, subsets, spread):
    """Hash bound below which a group of n rows has comfortably more than subsets * b rows
    (``spread`` times that many expected); every row for a group bootstrapped in full (b None)."""
    if b is None:
        return _HASH_RANGE
    wanted = subsets * b
    expected = with_spare(wanted) * spread  # candidate rows fetched per group
    return min(_HASH_RANGE, math.ceil(expected * _HASH_RANGE / n))


def _subset_rows(sql, view, columns, by, wanted, subsets, seed):
    """Segment -> the complete rows its subsets are cut from (n x k floats): the subsets * b rows
    of smallest hash, in hash order, or for b None every complete row in _row order.

    ``wanted``: segment -> (n, b). One query fetches every segment's candidates (hash below a
    bound per segment); in the unlikely case a segment gets too few, the bounds are raised.
    """
    if not wanted:
        return {}
    names = [f"c{i}" for i in range(len(columns))]
    carried = ", ".join(["grp", *names, "_row"])
    source = f"SELECT {carried} FROM ({_renamed(view, columns, by)}) AS t WHERE complete = 1"
    hashed = _hash_layers(source, carried, seed)
    segments = [segment for segment in wanted if segment != POOLED]
    spread = 1
    while True:
        bounds = {segment: _threshold(n, b, subsets, spread) for segment, (n, b) in wanted.items()}
        pooled_bound = bounds.get(POOLED, 0)
        cases = " ".join(f"WHEN grp = {_literal(segment)} THEN {max(bound, pooled_bound)}"
                         for segment, bound in bounds.items() if segment != POOLED)
        bound = f"CASE {cases} ELSE {pooled_bound} END" if cases else str(pooled_bound)
        # each row's segment as its number in ``segments`` (-1: none), not as text: about 16 million candidate rows
        # at 100 million sessions, whose labels as text took a few hundred MB more
        code = " ".join(f"WHEN grp = {_literal(segment)} THEN {i}" for i, segment in enumerate(segments))
        fetched = sql(f"SELECT {'CASE ' + code + ' ELSE -1 END' if code else '-1'} AS g, {', '.join(names)}, _row, h "
                      f"FROM ({hashed}) AS t WHERE h < {bound}")
        row, h = fetched["_row"].to_numpy(dtype=np.int64), fetched["h"].to_numpy(dtype=np.int64)
        values, group = fetched[names].to_numpy(dtype=float), fetched["g"].to_numpy(dtype=np.int64)
        del fetched
        in_hash_order = np.lexsort((row, h))
        out = {}
        for segment, (n, b) in wanted.items():
            if segment == POOLED:
                member = h < bounds[segment]
            else:
                member = group == segments.index(segment)
            if b is None:
                taken = np.flatnonzero(member)
                taken = taken[np.argsort(row[taken], kind="stable")]
            else:
                taken = in_hash_order[member[in_hash_order]][: subsets * b]
                if len(taken) < subsets * b:
                    break
            out[segment] = values[taken]
        else:
            return out
        spread *= 4


def _full_bootstrap(data, columns, segment, settings):
    """(x, y) -> (r, low, high, note) from the full percentile bootstrap of a small group's rows."""
    table = bootstrap_correlations(pd.DataFrame(data, columns=columns), columns, method="percentile",
                                   resamples=settings["subsets"] * settings["resamples"], seed=settings["seed"],
                                   interval_prob=settings["interval_prob"])
    where = "" if segment == POOLED else f" in segment {segment}"
    return {(row.x, row.y): (row.r, row.low, row.high, row.note.replace(" resamples (", f" resamples{where} ("))
            for row in table.itertuples()}


def multinomial_weights(rng, n, b, size):
    """``size`` x ``b`` counts, each row Multinomial(n, equal probabilities), as floats.

    Drawn as independent Poisson(n / b) counts, total T, then made to sum to n: n - T balls added
    to uniformly drawn bins, or T - n of the T balls removed, chosen uniformly without
    replacement. Exact: given T, Poisson counts are Multinomial(T, equal), and adding uniform
    balls or removing balls chosen independently of their bins leaves n balls in independent
    uniform bins. About twice as fast as ``Generator.multinomial`` (one Poisson draw per bin
    against a binomial one, and corrections of about sqrt(n) balls).
    """
    counts = rng.poisson(n / b, size=(size, b))
    for row in counts:
        extra = int(row.sum()) - n
        if extra < 0:
            row += np.bincount(rng.integers(0, b, -extra), minlength=b)
        elif extra > 0:
            removed = rng.choice(n + extra, extra, replace=False)
            row -= np.bincount(np.searchsorted(np.cumsum(row), removed, side="right"), minlength=b)
    return counts.astype(float)


def moments(z, first, second):
    """The columns whose weighted sums give r (see :func:`weighted_r`): z, z squared, z[first] * z[second]."""
    return np.hstack([z, z * z, z[:, first] * z[:, second]])


def weighted_r(z, weights, first, second, products=None):
    """Pearson r of pairs (first[p], second[p]) of the columns of ``z`` under each row of ``weights``
    (resamples x rows, counts), from weighted sums taken as one matrix product; and per resample
    and column whether the column is constant under those weights (its pairs' r are then NaN).
    ``z`` should be centred and scaled, so that the sums lose nothing to cancellation. ``products``:
    ``moments(z, first, second)``, when computed already (a subset resampled in several chunks)."""
    k = z.shape[1]
    products = moments(z, first, second) if products is None else products
    sums = weights @ products / weights.sum(axis=1, keepdims=True)
    mean, square, cross = sums[:, :k], sums[:, k : 2 * k], sums[:, 2 * k :]
    variance = square - mean**2
    constant = variance <= _ZERO_VARIANCE * square
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.clip((cross - mean[:, first] * mean[:, second]) / np.sqrt(variance[:, first] * variance[:, second]),
                    -1.0, 1.0)
    r[constant[:, first] | constant[:, second]] = np.nan
    return r, constant


def _little_bootstraps(data, stat, columns, segment, b, settings):
    """(x, y) -> (r, low, high, note) for a group of ``stat["n"]`` rows from its subsets' rows."""
    n, subsets, resamples = int(stat["n"]), settings["subsets"], settings["resamples"]
    pairs = _pairs(columns)
    first, second = np.array(pairs).T
    k = len(columns)
    alpha = (1 - settings["interval_prob"]) / 2
    chunk = max(1, _CHUNK_ENTRIES // b)

    def subset(j):
        """Subset j's interval as offsets from its own r, and per column the resamples where it was constant."""
        rng = np.random.default_rng([settings["seed"], j])
        rows = data[j * b : (j + 1) * b]
        spread = rows.std(axis=0)
        z = (rows - rows.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
        products, r, constant = moments(z, first, second), [], []
        for start in range(0, resamples, chunk):
            weights = multinomial_weights(rng, n, b, min(chunk, resamples - start))
            chunk_r, chunk_constant = weighted_r(z, weights, first, second, products)
            r.append(chunk_r)
            constant.append(chunk_constant)
        subset_r = (z[:, first] * z[:, second]).mean(axis=0)
        offsets = np.quantile(np.vstack(r), [alpha, 1 - alpha], axis=0, method="normal_unbiased") - subset_r
        return offsets, np.vstack(constant).sum(axis=0)

    # the subsets on every core: each has its own generator, and numpy's draws and array arithmetic release
    # the GIL (100 million sessions: 840 million Poisson draws, most of the method's time)
    with ThreadPoolExecutor(min(subsets, len(os.sched_getaffinity(0)))) as pool:
        done = list(pool.map(subset, range(subsets)))
    offsets = np.stack([offset for offset, _ in done])
    constant_counts = np.sum([count for _, count in done], axis=0)

    where = "" if segment == POOLED else f" in segment {segment}"
    total = subsets * resamples
    low, high = offsets.mean(axis=0)
    out = {}
    for p, (a, c) in enumerate(pairs):
        r = float(np.clip(stat[f"r_{a}_{c}"], -1.0, 1.0))
        note = "; ".join(
            f"{columns[i]} is constant in {constant_counts[i]:,} of {total:,} bootstrap resamples{where} "
            "(too few distinct values): interval undefined"
            for i in (a, c) if constant_counts[i])
        if note:
            out[(columns[a], columns[c])] = (r, np.nan, np.nan, note)
        else:
            out[(columns[a], columns[c])] = (r, max(-1.0, r + low[p]), min(1.0, r + high[p]), "")
    return out

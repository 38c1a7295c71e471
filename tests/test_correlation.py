"""Tests for the bootstrap correlation engine and its plots."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import ndtr, ndtri

from shopper_bayes.analyses.correlations import compute as correlation
from shopper_bayes.analyses.correlations.compute import TABLE_COLUMNS, bootstrap_correlations
from shopper_bayes.analyses.correlations.figures import (
    interval_label,
    plot_correlation_forest,
    plot_correlation_matrix,
)
from shopper_bayes.errors import UserError

DATA = Path(__file__).resolve().parents[1] / "data" / "online_shopping_session_data.csv"
DURATIONS = ["Administrative_Duration", "Informational_Duration", "ProductRelated_Duration"]
PAIRS = [(0, 1), (0, 2), (1, 2)]


@pytest.fixture(scope="module")
def all_sessions():
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def sessions(all_sessions):
    """The bundled Nov-Dec sessions."""
    frame = all_sessions[all_sessions["Month"].isin(["Nov", "Dec"])].reset_index(drop=True)
    assert len(frame) == 4450
    return frame


@pytest.fixture
def small():
    rng = np.random.default_rng(7)
    return pd.DataFrame({name: rng.normal(size=30) for name in "abc"})


# --- point estimates ------------------------------------------------------------------------


@pytest.mark.parametrize("statistic", ["pearson", "spearman"])
def test_r_matches_pandas_on_bundled_sessions(sessions, statistic):
    table = bootstrap_correlations(
        sessions, DURATIONS, resamples=100, method="percentile", statistic=statistic
    )
    expected = sessions[DURATIONS].corr(method=statistic)

    assert list(table.columns) == TABLE_COLUMNS
    assert list(zip(table["x"], table["y"])) == [(DURATIONS[i], DURATIONS[j]) for i, j in PAIRS]
    for row in table.itertuples():
        assert row.r == pytest.approx(expected.loc[row.x, row.y], abs=1e-12)
    assert (table["n"] == 4450).all()
    assert (table["note"] == "").all()
    assert (table["low"] < table["high"]).all()


def test_pearson_r_of_administrative_and_product_durations_is_about_039(sessions):
    table = bootstrap_correlations(
        sessions, ["Administrative_Duration", "ProductRelated_Duration"], resamples=100
    )
    assert table["r"].iloc[0] == pytest.approx(0.39, abs=0.005)


# --- agreement with scipy.stats.bootstrap ---------------------------------------------------


def endpoint_tolerance(distribution, observed, acceleration, interval_prob, method):
    """Allowed |ours - scipy| for the (low, high) endpoints: 4 standard errors of a difference.

    Each endpoint is the level-l quantile of B bootstrap draws, so its Monte Carlo error is
    about se(l) * dq/dl, with dq/dl the slope of the bootstrap quantile function (a central
    difference over l +- 0.01 on scipy's draws) and se(l) made of:
      * the order-statistic error of an empirical quantile, sqrt(l(1-l)/B);
      * for BCa, the error of z0 = ndtri(p), p the share of draws below r: se(p) = sqrt(p(1-p)/B),
        se(z0) = se(p) / phi(z0), and l moves by phi(ndtri(l)) * (1 + 1/(1 - a(z0+z))^2) per unit
        of z0. Both errors come from the same draws; adding their standard errors bounds the sum.
    The acceleration a is deterministic (an exact jackknife in both implementations). Our draws
    and scipy's are independent, so the difference has sqrt(2) times that error; 4 of those keep
    the chance of a false failure near 6e-5 per endpoint.
    """
    draws = len(distribution)
    alpha = (1 - interval_prob) / 2
    z = ndtri(np.array([alpha, 1 - alpha]))
    if method == "percentile":
        level = np.array([alpha, 1 - alpha])
        level_se = np.sqrt(level * (1 - level) / draws)
    else:
        share = (np.sum(distribution < observed) + np.sum(distribution <= observed)) / (2 * draws)
        z0 = ndtri(share)
        stretch = 1 / (1 - acceleration * (z0 + z))
        level = ndtr(z0 + (z0 + z) * stretch)
        z0_se = np.sqrt(share * (1 - share) / draws) / stats.norm.pdf(z0)
        level_se = np.sqrt(level * (1 - level) / draws) + stats.norm.pdf(ndtri(level)) * (
            1 + stretch**2
        ) * z0_se
    above, below = np.minimum(level + 0.01, 1), np.maximum(level - 0.01, 0)
    slope = (np.quantile(distribution, above) - np.quantile(distribution, below)) / (above - below)
    return 4 * np.sqrt(2) * level_se * slope


def pearson_statistic(x, y, axis=-1):
    return stats.pearsonr(x, y, axis=axis).statistic


def spearman_statistic(x, y):
    return stats.spearmanr(x, y).statistic


@pytest.fixture(scope="module")
def new_customers(sessions):
    """The New_Customer segment of the bundled Nov-Dec sessions (728 rows).

    Used where scipy runs scipy.stats.spearmanr once per jackknife row, which would take ~10 s
    on all 4,450 rows.
    """
    return sessions[sessions["CustomerType"] == "New_Customer"].reset_index(drop=True)


@pytest.mark.parametrize("method, interval_prob", [("percentile", 0.9), ("bca", 0.95)])
def test_pearson_intervals_agree_with_scipy_bootstrap(sessions, method, interval_prob):
    resamples = 2000
    table = bootstrap_correlations(
        sessions, DURATIONS, resamples=resamples, method=method, interval_prob=interval_prob
    )
    data = sessions[DURATIONS].to_numpy(dtype=float)
    acceleration, _ = correlation._acceleration(data, PAIRS, "pearson", None)
    for p, (i, j) in enumerate(PAIRS):
        result = stats.bootstrap(
            (data[:, i], data[:, j]),
            pearson_statistic,
            paired=True,
            vectorized=True,
            n_resamples=resamples,
            batch=500,
            method="BCa" if method == "bca" else "percentile",
            confidence_level=interval_prob,
            rng=np.random.default_rng(100 + p),
        )
        ours = table[["low", "high"]].to_numpy()[p]
        theirs = np.array(result.confidence_interval)
        tolerance = endpoint_tolerance(
            result.bootstrap_distribution,
            table["r"].iloc[p],
            acceleration[p],
            interval_prob,
            method,
        )
        assert np.all(np.abs(ours - theirs) <= tolerance), (ours, theirs, tolerance)


def spearman_acceleration(data):
    delete_one_r = correlation._spearman_jackknife(data, [(0, 1)])[0][0]
    deviation = delete_one_r.mean() - delete_one_r
    return (deviation**3).sum() / (6 * ((deviation**2).sum()) ** 1.5)


@pytest.mark.parametrize("jackknife_rows", [None, 300], ids=["exact", "subsample"])
def test_spearman_bca_interval_agrees_with_scipy_bootstrap(
    new_customers, jackknife_rows, monkeypatch
):
    if jackknife_rows is not None:
        monkeypatch.setattr(correlation, "SPEARMAN_JACKKNIFE_ROWS", jackknife_rows)
    columns = ["Administrative_Duration", "ProductRelated_Duration"]
    data = new_customers[columns].to_numpy(dtype=float)
    result = stats.bootstrap(
        (data[:, 0], data[:, 1]),
        spearman_statistic,
        paired=True,
        vectorized=False,
        n_resamples=1000,
        method="BCa",
        rng=np.random.default_rng(200),
    )
    table = bootstrap_correlations(new_customers, columns, resamples=1000, statistic="spearman")

    ours = table[["low", "high"]].to_numpy()[0]
    theirs = np.array(result.confidence_interval)
    tolerance = endpoint_tolerance(
        result.bootstrap_distribution, table["r"].iloc[0], spearman_acceleration(data), 0.95, "bca"
    )
    assert np.all(np.abs(ours - theirs) <= tolerance), (ours, theirs, tolerance)


@pytest.mark.parametrize(
    "statistic, method, interval_prob",
    [("pearson", "percentile", 0.9), ("pearson", "bca", 0.95), ("spearman", "bca", 0.8)],
)
def test_intervals_equal_scipys_from_the_same_bootstrap_draws(
    new_customers, statistic, method, interval_prob
):
    """Given our bootstrap draws, scipy computes the same endpoints (z0, jackknife, quantiles)."""
    resamples, seed = 500, 9
    table = bootstrap_correlations(
        new_customers,
        DURATIONS,
        resamples=resamples,
        method=method,
        statistic=statistic,
        interval_prob=interval_prob,
        seed=seed,
    )
    data = new_customers[DURATIONS].to_numpy(dtype=float)
    boot, _ = correlation._resampled_r(
        data, PAIRS, statistic, correlation._stream_key(seed), resamples, resamples
    )
    for p, (i, j) in enumerate(PAIRS):
        result = stats.bootstrap(
            (data[:, i], data[:, j]),
            pearson_statistic if statistic == "pearson" else spearman_statistic,
            paired=True,
            vectorized=statistic == "pearson",
            n_resamples=0,
            bootstrap_result=SimpleNamespace(bootstrap_distribution=boot[:, p]),
            method="BCa" if method == "bca" else "percentile",
            confidence_level=interval_prob,
        )
        np.testing.assert_allclose(
            table[["low", "high"]].to_numpy()[p], result.confidence_interval, rtol=0, atol=1e-12
        )


@pytest.mark.parametrize("statistic", ["pearson", "spearman"])
def test_bca_counts_r_equal_up_to_rounding_as_ties(statistic):
    """With discrete data, resamples often give the observed r up to rounding; they count half.

    scipy counts exact ties half; snapping our near-ties onto scipy's observed r makes them exact
    for scipy, and both must then agree (without the tie tolerance, Pearson is off by ~3e-4).
    """
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, 12).astype(float)
    y = x + rng.integers(0, 2, 12)
    table = bootstrap_correlations(
        pd.DataFrame({"x": x, "y": y}), ["x", "y"], resamples=1000, statistic=statistic, seed=6
    )
    assert table["note"].iloc[0] == ""
    boot, _ = correlation._resampled_r(
        np.column_stack([x, y]), [(0, 1)], statistic, correlation._stream_key(6), 1000, 1000
    )
    if statistic == "pearson":
        observed = stats.pearsonr(x, y).statistic
    else:
        observed = stats.spearmanr(x, y).statistic
    near = np.abs(boot[:, 0] - observed) < 1e-10
    assert near.sum() >= 10
    result = stats.bootstrap(
        (x, y),
        pearson_statistic if statistic == "pearson" else spearman_statistic,
        paired=True,
        vectorized=statistic == "pearson",
        n_resamples=0,
        bootstrap_result=SimpleNamespace(
            bootstrap_distribution=np.where(near, observed, boot[:, 0])
        ),
        method="BCa",
    )
    np.testing.assert_allclose(
        table[["low", "high"]].to_numpy()[0], result.confidence_interval, rtol=0, atol=1e-9
    )


def test_spearman_subsample_jackknife_moves_endpoints_by_a_fraction_of_monte_carlo_error(
    sessions, monkeypatch
):
    """On the bundled sessions, the subsample acceleration changes endpoints by < 0.1 MC errors."""
    columns = ["Administrative_Duration", "ProductRelated_Duration"]
    exact = bootstrap_correlations(sessions, columns, resamples=500, statistic="spearman")
    monkeypatch.setattr(correlation, "SPEARMAN_JACKKNIFE_ROWS", 1500)
    subsampled = bootstrap_correlations(sessions, columns, resamples=500, statistic="spearman")

    data = sessions[columns].to_numpy(dtype=float)
    boot, _ = correlation._resampled_r(
        data, [(0, 1)], "spearman", correlation._stream_key(0), 500, 500
    )
    error = endpoint_tolerance(
        boot[:, 0], exact["r"].iloc[0], spearman_acceleration(data), 0.95, "bca"
    ) / (4 * np.sqrt(2))
    shift = np.abs(exact[["low", "high"]].to_numpy()[0] - subsampled[["low", "high"]].to_numpy()[0])
    assert np.all(shift <= 0.1 * error), (shift, error)


# --- internals checked against direct recomputation ------------------------------------------


def splitmix64(state):
    """(next state, output) of splitmix64 in Python integers, as in Vigna's reference code."""
    state = (state + 0x9E3779B97F4A7C15) % 2**64
    mixed = (state ^ (state >> 30)) * 0xBF58476D1CE4E5B9 % 2**64
    mixed = (mixed ^ (mixed >> 27)) * 0x94D049BB133111EB % 2**64
    return state, mixed ^ (mixed >> 31)


def reference_rows(key, resample, n, count):
    """The first ``count`` rows of a resample, as ``_stream_start`` and ``_next_row`` say."""
    state = (key + resample * 2**32 * 0x9E3779B97F4A7C15) % 2**64
    rows = []
    while len(rows) < count:
        state, output = splitmix64(state)
        for number in (output >> 32, output % 2**32):
            if len(rows) < count and number * n % 2**32 >= 2**32 % n:
                rows.append(number * n >> 32)
    return rows


def drawn_rows(seed, resamples, n):
    """The rows of each resample (resamples x n), from the reference implementation."""
    key = int(correlation._stream_key(seed))
    return np.array([reference_rows(key, b, n, n) for b in range(resamples)])


@pytest.fixture
def tied_data():
    """41 rows (odd) of heavy-tailed values with many ties, in 5 columns."""
    rng = np.random.default_rng(1)
    data = np.round(rng.lognormal(size=(41, 5)), 1)
    data[:, 1] = np.round(data[:, 1])
    return data


@pytest.mark.parametrize("statistic", ["pearson", "spearman"])
def test_resampled_r_equals_r_of_explicitly_resampled_rows(tied_data, statistic):
    """Each resample's r is that of the rows the reference generator gives, for all 10 pairs of
    5 columns (5 column triples, one with a repeated column); Spearman re-ranks per resample."""
    pairs = [(i, j) for i in range(5) for j in range(i + 1, 5)]
    boot, constant_counts = correlation._resampled_r(
        tied_data, pairs, statistic, correlation._stream_key(3), 50, 7
    )
    for b, rows in enumerate(drawn_rows(3, 50, len(tied_data))):
        resample = tied_data[rows]
        if statistic == "pearson":
            matrix = np.corrcoef(resample, rowvar=False)
        else:
            matrix = stats.spearmanr(resample).statistic
        np.testing.assert_allclose(boot[b], [matrix[i, j] for i, j in pairs], rtol=0, atol=1e-12)
    assert not constant_counts.any()


def test_column_triples_cover_every_pair():
    assert correlation._column_triples(2).tolist() == [[0, 1, 1]]
    assert correlation._column_triples(3).tolist() == [[0, 1, 2]]
    for k in range(2, 12):
        covered = {
            pair
            for a, b, c in correlation._column_triples(k)
            for pair in [(a, b), (a, c), (b, c)]
        }
        assert {(a, b) for a in range(k) for b in range(a + 1, k)} <= covered


def test_jackknife_r_equals_delete_one_recomputation(tied_data):
    n = len(tied_data)
    pearson, _ = correlation._pearson_jackknife(correlation._standardized(tied_data), PAIRS)
    spearman, _ = correlation._spearman_jackknife(tied_data, PAIRS)
    for i in range(n):
        rest = np.delete(tied_data, i, axis=0)
        pearson_matrix = np.corrcoef(rest, rowvar=False)
        spearman_matrix = stats.spearmanr(rest).statistic
        for p, (a, b) in enumerate(PAIRS):
            assert pearson[p, i] == pytest.approx(pearson_matrix[a, b], abs=1e-12)
            assert spearman[p, i] == pytest.approx(spearman_matrix[a, b], abs=1e-12)


# --- the resample generator ----------------------------------------------------------------


def resample_counts(seed, n, resamples):
    """Times each of n rows is drawn in each resample (resamples x n), read off the Pearson
    kernel's column sums for indicator columns (column j is 1 in row j only)."""
    column_sums, _ = correlation._pearson_sums(
        np.eye(n), correlation._column_triples(n), correlation._stream_key(seed), 0, resamples
    )
    return column_sums[:, 0]


def test_reference_splitmix64_gives_the_published_outputs():
    state, outputs = 1234567, []
    for _ in range(5):
        state, output = splitmix64(state)
        outputs.append(output)
    assert outputs == [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ]


@pytest.mark.parametrize("n", [7, 2**31 + 1], ids=["few-rows", "half-rejected"])
def test_next_row_follows_the_reference_including_rejected_numbers(n):
    """With 2**31 + 1 rows, 2**32 mod n = 2**31 - 1: about half of all numbers are rejected."""
    key = correlation._stream_key(5)
    rows, threshold = np.uint64(n), correlation._TWO_TO_32 % np.uint64(n)
    state, spare = np.uint64(correlation._stream_start(key, np.uint64(3))), correlation._TWO_TO_32
    drawn = []
    for _ in range(200):
        state, spare, row = correlation._next_row(state, spare, rows, threshold)
        state, spare = np.uint64(state), np.uint64(spare)
        drawn.append(row)
    assert drawn == reference_rows(int(key), 3, n, 200)


def test_every_row_is_equally_likely_and_draws_are_independent():
    """Counts per resample are multinomial(n, 1/n): uniform, variance 1 - 1/n, covariance -1/n,
    and unrelated between consecutive resamples. A biased or correlated generator fails this."""
    n, resamples = 7, 30_000
    counts = resample_counts(3, n, resamples)
    assert (counts.sum(axis=1) == n).all()
    assert stats.chisquare(counts.sum(axis=0)).pvalue > 1e-3
    # A sample covariance of these counts has a standard error of about 1 / sqrt(resamples).
    limit = 4 / np.sqrt(resamples)
    np.testing.assert_allclose(np.cov(counts, rowvar=False), np.eye(n) - 1 / n, rtol=0, atol=limit)
    for row in range(n):
        assert abs(np.corrcoef(counts[:-1, row], counts[1:, row])[0, 1]) < limit


def test_bootstrap_distribution_of_a_mean_is_centred_on_the_sample_mean(sessions):
    """Over resamples, a column's resampled mean averages to its sample mean and varies with the
    plug-in variance / n; likewise for the mean of a product of two columns. Limits: 4 Monte
    Carlo standard errors."""
    values = np.ascontiguousarray(sessions[DURATIONS].to_numpy(dtype=float)[:500])
    n, resamples = len(values), 20_000
    column_sums, cross_sums = correlation._pearson_sums(
        values, correlation._column_triples(3), correlation._stream_key(8), 0, resamples
    )
    products = values[:, 0] * values[:, 2]
    for resampled, original in [
        (column_sums[:, 0] / n, values),
        (cross_sums[:, 0, 2:3] / n, products[:, None]),
    ]:
        plug_in = original.var(axis=0)
        centre = resampled.mean(axis=0)
        error = np.sqrt(plug_in / n / resamples)
        assert np.all(np.abs(centre - original.mean(axis=0)) <= 4 * error)
        spread = resampled.var(axis=0)
        fourth = ((resampled - centre) ** 4).mean(axis=0)
        assert np.all(np.abs(spread - plug_in / n) <= 4 * np.sqrt((fourth - spread**2) / resamples))


def test_same_seed_same_resamples_other_seed_other_resamples():
    first = resample_counts(11, 50, 2000)
    np.testing.assert_array_equal(resample_counts(11, 50, 2000), first)
    assert (resample_counts(12, 50, 2000) != first).any(axis=1).all()


# --- segments, reproducibility, chunking -----------------------------------------------------


def test_segments_equal_the_function_run_on_each_segment_alone(sessions):
    settings = {"resamples": 200, "method": "bca", "seed": 5}
    table = bootstrap_correlations(sessions, DURATIONS, by="CustomerType", **settings)

    assert list(table["segment"]) == ["all"] * 3 + ["New_Customer"] * 3 + ["Returning_Customer"] * 3
    pooled = bootstrap_correlations(sessions, DURATIONS, **settings)
    pd.testing.assert_frame_equal(table.iloc[:3], pooled)
    for level in ["New_Customer", "Returning_Customer"]:
        segment = sessions[sessions["CustomerType"] == level]
        alone = bootstrap_correlations(segment, DURATIONS, **settings)
        part = table[table["segment"] == level].reset_index(drop=True)
        pd.testing.assert_frame_equal(part.drop(columns="segment"), alone.drop(columns="segment"))


def test_rows_with_missing_segment_count_in_pooled_rows_only(all_sessions):
    assert all_sessions["CustomerType"].isna().sum() == 1  # the broken last row
    table = bootstrap_correlations(
        all_sessions, DURATIONS, resamples=100, method="percentile", by="CustomerType"
    )
    per_segment = table.drop_duplicates("segment").set_index("segment")["n"]
    assert per_segment["all"] == len(all_sessions)
    assert per_segment.drop("all").sum() == len(all_sessions) - 1


def test_segment_levels_are_sorted_as_text(small):
    small["g"] = [10, 9, 2] * 10
    table = bootstrap_correlations(small, ["a", "b"], resamples=100, by="g")
    assert list(table["segment"]) == ["all", "10", "2", "9"]


def test_segment_level_named_all_is_refused(small):
    small["g"] = ["all", "other"] * 15
    with pytest.raises(UserError, match="^error: g: has a level named 'all'"):
        bootstrap_correlations(small, ["a", "b"], resamples=100, by="g")


def test_same_seed_same_numbers_and_other_seed_other_numbers(sessions):
    frame = sessions.iloc[:700]
    first = bootstrap_correlations(frame, DURATIONS, resamples=200, seed=11)
    again = bootstrap_correlations(frame, DURATIONS, resamples=200, seed=11)
    other = bootstrap_correlations(frame, DURATIONS, resamples=200, seed=12)
    pd.testing.assert_frame_equal(first, again)
    assert (first["low"] != other["low"]).all()
    assert (first["high"] != other["high"]).all()
    pd.testing.assert_series_equal(first["r"], other["r"])


@pytest.mark.parametrize("statistic", ["pearson", "spearman"])
def test_chunk_size_does_not_change_results(sessions, statistic):
    frame = sessions.iloc[:727]  # an odd number of rows per resample
    runs = [
        bootstrap_correlations(
            frame, DURATIONS, resamples=120, statistic=statistic, chunk_size=size
        )
        for size in (1, 2, 7, 120, None)
    ]
    for run in runs[1:]:
        pd.testing.assert_frame_equal(run, runs[0], check_exact=True)


THREADS_SCRIPT = """
import sys
import numba
import pandas as pd
from shopper_bayes.analyses.correlations.compute import bootstrap_correlations

frame = pd.read_pickle(sys.argv[1])
for count in (1, 2):
    numba.set_num_threads(count)
    for statistic in ("pearson", "spearman"):
        table = bootstrap_correlations(frame, list(frame.columns), resamples=200, statistic=statistic)
        table.to_pickle(f"{sys.argv[2]}-{statistic}-{count}.pkl")
"""


def test_thread_count_does_not_change_results(sessions, tmp_path):
    """One and two numba threads give identical tables; run in a process with two threads whatever
    the machine's core count (NUMBA_NUM_THREADS fixes the pool size at import)."""
    import os
    import subprocess
    import sys

    data = tmp_path / "frame.pkl"
    sessions.iloc[:727][DURATIONS].to_pickle(data)
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", THREADS_SCRIPT, str(data), str(tmp_path / "run")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for statistic in ("pearson", "spearman"):
        one, two = (pd.read_pickle(tmp_path / f"run-{statistic}-{count}.pkl") for count in (1, 2))
        pd.testing.assert_frame_equal(two, one, check_exact=True)


def test_automatic_chunk_size_bounds_the_per_resample_arrays():
    """One kernel call for a few columns; about 8 MiB of per-resample arrays for many columns."""
    assert correlation._auto_chunk_size(3, 3, 10_000) == 10_000
    assert correlation._auto_chunk_size(200, 19_900, 10_000) == 13  # 8 MiB / (8 * 80,600 bytes)
    assert correlation._auto_chunk_size(20_000, 199_990_000, 1000) == 1


# --- degenerate inputs -------------------------------------------------------------------------


def by_pair(table, segment="all"):
    rows = table[table["segment"] == segment]
    return {(row.x, row.y): row for row in rows.itertuples()}


def test_constant_column_gives_nan_and_a_note(small):
    small["c"] = 5.0
    rows = by_pair(bootstrap_correlations(small, ["a", "b", "c"], resamples=100))
    for pair in [("a", "c"), ("b", "c")]:
        assert np.isnan([rows[pair].r, rows[pair].low, rows[pair].high]).all()
        assert rows[pair].note == "c is constant: correlation undefined"
    assert rows[("a", "b")].note == ""
    assert np.isfinite([rows[("a", "b")].r, rows[("a", "b")].low, rows[("a", "b")].high]).all()


def test_column_constant_in_one_segment_only(sessions):
    frame = sessions.copy()
    frame.loc[frame["CustomerType"] == "New_Customer", "Informational_Duration"] = 0.0
    table = bootstrap_correlations(frame, DURATIONS, resamples=100, by="CustomerType")

    new = by_pair(table, "New_Customer")
    note = "Informational_Duration is constant in segment New_Customer: correlation undefined"
    assert new[("Administrative_Duration", "Informational_Duration")].note == note
    assert new[("Informational_Duration", "ProductRelated_Duration")].note == note
    assert np.isnan(new[("Informational_Duration", "ProductRelated_Duration")].r)
    assert new[("Administrative_Duration", "ProductRelated_Duration")].note == ""
    assert (table.loc[table["segment"] != "New_Customer", "note"] == "").all()


def test_fewer_than_three_complete_rows(small):
    small.loc[2:, "a"] = np.nan
    small["g"] = ["p", "q"] * 15
    table = bootstrap_correlations(small, ["a", "b", "c"], resamples=100, by="g")
    assert (table["n"] == [2] * 3 + [1] * 3 + [1] * 3).all()
    assert table[["r", "low", "high"]].isna().all().all()
    assert table["note"].iloc[0] == "only 2 complete rows, need at least 3: correlation undefined"
    assert table["note"].iloc[3] == (
        "only 1 complete rows in segment p, need at least 3: correlation undefined"
    )


def test_all_missing_column(small):
    small["c"] = np.nan
    rows = by_pair(bootstrap_correlations(small, ["a", "b", "c"], resamples=100))
    assert rows[("a", "c")].note == "c has no values: correlation undefined"
    assert rows[("a", "b")].note == (
        "no complete rows: c has no values and rows must be complete in every requested column"
    )
    assert all(row.n == 0 and np.isnan(row.r) for row in rows.values())


def test_complete_cases_are_taken_over_all_requested_columns(small):
    small.loc[0, "a"] = np.nan
    small.loc[1, "c"] = np.nan
    table = bootstrap_correlations(small, ["a", "b", "c"], resamples=100)
    assert (table["n"] == 28).all()
    expected = small.dropna()[["a", "b"]].corr().loc["a", "b"]
    assert table["r"].iloc[0] == pytest.approx(expected, abs=1e-12)


def test_column_constant_in_some_resamples_gives_r_but_no_interval():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"rare": [0.0] * 9 + [1.0], "y": rng.normal(size=10)})
    row = bootstrap_correlations(frame, ["rare", "y"], resamples=200).iloc[0]
    assert np.isfinite(row.r)
    assert np.isnan(row.low) and np.isnan(row.high)
    assert row.note.startswith("rare is constant in ")
    assert row.note.endswith(
        " of 200 bootstrap resamples (too few distinct values): interval undefined"
    )


def test_spearman_jackknife_subsample_with_constant_column_gives_a_note(monkeypatch):
    monkeypatch.setattr(correlation, "SPEARMAN_JACKKNIFE_ROWS", 20)
    rng = np.random.default_rng(4)
    rare = np.zeros(3000)
    rare[:30] = 1.0
    frame = pd.DataFrame({"rare": rare, "y": rng.normal(size=3000)})
    row = bootstrap_correlations(frame, ["rare", "y"], resamples=100, statistic="spearman").iloc[0]
    assert np.isfinite(row.r) and np.isnan(row.low)
    assert row.note == (
        "BCa interval undefined: a jackknife sample has rare constant, so the acceleration cannot "
        'be computed; use method="percentile"'
    )


def test_bca_interval_is_undefined_when_every_bootstrap_r_is_on_one_side():
    boot = np.linspace(0.5, 0.6, 200)
    assert np.isnan(correlation._bca_interval(boot, 0.4, 0.1, 0.95)).all()
    assert np.isnan(correlation._bca_interval(boot, 0.7, 0.1, 0.95)).all()


def test_perfectly_correlated_columns_give_the_degenerate_interval():
    x = np.arange(20.0)
    frame = pd.DataFrame({"x": x, "y": 2 * x + 1})
    for method in ("percentile", "bca"):
        row = bootstrap_correlations(frame, ["x", "y"], resamples=200, method=method).iloc[0]
        assert (row.r, row.low, row.high, row.note) == (1.0, 1.0, 1.0, "")


# --- user errors -------------------------------------------------------------------------------


def test_missing_column_is_a_user_error(small):
    with pytest.raises(UserError) as caught:
        bootstrap_correlations(small, ["a", "nope"])
    assert str(caught.value) == (
        "error: nope: not in the data; check the spelling against the data's columns"
    )


def test_non_numeric_column_is_a_user_error(sessions):
    with pytest.raises(UserError, match=r"^error: Month: is not numeric \(dtype str\); convert it"):
        bootstrap_correlations(sessions, ["Administrative_Duration", "Month"])


def test_infinite_values_are_a_user_error(small):
    small.loc[3, "b"] = np.inf
    with pytest.raises(UserError, match="^error: b: contains infinite values;"):
        bootstrap_correlations(small, ["a", "b"])


@pytest.mark.parametrize(
    "arguments, where",
    [
        ({"resamples": 99}, "resamples"),
        ({"resamples": 1000.0}, "resamples"),
        ({"interval_prob": 1.0}, "interval_prob"),
        ({"interval_prob": 0}, "interval_prob"),
        ({"interval_prob": True}, "interval_prob"),
        ({"method": "bootstrap-t"}, "method"),
        ({"statistic": "kendall"}, "statistic"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"seed": -1}, "seed"),
        ({"by": "nope"}, "nope"),
        ({"columns": "ab"}, "columns"),
        ({"columns": ["a"]}, "columns"),
        ({"columns": ["a", "b", "a"]}, "columns"),
        ({"frame": [[1, 2], [3, 4]]}, "frame"),
    ],
)
def test_bad_arguments_are_user_errors_naming_the_argument(small, arguments, where):
    call = {"frame": small, "columns": ["a", "b"], **arguments}
    with pytest.raises(UserError) as caught:
        bootstrap_correlations(call.pop("frame"), call.pop("columns"), **call)
    assert caught.value.where == where


def test_method_and_statistic_names_are_case_insensitive(small):
    table = bootstrap_correlations(
        small, ["a", "b"], resamples=100, method="BCa", statistic="Pearson"
    )
    assert (table["method"].iloc[0], table["statistic"].iloc[0]) == ("bca", "pearson")


# --- plots -------------------------------------------------------------------------------------


def test_interval_label_reflects_the_table(small):
    table = bootstrap_correlations(small, ["a", "b"], resamples=100)
    assert interval_label(table) == (
        "Pearson correlation coefficient r (95% bootstrap interval, BCa)"
    )
    table = bootstrap_correlations(
        small,
        ["a", "b"],
        resamples=100,
        method="percentile",
        statistic="spearman",
        interval_prob=0.9,
    )
    assert interval_label(table) == (
        "Spearman correlation coefficient r (90% bootstrap interval, percentile)"
    )


def test_plots_write_png_files_also_with_undefined_rows(small, tmp_path):
    small["c"] = 1.0
    small.loc[:14, "c"] = 0.0
    small["g"] = ["p"] * 15 + ["q"] * 15  # c is constant in both segments
    table = bootstrap_correlations(small, ["a", "b", "c"], resamples=100, by="g")
    plots = [(plot_correlation_forest, "forest.png"), (plot_correlation_matrix, "matrix.png")]
    for plot, name in plots:
        path = plot(table, tmp_path / "figures" / name)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_refuse_a_table_without_its_interval_probability(small, tmp_path):
    table = bootstrap_correlations(small, ["a", "b"], resamples=100)
    table.attrs.clear()
    with pytest.raises(UserError, match="^error: table: does not record its interval probability"):
        plot_correlation_forest(table, tmp_path / "forest.png")

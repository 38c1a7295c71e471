"""Bag of Little Bootstraps: agreement with the full bootstrap at a million rows, the engine's subsets,
the weights, and the correlation analysis above its row threshold."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlglot
from scipy import stats

from shopper_bayes.analyses.correlations import blb
from shopper_bayes.analyses.correlations.blb import blb_correlations, multinomial_weights, row_hash, weighted_r
from shopper_bayes.analyses.correlations.compute import TABLE_COLUMNS, bootstrap_correlations
from shopper_bayes.errors import UserError

from conftest import only, write_config


def engine(frame, rows=None, queries=None):
    """``(sql, view)`` over ``frame`` in an in-memory DuckDB, with ``_row`` = ``rows`` (default 0..n-1);
    ``queries`` collects (query, rows returned)."""
    con = duckdb.connect()
    con.register("rows_view", frame.assign(_row=np.arange(len(frame)) if rows is None else rows))

    def sql(query):
        result = con.sql(query).df()
        if queries is not None:
            queries.append((query, len(result)))
        return result

    return sql, "rows_view"


def bivariate(kind, n, seed):
    """n rows of two columns with latent correlation 0.5: Gaussian, or lognormal with log-sd 0.5."""
    latent = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], size=n)
    return latent if kind == "gaussian" else np.exp(0.5 * latent)


def influence_sd(data):
    """Standard deviation over the rows of Pearson r's influence function (the delta method): the
    bootstrap distribution of r has standard deviation about this / sqrt(n)."""
    u, v = ((data - data.mean(axis=0)) / data.std(axis=0)).T
    r = np.mean(u * v)
    return np.std(u * v - r / 2 * (u * u + v * v))


FULL_RESAMPLES = 400


@pytest.mark.parametrize("kind", ["gaussian", "lognormal"])
def test_intervals_agree_with_the_full_bootstrap_at_a_million_rows(kind):
    """The BLB endpoints equal the full percentile bootstrap's within four standard errors of their
    difference, each computed here from the data, not from either implementation: the bootstrap
    distribution of r is close to normal with sd s = influence sd / sqrt(n), so a 2.5% or 97.5%
    quantile estimated from m draws has Monte Carlo sd c * s / sqrt(m), c = sqrt(p(1-p)) / phi(z_p)
    = 2.67; the full bootstrap has m = 400, the BLB 20 subsets x 100 resamples, plus the spread of
    its subsets' own s (their influence sds, from 20 random subsets drawn here) over 20 subsets.
    The tolerance comes to about a third of the interval's half-width: a BLB interval 8x too wide
    (weights summing to b, not n) misses it; one centred on the subsets' own r rather than the r of
    all rows would miss it only two times in three (the subsets' mean r is off by about 1.5 s), so
    the next test checks the centring on its own.

    Lognormal with log-sd 0.5 is skewed (skewness 1.8) and heavy-tailed (excess kurtosis 5.9). With
    heavier tails the BLB falls outside the Monte Carlo error, narrower than the full bootstrap:
    its subsets of n^0.7 rows seldom hold the few extreme rows that widen the full bootstrap's
    interval (log-sd 0.75: on some data sets; 1.25, like the durations: 0.77-0.93 of the width;
    benchmarks/README.md)."""
    n, subsets, resamples = 1_000_000, 20, 100
    data = bivariate(kind, n, seed=11)
    frame = pd.DataFrame(data, columns=["x", "y"])
    full = bootstrap_correlations(frame, ["x", "y"], resamples=FULL_RESAMPLES, method="percentile", seed=5).iloc[0]
    queries = []
    table = blb_correlations(*engine(frame, queries=queries), ["x", "y"], subsets=subsets, resamples=resamples,
                             seed=6)
    little = table.iloc[0]

    assert list(table.columns) == TABLE_COLUMNS
    assert little.r == pytest.approx(np.corrcoef(data.T)[0, 1], abs=1e-12)
    assert little.n == n and little.method == "percentile" and little.note == ""

    b = table.attrs["subset_rows"]["all"]
    assert b == int(n**0.7) == 15_848
    # Only the subsets' rows (and a few spare) leave the engine: 32% of a million rows here, 8% of 100 million.
    assert max(rows for _, rows in queries) < 1.05 * subsets * b

    rng = np.random.default_rng(7)
    sd = influence_sd(data) / np.sqrt(n)
    subset_sds = [influence_sd(data[rng.choice(n, b, replace=False)]) / np.sqrt(n) for _ in range(subsets)]
    p = 0.025
    c = np.sqrt(p * (1 - p)) / stats.norm.pdf(stats.norm.ppf(p))
    standard_error = np.sqrt((c * sd) ** 2 / FULL_RESAMPLES + (c * sd) ** 2 / (subsets * resamples)
                             + stats.norm.ppf(1 - p) ** 2 * np.var(subset_sds) / subsets)
    tolerance = 4 * standard_error
    assert tolerance < 0.4 * (full.high - full.low) / 2
    assert abs(little.low - full.low) < tolerance
    assert abs(little.high - full.high) < tolerance


def test_intervals_sit_around_the_r_of_all_rows_not_the_subsets_r():
    """Rows are built so that those the subsets take (smallest hashes) are uncorrelated and the rest
    have r = 0.9: the interval must still surround the r of all rows, its offsets those of the
    subsets' own r (about +-1.96 sd of r at n rows, for Gaussian rows)."""
    n, subsets = 100_000, 5
    b = int(n**0.7)
    taken = np.argsort(row_hash(np.arange(n), 0), kind="stable")[: subsets * b]
    rng = np.random.default_rng(3)
    data = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], size=n)
    data[taken] = rng.normal(size=(len(taken), 2))
    row = blb_correlations(*engine(pd.DataFrame(data, columns=["x", "y"])), ["x", "y"], subsets=subsets,
                           resamples=200, seed=0).iloc[0]
    assert row.r == pytest.approx(np.corrcoef(data.T)[0, 1], abs=1e-12) and row.r > 0.5
    sd = 1 / np.sqrt(n)  # of r in the subsets' bootstrap worlds: (1 - r^2) / sqrt(n) with r near 0
    tolerance = 4 * 2.67 * sd / np.sqrt(subsets * 200)  # 4 Monte Carlo sds of a 2.5% quantile (see above)
    assert row.low == pytest.approx(row.r - 1.96 * sd, abs=tolerance)
    assert row.high == pytest.approx(row.r + 1.96 * sd, abs=tolerance)


def test_same_seed_same_table_other_seed_other_subsets():
    frame = pd.DataFrame(bivariate("lognormal", 100_000, seed=1), columns=["x", "y"])
    settings = {"subsets": 5, "resamples": 50}
    first = blb_correlations(*engine(frame), ["x", "y"], seed=3, **settings)
    again = blb_correlations(*engine(frame), ["x", "y"], seed=3, **settings)
    other = blb_correlations(*engine(frame), ["x", "y"], seed=4, **settings)
    pd.testing.assert_frame_equal(first, again)
    assert first.r[0] == other.r[0]
    assert first.low[0] != other.low[0] and first.high[0] != other.high[0]


def test_the_sql_hash_equals_the_numpy_reference():
    rows = np.concatenate([np.arange(5_000), 2**32 + np.arange(5), [2**40 + 3, 2**62]]).astype(np.int64)
    con = duckdb.connect()
    con.register("ordinals", pd.DataFrame({"_row": rows}))
    for seed in (0, 2026):
        hashed = con.sql(blb._hash_layers("SELECT _row FROM ordinals", "_row", seed)).df()
        assert np.array_equal(hashed["h"].to_numpy(), row_hash(rows, seed))
    assert len(np.unique(row_hash(rows, 0))) == len(rows)


def test_the_hash_orders_rows_at_random():
    """Rows in storage order get hash values that look independent and uniform: in 256 equal bins
    (chi-square), between neighbours (correlation within 5 sd of 0, sd = 1/sqrt(n)) and across the
    row order (the rows of the smallest 5% of hashes fall evenly in 1,000 blocks of rows). A hash
    with additions in place of the xors (tried first) fails the neighbour check (correlation 0.65)."""
    n = 1_000_000
    h = row_hash(np.arange(n), 2026)
    u = h / 2**32
    assert stats.chisquare(np.bincount((u * 256).astype(int), minlength=256)).pvalue > 1e-3
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(n)
    picked = np.flatnonzero(h < np.quantile(h, 0.05))
    assert stats.chisquare(np.bincount(picked // 1000, minlength=1000)).pvalue > 1e-3


def test_subsets_are_the_rows_of_smallest_hash_in_each_segment():
    n = 30_000
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": np.arange(n, dtype=float), "y": rng.normal(size=n),
                          "seg": rng.choice(["a", "b"], size=n)})
    sql, view = engine(frame)
    wanted = {"all": (n, 400), "a": (int((frame.seg == "a").sum()), 300)}
    fetched = blb._subset_rows(sql, view, ["x", "y"], "seg", wanted, 10, seed=9)
    h = row_hash(np.arange(n), 9)
    for segment, (_, b) in wanted.items():
        rows = np.arange(n) if segment == "all" else np.flatnonzero(frame.seg == segment)
        expected = rows[np.lexsort((rows, h[rows]))][: 10 * b]
        assert np.array_equal(fetched[segment][:, 0], expected)


def test_the_queries_mean_the_same_in_spark_sql():
    """Each query, translated to Spark SQL by sqlglot and back, gives DuckDB the same result: a
    translation that changed the meaning (sqlglot writes xor(a, b) * c as a ^ b * c, which Spark
    reads as a ^ (b * c)) would change it."""
    frame = pd.DataFrame(bivariate("gaussian", 20_000, seed=3), columns=["x", "y"])
    frame["seg"] = np.where(np.arange(len(frame)) % 3 == 0, "it's", "b\\c")
    queries = []
    sql, _ = engine(frame, queries=queries)
    blb_correlations(sql, "rows_view", ["x", "y"], "seg", subsets=5, resamples=50)
    assert len(queries) == 3  # the columns, the statistics per segment, the subsets' rows
    for query, _ in list(queries):
        spark = sqlglot.transpile(query, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)[0]
        back = sqlglot.transpile(spark, read="spark", write="duckdb")[0]
        pd.testing.assert_frame_equal(in_order(sql(back)), in_order(sql(query)))


def in_order(frame):
    """A query result with its rows sorted, as SQL leaves their order open."""
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_weights_are_multinomial_and_sum_to_n():
    n, b, draws = 37, 5, 40_000
    weights = multinomial_weights(np.random.default_rng(0), n, b, draws)
    assert (weights.sum(axis=1) == n).all()
    observed = np.bincount(weights[:, 0].astype(int), minlength=n + 1)
    expected = stats.binom.pmf(np.arange(n + 1), n, 1 / b) * len(weights)
    common = expected > 5
    leftover = [observed[~common].sum(), expected[~common].sum()]
    assert stats.chisquare([*observed[common], leftover[0]], [*expected[common], leftover[1]]).pvalue > 1e-3
    variance, covariance = n / b * (1 - 1 / b), -n / b**2
    standard_error = np.sqrt((variance**2 + covariance**2) / draws)  # of a sample covariance, for normal counts
    assert np.cov(weights[:, 0], weights[:, 1])[0, 1] == pytest.approx(covariance, abs=5 * standard_error)


def test_weighted_r_equals_r_of_the_rows_repeated_by_their_weights():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(30, 3))
    weights = multinomial_weights(rng, 200, 30, 6)
    first, second = np.array([0, 0, 1]), np.array([1, 2, 2])
    r, constant = weighted_r(z, weights, first, second)
    assert not constant.any()
    for row, w in zip(r, weights):
        expanded = np.repeat(z, w.astype(int), axis=0)
        assert np.allclose(row, np.corrcoef(expanded.T)[first, second], atol=1e-12)


def segmented(n, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(bivariate("lognormal", n, seed), columns=["x", "y"])
    frame["seg"] = rng.choice(["big", "other", "tiny"], size=n, p=[0.6, 0.395, 0.005])
    frame.loc[:20, "seg"] = None
    return frame


def test_segments_equal_the_function_run_on_each_segment_alone():
    frame = segmented(60_000, seed=8)
    settings = {"subsets": 10, "resamples": 50, "seed": 1}
    table = blb_correlations(*engine(frame), ["x", "y"], "seg", **settings)
    assert list(table.segment) == ["all", "big", "other", "tiny"]
    assert table.attrs["subset_rows"]["tiny"] is None  # 10 subsets of n^0.7 rows do not fit in ~300 rows
    for segment in ("big", "other", "tiny"):
        inside = (frame.seg == segment).to_numpy()
        alone = blb_correlations(*engine(frame[inside][["x", "y"]], rows=np.flatnonzero(inside)), ["x", "y"],
                                 **settings)
        mine = table[table.segment == segment].iloc[0]
        assert (mine.r, mine.low, mine.high, mine.n) == pytest.approx((alone.r[0], alone.low[0], alone.high[0],
                                                                       alone.n[0]), abs=1e-12)
        assert mine.r == pytest.approx(frame.x[inside].corr(frame.y[inside]), abs=1e-12)
    assert table.n[0] == len(frame)  # rows without a segment count in the pooled rows


def test_a_segment_too_small_for_the_subsets_gets_the_full_percentile_bootstrap():
    frame = segmented(60_000, seed=8)
    table = blb_correlations(*engine(frame), ["x", "y"], "seg", subsets=10, resamples=50, seed=1)
    tiny = frame[frame.seg == "tiny"]
    full = bootstrap_correlations(tiny, ["x", "y"], resamples=500, method="percentile", seed=1).iloc[0]
    mine = table[table.segment == "tiny"].iloc[0]
    assert (mine.low, mine.high) == (full.low, full.high)


@pytest.fixture
def awkward():
    """Rows where some correlations are undefined, with the full bootstrap's notes to compare."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400), "z": 1.0,
                          "seg": np.repeat(["a", "b", "c"], [200, 198, 2])})
    frame.loc[frame.seg == "a", "y"] = 3.0
    return frame


def test_undefined_pairs_get_the_full_bootstraps_notes(awkward):
    mine = blb_correlations(*engine(awkward), ["x", "y", "z"], "seg", subsets=2, resamples=50)
    full = bootstrap_correlations(awkward, ["x", "y", "z"], resamples=100, method="percentile", by="seg")
    undefined = full.note != ""
    assert undefined.sum() >= 7
    assert list(mine.note) == list(full.note)
    assert mine.r[undefined].isna().all() and mine.low[undefined].isna().all()


def test_a_column_without_values_gets_the_full_bootstraps_note(awkward):
    awkward["z"] = np.nan
    mine = blb_correlations(*engine(awkward), ["x", "y", "z"], subsets=2, resamples=50)
    full = bootstrap_correlations(awkward, ["x", "y", "z"], resamples=100, method="percentile")
    assert list(mine.note) == list(full.note) and mine.note[0].startswith("no complete rows")


@pytest.mark.parametrize(("change", "where"), [
    (lambda f: f.assign(seg=f.seg.replace("c", "all")), "seg"),
    (lambda f: f.assign(x=f.x.where(f.index != 5, np.inf)), "x"),
    (lambda f: f.assign(x=f.x.astype(str)), "x"),
    (lambda f: f.drop(columns="y"), "y"),
])
def test_bad_input_is_one_line_naming_the_column(awkward, change, where):
    with pytest.raises(UserError) as error:
        blb_correlations(*engine(change(awkward)), ["x", "y"], "seg")
    assert error.value.where == where


def run_correlations(tmp_path, **settings):
    from shopper_bayes.config import load_config
    from shopper_bayes.runner import analyse

    config = load_config(write_config(tmp_path, correlations={"resamples": 200, **settings}, **only("correlations")))
    return analyse(config).outputs["correlations"].summary


def test_the_analysis_uses_the_little_bootstraps_above_the_row_threshold(tmp_path):
    from shopper_bayes.analyses.correlations.section import console, section

    result = run_correlations(tmp_path, blb_above_rows=1_000, blb_subsets=5, blb_resamples=50)
    pooled = result.pairs[0]
    little = result.little_bootstraps
    assert little.subsets == 5 and result.resamples == 250
    assert little.subset_rows["all"] == int(pooled.n**0.7)
    assert {pair.method for pair in result.pairs} == {"percentile"}
    assert console(result)[0] == (f"Correlations (Bag of Little Bootstraps (5 subsets of {little.subset_rows['all']:,} "
                                  "rows), 95% percentile interval)")
    assert f"Bag of Little Bootstraps (5 subsets of {little.subset_rows['all']:,} rows)" in section(result).blocks[0]
    below = run_correlations(tmp_path)
    assert below.little_bootstraps is None and below.pairs[0].r == pytest.approx(pooled.r, abs=1e-12)


def test_spearman_above_the_row_threshold_is_refused_naming_the_statistic(tmp_path):
    with pytest.raises(UserError) as error:
        run_correlations(tmp_path, blb_above_rows=1_000, blb_subsets=5, statistic="spearman")
    assert error.value.where == "correlations.statistic"


def test_subsets_that_cannot_fit_above_the_threshold_are_a_config_error(tmp_path):
    with pytest.raises(UserError, match="blb_subsets"):
        run_correlations(tmp_path, blb_above_rows=1_000, blb_subsets=20)

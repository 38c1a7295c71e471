"""Benchmark the Bag of Little Bootstraps (shopper_bayes.analyses.correlations.blb) against the full bootstrap.

Run from the repository root: .venv/bin/python benchmarks/bench_blb.py [--spark]

Per data set (two columns, latent correlation 0.5: Gaussian, or lognormal exp(s * Gaussian) with
log-sd s = 0.5, 0.75 or 1.25; the bundled durations have log-sd 1.2-1.4 on their positive values):

- the full percentile bootstrap, ``bootstrap_correlations`` (compiled kernels, every row resampled),
  with FULL_RESAMPLES[n] resamples;
- the BLB with the analysis's defaults: 20 subsets of n^0.7 rows, 100 resamples each (2,000 in
  all), the rows in an in-memory DuckDB (as the analysis gives them today); at a million rows with
  three seeds, as the subsets it draws move its endpoints.

Time ratio: the full bootstrap's time scaled to the BLB's 2,000 resamples (its time is linear in
the resamples: every one reads n rows) over the BLB's time, both measured in this process (the
first BLB seed). The intervals, as offsets from r in units of s, the delta-method standard
deviation of r (influence function over all rows / sqrt(n)), which both estimate (a normal
bootstrap distribution has offsets -1.96 and +1.96); the full bootstrap's own Monte Carlo error
per endpoint is about 2.67 s / sqrt(resamples): 0.08 s at 1,000 resamples, 0.27 s at 100.

--spark also runs the BLB through Spark local (the DuckDB SQL translated by sqlglot) on 200,000
rows and checks that it draws the same subsets and gives the same table.
"""

import os
import sys
import time

import duckdb
import numpy as np
import pandas as pd

from shopper_bayes.analyses.correlations.compute import bootstrap_correlations
from shopper_bayes.analyses.correlations.blb import blb_correlations

FULL_RESAMPLES = {1_000_000: 1_000, 10_000_000: 100}
CASES = {1_000_000: ["gaussian", 0.5, 0.75, 1.25], 10_000_000: ["gaussian", 0.5]}
SEEDS = {1_000_000: (3, 4, 5), 10_000_000: (3,)}
SUBSETS, PER_SUBSET = 20, 100


def data(kind, n, seed=1):
    latent = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], size=n)
    return latent if kind == "gaussian" else np.exp(kind * latent)


def delta_sd(values):
    u, v = ((values - values.mean(axis=0)) / values.std(axis=0)).T
    r = np.mean(u * v)
    return np.std(u * v - r / 2 * (u * u + v * v)) / np.sqrt(len(values))


def duckdb_sql(frame):
    con = duckdb.connect()
    con.register("rows_view", frame.assign(_row=np.arange(len(frame), dtype=np.int64)))
    return (lambda query: con.sql(query).df()), "rows_view"


def compare(n, kind):
    values = data(kind, n)
    frame = pd.DataFrame(values, columns=["x", "y"])
    resamples = FULL_RESAMPLES[n]
    start = time.perf_counter()
    full = bootstrap_correlations(frame, ["x", "y"], resamples=resamples, method="percentile", seed=2).iloc[0]
    full_time = time.perf_counter() - start
    sql = duckdb_sql(frame)
    littles, times = [], []
    for seed in SEEDS[n]:
        start = time.perf_counter()
        littles.append(blb_correlations(*sql, ["x", "y"], subsets=SUBSETS, resamples=PER_SUBSET, seed=seed))
        times.append(time.perf_counter() - start)
    scaled = full_time * SUBSETS * PER_SUBSET / resamples
    name = "Gaussian" if kind == "gaussian" else f"lognormal, log-sd {kind}"
    s = delta_sd(values)
    b = littles[0].attrs["subset_rows"]["all"]
    print(f"{n:>11,} rows, {name:<22} full {full_time:6.1f} s ({resamples:,} resamples), BLB {times[0]:5.1f} s "
          f"(b = {b:,}); full at 2,000 resamples / BLB = {scaled / times[0]:5.1f}x")
    offsets = ", ".join(f"{(t.low[0] - t.r[0]) / s:+.2f} / {(t.high[0] - t.r[0]) / s:+.2f}" for t in littles)
    print(f"{'':13}r = {full.r:.4f}, s = {s:.5f}; offsets in s: full {(full.low - full.r) / s:+.2f} / "
          f"{(full.high - full.r) / s:+.2f}, BLB {offsets}; width BLB / full: "
          + ", ".join(f"{(t.high[0] - t.low[0]) / (full.high - full.low):.2f}" for t in littles))


def spark_check():
    import sqlglot
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    frame = pd.DataFrame(data(0.75, 200_000), columns=["x", "y"])
    frame["seg"] = np.random.default_rng(4).choice(["a", "it's", "b\\c"], size=len(frame), p=[0.6, 0.39, 0.01])
    frame["_row"] = np.arange(len(frame), dtype=np.int64)
    spark.createDataFrame(frame).createOrReplaceTempView("rows_view")
    sql_spark = lambda query: spark.sql(sqlglot.transpile(query, read="duckdb", write="spark")[0]).toPandas()  # noqa: E731
    on_duckdb = blb_correlations(*duckdb_sql(frame.drop(columns="_row")), ["x", "y"], "seg", subsets=10, seed=5)
    on_spark = blb_correlations(sql_spark, "rows_view", ["x", "y"], "seg", subsets=10, seed=5)
    same = (on_duckdb.attrs["subset_rows"] == on_spark.attrs["subset_rows"]
            and (on_duckdb[["x", "y", "segment", "n", "note"]] == on_spark[["x", "y", "segment", "n", "note"]]).all().all())
    difference = (on_duckdb[["r", "low", "high"]] - on_spark[["r", "low", "high"]]).abs().max().max()
    print(f"Spark local {spark.version} against DuckDB {duckdb.__version__}, 200,000 rows, 3 segments: same subsets "
          f"and notes: {same}; largest difference in r or an endpoint: {difference:.1e}")
    spark.stop()


def main():
    print(f"load average before: {os.getloadavg()}")
    for n, kinds in CASES.items():
        for kind in kinds:
            compare(n, kind)
    if "--spark" in sys.argv:
        spark_check()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

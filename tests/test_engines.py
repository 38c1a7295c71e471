"""The engines: DuckDB and Spark compute the same statistics; a source may be a file, a glob or a folder.

The sessions are read, cleaned and counted inside the engine; these tests compare the two engines
with each other and with a plain pandas computation, and check the one-line refusals of the CLI.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from shopper_bayes.config import load_config
from shopper_bayes.datasets.sessions import SessionsConfig, load_sessions
from shopper_bayes.engine.base import DuckDBEngine, exact_sum
from shopper_bayes.engine.cells import segment_counts
from shopper_bayes.generate import write

ROOT = Path(__file__).resolve().parents[1]
NUMERIC = ("Administrative_Duration", "ProductRelated_Duration")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """Generated sessions as Parquet, with the column names the bundled config maps."""
    out = tmp_path_factory.mktemp("generated") / "sessions.parquet"
    write("sessions", 20_000, 7, out)
    return out


def statistics(settings, engine) -> tuple[dict, dict]:
    loaded = load_sessions(settings, ("segment", "month"), NUMERIC, filtered=False, engine=engine)
    counts = segment_counts(loaded, ["segment", "month"])
    sums = loaded.table.sql("SELECT segment, count(*) AS n, sum(Administrative_Duration) AS a, "
                            "sum(ProductRelated_Duration) AS p FROM {rows} GROUP BY segment ORDER BY segment")
    cells = {name: counts[name].values.tolist() for name in ("sessions", "purchases")}
    cells["levels"] = [counts[dim].values.tolist() for dim in counts["sessions"].dims]
    cells["sums"] = sums.round(6).to_dict("list")
    return loaded.cleaning.to_dict(), cells


def test_the_spark_jvm_logs_errors_only_from_its_start_and_keeps_the_users_java_options(spark):
    """Spark's own logging defaults put 8 lines of warnings on stderr before a one-line error (Hadoop's native library,
    the host's address, the shell's log level): the JVM starts with the project's log4j2 file (the PySpark gateway's
    logger, which it defines, at ERROR), and the Java options given in spark.config (the tests') come after it."""
    options = spark.spark.conf.get("spark.driver.extraJavaOptions")
    assert options.startswith("-Dlog4j2.configurationFile=file:") and options.endswith("-XX:TieredStopAtLevel=1")
    jvm = spark.spark.sparkContext._jvm
    gateway = jvm.org.apache.logging.log4j.LogManager.getLogger("org.apache.spark.api.python.PythonGatewayServer")
    assert gateway.getLevel().toString() == "ERROR"


def test_spark_and_duckdb_give_the_same_statistics_on_the_bundled_data(spark):
    settings = load_config(ROOT / "config.yaml").sessions
    duck_report, duck = statistics(settings, DuckDBEngine())
    spark_report, sparks = statistics(settings, spark)
    assert sparks == duck
    assert spark_report["rows_read"] == duck_report["rows_read"] == 12_055
    assert spark_report["rows_used"] == duck_report["rows_used"]
    assert spark_report["changed"] == duck_report["changed"]
    # The one malformed line (fewer fields than the header): DuckDB rejects it while reading, Spark
    # reads the missing fields as empty (its PERMISSIVE mode), so the cleaning drops it as missing.
    assert duck_report["dropped"] == {"fewer fields than the header": 1}
    assert spark_report["dropped"] == {"Purchase missing": 1}


def test_spark_and_duckdb_give_the_same_statistics_on_generated_data(spark, generated, tmp_path):
    """On Spark as a run does it: generated sessions, some with a missing segment (NULL) and some with the month
    padded and in other case, cleaned once (engine.clean.prepare, a persisted table) for two requests, then the
    statistics of one of them; the same on DuckDB, and on DuckDB with that request cleaned on its own, row by row.
    The shared cleaning computes the rules of a text column with few values once per value and joins them to the
    rows (engine.clean._by_value): the counts are the same either way. (One test: a Spark load of these rows
    costs several seconds of the suite.)"""
    from functools import partial

    from shopper_bayes.engine.clean import prepare
    from shopper_bayes.engine.source import resolve

    frame = pd.read_parquet(generated)
    frame.loc[::97, "CustomerType"] = None
    frame.loc[1::89, "Month"] = " nOv "
    path = tmp_path / "dirty.parquet"
    frame.to_parquet(path, index=False)
    settings = SessionsConfig(path=path)

    def requests(engine):
        return [partial(load_sessions, settings, ("segment",), NUMERIC[:1], engine=engine),
                partial(load_sessions, settings, ("segment", "month"), NUMERIC, filtered=False, engine=engine)]

    alone = statistics(settings, DuckDBEngine())
    duck = DuckDBEngine()
    prepare(duck, requests(duck))
    before = spark.cleanings
    prepare(spark, requests(spark))
    try:
        assert statistics(settings, spark) == statistics(settings, duck) == alone
        assert spark.cleanings == before + 1
    finally:
        spark.shared.pop(resolve(path, "sessions", "spark"), None)  # the engine is shared by other tests
    assert alone[0]["dropped"]["CustomerType missing"] == len(frame.index[::97])
    assert alone[0]["changed"]["Month spelling normalised (e.g. June -> Jun)"] >= len(frame.index[1::89])


def test_engine_counts_equal_a_plain_pandas_groupby(generated):
    settings = SessionsConfig(path=generated)
    _, cells = statistics(settings, DuckDBEngine())
    frame = pd.read_parquet(generated)
    frame["Month"] = frame["Month"].replace({"June": "Jun"})  # the generator spells June as the bundled file does
    want = frame.groupby(["CustomerType", "Month"])["Purchase"].agg(["size", "sum"])
    got = {(s, m): (n, k) for s_i, s in enumerate(cells["levels"][0]) for m_i, m in enumerate(cells["levels"][1])
           for n, k in [(cells["sessions"][s_i][m_i], cells["purchases"][s_i][m_i])] if n}
    assert got == {key: (int(row["size"]), int(row["sum"])) for key, row in want.iterrows()}
    sums = frame.groupby("CustomerType")["Administrative_Duration"].sum().round(6)
    assert cells["sums"]["a"] == pytest.approx(sums.tolist(), rel=1e-9)


def test_exact_sum_does_not_depend_on_the_order_of_the_rows(spark):
    """A DOUBLE sum of these values depends on the order they are added in; the exact sum is one
    value in every order, and within rounding each term to 10 decimals of the exact decimal sum."""
    from decimal import Decimal

    values = np.random.default_rng(3).lognormal(3, 2, 50_000) * np.random.default_rng(4).choice([1, 1e-7], 50_000)
    expected = float(sum(Decimal(float(v)) for v in values))
    orders = [np.arange(len(values)), np.argsort(values), np.argsort(-values)]
    assert len({float(values[order].cumsum()[-1]) for order in orders}) > 1  # not associative on these values
    duck, sums = DuckDBEngine(), set()
    try:
        for order in orders:
            duck.con.register("v", pd.DataFrame({"x": values[order]}))
            sums.add(float(duck.sql(f"SELECT {exact_sum('x')} AS s FROM v")["s"].iloc[0]))
    finally:
        duck.close()
    frame = spark.spark.createDataFrame(pd.DataFrame({"x": values[orders[1]]}))
    frame.createOrReplaceTempView("v")
    on_spark = float(spark.sql(f"SELECT {exact_sum('x')} AS s FROM v")["s"].iloc[0])
    assert len(sums) == 1
    assert abs(sums.pop() - expected) <= len(values) * 1e-10 and abs(on_spark - expected) <= len(values) * 1e-10


def test_a_glob_a_folder_and_hive_partitions_equal_the_single_file(generated, tmp_path):
    table = pq.read_table(generated)
    parts = tmp_path / "parts"
    parts.mkdir()
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), parts / "a.parquet")
    pq.write_table(table.slice(half), parts / "b.parquet")
    hive = tmp_path / "hive"
    frame = table.to_pandas()
    for segment, rows in frame.groupby("CustomerType"):
        folder = hive / f"CustomerType={segment}"
        folder.mkdir(parents=True)
        rows.drop(columns="CustomerType").to_parquet(folder / "part.parquet", index=False)
    single = statistics(SessionsConfig(path=generated), DuckDBEngine())[1]
    for path in (parts / "*.parquet", parts, hive):
        assert statistics(SessionsConfig(path=path), DuckDBEngine())[1] == single, path


def test_a_sample_of_rows_is_seeded_and_drawn_by_the_engine(generated):
    loaded = load_sessions(SessionsConfig(path=generated), ("segment",), NUMERIC, engine=DuckDBEngine())
    first = loaded.table.frame(limit=500, seed=3)
    assert len(first) == 500
    assert first.equals(loaded.table.frame(limit=500, seed=3))
    assert not first.equals(loaded.table.frame(limit=500, seed=4))
    assert loaded.table.count() == loaded.cleaning.rows_used


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_the_hash_bound_of_a_sample_changes_no_row(generated, engine, request):
    """The sample sorts only the rows below a hash bound: the same rows as sorting every kept row
    (a table not told its count), also when the bound lets too few through (a count far too large)."""
    engine = DuckDBEngine() if engine == "duckdb" else request.getfixturevalue("spark")
    loaded = load_sessions(SessionsConfig(path=generated), ("segment",), NUMERIC, engine=engine)
    table = loaded.table
    assert table.kept == loaded.cleaning.rows_used
    unbounded = dataclasses.replace(table, kept=None)
    misled = dataclasses.replace(table, kept=table.kept * 1000)
    queries = []
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setattr(engine, "sql", lambda query, run=engine.sql: queries.append(query) or run(query))
    for limit, seed in ((300, 3), (2_000, 11)):
        expected = unbounded.frame(limit=limit, seed=seed)
        assert len(expected) == limit
        queries.clear()
        pd.testing.assert_frame_equal(table.frame(limit=limit, seed=seed), expected)
        assert len(queries) == 1 and " < " in queries[0]  # the bound sufficed
        queries.clear()
        pd.testing.assert_frame_equal(misled.frame(limit=limit, seed=seed), expected)
        assert len(queries) == 2  # too few below the bound: every row sorted
    assert len(table.frame(limit=table.kept + 5, seed=1)) == table.kept


# texts whose first or last character is whitespace or not, some of several bytes: an accent on a space, a prepended
# Arabic sign before a space (one grapheme, which DuckDB's reverse keeps whole), a line end of two characters
STRIPPED = ["", " ", "a", " a", "a ", "\ta\t", "a\r\n", "\r\n", "\x0ba\x0c", "\x01a\x01", "!a!", "é ", " é",
            "a" + chr(769), "a " + chr(769), chr(1536) + " ", " " + chr(1536), "\u3000a\u3000", "a\n b", None]


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_a_stripped_text_loses_the_whitespace_around_it_and_nothing_else(engine, request):
    """``clean.strip`` (which trims only a text that starts or ends with a byte up to a space) equals Python's strip
    of the same six whitespace characters, on texts that end in a character of several bytes or graphemes."""
    from shopper_bayes.engine.clean import strip

    texts = pd.DataFrame({"i": range(len(STRIPPED)), "t": pd.Series(STRIPPED, dtype=object)})
    if engine == "duckdb":
        engine = DuckDBEngine()
        engine.con.register("texts", texts)
    else:
        engine = request.getfixturevalue("spark")
        engine.spark.createDataFrame(texts, "i long, t string").createOrReplaceTempView("texts")
    got = engine.sql(f"SELECT i, {strip('t')} AS s FROM texts ORDER BY i")["s"].tolist()
    expected = [None if text is None else text.strip(" \t\n\x0b\x0c\r") for text in STRIPPED]
    assert [None if pd.isna(value) else value for value in got] == expected


def run_cli(tmp_path: Path, config_text: str, env: dict | None = None) -> subprocess.CompletedProcess:
    config = tmp_path / "config.yaml"
    config.write_text(config_text)
    return subprocess.run([sys.executable, "-m", "shopper_bayes.cli", "run", "--config", str(config), "--output",
                           str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)


def test_a_folder_without_data_files_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    done = run_cli(tmp_path, "sessions: {path: empty}\n")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'empty'}: the folder has no .parquet or .csv files; point sessions.path at a data "
        "file, or at a folder of Parquet or CSV files"]


def test_a_glob_matching_nothing_is_one_line_and_exit_2(tmp_path):
    done = run_cli(tmp_path, "sessions: {path: 'nothing-*.parquet'}\n")
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: sessions.path: no file matches '{tmp_path / 'nothing-*.parquet'}'; "
                                   "check the pattern and the folder")


def test_spark_without_java_is_one_line_and_exit_2(tmp_path):
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-jdk"), "PATH": str(Path(sys.executable).parent)}
    done = run_cli(tmp_path, f"engine: spark\nsessions: {{path: {ROOT / 'data/online_shopping_session_data.csv'}}}\n", env)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: engine: spark: needs Java 17 or newer, and none was found (JAVA_HOME, PATH); "
                                   "install a JDK 17+ (Debian: apt install openjdk-17-jre-headless) or use engine: duckdb")


def test_a_spark_table_needs_the_spark_engine(tmp_path):
    done = run_cli(tmp_path, "sessions: {path: 'table:web.sessions'}\n")
    assert done.returncode == 2
    assert "names a Spark table but the engine is duckdb" in done.stderr
    assert np.char.count(done.stderr.strip(), "\n") == 0


def test_a_run_over_a_glob_of_parquet_parts_records_their_checksum(generated, tmp_path):
    import json

    table = pq.read_table(generated)
    for i, start in enumerate(range(0, table.num_rows, 7_000)):
        pq.write_table(table.slice(start, 7_000), tmp_path / f"part-{i}.parquet")
    off = "".join(f"{name}: {{enabled: false}}\n" for name in ("campaign", "correlations", "session_behaviour", "drivers"))
    done = run_cli(tmp_path, "sessions: {path: 'part-*.parquet', filter: {}}\nrates: {compare_models: false}\n" + off)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "reports" / "summary.json").read_text())
    assert summary["data"]["sessions"]["analyses"]["purchase_rates"]["rows_used"] == 20_000
    assert len(summary["data"]["sessions"]["sha256"]) == 64


def test_rejected_rows_are_those_of_the_file_scanned_not_of_an_earlier_file(tmp_path):
    """One DuckDB connection serves every dataset of a serial run: the short line of the first file must
    not be counted against a clean second file (or a third scan of the first file count it twice)."""
    from shopper_bayes.datasets.read import scan_table
    from shopper_bayes.engine.source import resolve

    broken, clean = tmp_path / "broken.csv", tmp_path / "clean.csv"
    broken.write_text("a,b\n1,2\n3\n5,6\n")
    clean.write_text("a,b\n1,2\n3,4\n")
    engine = DuckDBEngine()

    def rejected(path):
        scanned = scan_table(engine, resolve(path, "sessions"), ["a", "b"])
        engine.sql(f'SELECT count(*) AS n FROM "{scanned.view}"')  # the scan fills the reject tables
        return scanned.rejected()

    assert sum(rejected(broken).values()) == 1
    assert rejected(clean) == {}
    assert sum(rejected(broken).values()) == 1

"""Where rows are read, cleaned and aggregated: DuckDB, embedded (default), or Apache Spark (clusters).

Every query in the project is written once, in DuckDB's SQL dialect. :class:`DuckDBEngine` runs it
as written; :class:`SparkEngine` translates it to Spark SQL with sqlglot. Datasets register their raw
rows as a view (:meth:`Engine.scan`) and clean them with SQL (:mod:`shopper_bayes.engine.clean`);
analyses ask for aggregates, which come back as small pandas frames. Rows reach Python only where an
analysis needs them and says so.
"""

from __future__ import annotations

import glob
import itertools
from abc import ABC, abstractmethod
import os
import shutil
import subprocess
import tempfile
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field

from shopper_bayes.engine.source import Source
from shopper_bayes.errors import UserError

if TYPE_CHECKING:
    import pandas as pd


class SparkConfig(BaseModel):
    """``spark:`` in config.yaml: the master URL and extra Spark settings (``spark.sql.shuffle.partitions`` ...)."""

    model_config = ConfigDict(extra="forbid")
    master: str = "local[*]"
    config: dict[str, str] = Field(default_factory=dict)


EngineName = Literal["duckdb", "spark"]


def quote(name: str) -> str:
    """A column or view name as a quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def exact_sum(expression: str, scale: int = 10) -> str:
    """SQL summing a floating-point ``expression`` the same way in every run: each term rounded to ``scale`` decimals and
    added in DECIMAL, then returned as DOUBLE. A DOUBLE ``sum`` depends on the order the engine's threads add in, and a
    last-bit difference in a model's statistics sends MCMC down other draws (the same seed must give the same numbers)."""
    return f"CAST(sum(CAST(({expression}) AS DECIMAL(38, {scale}))) AS DOUBLE)"


def literal(value) -> str:
    """A Python string or number as an SQL literal."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class Engine(ABC):
    """Runs DuckDB-dialect SQL over registered views; results come back as pandas frames."""

    name: str = "engine"
    hash_range: tuple[int, int] = (0, 2**64)  # the values SQL ``hash()`` takes: DuckDB's UBIGINT
    _views = itertools.count()

    def __init__(self):
        self.shared: dict = {}  # Source -> clean.Shared: sources cleaned once for the run (clean.prepare)
        self.planning = None  # a clean.Plan while clean.prepare records the requests
        self.cleanings = 0  # cleanings of raw rows: the run's shared one, or a request's own (a test counts them)
        self.made: dict = {}  # key -> table made by :meth:`table_once`
        self.positional: set[str] = set()  # views whose ``_row`` is each row's place in its file, not a window's count

    def table_once(self, key: tuple, stem: str, query: str) -> str:
        """``create_table(query)`` the first time ``key`` is asked for, that table's name every later time.
        ``key`` must name what the table holds independently of the views it reads (say a source, and the
        query with the name of the view of that source taken out): loads of one source share the table."""
        if key not in self.made:
            self.made[key] = self.create_table(self.view_name(stem), query)
        return self.made[key]

    def view_name(self, stem: str) -> str:
        return f"{stem}_{next(self._views)}"

    @abstractmethod
    def scan(self, source: Source, columns: list[str], name: str) -> dict[str, str]:
        """Register ``columns`` of ``source``, with a row ordinal ``_row``, as the view ``name``.

        Returns each column's kind: ``text`` (every CSV column: parsing stays with the cleaning
        rules), ``number``, ``boolean`` or ``other`` (typed Parquet columns and tables, which
        the rules then take as they are, without a round trip through text)."""

    @abstractmethod
    def columns(self, source: Source) -> list[str]:
        """The column names of ``source`` (``column1``, ``column2``, ... for a CSV without a header)."""

    @abstractmethod
    def lines(self, source: Source, name: str) -> str:
        """Register the text lines of ``source``'s files, in file order, as a view (``_row``, ``line``); its name."""

    @abstractmethod
    def create_view(self, name: str, query: str) -> str:
        """Register ``query`` as the view ``name`` (computed again by every query that reads it)."""

    @abstractmethod
    def create_table(self, name: str, query: str, ordered: bool = True) -> str:
        """Compute ``query`` once and keep its result in the engine (on disk when it is large). ``ordered`` False:
        its rows may be kept in any order (nothing reads them by position), which lets DuckDB write them in parallel."""

    @abstractmethod
    def sql(self, query: str) -> pd.DataFrame:
        """Run a DuckDB-dialect query; its (small) result as a pandas frame."""

    def fetch(self, query: str) -> pd.DataFrame:
        """Run a query with a large result (a row per customer, say) whose columns are text, integers,
        DOUBLE or TIMESTAMP; its result as a pandas frame, through Arrow where the engine offers it."""
        return self.sql(query)

    def batches(self, query: str, rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
        """Run a query with a large result, in the result's order, as pandas frames of at most ``rows`` rows
        (columns as :meth:`fetch` takes them): for a result that must not be held whole."""
        yield self.fetch(query)

    def close(self) -> None:
        pass

    @contextmanager
    def statistics_memory(self) -> Iterator[None]:
        """Inside: the engine may use more memory (a worker's statistics pass, before any fit holds memory of its own)."""
        yield


class DuckDBEngine(Engine):
    """DuckDB in this process: one connection, views over the files, nothing loaded until queried."""

    name = "duckdb"

    def __init__(self, memory_limit: str = "500MB", folder: str | None = None):
        """Tables live in a database file in a temporary folder (deleted on close; made inside ``folder``
        when given), so cleaned rows larger than ``memory_limit`` spill to disk instead of growing the process.

        The limit covers DuckDB's buffers only: the interpreter, the libraries and a large result
        handed to pandas come on top (the per-customer summary of 10 million purchases: 2.3 million
        rows, 196 MiB). 500MB keeps a run on 10 million purchases, loading with every cleaning rule
        and then that summary, under 1 GiB; with 1GB the load alone peaks at 1.1 GiB
        (benchmarks/README.md). Memory DuckDB frees goes back to the system (allocator background
        threads, flush thresholds of 16MB) rather than staying with DuckDB's allocator, where pandas
        and Arrow cannot reuse it."""
        import duckdb

        super().__init__()
        self.memory_limit = memory_limit
        self._folder = tempfile.mkdtemp(prefix="shopper-bayes-", dir=folder)
        # registered before anything else can fail (or a signal stop the process): the folder goes with the engine
        self._delete_folder = weakref.finalize(self, shutil.rmtree, self._folder, True)
        self.con = duckdb.connect(self.database)
        self.con.execute(f"SET memory_limit = {literal(memory_limit)}")
        self.con.execute(f"SET temp_directory = {literal(os.path.join(self._folder, 'spill'))}")
        self.con.execute("SET allocator_background_threads = true")
        self.con.execute("SET allocator_flush_threshold = '16MB'")
        self.con.execute("SET allocator_bulk_deallocation_flush_threshold = '16MB'")
        # DuckDB's own progress bar (queries of more than 2 s) would be drawn between the console's step lines
        self.con.execute("SET enable_progress_bar = false")

    # 100 million sessions and purchases in two workers: their statistics 14-17 s sooner than at 500MB, the processes
    # peaking at 1.2 and 1.4 GiB (benchmarks/README.md)
    STATISTICS_MEMORY = "1GB"

    @contextmanager
    def statistics_memory(self) -> Iterator[None]:
        """Inside: DuckDB's buffers may take :attr:`STATISTICS_MEMORY` instead of ``memory_limit``: a worker reads,
        cleans and aggregates its datasets before its first fit (``runner``), when nothing else holds much memory."""
        self.con.execute(f"SET memory_limit = {literal(self.STATISTICS_MEMORY)}")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = {literal(self.memory_limit)}")

    @staticmethod
    def _files(source: Source) -> str:
        return "[" + ", ".join(literal(str(path)) for path in source.files) + "]"

    def _read(self, source: Source) -> str:
        files = self._files(source)
        if source.format == "parquet":
            return f"read_parquet({files}, hive_partitioning = {str(source.hive).lower()}, union_by_name = true)"
        if not source.header:
            count = len(self.con.sql(f"DESCRIBE SELECT * FROM read_csv({files}, header = false, all_varchar = true)").fetchall())
            names = ", ".join(literal(f"column{i}") for i in range(1, count + 1))
            return f"read_csv({files}, header = false, names = [{names}], all_varchar = true, store_rejects = true)"
        return (f"read_csv({files}, header = true, all_varchar = true, store_rejects = true, "
                "quote = '\"', escape = '\"')")

    def columns(self, source: Source) -> list[str]:
        return [row[0] for row in self.con.sql(f"DESCRIBE SELECT * FROM {self._read(source)}").fetchall()]

    def lines(self, source: Source, name: str) -> str:
        self.con.execute(f"CREATE OR REPLACE VIEW {quote(name)} AS SELECT row_number() OVER () AS _row, line "
                         f"FROM read_csv({self._files(source)}, columns = {{'line': 'VARCHAR'}}, header = false, "
                         "delim = chr(31), quote = '', escape = '', auto_detect = false)")
        return name

    def scan(self, source: Source, columns: list[str], name: str) -> dict[str, str]:
        selected = ", ".join(quote(column) for column in columns)
        row = "row_number() OVER ()"
        if source.format == "parquet" and not {"file_index", "file_row_number"} & set(self.columns(source)):
            # Parquet's own position of each row (file in the list, row in the file): the same order as row_number()
            # without a window over every row, which would run single-threaded and hold the rows (100 million rows:
            # 31 s against 17 s to copy them into a table, and 62 s against 14 s for the transactions' cleaning pass)
            row = "(CAST(file_index AS BIGINT) << 40) + file_row_number + 1"
            self.positional.add(name)
        self.con.execute(f"CREATE OR REPLACE VIEW {quote(name)} AS SELECT {row} AS _row, {selected} "
                         f"FROM {self._read(source)}")
        types = {row[0]: row[1] for row in self.con.sql(f"DESCRIBE {quote(name)}").fetchall()}
        return {column: _kind(types[column]) for column in columns}

    def rejected(self, source: Source) -> list[tuple[str, int]]:
        """CSV rows of ``source``'s files that DuckDB could not split into the header's fields: (DuckDB's
        reason, rows). The connection's reject tables hold every earlier scan's too (another dataset's file
        read in the same run), so they are matched to these files; a line rejected by several scans of
        the file counts once."""
        return self.con.sql("SELECT error_type, count(*) FROM (SELECT s.file_path, e.line, min(e.error_type) AS error_type "
                            "FROM reject_errors e JOIN reject_scans s ON e.scan_id = s.scan_id AND e.file_id = s.file_id "
                            f"WHERE s.file_path IN ({', '.join(literal(str(path)) for path in source.files)}) "
                            "GROUP BY s.file_path, e.line) GROUP BY error_type ORDER BY error_type").fetchall()

    def create_view(self, name: str, query: str) -> str:
        self.con.execute(f"CREATE OR REPLACE VIEW {quote(name)} AS {query}")
        return name

    def create_table(self, name: str, query: str, ordered: bool = True) -> str:
        if ordered:
            self.con.execute(f"CREATE OR REPLACE TABLE {quote(name)} AS {query}")
            return name
        # 100 million cleaned sessions: 46 s against 71 s in file order
        self.con.execute("SET preserve_insertion_order = false")
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {quote(name)} AS {query}")
        finally:
            self.con.execute("RESET preserve_insertion_order")
        return name

    def sql(self, query: str) -> pd.DataFrame:
        return self.con.sql(query).df()

    def fetch(self, query: str) -> pd.DataFrame:
        return arrow_frame(self.con.sql(query))

    def batches(self, query: str, rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
        for batch in self.con.sql(query).fetch_record_batch(rows):
            yield batch.to_pandas(split_blocks=True, self_destruct=True)

    @property
    def database(self) -> str:
        return os.path.join(self._folder, "engine.duckdb")

    def hand_over(self) -> str:
        """Close the connection but keep the database file, for other processes to attach read-only
        (:meth:`attach`) until :meth:`close` deletes it; its path. This engine runs no more queries."""
        self.con.execute("CHECKPOINT")
        self.con.close()
        return self.database

    def attach(self, database: str, alias: str) -> None:
        """Attach another engine's database file (handed over), read-only, as ``alias``."""
        self.con.execute(f"ATTACH {literal(database)} AS {quote(alias)} (READ_ONLY)")

    def close(self) -> None:
        try:
            self.con.close()
        finally:
            self._delete_folder()


def arrow_frame(relation) -> pd.DataFrame:
    """A DuckDB relation's rows as pandas by way of Arrow. Text stays in Arrow buffers, which pandas'
    ``str`` columns share, instead of becoming a Python object per value as ``.df()`` makes it (2.3
    million customer ids: 36 MiB in the frame either way; at the peak, 73 MiB more through Arrow and
    296 MiB more through ``.df()``). Only for columns whose Arrow type pandas holds natively (text,
    integers, DOUBLE, TIMESTAMP): DATE and DECIMAL would come back as Python objects. The result is streamed
    in batches: a materialised result must fit in DuckDB's memory limit (23 million customers' rows did not)."""
    table = relation.fetch_record_batch(1_000_000).read_all()
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _kind(sql_type: str) -> str:
    """``text``, ``number``, ``boolean`` or ``other`` for a DuckDB or Spark column type."""
    name = sql_type.lower().split("(")[0]
    if name in ("varchar", "string", "text"):
        return "text"
    if name in ("boolean", "bool"):
        return "boolean"
    numbers = ("tinyint", "smallint", "integer", "int", "bigint", "hugeint", "utinyint", "usmallint", "uinteger",
               "ubigint", "float", "double", "decimal", "real", "long", "short", "byte")
    return "number" if name in numbers else "other"


def find_java() -> str | None:
    """A ``java`` of version 17 or newer (``JAVA_HOME`` first, then PATH), or None."""
    candidates = [os.path.join(os.environ["JAVA_HOME"], "bin", "java")] if os.environ.get("JAVA_HOME") else []
    candidates.append(shutil.which("java"))
    for java in filter(None, candidates):
        try:
            text = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
        except (OSError, subprocess.SubprocessError):
            continue
        version = text.split('"')[1] if '"' in text else ""
        major = version.split(".")[0]
        major = version.split(".")[1] if major == "1" else major
        if major.isdigit() and int(major) >= 17:
            return java
    return None


class SparkEngine(Engine):
    """Apache Spark (PySpark 4): the same queries, translated to Spark SQL by sqlglot."""

    name = "spark"
    hash_range = (-(2**31), 2**31)  # Spark's hash() is 32-bit Murmur3, an INT

    def __init__(self, settings: SparkConfig | None = None):
        super().__init__()
        settings = settings or SparkConfig()
        java = find_java()
        if java is None:
            raise UserError("engine: spark", "needs Java 17 or newer, and none was found (JAVA_HOME, PATH)",
                            "install a JDK 17+ (Debian: apt install openjdk-17-jre-headless) or use engine: duckdb")
        os.environ.setdefault("JAVA_HOME", os.path.dirname(os.path.dirname(os.path.realpath(java))))
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise UserError("engine: spark", "PySpark is not installed", "pip install 'pyspark>=4'") from None
        builder = (SparkSession.builder.master(settings.master).appName("shopper-bayes")
                   .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").config("spark.sql.session.timeZone", "UTC")
                   .config("spark.driver.memory", "2g"))
        if settings.master.startswith("local"):  # one machine: a few shuffle partitions, not the cluster's 200
            builder = builder.config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 1)))
        for key, value in settings.config.items():
            builder = builder.config(key, value)
        # the JVM logs errors only from its start (log4j2.properties), before the user's own Java options
        logging = f"-Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties').as_uri()}"
        options = settings.config.get("spark.driver.extraJavaOptions")
        builder = builder.config("spark.driver.extraJavaOptions", f"{logging} {options}" if options else logging)
        self.spark = builder.getOrCreate()
        self.spark.sparkContext.setLogLevel("ERROR")

    def _frame(self, source: Source):
        if source.table is not None:
            return self.spark.table(source.table)
        files = [str(path) for path in source.files]
        if source.format == "parquet":
            return self.spark.read.option("mergeSchema", "true").parquet(*files)
        frame = self.spark.read.options(header=source.header, inferSchema=False, quote='"', escape='"').csv(files)
        return frame if source.header else frame.toDF(*(f"column{i}" for i in range(1, len(frame.columns) + 1)))

    def columns(self, source: Source) -> list[str]:
        return list(self._frame(source).columns)

    def scan(self, source: Source, columns: list[str], name: str) -> dict[str, str]:
        from pyspark.sql import functions as F

        frame = self._frame(source).select(F.monotonically_increasing_id().alias("_row"),
                                           *(F.col(f"`{column}`").alias(column) for column in columns))
        frame.createOrReplaceTempView(name)
        types = dict(frame.dtypes)
        return {column: _kind(types[column]) for column in columns}

    def lines(self, source: Source, name: str) -> str:
        from pyspark.sql import functions as F

        frame = self.spark.read.text([str(path) for path in source.files])
        frame.select(F.monotonically_increasing_id().alias("_row"), F.col("value").alias("line")).createOrReplaceTempView(name)
        return name

    def create_view(self, name: str, query: str) -> str:
        self.spark.sql(translate(query)).createOrReplaceTempView(name)
        return name

    def create_table(self, name: str, query: str, ordered: bool = True) -> str:
        from pyspark import StorageLevel

        self.spark.sql(translate(query)).persist(StorageLevel.MEMORY_AND_DISK).createOrReplaceTempView(name)
        return name

    def sql(self, query: str) -> pd.DataFrame:
        return self.spark.sql(translate(query)).toPandas()

    def batches(self, query: str, rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
        """Spark writes the result as Parquet files, one per partition, numbered in the result's order (a sorted
        result is range-partitioned), which are then read ``rows`` at a time: the driver never holds it whole."""
        import pyarrow.parquet as pq

        folder = tempfile.mkdtemp(prefix="shopper-bayes-spark-")
        try:
            self.spark.sql(translate(query)).write.parquet(os.path.join(folder, "result"))
            for path in sorted(glob.glob(os.path.join(folder, "result", "part-*.parquet"))):
                for batch in pq.ParquetFile(path).iter_batches(rows):
                    yield batch.to_pandas(split_blocks=True, self_destruct=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        self.spark.stop()


def translate(query: str) -> str:
    """A DuckDB-dialect query in Spark SQL (``try_strptime`` becomes ``try_to_timestamp``: NULL, not an
    error, for text that does not fit the format, as Spark 4 in ANSI mode raises in ``to_timestamp``)."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(query, read="duckdb")
    spark = sqlglot.Dialect.get_or_raise("spark").generator()
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name.lower() == "try_strptime":
            pattern = spark.format_time(exp.StrToTime(this=node.expressions[0], format=node.expressions[1]))
            node.replace(exp.Anonymous(this="TRY_TO_TIMESTAMP",
                                       expressions=[node.expressions[0], sqlglot.parse_one(pattern, read="spark")]))
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name.lower() == "isfinite":
            value = node.expressions[0]
            node.replace(exp.Between(this=value, low=exp.Literal.number(-1.7976931348623157e308),
                                     high=exp.Literal.number(1.7976931348623157e308)))
    return tree.sql(dialect="spark")


def connect(name: str = "duckdb", spark: SparkConfig | None = None, folder: str | None = None) -> Engine:
    """The engine ``name`` (``engine:`` in config.yaml); DuckDB's database goes in a temporary folder inside
    ``folder`` when given."""
    return SparkEngine(spark) if name == "spark" else DuckDBEngine(folder=folder)

"""Per-customer recency-frequency-monetary tables from a transaction log, in DuckDB SQL.

A purchase is a customer's purchase day: several transactions of one customer on one day are one
purchase whose value is their sum (the convention of Fader, Hardie & Lee and of
``pymc_marketing.clv.rfm_summary`` with daily periods). ``frequency`` counts repeat purchases (days
after the first) up to ``calibration_end``; ``recency`` is the time from the first to the last of
them, ``T`` from the first to ``calibration_end``; ``monetary_value`` is the mean value of the repeat
purchases (0 for customers without one). Times are in ``time_unit`` (a month is 30.4375 days).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from typing import Iterator

import numpy as np
import pandas as pd

from shopper_bayes.datasets.transactions import as_date, customer_table, customers_sql
from shopper_bayes.engine.base import DuckDBEngine, Engine
from shopper_bayes.errors import UserError

DAYS_PER_UNIT = {"day": 1.0, "week": 7.0, "month": 30.4375}


ORDER = "frequency, recency, T, customer_id"  # the rows' order: the triples', then the customers'
BATCH_ROWS = 1_000_000  # rows per batch out of the engine


class Customers:
    """The per-customer RFM table (customer_id, frequency, recency, T, total repeat spend, monetary_value and,
    with a holdout, the holdout purchases ``holdout``), one row per customer of the calibration period, kept
    in the engine that computed it. What comes out whole is small: ``triples``, the distinct (frequency,
    recency, T) sorted, with their ``customers`` (and ``holdout`` purchases); ``spend``, the distinct
    (frequency, total) of the repeat buyers with positive spend with their ``customers``; ``zero_spend``, the
    repeat buyers who spent nothing. The rows come out in batches (:meth:`batches`) ordered by (frequency,
    recency, T, customer_id): the k-th run of rows is the k-th triple's customers."""

    def __init__(self, engine: Engine, table: str, holdout: bool):
        self.engine, self.table, self.has_holdout = engine, table, holdout
        extra = ", sum(holdout) AS holdout" if holdout else ""
        triples = engine.sql(f"SELECT frequency, recency, T, count(*) AS customers{extra} FROM {table} "
                             "GROUP BY frequency, recency, T ORDER BY frequency, recency, T")
        self.triples = triples.astype({"frequency": np.int64, "recency": np.float64, "T": np.float64,
                                       "customers": np.int64} | ({"holdout": np.int64} if holdout else {}))
        spend = engine.fetch(f"SELECT frequency, total, count(*) AS customers FROM {table} "
                             "WHERE frequency > 0 AND monetary_value > 0 GROUP BY frequency, total ORDER BY frequency, total")
        self.spend = spend.astype({"frequency": np.int64, "total": np.float64, "customers": np.int64})
        self.zero_spend = int(engine.sql(f"SELECT count(*) AS n FROM {table} "
                                         "WHERE frequency > 0 AND monetary_value <= 0")["n"].iloc[0])

    def __len__(self) -> int:
        return int(self.triples["customers"].sum())

    def batches(self, columns: tuple[str, ...] | None = None) -> Iterator[pd.DataFrame]:
        """The rows (``columns`` of them; all but ``total`` by default) in the order of :data:`ORDER`."""
        columns = columns or ("customer_id", "frequency", "recency", "T", "monetary_value") + (
            ("holdout",) if self.has_holdout else ())
        for batch in self.engine.batches(f"SELECT {', '.join(columns)} FROM {self.table} ORDER BY {ORDER}", BATCH_ROWS):
            yield _typed(batch)

    def frame(self) -> pd.DataFrame:
        """Every row at once (small tables: tests, a look at the data)."""
        return pd.concat(list(self.batches()), ignore_index=True)

    @classmethod
    def of_frame(cls, frame: pd.DataFrame) -> Customers:
        """The table of a frame with columns frequency, recency, T, monetary_value (and optionally customer_id,
        holdout), such as one written out from a model's continuous times."""
        frame = frame.assign(total=frame["frequency"] * frame["monetary_value"])
        if "customer_id" not in frame:
            frame = frame.assign(customer_id=pd.RangeIndex(len(frame)).astype(str))
        return cls(*_frame_table(frame, "customers", "SELECT * FROM {frame}"), "holdout" in frame)


def _typed(batch: pd.DataFrame) -> pd.DataFrame:
    types = {"customer_id": "string", "frequency": np.int64, "recency": np.float64, "T": np.float64,
             "monetary_value": np.float64, "holdout": np.int64}
    return batch.astype({name: kind for name, kind in types.items() if name in batch})


@dataclass
class RfmTables:
    """``customers``: the per-customer table (:class:`Customers`). ``holdout_periods``: purchases per holdout
    period of one time unit (``period`` 0, 1, ...) by the calibration customers, None without a holdout;
    ``holdout_length``: the holdout's length in time units. ``new_in_holdout``: customers whose first purchase
    falls in the holdout (not in the check)."""

    customers: Customers
    holdout_periods: pd.DataFrame | None
    holdout_length: float | None
    calibration_end: dt.date
    observation_end: dt.date
    time_unit: str
    new_in_holdout: int = 0


def _tables(data, observation_end: dt.date | None, cut: dt.date | None) -> tuple[Engine, str, str, dt.date, dt.date]:
    """The engine the purchases are in (the run's for loaded data, a DuckDB of their own for a frame), SQL naming the
    purchases there, the per-customer table (:func:`shopper_bayes.datasets.transactions.customer_table`, shared with
    the customer analyses for the dataset's dates), observation_end and calibration_end (None: the last purchase
    day, and observation_end)."""
    table = getattr(data, "table", None)
    if table is not None:
        engine, rows = table.engine, table.rows
    else:
        frame = data.frame if hasattr(data, "frame") else data
        engine, rows = _frame_table(frame[["customer", "date", "amount"]], "purchases", "SELECT * FROM {frame}")
    bounds = engine.sql(f"SELECT min(CAST(date AS DATE)) AS first, max(CAST(date AS DATE)) AS last FROM {rows}")
    first, last = as_date(bounds["first"].iloc[0]), as_date(bounds["last"].iloc[0])
    end = last if observation_end is None else observation_end
    calibration = end if cut is None else cut
    if not first <= calibration <= end:
        raise UserError("transactions.calibration_end", f"{calibration} is not between the first purchase ({first}) "
                        f"and observation_end ({end})", "choose a date inside the log")
    split = calibration if calibration != end else None
    if table is not None:
        return engine, rows, customer_table(table, end, split), end, calibration
    customers = engine.create_table(engine.view_name("customers"), customers_sql(end, split).replace("{rows}", rows))
    return engine, rows, customers, end, calibration


def _frame_table(frame: pd.DataFrame, name: str, query: str) -> tuple[Engine, str]:
    """A DuckDB of its own holding the table ``name``: ``query`` over ``frame`` (``{frame}`` in it)."""
    engine = DuckDBEngine()
    engine.con.register("frame_rows", frame)
    table = engine.create_table(name, query.replace("{frame}", "frame_rows"))
    engine.con.unregister("frame_rows")
    return engine, table


def rfm_tables(data, calibration_end=None, observation_end=None, time_unit: str = "week") -> RfmTables:
    """The RFM table of the calibration period (with each customer's holdout purchases) and the purchases per
    holdout period, from loaded transactions (in their engine) or a frame with columns ``customer``, ``date``,
    ``amount``. ``observation_end`` defaults to the last date of the log; ``calibration_end`` None means no
    holdout (calibration runs to ``observation_end``). The per-customer table stays in the engine."""
    if time_unit not in DAYS_PER_UNIT:
        raise UserError("transactions.time_unit", f"{time_unit!r} is not a time unit", "use day, week or month")
    scale = DAYS_PER_UNIT[time_unit]  # divisions in DOUBLE: Spark would divide by a decimal literal in DECIMAL
    engine, rows, everyone, observation_end, calibration = _tables(
        data, None if observation_end is None else as_date(observation_end),
        None if calibration_end is None else as_date(calibration_end))
    cut, end = f"DATE '{calibration.isoformat()}'", f"DATE '{observation_end.isoformat()}'"
    holdout = calibration_end is not None and calibration != observation_end
    # From the per-customer table (purchase days up to observation_end; with a holdout, their part up to calibration_end
    # too): customers whose first purchase falls in the holdout are counted, then left out. The repeat spend is the
    # calibration revenue less the first day's (exact DECIMAL sums), in DOUBLE.
    days_, last_, revenue_ = (("calibration_days", "calibration_last_day", "calibration_revenue") if holdout
                              else ("purchase_days", "last_day", "revenue"))
    table = engine.create_view(engine.view_name("rfm_customers"), f"""
        SELECT *, coalesce(total / nullif(frequency, 0), 0) AS monetary_value
        FROM (SELECT customer AS customer_id, {days_} - 1 AS frequency,
                     CAST(date_diff('day', first_day, {last_}) AS DOUBLE) / {scale} AS recency,
                     CAST(date_diff('day', first_day, {cut}) AS DOUBLE) / {scale} AS T,
                     CAST({revenue_} AS DOUBLE) - CAST(first_amount AS DOUBLE) AS total
                     {", purchase_days - calibration_days AS holdout" if holdout else ""}
              FROM {everyone} WHERE first_day <= {cut}) AS c""")
    customers = Customers(engine, table, holdout)
    if not holdout:
        return RfmTables(customers, None, None, calibration, observation_end, time_unit)
    length = (observation_end - calibration).days / scale
    periods = int(np.ceil(length))
    per_period = engine.sql(f"""
        SELECT CAST(floor(CAST(date_diff('day', {cut}, day) - 1 AS DOUBLE) / {scale}) AS BIGINT) AS period, count(*) AS purchases
        FROM (SELECT DISTINCT CAST(customer AS VARCHAR) AS customer, CAST(date AS DATE) AS day FROM {rows} AS r
              WHERE CAST(date AS DATE) > {cut} AND CAST(date AS DATE) <= {end}) AS d
        WHERE customer IN (SELECT customer_id FROM {table}) GROUP BY 1""")
    counts = np.zeros(periods, dtype=np.int64)
    counts[per_period["period"].to_numpy(np.int64)] = per_period["purchases"].to_numpy(np.int64)
    new = engine.sql(f"SELECT count(*) AS n FROM {everyone} WHERE first_day > {cut}")["n"].iloc[0]
    return RfmTables(customers, pd.DataFrame({"period": np.arange(periods), "purchases": counts}),
                     length, calibration, observation_end, time_unit, int(new))

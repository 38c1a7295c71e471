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

import duckdb
import numpy as np
import pandas as pd

from shopper_bayes.engine.base import arrow_frame, exact_sum
from shopper_bayes.errors import UserError

DAYS_PER_UNIT = {"day": 1.0, "week": 7.0, "month": 30.4375}


@dataclass
class RfmTables:
    """``customers``: customer_id, frequency, recency, T, monetary_value (one row per customer of the
    calibration period). ``holdout``: repeat purchases per customer after ``calibration_end`` (same
    row order), ``holdout_periods``: purchases per holdout period of one time unit (``period`` 0, 1,
    ...), both None without a holdout. ``holdout_length``: the holdout's length in time units.
    ``new_in_holdout``: customers whose first purchase falls in the holdout (not in the check)."""

    customers: pd.DataFrame
    holdout: pd.Series | None
    holdout_periods: pd.DataFrame | None
    holdout_length: float | None
    calibration_end: dt.date
    observation_end: dt.date
    time_unit: str
    new_in_holdout: int = 0


def _day(value) -> dt.date:
    return pd.Timestamp(value).date()


DAYS = ("SELECT CAST(customer AS VARCHAR) AS customer_id, CAST(date AS DATE) AS day, "
        f"{exact_sum('amount')} AS amount FROM {{rows}} GROUP BY 1, 2")


class _Where:
    """Where the purchases are: the run's engine for loaded data, DuckDB for a frame. The purchase days
    (customer_id, day, amount summed) are computed there once, as the table ``days``."""

    def __init__(self, data):
        table = getattr(data, "table", None)
        if table is not None:
            self.engine = table.engine
            self.days = table.engine.table_once(("purchase_days", table.view), "purchase_days",
                                                DAYS.replace("{rows}", table.rows))
            self.small, self.large = self.engine.sql, self.engine.fetch
            return
        frame = data.frame if hasattr(data, "frame") else data
        con = duckdb.connect()
        con.register("purchase_rows", frame[["customer", "date", "amount"]])
        con.execute(f"CREATE TABLE purchase_days AS {DAYS.replace('{rows}', 'purchase_rows')}")
        self.days = "purchase_days"
        self.small, self.large = (lambda query: con.sql(query).df()), (lambda query: arrow_frame(con.sql(query)))


def rfm_tables(data, calibration_end=None, observation_end=None, time_unit: str = "week") -> RfmTables:
    """The RFM table of the calibration period and the holdout counts, from loaded transactions (in
    their engine) or a frame with columns ``customer``, ``date``, ``amount``. ``observation_end``
    defaults to the last date of the log; ``calibration_end`` None means no holdout (calibration
    runs to ``observation_end``). Only per-customer rows and per-period counts leave the engine."""
    if time_unit not in DAYS_PER_UNIT:
        raise UserError("transactions.time_unit", f"{time_unit!r} is not a time unit", "use day, week or month")
    scale = DAYS_PER_UNIT[time_unit]  # divisions in DOUBLE: Spark would divide by a decimal literal in DECIMAL
    where = _Where(data)
    days = where.days
    bounds = where.small(f"SELECT min(day) AS first, max(day) AS last FROM {days}")
    first, last = _day(bounds["first"].iloc[0]), _day(bounds["last"].iloc[0])
    observation_end = last if observation_end is None else _day(observation_end)
    calibration = observation_end if calibration_end is None else _day(calibration_end)
    if not first <= calibration <= observation_end:
        raise UserError("transactions.calibration_end", f"{calibration} is not between the first purchase ({first}) "
                        f"and observation_end ({observation_end})", "choose a date inside the log")
    cut, end = f"DATE '{calibration.isoformat()}'", f"DATE '{observation_end.isoformat()}'"
    holdout = calibration_end is not None and calibration != observation_end
    calibrated = f"""
        SELECT customer_id,
               count(*) - 1 AS frequency,
               CAST(date_diff('day', min(day), max(day)) AS DOUBLE) / {scale} AS recency,
               CAST(date_diff('day', min(day), {cut}) AS DOUBLE) / {scale} AS T,
               coalesce(({exact_sum('amount')} - arg_min(amount, day)) / nullif(count(*) - 1, 0), 0) AS monetary_value
        FROM {days} AS d WHERE day <= {cut}
        GROUP BY customer_id"""
    later = f"(SELECT customer_id, day FROM {days} AS d WHERE day > {cut} AND day <= {end})"
    if holdout:  # the holdout purchases of each calibration customer, in the same pass
        calibrated = f"""
            SELECT c.*, coalesce(h.purchases, 0) AS holdout
            FROM ({calibrated}) AS c
            LEFT JOIN (SELECT customer_id, count(*) AS purchases FROM {later} AS l GROUP BY 1) AS h
              ON h.customer_id = c.customer_id"""
    customers = where.large(f"SELECT * FROM ({calibrated}) AS c ORDER BY customer_id")
    customers["customer_id"] = customers["customer_id"].astype("string")
    customers["frequency"] = customers["frequency"].astype(np.int64)
    for column in ("recency", "T", "monetary_value"):
        customers[column] = customers[column].astype(np.float64)
    if not holdout:
        return RfmTables(customers, None, None, None, calibration, observation_end, time_unit)
    per_customer = pd.Series(customers.pop("holdout").to_numpy(np.int64), index=customers["customer_id"],
                             name="purchases")
    length = (observation_end - calibration).days / scale
    periods = int(np.ceil(length))
    per_period = where.small(f"""
        SELECT CAST(floor(CAST(date_diff('day', {cut}, h.day) - 1 AS DOUBLE) / {scale}) AS BIGINT) AS period, count(*) AS purchases
        FROM {later} AS h
        WHERE h.customer_id IN (SELECT customer_id FROM {days} AS d WHERE day <= {cut}) GROUP BY 1""")
    counts = np.zeros(periods, dtype=np.int64)
    counts[per_period["period"].to_numpy(np.int64)] = per_period["purchases"].to_numpy(np.int64)
    new = where.small(f"SELECT count(*) AS n FROM (SELECT customer_id FROM {days} AS d GROUP BY 1 "
                      f"HAVING min(day) > {cut} AND min(day) <= {end}) AS x")["n"].iloc[0]
    return RfmTables(customers, per_customer, pd.DataFrame({"period": np.arange(periods), "purchases": counts}),
                     length, calibration, observation_end, time_unit, int(new))

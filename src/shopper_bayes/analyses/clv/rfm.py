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


def rfm_tables(frame: pd.DataFrame, calibration_end=None, observation_end=None, time_unit: str = "week") -> RfmTables:
    """The RFM table of the calibration period and the holdout counts, from ``frame`` (columns
    ``customer``, ``date``, ``amount``). ``observation_end`` defaults to the last date of the log;
    ``calibration_end`` None means no holdout (calibration runs to ``observation_end``)."""
    if time_unit not in DAYS_PER_UNIT:
        raise UserError("transactions.time_unit", f"{time_unit!r} is not a time unit", "use day, week or month")
    scale = DAYS_PER_UNIT[time_unit]
    con = duckdb.connect()
    con.register("log", frame[["customer", "date", "amount"]])
    con.execute("create temp table days as select cast(customer as varchar) as customer_id, "
                "cast(date as date) as day, sum(amount) as amount from log group by 1, 2")
    first, last = con.execute("select min(day), max(day) from days").fetchone()
    observation_end = last if observation_end is None else _day(observation_end)
    calibration = observation_end if calibration_end is None else _day(calibration_end)
    if not first <= calibration <= observation_end:
        raise UserError("transactions.calibration_end", f"{calibration} is not between the first purchase ({first}) "
                        f"and observation_end ({observation_end})", "choose a date inside the log")
    customers = con.execute(f"""
        select customer_id,
               count(*) - 1 as frequency,
               date_diff('day', min(day), max(day)) / {scale} as recency,
               date_diff('day', min(day), ?::date) / {scale} as T,
               coalesce((sum(amount) - arg_min(amount, day)) / nullif(count(*) - 1, 0), 0) as monetary_value
        from days where day <= ?::date
        group by customer_id order by customer_id""", [calibration, calibration]).df()
    customers["frequency"] = customers["frequency"].astype(np.int64)
    if calibration_end is None or calibration == observation_end:
        return RfmTables(customers, None, None, None, calibration, observation_end, time_unit)
    con.register("calibrated", customers[["customer_id"]])
    per_customer = con.execute("""
        select c.customer_id, count(d.day) as purchases
        from calibrated c left join days d
          on d.customer_id = c.customer_id and d.day > ?::date and d.day <= ?::date
        group by c.customer_id order by c.customer_id""", [calibration, observation_end]).df()
    length = (observation_end - calibration).days / scale
    periods = int(np.ceil(length))
    per_period = con.execute(f"""
        select floor((date_diff('day', ?::date, d.day) - 1) / {scale})::bigint as period, count(*) as purchases
        from days d join calibrated c using (customer_id)
        where d.day > ?::date and d.day <= ?::date group by 1""", [calibration, calibration, observation_end]).df()
    counts = np.zeros(periods, dtype=np.int64)
    counts[per_period["period"].to_numpy()] = per_period["purchases"].to_numpy()
    new = con.execute("select count(*) from (select customer_id from days group by 1 having min(day) > ?::date "
                      "and min(day) <= ?::date)", [calibration, observation_end]).fetchone()[0]
    holdout = pd.Series(per_customer["purchases"].to_numpy(np.int64), index=customers["customer_id"], name="purchases")
    return RfmTables(customers, holdout, pd.DataFrame({"period": np.arange(periods), "purchases": counts}),
                     length, calibration, observation_end, time_unit, int(new))

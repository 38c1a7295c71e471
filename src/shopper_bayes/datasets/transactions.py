"""Load a transaction log (one row per purchase: customer, date, amount), and summarise it per customer.

Reads CSV (delimiter sniffed), whitespace-separated text (such as the CDNOW log: padded columns, CRLF
line ends) and Parquet, with or without a header row. Without a header (``header: false``) the
columns are named by position, counting from 1: ``column1``, ``column2``, ...

The loaded frame has one row per kept purchase with ``customer`` (text, leading zeros kept),
``date`` (the day of the purchase; a time of day is dropped), ``amount`` (0 or more) and, when
mapped, ``quantity`` and ``category``. Every row dropped or counted is in the cleaning report, by
reason (rules in order, the first broken one wins):

1. missing customer; 2. missing amount, or an amount that is not a number; 3. a missing or
unparseable date; 4. a negative amount: a return, kept out of purchases and counted apart (rows and
total in ``scope["returns"]``); 5. a date after ``observation_end``; 6. a repeated transaction id
when ``transaction_id`` is mapped (the first row is kept); 7. without ids, exact duplicate rows
(equal in every mapped column): counted and kept, or dropped when ``drop_duplicates`` is true. Zero amounts are
kept as purchases and counted (under ``changed``, which lists rows kept but worth knowing about).

:func:`customer_summary` is the per-customer summary (first and last purchase, purchase days,
revenue, frequency / recency / T) as one DuckDB query, so it scales with the data.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
from pydantic import Field

from shopper_bayes.datasets.base import Dataset, DatasetSettings, Loaded
from shopper_bayes.datasets.cleaning import _COMMA_NUMBER, Cleaner
from shopper_bayes.datasets.read import (
    _SIGNATURES,
    DELIMITERS,
    FEWER_FIELDS,
    MORE_FIELDS,
    PARQUET_SUFFIXES,
    RawTable,
    _check_text,
    _first_bytes,
    _rejected,
    _short,
    read_table,
)
from shopper_bayes.errors import MissingColumn, UserError

# Days per time unit for recency and T; a month is 365.25 / 12 days.
UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}

# Date formats tried when ``date_format`` is not set: name -> SQL parsing a text value ``v`` (NULL if
# it does not fit). "ISO 8601" is DuckDB's timestamp cast: 1997-01-02, 1997-01-02 10:11[:12[.5]],
# a T separator, a trailing Z or offset (the local day is kept).
_TIMES = ("", " %H:%M", " %H:%M:%S")
DATE_FORMATS: dict[str, str] = {"%Y%m%d": "try_strptime(v, '%Y%m%d')", "ISO 8601": "try_cast(v AS TIMESTAMP)"}
for _first, _second in (("%d", "%m"), ("%m", "%d")):
    for _sep in "/-.":
        for _time in _TIMES:
            _format = f"{_first}{_sep}{_second}{_sep}%Y{_time}"
            DATE_FORMATS[_format] = f"try_strptime(v, '{_format}')"


class TransactionColumns(DatasetSettings):
    """Canonical column name -> column in the file (``column1``, ``column2``, ... without a header).

    ``quantity``, ``category`` and ``transaction_id`` are optional (``null``: not in the file).
    """

    customer: str = "customer_id"
    date: str = "date"
    amount: str = "dollar_value"
    quantity: str | None = None
    category: str | None = None
    transaction_id: str | None = None


class TransactionsSettings(DatasetSettings):
    """``date_format``: a strptime format such as ``"%d/%m/%Y %H:%M"``; ``null`` sniffs it.
    ``observation_end``: the day the data is analysed as of (``null``: the last purchase day).
    ``time_unit``: the unit of recency and T (a month is 365.25 / 12 days)."""

    path: Path = Path("data/cdnow_transactions.txt")
    header: bool = True
    columns: TransactionColumns = TransactionColumns()
    date_format: str | None = None
    observation_end: date | None = None
    calibration_end: date | None = None  # for customer-value models: fitted up to here, checked on the rest
    time_unit: Literal["day", "week", "month"] = "week"
    drop_duplicates: bool = False
    min_parsed_share: float = Field(0.5, gt=0, le=1)  # a sniffed format must parse at least this share of dates


# ---------------------------------------------------------------- reading


def _is_whitespace_separated(path: Path) -> bool:
    """No comma, semicolon, tab or | on the first non-empty line, but several space-separated fields."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        for line in handle:
            if line.strip():
                return not any(d in line for d in DELIMITERS) and len(line.split()) > 1
    return False


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise UserError(path, "is a folder, not a file", "point transactions.path at the data file")
    if not path.is_file():
        raise UserError(path, "file not found",
                        "check transactions.path in the config (relative paths start at the config file's folder)")
    head = _first_bytes(path)
    if not head.removeprefix(b"\xef\xbb\xbf").strip():
        raise UserError(path, "the file is empty", "export the transactions again with their rows")
    for signature, what, todo in _SIGNATURES:
        if head.startswith(signature):
            raise UserError(path, what, todo)
    _check_text(path)


def _read_own(path: Path, header: bool, columns: list[str], optional: list[str]) -> RawTable:
    """Whitespace-separated text (split by DuckDB) or a header-less CSV, every column as text."""
    con = duckdb.connect()
    try:
        if _is_whitespace_separated(path):
            # Lines in file order (DuckDB preserves insertion order), split on runs of whitespace.
            con.execute(
                f"CREATE TABLE lines AS SELECT string_split_regex(trim(line, E' \\t\\r\\n'), '\\s+') AS f "
                f"FROM read_csv({_quote(path)}, columns={{'line': 'VARCHAR'}}, header=false, delim=chr(31), "
                "quote='', escape='', auto_detect=false) WHERE trim(line, E' \\t\\r\\n') <> ''")
            first = con.sql("SELECT f FROM lines LIMIT 1").fetchall()[0][0]
            names = list(first) if header else [f"column{i}" for i in range(1, len(first) + 1)]
            body = f"(SELECT f FROM lines OFFSET {int(header)})"
            n = len(names)
            counts = dict(con.sql(f"SELECT len(f) < {n}, count(*) FROM {body} WHERE len(f) <> {n} GROUP BY 1").fetchall())
            rejected = {reason: int(counts[key]) for key, reason in ((True, FEWER_FIELDS), (False, MORE_FIELDS))
                        if counts.get(key)}
            available = names
            select = lambda wanted: con.sql(  # noqa: E731
                "SELECT " + ", ".join(f"f[{names.index(name) + 1}] AS c{i}" for i, name in enumerate(wanted))
                + f" FROM {body} WHERE len(f) = {n}")
        else:
            relation = con.read_csv(str(path), header=False, all_varchar=True, store_rejects=True)
            available = [f"column{i}" for i in range(1, len(relation.columns) + 1)]
            original = list(relation.columns)
            select = lambda wanted: relation.select(*(  # noqa: E731
                duckdb.ColumnExpression(original[available.index(name)]) for name in wanted))
            rejected = None
        missing = [name for name in columns if name not in available]
        if missing:
            raise MissingColumn(path, f"no column {missing[0]!r} (the file has: {', '.join(available[:20])})",
                                "fix transactions.columns (without a header, columns are column1, column2, ...)")
        wanted = list(dict.fromkeys(list(columns) + [name for name in optional if name in available]))
        frame = select(wanted).df()
        if rejected is None:
            rejected = _rejected(con)
    except duckdb.Error as exc:
        raise UserError(path, f"cannot be read ({_short(exc)})", "check that it is UTF-8 text with one row per line") from None
    finally:
        con.close()
    frame.columns = wanted
    return RawTable(frame.astype("string"), rejected)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def read_raw(settings: TransactionsSettings, columns: list[str], optional: list[str] = ()) -> RawTable:
    """The file's ``columns`` (and those of ``optional`` it has) as text, whatever its layout."""
    path = Path(settings.path)
    _check_file(path)
    parquet = path.suffix.lower() in PARQUET_SUFFIXES or _first_bytes(path, 4) == b"PAR1"
    if parquet or (settings.header and not _is_whitespace_separated(path)):
        return read_table(path, columns, optional, dataset="transactions")
    return _read_own(path, settings.header, columns, list(optional))


# ---------------------------------------------------------------- dates


def sniff_date_format(values: pd.Series, where: str, min_share: float = 0.5) -> str:
    """The format of :data:`DATE_FORMATS` that parses the most distinct ``values``.

    Refused (UserError naming ``where``) when no format parses at least ``min_share`` of them, or
    when two formats parse as many but read some value as different days (01/02/2020 in a column
    where every day is 12 or less: 1 February or 2 January?).
    """
    distinct = pd.DataFrame({"v": values.dropna().str.strip().drop_duplicates()})
    if distinct.empty:
        raise UserError(where, "has no dates", "check transactions.columns.date")
    con = duckdb.connect()
    try:
        con.register("distinct_dates", distinct)
        parsed = ", ".join(f"CAST({sql} AS DATE) AS p{i}" for i, sql in enumerate(DATE_FORMATS.values()))
        con.execute(f"CREATE TABLE parsed AS SELECT {parsed} FROM distinct_dates")
        counts = con.sql("SELECT " + ", ".join(f"count(p{i})" for i in range(len(DATE_FORMATS))) + " FROM parsed").fetchall()[0]
        best = max(counts)
        tied = [i for i, count in enumerate(counts) if count == best]
        differ = [j for j in tied[1:] if con.sql(
            f"SELECT count(*) FROM parsed WHERE p{tied[0]} IS DISTINCT FROM p{j}").fetchall()[0][0]]
    finally:
        con.close()
    names = list(DATE_FORMATS)
    example = distinct["v"].iloc[0]
    if best < min_share * len(distinct):
        raise UserError(where, f"dates such as {example!r} match no known format",
                        "set transactions.date_format, e.g. \"%d/%m/%Y\" or \"%Y%m%d\"")
    if differ:
        raise UserError(where, f"dates are ambiguous: they read as {names[tied[0]]} and as {names[differ[0]]} "
                        f"(e.g. {example!r})", "set transactions.date_format to the right one")
    return names[tied[0]]


def parse_dates(values: pd.Series, date_format: str) -> pd.Series:
    """Days parsed with a format name of :data:`DATE_FORMATS` or a strptime format; NaT if unparseable."""
    sql = DATE_FORMATS.get(date_format, "try_strptime(v, '" + date_format.replace("'", "''") + "')")
    con = duckdb.connect()
    try:
        con.register("dates", pd.DataFrame({"v": values.str.strip()}))
        parsed = con.sql(f"SELECT CAST({sql} AS DATE) AS d FROM dates").df()["d"]
    except duckdb.Error as exc:
        raise UserError("transactions.date_format", f"{date_format!r} is not a usable format ({_short(exc)})",
                        "use strptime codes such as \"%d/%m/%Y %H:%M\"") from None
    finally:
        con.close()
    return pd.to_datetime(parsed).set_axis(values.index)


# ---------------------------------------------------------------- loading


def _amount(clean: Cleaner, column: str) -> pd.Series:
    text = clean.text(column)
    comma = text.str.contains(_COMMA_NUMBER).fillna(False)
    if comma.any():
        raise UserError(f"{clean.source}: column {column}",
                        f"{text[comma].iloc[0]!r} has a comma inside a number ({int(comma.sum())} such values)",
                        "export amounts with a dot as the decimal separator and no thousands separator")
    number = pd.to_numeric(text, errors="coerce").astype("float64")
    clean.drop(number.isna() | ~np.isfinite(number), f"{column} not a number")
    return number


def load(settings: TransactionsSettings, needs: tuple[str, ...] = ()) -> Loaded:
    """Read, clean and return the purchases (see the module docstring for the rules).

    ``needs``: optional canonical columns (``quantity``, ``category``) the caller requires; rows
    missing one are dropped and counted. A need that is not mapped is ignored: the frame then has
    no such column, which the caller checks.
    """
    mapping = {name: value for name, value in settings.columns.model_dump().items() if value is not None}
    required = [mapping["customer"], mapping["date"], mapping["amount"]]
    extra = [mapping[name] for name in ("quantity", "category", "transaction_id") if name in mapping]
    path = Path(settings.path)
    raw = read_raw(settings, list(dict.fromkeys(required + extra)))
    if raw.frame.empty and not raw.rejected:
        raise UserError(path, "has no data rows", "export the transactions again with their rows")
    frame = raw.frame
    clean = Cleaner(frame, str(path), raw.rejected)
    out = pd.DataFrame(index=frame.index)
    out["customer"] = clean.text(mapping["customer"])
    out["amount"] = _amount(clean, mapping["amount"])

    date_column = mapping["date"]
    date_text = clean.text(date_column)
    where = f"{path}: column {date_column}"
    date_format = settings.date_format or sniff_date_format(date_text[clean.keep], where, settings.min_parsed_share)
    out["date"] = parse_dates(date_text, date_format)
    clean.drop(out["date"].isna().to_numpy() & clean.keep, f"{date_column} not a date ({date_format})")

    negative = (out["amount"] < 0).fillna(False).to_numpy() & clean.keep
    returns = {"rows": int(negative.sum()), "amount": float(abs(out["amount"][negative].sum()))}
    clean.drop(negative, f"returns: negative {mapping['amount']} (kept out of purchases)")

    if not clean.keep.any():
        raise UserError(path, f"no purchases left after cleaning ({_reasons(clean)})", "fix those rows or transactions.columns")
    end = settings.observation_end or out["date"][clean.keep].max().date()
    clean.drop((out["date"] > pd.Timestamp(end)).to_numpy(), f"after observation_end ({end.isoformat()})")

    if "transaction_id" in mapping:
        clean.unique(mapping["transaction_id"])
    else:
        mapped = list(dict.fromkeys(required + [mapping[name] for name in ("quantity", "category") if name in mapping]))
        kept = frame[mapped].apply(lambda column: column.str.strip()).where(pd.Series(clean.keep, index=frame.index), axis=0)
        repeat = (kept.duplicated(keep="first") & clean.keep).to_numpy()
        if settings.drop_duplicates:
            clean.drop(repeat, "exact duplicate row (transactions.drop_duplicates is true)")
        else:
            clean.note_change(repeat, "exact duplicate row, kept (transactions.drop_duplicates: true drops them)")

    if "quantity" in mapping:
        quantity = pd.to_numeric(frame[mapping["quantity"]].str.strip(), errors="coerce").astype("float64")
        out["quantity"] = quantity
        if "quantity" in needs:
            clean.drop(quantity.isna().to_numpy(), f"{mapping['quantity']} missing or not a number")
    if "category" in mapping:
        category = frame[mapping["category"]].str.strip()
        out["category"] = category
        if "category" in needs:
            clean.drop((category.isna() | (category == "")).to_numpy(), f"{mapping['category']} missing")
    clean.note_change((out["amount"] == 0).fillna(False).to_numpy(), f"zero {mapping['amount']}, kept as a purchase")

    report = clean.report()
    if report.rows_used == 0:
        raise UserError(path, f"no purchases left after cleaning ({_reasons(clean)})",
                        "fix those rows, or check transactions.observation_end and transactions.columns")
    result = out[clean.keep].reset_index(drop=True)
    result["customer"] = result["customer"].astype("string")
    scope = {
        "source": str(path),
        "date_range": [result["date"].min().date().isoformat(), result["date"].max().date().isoformat()],
        "observation_end": end.isoformat(),
        "time_unit": settings.time_unit,
        "date_format": date_format + ("" if settings.date_format else " (sniffed)"),
        "customers": int(result["customer"].nunique()),
        "purchases": len(result),
        "returns": returns,
    }
    return Loaded(result, report, scope)


def _reasons(clean: Cleaner) -> str:
    return "; ".join(f"{reason}: {count}" for reason, count in clean.dropped.items()) or "no rows"


# ---------------------------------------------------------------- per-customer summary


SUMMARY_COLUMNS = ["customer", "first_purchase", "last_purchase", "purchase_days", "transactions", "revenue",
                   "frequency", "recency", "T", "monetary_value"]
HOLDOUT_COLUMNS = ["purchase_days_holdout", "revenue_holdout", "frequency_holdout", "duration_holdout"]


def customer_summary(data: Loaded | pd.DataFrame | duckdb.DuckDBPyRelation, observation_end: date | str,
                     time_unit: str = "week", calibration_end: date | str | None = None) -> pd.DataFrame:
    """One row per customer, from one DuckDB query over purchases with ``customer``, ``date``, ``amount``.

    Purchases after ``observation_end`` are left out. ``frequency`` = purchase days - 1 (repeat
    purchase days: several purchases on one day are one), ``recency`` = last - first purchase day,
    ``T`` = ``observation_end`` - first purchase day, both in ``time_unit`` (day, week or month of
    365.25 / 12 days), and ``monetary_value`` = mean revenue of the repeat purchase days (0 when
    frequency is 0), as ``pymc_marketing.clv.rfm_summary(time_unit="D", time_scaler=days per unit)``.

    With ``calibration_end``, the columns describe the calibration period (purchases up to
    ``calibration_end``, T measured to it; customers whose first purchase is later are left out) and
    the holdout period (``calibration_end``, ``observation_end``] adds ``purchase_days_holdout``,
    ``revenue_holdout``, ``frequency_holdout`` (= purchase days in the holdout) and
    ``duration_holdout`` (its length in ``time_unit``).
    """
    if time_unit not in UNIT_DAYS:
        raise UserError("time_unit", f"{time_unit!r} is not a time unit", "use day, week or month")
    end = pd.Timestamp(observation_end).date()
    cut = pd.Timestamp(calibration_end).date() if calibration_end is not None else end
    if cut > end:
        raise UserError("calibration_end", f"{cut} is after observation_end {end}", "choose an earlier calibration_end")
    unit = UNIT_DAYS[time_unit]
    frame = data.frame if isinstance(data, Loaded) else data
    con = duckdb.connect() if not isinstance(frame, duckdb.DuckDBPyRelation) else None
    relation = con.from_df(frame[["customer", "date", "amount"]]) if con is not None else frame
    calibration = f"DATE '{cut.isoformat()}'"
    holdout = ""
    if calibration_end is not None:
        holdout = (", count(*) FILTER (WHERE day > {c}) AS purchase_days_holdout"
                   ", coalesce(sum(day_revenue) FILTER (WHERE day > {c}), 0) AS revenue_holdout"
                   ", count(*) FILTER (WHERE day > {c}) AS frequency_holdout"
                   ", {d} / {u} AS duration_holdout").format(c=calibration, d=(end - cut).days, u=unit)
    calib = f"day <= {calibration}"
    sql = f"""
        SELECT customer,
               min(day) FILTER (WHERE {calib}) AS first_purchase,
               max(day) FILTER (WHERE {calib}) AS last_purchase,
               count(*) FILTER (WHERE {calib}) AS purchase_days,
               sum(day_transactions) FILTER (WHERE {calib}) AS transactions,
               sum(day_revenue) FILTER (WHERE {calib}) AS revenue,
               count(*) FILTER (WHERE {calib}) - 1 AS frequency,
               datediff('day', min(day) FILTER (WHERE {calib}), max(day) FILTER (WHERE {calib})) / {unit} AS recency,
               datediff('day', min(day) FILTER (WHERE {calib}), {calibration}) / {unit} AS T,
               CASE WHEN count(*) FILTER (WHERE {calib}) > 1
                    THEN (sum(day_revenue) FILTER (WHERE {calib}) - arg_min(day_revenue, day))
                         / (count(*) FILTER (WHERE {calib}) - 1)
                    ELSE 0 END AS monetary_value
               {holdout}
        FROM (SELECT customer, CAST(date AS DATE) AS day, count(*) AS day_transactions, sum(CAST(amount AS DECIMAL(38, 8))) AS day_revenue
              FROM purchases WHERE CAST(date AS DATE) <= DATE '{end.isoformat()}' GROUP BY customer, day)
        GROUP BY customer
        HAVING count(*) FILTER (WHERE {calib}) > 0
        ORDER BY customer"""
    try:
        summary = relation.query("purchases", sql).df()
    finally:
        if con is not None:
            con.close()
    summary["customer"] = summary["customer"].astype("string")
    for column in ("first_purchase", "last_purchase"):
        summary[column] = pd.to_datetime(summary[column])
    for column in ("purchase_days", "transactions", "frequency", *(["purchase_days_holdout", "frequency_holdout"]
                                                                   if calibration_end is not None else [])):
        summary[column] = summary[column].astype("int64")
    return summary


DATASET = Dataset(name="transactions", title="Transactions", settings=TransactionsSettings, load=load, default=None)

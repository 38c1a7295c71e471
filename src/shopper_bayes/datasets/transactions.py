"""Load a transaction log (one row per purchase: customer, date, amount), and summarise it per customer.

Reads CSV (delimiter sniffed), whitespace-separated text (such as the CDNOW log: padded columns, CRLF
line ends) and Parquet, with or without a header row, from a file, folder, glob or Spark table (see
:mod:`shopper_bayes.engine.source`). Without a header (``header: false``) the columns are named by
position, counting from 1: ``column1``, ``column2``, ... Reading, date-format sniffing (over the
distinct date texts), parsing and every cleaning rule run as SQL in the engine (DuckDB or Spark); the
rows stay there (``Loaded.table``) and only counts come back.

The loaded table has one row per kept purchase with ``customer`` (text, leading zeros kept),
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
revenue, frequency / recency / T) as SQL run by the engine, so it scales with the data. In an engine one
per-customer table is computed once per run (:func:`customer_table`) and every per-customer statistic reads it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd
from pydantic import Field

from shopper_bayes.datasets.base import Dataset, DatasetSettings, Loaded
from shopper_bayes.datasets.cleaning import CleaningReport
from shopper_bayes.datasets.read import (
    DELIMITERS,
    FEWER_FIELDS,
    MORE_FIELDS,
    Scanned,
    _first_bytes,
    _short,
    check_file,
    scan_table,
)
from shopper_bayes.engine.base import DuckDBEngine, Engine, arrow_frame, literal, quote
from shopper_bayes.engine.clean import WHITESPACE, SqlCleaner, Table
from shopper_bayes.engine.source import Source, resolve
from shopper_bayes.errors import MissingColumn, UserError

# Days per time unit for recency and T; a month is 365.25 / 12 days.
UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}

# Date formats tried when ``date_format`` is not set: name -> SQL parsing a text value ``{v}`` (NULL if
# it does not fit). "ISO 8601" is DuckDB's timestamp cast: 1997-01-02, 1997-01-02 10:11[:12[.5]],
# a T separator, a trailing Z or offset (the local day is kept).
_TIMES = ("", " %H:%M", " %H:%M:%S")
DATE_FORMATS: dict[str, str] = {"%Y%m%d": "try_strptime({v}, '%Y%m%d')", "ISO 8601": "try_cast({v} AS TIMESTAMP)"}
for _first, _second in (("%d", "%m"), ("%m", "%d")):
    for _sep in "/-.":
        for _time in _TIMES:
            _format = f"{_first}{_sep}{_second}{_sep}%Y{_time}"
            DATE_FORMATS[_format] = f"try_strptime({{v}}, '{_format}')"


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


def _scan_whitespace(engine: Engine, source: Source, header: bool, columns: list[str]) -> Scanned:
    """Whitespace-separated text (padded columns, any line ends), split into fields by the engine.

    With a header, the first line of each file names the columns (a later line equal to it is a
    repeated header, skipped); lines with another number of fields are counted, not read."""
    for path in source.files:
        check_file(path, "transactions")
    shared = engine.shared.get(source)
    if shared is not None and set(columns) <= set(shared.names):  # cleaned once for the run (engine.clean.prepare)
        return Scanned(shared.raw, [], shared.rejected)
    lines = engine.lines(source, engine.view_name("lines_transactions"))
    # Split once per run and kept: the date sniffing, the cleaning and the counts of every request read the fields.
    split = engine.table_once(("fields", source), "fields_transactions",
                              f"SELECT _row, string_split_regex(trim(line, {WHITESPACE}), '\\s+') AS f "
                              f"FROM {quote(lines)} WHERE trim(line, {WHITESPACE}) <> ''")
    first = engine.sql(f"SELECT f FROM {quote(split)} ORDER BY _row LIMIT 1")
    if first.empty:
        raise UserError(source.shown, "the file is empty", "export the transactions again with their rows")
    fields = [str(value) for value in first["f"].iloc[0]]
    names = fields if header else [f"column{i}" for i in range(1, len(fields) + 1)]
    missing = [name for name in columns if name not in names]
    if missing:
        raise MissingColumn(source.shown, f"no column {missing[0]!r} (the file has: {', '.join(names[:20])})",
                            "fix transactions.columns (without a header, columns are column1, column2, ...)")
    n = len(names)
    not_header = f"NOT ({_header_line(fields)}) AND " if header else ""
    raw = engine.create_view(engine.view_name("raw_transactions"), "SELECT _row, " + ", ".join(
        f"f[{names.index(name) + 1}] AS {quote(name)}" for name in columns)
        + f" FROM {quote(split)} WHERE {not_header}array_length(f) = {n}")

    def rejected() -> dict[str, int]:
        counts = engine.sql(f"SELECT array_length(f) < {n} AS fewer, count(*) AS n FROM {quote(split)} "
                            f"WHERE {not_header}array_length(f) <> {n} GROUP BY 1")
        found = {bool(fewer): int(count) for fewer, count in zip(counts["fewer"], counts["n"])}
        return {reason: found[key] for key, reason in ((True, FEWER_FIELDS), (False, MORE_FIELDS)) if found.get(key)}

    if engine.planning is not None:
        engine.planning.scanned(source, raw, dict.fromkeys(columns, "text"), rejected, rescan=False)
    return Scanned(raw, [], rejected)


def _header_line(fields: list[str]) -> str:
    """SQL: the split line ``f`` is the header line."""
    return f"array_length(f) = {len(fields)} AND " + " AND ".join(
        f"f[{i}] = {literal(value)}" for i, value in enumerate(fields, start=1))


def scan_raw(engine: Engine, settings: TransactionsSettings, columns: list[str]) -> tuple[Source, Scanned]:
    """The source's ``columns`` as a view of text, whatever its layout (the first file decides it)."""
    source = resolve(settings.path, "transactions", engine.name)
    text = source.format == "csv" and bool(source.files)
    if text and _first_bytes(source.files[0], 4) != b"PAR1" and _is_whitespace_separated(source.files[0]):
        return source, _scan_whitespace(engine, source, settings.header, columns)
    if text and not settings.header:
        source = replace(source, header=False)
    return source, scan_table(engine, source, columns, dataset="transactions")


# ---------------------------------------------------------------- dates


def _parse_sql(value: str, date_format: str) -> str:
    """SQL parsing the text ``value`` with a format name of :data:`DATE_FORMATS` or a strptime format (NULL if it does not fit)."""
    sql = DATE_FORMATS.get(date_format, "try_strptime({v}, " + literal(date_format) + ")")
    return sql.replace("{v}", f"({value})", 1)


def sniff_date_format(engine: Engine, distinct: str, where: str, min_share: float = 0.5) -> str:
    """The format of :data:`DATE_FORMATS` that parses the most distinct date texts.

    ``distinct``: SQL for ``FROM`` with the distinct values ``v`` and ``first`` (the row of their first
    appearance). One aggregate query per check; only counts and one example come back. Refused
    (UserError naming ``where``) when no format parses at least ``min_share`` of them, or when two
    formats parse as many but read some value as different days (01/02/2020 in a column where every
    day is 12 or less: 1 February or 2 January?).
    """
    parsed = ", ".join(f"CAST({_parse_sql('v', name)} AS DATE) AS p{i}" for i, name in enumerate(DATE_FORMATS))
    table = f"(SELECT v, first, {parsed} FROM {distinct})"
    counts = engine.sql("SELECT count(*) AS n, arg_min(v, first) AS example, "
                        + ", ".join(f"count(p{i}) AS c{i}" for i in range(len(DATE_FORMATS))) + f" FROM {table}")
    total = int(counts["n"].iloc[0])
    if total == 0:
        raise UserError(where, "has no dates", "check transactions.columns.date")
    found = [int(counts[f"c{i}"].iloc[0]) for i in range(len(DATE_FORMATS))]
    best = max(found)
    tied = [i for i, count in enumerate(found) if count == best]
    names, example = list(DATE_FORMATS), counts["example"].iloc[0]
    if best < min_share * total:
        raise UserError(where, f"dates such as {example!r} match no known format",
                        "set transactions.date_format, e.g. \"%d/%m/%Y\" or \"%Y%m%d\"")
    if len(tied) > 1:
        differ = engine.sql("SELECT " + ", ".join(
            f"count(CASE WHEN p{tied[0]} IS DISTINCT FROM p{j} THEN 1 END) AS d{j}" for j in tied[1:]) + f" FROM {table}")
        differ = [j for j in tied[1:] if int(differ[f"d{j}"].iloc[0])]
        if differ:
            raise UserError(where, f"dates are ambiguous: they read as {names[tied[0]]} and as {names[differ[0]]} "
                            f"(e.g. {example!r})", "set transactions.date_format to the right one")
    return names[tied[0]]


def _check_format(engine: Engine, date_format: str) -> None:
    """Refuse a ``date_format`` the engine cannot use, before any row is read."""
    try:
        engine.sql(f"SELECT {_parse_sql(literal('2000-01-01'), date_format)} AS d")
    except Exception as exc:  # the engine's own error type
        raise UserError("transactions.date_format", f"{date_format!r} is not a usable format ({_short(exc)})",
                        "use strptime codes such as \"%d/%m/%Y %H:%M\"") from None


# ---------------------------------------------------------------- loading


def _kept(rules: list[tuple[str, str, str]]) -> str:
    """SQL over the raw view: the row breaks none of ``rules`` (:attr:`SqlCleaner.rules`)."""
    return " AND ".join(f"NOT {sql}" for _, sql, _ in rules) or "true"


def load(settings: TransactionsSettings, needs: tuple[str, ...] = (), engine: Engine | None = None) -> Loaded:
    """Read and clean the purchases in ``engine`` (DuckDB when not given; see the module docstring
    for the rules). The rows stay in the engine (``Loaded.table``).

    ``needs``: optional canonical columns (``quantity``, ``category``) the caller requires; rows
    missing one are dropped and counted. A need that is not mapped is ignored: the table then has
    no such column, which the caller checks.
    """
    mapping = {name: value for name, value in settings.columns.model_dump().items() if value is not None}
    required = [mapping["customer"], mapping["date"], mapping["amount"]]
    extra = [mapping[name] for name in ("quantity", "category", "transaction_id") if name in mapping]
    engine = engine or DuckDBEngine()
    if settings.date_format:
        _check_format(engine, settings.date_format)
    source, raw = scan_raw(engine, settings, list(dict.fromkeys(required + extra)))
    shown = source.shown
    clean = SqlCleaner(engine, raw.view, shown, raw.rejected, raw.kinds)
    out = {"customer": clean.text(mapping["customer"]), "amount": clean.number(mapping["amount"])}

    date_column = mapping["date"]
    earlier = list(clean.rules)
    date_text = clean.text(date_column)
    where = f"{shown}: column {date_column}"
    # One pass over the rows gives every distinct date text (of rows kept so far), the row it first
    # appears on and whether some row with it is a purchase (not a return): the sniffing and the last
    # purchase day both read this small table instead of the rows. The date's own rules (missing) and its
    # stripped text are computed per distinct raw value, after the grouping (100 million purchases: 5.2 s,
    # against 10.3 s on every row).
    dates = None
    # a run's early look at the files (``Plan.sketch``) computes nothing: the dates are sniffed when the run cleans them
    sketch = engine.planning is not None and engine.planning.sketch
    if (not settings.date_format or settings.observation_end is None) and not sketch:
        raw_dates = (f"SELECT {quote(date_column)}, min(_row) AS first, bool_or(NOT coalesce({out['amount']} < 0, true)) "
                     f"AS purchase FROM {quote(raw.view)} WHERE {_kept(earlier)} GROUP BY 1")
        query = (f"SELECT {date_text} AS v, min(first) AS first, bool_or(purchase) AS purchase FROM ({raw_dates}) "
                 f"WHERE {_kept(clean.rules[len(earlier):])} GROUP BY 1")
        # once per run: every request of the run (and its planning) asks the same of the same source
        dates = engine.table_once(("dates", source, query.replace(quote(raw.view), "{raw}")), "dates_transactions", query)
    if settings.date_format or sketch:
        date_format = settings.date_format or "%Y-%m-%d"
    else:
        distinct = f"(SELECT v, first FROM {quote(dates)})"
        try:
            date_format = sniff_date_format(engine, distinct, where, settings.min_parsed_share)
        except UserError:
            _refuse_empty(engine, raw, shown)
            clean.finish(out, stem="transactions")  # a comma inside an amount is the first thing to fix
            raise
    day = f"CAST({_parse_sql(date_text, date_format)} AS DATE)"
    clean.drop(f"{day} IS NULL", f"{date_column} not a date ({date_format})")
    returns_rule = len(clean.rules)
    clean.drop(f"{out['amount']} < 0", f"returns: negative {mapping['amount']} (kept out of purchases)")

    if sketch:
        end = settings.observation_end or date.max
    elif settings.observation_end is None:
        # the last day of the rows kept so far: those with a parsed date that are not returns
        last = engine.sql(f"SELECT max(CAST({_parse_sql('v', date_format)} AS DATE)) AS d FROM {quote(dates)} "
                          "WHERE purchase")["d"].iloc[0]
        if pd.isna(last):
            _refuse(clean, out, shown, raw, "fix those rows or transactions.columns")
        end = pd.Timestamp(last).date()
    else:
        end = settings.observation_end
    clean.drop(f"{day} > DATE '{end.isoformat()}'", f"after observation_end ({end.isoformat()})")

    if "transaction_id" in mapping:
        clean.unique(mapping["transaction_id"])
    else:
        mapped = list(dict.fromkeys(required + [mapping[name] for name in ("quantity", "category") if name in mapping]))
        repeat = clean.repeated_row(mapped)
        if settings.drop_duplicates:
            clean.drop(repeat, "exact duplicate row (transactions.drop_duplicates is true)")
        else:
            clean.note_change(repeat, "exact duplicate row, kept (transactions.drop_duplicates: true drops them)")

    if "quantity" in mapping:
        out["quantity"] = f"try_cast({clean.stripped(mapping['quantity'])} AS DOUBLE)"
        if "quantity" in needs:
            clean.drop(f"{out['quantity']} IS NULL", f"{mapping['quantity']} missing or not a number")
    if "category" in mapping:
        out["category"] = clean.stripped(mapping["category"])
        if "category" in needs:
            clean.drop(f"{out['category']} IS NULL OR {out['category']} = ''", f"{mapping['category']} missing")
    clean.note_change(f"{out['amount']} = 0", f"zero {mapping['amount']}, kept as a purchase")
    out["date"] = f"CAST({day} AS TIMESTAMP)"

    table, report = clean.finish(out, stem="transactions")
    if report.rows_read == 0:
        raise UserError(shown, "has no data rows", "export the transactions again with their rows")
    if report.rows_used == 0:
        raise UserError(shown, f"no purchases left after cleaning ({_reasons(report)})",
                        "fix those rows, or check transactions.observation_end and transactions.columns")
    kept, returned = "WHERE _drop IS NULL", f"WHERE _drop = {returns_rule}"
    totals = engine.sql(f"SELECT min(date) FILTER ({kept}) AS first, max(date) FILTER ({kept}) AS last, "
                        f"count(*) FILTER ({kept}) AS purchases, "
                        f"count(*) FILTER ({returned}) AS returns, sum(amount) FILTER ({returned}) AS returned "
                        f"FROM {quote(table.view)}")
    # a query of its own: beside the other aggregates, DuckDB counted the distinct customers of 100 million purchases
    # in 12 s, alone in 2.6 s
    customers = int(engine.sql(f"SELECT count(DISTINCT customer) AS n FROM {table.rows}")["n"].iloc[0])
    total = totals["returned"].iloc[0]
    scope = {
        "source": shown,
        "date_range": [pd.Timestamp(totals["first"].iloc[0]).date().isoformat(),
                       pd.Timestamp(totals["last"].iloc[0]).date().isoformat()],
        "observation_end": end.isoformat(),
        "calibration_end": settings.calibration_end.isoformat() if settings.calibration_end else None,
        "time_unit": settings.time_unit,
        "date_format": date_format + ("" if settings.date_format else " (sniffed)"),
        "customers": customers,
        "purchases": int(totals["purchases"].iloc[0]),
        "returns": {"rows": int(totals["returns"].iloc[0]), "amount": 0.0 if pd.isna(total) else float(abs(total))},
    }
    return Loaded(cleaning=report, scope=scope, table=table)


def _refuse_empty(engine: Engine, raw: Scanned, shown: str) -> None:
    """A source with no data rows at all is refused as such, before any question about its dates."""
    rows = int(engine.sql(f"SELECT count(*) AS n FROM {quote(raw.view)}")["n"].iloc[0])
    if rows == 0 and not raw.rejected():
        raise UserError(shown, "has no data rows", "export the transactions again with their rows")


def _refuse(clean: SqlCleaner, out: dict[str, str], shown: str, raw: Scanned, todo: str) -> None:
    """No row survives the rules so far: refused with the counts of each reason."""
    _refuse_empty(clean.engine, raw, shown)
    _, report = clean.finish(out, stem="transactions")
    raise UserError(shown, f"no purchases left after cleaning ({_reasons(report)})", todo)


def _reasons(report: CleaningReport) -> str:
    return "; ".join(f"{reason}: {count}" for reason, count in report.dropped.items()) or "no rows"

# ---------------------------------------------------------------- per-customer summary


def as_date(value) -> date:
    """A date, a timestamp or an ISO text as a date."""
    return pd.Timestamp(value).date()


def aggregate(data: Loaded | Table | pd.DataFrame | duckdb.DuckDBPyRelation, query: str,
              columns: list[str], large: bool = False) -> pd.DataFrame:
    """Run ``query`` (DuckDB SQL, ``{rows}`` standing for the purchases) where the purchases are: in the
    engine holding loaded transactions (DuckDB or Spark), or in DuckDB over a frame's ``columns`` or a relation.
    ``large``: the result is large and its columns are text, integers, DOUBLE or TIMESTAMP, so it comes
    back through Arrow (:meth:`Engine.fetch`)."""
    table = data.table if isinstance(data, Loaded) else data
    if isinstance(table, Table):
        query = query.replace("{rows}", table.rows)
        return table.engine.fetch(query) if large else table.engine.sql(query)
    frame = data.frame if isinstance(data, Loaded) else data
    if isinstance(frame, duckdb.DuckDBPyRelation):
        relation = frame.query("purchases", query.replace("{rows}", "purchases"))
        return arrow_frame(relation) if large else relation.df()
    with duckdb.connect() as con:
        relation = con.from_df(frame[columns]).query("purchases", query.replace("{rows}", "purchases"))
        return arrow_frame(relation) if large else relation.df()


def has_column(data: Loaded | pd.DataFrame, name: str) -> bool:
    """Whether loaded purchases (or a frame of them) have the column ``name``."""
    table = getattr(data, "table", None)
    if table is not None:
        return name in table.columns
    return name in (data.frame if isinstance(data, Loaded) else data)


SUMMARY_COLUMNS = ["customer", "first_purchase", "last_purchase", "purchase_days", "transactions", "revenue",
                   "frequency", "recency", "T", "monetary_value"]
HOLDOUT_COLUMNS = ["purchase_days_holdout", "revenue_holdout", "frequency_holdout", "duration_holdout"]


def summary_sql(observation_end: date | str, time_unit: str = "week", calibration_end: date | str | None = None) -> str:
    """The query of :func:`customer_summary` (``{rows}`` standing for the purchases), every column: a selection from
    the per-customer table (:func:`customers_sql`)."""
    if time_unit not in UNIT_DAYS:
        raise UserError("time_unit", f"{time_unit!r} is not a time unit", "use day, week or month")
    end = as_date(observation_end)
    cut = as_date(calibration_end) if calibration_end is not None else end
    if cut > end:
        raise UserError("calibration_end", f"{cut} is after observation_end {end}", "choose an earlier calibration_end")
    unit = UNIT_DAYS[time_unit]
    split = calibration_end is not None
    days, last, transactions, revenue = (("calibration_days", "calibration_last_day", "calibration_transactions",
                                          "calibration_revenue") if split else
                                         ("purchase_days", "last_day", "transactions", "revenue"))
    holdout = ""
    if split:
        holdout = (f", purchase_days - calibration_days AS purchase_days_holdout"
                   f", CAST(revenue - calibration_revenue AS DOUBLE) AS revenue_holdout"
                   f", purchase_days - calibration_days AS frequency_holdout"
                   f", CAST({(end - cut).days} AS DOUBLE) / {unit} AS duration_holdout")
    return f"""
        SELECT customer,
               CAST(first_day AS TIMESTAMP) AS first_purchase, CAST({last} AS TIMESTAMP) AS last_purchase,
               {days} AS purchase_days, {transactions} AS transactions, CAST({revenue} AS DOUBLE) AS revenue,
               {days} - 1 AS frequency,
               CAST(datediff('day', first_day, {last}) AS DOUBLE) / {unit} AS recency,
               CAST(datediff('day', first_day, DATE '{cut.isoformat()}') AS DOUBLE) / {unit} AS T,
               CASE WHEN {days} > 1 THEN CAST({revenue} - first_amount AS DOUBLE) / ({days} - 1) ELSE 0 END
                   AS monetary_value
               {holdout}
        FROM ({customers_sql(end, cut if split else None)}) AS c
        WHERE first_day <= DATE '{cut.isoformat()}'"""


def customer_summary(data: Loaded | Table | pd.DataFrame | duckdb.DuckDBPyRelation, observation_end: date | str,
                     time_unit: str = "week", calibration_end: date | str | None = None,
                     columns: list[str] | None = None) -> pd.DataFrame:
    """One row per customer, from one SQL query over purchases with ``customer``, ``date``, ``amount``:
    run by the engine holding loaded transactions (DuckDB or Spark), or by DuckDB over a frame or relation.

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

    ``columns``: only these columns come back (still one row per customer, ordered by customer): a
    row per customer of a large log is large (23 million customers: about 2 GB for every column).
    """
    sql = summary_sql(observation_end, time_unit, calibration_end)
    selected = ", ".join(columns) if columns else "*"
    summary = aggregate(data, f"SELECT {selected} FROM ({sql}) ORDER BY customer", ["customer", "date", "amount"],
                        large=True)
    if "customer" in summary:
        summary["customer"] = summary["customer"].astype("string")
    for column in ("revenue", "monetary_value", *(["revenue_holdout"] if calibration_end is not None else [])):
        if column in summary:
            summary[column] = summary[column].astype("float64")
    for column in ("first_purchase", "last_purchase"):
        if column in summary:
            summary[column] = summary[column].astype("datetime64[us]")  # the same unit from every engine
    for column in ("purchase_days", "transactions", "frequency", *(["purchase_days_holdout", "frequency_holdout"]
                                                                   if calibration_end is not None else [])):
        if column in summary:
            summary[column] = summary[column].astype("int64")
    return summary


def _aggregates(calibration_end: date | None) -> dict[str, str]:
    """The per-customer aggregates of :func:`customers_sql` (name -> SQL) over :func:`_purchases_sql`'s rows."""
    aggregates = {"first_day": "min(day)", "last_day": "max(day)", "purchase_days": "count(*) FILTER (WHERE new_day)",
                  "transactions": "count(*)", "revenue": "sum(amount)",
                  "first_amount": "sum(amount) FILTER (WHERE day = first_day)"}
    if calibration_end is not None:
        cut = f"DATE '{calibration_end.isoformat()}'"
        aggregates |= {"calibration_days": f"count(*) FILTER (WHERE new_day AND day <= {cut})",
                       "calibration_last_day": f"max(day) FILTER (WHERE day <= {cut})",
                       "calibration_transactions": f"count(*) FILTER (WHERE day <= {cut})",
                       "calibration_revenue": f"sum(amount) FILTER (WHERE day <= {cut})"}
    return aggregates


def _selected(aggregates: dict[str, str]) -> str:
    return ", ".join(f"{sql} AS {name}" for name, sql in aggregates.items())


def _purchases_sql(observation_end: date) -> str:
    """The purchases up to ``observation_end`` (``{rows}``), each marked by a window ordered by day within its customer:
    the first purchase of its day (``new_day``) and of its calendar month (``new_month``), the customer's first day
    and first month (``cohort``); ``month_start``, its own month. Amounts in DECIMAL, for exact sums."""
    return f"""
        SELECT customer, day, amount, new_day, first_day, new_month, month_start, date_trunc('month', first_day) AS cohort
        FROM (SELECT customer, day, CAST(amount AS DECIMAL(38, 8)) AS amount,
                     lag(day) OVER w IS DISTINCT FROM day AS new_day, first_value(day) OVER w AS first_day,
                     date_trunc('month', lag(day) OVER w) IS DISTINCT FROM date_trunc('month', day) AS new_month,
                     date_trunc('month', day) AS month_start
              FROM (SELECT CAST(customer AS VARCHAR) AS customer, CAST(date AS DATE) AS day, amount FROM {{rows}}
                    WHERE CAST(date AS DATE) <= DATE '{observation_end.isoformat()}') AS p
              WINDOW w AS (PARTITION BY customer ORDER BY day)) AS w"""


def customers_sql(observation_end: date | str, calibration_end: date | str | None = None) -> str:
    """One row per customer with a purchase up to ``observation_end`` (``{rows}`` standing for the purchases): first
    and last purchase day, purchase days (several purchases on one day are one), transactions, revenue and the first
    day's revenue (exact DECIMAL sums); with ``calibration_end``, also the purchase days, last day, transactions and
    revenue up to it (``calibration_days``, ``calibration_last_day``, ``calibration_transactions``,
    ``calibration_revenue``)."""
    cut = as_date(calibration_end) if calibration_end is not None else None
    return (f"SELECT customer, {_selected(_aggregates(cut))} FROM ({_purchases_sql(as_date(observation_end))}) AS d "
            "GROUP BY customer")


def _both_sql(observation_end: date, calibration_end: date | None) -> str:
    """One pass over the purchases (``{rows}``) for two tables, told apart by ``part``: 0, a row per customer (the
    aggregates of :func:`customers_sql`); 1, a row per (cohort, calendar month) whose ``buying`` counts the customers
    of the cohort buying that month, ``transactions`` their purchases and ``revenue`` their spend (see :func:`_parts`).
    At 100 million purchases 64 s on 2 cores, as long as the per-customer table alone, against 46 + 24 s for the
    monthly trends and the cohorts grouping the purchases by customer and month themselves."""
    return (f"SELECT GROUPING(customer) AS part, customer, cohort, month_start, {_selected(_aggregates(calibration_end))}, "
            f"count(*) FILTER (WHERE new_month) AS buying FROM ({_purchases_sql(observation_end)}) AS d "
            "GROUP BY GROUPING SETS ((customer), (cohort, month_start))")


def _parts(both: str, calibration_end: date | None) -> tuple[str, str]:
    """SQL naming the per-customer table and the cohort-month table (``cohort``, ``month_start``, ``buying``,
    ``orders``, ``revenue``: a month's active customers are its ``buying`` summed over cohorts, its new ones its own
    cohort's) in ``both``, the result of :func:`_both_sql`."""
    return (f"(SELECT customer, {', '.join(_aggregates(calibration_end))} FROM {both} WHERE part = 0)",
            f"(SELECT cohort, month_start, buying, transactions AS orders, revenue FROM {both} WHERE part = 1)")


def _tables(table: Table, observation_end: date | str, calibration_end: date | str | None) -> tuple[str, str]:
    """The per-customer and the cohort-month table of ``table``'s purchases (:func:`_parts`), made once per run in the
    engine for each (observation_end, calibration_end)."""
    end = as_date(observation_end)
    cut = as_date(calibration_end) if calibration_end is not None else None
    both = table.engine.table_once(("customers", table.view, end, cut), "customers",
                                   _both_sql(end, cut).replace("{rows}", table.rows))
    return _parts(quote(both), cut)


def customer_table(table: Table, observation_end: date | str, calibration_end: date | str | None = None) -> str:
    """SQL naming the per-customer table (:func:`customers_sql`) in ``table``'s engine, made once per run for each
    (observation_end, calibration_end): the customer analyses and the customer-value model read the same one when
    they ask for the dataset's dates."""
    return _tables(table, observation_end, calibration_end)[0]


# {customers} in the queries of :func:`over_customers`: the per-customer table's columns the customer analyses read
CUSTOMER_COLUMNS = ("SELECT customer, CAST(first_day AS TIMESTAMP) AS first_purchase, CAST(last_day AS TIMESTAMP) "
                    "AS last_purchase, purchase_days, transactions, CAST(revenue AS DOUBLE) AS revenue FROM {table}")


def over_customers(data: Loaded | Table | pd.DataFrame | duckdb.DuckDBPyRelation, queries: list[str],
                   observation_end: date | str, calibration_end: date | str | None = None) -> list[pd.DataFrame]:
    """Run each of ``queries`` (small results), in which ``{customers}`` stands for one row per customer up to
    ``observation_end`` with ``customer``, ``first_purchase``, ``last_purchase``, ``purchase_days``, ``transactions``
    and ``revenue``, and ``{months}`` for the cohort-month table (:func:`_parts`), where the purchases are.
    In an engine both are computed once per run and never leave the engine (:func:`_tables`: ``calibration_end``, the
    dataset's, only adds columns for the models)."""
    table = data.table if isinstance(data, Loaded) else data
    if isinstance(table, Table):
        customers, months = _tables(table, observation_end, calibration_end)
        return [table.engine.sql(query.replace("{customers}", f"({CUSTOMER_COLUMNS.format(table=customers)})")
                                 .replace("{months}", months)) for query in queries]
    customers, months = _parts(f"({_both_sql(as_date(observation_end), None)})", None)  # {rows} replaced by aggregate
    return [aggregate(data, query.replace("{customers}", f"({CUSTOMER_COLUMNS.format(table=customers)})")
                      .replace("{months}", months), ["customer", "date", "amount"]) for query in queries]


DATASET = Dataset(name="transactions", title="Transactions", settings=TransactionsSettings, load=load, default=None,
                  engine=True)

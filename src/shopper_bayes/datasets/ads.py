"""Load an ad campaign table: one row per ad with impressions, clicks, spend, leads and conversions.

Read and checked in the engine (DuckDB or Spark, each rule in SQL, all checked in one pass); the
cleaned table stays there. Rules (each refusal names the file, column and line; each kept quirk is
counted in ``scope``):

- counts (impressions, clicks, leads, conversions) must be whole numbers >= 0 and spend a number
  >= 0; anything else (missing, text, negative, a decimal comma) refuses the file: a silently
  dropped ad would take its spend out of every cost figure;
- clicks above impressions, or conversions (purchases) above leads (enquiries), refuse the file;
- an ad id seen twice refuses the file (one row per ad: sum daily rows per ad first);
- a row the CSV reader cannot split into the header's fields refuses the file;
- ads with 0 clicks and 0 spend are kept: many still record leads and conversions (view-through
  conversions), so the analyses model leads and conversions per impression, never per click;
- an audience column an analysis asks for (``needs``) with a missing value drops that row for that
  analysis, counted by reason.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict

from shopper_bayes.datasets.base import Dataset, DatasetSettings, Loaded
from shopper_bayes.datasets.cleaning import MISSING
from shopper_bayes.datasets.read import PARQUET_SUFFIXES, scan_table
from shopper_bayes.engine.base import DuckDBEngine, Engine, literal, quote
from shopper_bayes.engine.clean import SqlCleaner
from shopper_bayes.engine.source import resolve
from shopper_bayes.errors import UserError

COUNTS = ("impressions", "clicks", "leads", "conversions")
ZERO_CLICK_ZERO_SPEND = "ads with 0 clicks and 0 spend (kept: leads and conversions are modelled per impression)"
VIEW_THROUGH = "of those, ads with leads or conversions but no click (view-through conversions)"


class AdsColumns(BaseModel):
    """Canonical name -> column in the file. Audience columns (age, gender, interest) are optional:
    they are read only when an analysis breaks results down by them; ``null`` means not in the file."""

    model_config = ConfigDict(extra="forbid")

    campaign: str = "xyz_campaign_id"
    ad: str = "ad_id"
    impressions: str = "Impressions"
    clicks: str = "Clicks"
    spend: str = "Spent"
    leads: str = "Total_Conversion"
    conversions: str = "Approved_Conversion"
    age: str | None = "age"
    gender: str | None = "gender"
    interest: str | None = "interest"


class AdsSettings(DatasetSettings):
    """The ``ads:`` section of ``config.yaml``."""

    path: Path = Path("data/facebook_ad_campaigns.csv")
    columns: AdsColumns = AdsColumns()


REQUIRED = ("campaign", "ad", *COUNTS[:2], "spend", *COUNTS[2:])


def _file_column(settings: AdsSettings, name: str) -> str:
    """The file column behind a canonical name (``age``) or a raw one (``fb_campaign_id``)."""
    mapped = settings.columns.model_dump()
    if name not in mapped:
        return name
    if mapped[name] is None:
        raise UserError(f"ads.columns.{name}", "is not mapped to a column", "name the column in the file, or stop breaking down by it")
    return mapped[name]


class _Lines:
    """Line numbers of data rows for messages: the header is line 1; blank lines are skipped as the reader does."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, row: int) -> str:
        if self.path.suffix.lower() in PARQUET_SUFFIXES:
            return f"row {row + 1}"
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            seen = -1  # the header
            for record in reader:
                if not any(field.strip() for field in record):
                    continue
                if seen == row:
                    return f"line {reader.line_num}"
                seen += 1
        return f"data row {row + 1}"


def _describe(value, problem: str) -> str:
    return "the value is missing" if pd.isna(value) or not str(value).strip() else f"{value!r} {problem}"


def _rules(clean: SqlCleaner, names: dict[str, str]) -> tuple[list[tuple[str, str, str, str, str]], dict[str, str]]:
    """The refusals in the order they are checked, as (kind of message, canonical column, SQL
    condition, SQL of the value the message shows, what to do), and each column's typed expression.
    ``_repeat`` is the ordinal of a row among the rows of its ad."""
    raw = {name: f"CAST({quote(column)} AS VARCHAR)" for name, column in names.items()}
    text = {name: clean.stripped(column) for name, column in names.items()}
    typed = {name: text[name] for name in ("campaign", "ad")}
    missing = ", ".join(map(literal, sorted(MISSING)))
    rules = [("missing", name, f"{text[name]} IS NULL OR lower({text[name]}) IN ({missing})", "NULL",
              "every ad needs its id and campaign") for name in ("campaign", "ad")]
    for name in COUNTS:
        typed[name] = f"try_cast(regexp_replace({text[name]}, '\\.0*$', '') AS BIGINT)"
        rules.append(("count", name, f"NOT regexp_matches({text[name]}, '^[+]?[0-9]+(\\.0*)?$') OR {typed[name]} IS NULL",
                      raw[name], "every count must be a whole number >= 0 (an ad with no clicks has 0)"))
    typed["spend"] = f"try_cast({text['spend']} AS DOUBLE)"
    rules.append(("number", "spend", f"{typed['spend']} IS NULL OR NOT isfinite({typed['spend']}) OR {text['spend']} LIKE '%,%'",
                  raw["spend"], "give spend as a plain number with a dot as decimal separator (0 for no spend)"))
    rules.append(("negative", "spend", f"{typed['spend']} < 0", raw["spend"], "spend is 0 or more"))
    rules.append(("repeat", "ad", "_repeat > 1", text["ad"], "give one row per ad (sum rows of the same ad first)"))
    rules.append(("text", "clicks", f"{typed['clicks']} > {typed['impressions']}",
                  f"CAST({typed['clicks']} AS VARCHAR) || ' clicks but ' || CAST({typed['impressions']} AS VARCHAR) || ' impressions'",
                  "clicks cannot exceed impressions: check the column mapping or the export"))
    rules.append(("text", "conversions", f"{typed['conversions']} > {typed['leads']}",
                  f"CAST({typed['conversions']} AS VARCHAR) || ' conversions (purchases) but ' || "
                  f"CAST({typed['leads']} AS VARCHAR) || ' leads'",
                  "conversions are the approved part of the leads: check ads.columns.leads and ads.columns.conversions"))
    return rules, typed


def _refuse(engine: Engine, view: str, where: str, names: dict[str, str], ad: str, rules, line) -> None:
    """Refuse the file for the first rule any row breaks, naming its first such row (one pass over the rows)."""
    parts = []
    for i, (_, _, condition, value, _) in enumerate(rules):
        broken = f"coalesce({condition}, true)"
        parts.append(f"sum(CASE WHEN {broken} THEN 1 ELSE 0 END) AS n{i}, min(CASE WHEN {broken} THEN _row END) AS r{i}, "
                     f"arg_min({value}, CASE WHEN {broken} THEN _row END) AS v{i}")
    counts = engine.sql(f"SELECT {', '.join(parts)} FROM (SELECT *, row_number() OVER (PARTITION BY {ad} ORDER BY _row) "
                        f"AS _repeat FROM {quote(view)})").iloc[0]

    def position(row) -> int:  # the row's 0-based place in the file (Spark's row ids have gaps)
        return int(engine.sql(f"SELECT count(*) AS n FROM {quote(view)} WHERE _row < {int(row)}")["n"].iloc[0])

    for i, (kind, name, _, _, todo) in enumerate(rules):
        count = int(counts[f"n{i}"])
        if not count:
            continue
        value = counts[f"v{i}"]
        if kind == "repeat":
            earlier = engine.sql(f"SELECT min(_row) AS r FROM {quote(view)} WHERE {ad} = {literal(value)}")["r"].iloc[0]
            what = f"ad {value!r} already appeared on {line(position(earlier))}"
        elif kind == "count":
            what = _describe(value, "is not a whole number of 0 or more")
        elif kind == "number":
            what = _describe(value, "is not a number")
        else:
            what = {"missing": "the value is missing", "negative": f"{value!r} is negative"}.get(kind, str(value))
        more = f" ({count} such rows)" if count > 1 else ""
        raise UserError(f"{where}: column {names[name]}", f"{line(position(counts[f'r{i}']))}: {what}{more}", todo)


def load_ads(settings: AdsSettings, needs: tuple[str, ...] = (), engine: Engine | None = None) -> Loaded:
    """Read and check the ad table in ``engine`` (DuckDB when not given); the cleaned table has the
    canonical columns plus the audience columns in ``needs``, and stays in the engine (``Loaded.table``)."""
    names = {name: _file_column(settings, name) for name in REQUIRED}
    audience = {name: _file_column(settings, name) for name in dict.fromkeys(needs) if name not in names}
    engine = engine or DuckDBEngine()
    source = resolve(settings.path, "ads", engine.name)
    raw = scan_table(engine, source, list(dict.fromkeys([*names.values(), *audience.values()])), dataset="ads")
    rows = int(engine.sql(f"SELECT count(*) AS n FROM {quote(raw.view)}")["n"].iloc[0])  # the scan counts rejects
    rejected = raw.rejected()
    if rejected:
        reasons = ", ".join(f"{count} with {reason}" for reason, count in rejected.items())
        raise UserError(source.shown, f"rows the reader cannot split into the header's columns ({reasons})",
                        "fix those rows: every ad's spend counts, so none is skipped")
    clean = SqlCleaner(engine, raw.view, source.shown, {}, raw.kinds)
    if rows == 0:
        raise UserError(source.shown, "has a header but no data rows", "export the data again with its rows")
    single = source.files[0] if len(source.files) == 1 else None
    line = _Lines(single) if single is not None else (lambda row: f"row {row + 1}")
    rules, typed = _rules(clean, names)
    _refuse(engine, raw.view, str(single or source.shown), names, typed["ad"], rules, line)

    out = dict(typed)
    for name, column in audience.items():
        out[name] = clean.label(column)
    table, report = clean.finish(out, stem="ads")
    if report.rows_used == 0:
        raise UserError(source.shown, f"no rows left after dropping rows with a missing {', '.join(audience)}",
                        "fill the audience columns or break down by other columns")
    zero = "clicks = 0 AND spend = 0"
    counts = table.sql(f"SELECT count(*) AS ads, count(DISTINCT campaign) AS campaigns, "
                       f"sum(CASE WHEN {zero} THEN 1 ELSE 0 END) AS zero, "
                       f"sum(CASE WHEN {zero} AND (leads > 0 OR conversions > 0) THEN 1 ELSE 0 END) AS view_through "
                       "FROM {rows}").iloc[0]
    scope = {"ads": int(counts["ads"]), "campaigns": int(counts["campaigns"]),
             "kept": {ZERO_CLICK_ZERO_SPEND: int(counts["zero"]), VIEW_THROUGH: int(counts["view_through"])}}
    return Loaded(cleaning=report, scope=scope, table=table)


DATASET = Dataset(name="ads", title="Ad campaigns", settings=AdsSettings, load=load_ads, engine=True)

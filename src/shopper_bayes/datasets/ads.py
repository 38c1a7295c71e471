"""Load an ad campaign table: one row per ad with impressions, clicks, spend, leads and conversions.

Rules (each refusal names the file, column and line; each kept quirk is counted in ``scope``):

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
import re
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from shopper_bayes.datasets.base import Dataset, DatasetSettings, Loaded
from shopper_bayes.datasets.cleaning import MISSING, Cleaner
from shopper_bayes.datasets.read import PARQUET_SUFFIXES, read_table
from shopper_bayes.errors import UserError

COUNTS = ("impressions", "clicks", "leads", "conversions")
ZERO_CLICK_ZERO_SPEND = "ads with 0 clicks and 0 spend (kept: leads and conversions are modelled per impression)"
VIEW_THROUGH = "of those, ads with leads or conversions but no click (view-through conversions)"
_WHOLE = re.compile(r"[+]?\d+(\.0*)?")


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


def _refuse_first(bad: np.ndarray, where: str, what, todo: str, line: _Lines) -> None:
    """Raise for the first row flagged in ``bad``: ``what(row)`` describes it."""
    if bad.any():
        rows = np.flatnonzero(bad)
        more = f" ({len(rows)} such rows)" if len(rows) > 1 else ""
        raise UserError(where, f"{line(int(rows[0]))}: {what(int(rows[0]))}{more}", todo)


def _describe(value, problem: str) -> str:
    return "the value is missing" if pd.isna(value) or not str(value).strip() else f"{value!r} {problem}"


def _count(text: pd.Series, where: str, line: _Lines) -> np.ndarray:
    """A whole number >= 0 per row (``12`` or ``12.0``), else the file is refused."""
    value = text.str.strip()
    ok = value.str.fullmatch(_WHOLE).fillna(False).to_numpy()
    _refuse_first(~ok, where, lambda row: _describe(text.iloc[row], "is not a whole number of 0 or more"),
                  "every count must be a whole number >= 0 (an ad with no clicks has 0)", line)
    return pd.to_numeric(value).to_numpy().astype(np.int64)


def _spend(text: pd.Series, where: str, line: _Lines) -> np.ndarray:
    """Spend >= 0 with a dot as the decimal separator, else the file is refused."""
    value = text.str.strip()
    number = pd.to_numeric(value, errors="coerce").astype("float64").to_numpy()
    bad = ~np.isfinite(number) | value.str.contains(",").fillna(False).to_numpy()
    _refuse_first(bad, where, lambda row: _describe(text.iloc[row], "is not a number"),
                  "give spend as a plain number with a dot as decimal separator (0 for no spend)", line)
    _refuse_first(number < 0, where, lambda row: f"{text.iloc[row]!r} is negative", "spend is 0 or more", line)
    return number


def _label(text: pd.Series, where: str, line: _Lines) -> pd.Series:
    value = text.str.strip()
    missing = (value.isna() | value.str.lower().isin(MISSING)).fillna(True).to_numpy()
    _refuse_first(missing, where, lambda row: "the value is missing",
                  "every ad needs its id and campaign", line)
    return value.astype(str)


def load_ads(settings: AdsSettings, needs: tuple[str, ...] = ()) -> Loaded:
    """Read and check the ad table; the frame has the canonical columns plus the audience columns in ``needs``."""
    path = Path(settings.path)
    names = {name: _file_column(settings, name) for name in REQUIRED}
    audience = {name: _file_column(settings, name) for name in dict.fromkeys(needs) if name not in names}
    raw = read_table(path, list(dict.fromkeys([*names.values(), *audience.values()])), dataset="ads")
    if raw.rejected:
        reasons = ", ".join(f"{count} with {reason}" for reason, count in raw.rejected.items())
        raise UserError(path, f"rows the reader cannot split into the header's columns ({reasons})",
                        "fix those rows: every ad's spend counts, so none is skipped")
    if raw.frame.empty:
        raise UserError(path, "has a header but no data rows", "export the data again with its rows")
    frame, line = raw.frame, _Lines(path)

    def where(name: str) -> str:
        return f"{path}: column {names[name]}"

    out = pd.DataFrame({"campaign": _label(frame[names["campaign"]], where("campaign"), line),
                        "ad": _label(frame[names["ad"]], where("ad"), line)})
    for name in COUNTS:
        out[name] = _count(frame[names[name]], where(name), line)
    out["spend"] = _spend(frame[names["spend"]], where("spend"), line)
    repeat = out["ad"].duplicated(keep="first").to_numpy()
    _refuse_first(repeat, where("ad"),
                  lambda row: f"ad {out['ad'].iloc[row]!r} already appeared on {line(int(np.flatnonzero(out['ad'] == out['ad'].iloc[row])[0]))}",
                  "give one row per ad (sum rows of the same ad first)", line)
    _refuse_first((out["clicks"] > out["impressions"]).to_numpy(), where("clicks"),
                  lambda row: f"{out['clicks'].iloc[row]} clicks but {out['impressions'].iloc[row]} impressions",
                  "clicks cannot exceed impressions: check the column mapping or the export", line)
    _refuse_first((out["conversions"] > out["leads"]).to_numpy(), where("conversions"),
                  lambda row: f"{out['conversions'].iloc[row]} conversions (purchases) but {out['leads'].iloc[row]} leads",
                  "conversions are the approved part of the leads: check ads.columns.leads and ads.columns.conversions", line)

    clean = Cleaner(frame, str(path))
    for name, column in audience.items():
        out[name] = clean.label(column).astype(str)
    zero = (out["clicks"] == 0) & (out["spend"] == 0)
    view_through = zero & ((out["leads"] > 0) | (out["conversions"] > 0))
    report = clean.report()
    kept = out[clean.keep].reset_index(drop=True)
    if kept.empty:
        raise UserError(path, f"no rows left after dropping rows with a missing {', '.join(audience)}",
                        "fill the audience columns or break down by other columns")
    scope = {"ads": len(kept), "campaigns": int(kept["campaign"].nunique()),
             "kept": {ZERO_CLICK_ZERO_SPEND: int(zero[clean.keep].sum()), VIEW_THROUGH: int(view_through[clean.keep].sum())}}
    return Loaded(kept, report, scope)


DATASET = Dataset(name="ads", title="Ad campaigns", settings=AdsSettings, load=load_ads)

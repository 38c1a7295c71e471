"""Load customer orders with demographics: one row per customer-product purchase.

The result has one row per kept purchase with the canonical columns ``customer``, ``product``,
``category``, ``orders`` (a whole number, at least 1), ``amount`` (positive) and one text column per
mapped demographic column (``gender``, ``age_group``, ``marital_status``, ``state``, ``zone``,
``occupation``; a demographic column mapped to ``null`` is left out).

Cleaning, in order, each row counted under the first rule it breaks: rows the reader could not
split; a value missing in a mapped column; ``orders`` not a whole number; ``amount`` not a number;
``orders`` or ``amount`` zero or negative (dropped: a purchase without a positive amount and at
least one order is a return, a cancellation or an error, not spend); exact duplicate rows (every
column of the file equal after trimming spaces: the later copies are dropped). Labels that differ
only in case or surrounding spaces are merged into their most frequent spelling, counted under
``changed`` and listed in ``scope["label_merges"]``. Columns of the file that are empty in every
row are listed in ``scope["ignored_columns"]``.

The unit of analysis is the *customer profile*: a customer id together with its demographic
labels. In the bundled file one id carries up to 12 states and both genders, so a customer id is not
one person with one profile; grouping by id and profile keeps every unit in exactly one level of
each demographic column. ``scope["conflicting_ids"]`` counts the ids seen with more than one profile.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shopper_bayes.datasets.base import Dataset, DatasetSettings, Loaded
from shopper_bayes.datasets.cleaning import Cleaner
from shopper_bayes.datasets.read import read_table
from shopper_bayes.errors import UserError

REQUIRED = ("customer", "product", "category", "orders", "amount")
DEMOGRAPHIC = ("gender", "age_group", "marital_status", "state", "zone", "occupation")
LABELS = ("category", *DEMOGRAPHIC)  # merged when they differ only in case or surrounding spaces


class OrdersColumns(BaseModel):
    """Canonical column name -> column name in the file; a demographic column may be ``null``."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    customer: str = "User_ID"
    product: str = "Product_ID"
    category: str = "Product_Category"
    orders: str = "Orders"
    amount: str = "Amount"
    gender: str | None = "Gender"
    age_group: str | None = "Age Group"
    marital_status: str | None = "Marital_Status"
    state: str | None = "State"
    zone: str | None = "Zone"
    occupation: str | None = "Occupation"


class OrdersSettings(DatasetSettings):
    """``by``: the demographic columns the analyses model (canonical names), in this order."""

    path: Path = Path("data/diwali_sales.csv")
    columns: OrdersColumns = OrdersColumns()
    by: list[str] = Field(default_factory=lambda: ["gender", "age_group", "state", "occupation"], min_length=1)

    @field_validator("by")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in DEMOGRAPHIC]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a demographic column (choose from {', '.join(DEMOGRAPHIC)})")
        if len(set(value)) != len(value):
            raise ValueError("columns must not repeat")
        return value


def _mapping(settings: OrdersSettings) -> dict[str, str]:
    """Canonical -> file column for every mapped column; every ``by`` column must be mapped."""
    mapped = {name: column for name, column in settings.columns.model_dump().items() if column is not None}
    for name in settings.by:
        if name not in mapped:
            raise UserError(f"orders.columns.{name}", f"is null but orders.by models {name!r}",
                            "map it to a column of the file or remove it from orders.by")
    files = list(mapped.values())
    repeated = next((column for column in files if files.count(column) > 1), None)
    if repeated:
        names = [name for name, column in mapped.items() if column == repeated]
        raise UserError("orders.columns", f"{' and '.join(names)} are both mapped to column {repeated!r}",
                        "map each canonical column to its own column of the file")
    return mapped


def _header_and_empty(path: Path) -> tuple[list[str], list[str]]:
    """The file's columns, and those with no value in any row (read as text by DuckDB)."""
    con = duckdb.connect()
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            relation = con.read_parquet(str(path))
        else:
            relation = con.read_csv(str(path), header=True, all_varchar=True, ignore_errors=True)
        names = list(relation.columns)
        if not names:
            return [], []
        counts = relation.aggregate(", ".join(
            f"count(nullif(trim(CAST({_quote(name)} AS VARCHAR)), ''))" for name in names)).fetchall()[0]
    except duckdb.Error:
        return [], []  # read_table has already refused a file it cannot read, with its reason
    finally:
        con.close()
    return names, [name for name, count in zip(names, counts) if count == 0]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def merge_labels(values: pd.Series) -> tuple[pd.Series, list[dict]]:
    """Labels equal after trimming and case-folding merged into their most frequent spelling
    (ties: the first in sorted order). Returns the merged labels and one entry per spelling changed."""
    key = values.str.casefold()
    counts = values.value_counts().rename_axis("label").reset_index(name="rows")
    counts["key"] = counts["label"].str.casefold()
    counts = counts.sort_values(["key", "rows", "label"], ascending=[True, False, True])
    canonical = counts.drop_duplicates("key").set_index("key")["label"]
    merged = key.map(canonical).astype("string")
    changed = counts[counts["label"] != counts["key"].map(canonical)]
    merges = [{"from": row.label, "to": canonical[row.key], "rows": int(row.rows)} for row in changed.itertuples()]
    return merged, merges


def load(settings: OrdersSettings, needs: tuple[str, ...] = ()) -> Loaded:
    """Read, clean and describe the orders file named in ``settings`` (``needs`` is not used: every
    mapped column is required, so every analysis of this dataset sees the same rows)."""
    path = Path(settings.path)
    mapped = _mapping(settings)
    header, empty = _header_and_empty(path) if path.is_file() else ([], [])
    raw = read_table(path, list(mapped.values()), optional=[name for name in header if name not in mapped.values()], dataset="orders")
    if raw.frame.empty and not raw.rejected:
        raise UserError(path, "has a header but no data rows", "export the data again with its rows")

    clean = Cleaner(raw.frame, str(path), raw.rejected)
    out = pd.DataFrame(index=raw.frame.index)
    for name, column in mapped.items():
        if name not in ("orders", "amount"):
            out[name] = clean.text(column)
    orders_column, amount_column = mapped["orders"], mapped["amount"]
    orders_text, amount_text = clean.text(orders_column), clean.text(amount_column)
    orders = pd.to_numeric(orders_text, errors="coerce").astype("float64")
    clean.drop(orders.isna() | (orders != np.round(orders)), f"{orders_column} not a whole number")
    amount = pd.to_numeric(amount_text, errors="coerce").astype("float64")
    clean.drop(amount.isna() | ~np.isfinite(amount), f"{amount_column} not a number")
    clean.drop(orders <= 0, f"{orders_column} zero or negative")
    clean.drop(amount <= 0, f"{amount_column} zero or negative")
    stripped = raw.frame.apply(lambda column: column.str.strip())
    duplicate = stripped.where(pd.Series(clean.keep, index=stripped.index), axis=0).duplicated(keep="first")
    clean.drop(duplicate.to_numpy() & clean.keep, "exact duplicate row")

    kept = out[clean.keep].copy()
    kept["orders"] = orders[clean.keep].astype(np.int64)
    kept["amount"] = amount[clean.keep]
    merges = []
    for name in LABELS:
        if name in kept:
            kept[name], merged = merge_labels(kept[name])
            for entry in merged:
                clean.changed[f"{mapped[name]} label merged ({entry['from']} -> {entry['to']})"] = entry["rows"]
                merges.append({"column": mapped[name], **entry})
    report = clean.report()
    if report.rows_used == 0:
        reasons = "; ".join(f"{reason}: {count}" for reason, count in report.dropped.items())
        raise UserError(path, f"no rows left after cleaning ({reasons})", "fix those rows or check orders.columns")
    kept = kept.reset_index(drop=True)
    profile = [name for name in DEMOGRAPHIC if name in kept]
    profiles = kept.drop_duplicates(["customer", *profile])
    per_id = profiles.groupby("customer").size()
    scope = {
        "ignored_columns": [name for name in empty if name not in mapped.values()],
        "label_merges": merges,
        "by": list(settings.by),
        "unit": "customer profile: a customer id with its demographic labels (" + ", ".join(profile) + ")",
        "profile_columns": profile,
        "customer_ids": int(len(per_id)),
        "customer_profiles": int(len(profiles)),
        "conflicting_ids": int((per_id > 1).sum()),
        "max_profiles_per_id": int(per_id.max()),
    }
    return Loaded(kept, report, scope)


DATASET = Dataset(name="orders", title="Customer orders with demographics", settings=OrdersSettings, load=load)

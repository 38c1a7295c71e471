"""Load customer orders with demographics: one row per customer-product purchase.

Read and cleaned in the engine (DuckDB or Spark, rules in SQL); the cleaned table has one row per
kept purchase with the canonical columns ``customer``, ``product``,
``category``, ``orders`` (a whole number, at least 1), ``amount`` (positive) and one text column per
mapped demographic column (``gender``, ``age_group``, ``marital_status``, ``state``, ``zone``,
``occupation``; a demographic column mapped to ``null`` is left out).

Cleaning, in order, each row counted under the first rule it breaks: rows the reader could not
split; a value missing in a mapped column; ``orders`` not a whole number; ``amount`` not a number (a comma
inside a number in either refuses the file, as in every dataset);
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

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shopper_bayes.datasets.base import Dataset, DatasetSettings, Loaded
from shopper_bayes.datasets.read import scan_table
from shopper_bayes.engine.base import DuckDBEngine, Engine, quote
from shopper_bayes.engine.clean import SqlCleaner
from shopper_bayes.engine.source import resolve
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


def _header(engine: Engine, source) -> list[str]:
    """The source's columns; [] when it cannot be read (:func:`scan_table` then refuses it, with its reason)."""
    try:
        return engine.columns(source)
    except Exception:  # the engine's own error type: DuckDB, or Spark's AnalysisException
        return []


def label_merges(counts: pd.Series) -> tuple[dict[str, str], list[dict]]:
    """Labels (index of ``counts``: rows per stripped label) equal after case-folding, merged into
    their most frequent spelling (ties: the first in sorted order). Returns the spellings changed
    (label -> canonical) and one entry per spelling changed."""
    table = counts.rename_axis("label").reset_index(name="rows")
    table["key"] = table["label"].str.casefold()
    table = table.sort_values(["key", "rows", "label"], ascending=[True, False, True])
    canonical = table.drop_duplicates("key").set_index("key")["label"]
    changed = table[table["label"] != table["key"].map(canonical)]
    merges = [{"from": row.label, "to": canonical[row.key], "rows": int(row.rows)} for row in changed.itertuples()]
    return {entry["from"]: entry["to"] for entry in merges}, merges


def load(settings: OrdersSettings, needs: tuple[str, ...] = (), engine: Engine | None = None) -> Loaded:
    """Read, clean and describe the orders named in ``settings`` in ``engine`` (DuckDB when not given;
    ``needs`` is not used: every mapped column is required, so every analysis of this dataset sees the
    same rows). The rows stay in the engine (``Loaded.table``)."""
    mapped = _mapping(settings)
    engine = engine or DuckDBEngine()
    source = resolve(settings.path, "orders", engine.name)
    header = _header(engine, source)
    raw = scan_table(engine, source, list(mapped.values()),
                     optional=[name for name in header if name not in mapped.values()], dataset="orders")
    columns = list(mapped.values()) + raw.optional

    clean = SqlCleaner(engine, raw.view, source.shown, raw.rejected, raw.kinds)
    out = {name: clean.text(column) for name, column in mapped.items() if name not in ("orders", "amount")}
    orders_column, amount_column = mapped["orders"], mapped["amount"]
    orders, amount = (_number(clean, orders_column), _number(clean, amount_column))
    clean.drop(f"{orders} IS NULL OR NOT isfinite({orders}) OR {orders} <> round({orders})",
               f"{orders_column} not a whole number")
    clean.drop(f"{amount} IS NULL OR NOT isfinite({amount})", f"{amount_column} not a number")
    clean.drop(f"{orders} <= 0", f"{orders_column} zero or negative")
    clean.drop(f"{amount} <= 0", f"{amount_column} zero or negative")
    clean.unique_rows(columns, "exact duplicate row")
    out |= {"orders": f"CAST({orders} AS BIGINT)", "amount": amount}
    table, report = clean.finish(out, stem="orders")
    if report.rows_read == 0:
        raise UserError(source.shown, "has a header but no data rows", "export the data again with its rows")
    if report.rows_used == 0:
        reasons = "; ".join(f"{reason}: {count}" for reason, count in report.dropped.items())
        raise UserError(source.shown, f"no rows left after cleaning ({reasons})", "fix those rows or check orders.columns")

    merges, renames = [], {}
    labels = [name for name in LABELS if name in out]
    # the rows per label of every label column, in one pass (GROUPING SETS; grouping(name) = 0: grouped by name)
    counts = table.sql(f"SELECT {', '.join(f'grouping({quote(name)}) AS {quote(f'g{i}')}' for i, name in enumerate(labels))}, "
                       f"{', '.join(quote(name) for name in labels)}, count(*) AS n FROM {{rows}} "
                       f"GROUP BY GROUPING SETS ({', '.join(f'({quote(name)})' for name in labels)})")
    for i, name in enumerate(labels):
        counts_of = counts[counts[f"g{i}"] == 0]
        renames[name], merged = label_merges(pd.Series(counts_of["n"].to_numpy(), index=counts_of[name].to_numpy()))
        for entry in merged:
            report.changed[f"{mapped[name]} label merged ({entry['from']} -> {entry['to']})"] = entry["rows"]
            merges.append({"column": mapped[name], **entry})
    table = table.renamed(renames, stem="orders_merged")
    profile = [name for name in DEMOGRAPHIC if name in out]
    profiles = ", ".join(quote(name) for name in ["customer", *profile])
    ids = table.sql(f"SELECT count(*) AS ids, sum(p) AS profiles, sum(CASE WHEN p > 1 THEN 1 ELSE 0 END) AS conflicting, "
                    f"max(p) AS most FROM (SELECT customer, count(*) AS p FROM (SELECT DISTINCT {profiles} FROM {{rows}}) "
                    f"GROUP BY customer)").iloc[0]
    empty = table.engine.sql("SELECT " + ", ".join(
        f"count(nullif({clean.stripped(name)}, '')) AS {quote(f'c{i}')}" for i, name in enumerate(raw.optional))
        + f" FROM {quote(raw.view)}").iloc[0] if raw.optional else {}
    scope = {
        "ignored_columns": [name for i, name in enumerate(raw.optional) if int(empty[f"c{i}"]) == 0],
        "label_merges": merges,
        "by": list(settings.by),
        "unit": "customer profile: a customer id with its demographic labels (" + ", ".join(profile) + ")",
        "profile_columns": profile,
        "customer_ids": int(ids["ids"]),
        "customer_profiles": int(ids["profiles"]),
        "conflicting_ids": int(ids["conflicting"]),
        "max_profiles_per_id": int(ids["most"]),
    }
    return Loaded(cleaning=report, scope=scope, table=table)


def _number(clean: SqlCleaner, column: str) -> str:
    """The column as a double (NULL when its text is not a number); its missing values dropped first, and a comma
    inside a number refusing the file (:meth:`SqlCleaner.refuse_commas`)."""
    text = clean.text(column)
    if clean.kinds.get(column) == "number":
        return f"CAST({quote(column)} AS DOUBLE)"
    clean.refuse_commas(column, text)
    return f"try_cast({text} AS DOUBLE)"


DATASET = Dataset(name="orders", title="Customer orders with demographics", settings=OrdersSettings, load=load,
                  engine=True)

"""Mock customer orders in the bundled ``diwali_sales.csv`` schema, with planted group means.

One row per customer (``User_ID`` 1000001, 1000002, ...), so a customer is one profile. Each
customer's gender, age group, marital status, state and occupation are drawn independently from
planted shares (zone follows from state). Spend: Amount ~ Gamma(shape, shape / m) with mean
m = base_spend × Π_k spend_factor[k][level]; Orders = 1 + Poisson(base_extra_orders ×
Π_k orders_factor[k][level]); Product_Category from planted shares, Product_ID uniform among the
category's products. The truth file holds every planted parameter and, per column and level, the
planted mean spend and orders with the other columns at their population mix.

Reproducible from the seed: chunk i of CHUNK_UNITS customers draws from
``SeedSequence(seed, spawn_key=(i,))``, so the output depends on the seed and units only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from shopper_bayes.errors import UserError

CHUNK_UNITS = 100_000
VERSION = 1

SHARES = {
    "Gender": {"F": 0.7, "M": 0.3},
    "Age Group": {"18-25": 0.2, "26-35": 0.4, "36-45": 0.25, "46-50": 0.1, "55+": 0.05},
    "Marital_Status": {"0": 0.6, "1": 0.4},
    "State": {"Uttar Pradesh": 0.3, "Maharashtra": 0.25, "Karnataka": 0.2, "Delhi": 0.12, "Kerala": 0.06,
              "Punjab": 0.03, "Telangana": 0.02, "Goa": 0.01, "Sikkim": 0.01},
    "Occupation": {"IT Sector": 0.35, "Healthcare": 0.3, "Banking": 0.2, "Agriculture": 0.15},
}
ZONE = {"Uttar Pradesh": "Central", "Maharashtra": "Western", "Karnataka": "Southern", "Delhi": "Central",
        "Kerala": "Southern", "Punjab": "Northern", "Telangana": "Southern", "Goa": "Western", "Sikkim": "Eastern"}
BASE_SPEND = 9000.0
SHAPE = 3.0
SPEND_FACTOR = {
    "Gender": {"F": 1.02, "M": 0.95},
    "Age Group": {"18-25": 0.95, "26-35": 1.0, "36-45": 1.05, "46-50": 1.0, "55+": 0.97},
    "State": {"Uttar Pradesh": 1.05, "Maharashtra": 1.0, "Karnataka": 1.08, "Delhi": 1.1, "Kerala": 0.9,
              "Punjab": 0.8, "Telangana": 1.0, "Goa": 1.35, "Sikkim": 0.7},
    "Occupation": {"IT Sector": 1.0, "Healthcare": 0.97, "Banking": 1.03, "Agriculture": 0.95},
}
BASE_EXTRA_ORDERS = 1.5
ORDERS_FACTOR = {
    "Gender": {"F": 1.0, "M": 1.0},
    "Age Group": {"18-25": 1.1, "26-35": 1.0, "36-45": 1.0, "46-50": 0.95, "55+": 0.9},
    "State": {"Uttar Pradesh": 1.0, "Maharashtra": 0.9, "Karnataka": 1.1, "Delhi": 1.15, "Kerala": 0.85,
              "Punjab": 1.0, "Telangana": 0.9, "Goa": 1.3, "Sikkim": 0.8},
    "Occupation": {"IT Sector": 1.0, "Healthcare": 1.0, "Banking": 1.05, "Agriculture": 0.95},
}
CATEGORY_SHARES = {"Clothing & Apparel": 0.3, "Food": 0.25, "Electronics & Gadgets": 0.2, "Footwear & Shoes": 0.1,
                   "Household items": 0.08, "Beauty": 0.07}
PRODUCTS_PER_CATEGORY = 50
COLUMNS = ["User_ID", "Product_ID", "Gender", "Age Group", "Marital_Status", "State", "Zone", "Occupation",
           "Product_Category", "Orders", "Amount"]


def _mix_mean(factors: dict[str, dict[str, float]], column: str, level: str) -> float:
    """The product of factors with ``column`` at ``level`` and every other column at its population mix."""
    value = factors[column][level]
    for other, levels in factors.items():
        if other != column:
            value *= sum(SHARES[other][name] * factor for name, factor in levels.items())
    return value


def parameters() -> dict:
    """Every planted parameter, and the planted mean spend and orders per column and level."""
    return {
        "shares": SHARES, "zone": ZONE, "base_spend": BASE_SPEND, "shape": SHAPE, "spend_factor": SPEND_FACTOR,
        "base_extra_orders": BASE_EXTRA_ORDERS, "orders_factor": ORDERS_FACTOR, "category_shares": CATEGORY_SHARES,
        "products_per_category": PRODUCTS_PER_CATEGORY,
        "mean_spend": {column: {level: BASE_SPEND * _mix_mean(SPEND_FACTOR, column, level) for level in levels}
                       for column, levels in SPEND_FACTOR.items()},
        "mean_orders": {column: {level: 1 + BASE_EXTRA_ORDERS * _mix_mean(ORDERS_FACTOR, column, level)
                                 for level in levels} for column, levels in ORDERS_FACTOR.items()},
    }


def _draw(rng: np.random.Generator, shares: dict[str, float], size: int) -> np.ndarray:
    return rng.choice(np.array(list(shares), dtype=object), size=size, p=np.array(list(shares.values())))


def table(seed: int, chunk: int, start: int, stop: int) -> pa.Table:
    """Customers ``start`` to ``stop - 1`` of chunk number ``chunk``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk,)))
    size = stop - start
    columns = {"User_ID": np.arange(1_000_001 + start, 1_000_001 + stop, dtype=np.int64)}
    labels = {column: _draw(rng, shares, size) for column, shares in SHARES.items()}
    mean, rate = np.full(size, BASE_SPEND), np.full(size, BASE_EXTRA_ORDERS)
    for column, factors in SPEND_FACTOR.items():
        mean *= np.vectorize(factors.get, otypes=[float])(labels[column])
        rate *= np.vectorize(ORDERS_FACTOR[column].get, otypes=[float])(labels[column])
    category = _draw(rng, CATEGORY_SHARES, size)
    number = rng.integers(0, PRODUCTS_PER_CATEGORY, size)
    index = np.vectorize(list(CATEGORY_SHARES).index, otypes=[int])(category)
    columns["Product_ID"] = np.char.add("P", np.char.zfill((index * 1000 + number).astype(str), 6))
    columns |= {"Gender": labels["Gender"], "Age Group": labels["Age Group"], "Marital_Status": labels["Marital_Status"],
                "State": labels["State"], "Zone": np.vectorize(ZONE.get, otypes=[object])(labels["State"]),
                "Occupation": labels["Occupation"], "Product_Category": category,
                "Orders": 1 + rng.poisson(rate), "Amount": np.maximum(np.round(rng.gamma(SHAPE, mean / SHAPE), 2), 0.01)}
    return pa.table({name: pa.array(columns[name].tolist() if columns[name].dtype == object else columns[name])
                     for name in COLUMNS})


def write(units: int, seed: int, out: str | Path) -> tuple[int, Path]:
    """Write ``units`` customers (one row each) to ``out`` (.csv or .parquet) and the truth beside it
    as ``<stem>.truth.json``; both staged in a temporary folder and renamed into place."""
    out = Path(out)
    if units < 1:
        raise UserError("--rows", f"must be at least 1 (got {units})", "give the number of customers to generate")
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise UserError("--out", f"{out} does not end in .csv or .parquet", "name the output file *.csv or *.parquet")
    if not out.parent.is_dir():
        raise UserError("--out", f"folder {out.parent} does not exist", "create it first or choose another folder")
    truth = out.with_suffix(".truth.json")
    staging = Path(tempfile.mkdtemp(prefix=".shopper-bayes-", dir=out.parent))
    try:
        chunks = (table(seed, i, start, min(start + CHUNK_UNITS, units))
                  for i, start in enumerate(range(0, units, CHUNK_UNITS)))
        staged = staging / out.name
        if out.suffix.lower() == ".parquet":
            writer = None
            for chunk in chunks:
                writer = writer or pq.ParquetWriter(staged, chunk.schema)
                writer.write_table(chunk)
            writer.close()
        else:
            with staged.open("wb") as handle:
                handle.write((",".join(COLUMNS) + "\n").encode("utf-8"))
                for chunk in chunks:
                    pa_csv.write_csv(chunk, handle, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
        (staging / "truth.json").write_text(json.dumps(
            {"generator": "orders", "generator_version": VERSION, "seed": seed, "units": units, "rows": units,
             "parameters": parameters()}, indent=2) + "\n", encoding="utf-8")
        os.replace(staging / "truth.json", truth)
        os.replace(staged, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return units, truth

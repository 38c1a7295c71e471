"""Top categories: purchases per category, shares with Dirichlet intervals, P(most purchased).

Model: each purchase falls in a category independently with the same probabilities; shares ~
Dirichlet(prior, ..., prior), so the posterior is Dirichlet(prior + purchases per category), drawn
exactly with numpy. Purchases of one customer are not independent in reality, so the intervals are
narrower than a per-customer model would give; the ranking is what they are for.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel

from shopper_bayes.analyses.base import Probability, Result
from shopper_bayes.analyses.customers_categories.config import CategoriesSettings
from shopper_bayes.datasets.transactions import aggregate, has_column
from shopper_bayes.inference.conjugate import central_interval, dirichlet_shares

NO_CATEGORY = "the data has no category column (transactions.columns.category is not set): no category analysis"


class CategoryEntry(BaseModel):
    category: str
    purchases: int
    customers: int
    share: float
    interval: tuple[float, float]
    p_most_purchased: Probability
    revenue: float
    revenue_share: float | None


class CategoriesResult(Result):
    """``available`` is false when the data has no category column (``note`` says so)."""

    available: bool
    purchases: int = 0
    revenue: float = 0.0
    n_categories: int = 0
    interval_prob: float = 0.95
    draws: int = 0
    categories: list[CategoryEntry] = []
    scope: dict[str, Any] = {}
    note: str | None = None


CATEGORY_SQL = """
SELECT category, count(*) AS purchases, count(DISTINCT customer) AS customers,
       sum(CAST(amount AS DECIMAL(38, 8))) AS revenue
FROM {rows} WHERE category IS NOT NULL GROUP BY category ORDER BY purchases DESC, revenue DESC, category
"""


def compute(data, settings: CategoriesSettings, rng: np.random.Generator,
            scope: dict[str, Any]) -> CategoriesResult:
    """Categories of the purchases (columns ``category``, ``customer``, ``amount``): loaded purchases,
    counted per category in their engine, or a frame of them."""
    if not has_column(data, "category"):
        return CategoriesResult(available=False, scope=scope, note=NO_CATEGORY)
    table = aggregate(data, CATEGORY_SQL, ["category", "customer", "amount"]).set_index("category")
    table["revenue"] = table["revenue"].astype("float64")
    names = [str(name) for name in table.index]
    shares = xr.DataArray(dirichlet_shares(table["purchases"], settings.prior, settings.draws, rng),
                          dims=("draw", "category"), coords={"category": names})
    bounds = central_interval(shares.to_numpy(), settings.interval_prob)
    most = np.bincount(shares.argmax("category").to_numpy(), minlength=len(names)) / settings.draws
    purchases, revenue = int(table["purchases"].sum()), float(table["revenue"].sum())
    entries = [CategoryEntry(
        category=name, purchases=int(row.purchases), customers=int(row.customers), share=row.purchases / purchases,
        interval=(float(bounds[0, i]), float(bounds[1, i])),
        p_most_purchased=Probability(value=float(most[i]), draws=settings.draws),
        revenue=float(row.revenue), revenue_share=float(row.revenue) / revenue if revenue > 0 else None)
        for i, (name, row) in enumerate(zip(names, table.itertuples())) if i < settings.top]
    note = "one category only: nothing to compare" if len(names) == 1 else None
    return CategoriesResult(available=True, purchases=purchases, revenue=revenue, n_categories=len(names),
                            interval_prob=settings.interval_prob, draws=settings.draws, categories=entries,
                            scope=scope, note=note)


def table_frame(result: CategoriesResult) -> pd.DataFrame:
    rows = [entry.model_dump() | {"p_most_purchased": entry.p_most_purchased.value} for entry in result.categories]
    return pd.DataFrame(rows)

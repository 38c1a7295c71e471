"""Config of the correlation analysis (``correlations:`` in config.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shopper_bayes.analyses.base import Settings

DURATION_COLUMNS = ["Administrative_Duration", "Informational_Duration", "ProductRelated_Duration"]


class CorrelationsConfig(Settings):
    columns: list[str] = Field(default_factory=lambda: list(DURATION_COLUMNS), min_length=2)
    resamples: int = Field(10_000, ge=100)
    method: Literal["percentile", "bca"] = "bca"
    statistic: Literal["pearson", "spearman"] = "pearson"
    interval_prob: float = Field(0.95, gt=0, lt=1)
    by: str | None = "segment"  # also per level of this column (canonical or raw name); null: pooled only

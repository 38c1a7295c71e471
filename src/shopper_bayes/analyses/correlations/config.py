"""Config of the correlation analysis (``correlations:`` in config.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from shopper_bayes.analyses.base import Settings

DURATION_COLUMNS = ["Administrative_Duration", "Informational_Duration", "ProductRelated_Duration"]


class CorrelationsConfig(Settings):
    """Bootstrap intervals for every pair of ``columns``; above ``blb_above_rows`` rows, the Bag of
    Little Bootstraps: ``blb_subsets`` subsets of n ** ``blb_exponent`` rows, each resampled
    ``blb_resamples`` times to the full n, Pearson and percentile intervals only (shopper_bayes.analyses.correlations.blb)."""

    columns: list[str] = Field(default_factory=lambda: list(DURATION_COLUMNS), min_length=2)
    resamples: int = Field(10_000, ge=100)
    method: Literal["percentile", "bca"] = "bca"
    statistic: Literal["pearson", "spearman"] = "pearson"
    interval_prob: float = Field(0.95, gt=0, lt=1)
    by: str | None = "segment"  # also per level of this column (canonical or raw name); null: pooled only
    blb_above_rows: int = Field(2_000_000, ge=1)  # more rows: Bag of Little Bootstraps, not resampling rows
    blb_subsets: int = Field(20, ge=2)  # subsets of the rows, drawn without replacement
    blb_exponent: float = Field(0.7, gt=0.5, lt=1)  # each subset has n ** blb_exponent rows
    blb_resamples: int = Field(100, ge=50)  # multinomial resamples of each subset, each of all n rows

    @model_validator(mode="after")
    def _subsets_fit(self) -> CorrelationsConfig:
        fit = int(self.blb_above_rows ** (1 - self.blb_exponent))
        if self.blb_subsets > fit:
            raise ValueError(
                f"blb_subsets ({self.blb_subsets}) subsets of n ** {self.blb_exponent} rows do not fit in the "
                f"{self.blb_above_rows:,} rows of blb_above_rows (at most {fit}): lower blb_subsets or blb_exponent, "
                "or raise blb_above_rows")
        return self

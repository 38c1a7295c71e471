"""Settings of revenue concentration."""

from __future__ import annotations

from pydantic import Field

from shopper_bayes.analyses.base import Settings


class ParetoSettings(Settings):
    """``top_fraction``: the top group, as a fraction of customers ranked by revenue (0.2: the top 20%)."""

    top_fraction: float = Field(0.2, gt=0, lt=1)
    resamples: int = Field(1000, ge=100)
    interval_prob: float = Field(0.95, gt=0, lt=1)

"""Settings of the top-categories analysis."""

from __future__ import annotations

from pydantic import Field

from shopper_bayes.analyses.base import Settings


class CategoriesSettings(Settings):
    """``top``: categories listed (P(most purchased) is over all of them); shares get a Dirichlet(``prior``) prior."""

    top: int = Field(10, ge=1)
    prior: float = Field(1.0, gt=0)
    interval_prob: float = Field(0.95, gt=0, lt=1)
    draws: int = Field(4000, ge=100)

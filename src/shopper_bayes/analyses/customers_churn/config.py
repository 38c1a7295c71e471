"""Settings of retention and churn."""

from __future__ import annotations

from pydantic import Field

from shopper_bayes.analyses.base import Settings


class ChurnSettings(Settings):
    """A customer has churned after no purchase for more than ``inactive_days`` days before the observation
    end. The churn rate gets a Beta(``prior_alpha``, ``prior_beta``) prior."""

    inactive_days: int = Field(90, ge=1)
    prior_alpha: float = Field(1.0, gt=0)
    prior_beta: float = Field(1.0, gt=0)
    interval_prob: float = Field(0.95, gt=0, lt=1)
    draws: int = Field(4000, ge=100)

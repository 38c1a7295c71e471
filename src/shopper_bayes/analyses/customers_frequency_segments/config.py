"""Settings of the purchase-frequency segments."""

from __future__ import annotations

from pydantic import Field, model_validator

from shopper_bayes.analyses.base import Settings


class FrequencySegmentsSettings(Settings):
    """One-time buyers have 1 purchase day; occasional ones ``occasional_from`` to ``frequent_from - 1``;
    frequent ones ``frequent_from`` or more. Segment shares get a Dirichlet(``prior``, ...) prior."""

    occasional_from: int = Field(2, ge=2)
    frequent_from: int = Field(5, ge=3)
    prior: float = Field(1.0, gt=0)
    interval_prob: float = Field(0.95, gt=0, lt=1)
    draws: int = Field(4000, ge=100)

    @model_validator(mode="after")
    def _ordered(self):
        if self.frequent_from <= self.occasional_from:
            raise ValueError("frequent_from must be larger than occasional_from")
        return self

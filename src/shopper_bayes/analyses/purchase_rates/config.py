"""Config of the purchase-rate analysis (``rates:`` in config.yaml): segmentation, models and priors."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from shopper_bayes.analyses.base import Settings


class _Section(BaseModel):
    model_config = Settings.model_config


class BetaPrior(_Section):
    """Beta(alpha, beta) prior on a purchase rate; Beta(1, 1) is uniform on [0, 1]."""

    alpha: float = Field(1.0, gt=0)
    beta: float = Field(1.0, gt=0)


class HierarchicalPrior(_Section):
    """Priors of the partial-pooling model, on the logit scale of the purchase rate.

    Population mean ~ Normal(mean_loc, mean_scale); the sd of each segment column's effects ~
    HalfNormal(sd_scale).
    The defaults put the population mean around invlogit(-1.5) = 18%, anywhere from about 1% to 82%
    with 95% prior probability, and allow cells to differ by a factor of several in odds.
    """

    mean_loc: float = -1.5
    mean_scale: float = Field(1.5, gt=0)
    sd_scale: float = Field(1.0, gt=0)


CellName = str | dict[str, str]


class ComparisonsConfig(_Section):
    """Which cells to compare: every cell against ``reference``, or the named ``pairs``.

    A cell is a level (one segment column), a mapping column -> level, or ``"level / level"``.
    ``reference: null`` means the cell with the most sessions.
    """

    reference: CellName | None = None
    pairs: list[tuple[CellName, CellName]] = Field(default_factory=list)


class RatesConfig(Settings):
    """Purchase rate per segment cell. ``inference: exact`` draws the independent model's conjugate Beta
    posterior directly (no MCMC); ``mcmc`` samples it with NUTS like the hierarchical model.

    ``check_by``: the posterior predictive check splits each cell's sessions by this column (not one of
    ``segments``) and asks whether the cell's one rate explains the split; ``null`` skips the check.
    ``practical_lift``: lifts A / B - 1 between -practical_lift and +practical_lift are too small to
    matter; the comparisons give the probability of the lift below, inside and above that band.
    """

    segments: list[str] = Field(default_factory=lambda: ["segment"], min_length=1)
    interval_prob: float = Field(0.95, gt=0, lt=1)
    model: Literal["independent", "hierarchical"] = "independent"
    compare_models: bool = True  # also fit the other model and compare the two by PSIS-LOO
    inference: Literal["exact", "mcmc"] = "exact"
    prior: BetaPrior = BetaPrior()
    hierarchical_prior: HierarchicalPrior = HierarchicalPrior()
    comparisons: ComparisonsConfig = ComparisonsConfig()
    practical_lift: float = Field(0.05, ge=0, lt=1)
    check_by: str | None = "month"

    @field_validator("segments")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("segment columns must not repeat")
        return value

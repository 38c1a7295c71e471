"""Config of the drivers-of-conversion analysis (``drivers:`` in config.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shopper_bayes.analyses.base import Settings


class LogitPrior(BaseModel):
    """Priors on the logit scale: intercept ~ Normal(intercept_loc, intercept_scale) at average inputs;
    every coefficient (per sd of a numeric input, or per level against the reference level) ~
    Normal(0, slope_scale). The defaults put the average session's purchase rate near invlogit(-1.5) = 18%
    (1% to 82% with 95% prior probability) and let one sd multiply the odds by up to about 7."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    intercept_loc: float = -1.5
    intercept_scale: float = Field(1.5, gt=0)
    slope_scale: float = Field(1.0, gt=0)


def _numeric() -> list[str]:
    return ["PageValues", "BounceRates", "ExitRates", "Administrative_Duration", "Informational_Duration",
            "ProductRelated_Duration", "SpecialDay"]


def _logged() -> list[str]:
    return ["PageValues", "Administrative_Duration", "Informational_Duration", "ProductRelated_Duration"]


class DriversSettings(Settings):
    """A Bayesian logistic regression of purchase on session behaviour, checked on held-out sessions.

    ``numeric``: number columns, standardised (those in ``log`` as log(1 + x) first); ``categorical``:
    label columns, one indicator per level against the most frequent level; ``positive``: numeric
    columns that also get a ``<column> > 0`` indicator (page value: most sessions have none, and having
    one at all matters beyond its size); ``interactions``: pairs of label columns (or indicators) whose
    level combinations get their own terms; ``baseline``: the label column of the rates-only model it
    is compared with by LOO. ``use_sessions_filter``: false fits the
    whole year (month is an input); true keeps only the rows inside ``sessions.filter``.
    """

    numeric: list[str] = Field(default_factory=_numeric)
    log: list[str] = Field(default_factory=_logged)
    categorical: list[str] = Field(default_factory=lambda: ["Weekend", "month", "segment"])
    positive: list[str] = Field(default_factory=lambda: ["PageValues"])
    interactions: list[tuple[str, str]] = Field(default_factory=lambda: [("month", "PageValues > 0")])
    baseline: str = "segment"
    use_sessions_filter: bool = False
    holdout: float = Field(0.2, gt=0, lt=0.9)
    max_rows: int = Field(20_000, ge=100)
    loo_sessions: int = Field(1000, ge=100)  # PSIS-LOO on a random subsample of this many training sessions
    calibration_bins: int = Field(10, ge=2, le=50)
    interval_prob: float = Field(0.95, gt=0, lt=1)
    prior: LogitPrior = LogitPrior()
    draws: int = Field(500, ge=100)  # per chain; the whitened posterior mixes fast
    tune: int = Field(200, ge=50)
    target_accept: float = Field(0.8, gt=0, lt=1)

    @model_validator(mode="after")
    def _columns(self) -> DriversSettings:
        if not self.numeric and not self.categorical:
            raise ValueError("name at least one numeric or categorical input column")
        both = set(self.numeric) & set(self.categorical)
        if both:
            raise ValueError(f"{sorted(both)[0]!r} is both numeric and categorical")
        for name in self.log:
            if name not in self.numeric:
                raise ValueError(f"log column {name!r} is not in numeric")
        for name in self.positive:
            if name not in self.numeric:
                raise ValueError(f"positive column {name!r} is not in numeric")
        labels = [*self.categorical, *(f"{name} > 0" for name in self.positive)]
        for pair in self.interactions:
            for name in pair:
                if name not in labels:
                    raise ValueError(f"interaction column {name!r} is not a categorical column or a '<positive column> > 0'")
            if pair[0] == pair[1]:
                raise ValueError(f"interaction of {pair[0]!r} with itself")
        for names, what in ((self.numeric, "numeric"), (self.categorical, "categorical")):
            if len(set(names)) != len(names):
                raise ValueError(f"{what} columns must not repeat")
        return self

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


DURATIONS = ("Administrative_Duration", "Informational_Duration", "ProductRelated_Duration")


def _numeric() -> list[str]:
    return ["PageValues", "BounceRates", "ExitRates", *DURATIONS, "SpecialDay"]


def _logged() -> list[str]:
    return ["PageValues", *DURATIONS]


def _interactions() -> list[tuple[str, str]]:
    """Every input but the page value itself, separately for sessions with and without a page value."""
    return [(column, "PageValues > 0") for column in ["month", "segment", "Weekend", "BounceRates", "ExitRates",
                                                      *DURATIONS, "SpecialDay"]]


class DriversSettings(Settings):
    """A Bayesian logistic regression of purchase on session behaviour, checked on held-out sessions.

    ``numeric``: number columns, standardised (those in ``log`` as log(1 + x) first); ``squared``:
    numeric columns that also get the square of that standardised value (a U-shaped association);
    ``categorical``: label columns, one indicator per level against the most frequent level;
    ``positive``: numeric columns that also get a ``<column> > 0`` indicator (page value: most sessions
    have none, and having one at all matters beyond its size); ``interactions``: pairs of columns
    whose combinations get their own terms: two label columns (or indicators), one term per pair of
    levels; or a numeric column and a label column, the numeric column's extra slope per level;
    ``baseline``: the label column of the rates-only model it is compared with by LOO. ``use_sessions_filter``: false fits the
    whole year (month is an input); true keeps only the rows inside ``sessions.filter``.
    """

    numeric: list[str] = Field(default_factory=_numeric)
    log: list[str] = Field(default_factory=_logged)
    squared: list[str] = Field(default_factory=lambda: list(DURATIONS))
    categorical: list[str] = Field(default_factory=lambda: ["Weekend", "month", "segment"])
    positive: list[str] = Field(default_factory=lambda: ["PageValues"])
    interactions: list[tuple[str, str]] = Field(default_factory=_interactions)
    baseline: str = "segment"
    use_sessions_filter: bool = False
    holdout: float = Field(0.2, gt=0, lt=0.9)
    max_rows: int = Field(20_000, ge=100)
    loo_sessions: int = Field(1000, ge=100)  # PSIS-LOO on a random subsample of this many training sessions
    calibration_bins: int = Field(10, ge=2, le=50)
    interval_prob: float = Field(0.95, gt=0, lt=1)
    prior: LogitPrior = LogitPrior()
    draws: int = Field(1000, ge=100)  # per chain: 500 and 750 put the R-hat of ~80 quantities above 1.01 by chance
    # for 2 of 5 and 1 of 15 fits of the bundled data (benchmarks/drivers_draws.py)
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
        for names, what in ((self.positive, "positive"), (self.squared, "squared")):
            for name in names:
                if name not in self.numeric:
                    raise ValueError(f"{what} column {name!r} is not in numeric")
        labels = [*self.categorical, *(f"{name} > 0" for name in self.positive)]
        for pair in self.interactions:
            for name in pair:
                if name not in labels and name not in self.numeric:
                    raise ValueError(f"interaction column {name!r} is not a numeric or categorical column or a "
                                     "'<positive column> > 0'")
            if pair[0] == pair[1]:
                raise ValueError(f"interaction of {pair[0]!r} with itself")
            if all(name in self.numeric for name in pair):
                raise ValueError(f"interaction of two numeric columns {list(pair)}: pair a numeric column with a label column")
            if any(f"{name} > 0" in pair for name in pair):
                raise ValueError(f"interaction of {pair[0]!r} with {pair[1]!r}: a column's slope among its own positive "
                                 "values is its slope already")
        for names, what in ((self.numeric, "numeric"), (self.categorical, "categorical")):
            if len(set(names)) != len(names):
                raise ValueError(f"{what} columns must not repeat")
        return self

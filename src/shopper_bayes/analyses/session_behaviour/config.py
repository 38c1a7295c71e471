"""Config of the session behaviour analysis (``session_behaviour:`` in config.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shopper_bayes.analyses.base import Settings


class PageColumns(BaseModel):
    """One page type: its page-count and seconds columns in the file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    pages: str
    seconds: str


class BetaPrior(BaseModel):
    """Beta(alpha, beta) prior on every share; Beta(1, 1) is uniform on [0, 1]."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(1.0, gt=0)
    beta: float = Field(1.0, gt=0)


def _page_types() -> list[PageColumns]:
    return [PageColumns(name="administrative", pages="Administrative", seconds="Administrative_Duration"),
            PageColumns(name="informational", pages="Informational", seconds="Informational_Duration"),
            PageColumns(name="product", pages="ProductRelated", seconds="ProductRelated_Duration")]


class BehaviourSettings(Settings):
    """Segments as in the rates analysis; means by the Bayesian bootstrap, shares by exact Beta posteriors.

    ``engaged_page_type``: the page type whose time marks an engaged session (more than the median
    over all sessions in scope). ``reference``: the cell every other cell is compared with (a level,
    or ``"level / level"`` for several segment columns); ``null``: the cell with the most sessions.
    """

    segments: list[str] = Field(default_factory=lambda: ["segment"], min_length=1)
    page_types: list[PageColumns] = Field(default_factory=_page_types, min_length=1)
    bounce_rate: str = "BounceRates"
    exit_rate: str = "ExitRates"
    page_value: str = "PageValues"
    engaged_page_type: str = "product"
    reference: str | None = None
    resamples: int = Field(2000, ge=100)
    max_rows: int = Field(1_000_000, ge=1000)  # more sessions in scope: a seeded sample of this many, drawn by the engine
    interval_prob: float = Field(0.95, gt=0, lt=1)
    prior: BetaPrior = BetaPrior()

    @model_validator(mode="after")
    def _engaged_is_a_page_type(self) -> BehaviourSettings:
        names = [page.name for page in self.page_types]
        if self.engaged_page_type not in names:
            raise ValueError(f"engaged_page_type {self.engaged_page_type!r} is not one of the page types ({', '.join(names)})")
        if len(set(names)) != len(names):
            raise ValueError("page type names must not repeat")
        return self

"""Config of the campaign planner (``campaign:`` in config.yaml)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from shopper_bayes.analyses.base import Settings


class _Section(BaseModel):
    model_config = Settings.model_config


class ScenarioGrid(_Section):
    """Scenarios to tabulate: every boost x sessions x target. ``null`` lists are derived from the campaign:
    boosts from 0 to twice the campaign's boost (at least 0 to 30% or 0 to 6 pp), sessions at 80%, 100% and
    120% of the campaign's, and the campaign's target."""

    boosts: list[float] | None = None
    sessions: list[Annotated[int, Field(ge=1)]] | None = None
    targets: list[Annotated[int, Field(ge=0)]] | None = None


class CampaignConfig(Settings):
    """A campaign that raises the segment's purchase rate by ``boost``.

    ``boost_type: relative`` multiplies the rate by (1 + boost); ``absolute`` adds boost to it (0.03 is
    +3 percentage points). ``boost_sd`` > 0 makes the boost uncertain: Normal(boost, boost_sd).
    """

    segment: str | dict[str, str] = "Returning_Customer"
    boost: float = 0.15
    boost_type: Literal["relative", "absolute"] = "relative"
    boost_sd: float = Field(0.0, ge=0)
    sessions: int = Field(500, ge=1)
    target: int = Field(100, ge=0)
    prob_wanted: float = Field(0.9, gt=0, lt=1)  # for "what boost / how many sessions would it take"
    grid: ScenarioGrid = ScenarioGrid()

    @model_validator(mode="after")
    def _target_reachable(self) -> CampaignConfig:
        if self.target > self.sessions:
            raise ValueError(
                f"target ({self.target}) is above sessions ({self.sessions}): "
                "it can never be reached"
            )
        if self.boost_type == "relative" and self.boost <= -1:
            raise ValueError(f"a relative boost of {self.boost} would remove every purchase: it must be above -1")
        if self.boost_type == "absolute" and not -1 < self.boost < 1:
            raise ValueError(f"an absolute boost of {self.boost} is not a change of a rate: it must be between -1 and 1")
        return self

    def scenario_grid(self) -> dict:
        """The grid with its derived defaults filled in."""
        grid = self.grid
        if grid.boosts is not None:
            boosts = grid.boosts
        elif self.boost_type == "relative":
            boosts = np.round(np.linspace(0, max(0.3, 2 * self.boost), 13), 4).tolist()
        else:
            boosts = np.round(np.linspace(0, max(0.06, 2 * self.boost), 13), 4).tolist()
        sessions = grid.sessions or sorted({max(1, round(self.sessions * f)) for f in (0.8, 1.0, 1.2)})
        return {"boosts": boosts, "sessions": sessions, "targets": grid.targets or [self.target]}

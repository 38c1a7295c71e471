"""Configuration: the schema of ``config.yaml``, validated with pydantic.

Every option has a default, so an empty file is a valid config. An unknown key or a value of the
wrong type is a :class:`UserError` that names the key. Relative paths are taken relative to the
directory of the config file, so a config works from any current directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shopper_bayes.errors import UserError

DURATION_COLUMNS = ["Administrative_Duration", "Informational_Duration", "ProductRelated_Duration"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class SessionColumns(_Strict):
    """Canonical column name -> column name in the file.

    ``session_id`` is a column of unique session ids: of rows with the same id the first is kept.
    The default name is used only when the file has that column; ``null`` turns the check off.
    """

    purchase: str = "Purchase"
    segment: str = "CustomerType"
    month: str | None = "Month"
    session_id: str | None = "SessionID"


class SessionsConfig(_Strict):
    path: Path = Path("data/online_shopping_session_data.csv")
    columns: SessionColumns = SessionColumns()
    filter: dict[str, list[str]] = Field(default_factory=lambda: {"month": ["Nov", "Dec"]})


class BetaPrior(_Strict):
    """Beta(alpha, beta) prior on a purchase rate; Beta(1, 1) is uniform on [0, 1]."""

    alpha: float = Field(1.0, gt=0)
    beta: float = Field(1.0, gt=0)


class HierarchicalPrior(_Strict):
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


class ComparisonsConfig(_Strict):
    """Which cells to compare: every cell against ``reference``, or the named ``pairs``.

    A cell is a level (one segment column), a mapping column -> level, or ``"level / level"``.
    ``reference: null`` means the cell with the most sessions.
    """

    reference: CellName | None = None
    pairs: list[tuple[CellName, CellName]] = Field(default_factory=list)


class RatesConfig(_Strict):
    segments: list[str] = Field(default_factory=lambda: ["segment"], min_length=1)
    interval_prob: float = Field(0.95, gt=0, lt=1)
    model: Literal["independent", "hierarchical"] = "independent"
    compare_models: bool = True  # also fit the other model and compare the two by PSIS-LOO
    prior: BetaPrior = BetaPrior()
    hierarchical_prior: HierarchicalPrior = HierarchicalPrior()
    comparisons: ComparisonsConfig = ComparisonsConfig()

    @field_validator("segments")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("segment columns must not repeat")
        return value


class SamplerConfig(_Strict):
    """MCMC settings. ``backend`` is the NUTS implementation: nutpie (default) or PyMC's own."""

    backend: Literal["nutpie", "pymc"] = "nutpie"
    draws: int = Field(1000, ge=10)
    tune: int = Field(1000, ge=0)
    chains: int = Field(4, ge=2)  # R-hat and rank plots compare chains: one chain cannot show non-convergence
    target_accept: float = Field(0.99, gt=0, lt=1)  # 0.99: the hierarchical model has no divergences on the bundled data


class DiagnosticsConfig(_Strict):
    """Thresholds a fit must meet to be called converged."""

    max_rhat: float = Field(1.01, gt=1)
    min_ess: float = Field(400, gt=0)
    max_divergences: int = Field(0, ge=0)
    min_bfmi: float = Field(0.3, gt=0)  # energy Bayesian fraction of missing information, per chain
    max_mcse_ratio: float = Field(0.1, gt=0)  # Monte Carlo standard error of the mean / posterior sd


class ScenarioGrid(_Strict):
    """Scenarios to tabulate: every boost x sessions x target. ``null`` lists are derived from the campaign:
    boosts from 0 to twice the campaign's boost (at least 0 to 30% or 0 to 6 pp), sessions at 80%, 100% and
    120% of the campaign's, and the campaign's target."""

    boosts: list[float] | None = None
    sessions: list[Annotated[int, Field(ge=1)]] | None = None
    targets: list[Annotated[int, Field(ge=0)]] | None = None


class CampaignConfig(_Strict):
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


class CorrelationsConfig(_Strict):
    columns: list[str] = Field(default_factory=lambda: list(DURATION_COLUMNS), min_length=2)
    resamples: int = Field(10_000, ge=100)
    method: Literal["percentile", "bca"] = "bca"
    statistic: Literal["pearson", "spearman"] = "pearson"
    interval_prob: float = Field(0.95, gt=0, lt=1)
    by: str | None = "segment"  # also per level of this column (canonical or raw name); null: pooled only


class Config(_Strict):
    seed: int = Field(2026, ge=0)
    figures: bool = True
    report: bool = True
    sessions: SessionsConfig = SessionsConfig()
    rates: RatesConfig = RatesConfig()
    sampler: SamplerConfig = SamplerConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    campaign: CampaignConfig = CampaignConfig()
    correlations: CorrelationsConfig = CorrelationsConfig()

    def resolve_paths(self, base: Path) -> Config:
        """Return a copy whose relative data path is taken relative to ``base``."""
        path = self.sessions.path
        if not path.is_absolute():
            path = base / path
        sessions = self.sessions.model_copy(update={"path": path})
        return self.model_copy(update={"sessions": sessions})


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load`` that also refuses a key given twice in one mapping (YAML keeps the last)."""

    def construct_unique_mapping(self, node: yaml.MappingNode):
        keys = []
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in keys:
                raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                        f"key {key!r} appears twice", key_node.start_mark)
            keys.append(key)
        yield from self.construct_yaml_map(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_unique_mapping)


def _describe(error: dict) -> tuple[str, str]:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return key, "unknown key"
    return key, error["msg"].removeprefix("Value error, ")


def load_config(path: str | Path) -> Config:
    """Read, validate and resolve a YAML config file (loaded with a ``yaml.SafeLoader``: no tags run code)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(path, "config file not found", "pass an existing file with --config")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except UnicodeDecodeError:
        raise UserError(path, "is not UTF-8 text", "save the config as UTF-8 YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(where, f"invalid YAML ({problem})", "fix the YAML syntax") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(path, "must be a mapping of option: value", "see config.yaml in the README")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        key, what = _describe(exc.errors()[0])
        raise UserError(f"{path}: {key}", what, "fix this option (see the README's config reference)") from None
    return config.resolve_paths(path.resolve().parent)

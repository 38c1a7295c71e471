"""Settings of the ad campaign analysis (``ad_campaigns:`` in ``config.yaml``); priors live here."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shopper_bayes.analyses.base import Settings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Revenue(_Strict):
    """An uncertain revenue per conversion: Gamma-distributed with this mean and sd."""

    mean: float = Field(gt=0)
    sd: float = Field(gt=0)


class LogNormalPrior(_Strict):
    """A positive quantity whose log is Normal(log(median), log_sd)."""

    median: float = Field(gt=0)
    log_sd: float = Field(gt=0)


class Priors(_Strict):
    """Priors of the model (see the section's methods text for where each enters).

    ``ctr`` and ``lead_rate`` are per impression: each campaign x audience cell's log rate ~
    Normal(log(median), log_sd). ``approval_*``: each cell's logit approval rate ~
    Normal(logit(median), logit_sd). ``dispersion``: δ of the per-ad counts (variance = (1 + δ) x Poisson). ``concentration``: κ of
    the Beta-binomial approval of the ads of a campaign.
    """

    ctr: LogNormalPrior = LogNormalPrior(median=0.005, log_sd=3.0)
    lead_rate: LogNormalPrior = LogNormalPrior(median=1e-4, log_sd=3.0)
    approval_median: float = Field(0.3, gt=0, lt=1)
    approval_logit_sd: float = Field(1.5, gt=0)
    dispersion: LogNormalPrior = LogNormalPrior(median=1.0, log_sd=2.0)
    concentration: LogNormalPrior = LogNormalPrior(median=20.0, log_sd=1.5)


class AdCampaignsSettings(Settings):
    """``by``: audience columns (canonical names of ``ads.columns``, or raw file columns) whose
    combinations are the audience cells. ``revenue_per_conversion``: the data has no revenue, so
    this is an assumption: a number, or ``{mean, sd}`` when uncertain. ``profitable_prob`` /
    ``wasteful_prob``: P(ROI > 0) / P(ROI < 0) needed for those flags. ``budget``: the amount the
    "where should the next budget go" answer places; ``min_spend``: a campaign x audience cell
    needs at least this observed spend to be a candidate (its cost per impression is known).
    ``draws``/``tune``/``target_accept`` override the run's sampler for this (cheap) model.
    """

    by: list[str] = Field(default_factory=lambda: ["age", "gender"])
    revenue_per_conversion: float | Revenue = 50.0
    interval_prob: float = Field(0.95, gt=0, lt=1)
    profitable_prob: float = Field(0.9, gt=0.5, lt=1)
    wasteful_prob: float = Field(0.9, gt=0.5, lt=1)
    budget: float = Field(1000.0, gt=0)
    min_spend: float = Field(100.0, ge=0)
    budget_options: int = Field(5, ge=1)
    ppc_draws: int = Field(1000, ge=100)
    dispersion_grid: int = Field(721, ge=50)
    draws: int = Field(1000, ge=100)
    tune: int = Field(500, ge=100)
    target_accept: float = Field(0.9, gt=0, lt=1)
    priors: Priors = Priors()

    @model_validator(mode="after")
    def _check(self) -> AdCampaignsSettings:
        if isinstance(self.revenue_per_conversion, float) and self.revenue_per_conversion < 0:
            raise ValueError("revenue_per_conversion must be 0 or more")
        if len(set(self.by)) != len(self.by):
            raise ValueError("by names a column twice")
        return self

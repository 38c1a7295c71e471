"""Config of the customer-lifetime-value analysis (``clv:`` in ``config.yaml``): model, fit method, priors."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shopper_bayes.analyses.base import Settings


class LogNormalPrior(BaseModel):
    """LogNormal(mu, sigma): log of the parameter ~ Normal(mu, sigma)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mu: float = 0.0
    sigma: float = Field(2.0, gt=0)


class ClvPriors(BaseModel):
    """Priors of the purchase (r, alpha; BG/NBD a, b; Pareto/NBD s, beta) and Gamma-Gamma (p, q, v)
    parameters; only the fitted model's are used.

    All are wide LogNormals so that a few thousand customers decide the answer: the central 95% of
    LogNormal(0, 2) runs from 0.02 to 50, of LogNormal(0, 3) from 0.003 to 360. alpha and beta (in
    time units) and v (in currency units) get the wider one because their scale depends on the data's
    units.
    PyMC-Marketing's own defaults (Weibull(2, 1) on p and q) pull the CDNOW Gamma-Gamma p from the
    published 6.25 to about 4.3; these do not.
    """

    model_config = ConfigDict(extra="forbid")

    r: LogNormalPrior = LogNormalPrior(mu=0.0, sigma=2.0)
    alpha: LogNormalPrior = LogNormalPrior(mu=0.0, sigma=3.0)
    a: LogNormalPrior = LogNormalPrior(mu=0.0, sigma=2.0)
    b: LogNormalPrior = LogNormalPrior(mu=0.0, sigma=2.0)
    s: LogNormalPrior = LogNormalPrior(mu=0.0, sigma=2.0)
    beta: LogNormalPrior = LogNormalPrior(mu=0.0, sigma=3.0)
    p: LogNormalPrior = LogNormalPrior(mu=0.0, sigma=2.0)
    q: LogNormalPrior = LogNormalPrior(mu=0.0, sigma=2.0)
    v: LogNormalPrior = LogNormalPrior(mu=0.0, sigma=3.0)


class ClvSettings(Settings):
    """``model``: purchases and dropout by BG/NBD (dropout only right after a repeat purchase) or
    Pareto/NBD (dropout at any time); Gamma-Gamma for spend is always fitted. ``statistics``: ``exact``
    fits the distinct (frequency, recency, T) as measured (whole days, in time units) and the distinct
    (frequency, mean spend) pairs; ``binned``, for large logs, rounds recency and T to whole time
    units (each time moves by at most half a unit) and groups total repeat spend in bins 1% wide
    (with a second-order correction: within 4e-7 per customer in the log density), so the number of
    terms stops growing with customers.
    ``method``: ``mcmc`` (NUTS, checked by the diagnostics gate) or ``map`` (a point estimate for a
    quick look, labelled as such). ``horizon_months`` and ``discount_rate`` (per month) define CLV.
    ``draws``, ``tune``, ``target_accept`` override the ``sampler:`` section for this fit (its
    coordinates are nearly uncorrelated, so 500 draws per chain at 0.9 pass the gate on CDNOW).
    ``prediction_draws``: posterior draws (evenly thinned) behind every per-customer number;
    ``holdout_draws``: simulated data sets behind the holdout predictive intervals.
    ``segments``: cumulative shares of customers, ranked by CLV, that end a segment.
    """

    model: Literal["bg_nbd", "pareto_nbd"] = "bg_nbd"
    statistics: Literal["exact", "binned"] = "exact"
    method: Literal["mcmc", "map"] = "mcmc"
    interval_prob: float = Field(0.95, gt=0, lt=1)
    horizon_months: int = Field(12, ge=1, le=120)
    discount_rate: float = Field(0.01, ge=0, lt=1)
    priors: ClvPriors = ClvPriors()
    draws: int = Field(500, ge=100)
    tune: int = Field(500, ge=100)
    target_accept: float = Field(0.9, gt=0, lt=1)
    prediction_draws: int = Field(200, ge=10)
    holdout_draws: int = Field(100, ge=20)
    segments: list[float] = Field(default_factory=lambda: [0.1, 0.5])
    top_customers: int = Field(10, ge=1, le=1000)

    @field_validator("segments")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(not 0 < share < 1 for share in value) or sorted(set(value)) != value:
            raise ValueError("segment shares must be increasing and strictly between 0 and 1")
        return value

"""Settings of the demographics analysis: priors of the spend and orders models, flags, shares."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shopper_bayes.analyses.base import Settings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class SpendPrior(_Strict):
    """Priors of the spend model, on the log scale of mean spend per customer profile.

    Intercept ~ Normal(log of the observed mean spend + intercept_loc, intercept_sd); the sd of each
    demographic column's effects ~ HalfNormal(effect_sd) (0.5: levels differing by a factor of up to
    about 2.7 are plausible); gamma shape ~ Gamma(shape_alpha, shape_beta).
    """

    intercept_loc: float = 0.0
    intercept_sd: float = Field(2.0, gt=0)
    effect_sd: float = Field(0.5, gt=0)
    shape_alpha: float = Field(2.0, gt=0)
    shape_beta: float = Field(0.5, gt=0)
    sigma_sd: float = Field(1.0, gt=0)  # lognormal only: sd of log spend ~ HalfNormal(sigma_sd)


class OrdersPrior(_Strict):
    """Priors of the orders model: orders = 1 + Poisson(rate); log rate = intercept + effects.

    Intercept ~ Normal(intercept_loc, intercept_sd) (0: one extra order per profile); effect sds ~
    HalfNormal(effect_sd)."""

    intercept_loc: float = 0.0
    intercept_sd: float = Field(2.0, gt=0)
    effect_sd: float = Field(0.5, gt=0)


class DemographicsSettings(Settings):
    """``likelihood``: gamma (default; the posterior predictive check on the bundled data favours it)
    or lognormal. ``target_prob``: a level with P(above the overall mean) >= target_prob is flagged
    *target*, <= 1 - target_prob *underperforming*. ``share_prior``: the Dirichlet concentration of
    every category and product (0.5: Jeffreys). ``draws``: Monte Carlo draws of the exact posteriors.
    ``tune`` and ``target_accept`` override the sampler section for this model's fit."""

    likelihood: Literal["gamma", "lognormal"] = "gamma"
    spend_prior: SpendPrior = SpendPrior()
    orders_prior: OrdersPrior = OrdersPrior()
    interval_prob: float = Field(0.95, gt=0, lt=1)
    target_prob: float = Field(0.9, gt=0.5, lt=1)
    top_levels: int = Field(3, ge=1)
    top_products: int = Field(10, ge=1)
    share_prior: float = Field(0.5, gt=0)
    draws: int = Field(4000, ge=100)
    ppc_draws: int = Field(200, ge=10)
    # NUTS overrides for this model (the sampler section gives the rest). In its data-scaled coordinates
    # (model._linear) 14 seeds on the bundled and a generated file had no divergence at 0.9 and a tail
    # ESS of 1,000 or more at 1,000 draws; the sampler section's 0.99 would double the leapfrog steps.
    mcmc_draws: int = Field(1000, ge=100)  # NUTS draws per chain; tune 300 (nutpie's default): 6 seeds, tail ESS 1,031 or more
    tune: int = Field(300, ge=100)
    target_accept: float = Field(0.9, gt=0, lt=1)

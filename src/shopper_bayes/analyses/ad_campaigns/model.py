"""The hierarchical over-dispersed model of ad counts, fitted to per-cell sums.

For clicks and leads, per impression: ad i in campaign k and audience cell c (a campaign x audience
cell is a "cell" below) has count NB(n_i λ_kc / δ_k, 1 / (1 + δ_k)): mean n_i λ_kc and variance
(1 + δ_k) times that, a Gamma-Poisson mixture in which the ad's own rate varies around its cell's
rate λ_kc, with a spread δ_k shared by the ads of the campaign. log λ_kc ~ Normal(log median, log_sd)
per cell. Sums of such counts are again negative binomial, so each cell's total enters exactly; how
the totals split among the ads (which carries the information about δ_k) enters as a
Dirichlet-multinomial log-likelihood on a grid of log δ_k (:func:`stats.split_loglik`), interpolated.

Approval (conversions out of leads): ad i has Beta-binomial(leads_i, μ_kc κ_k, (1 - μ_kc) κ_k)
conversions, logit μ_kc ~ Normal per cell, log κ_k ~ Normal per campaign; fitted on the distinct
(cell, leads, conversions) triples weighted by their counts.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from shopper_bayes.analyses.ad_campaigns.config import AdCampaignsSettings
from shopper_bayes.analyses.ad_campaigns.stats import Stats, dispersion_grid, split_loglik

VERSION = "ads-nb1-betabinomial-2"
MEASURES = ("clicks", "leads")


def _interpolate(value, grid: np.ndarray, table: np.ndarray):
    """Piecewise-linear interpolation of ``table[k]`` (on the evenly spaced ``grid``) at ``value[k]``."""
    step = grid[1] - grid[0]
    x = (pt.clip(value, grid[0], grid[-1] - 1e-9) - grid[0]) / step
    i = pt.floor(x).astype("int64")
    w = x - i
    rows = np.arange(table.shape[0])
    table = pt.as_tensor(table)
    return (1 - w) * table[rows, i] + w * table[rows, i + 1]


def build_model(stats: Stats, settings: AdCampaignsSettings) -> pm.Model:
    """The PyMC model: ``rate`` (measure x cell, per impression) and ``approval`` (cell)."""
    priors = settings.priors
    grid = dispersion_grid(settings.dispersion_grid)
    groups = stats.groups
    campaign = stats.group_campaign
    exposure = groups["impressions"].to_numpy(np.float64)
    coords = {"measure": list(MEASURES), "campaign": stats.campaigns, "cell": groups["name"].tolist()}
    rate_priors = [priors.ctr, priors.lead_rate]
    split = np.concatenate([split_loglik(stats, counts, grid) for counts in MEASURES])  # (measure x campaign, grid)
    with pm.Model(coords=coords) as model:
        log_rate = pm.Normal("log_rate", mu=np.log([[p.median] for p in rate_priors]),
                             sigma=np.array([[p.log_sd] for p in rate_priors]), dims=("measure", "cell"))
        rate = pm.Deterministic("rate", pt.exp(log_rate), dims=("measure", "cell"))
        log_dispersion = pm.Normal("log_dispersion", mu=np.log(priors.dispersion.median), sigma=priors.dispersion.log_sd,
                                   dims=("measure", "campaign"))
        pm.Potential("split_loglik", _interpolate(log_dispersion.flatten(), grid, split).sum())
        dispersion = pm.Deterministic("dispersion", pt.exp(log_dispersion), dims=("measure", "campaign"))
        mean = rate * exposure
        pm.NegativeBinomial("total", mu=mean, alpha=mean / dispersion[:, campaign],
                            observed=groups[list(MEASURES)].to_numpy().T, dims=("measure", "cell"))

        logit = np.log(priors.approval_median / (1 - priors.approval_median))
        approval_logit = pm.Normal("approval_logit", mu=logit, sigma=priors.approval_logit_sd, dims="cell")
        approval = pm.Deterministic("approval", pm.math.invlogit(approval_logit), dims="cell")
        log_concentration = pm.Normal("log_concentration", mu=np.log(priors.concentration.median),
                                      sigma=priors.concentration.log_sd, dims="campaign")
        concentration = pm.Deterministic("concentration", pt.exp(log_concentration), dims="campaign")
        triples = stats.triples
        if len(triples):
            cell = triples["group"].to_numpy()
            kappa = concentration[campaign[cell]]
            mu = approval[cell]
            logp = pm.logp(pm.BetaBinomial.dist(n=triples["leads"].to_numpy(), alpha=mu * kappa, beta=(1 - mu) * kappa),
                           triples["conversions"].to_numpy())
            pm.Potential("approval_loglik", (triples["count"].to_numpy() * logp).sum())
    return model


def fit_key(stats: Stats, settings: AdCampaignsSettings) -> str:
    """What the fit depends on: the model version, the statistics, the priors and the sampler overrides."""
    digest = hashlib.sha256(VERSION.encode())
    for frame in (stats.groups, stats.ads[["impressions", "clicks", "leads", "conversions"]], stats.triples):
        digest.update(frame.to_csv(index=False).encode())
    digest.update(stats.ad_group.tobytes())
    digest.update(json.dumps(settings.priors.model_dump(), sort_keys=True).encode())
    digest.update(json.dumps([settings.dispersion_grid, settings.draws, settings.tune, settings.target_accept]).encode())
    return f"ad_campaigns-{digest.hexdigest()[:16]}"

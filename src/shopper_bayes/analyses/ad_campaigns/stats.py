"""Sufficient statistics of the ad table, computed by the engine: sums per campaign x audience cell, the per-ad counts the
over-dispersion needs, and the distinct (cell, leads, conversions) triples of the approval model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln

from shopper_bayes.engine.base import exact_sum, literal, quote

SUMS = ["ads", "impressions", "clicks", "spend", "leads", "conversions"]
ALL = "all ads"
AD_CHUNK = 4096


@dataclass
class Stats:
    """``groups``: one row per campaign x audience cell with ads (columns ``campaign``, ``audience``,
    the ``by`` columns and :data:`SUMS`). ``ad_group``: each ad's row in ``groups``; ``ads``: the
    per-ad counts. ``triples``: distinct (group, leads, conversions) of ads with leads, with ``count``."""

    by: list[str]
    campaigns: list[str]
    audiences: list[str]
    levels: dict[str, list[str]]
    groups: pd.DataFrame
    ad_group: np.ndarray
    ads: pd.DataFrame
    triples: pd.DataFrame

    @property
    def group_campaign(self) -> np.ndarray:
        return self.groups["campaign_index"].to_numpy()

    @property
    def group_audience(self) -> np.ndarray:
        return self.groups["audience_index"].to_numpy()


def audience_label(by: list[str]) -> str:
    """SQL of the audience label: ``30-34 / M`` for by = [age, gender]; ``all ads`` when there is no breakdown."""
    if not by:
        return literal(ALL)
    return " || ' / ' || ".join(f"CAST({quote(column)} AS VARCHAR)" for column in by)


def statistics(table, by: list[str]) -> Stats:
    """Group sums and approval triples summed by the engine over a cleaned ad table, and the per-ad
    counts (the ad is the unit of the over-dispersion and of the per-ad checks)."""
    ads = f"(SELECT *, {audience_label(by)} AS audience FROM {{rows}})"
    keys = ", ".join(quote(name) for name in ["campaign", "audience", *by])
    groups = table.sql(f"SELECT {keys}, count(*) AS ads, sum(impressions) AS impressions, sum(clicks) AS clicks, "
                       f"{exact_sum('spend')} AS spend, sum(leads) AS leads, sum(conversions) AS conversions FROM {ads} "
                       f"GROUP BY {keys}")
    groups = groups.astype({name: np.int64 for name in ["ads", "impressions", "clicks", "leads", "conversions"]})
    campaigns = sorted(groups["campaign"].unique(), key=_natural)
    audiences = sorted(groups["audience"].unique())
    groups["campaign_index"] = groups["campaign"].map({name: i for i, name in enumerate(campaigns)})
    groups["audience_index"] = groups["audience"].map({name: i for i, name in enumerate(audiences)})
    groups = groups.sort_values(["campaign_index", "audience_index"]).reset_index(drop=True)
    groups["name"] = groups["campaign"] + " · " + groups["audience"]
    index = pd.MultiIndex.from_frame(groups[["campaign", "audience"]])
    per_ad = table.sql(f"SELECT ad, campaign, audience, impressions, clicks, spend, leads, conversions FROM {ads} ORDER BY _row")
    per_ad = per_ad.astype({name: np.int64 for name in ["impressions", "clicks", "leads", "conversions"]})
    ad_group = index.get_indexer(pd.MultiIndex.from_frame(per_ad[["campaign", "audience"]]))
    triples = table.sql(f"SELECT campaign, audience, leads, conversions, count(*) AS count FROM {ads} WHERE leads > 0 "
                        "GROUP BY campaign, audience, leads, conversions")
    triples = pd.DataFrame({"group": index.get_indexer(pd.MultiIndex.from_frame(triples[["campaign", "audience"]])),
                            "leads": triples["leads"].to_numpy(np.int64),
                            "conversions": triples["conversions"].to_numpy(np.int64),
                            "count": triples["count"].to_numpy(np.int64)})
    triples = triples.sort_values(["group", "leads", "conversions"]).reset_index(drop=True)
    levels = {column: sorted(groups[column].astype(str).unique()) for column in by}
    return Stats(by, campaigns, audiences, levels, groups, ad_group, per_ad, triples)


def _natural(name: str):
    """Campaign ids sort as numbers when they are numbers (916 before 1178)."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def dispersion_grid(points: int) -> np.ndarray:
    """log δ from log(1e-4) to log(1e4): δ near 0 is Poisson noise, δ = 1e4 far beyond any ad data."""
    return np.linspace(np.log(1e-4), np.log(1e4), points)


def split_loglik(stats: Stats, counts: str, grid: np.ndarray) -> np.ndarray:
    """log P(how each cell's total splits among its ads | δ), per campaign, on the grid of log δ.

    With per-ad counts NB(n_i λ/δ, 1/(1+δ)), a cell's total is NB(N λ/δ, 1/(1+δ)) and, given the
    total, the split among its ads is Dirichlet-multinomial with weights n_i λ/δ. This is that
    Dirichlet-multinomial log-likelihood (constant terms dropped) with λ at the cell's observed
    ratio; the totals enter the MCMC model exactly. Shape (campaigns, grid points).
    """
    y = stats.ads[counts].to_numpy(np.float64)
    n = stats.ads["impressions"].to_numpy(np.float64)
    total = stats.groups[counts].to_numpy(np.float64)
    exposure = stats.groups["impressions"].to_numpy(np.float64)
    rate = np.maximum(total, 0.5) / exposure
    scale = rate[None, :] / np.exp(grid)[:, None]  # λ/δ, (grid, groups)
    per_group_r = exposure[None, :] * scale
    per_group = gammaln(per_group_r) - gammaln(total[None, :] + per_group_r)
    out = per_group @ _one_hot(stats.group_campaign, len(stats.campaigns))
    positive = np.flatnonzero(y > 0)  # an ad with count 0 adds gammaln(r) - gammaln(r) = 0
    for start in range(0, len(positive), AD_CHUNK):
        ads = positive[start:start + AD_CHUNK]
        r = n[None, ads] * scale[:, stats.ad_group[ads]]
        per_ad = gammaln(y[None, ads] + r) - gammaln(r)
        out += per_ad @ _one_hot(stats.group_campaign[stats.ad_group[ads]], len(stats.campaigns))
    out = out.T
    return out - out.max(axis=1, keepdims=True)


def _one_hot(index: np.ndarray, size: int) -> np.ndarray:
    return (index[:, None] == np.arange(size)[None, :]).astype(np.float64)

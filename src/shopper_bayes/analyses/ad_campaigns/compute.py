"""From the posterior of the cell rates to campaigns, audiences, money, flags, budget and checks.

A campaign's (or audience's) rate is the impression-weighted mean of its cells' rates: the rate of
its impressions as they are currently bought. Money figures use the observed spend:
CPL = spend / (impressions x lead rate), CAC = spend / (impressions x conversion rate),
ROI = (impressions x conversion rate x revenue per conversion - spend) / spend, draw by draw.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from shopper_bayes.analyses.ad_campaigns.config import AdCampaignsSettings, Revenue
from shopper_bayes.analyses.ad_campaigns.results import (AdCampaignsResult, Audience, Budget, BudgetOption, Campaign,
                                                         PredictiveCheck, Spread, Widening)
from shopper_bayes.analyses.ad_campaigns.stats import Stats
from shopper_bayes.analyses.base import Estimate, Probability
from shopper_bayes.inference.diagnostics import Diagnostics

PER_1000 = 1000.0


def estimate(draws: np.ndarray | None, prob: float, note: str | None = None) -> Estimate:
    """Mean and central ``prob`` interval of 1-d draws; undefined (``None``) with ``note`` when draws is None."""
    if draws is None:
        return Estimate(mean=None, interval=(None, None), note=note)
    tail = (1 - prob) / 2
    lo, hi = np.quantile(draws, [tail, 1 - tail])
    return Estimate(mean=float(np.mean(draws)), interval=(float(lo), float(hi)), note=note)


def revenue_draws(revenue: float | Revenue, size: int, rng: np.random.Generator) -> np.ndarray:
    """The revenue per conversion, one value per posterior draw: fixed, or Gamma with the given mean and sd."""
    if isinstance(revenue, Revenue):
        shape = (revenue.mean / revenue.sd) ** 2
        return rng.gamma(shape, revenue.mean / shape, size)
    return np.full(size, float(revenue))


def flag(prob_positive: float, settings: AdCampaignsSettings) -> str:
    """profitable when P(ROI > 0) >= profitable_prob, wasteful when P(ROI < 0) >= wasteful_prob."""
    if prob_positive >= settings.profitable_prob:
        return "profitable"
    if 1 - prob_positive >= settings.wasteful_prob:
        return "wasteful"
    return "unclear"


def money(spend: float, impressions: float, leads: int, conversions: int, lead_rate: np.ndarray,
          conversion_rate: np.ndarray, revenue: np.ndarray, settings: AdCampaignsSettings) -> dict:
    """CPL, CAC, ROI (Estimates), P(ROI > 0) and the flag from per-impression rate draws.

    Undefined figures carry their reason: no spend (nothing was paid, so no cost or return per unit),
    no leads observed (CPL = spend / 0), no conversions observed (CAC = spend / 0).
    """
    prob = settings.interval_prob
    if spend <= 0:
        note = "no spend: cost and return per unit of spend undefined"
        undefined = estimate(None, prob, note)
        return {"cpl": undefined, "cac": undefined, "roi": undefined, "prob_roi_positive": None, "flag": "undefined"}
    expected_leads = impressions * lead_rate
    expected_conversions = impressions * conversion_rate
    cpl = (estimate(None, prob, "no leads observed: CPL = spend / 0 is undefined") if leads == 0
           else estimate(spend / expected_leads, prob))
    cac = (estimate(None, prob, "no conversions observed: CAC = spend / 0 is undefined") if conversions == 0
           else estimate(spend / expected_conversions, prob))
    roi = (expected_conversions * revenue - spend) / spend
    positive = float(np.mean(roi > 0))
    return {"cpl": cpl, "cac": cac, "roi": estimate(roi, prob),
            "prob_roi_positive": Probability(value=positive, draws=len(roi)), "flag": flag(positive, settings)}


def naive_interval(count: float, trials: float, prob: float) -> tuple[float | None, float | None]:
    """The interval of the summed counts as one binomial: Beta(1 + count, 1 + trials - count) quantiles."""
    if trials <= 0:
        return (None, None)
    tail = (1 - prob) / 2
    from scipy.stats import beta  # 0.6 s to import: not for the report section, which imports this module

    lo, hi = beta.ppf([tail, 1 - tail], 1 + count, 1 + trials - count)
    return (float(lo), float(hi))


def widening(name: str, count: float, trials: float, model: Estimate, scale: float, prob: float) -> Widening:
    lo, hi = naive_interval(count, trials, prob)
    if lo is None:
        return Widening(measure=name, sum_ratio=None, naive_interval=(None, None), ratio=None)
    width = (hi - lo) * scale
    ratio = (model.interval[1] - model.interval[0]) / width if width > 0 else None
    return Widening(measure=name, sum_ratio=count / trials * scale, naive_interval=(lo * scale, hi * scale), ratio=ratio)


def _units(stats: Stats, key: str) -> tuple[list[str], np.ndarray]:
    """Unit names and the (units x cells) membership matrix for ``campaign`` or ``audience``."""
    names = stats.campaigns if key == "campaign" else stats.audiences
    index = stats.group_campaign if key == "campaign" else stats.group_audience
    return names, (index[None, :] == np.arange(len(names))[:, None]).astype(np.float64)


def _unit_rows(stats: Stats, key: str, rates: dict[str, np.ndarray], revenue: np.ndarray,
               settings: AdCampaignsSettings) -> list[dict]:
    """Sums, rate Estimates, money, flags and widening for each campaign or audience."""
    prob = settings.interval_prob
    names, member = _units(stats, key)
    groups = stats.groups
    exposure = groups["impressions"].to_numpy(np.float64)
    sums = {column: member @ groups[column].to_numpy(np.float64) for column in ("ads", "impressions", "clicks", "spend", "leads", "conversions")}
    rows = []
    for u, name in enumerate(names):
        weights = member[u] * exposure
        impressions = sums["impressions"][u]
        per = {measure: draws @ weights / impressions for measure, draws in rates.items()}  # impression-weighted
        approval = per["conversion"] / per["lead"]
        ctr = estimate(per["click"], prob)
        lead_rate = estimate(per["lead"] * PER_1000, prob)
        conversion_rate = estimate(per["conversion"] * PER_1000, prob)
        approval_rate = estimate(approval, prob) if sums["leads"][u] > 0 else estimate(
            approval, prob, "no leads observed: the approval rate is the prior's")
        clicks, leads, conversions = (int(sums[column][u]) for column in ("clicks", "leads", "conversions"))
        row = {
            "name": name, "ads": int(sums["ads"][u]), "impressions": int(impressions), "clicks": clicks,
            "spend": float(sums["spend"][u]), "leads": leads, "conversions": conversions,
            "ctr": ctr, "lead_rate": lead_rate, "approval_rate": approval_rate, "conversion_rate": conversion_rate,
            **money(float(sums["spend"][u]), impressions, leads, conversions, per["lead"], per["conversion"], revenue, settings),
            "widening": [
                widening("ctr", clicks, impressions, ctr, 1.0, prob),
                widening("lead_rate", leads, impressions, lead_rate, PER_1000, prob),
                widening("approval_rate", conversions, leads, approval_rate, 1.0, prob),
                widening("conversion_rate", conversions, impressions, conversion_rate, PER_1000, prob),
            ],
            "_conversions_per_spend": per["conversion"] * impressions / sums["spend"][u] if sums["spend"][u] > 0 else None,
        }
        rows.append(row)
    return rows


def prob_best(values: list[np.ndarray | None]) -> list[Probability]:
    """P(each is the largest), draw by draw; ``None`` entries (undefined) are never best."""
    draws = len(next(v for v in values if v is not None))
    stacked = np.stack([v if v is not None else np.full(draws, -np.inf) for v in values])
    winner = stacked.argmax(axis=0)
    return [Probability(value=float(np.mean(winner == i)), draws=draws) for i in range(len(values))]


def budget(stats: Stats, rates: dict[str, np.ndarray], revenue: np.ndarray, settings: AdCampaignsSettings) -> Budget:
    """Where the next ``budget`` buys the most conversions, among cells with at least ``min_spend``:
    expected conversions = budget x conversions per unit spend of the cell (its observed cost per impression)."""
    groups = stats.groups
    spend = groups["spend"].to_numpy(np.float64)
    candidate = np.flatnonzero(spend >= max(settings.min_spend, np.finfo(float).tiny))
    excluded = len(groups) - len(candidate)
    if not len(candidate):
        return Budget(amount=settings.budget, min_spend=settings.min_spend, candidates=0, excluded=excluded, options=[],
                      note=f"no campaign x audience cell has spent {settings.min_spend:,.0f} or more, so none has a known cost to scale")
    per_spend = rates["conversion"][:, candidate] * groups["impressions"].to_numpy(np.float64)[candidate] / spend[candidate]
    bought = settings.budget * per_spend
    best = prob_best(list(bought.T))
    order = np.argsort(-bought.mean(axis=0))[: settings.budget_options]
    prob = settings.interval_prob
    options = [BudgetOption(
        campaign=str(groups["campaign"].iloc[candidate[j]]), audience=str(groups["audience"].iloc[candidate[j]]),
        spend=float(spend[candidate[j]]), conversions=estimate(bought[:, j], prob),
        roi=estimate(per_spend[:, j] * revenue - 1, prob), prob_best=best[j]) for j in order]
    return Budget(amount=settings.budget, min_spend=settings.min_spend, candidates=len(candidate), excluded=excluded, options=options)


def _outside(observed: np.ndarray, replicated: np.ndarray, prob: float) -> np.ndarray:
    """Per ad: is the observed count outside the central ``prob`` predictive interval (mid-p, for ties)?"""
    p = (replicated < observed).mean(axis=0) + 0.5 * (replicated == observed).mean(axis=0)
    tail = (1 - prob) / 2
    return (p < tail) | (p > 1 - tail)


def predictive_checks(stats: Stats, posterior: dict[str, np.ndarray], settings: AdCampaignsSettings,
                      rng: np.random.Generator) -> list[PredictiveCheck]:
    """Replicate every ad's clicks, leads and conversions from ``ppc_draws`` posterior draws."""
    total = posterior["rate"].shape[0]
    pick = rng.choice(total, size=min(settings.ppc_draws, total), replace=False)
    ads = stats.ads
    cell = stats.ad_group
    campaign = stats.group_campaign[cell]
    n = ads["impressions"].to_numpy(np.float64)
    checks = []
    for m, measure in enumerate(("clicks", "leads")):
        observed = ads[measure].to_numpy()
        mean = posterior["rate"][pick, m][:, cell] * n
        delta = posterior["dispersion"][pick, m][:, campaign]
        replicated = rng.negative_binomial(mean / delta, 1 / (1 + delta))
        plain = rng.poisson(mean)
        checks.append(_check(measure, observed, replicated, plain, settings.interval_prob))
    with_leads = ads["leads"].to_numpy() > 0
    leads = ads["leads"].to_numpy()[with_leads]
    observed = ads["conversions"].to_numpy()[with_leads]
    mu = posterior["approval"][pick][:, cell[with_leads]]
    kappa = posterior["concentration"][pick][:, campaign[with_leads]]
    replicated = rng.binomial(leads, rng.beta(mu * kappa, (1 - mu) * kappa))
    plain = rng.binomial(leads, mu)
    checks.append(_check("conversions", observed, replicated, plain, settings.interval_prob))
    return checks


def _check(measure: str, observed: np.ndarray, replicated: np.ndarray, plain: np.ndarray, prob: float) -> PredictiveCheck:
    zeros = (replicated == 0).sum(axis=1)
    observed_zeros = int((observed == 0).sum())
    return PredictiveCheck(
        measure=measure, ads=len(observed),
        outside=float(_outside(observed, replicated, prob).mean()),
        outside_without_dispersion=float(_outside(observed, plain, prob).mean()),
        zeros_observed=observed_zeros, zeros_predicted=estimate(zeros, prob),
        prob_zeros_at_least_observed=Probability(value=float(np.mean(zeros >= observed_zeros)), draws=len(zeros)))


def posterior_draws(tree: xr.DataTree) -> dict[str, np.ndarray]:
    """The posterior variables this module uses, with (chain, draw) stacked into one leading axis."""
    post = tree.posterior.to_dataset()

    def flat(name: str, *dims: str) -> np.ndarray:
        return post[name].stack(sample=("chain", "draw")).transpose("sample", *dims).to_numpy()

    return {"rate": flat("rate", "measure", "cell"), "dispersion": flat("dispersion", "measure", "campaign"),
            "approval": flat("approval", "cell"), "concentration": flat("concentration", "campaign")}


def summarise(stats: Stats, tree: xr.DataTree, settings: AdCampaignsSettings, diagnostics: Diagnostics,
              kept: dict[str, int], seed: int) -> AdCampaignsResult:
    """Every figure of the ``ad_campaigns`` summary from the fitted posterior."""
    rng = np.random.default_rng(seed)
    draws = posterior_draws(tree)
    size = draws["rate"].shape[0]
    revenue = revenue_draws(settings.revenue_per_conversion, size, rng)
    rates = {"click": draws["rate"][:, 0], "lead": draws["rate"][:, 1]}
    rates["conversion"] = rates["lead"] * draws["approval"]
    campaign_rows = _unit_rows(stats, "campaign", rates, revenue, settings)
    best = prob_best([row["_conversions_per_spend"] for row in campaign_rows])
    campaigns = [Campaign(campaign=row["name"], prob_best=p, **_public(row)) for row, p in zip(campaign_rows, best)]
    levels = stats.groups.drop_duplicates("audience").set_index("audience")
    audiences = [Audience(audience={column: str(levels.loc[row["name"], column]) for column in stats.by}, **_public(row))
                 for row in _unit_rows(stats, "audience", rates, revenue, settings)]
    prob = settings.interval_prob
    spread = [Spread(campaign=name, clicks_variance_factor=estimate(1 + draws["dispersion"][:, 0, k], prob),
                     leads_variance_factor=estimate(1 + draws["dispersion"][:, 1, k], prob),
                     approval_concentration=estimate(draws["concentration"][:, k], prob))
              for k, name in enumerate(stats.campaigns)]
    return AdCampaignsResult(
        by=stats.by, interval_prob=prob, revenue_per_conversion=settings.revenue_per_conversion,
        thresholds={"profitable_prob": settings.profitable_prob, "wasteful_prob": settings.wasteful_prob},
        ads=len(stats.ads), kept=kept, campaigns=campaigns, audiences=audiences,
        budget=budget(stats, rates, revenue, settings), spread=spread,
        checks=predictive_checks(stats, draws, settings, rng), assumptions=assumptions(settings),
        draws=size, diagnostics=diagnostics)


def _public(row: dict) -> dict:
    return {key: value for key, value in row.items() if not key.startswith("_")}


def revenue_text(revenue: float | Revenue) -> str:
    """``revenue of 50.00 per conversion`` or ``... 50.00 ± 10.00 per conversion (Gamma-distributed)``: quoted next to
    every money figure, after "assuming a" or "assumes a" (which say it is assumed)."""
    if isinstance(revenue, Revenue):
        return f"revenue of {revenue.mean:,.2f} ± {revenue.sd:,.2f} per conversion (Gamma-distributed)"
    return f"revenue of {revenue:,.2f} per conversion"


def assumptions(settings: AdCampaignsSettings) -> list[str]:
    return [
        f"The data has no revenue: every ROI assumes a {revenue_text(settings.revenue_per_conversion)}; "
        "set ad_campaigns.revenue_per_conversion to your own (a number, or {mean, sd}).",
        "A conversion is an approved conversion (a purchase); a lead is any conversion (an enquiry).",
        "Leads and conversions are counted per impression, not per click: 0-click ads still record "
        "view-through conversions.",
        "Money figures use the observed spend and assume the next impressions cost and convert as the past ones "
        "did (no saturation as budget grows).",
        "Ads are not independent draws of a binomial: each ad's rate varies around its campaign x audience cell's "
        "rate, so intervals are wider than those of the summed counts.",
    ]

"""Mock ad campaign tables in the bundled file's schema, with planted rates and their truth.

Model (one row per ad; every random quantity an inverse CDF of a counter-based uniform, see
:func:`shopper_bayes.generate.base.uniforms`, so the output depends on the seed and row only):
campaign ~ Categorical(campaign_shares), age and gender ~ Categorical, independent; impressions ~
round(lognormal(log impressions_median, impressions_log_sd)) + 1. For clicks and leads, the cell
rate is base[campaign] x age_factor[age] x gender_factor[gender]; the ad's own rate is
Gamma(mean = cell rate, variance = cell rate x dispersion[campaign] / impressions) and its count
Poisson(impressions x own rate): negative binomial with variance (1 + dispersion) x mean (clicks
capped at impressions). Conversions ~ Beta-binomial(leads, approval[campaign],
concentration[campaign]). Spend = clicks x cost per click, lognormal(log cpc[campaign], cpc_log_sd),
rounded to cents: ads with no click cost nothing but keep their (view-through) leads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy import stats as sps
from scipy.special import ndtri

from shopper_bayes.generate.base import _labels, _pick, generate, uniforms

COLUMNS = ["ad_id", "xyz_campaign_id", "fb_campaign_id", "age", "gender", "interest", "Impressions", "Clicks",
           "Spent", "Total_Conversion", "Approved_Conversion"]


@dataclass(frozen=True)
class CampaignsGenerator:
    name = "campaigns"
    version = 1
    draws = ("campaign", "age", "gender", "interest", "impressions", "click rate", "clicks", "lead rate", "leads",
             "approval", "conversions", "cost per click")
    model = __doc__

    campaign_shares: dict[str, float] = field(default_factory=lambda: {"101": 0.2, "202": 0.35, "303": 0.45})
    ctr: dict[str, float] = field(default_factory=lambda: {"101": 3e-4, "202": 2.5e-4, "303": 1.8e-4})
    lead_rate: dict[str, float] = field(default_factory=lambda: {"101": 1.2e-4, "202": 6e-5, "303": 1.5e-5})
    approval: dict[str, float] = field(default_factory=lambda: {"101": 0.4, "202": 0.35, "303": 0.3})
    concentration: dict[str, float] = field(default_factory=lambda: {"101": 40.0, "202": 30.0, "303": 20.0})
    dispersion_clicks: dict[str, float] = field(default_factory=lambda: {"101": 0.2, "202": 0.5, "303": 2.0})
    dispersion_leads: dict[str, float] = field(default_factory=lambda: {"101": 0.1, "202": 0.2, "303": 0.5})
    cpc: dict[str, float] = field(default_factory=lambda: {"101": 1.3, "202": 1.4, "303": 1.5})
    cpc_log_sd: float = 0.2
    age_shares: dict[str, float] = field(default_factory=lambda: {"30-34": 0.35, "35-39": 0.22, "40-44": 0.19, "45-49": 0.24})
    age_factor: dict[str, float] = field(default_factory=lambda: {"30-34": 0.8, "35-39": 1.0, "40-44": 1.1, "45-49": 1.2})
    gender_shares: dict[str, float] = field(default_factory=lambda: {"M": 0.5, "F": 0.5})
    gender_factor: dict[str, float] = field(default_factory=lambda: {"M": 0.9, "F": 1.1})
    impressions_median: float = 20000.0
    impressions_log_sd: float = 1.5
    revenue_per_conversion: float = 40.0  # not in the table: the value an analysis assumes to recover the ROI

    @property
    def schema(self) -> pa.Schema:
        types = [pa.int64(), pa.string(), pa.int64(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.int64(),
                 pa.float64(), pa.int64(), pa.int64()]
        return pa.schema([pa.field(name, kind) for name, kind in zip(COLUMNS, types)])

    def _mix(self, factors: dict[str, float], shares: dict[str, float]) -> float:
        return sum(shares[level] * factors[level] for level in shares)

    def campaign_rates(self) -> dict[str, dict[str, float]]:
        """Planted impression-weighted rates per campaign (audiences are drawn independently of impressions),
        spend per impression, and ROI at ``revenue_per_conversion``."""
        mix = self._mix(self.age_factor, self.age_shares) * self._mix(self.gender_factor, self.gender_shares)
        out = {}
        for k in self.campaign_shares:
            ctr, leads = self.ctr[k] * mix, self.lead_rate[k] * mix
            spend = ctr * self.cpc[k] * np.exp(self.cpc_log_sd**2 / 2)
            conversions = leads * self.approval[k]
            out[k] = {"ctr": ctr, "lead_rate": leads, "approval_rate": self.approval[k], "conversion_rate": conversions,
                      "spend_per_impression": spend, "roi": conversions * self.revenue_per_conversion / spend - 1}
        return out

    def parameters(self) -> dict:
        return asdict(self) | {"campaign": self.campaign_rates()}

    def tally(self) -> DrawnMix:
        """What the truth adds once the ads are drawn (:class:`DrawnMix`)."""
        return DrawnMix(self)

    def table(self, seed: int, start: int, stop: int) -> pa.Table:
        u = {name: uniforms(seed, number, start, stop) for number, name in enumerate(self.draws)}
        campaigns, ages, genders = list(self.campaign_shares), list(self.age_shares), list(self.gender_shares)
        k = _pick(np.cumsum(list(self.campaign_shares.values())), u["campaign"])
        a = _pick(np.cumsum(list(self.age_shares.values())), u["age"])
        g = _pick(np.cumsum(list(self.gender_shares.values())), u["gender"])
        impressions = np.rint(np.exp(np.log(self.impressions_median) + self.impressions_log_sd * ndtri(u["impressions"]))).astype(np.int64) + 1
        audience = np.array([self.age_factor[x] for x in ages])[a] * np.array([self.gender_factor[x] for x in genders])[g]

        def counts(base: dict, dispersion: dict, rate_draw: str, count_draw: str) -> np.ndarray:
            mean = np.array([base[c] for c in campaigns])[k] * audience
            delta = np.array([dispersion[c] for c in campaigns])[k]
            own = sps.gamma.ppf(u[rate_draw], impressions * mean / delta) * delta / impressions
            return sps.poisson.ppf(u[count_draw], impressions * own).astype(np.int64)

        clicks = np.minimum(counts(self.ctr, self.dispersion_clicks, "click rate", "clicks"), impressions)
        leads = counts(self.lead_rate, self.dispersion_leads, "lead rate", "leads")
        mu, kappa = (np.array([p[c] for c in campaigns])[k] for p in (self.approval, self.concentration))
        own = sps.beta.ppf(u["approval"], mu * kappa, (1 - mu) * kappa)
        conversions = sps.binom.ppf(u["conversions"], leads, own).astype(np.int64)
        cpc = np.exp(np.log(np.array([self.cpc[c] for c in campaigns])[k]) + self.cpc_log_sd * ndtri(u["cost per click"]))
        columns = {
            "ad_id": np.arange(start + 1, stop + 1, dtype=np.int64), "xyz_campaign_id": _labels(campaigns, k),
            "fb_campaign_id": 100000 + k.astype(np.int64), "age": _labels(ages, a), "gender": _labels(genders, g),
            "interest": (np.floor(u["interest"] * 40) + 2).astype(np.int64), "Impressions": impressions,
            "Clicks": clicks, "Spent": np.round(clicks * cpc, 2), "Total_Conversion": leads,
            "Approved_Conversion": conversions}
        return pa.table(columns, schema=self.schema)


class DrawnMix:
    """Each campaign's rates at the audience mix of the impressions actually drawn. The planted rates
    (:meth:`CampaignsGenerator.campaign_rates`) hold at the population's mix; an analysis estimates the
    impression-weighted rate of the ads in the file, whose mix differs by chance (a few ads carry most impressions):
    base[campaign] x the impression-weighted mean of age_factor x gender_factor. ROI does not depend on the mix."""

    def __init__(self, generator: CampaignsGenerator):
        self.generator = generator
        self.impressions: dict[str, float] = {}
        self.weighted: dict[str, float] = {}  # sum of impressions x audience factor

    def add(self, table: pa.Table) -> None:
        g = self.generator
        impressions = table.column("Impressions").to_numpy().astype(float)
        audience = (np.array([g.age_factor[x] for x in table.column("age").to_pylist()])
                    * np.array([g.gender_factor[x] for x in table.column("gender").to_pylist()]))
        campaigns = np.array(table.column("xyz_campaign_id").to_pylist())
        for campaign in g.campaign_shares:
            rows = campaigns == campaign
            self.impressions[campaign] = self.impressions.get(campaign, 0.0) + impressions[rows].sum()
            self.weighted[campaign] = self.weighted.get(campaign, 0.0) + (impressions[rows] * audience[rows]).sum()

    def result(self) -> dict:
        g, out = self.generator, {}
        for campaign, rates in g.campaign_rates().items():
            if not self.impressions.get(campaign):
                continue
            mix = self.weighted[campaign] / self.impressions[campaign]
            ctr, leads = g.ctr[campaign] * mix, g.lead_rate[campaign] * mix
            out[campaign] = {"audience_factor": mix, "ctr": ctr, "lead_rate": leads,
                             "conversion_rate": leads * g.approval[campaign], "roi": rates["roi"]}
        return {"campaign_at_drawn_mix": out}


def write(units: int, seed: int, out: Path) -> tuple[int, Path]:
    """Write ``units`` ads to ``out`` (.csv or .parquet) and ``<stem>.truth.json``; returns (rows, truth path)."""
    from shopper_bayes.generate import base

    base.GENERATORS.setdefault(CampaignsGenerator.name, CampaignsGenerator)
    written = generate(CampaignsGenerator.name, units, seed, out)
    return written.rows, written.truth_path

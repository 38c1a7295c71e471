"""Calibration studies: do the intervals contain the truth as often as they claim?

Purchase-rate models, by simulation-based calibration (SBC; Talts et al. 2018): each replication
draws the cell rates from the model's own prior and purchases from those rates, then fits the
model. Averaged over the prior, a posterior's central q interval then contains the drawn rate with
probability q exactly, and the rank of the drawn rate among posterior draws is uniform; a departure
is a fault of the fit (sampler, model code), not of the prior.

Bootstrap correlation intervals, by coverage over replicated datasets: sessions from
:class:`SessionsGenerator`, whose duration correlations are known in closed form. A bootstrap
interval has no prior, so the truth is fixed and the datasets vary.

Coverage comes with a binomial margin 2 sqrt(q (1 - q) / N) around the nominal q, N counting
independent events only: every cell of the independent model (its cells share nothing), but one
cell or pair per replication, in turn, for the hierarchical model (its cells share the population
mean and the sds) and for the bootstrap (its three pairs share the data).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import nutpie
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy import stats

from shopper_bayes.inference import diagnostics
from shopper_bayes.analyses.purchase_rates.config import RatesConfig
from shopper_bayes.config import DiagnosticsConfig, SamplerConfig
from shopper_bayes.analyses.correlations.compute import bootstrap_correlations
from shopper_bayes.generate.base import SessionsGenerator
from shopper_bayes.analyses.purchase_rates.model import build_model, parameterisation

LEVELS = (0.5, 0.9)
# 2 segments x 3 months with 5 to 2,000 sessions per cell, shaped like the bundled data.
SEGMENTS = ["Returning_Customer", "New_Customer"]
MONTHS = ["Feb", "Nov", "Dec"]
SESSIONS = [[40, 2000, 600], [5, 300, 120]]
RATES = RatesConfig(segments=["segment", "month"])
SAMPLER = SamplerConfig(draws=500, tune=500, chains=2)
# The project's gate with the ESS floor scaled to the draws: its default of 400 is for 4 x 1000.
GATE = DiagnosticsConfig(min_ess=100)
RANK_DRAWS = 99  # the SBC rank counts the drawn rate's place among 99 thinned posterior draws: 0..99


@dataclass
class RateStudy:
    """Per replication and cell: the posterior probability below the drawn rate, and its SBC rank."""

    label: str
    cdf: np.ndarray  # (replications, cells)
    rank: np.ndarray  # (replications, cells), 0..RANK_DRAWS
    cells_independent: bool
    seconds: float
    fits: pd.DataFrame | None = None  # MCMC only, per replication: max_rhat, min_ess, divergences, ok (the gate)

    def hits(self, level: float) -> np.ndarray:
        """Whether the central ``level`` interval contains the drawn rate: its cdf is within level / 2 of 0.5."""
        return np.abs(self.cdf - 0.5) <= level / 2


@dataclass
class BootstrapStudy:
    """Per replication and duration pair: whether each level's interval contains the planted correlation."""

    label: str
    levels: dict[float, np.ndarray]  # level -> (replications, pairs)
    estimates: np.ndarray  # (replications, pairs): the sample correlations
    truth: np.ndarray  # (pairs,): the planted correlations
    seconds: float
    cells_independent = False

    def hits(self, level: float) -> np.ndarray:
        return self.levels[level]


def design_counts(purchases=None) -> xr.Dataset:
    """The study's cells and sessions, with ``purchases`` (zeros when not given)."""
    sessions = np.array(SESSIONS)
    purchases = np.zeros_like(sessions) if purchases is None else np.asarray(purchases)
    dims = ("segment", "month")
    return xr.Dataset({"sessions": (dims, sessions), "purchases": (dims, purchases)},
                      coords={"segment": SEGMENTS, "month": MONTHS})


def draw_from_prior(name: str, rates: RatesConfig, replications: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rates and purchases from model ``name``'s prior: two arrays of shape (replications, segments, months)."""
    with build_model(design_counts(), rates, name):
        prior = pm.sample_prior_predictive(draws=replications, random_seed=seed)
    return prior.prior["rate"].values[0], prior.prior_predictive["purchases"].values[0]


def exact_study(replications: int, seed: int, rates: RatesConfig = RATES) -> RateStudy:
    """Independent model, exact posterior: Beta(alpha + purchases, beta + sessions - purchases) per cell."""
    start = time.perf_counter()
    truth, purchases = draw_from_prior("independent", rates, replications, seed)
    sessions = np.array(SESSIONS)
    posterior = stats.beta(rates.prior.alpha + purchases, rates.prior.beta + sessions - purchases)
    rng = np.random.default_rng(seed)
    draws = posterior.rvs(size=(RANK_DRAWS, *truth.shape), random_state=rng)
    flat = (replications, truth[0].size)
    return RateStudy("independent, exact posterior", posterior.cdf(truth).reshape(flat),
                     (draws < truth).sum(axis=0).reshape(flat), True, time.perf_counter() - start)


def mcmc_study(name: str, replications: int, seed: int, rates: RatesConfig = RATES,
               sampler: SamplerConfig = SAMPLER) -> RateStudy:
    """Model ``name`` fitted by NUTS (nutpie) to every replication drawn from its prior.

    The model comes from ``build_model``, compiled once per parameterisation of the hierarchical
    model's effects (chosen from each replication's counts by ``parameterisation``, as a fit of the
    analysis chooses it; at most 2 ** columns of them) and re-run on each replication's counts with
    the sampler settings ``fit.sample`` passes to ``pm.sample``. ``fits`` records, per replication,
    the gate's figures and which columns were centred.
    """
    start = time.perf_counter()
    truth, purchases = draw_from_prior(name, rates, replications, seed)
    compiled = {}
    cdf, rank = np.empty((replications, truth[0].size)), np.empty((replications, truth[0].size), dtype=int)
    fits = []
    for replication in range(replications):
        centred = parameterisation(design_counts(purchases[replication])) if name == "hierarchical" else {}
        key = tuple(sorted(centred.items()))
        if key not in compiled:
            compiled[key] = nutpie.compile_pymc_model(build_model(design_counts(), rates, name, centred))
        tree = nutpie.sample(compiled[key].with_data(observed_purchases=purchases[replication]), draws=sampler.draws,
                             tune=sampler.tune, chains=sampler.chains, seed=seed + replication,
                             target_accept=sampler.target_accept, progress_bar=False)
        draws = tree.posterior["rate"].values.reshape(-1, truth[0].size)
        planted = truth[replication].ravel()
        thinned = draws[np.linspace(0, len(draws) - 1, RANK_DRAWS).astype(int)]
        cdf[replication] = (draws < planted).mean(axis=0)
        rank[replication] = (thinned < planted).sum(axis=0)
        gate = diagnostics.check(tree, GATE)
        fits.append({"max_rhat": gate.max_rhat, "min_ess": min(gate.min_ess_bulk, gate.min_ess_tail),
                     "divergences": gate.divergences, "min_bfmi": gate.min_bfmi, "ok": gate.ok,
                     "centred": ",".join(dim for dim, value in centred.items() if value) or "none"})
    return RateStudy(f"{name}, MCMC", cdf, rank, name == "independent", time.perf_counter() - start,
                     pd.DataFrame(fits))


def bootstrap_study(n: int, replications: int, method: str, statistic: str = "pearson", *, seed: int = 0,
                    resamples: int = 2000, levels=LEVELS) -> BootstrapStudy:
    """Bootstrap intervals of the three duration pairs on ``replications`` datasets of ``n`` generated sessions.

    Replication r is rows 0 to n - 1 of the generator with seed ``seed + r``, bootstrapped with that seed.
    """
    start = time.perf_counter()
    generator = SessionsGenerator()
    truth = generator.parameters()[statistic]
    columns = list(generator.durations)
    hits = {level: np.empty((replications, 3), dtype=bool) for level in levels}
    estimates = np.empty((replications, 3))
    for replication in range(replications):
        frame = generator.table(seed + replication, 0, n).select(columns).to_pandas()
        for level in levels:
            table = bootstrap_correlations(frame, columns, resamples=resamples, method=method, seed=seed + replication,
                                           interval_prob=level, statistic=statistic)
            planted = np.array([truth[x][y] for x, y in zip(table.x, table.y)])
            hits[level][replication] = (table.low.values <= planted) & (planted <= table.high.values)
        estimates[replication] = table.r.values
    return BootstrapStudy(f"{statistic} r, {method}, n={n:,}", hits, estimates, planted, time.perf_counter() - start)


def independent_events(values: np.ndarray, cells_independent: bool) -> np.ndarray:
    """The entries of a (replications, cells or pairs) array that are independent of each other.

    Every entry when the cells are independent; otherwise replication r contributes its cell
    r mod cells only.
    """
    if cells_independent:
        return values.ravel()
    replications, width = values.shape
    return values[np.arange(replications), np.arange(replications) % width]


def coverage(hits: np.ndarray, level: float, cells_independent: bool) -> dict:
    """Coverage of one interval level over independent events, with the binomial margin around ``level``.

    ``coverage_all`` is over every cell or pair, for information (its events need not be independent).
    """
    scored = independent_events(hits, cells_independent)
    margin = 2 * np.sqrt(level * (1 - level) / scored.size)
    share = float(scored.mean())
    return {"nominal": level, "coverage": share, "events": int(scored.size), "margin": float(margin),
            "within": bool(abs(share - level) <= margin), "coverage_all": float(hits.mean())}


def coverage_table(studies: list, levels=LEVELS) -> pd.DataFrame:
    """One row per study and level: nominal, coverage, events, margin, within, coverage_all."""
    return pd.DataFrame([{"study": study.label, **coverage(study.hits(level), level, study.cells_independent)}
                         for study in studies for level in levels])

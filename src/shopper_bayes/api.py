"""The steps of an analysis as plain functions, for notebooks and scripts (``import shopper_bayes as sb``).

Each returns data (pandas, xarray, an ArviZ DataTree, a pydantic result) or a matplotlib Figure; none
writes a file except :func:`run`. Plotting never changes matplotlib's backend or global rcParams.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xarray as xr

from shopper_bayes.config import Core, SamplerConfig, load_config
from shopper_bayes.datasets.base import Loaded


def sessions(config: Core, labels=("segment",), numeric=()) -> Loaded:
    """The sessions of ``config`` read and cleaned: ``.frame`` (one row per kept session) and ``.cleaning``
    (rows read, used, and dropped or changed by reason)."""
    from shopper_bayes.datasets.sessions import load_sessions

    return load_sessions(config.sessions, tuple(labels), tuple(numeric))


def count_cells(frame: pd.DataFrame, segments=("segment",)) -> xr.Dataset:
    """Sessions and purchases per segment cell, segment levels as coordinates."""
    from shopper_bayes.engine.cells import segment_counts

    return segment_counts(frame, list(segments))


def rate_model(counts: xr.Dataset, config: Core, name: str = "independent"):
    """The purchase-rate ``pymc.Model`` (``independent`` or ``hierarchical``) with priors from ``config.rates``."""
    from shopper_bayes.analyses.purchase_rates.model import build_model

    return build_model(counts, config.rates, name)


def fit(model, sampler: SamplerConfig | None = None, seed: int = 0) -> xr.DataTree:
    """Sample ``model`` with NUTS (nutpie by default); posterior, predictive groups and log-likelihood."""
    from shopper_bayes.inference.fit import sample

    return sample(model, sampler or SamplerConfig(), seed)


def fit_exact_rates(counts: xr.Dataset, config: Core, chains: int = 4, draws: int = 1000, seed: int = 0) -> xr.DataTree:
    """The independent model's exact conjugate posterior, in the same DataTree layout as a NUTS fit."""
    from shopper_bayes.analyses.purchase_rates.model import build_model, exact_posterior
    from shopper_bayes.inference.fit import exact

    return exact(build_model(counts, config.rates, "independent"), exact_posterior(counts, config.rates, chains, draws, seed), seed)


def summarise_rates(tree: xr.DataTree, counts: xr.Dataset, interval_prob: float = 0.95) -> pd.DataFrame:
    """One row per cell: sessions, purchases, observed rate, posterior mean and central interval."""
    from shopper_bayes.analyses.purchase_rates.model import summarise

    rows = summarise(tree.posterior["rate"], counts, interval_prob)
    return pd.DataFrame([{**{k: v for k, v in row.items() if k not in ("segment", "interval")},
                          "low": row["interval"][0], "high": row["interval"][1]} for row in rows]).set_index("label")


def diagnostics(tree: xr.DataTree, config: Core | None = None):
    """The diagnostics gate (R-hat, ESS, MCSE, divergences, BFMI) as a pydantic ``Diagnostics``."""
    from shopper_bayes.config import DiagnosticsConfig
    from shopper_bayes.inference.diagnostics import check

    return check(tree, config.diagnostics if config else DiagnosticsConfig())


def campaign(tree: xr.DataTree, counts: xr.Dataset, config: Core, **overrides):
    """The campaign outlook for ``config.campaign`` (options overridable by keyword) from a fitted rate posterior."""
    import numpy as np

    from shopper_bayes.analyses.campaign.compute import Boost, effective_mcse, plan
    from shopper_bayes.analyses.campaign.config import CampaignConfig
    from shopper_bayes.analyses.campaign.results import CampaignResult
    from shopper_bayes.engine.cells import find_cell
    from shopper_bayes.inference.diagnostics import check

    settings = CampaignConfig.model_validate(config.campaign.model_dump() | overrides)
    cell = find_cell(counts, settings.segment, "campaign.segment")
    draws = tree.posterior["rate"].sel(cell).values.ravel()
    noise = np.random.default_rng([config.seed, 4]).standard_normal(draws.size) if settings.boost_sd else None
    purchases, n = int(counts["purchases"].sel(cell)), int(counts["sessions"].sel(cell))
    answer = plan(draws, purchases / n, Boost(settings.boost, settings.boost_type, settings.boost_sd, noise),
                  segment={k: str(v) for k, v in cell.items()}, sessions=settings.sessions, target=settings.target,
                  interval_prob=config.rates.interval_prob, prob_wanted=settings.prob_wanted,
                  grid=settings.scenario_grid())
    gate = check(tree, config.diagnostics)
    answer["prob_at_least_target_mcse"] = effective_mcse(answer["prob_at_least_target_mcse"], draws.size,
                                                         tree.attrs.get("inference"), gate.min_ess_bulk)
    return CampaignResult(**answer, model=str(tree.attrs.get("model", "")), diagnostics=gate)


def correlations(frame: pd.DataFrame, columns, **options) -> pd.DataFrame:
    """Bootstrap correlation intervals for every pair of ``columns`` (options as in the ``correlations`` config)."""
    from shopper_bayes.analyses.correlations.compute import bootstrap_correlations

    return bootstrap_correlations(frame, list(columns), **options)


def analyse(config: Core):
    """Every enabled analysis, nothing written: a ``Run`` with ``.summary`` and each analysis's ``.outputs``."""
    from shopper_bayes.runner import analyse as run_all

    return run_all(config)


def figures(result) -> dict:
    """Every figure of a finished :func:`analyse` run, by name, as matplotlib Figures (nothing saved)."""
    return {spec.name: spec.draw() for output in result.outputs.values() for spec in output.figures}


def run(config: Core, output: str | Path = "."):
    """What ``shopper-bayes run`` does: analyse and write reports, models and figures into ``output``."""
    from shopper_bayes.runner import run as run_and_write

    return run_and_write(config, output)


__all__ = ["load_config", "sessions", "count_cells", "rate_model", "fit", "fit_exact_rates", "summarise_rates",
           "diagnostics", "campaign", "correlations", "analyse", "figures", "run"]

"""Partial pooling on many small cells: the data sets and measures of ``tests/test_pooling.py`` and
``benchmarks/bench_pooling.py`` (issue 21).

Four sets of counts, each fitted by the hierarchical model and put through the diagnostics gate:

- ``bundled``: the bundled sessions of Nov and Dec by customer type (2 cells), the default run;
- ``months``: the bundled sessions of the whole year by customer type x month (20 cells);
- ``null_region``: the bundled sessions of the whole year with a ``Region`` column of 500 levels
  drawn uniformly at random (numpy ``default_rng(seed)``), so the true region effect is zero, by
  customer type x Region (1,000 cells, about 24 sessions per region);
- ``planted_region``: generated sessions with a strong region effect: customer type from
  :class:`SessionsGenerator` (its shares), Region uniform over 500 levels and Purchase ~
  Bernoulli(invlogit(logit(base_rate[customer type]) + b[Region])), with b ~ Normal(0,
  ``PLANTED_SD``) centred to sum to zero, by customer type x Region (1,000 cells, about 120
  sessions per region). The planted cell rates are returned with the counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import expit, logit

from shopper_bayes.analyses.purchase_rates.config import RatesConfig
from shopper_bayes.analyses.purchase_rates.model import build_model, parameterisation
from shopper_bayes.config import DiagnosticsConfig, SamplerConfig
from shopper_bayes.datasets.sessions import SessionsConfig, load_sessions
from shopper_bayes.engine.cells import segment_counts
from shopper_bayes.generate.base import SessionsGenerator
from shopper_bayes.inference import diagnostics, fit

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "data" / "online_shopping_session_data.csv"
REGIONS = 500
SEED = 21  # region labels and planted data
PLANTED_SESSIONS = 60_000
PLANTED_SD = 1.0  # sd of the planted region effects, logit scale: a region's odds vary by a factor of e^±2
CASES = ("bundled", "months", "null_region", "planted_region")


@dataclass
class Case:
    name: str
    counts: xr.Dataset
    truth: xr.DataArray | None = None  # planted cell rates (planted_region only)


def region_labels(rows: int, seed: int = SEED) -> np.ndarray:
    """``R000``..``R499``, one per row, uniformly at random."""
    index = np.random.default_rng([seed, 0]).integers(REGIONS, size=rows)
    return np.char.add("R", np.char.zfill(index.astype(str), 3))


def bundled_frame(months: list[str] | None) -> pd.DataFrame:
    """The bundled sessions as the loader cleans them, ``months=None`` for the whole year."""
    settings = SessionsConfig(path=BUNDLED, filter={"month": months} if months else {})
    return load_sessions(settings, ("segment", "month")).frame


def planted(rows: int = PLANTED_SESSIONS, sd: float = PLANTED_SD, seed: int = SEED) -> Case:
    generator = SessionsGenerator()
    segment = generator.table(seed, 0, rows).column(generator.segment_column).to_numpy(zero_copy_only=False)
    region = region_labels(rows, seed)
    rng = np.random.default_rng([seed, 1])
    effect = rng.normal(0, sd, REGIONS)
    effect -= effect.mean()
    levels = sorted(generator.base_rate)
    regions = [f"R{i:03d}" for i in range(REGIONS)]
    base = np.array([logit(generator.base_rate[s]) for s in levels])
    truth = xr.DataArray(expit(base[:, None] + effect[None, :]), dims=("segment", "Region"),
                         coords={"segment": levels, "Region": regions})
    rate = truth.values[np.searchsorted(levels, segment), np.searchsorted(regions, region)]
    purchase = (rng.random(rows) < rate).astype(int)
    frame = pd.DataFrame({"segment": segment, "Region": region, "purchase": purchase})
    counts = segment_counts(frame, ["segment", "Region"])
    return Case("planted_region", counts, truth.sel(segment=counts["segment"].values, Region=counts["Region"].values))


def case(name: str) -> Case:
    if name == "bundled":
        return Case(name, segment_counts(bundled_frame(["Nov", "Dec"]), ["segment"]))
    if name == "months":
        return Case(name, segment_counts(bundled_frame(None), ["segment", "month"]))
    if name == "null_region":
        frame = bundled_frame(None)
        frame["Region"] = region_labels(len(frame))
        return Case(name, segment_counts(frame, ["segment", "Region"]))
    if name == "planted_region":
        return planted()
    raise ValueError(f"unknown case {name!r}")


@dataclass
class Fitted:
    tree: xr.DataTree
    gate: diagnostics.Diagnostics
    seconds: float  # build_model + fit.sample (NUTS and the predictive draws), as the analysis runs it
    sampling_seconds: float  # NUTS alone, PyMC's clock around nutpie's sampling (posterior attrs)
    centred: dict[str, bool]


def fit_case(counts: xr.Dataset, centred: dict[str, bool] | None = None, sampler: SamplerConfig = SamplerConfig(),
             seed: int = 2026, limits: DiagnosticsConfig = DiagnosticsConfig()) -> Fitted:
    """The hierarchical model on ``counts`` the way the analysis fits it, timed, through the gate."""
    start = time.perf_counter()
    model = build_model(counts, RatesConfig(model="hierarchical"), "hierarchical", centred)
    tree = fit.sample(model, sampler, seed)
    seconds = time.perf_counter() - start
    sampling = float(tree.posterior.attrs.get("sampling_time", seconds))
    chosen = parameterisation(counts) | (centred or {})
    return Fitted(tree, diagnostics.check(tree, limits), seconds, sampling, chosen)


def min_ess_per_second(fitted: Fitted) -> float:
    """The smallest bulk or tail ESS over every variable, per second of the whole fit."""
    return min(fitted.gate.min_ess_bulk, fitted.gate.min_ess_tail) / fitted.seconds


def shrinkage(tree: xr.DataTree, counts: xr.Dataset, column: str = "Region") -> dict:
    """How far the model pulls the cells: posterior of ``sigma_<column>``, and per cell the distance of the
    posterior mean rate from the rate of its segment (the cell's other column), against that of the observed rate."""
    post = tree.posterior
    sigma = post[f"sigma_{column}"].values.ravel()
    rate = post["rate"].mean(("chain", "draw"))
    sessions, purchases = counts["sessions"], counts["purchases"]
    segment_rate = purchases.sum(column) / sessions.sum(column)
    seen = sessions > 0
    observed = (purchases / sessions.where(seen))
    pulled = np.abs(rate - segment_rate).where(seen)
    raw = np.abs(observed - segment_rate)
    return {"sigma_mean": float(sigma.mean()), "sigma_q95": float(np.quantile(sigma, 0.95)),
            "effect_sd_mean": float(post[f"effect_{column}"].std(column).mean()),
            "cell_distance_posterior": float(pulled.mean()), "cell_distance_observed": float(raw.mean()),
            "cell_distance_posterior_max": float(pulled.max())}


def coverage(tree: xr.DataTree, truth: xr.DataArray, prob: float = 0.95) -> dict:
    """Share of cells whose central ``prob`` interval holds the planted rate, with the binomial margin
    2 sqrt(q (1 - q) / cells) (the cells share the hyperparameters, so the margin is a guide, not exact)."""
    rate = tree.posterior["rate"]
    tail = (1 - prob) / 2
    low, high = (rate.quantile(q, ("chain", "draw")) for q in (tail, 1 - tail))
    hit = ((low <= truth) & (truth <= high)).values.ravel()
    margin = 2 * np.sqrt(prob * (1 - prob) / hit.size)
    return {"coverage": float(hit.mean()), "cells": int(hit.size), "margin": float(margin),
            "within": bool(abs(hit.mean() - prob) <= margin)}

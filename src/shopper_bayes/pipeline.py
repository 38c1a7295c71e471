"""The sessions flow, one direction: config -> load + clean -> counts -> model -> fit -> results -> outputs.

Everything is computed before anything is written; the outputs are then staged and renamed into
place, so a failure at any step leaves the previous outputs whole.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from shopper_bayes import campaign, diagnostics, model_comparison, purchase_rates
from shopper_bayes.config import Config
from shopper_bayes.correlation import POOLED, bootstrap_correlations
from shopper_bayes.counts import find_cell, segment_counts
from shopper_bayes.errors import UserError
from shopper_bayes.inference.fit import sample
from shopper_bayes.outputs import Staging
from shopper_bayes.datasets.sessions import load_sessions

PACKAGES = ["shopper-bayes", "pymc", "pytensor", "nutpie", "arviz", "arviz-stats", "xarray", "numpy",
            "scipy", "pandas", "duckdb", "pydantic", "matplotlib"]


@dataclass
class Result:
    summary: dict
    trees: dict[str, xr.DataTree]  # fitted purchase-rate models by name, the chosen one first
    counts: xr.Dataset  # sessions and purchases per segment cell


def campaign_cell(config: Config, counts: xr.Dataset) -> dict[str, str]:
    """The segment cell the campaign targets, checked against the data."""
    cell = find_cell(counts, config.campaign.segment, "campaign.segment")
    if int(counts["sessions"].sel(cell)) == 0:
        raise UserError("campaign.segment", f"{cell} has no sessions after filtering", "choose a segment with data or widen sessions.filter")
    return cell


def model_file(model: str) -> str:
    return f"models/purchase_rates_{model}.nc"


def data_checksum(path: Path) -> str:
    """SHA-256 of the data file, read once per file version (a run asks for it once per model and once
    for the summary)."""
    stat = os.stat(path)
    return _checksum(os.path.realpath(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _checksum(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(config: Config, model: str) -> str:
    """What a fitted posterior depends on: the data file, how it is read and filtered, the model and sampler."""
    inputs = {
        "data": data_checksum(config.sessions.path),
        "sessions": config.sessions.model_dump(mode="json", exclude={"path"}),
        "rates": config.rates.model_dump(mode="json", include={"segments", "prior", "hierarchical_prior"}),
        "model": model,
        "sampler": config.sampler.model_dump(mode="json"),
        "seed": config.seed,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def fit_rates(config: Config, counts: xr.Dataset, model: str) -> xr.DataTree:
    """Fit one purchase-rate model; its fingerprint and name go into the DataTree's attributes."""
    tree = sample(purchase_rates.build_model(counts, config.rates, model), config.sampler, config.seed)
    tree.attrs |= {"model": model, "fingerprint": fingerprint(config, model)}
    return tree


def fitted_models(config: Config) -> list[str]:
    """The chosen model first, then the other one when the models are to be compared."""
    chosen = config.rates.model
    others = [name for name in purchase_rates.MODELS if name != chosen] if config.rates.compare_models else []
    return [chosen, *others]


def rates_section(config: Config, counts: xr.Dataset) -> tuple[dict, dict[str, xr.DataTree]]:
    """Fit the purchase-rate model(s); cell rates, comparisons, the best cell, LOO and diagnostics."""
    trees = {name: fit_rates(config, counts, name) for name in fitted_models(config)}
    rate = trees[config.rates.model].posterior["rate"]
    interval_prob = config.rates.interval_prob
    section = {
        "rates_model": config.rates.model,
        "purchase_rates": purchase_rates.summarise(rate, counts, interval_prob),
        "rate_comparisons": purchase_rates.compare(rate, purchase_rates.comparison_pairs(counts, config.rates),
                                                   interval_prob),
        "best_segment": purchase_rates.best(rate, counts),
        "purchase_rates_by_model": {name: purchase_rates.summarise(tree.posterior["rate"], counts, interval_prob)
                                    for name, tree in trees.items()},
        "model_comparison": (model_comparison.compare({name: tree.posterior["rate"] for name, tree in trees.items()},
                                                      counts) if len(trees) > 1 else None),
        "diagnostics": diagnostics.combine({name: diagnostics.check(tree, config.diagnostics)
                                            for name, tree in trees.items()}),
    }
    return section, trees


def campaign_boost(config: Config, draws: int) -> campaign.Boost:
    """The configured boost; its uncertainty draws come from the seed, one per posterior draw."""
    plan = config.campaign
    noise = np.random.default_rng([config.seed, 4]).standard_normal(draws) if plan.boost_sd else None
    return campaign.Boost(plan.boost, plan.boost_type, plan.boost_sd, noise)


def campaign_section(config: Config, counts: xr.Dataset, tree: xr.DataTree) -> dict:
    """The campaign outlook from the fitted rate posterior of the campaign's segment."""
    cell = campaign_cell(config, counts)
    plan = config.campaign
    purchases, n = int(counts["purchases"].sel(cell)), int(counts["sessions"].sel(cell))
    draws = tree.posterior["rate"].sel(cell).values.ravel()
    return campaign.plan(
        draws, purchases / n, campaign_boost(config, draws.size),
        segment=cell[next(iter(cell))] if len(cell) == 1 else cell,
        sessions=plan.sessions, target=plan.target, interval_prob=config.rates.interval_prob,
        prob_wanted=plan.prob_wanted, grid=plan.scenario_grid(),
    )


def correlations_section(config: Config, frame) -> dict:
    """Bootstrap intervals for every pair of the configured columns, and the strongest pair."""
    corr = config.correlations
    table = bootstrap_correlations(frame, corr.columns, resamples=corr.resamples, method=corr.method,
                                   seed=config.seed, interval_prob=corr.interval_prob,
                                   statistic=corr.statistic, by=corr.by)
    pairs = [
        {"x": row.x, "y": row.y, "segment": row.segment, "r": _number(row.r),
         "interval": [_number(row.low), _number(row.high)], "method": row.method,
         "statistic": row.statistic, "interval_prob": corr.interval_prob, "n": int(row.n), "note": row.note}
        for row in table.itertuples()
    ]
    defined = [pair for pair in pairs if pair["r"] is not None and pair["segment"] == POOLED]
    top = max(defined, key=lambda pair: abs(pair["r"])) if defined else None
    return {"pairs": pairs, "top_pair": top}


def analyse(config: Config) -> Result:
    """Run every session analysis and return the summary (JSON-ready) and the fitted DataTree."""
    sessions = load_sessions(config, numeric=config.correlations.columns)
    counts = segment_counts(sessions.frame, config.rates.segments)
    campaign_cell(config, counts)  # a wrong campaign segment is reported before the slow fit
    rates, trees = rates_section(config, counts)
    summary = {
        **rates,
        "correlations": correlations_section(config, sessions.frame),
        "campaign": campaign_section(config, counts, trees[config.rates.model]),
        "cleaning": sessions.cleaning.to_dict() | {"source": _shown_path(config.sessions.path)},
        "data": {"path": _shown_path(config.sessions.path), "sha256": data_checksum(config.sessions.path)},
        "config": _shown_config(config),
        "versions": {"python": platform.python_version()} | {name: version(name) for name in PACKAGES},
    }
    return Result(summary, trees, counts)


def _number(value) -> float | None:
    value = float(value)
    return None if value != value else value


def _shown_path(path: Path) -> str:
    """Paths inside the current directory are shown relative to it, so summaries compare across clones."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _shown_config(config: Config) -> dict:
    shown = config.model_dump(mode="json")
    shown["sessions"]["path"] = _shown_path(config.sessions.path)
    return shown


def correlation_table(section: dict) -> pd.DataFrame:
    """The correlations section of a summary back as the table the correlation plots take."""
    rows = [{**pair, "low": pair["interval"][0], "high": pair["interval"][1]} for pair in section["pairs"]]
    table = pd.DataFrame(rows).astype({"r": float, "low": float, "high": float})
    table.attrs["interval_prob"] = section["pairs"][0]["interval_prob"]
    return table


def write_outputs(result: Result, config: Config, output: str | Path) -> list[Path]:
    """Stage summary, posterior and figures, then move them into ``output`` together."""
    from shopper_bayes import plots_campaign, plots_correlation, plots_diagnostics, plots_rates, report

    with Staging(output) as staging:
        staging.write_json("reports/summary.json", result.summary)
        for name, tree in result.trees.items():
            tree.to_netcdf(staging.path(model_file(name)), engine="h5netcdf")
        if config.figures:
            figure = staging.path
            plots_rates.plot_rates(result.summary["purchase_rates_by_model"], figure("figures/purchase_rates.png"))
            chosen = result.trees[config.rates.model]
            plots_diagnostics.plot_predictive(result.trees, result.counts, "posterior_predictive", figure("figures/ppc.png"))
            plots_diagnostics.plot_predictive(result.trees, result.counts, "prior_predictive",
                                              figure("figures/prior_predictive.png"))
            plots_diagnostics.plot_forest(result.trees, figure("figures/forest.png"))
            plots_diagnostics.plot_rank(chosen, figure("figures/rank.png"))
            plots_diagnostics.plot_trace(chosen, figure("figures/trace.png"))
            plots_campaign.plot_campaign(result.summary["campaign"], figure("figures/campaign.png"))
            plots_campaign.plot_scenarios(result.summary["campaign"], config.campaign.prob_wanted,
                                          figure("figures/campaign_scenarios.png"))
            table = correlation_table(result.summary["correlations"])
            plots_correlation.plot_correlation_forest(table, figure("figures/correlations.png"))
            plots_correlation.plot_correlation_matrix(table, figure("figures/correlation_matrix.png"))
        if config.report:
            report.write_report(result.summary, staging.folder if config.figures else None, staging)
        return staging.commit()


def run(config: Config, output: str | Path) -> tuple[Result, list[Path]]:
    """Analyse and write the outputs; the output folder is checked for writing before the work starts."""
    Staging(output).discard()  # fail on an unwritable folder now, not after the fit
    result = analyse(config)
    return result, write_outputs(result, config, os.fspath(output))


def saved_posterior(config: Config, output: str | Path) -> tuple[xr.DataTree | None, str]:
    """The chosen model's posterior from ``output``/models when it was fitted to this data and config.

    Returns the DataTree (or None) and why it was or was not reused.
    """
    path = Path(output) / model_file(config.rates.model)
    if not path.is_file():
        return None, f"no saved posterior at {path}"
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    except Exception as exc:  # an unreadable or foreign file is refitted, not trusted
        return None, f"{path} could not be read ({type(exc).__name__})"
    if tree.attrs.get("fingerprint") != fingerprint(config, config.rates.model):
        return None, f"{path} was fitted to other data or settings"
    return tree, f"reused {path}"


def plan_campaign(config: Config, output: str | Path) -> tuple[dict, str]:
    """The campaign section alone, from the saved posterior when it matches, else from a new fit."""
    sessions = load_sessions(config, numeric=[])
    counts = segment_counts(sessions.frame, config.rates.segments)
    campaign_cell(config, counts)
    tree, source = saved_posterior(config, output)
    if tree is None:
        tree, source = fit_rates(config, counts, config.rates.model), f"fitted the {config.rates.model} model ({source})"
    result = campaign_section(config, counts, tree)
    checks = diagnostics.check(tree, config.diagnostics)
    result["diagnostics"] = {key: checks[key] for key in ("ok", "problems", "max_rhat", "min_ess_bulk", "divergences")}
    result["posterior"] = source
    result["data"] = {"path": _shown_path(config.sessions.path), "sha256": data_checksum(config.sessions.path)}
    return result, source

"""MCMC diagnostics gate: R-hat, bulk and tail ESS, MCSE, divergences and BFMI against the config.

Every posterior variable is checked (per variable, the worst element of it); the fit passes when
all of them meet every threshold. Computed with arviz-stats.
"""

from __future__ import annotations

import arviz_stats as azs
import numpy as np
import xarray as xr

from shopper_bayes.config import DiagnosticsConfig


def _dataset(result: xr.DataTree | xr.Dataset) -> xr.Dataset:
    return result.to_dataset() if isinstance(result, xr.DataTree) else result


def per_variable(tree: xr.DataTree) -> list[dict]:
    """The worst R-hat, bulk/tail ESS and MCSE (of the mean, relative to the posterior sd) per variable."""
    rhat = _dataset(azs.rhat(tree))
    bulk = _dataset(azs.ess(tree, method="bulk"))
    tail = _dataset(azs.ess(tree, method="tail"))
    mcse = _dataset(azs.mcse(tree, method="mean"))
    sd = tree.posterior.to_dataset().std(("chain", "draw"))
    rows = []
    for name in tree.posterior.data_vars:
        ratio = (mcse[name] / sd[name]).where(sd[name] > 0)
        rows.append({
            "variable": name,
            "max_rhat": float(rhat[name].max()),
            "min_ess_bulk": float(bulk[name].min()),
            "min_ess_tail": float(tail[name].min()),
            "max_mcse_ratio": float(ratio.max()) if bool(ratio.notnull().any()) else 0.0,
        })
    return rows


def check(tree: xr.DataTree, limits: DiagnosticsConfig) -> dict:
    """Summarise convergence; ``ok`` is False with human-readable ``problems`` when a limit fails."""
    variables = per_variable(tree)
    max_rhat = max(row["max_rhat"] for row in variables)
    min_ess_bulk = min(row["min_ess_bulk"] for row in variables)
    min_ess_tail = min(row["min_ess_tail"] for row in variables)
    max_mcse_ratio = max(row["max_mcse_ratio"] for row in variables)
    divergences = int(tree.sample_stats["diverging"].sum())
    bfmi = np.atleast_1d(_dataset(azs.bfmi(tree))["energy"].values) if "energy" in tree.sample_stats else np.array([])
    min_bfmi = float(bfmi.min()) if bfmi.size else None
    problems = []
    for row in variables:
        name = row["variable"]
        if not row["max_rhat"] <= limits.max_rhat:
            problems.append(f"{name}: R-hat {row['max_rhat']:.3f} above {limits.max_rhat}")
        if not row["min_ess_bulk"] >= limits.min_ess:
            problems.append(f"{name}: bulk ESS {row['min_ess_bulk']:.0f} below {limits.min_ess:.0f}")
        if not row["min_ess_tail"] >= limits.min_ess:
            problems.append(f"{name}: tail ESS {row['min_ess_tail']:.0f} below {limits.min_ess:.0f}")
        if not row["max_mcse_ratio"] <= limits.max_mcse_ratio:
            problems.append(f"{name}: MCSE {row['max_mcse_ratio']:.2f} of a posterior sd, above {limits.max_mcse_ratio}")
    if divergences > limits.max_divergences:
        problems.append(f"{divergences} divergent transitions (allowed {limits.max_divergences})")
    if min_bfmi is not None and not min_bfmi >= limits.min_bfmi:
        problems.append(f"energy BFMI {min_bfmi:.2f} below {limits.min_bfmi} in a chain")
    return {
        "max_rhat": max_rhat,
        "min_ess_bulk": min_ess_bulk,
        "min_ess_tail": min_ess_tail,
        "max_mcse_ratio": max_mcse_ratio,
        "divergences": divergences,
        "min_bfmi": min_bfmi,
        "ok": not problems,
        "problems": problems,
        "variables": variables,
        "thresholds": limits.model_dump(),
    }


def combine(by_model: dict[str, dict]) -> dict:
    """One gate over several fitted models: the worst of each figure; problems named by model."""
    results = list(by_model.values())
    bfmis = [result["min_bfmi"] for result in results if result["min_bfmi"] is not None]
    return {
        "max_rhat": max(result["max_rhat"] for result in results),
        "min_ess_bulk": min(result["min_ess_bulk"] for result in results),
        "min_ess_tail": min(result["min_ess_tail"] for result in results),
        "max_mcse_ratio": max(result["max_mcse_ratio"] for result in results),
        "divergences": sum(result["divergences"] for result in results),
        "min_bfmi": min(bfmis) if bfmis else None,
        "ok": all(result["ok"] for result in results),
        "problems": [f"{name} model: {problem}" for name, result in by_model.items() for problem in result["problems"]],
        "thresholds": results[0]["thresholds"],
        "by_model": by_model,
    }

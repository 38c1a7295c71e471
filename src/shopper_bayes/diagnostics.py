"""MCMC diagnostics gate: R-hat, bulk ESS and divergences against thresholds from the config."""

from __future__ import annotations

import arviz_stats as azs
import xarray as xr

from shopper_bayes.config import DiagnosticsConfig


def _extreme(result: xr.DataTree | xr.Dataset, reduce: str) -> float:
    """Largest or smallest value over every posterior variable of an arviz-stats result."""
    data = result.to_dataset() if isinstance(result, xr.DataTree) else result
    values = [float(getattr(data[name], reduce)()) for name in data.data_vars]
    return max(values) if reduce == "max" else min(values)


def check(tree: xr.DataTree, limits: DiagnosticsConfig) -> dict:
    """Summarise convergence; ``ok`` is False with human-readable ``problems`` when a limit fails."""
    max_rhat = _extreme(azs.rhat(tree), "max")
    min_ess_bulk = _extreme(azs.ess(tree, method="bulk"), "min")
    min_ess_tail = _extreme(azs.ess(tree, method="tail"), "min")
    divergences = int(tree.sample_stats["diverging"].sum())
    problems = []
    if not max_rhat <= limits.max_rhat:
        problems.append(f"R-hat {max_rhat:.3f} above {limits.max_rhat}")
    if not min_ess_bulk >= limits.min_ess:
        problems.append(f"bulk ESS {min_ess_bulk:.0f} below {limits.min_ess:.0f}")
    if not min_ess_tail >= limits.min_ess:
        problems.append(f"tail ESS {min_ess_tail:.0f} below {limits.min_ess:.0f}")
    if divergences > limits.max_divergences:
        problems.append(f"{divergences} divergent transitions (allowed {limits.max_divergences})")
    return {
        "max_rhat": max_rhat,
        "min_ess_bulk": min_ess_bulk,
        "min_ess_tail": min_ess_tail,
        "divergences": divergences,
        "ok": not problems,
        "problems": problems,
        "thresholds": limits.model_dump(),
    }

"""MCMC diagnostics gate: R-hat, bulk and tail ESS, MCSE, divergences and BFMI against the config.

Every posterior variable is checked (per variable, the worst element of it); the fit passes when
all of them meet every threshold. Computed with arviz-stats.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from pydantic import BaseModel


class VariableCheck(BaseModel):
    variable: str
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    max_mcse_ratio: float


class Diagnostics(BaseModel):
    """The gate's verdict on one fit, or on several (``by_model``: each fit's own verdict).

    ``method``: ``mcmc`` (NUTS), ``exact`` (independent draws from a closed-form posterior: the same
    checks apply and pass by construction) or ``map`` (a point estimate: nothing to check, ``ok`` is
    False so that it is never mistaken for a checked posterior).
    """

    method: str = "mcmc"
    max_rhat: float | None
    min_ess_bulk: float | None
    min_ess_tail: float | None
    max_mcse_ratio: float | None
    divergences: int
    min_bfmi: float | None
    ok: bool
    problems: list[str]
    variables: list[VariableCheck] = []
    thresholds: dict[str, Any]
    by_model: dict[str, Diagnostics] | None = None

    @classmethod
    def not_sampled(cls, method: str, reason: str, limits) -> Diagnostics:
        """A fit that has no draws to check (MAP): flagged, never passed."""
        return cls(method=method, max_rhat=None, min_ess_bulk=None, min_ess_tail=None, max_mcse_ratio=None,
                   divergences=0, min_bfmi=None, ok=False, problems=[reason], thresholds=limits.model_dump())


def _dataset(result: xr.DataTree | xr.Dataset) -> xr.Dataset:
    return result.to_dataset() if isinstance(result, xr.DataTree) else result


def per_variable(tree: xr.DataTree) -> list[dict]:
    """The worst R-hat, bulk/tail ESS and MCSE (of the mean, relative to the posterior sd) per variable."""
    import arviz_stats as azs  # on use: a report rebuilt from summary.json needs only the types here

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


def check(tree: xr.DataTree, limits) -> Diagnostics:
    """Summarise convergence; ``ok`` is False with human-readable ``problems`` when a limit fails."""
    import arviz_stats as azs

    variables = per_variable(tree)
    max_rhat = max(row["max_rhat"] for row in variables)
    min_ess_bulk = min(row["min_ess_bulk"] for row in variables)
    min_ess_tail = min(row["min_ess_tail"] for row in variables)
    max_mcse_ratio = max(row["max_mcse_ratio"] for row in variables)
    stats = tree.children.get("sample_stats")
    divergences = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
    bfmi = np.atleast_1d(_dataset(azs.bfmi(tree))["energy"].values) if stats is not None and "energy" in stats else np.array([])
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
    return Diagnostics(
        method=str(tree.attrs.get("inference", "mcmc")),
        max_rhat=max_rhat,
        min_ess_bulk=min_ess_bulk,
        min_ess_tail=min_ess_tail,
        max_mcse_ratio=max_mcse_ratio,
        divergences=divergences,
        min_bfmi=min_bfmi,
        ok=not problems,
        problems=problems,
        variables=variables,
        thresholds=limits.model_dump(),
    )


def _worst(values, pick):
    values = [value for value in values if value is not None]
    return pick(values) if values else None


def combine(by_model: dict[str, Diagnostics]) -> Diagnostics:
    """One gate over several fitted models: the worst of each figure; problems named by model."""
    results = list(by_model.values())
    return Diagnostics(
        method="+".join(dict.fromkeys(result.method for result in results)),
        max_rhat=_worst((r.max_rhat for r in results), max),
        min_ess_bulk=_worst((r.min_ess_bulk for r in results), min),
        min_ess_tail=_worst((r.min_ess_tail for r in results), min),
        max_mcse_ratio=_worst((r.max_mcse_ratio for r in results), max),
        divergences=sum(r.divergences for r in results),
        min_bfmi=_worst((r.min_bfmi for r in results), min),
        ok=all(r.ok for r in results),
        problems=[f"{name}: {problem}" for name, r in by_model.items() for problem in r.problems],
        thresholds=results[0].thresholds,
        by_model=by_model,
    )

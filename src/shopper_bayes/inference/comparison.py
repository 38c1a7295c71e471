"""Compare the purchase-rate models by PSIS-LOO: which predicts a new session's outcome better.

The unit left out is one session, not one cell: the question is how well a model predicts whether
the next session in a known segment buys. Sessions of a cell with the same outcome have the same
likelihood, so PSIS-LOO (arviz-stats) runs on two pointwise terms per cell, log(rate) for a
purchase and log(1 - rate) for none, and each term is weighted by how many sessions it stands for.
The result equals PSIS-LOO over every session, at a cost that does not grow with the rows.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from pydantic import BaseModel

PARETO_K_OK = 0.7  # above this a PSIS-LOO term is unreliable (Vehtari et al. 2024)


class LooScore(BaseModel):
    elpd_loo: float
    se: float
    p_loo: float
    max_pareto_k: float
    bad_pareto_k: int
    elpd_diff: float
    se_diff: float


class LooComparison(BaseModel):
    """Models ranked by expected log predictive density (PSIS-LOO), with a plain statement of the result."""

    models: dict[str, LooScore]
    best: str
    ranking: list[str]
    unit: str
    statement: str


def _outcome_counts(counts: xr.Dataset) -> np.ndarray:
    """Sessions per (cell, outcome): outcome 0 bought, 1 did not."""
    bought = counts["purchases"].values.ravel()
    return np.stack([bought, counts["sessions"].values.ravel() - bought], axis=-1).astype(float)


def pointwise_loo(rate: xr.DataArray, counts: xr.Dataset) -> dict:
    """PSIS-LOO terms per (cell, outcome) of one model's posterior ``rate``."""
    import arviz_stats as azs  # on use: the report rebuilt from summary.json needs only the types here

    dims = list(counts["sessions"].dims)
    flat = rate.stack(cell=dims).transpose("chain", "draw", "cell").values
    log_lik = np.stack([np.log(flat), np.log1p(-flat)], axis=-1)
    tree = xr.DataTree.from_dict({
        "posterior": xr.Dataset({"rate": (("chain", "draw", "cell"), flat)}),
        "log_likelihood": xr.Dataset({"session": (("chain", "draw", "cell", "outcome"), log_lik)}),
    })
    result = azs.loo(tree, pointwise=True)
    lppd = np.log(np.exp(log_lik - log_lik.max(axis=(0, 1))).mean(axis=(0, 1))) + log_lik.max(axis=(0, 1))
    return {"elpd_i": np.asarray(result.elpd_i), "lppd_i": lppd, "pareto_k": np.asarray(result.pareto_k)}


def _total(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted sum of pointwise terms and its standard error, sqrt(N x weighted variance)."""
    n = weights.sum()
    mean = (weights * values).sum() / n
    variance = (weights * (values - mean) ** 2).sum() / (n - 1)
    return float((weights * values).sum()), float(np.sqrt(n * variance))


def compare(rates: dict[str, xr.DataArray], counts: xr.Dataset) -> LooComparison:
    """ELPD per model, the best model, and every other model's ELPD difference with its standard error."""
    weights = _outcome_counts(counts)
    terms = {name: pointwise_loo(rate, counts) for name, rate in rates.items()}
    models = {}
    for name, term in terms.items():
        elpd, se = _total(term["elpd_i"], weights)
        used = weights > 0
        models[name] = {"elpd_loo": elpd, "se": se,
                        "p_loo": float((weights * (term["lppd_i"] - term["elpd_i"])).sum()),
                        "max_pareto_k": float(term["pareto_k"][used].max()),
                        "bad_pareto_k": int((term["pareto_k"][used] > PARETO_K_OK).sum())}
    ranked = sorted(models, key=lambda name: -models[name]["elpd_loo"])
    leader = ranked[0]
    for name in ranked:
        diff, se = _total(terms[leader]["elpd_i"] - terms[name]["elpd_i"], weights) if name != leader else (0.0, 0.0)
        models[name] |= {"elpd_diff": diff, "se_diff": se}
    return LooComparison(models=models, best=leader, ranking=ranked, unit="session", statement=_statement(models, ranked))


def _statement(models: dict, ranked: list[str]) -> str:
    if len(ranked) < 2:
        return f"only the {ranked[0]} model was fitted"
    leader, runner = ranked[0], ranked[1]
    diff, se = models[runner]["elpd_diff"], models[runner]["se_diff"]
    if diff > 4 and diff > 2 * se:
        text = (f"The {leader} model predicts new sessions better: expected log predictive density higher by "
                f"{diff:.1f} (standard error {se:.1f})")
    elif diff > 4 and diff > se:
        text = (f"The {leader} model predicts new sessions somewhat better: expected log predictive density higher "
                f"by {diff:.1f}, but under two standard errors ({se:.1f})")
    else:
        text = (f"The two models predict new sessions about equally well: the {leader} model leads by {diff:.1f} "
                f"in expected log predictive density, within noise (standard error {se:.1f})")
    flagged = [name for name in ranked if models[name]["bad_pareto_k"]]
    if flagged:
        text += f". PSIS-LOO is unreliable for some cells of: {', '.join(flagged)} (Pareto k above {PARETO_K_OK})"
    return text + "."

"""Posterior predictive check of the rate models that can fail: does one rate per cell explain the cell's
sessions split by another column (by default month)?

Both models give a cell one purchase rate for all its sessions. Split each cell c by the levels m of
the check column; the statistic is the session-weighted sd of the split rates around their cell's
rate, T = sqrt(sum n[c,m] (y[c,m] / n[c,m] - y[c] / n[c])^2 / sum n[c,m]). Replicated data: for each
posterior draw, y_rep[c,m] ~ Binomial(n[c,m], rate[c]), and T of it computed the same way. A cell
whose rate differs between months more than binomial noise allows makes T larger than the model
ever replicates: the check fails when T lies outside the central interval of its replications (the
report's interval level), with p-value P(T_rep >= T). Comparing a cell's total to a model fitted to
that total could never fail; this split is not in the model, so it can.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from shopper_bayes.engine.cells import cell_label, cells, segment_name

CHECK_DRAWS = 1000  # posterior draws (evenly spaced) replicated for the check
SHOWN_GROUPS = 10  # groups outside their interval listed in the result


def spread(purchases: np.ndarray, sessions: np.ndarray) -> np.ndarray:
    """T over the last two axes (cell, level): the session-weighted sd of the level rates around their
    cell's rate. ``purchases`` may have leading axes (replications); levels without sessions add nothing."""
    cell_sessions = sessions.sum(-1, keepdims=True)
    cell_rate = np.divide(purchases.sum(-1, keepdims=True), cell_sessions, out=np.zeros(np.broadcast_shapes(
        purchases.shape[:-1] + (1,), cell_sessions.shape)), where=cell_sessions > 0)
    squares = np.divide((purchases - sessions * cell_rate) ** 2, sessions, out=np.zeros(np.broadcast_shapes(
        purchases.shape, sessions.shape)), where=sessions > 0)
    return np.sqrt(squares.sum(axis=(-2, -1)) / sessions.sum())


def split_levels(split: xr.Dataset, by: str) -> tuple[list[dict], list[str]]:
    """The cells (without ``by``) and the levels of ``by`` of the split counts."""
    dims = [dim for dim in split["sessions"].dims if dim != by]
    return cells(split.isel({by: 0}, drop=True).transpose(*dims)), [str(v) for v in split[by].values]


def checkable(split: xr.Dataset, by: str) -> bool:
    """True when some cell has sessions in more than one level of ``by`` (otherwise T is always 0)."""
    return bool(((split["sessions"] > 0).sum(by) > 1).any())


def predictive_check(rate: xr.DataArray, split: xr.Dataset, by: str, interval_prob: float,
                     seed: int) -> tuple[dict, np.ndarray, list[dict]]:
    """The check of one model: its result entry, the replicated statistics and every group (cell and
    level with sessions) with its observed rate and predictive interval (the last two for the figure).

    ``rate``: posterior draws of the model's cell rates; ``split``: sessions and purchases per cell and
    level of ``by`` (dims: the segment columns and ``by``).
    """
    chosen, levels = split_levels(split, by)
    sessions = np.stack([split["sessions"].sel(cell).values for cell in chosen]).astype(np.int64)
    purchases = np.stack([split["purchases"].sel(cell).values for cell in chosen]).astype(np.int64)
    draws = np.stack([rate.sel(cell).values.ravel() for cell in chosen], axis=-1)  # (draw, cell)
    draws = draws[np.unique(np.linspace(0, len(draws) - 1, min(len(draws), CHECK_DRAWS)).round().astype(int))]
    replicated = np.random.default_rng([seed, 11]).binomial(sessions[None], draws[:, :, None])  # (draw, cell, level)
    observed = float(spread(purchases, sessions))
    t_rep = spread(replicated, sessions)
    tail = (1 - interval_prob) / 2
    upper, lower = float(np.mean(t_rep >= observed)), float(np.mean(t_rep <= observed))
    groups = _groups(chosen, levels, by, sessions, purchases, replicated, interval_prob)
    outside = sorted((group for group in groups if group["outside"]), key=lambda group: -group["distance"])
    entry = {
        "by": by,
        "statistic": f"spread of the purchase rates of each cell's {by} levels around the cell's rate "
                     "(session-weighted sd)",
        "observed": observed,
        "replicated": {"mean": float(t_rep.mean()), "interval": [float(v) for v in np.quantile(t_rep, [tail, 1 - tail])]},
        "interval_prob": interval_prob,
        "p_value": {"value": upper, "draws": int(t_rep.size)},
        "passed": upper >= tail and lower >= tail,
        "groups": len(groups),
        "groups_outside": len(outside),
        "outside": [_entry(group) for group in outside[:SHOWN_GROUPS]],
    }
    return entry, t_rep, groups


def _entry(group: dict) -> dict:
    return {key: value for key, value in group.items() if key not in ("outside", "distance")}


def _groups(chosen, levels, by, sessions, purchases, replicated, interval_prob) -> list[dict]:
    tail = (1 - interval_prob) / 2
    out = []
    for c, cell in enumerate(chosen):
        for m, level in enumerate(levels):
            n = int(sessions[c, m])
            if n == 0:
                continue
            rates = replicated[:, c, m] / n
            lo, hi = (float(v) for v in np.quantile(rates, [tail, 1 - tail]))
            observed = int(purchases[c, m]) / n
            sd = float(rates.std()) or 1 / n
            out.append({"segment": cell_label({**cell, by: level}), "label": segment_name({**cell, by: level}),
                        "sessions": n, "purchases": int(purchases[c, m]), "observed_rate": observed,
                        "predicted": {"mean": float(rates.mean()), "interval": [lo, hi]},
                        "outside": not lo <= observed <= hi, "distance": abs(observed - float(rates.mean())) / sd})
    return out

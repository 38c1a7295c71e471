"""Purchase rate per segment cell: two models, summaries, comparisons and the best cell.

This docstring is the model's description; the report's methods text (``section.py``) follows it.

``independent``: purchases[c] ~ Binomial(sessions[c], rate[c]), rate[c] ~ Beta(alpha, beta), each
cell on its own. Conjugate: the posterior is Beta(alpha + purchases, beta + sessions - purchases),
which the tests check the MCMC fit against.

``hierarchical``: logit(rate[c]) = mu + the sum, over the segment columns, of the effect of the
cell's level in that column; each column's effects ~ ZeroSumNormal(sigma_column) with sigma_column
~ HalfNormal (partial pooling): a level with few sessions is pulled toward the population, a large
one keeps its own rate. With several columns the effects add on the logit scale (no interaction);
the LOO comparison with the independent model shows when the data disagree. Zero-sum effects
remove the ridge between mu and the effects.

How each column's effects are sampled is chosen from the data, column by column
(:func:`parameterisation`); the model is the same either way, only the coordinates NUTS moves in
differ. *Centred*: ``effect_<col>`` ~ ZeroSumNormal(sigma) is sampled directly. *Non-centred*:
``effect_<col>_offset`` ~ ZeroSumNormal(1) is sampled and ``effect_<col>`` = sigma * offset is
derived (Bambi's and PyMC-Marketing's ``_offset``). A centred effect whose sd the data put near zero
is a funnel (the effects must shrink with sigma), which NUTS cannot cross: divergences, R-hat far
above 1 and a BFMI near 0 on many small cells with no real effect. A non-centred effect whose level
is pinned down by its own data is the mirror image: sigma and the offsets are then tightly
coupled, and the chains mix slowly. The rule, per column:

1. per level l, its sessions n_l and purchases y_l summed over the other columns; the empirical
   logit x_l = log((y_l + 1/2) / (n_l - y_l + 1/2)) and its sampling variance
   v_l = 1 / (y_l + 1/2) + 1 / (n_l - y_l + 1/2);
2. the between-level variance of the effects, DerSimonian and Laird's moment estimate over the
   levels with sessions: with w_l = 1 / v_l, Q = sum w_l (x_l - x_w)^2 around the weighted mean
   x_w, tau^2 = max(0, (Q - (L - 1)) / (sum w_l - sum w_l^2 / sum w_l));
3. a level is *well informed* when its own data pin its effect down far more tightly than the
   population does: v_l <= tau^2 / 8, i.e. (normally approximated) its data carry at least 8/9 of
   its posterior precision; a level without sessions never is;
4. the column is centred when more than half of its levels are well informed, non-centred
   otherwise (always when tau^2 = 0, as on a column without real differences between levels).

Why 8 and a strict majority: the centred funnel needs weakly informed levels *and* a sigma the data
do not keep away from zero. A majority of well-informed levels keeps sigma away from zero (their
effects differ by much more than their noise), so the remaining weak levels cannot pull it into
the neck. With two levels the rule asks for both, which amounts to a difference of the two
empirical logits of 3 to 4 standard errors. The threshold was set on pilot simulation-based
calibration runs over the model's own prior (2 segments x 3 months, 144 replications, each fitted
with every combination of centred and non-centred columns): fits with divergences in 0 of 144 with
8 (and 16), 5 with 4, 26 with 1, 81 with every column centred (benchmarks/README.md, "Partial
pooling"). Non-centred everywhere never
diverged there, but mixes slowly where effects are well known and sigma is not (two segments of
thousands of sessions), which is why the centred form is kept where the rule allows it.

``build_model(..., centred=...)`` overrides the choice (benchmarks and tests compare both). The
levels' rates are taken column by column, over the other columns' mix, which is enough to tell a
column whose levels differ far beyond their noise from one whose levels do not.

Both assume sessions within a cell are exchangeable and independent.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from shopper_bayes.analyses.purchase_rates.config import RatesConfig
from shopper_bayes.engine.cells import cell_label, cells, find_cell, segment_name

SAMPLE_DIMS = ("chain", "draw")
# A level is well informed when its data carry at least INFORMED / (INFORMED + 1) of its precision.
INFORMED = 8.0
MODELS = ("independent", "hierarchical")


def level_information(counts: xr.Dataset) -> dict[str, dict]:
    """Per segment column: the between-level variance ``tau2`` of the empirical logits (DerSimonian-Laird)
    and each level's sampling variance ``v`` (infinite for a level without sessions); see the module
    docstring, steps 1 and 2."""
    out = {}
    for dim in counts["sessions"].dims:
        others = [other for other in counts["sessions"].dims if other != dim]
        n = counts["sessions"].sum(others).values.astype(float)
        y = counts["purchases"].sum(others).values.astype(float)
        seen = n > 0
        v = np.full(n.shape, np.inf)
        v[seen] = 1 / (y[seen] + 0.5) + 1 / (n[seen] - y[seen] + 0.5)
        tau2 = 0.0
        if seen.sum() >= 2:
            x = np.log((y[seen] + 0.5) / (n[seen] - y[seen] + 0.5))
            w = 1 / v[seen]
            mean = np.sum(w * x) / np.sum(w)
            q = np.sum(w * (x - mean) ** 2)
            tau2 = max(0.0, (q - (seen.sum() - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w)))
        out[dim] = {"tau2": float(tau2), "v": v, "levels_with_sessions": int(seen.sum())}
    return out


def parameterisation(counts: xr.Dataset) -> dict[str, bool]:
    """Per segment column, True for centred effects and False for non-centred ones: centred when more
    than half of the column's levels are well informed (sampling variance v_l <= tau^2 / INFORMED),
    the rule of the module docstring."""
    chosen = {}
    for dim, info in level_information(counts).items():
        informed = info["v"] <= info["tau2"] / INFORMED
        chosen[dim] = bool(info["tau2"] > 0 and informed.sum() > informed.size / 2)
    return chosen


def build_model(counts: xr.Dataset, rates: RatesConfig, name: str, centred: dict[str, bool] | None = None) -> pm.Model:
    """The PyMC model ``name`` with one ``rate`` per cell, dims named after the segment columns.

    The counts enter as data containers ``sessions`` and ``observed_purchases``, so a compiled model
    can be re-run on other counts of the same cells (the calibration study does, hundreds of times;
    the parameterisation is fixed when the model is built, so re-run it on counts for which
    :func:`parameterisation` chooses the same). ``centred``: column -> centred (True) or not, by
    default chosen from ``counts`` by :func:`parameterisation`.
    """
    dims = tuple(counts["sessions"].dims)
    coords = {dim: counts[dim].values.tolist() for dim in dims}
    with pm.Model(coords=coords) as model:
        sessions = pm.Data("sessions", counts["sessions"].values, dims=dims)
        observed = pm.Data("observed_purchases", counts["purchases"].values, dims=dims)
        if name == "independent":
            rate = pm.Beta("rate", alpha=rates.prior.alpha, beta=rates.prior.beta, dims=dims)
        else:
            prior = rates.hierarchical_prior
            chosen = parameterisation(counts) | (centred or {})
            mu = pm.Normal("mu_logit", mu=prior.mean_loc, sigma=prior.mean_scale)
            logit_rate = mu
            for index, dim in enumerate(dims):
                sigma = pm.HalfNormal(f"sigma_{dim}", sigma=prior.sd_scale)
                if chosen[dim]:
                    effect = pm.ZeroSumNormal(f"effect_{dim}", sigma=sigma, dims=dim)
                else:
                    offset = pm.ZeroSumNormal(f"effect_{dim}_offset", sigma=1.0, dims=dim)
                    effect = pm.Deterministic(f"effect_{dim}", sigma * offset, dims=dim)
                logit_rate = logit_rate + pt.shape_padright(effect, len(dims) - 1 - index)
            rate = pm.Deterministic("rate", pm.math.invlogit(logit_rate), dims=dims)
            pm.Deterministic("population_rate", pm.math.invlogit(mu))
        pm.Binomial("purchases", n=sessions, p=rate, observed=observed, dims=dims)
    return model


def exact_posterior(counts: xr.Dataset, rates: RatesConfig, chains: int, draws: int, seed: int) -> dict[str, np.ndarray]:
    """Independent draws from the independent model's conjugate posterior, rate[c] ~ Beta(alpha +
    purchases[c], beta + sessions[c] - purchases[c]), shaped (chain, draw, *cells)."""
    purchases, sessions = counts["purchases"].values, counts["sessions"].values
    rng = np.random.default_rng([seed, 7])
    shape = (chains, draws, *purchases.shape)
    return {"rate": rng.beta(rates.prior.alpha + purchases, rates.prior.beta + sessions - purchases, size=shape)}


def exact_groups(counts: xr.Dataset, rates: RatesConfig, seed: int):
    """The independent model's other groups by formula, for :func:`shopper_bayes.inference.fit.exact`:
    log_likelihood log Binomial(purchases[c] | sessions[c], rate[c]) per draw, posterior predictive
    Binomial(sessions[c], rate[c]), prior rate[c] ~ Beta(alpha, beta) (one chain of ``PRIOR_DRAWS``) and its
    predictive, with the observed and constant data, as PyMC lays them out."""
    from scipy import stats

    from shopper_bayes.inference.fit import PRIOR_DRAWS

    purchases, sessions = counts["purchases"].values, counts["sessions"].values

    def groups_of(posterior: dict[str, np.ndarray], groups) -> dict[str, dict[str, np.ndarray]]:
        rng = np.random.default_rng([seed, 8])
        rate, out = posterior["rate"], {}
        if "log_likelihood" in groups:
            out["log_likelihood"] = {"purchases": stats.binom.logpmf(purchases, sessions, rate)}
        if "posterior_predictive" in groups:
            out["posterior_predictive"] = {"purchases": rng.binomial(sessions, rate)}
            out["observed_data"] = {"purchases": purchases.astype(np.int64)}
            out["constant_data"] = {"sessions": sessions, "observed_purchases": purchases}
        if "prior" in groups:
            prior = rng.beta(rates.prior.alpha, rates.prior.beta, size=(1, PRIOR_DRAWS, *purchases.shape))
            out["prior"] = {"rate": prior}
            out["prior_predictive"] = {"purchases": rng.binomial(sessions, prior)}
        return out

    return groups_of


def _interval(draws: xr.DataArray, interval_prob: float) -> list[float]:
    tail = (1 - interval_prob) / 2
    return [float(v) for v in draws.quantile([tail, 1 - tail], dim=SAMPLE_DIMS).values]


def summarise(rate: xr.DataArray, counts: xr.Dataset, interval_prob: float) -> list[dict]:
    """Per cell: counts, observed rate, posterior mean and central interval of the rate.

    Cells with no sessions are listed (their rate is what the prior or the population says).
    """
    rows = []
    for cell in cells(counts):
        sessions = int(counts["sessions"].sel(cell))
        purchases = int(counts["purchases"].sel(cell))
        draws = rate.sel(cell)
        rows.append({
            "segment": cell_label(cell),
            "label": segment_name(cell),
            "sessions": sessions,
            "purchases": purchases,
            "observed_rate": purchases / sessions if sessions else None,
            "mean": float(draws.mean()),
            "interval": _interval(draws, interval_prob),
            "interval_prob": interval_prob,
        })
    return rows


def comparison_pairs(counts: xr.Dataset, rates: RatesConfig) -> list[tuple[dict, dict]]:
    """The (A, B) cell pairs to compare: the configured pairs, else every cell with data against the reference."""
    wanted = rates.comparisons
    if wanted.pairs:
        return [(find_cell(counts, a, "rates.comparisons.pairs"), find_cell(counts, b, "rates.comparisons.pairs"))
                for a, b in wanted.pairs]
    if wanted.reference is None:
        flat = counts["sessions"].stack(cell=counts["sessions"].dims)
        reference = {dim: str(flat[dim].values[int(np.argmax(flat.values))]) for dim in counts["sessions"].dims}
    else:
        reference = find_cell(counts, wanted.reference, "rates.comparisons.reference")
    return [(cell, reference) for cell in cells(counts)
            if cell != reference and int(counts["sessions"].sel(cell)) > 0]


def compare(rate: xr.DataArray, pairs: list[tuple[dict, dict]], interval_prob: float, practical_lift: float) -> list[dict]:
    """For each pair: posterior of the difference A - B and of the lift A / B - 1, P(A > B), and the
    probability that the lift is below, inside or above the band (-practical_lift, +practical_lift) of
    lifts too small to matter (the band's edges count as inside)."""
    rows = []
    for first, second in pairs:
        a, b = rate.sel(first), rate.sel(second)
        difference, lift = a - b, lift_draws(rate, first, second)
        draws = int(a.size)
        below, above = float((lift < -practical_lift).mean()), float((lift > practical_lift).mean())
        rows.append({
            "a": cell_label(first),
            "b": cell_label(second),
            "difference": {"mean": float(difference.mean()), "interval": _interval(difference, interval_prob)},
            "lift": {"mean": float(lift.mean()), "interval": _interval(lift, interval_prob)},
            "interval_prob": interval_prob,
            "prob_a_greater": float((a > b).mean()),
            "draws": draws,
            "practical": {"lift": practical_lift, "below": {"value": below, "draws": draws},
                          "inside": {"value": 1 - below - above, "draws": draws}, "above": {"value": above, "draws": draws}},
        })
    return rows


def lift_draws(rate: xr.DataArray, first: dict, second: dict) -> xr.DataArray:
    """Posterior draws of the relative lift rate[first] / rate[second] - 1."""
    return rate.sel(first) / rate.sel(second) - 1


def best(rate: xr.DataArray, counts: xr.Dataset) -> list[dict]:
    """Across the cells with sessions: P(cell has the highest rate) and its expected loss.

    Expected loss of choosing c is E[max_k rate_k - rate_c], the purchase rate given up in
    expectation, as Bayesian A/B-testing tools report it. Sorted from the most probable best.
    """
    chosen = [cell for cell in cells(counts) if int(counts["sessions"].sel(cell)) > 0]
    draws = np.stack([rate.sel(cell).values.ravel() for cell in chosen])
    top = draws.max(axis=0)
    winner = draws.argmax(axis=0)
    rows = [{"segment": cell_label(cell),
             "label": segment_name(cell),
             "prob_best": float(np.mean(winner == index)),
             "expected_loss": float(np.mean(top - draws[index])),
             "draws": int(top.size)}
            for index, cell in enumerate(chosen)]
    return sorted(rows, key=lambda row: (-row["prob_best"], row["expected_loss"]))

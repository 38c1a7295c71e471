"""Results of the drivers model from its posterior: odds ratios, average marginal effects, held-out
AUC (by ranks, with DeLong's interval), Brier score, calibration by decile, and LOO against the
rates-only model."""

from __future__ import annotations

import arviz_stats as azs
import numpy as np
import xarray as xr
from scipy import stats
from scipy.special import expit

from shopper_bayes.analyses.base import Estimate, Probability
from shopper_bayes.analyses.drivers.design import Design, Term
from shopper_bayes.analyses.drivers.results import (CalibrationBin, Effect, Holdout, ModelComparison, ModelScore,
                                                    PriorCheck)

BLOCK_VALUES = 4_000_000  # draws x sessions per block when averaging over sessions
MARGINAL_DRAWS = 500  # posterior draws behind an average marginal effect (evenly thinned)
PARETO_K_OK = 0.7


def _estimate(draws: np.ndarray, interval_prob: float) -> Estimate:
    tail = (1 - interval_prob) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return Estimate(mean=float(draws.mean()), interval=(float(low), float(high)))


def draws_of(tree: xr.DataTree) -> tuple[np.ndarray, np.ndarray]:
    """Posterior draws of the intercept (S,) and the coefficients (S, terms)."""
    post = tree.posterior
    intercept = post["intercept"].stack(sample=("chain", "draw")).values
    beta = post["beta"].stack(sample=("chain", "draw")).transpose("sample", "term").values
    return intercept, beta


def _blocks(n: int, draws: int):
    size = max(1, BLOCK_VALUES // max(draws, 1))
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _own(term: Term) -> bool:
    """A term with a marginal effect of its own: a numeric column's linear term, or a label's level."""
    return term.transform not in ("square", "interaction")


def marginal_effects(design: Design, intercept: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Average marginal effect per draw and term (S, terms), averaged over the training sessions.

    Numeric input: the mean over sessions of dp/dz for one sd, (sum of beta_k d term_k / dz) p (1 - p)
    over every term built from the column (its square and its slopes per level too). Level of a label
    column: the mean over sessions of p(at that level) - p(at the reference level), every term the
    column enters (interactions too) recomputed, the session's other inputs as they are. Squares and
    interaction terms have none of their own (NaN): their effect is part of their columns'."""
    x, terms, frame = design.train, design.terms, design.train_frame
    out = np.zeros((len(intercept), len(terms)))
    mains = {term.column: j for j, term in enumerate(terms) if term.numeric and _own(term)}
    for rows in _blocks(len(x), len(intercept)):
        eta = intercept[:, None] + beta @ x[rows].T
        p = expit(eta)
        part = frame.iloc[rows]
        for column, main in mains.items():
            built = [j for j, term in enumerate(terms) if term.numeric and term.column == column]
            slope = beta[:, built] @ np.column_stack([terms[j].per_sd(part) for j in built]).T
            out[:, main] += (slope * p * (1 - p)).sum(axis=1)
        for column, reference in design.references.items():
            affected = [j for j, term in enumerate(terms) if column in term.factors]

            def shifted(level: str) -> np.ndarray:
                counterfactual = part.assign(**{column: level})
                delta = np.column_stack([terms[j].values(counterfactual) for j in affected]) - x[rows][:, affected]
                return expit(eta + beta[:, affected] @ delta.T)

            at_reference = shifted(reference)
            for j in affected:
                if terms[j].transform == "indicator":
                    out[:, j] += (shifted(terms[j].level) - at_reference).sum(axis=1)
    out /= len(x)
    out[:, [j for j, term in enumerate(terms) if not _own(term)]] = np.nan
    return out


def effects(design: Design, intercept: np.ndarray, beta: np.ndarray, interval_prob: float) -> list[Effect]:
    """Odds ratios and P(OR > 1) from every draw; average marginal effects from :data:`MARGINAL_DRAWS`
    evenly spaced draws (each costs a pass over the sessions)."""
    keep = np.linspace(0, len(intercept) - 1, min(MARGINAL_DRAWS, len(intercept))).round().astype(int)
    ame = marginal_effects(design, intercept[keep], beta[keep])
    out = []
    for j, term in enumerate(design.terms):
        if term.numeric:
            input_ = term.transform.replace("x", term.column) if _own(term) else (
                "log(1 + x)".replace("x", term.column) if term.logged else term.column)
            sd = f"(1 sd = {term.base[1]:.3g})"
            unit = {"square": f"per sd of the square of standardised {input_}",
                    "interaction": f"extra odds factor per sd of {input_} {sd} at {term.level}"}.get(
                        term.transform, f"per sd of {input_} {sd}")
        elif term.transform == "interaction":
            unit = "extra odds factor of the combination"
        else:
            unit = f"{term.level} against {term.reference}"
        note = {"square": f"the square of {term.column}: part of its marginal effect",
                "interaction": (f"a slope at one level: part of {term.column}'s marginal effect" if term.numeric
                                else "an interaction: part of its columns' level effects")}.get(term.transform)
        marginal = (Estimate(mean=None, interval=(None, None), note=note) if note
                    else _estimate(ame[:, j], interval_prob))
        out.append(Effect(term=term.name, column=term.column, level=term.level, reference=term.reference, unit=unit,
                          scale=term.base[1] if term.numeric else 1.0,
                          odds_ratio=_estimate(np.exp(beta[:, j]), interval_prob),
                          prob_positive=Probability(value=float((beta[:, j] > 0).mean()), draws=len(beta)),
                          marginal_effect=marginal))
    return out


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve from ranks (Mann-Whitney): P(score of a buyer > score of a non-buyer),
    ties counting one half."""
    ranks = stats.rankdata(scores)
    positives = int(y.sum())
    negatives = len(y) - positives
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def delong_interval(scores: np.ndarray, y: np.ndarray, interval_prob: float) -> tuple[float, float]:
    """DeLong's interval for the AUC: its variance from the placement values of buyers and non-buyers
    (how many of the other group each one outranks), the sessions held out taken as a random sample."""
    pos, neg = np.sort(scores[y == 1]), np.sort(scores[y == 0])
    below_neg = (np.searchsorted(neg, scores[y == 1], "left") + np.searchsorted(neg, scores[y == 1], "right")) / 2
    below_pos = (np.searchsorted(pos, scores[y == 0], "left") + np.searchsorted(pos, scores[y == 0], "right")) / 2
    v10, v01 = below_neg / len(neg), 1 - below_pos / len(pos)
    se = np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    area = auc(scores, y)
    z = stats.norm.ppf(0.5 + interval_prob / 2)
    return float(max(0.0, area - z * se)), float(min(1.0, area + z * se))


def joint_band(replicated: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Central intervals of every column of ``replicated`` (draws x columns) at one common level, the
    smallest at which a share ``prob`` of the draws lies inside all of them at once (bisection on the
    level). Returns (low, high, that level). Of a calibrated model's deciles all fall inside together
    with probability ``prob``; each decile's own interval at ``prob`` misses one of ten far more often."""
    inner, outer = (1 - prob) / 2, 0.0  # tails: inside all at `outer`, maybe not at `inner`
    for _ in range(40):
        tail = (inner + outer) / 2
        low, high = np.quantile(replicated, [tail, 1 - tail], axis=0)
        if np.mean(np.all((replicated >= low) & (replicated <= high), axis=1)) >= prob:
            outer = tail
        else:
            inner = tail
    low, high = np.quantile(replicated, [outer, 1 - outer], axis=0)
    return low, high, 1 - 2 * outer


def holdout(design: Design, intercept: np.ndarray, beta: np.ndarray, bins: int, interval_prob: float,
            seed: int) -> Holdout:
    """AUC, Brier score and calibration on the held-out sessions, from the posterior predictive."""
    y = design.y_test
    p = expit(intercept[:, None] + beta @ design.test.T)  # draws x sessions
    mean = p.mean(axis=0)
    rng = np.random.default_rng(seed)
    groups = np.array_split(np.argsort(mean, kind="stable"), bins)
    replicated = np.column_stack([(rng.random((len(p), len(rows))) < p[:, rows]).mean(axis=1) for rows in groups])
    tail = (1 - interval_prob) / 2
    low, high = np.quantile(replicated, [tail, 1 - tail], axis=0)
    band_low, band_high, band_prob = joint_band(replicated, interval_prob)
    calibration = []
    for number, rows in enumerate(groups, start=1):
        k = number - 1
        observed = float(y[rows].mean())
        calibration.append(CalibrationBin(
            bin=number, sessions=len(rows),
            predicted=Estimate(mean=float(mean[rows].mean()), interval=(float(low[k]), float(high[k]))),
            band=(float(band_low[k]), float(band_high[k])), observed=observed,
            inside=bool(low[k] <= observed <= high[k]), inside_band=bool(band_low[k] <= observed <= band_high[k])))
    base = design.y_train.mean()
    purchases = int(y.sum())
    defined = 0 < purchases < len(y)
    return Holdout(sessions=len(y), purchases=purchases, auc=auc(mean, y) if defined else None,
                   auc_interval=delong_interval(mean, y, interval_prob) if defined else (None, None),
                   note=None if defined else "AUC undefined: the held-out sessions are all buyers or all non-buyers",
                   brier=float(((mean - y) ** 2).mean()), brier_base_rate=float(((base - y) ** 2).mean()),
                   calibration=calibration, band_pointwise_prob=band_prob,
                   calibrated=all(b.inside_band for b in calibration))


def baseline_loo(levels: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Exact leave-one-out log predictive density per session of the rates-only model: purchase ~
    Bernoulli(rate[level]), rate ~ Beta(1, 1). Left out, a session of a level with s purchases in n
    sessions is predicted with rate (s - y + 1) / (n + 1)."""
    frame_levels, index = np.unique(levels, return_inverse=True)
    n = np.bincount(index, minlength=len(frame_levels))[index]
    s = np.bincount(index, weights=y, minlength=len(frame_levels))[index]
    rate = (s - y + 1) / (n + 1)
    return np.where(y == 1, np.log(rate), np.log1p(-rate))


def log_likelihood(design: Design, intercept: np.ndarray, beta: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The model's Bernoulli log-likelihood of the training sessions ``rows`` per draw (S, rows):
    y log p + (1 - y) log(1 - p) with logit p = intercept + x . beta, on the logit scale for accuracy."""
    eta = intercept[:, None] + beta @ design.train[rows].T
    y = design.y_train[rows].astype(bool)
    return np.where(y, -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta))


def compare(tree: xr.DataTree, design: Design, baseline: str, subsample: int, seed: int) -> ModelComparison:
    """PSIS-LOO of the full model against exact LOO of the rates-only model, session by session.

    PSIS costs about a millisecond per session, so it runs on a seeded random subsample of at most
    ``subsample`` training sessions and the sums are scaled to all of them (simple random subsampling,
    Magnusson et al. 2019); the standard error of the difference adds the subsampling error. Only the
    subsample's log-likelihood is computed (from the posterior draws), not every training session's."""
    n = len(design.y_train)
    rows = np.sort(np.random.default_rng(seed).choice(n, subsample, replace=False)) if n > subsample else np.arange(n)
    intercept, beta = draws_of(tree)
    chains, draws = tree.posterior.sizes["chain"], tree.posterior.sizes["draw"]
    values = log_likelihood(design, intercept, beta, rows).reshape(chains, draws, len(rows))  # stack order: chain, draw
    log_lik = xr.DataArray(values, dims=("chain", "draw", "session"))
    sub = xr.DataTree.from_dict({"posterior": tree.posterior.to_dataset(),
                                 "log_likelihood": xr.Dataset({"purchase": log_lik})})
    loo = azs.loo(sub, pointwise=True)
    full = np.asarray(loo.elpd_i).ravel()
    base = baseline_loo(design.baseline_train, design.y_train)[rows]
    m, scale = len(rows), n / len(rows)
    diff = full - base
    finite = 1 - m / n

    def total(values: np.ndarray) -> tuple[float, float]:
        """Sum over all sessions estimated from the subsample, and its standard error (the spread of the
        pointwise values, sqrt(n var), plus the subsampling error, n sqrt((1 - m/n) var / m))."""
        var = values.var(ddof=1)
        return float(scale * values.sum()), float(np.sqrt(n * var + n**2 * finite * var / m))

    elpd_diff, se_diff = total(diff)
    pareto_k = np.asarray(loo.pareto_k).ravel()
    method = "PSIS-LOO" + (f" on {m:,} of {n:,} sessions" if m < n else "")
    full_total, base_total = total(full), total(base)
    models = {
        "behaviour": ModelScore(elpd_loo=full_total[0], se=full_total[1], p_loo=float(scale * loo.p), method=method),
        f"{baseline} only": ModelScore(elpd_loo=base_total[0], se=base_total[1],
                                       p_loo=float(len(np.unique(design.baseline_train))), method="exact LOO"),
    }
    if elpd_diff > 4 and elpd_diff > 2 * se_diff:
        statement = (f"The behaviour model predicts a left-out session's purchase far better than {baseline} alone: "
                     f"expected log predictive density higher by {elpd_diff:,.1f} (standard error {se_diff:,.1f}).")
    elif elpd_diff > 0:
        statement = (f"The behaviour model leads {baseline} alone by {elpd_diff:,.1f} in expected log predictive "
                     f"density, within noise (standard error {se_diff:,.1f}).")
    else:
        statement = (f"{baseline} alone predicts left-out sessions as well as the behaviour model or better "
                     f"(difference {elpd_diff:,.1f}, standard error {se_diff:,.1f}).")
    bad = int((pareto_k > PARETO_K_OK).sum())
    if bad:
        statement += f" PSIS-LOO is unreliable for {bad:,} of the {m:,} sessions checked (Pareto k above {PARETO_K_OK})."
    return ModelComparison(models=models, elpd_diff=elpd_diff, se_diff=se_diff, max_pareto_k=float(pareto_k.max()),
                           bad_pareto_k=bad, statement=statement)


def prior_check(tree: xr.DataTree, observed: float, interval_prob: float) -> PriorCheck:
    """The share of training sessions that buy under each prior predictive draw, as a histogram."""
    replicated = tree.prior_predictive["purchase"]
    share = replicated.mean([dim for dim in replicated.dims if dim not in ("chain", "draw")]).values.ravel()
    counts, edges = np.histogram(share, bins=20, range=(0.0, 1.0))
    tail = (1 - interval_prob) / 2
    low, high = np.quantile(share, [tail, 1 - tail])
    return PriorCheck(edges=edges.tolist(), counts=counts.tolist(), interval=(float(low), float(high)), observed=observed)

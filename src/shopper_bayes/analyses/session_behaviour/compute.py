"""Behaviour per segment cell: means by the Bayesian bootstrap, shares by exact Beta posteriors.

Means of durations and page counts are heavy-tailed (a few sessions last hours), so no Normal or
Gamma model of them is trusted: a mean's interval comes from the Bayesian bootstrap (Rubin 1981),
whose draws are weighted means with Dirichlet(1, ..., 1) weights over the cell's sessions, i.e. the
posterior of the mean when the sessions are all the distinct values there can be. Its draws give
differences between cells and P(A > B) directly. Shares (positive page value, engaged but not
buying, purchase) are binomial: their Beta posteriors are drawn exactly with numpy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from shopper_bayes.analyses.base import Estimate, Probability
from shopper_bayes.analyses.session_behaviour.config import BehaviourSettings
from shopper_bayes.analyses.session_behaviour.results import CellProfile, Difference, Metric, Share
from shopper_bayes.errors import UserError

BLOCK_VALUES = 2_000_000  # bootstrap weights drawn in blocks of at most this many values


def quantities(settings: BehaviourSettings) -> list[tuple[str, str, str]]:
    """The per-session metrics (name, label, unit) in report order."""
    out = [("total_seconds", "total time on site", "seconds")]
    out += [(f"{page.name}_seconds", f"time on {page.name} pages", "seconds") for page in settings.page_types]
    out += [(f"{page.name}_pages", f"{page.name} pages", "pages") for page in settings.page_types]
    return out + [("bounce_rate", "bounce rate", "rate"), ("exit_rate", "exit rate", "rate")]


SHARES = [("positive_page_value", "sessions with a positive page value"),
          ("engaged_not_buying", "engaged but not buying"),
          ("purchase", "purchase rate")]


def metric_frame(frame: pd.DataFrame, settings: BehaviourSettings) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Per-session metrics and 0/1 share indicators, and the engaged threshold (median seconds)."""
    metrics = pd.DataFrame(index=frame.index)
    metrics["total_seconds"] = frame[[page.seconds for page in settings.page_types]].sum(axis=1)
    for page in settings.page_types:
        metrics[f"{page.name}_seconds"] = frame[page.seconds]
    for page in settings.page_types:
        metrics[f"{page.name}_pages"] = frame[page.pages]
    metrics["bounce_rate"], metrics["exit_rate"] = frame[settings.bounce_rate], frame[settings.exit_rate]
    engaged = next(page.seconds for page in settings.page_types if page.name == settings.engaged_page_type)
    threshold = float(frame[engaged].median())
    shares = pd.DataFrame({
        "positive_page_value": frame[settings.page_value] > 0,
        "engaged_not_buying": (frame[engaged] > threshold) & (frame["purchase"] == 0),
        "purchase": frame["purchase"] == 1,
    }).astype(np.int64)
    return metrics, shares, threshold


def bootstrap_means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bayesian-bootstrap draws of the column means of ``values`` (sessions x metrics): resamples x metrics.

    Dirichlet(1, ..., 1) weights are normalised standard exponentials, drawn in blocks of draws."""
    n = len(values)
    out = np.empty((resamples, values.shape[1]))
    block = max(1, BLOCK_VALUES // max(n, 1))
    for start in range(0, resamples, block):
        stop = min(start + block, resamples)
        weights = rng.standard_exponential((stop - start, n))
        out[start:stop] = (weights @ values) / weights.sum(axis=1, keepdims=True)
    return out


def _estimate(point: float, draws: np.ndarray, interval_prob: float) -> Estimate:
    """A point value (sample mean, or posterior mean of a share) with the central interval of its draws."""
    tail = (1 - interval_prob) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return Estimate(mean=float(point), interval=(float(low), float(high)))


def cell_names(frame: pd.DataFrame, segments: list[str]) -> pd.Series:
    """Each session's cell: its levels joined by `` / `` in the order of ``segments``. Joined column by column: a
    row-wise join transposed the frame (a million sampled sessions: about 50 s and 1.5 GB)."""
    names = frame[segments[0]].astype(str)
    for column in segments[1:]:
        names = names + " / " + frame[column].astype(str)
    return names


def profiles(frame: pd.DataFrame, settings: BehaviourSettings, seed: int):
    """Per cell: metrics and shares with intervals, and every cell against the reference cell.

    Returns (cells, differences, reference, threshold)."""
    metrics, shares, threshold = metric_frame(frame, settings)
    names = quantities(settings)
    cells = cell_names(frame, settings.segments)
    sizes = cells.value_counts(sort=False)
    order = sorted(sizes.index, key=lambda cell: (-sizes[cell], cell))
    reference = settings.reference.strip() if settings.reference is not None else order[0]
    if reference not in sizes.index:
        raise UserError("session_behaviour.reference", f"{reference!r} is not a cell of the data (cells: {', '.join(order[:10])})",
                        "name a level of the segment columns, joined by ' / ' for several")
    medians = metrics.groupby(cells, sort=False).median()
    means = metrics.groupby(cells, sort=False).mean()
    counts = shares.groupby(cells, sort=False).sum()
    rng = np.random.default_rng(seed)
    prior = settings.prior
    profiles_, draws = [], {}
    for cell in order:
        rows = (cells == cell).to_numpy()
        n = int(rows.sum())
        mean_draws = bootstrap_means(metrics.to_numpy()[rows], settings.resamples, rng)
        share_draws = rng.beta(prior.alpha + counts.loc[cell].to_numpy(), prior.beta + n - counts.loc[cell].to_numpy(),
                               size=(settings.resamples, len(SHARES)))
        draws[cell] = (mean_draws, share_draws)
        tail = (1 - settings.interval_prob) / 2
        metric_list = [Metric(name=name, label=label, unit=unit,
                              mean=_estimate(means.loc[cell, name], mean_draws[:, i], settings.interval_prob),
                              median=float(medians.loc[cell, name])) for i, (name, label, unit) in enumerate(names)]
        share_list = []
        for i, (name, label) in enumerate(SHARES):
            k = int(counts.loc[cell, name])
            a, b = prior.alpha + k, prior.beta + n - k
            share_list.append(Share(name=name, label=label, count=k, share=Estimate(
                mean=a / (a + b), interval=(float(stats.beta.ppf(tail, a, b)), float(stats.beta.ppf(1 - tail, a, b))))))
        levels = frame.loc[rows, settings.segments].iloc[0].astype(str).to_dict()
        profiles_.append(CellProfile(cell=cell, levels=levels, sessions=n, metrics=metric_list, shares=share_list))
    stacked = np.stack([draws[cell][1] for cell in order])  # cell x draw x share
    highest = np.argmax(stacked, axis=0)  # per draw and share, the cell with the largest share
    for index, profile in enumerate(profiles_):
        for i, share in enumerate(profile.shares):
            share.prob_highest = Probability(value=float((highest[:, i] == index).mean()), draws=settings.resamples)
    differences = []
    for cell in order:
        if cell == reference:
            continue
        shares_of = {c: (prior.alpha + counts.loc[c].to_numpy()) / (prior.alpha + prior.beta + sizes[c])
                     for c in (cell, reference)}  # posterior means
        points = (means.loc[cell].to_numpy() - means.loc[reference].to_numpy(), shares_of[cell] - shares_of[reference])
        for block, labels in ((0, [(name, label, unit) for name, label, unit in names]),
                              (1, [(name, label, "share") for name, label in SHARES])):
            diff = draws[cell][block] - draws[reference][block]
            for i, (name, label, unit) in enumerate(labels):
                differences.append(Difference(
                    quantity=name, label=label, unit=unit, cell=cell, reference=reference,
                    difference=_estimate(points[block][i], diff[:, i], settings.interval_prob),
                    prob_greater=Probability(value=float((diff[:, i] > 0).mean()), draws=settings.resamples)))
    return profiles_, differences, reference, threshold

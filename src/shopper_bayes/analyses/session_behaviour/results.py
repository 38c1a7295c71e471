"""Typed results of the session behaviour analysis: its ``summary.json`` entry."""

from __future__ import annotations

from shopper_bayes.analyses.base import Estimate, Probability, Result


class Metric(Result):
    """A per-session quantity of one cell: its mean (Bayesian bootstrap interval) and median."""

    name: str
    label: str
    unit: str
    mean: Estimate
    median: float


class Share(Result):
    """A share of the cell's sessions, with its exact Beta posterior interval; ``prob_highest``: P(this cell's share
    is the largest of all cells'), from the same posterior draws."""

    name: str
    label: str
    count: int
    share: Estimate
    prob_highest: Probability | None = None


class CellProfile(Result):
    cell: str
    levels: dict[str, str]
    sessions: int
    metrics: list[Metric]
    shares: list[Share]

    def metric(self, name: str) -> Metric:
        return next(metric for metric in self.metrics if metric.name == name)

    def share(self, name: str) -> Share:
        return next(share for share in self.shares if share.name == name)


class Difference(Result):
    """``cell`` minus ``reference`` for one quantity; ``prob_greater``: P(cell's value > reference's)."""

    quantity: str
    label: str
    unit: str
    cell: str
    reference: str
    difference: Estimate
    prob_greater: Probability


class BehaviourResult(Result):
    segments: list[str]
    scope: dict
    interval_prob: float
    resamples: int
    engaged_page_type: str
    engaged_threshold_seconds: float
    reference: str
    cells: list[CellProfile]
    differences: list[Difference]
    cleaning: dict

    def table(self):
        """One row per cell and quantity: mean (or share), interval, median (metrics only)."""
        import pandas as pd

        rows = []
        for cell in self.cells:
            for metric in cell.metrics:
                rows.append({"cell": cell.cell, "sessions": cell.sessions, "quantity": metric.name, "unit": metric.unit,
                             "mean": metric.mean.mean, "low": metric.mean.interval[0], "high": metric.mean.interval[1],
                             "median": metric.median})
            for share in cell.shares:
                rows.append({"cell": cell.cell, "sessions": cell.sessions, "quantity": share.name, "unit": "share",
                             "mean": share.share.mean, "low": share.share.interval[0], "high": share.share.interval[1],
                             "median": None})
        return pd.DataFrame(rows)

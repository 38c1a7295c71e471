"""Typed results of the correlation analysis: its ``summary.json`` entry."""

from __future__ import annotations

import pandas as pd

from shopper_bayes.analyses.base import Result

POOLED = "all"  # the segment of the rows over every session


class Pair(Result):
    """``r`` and the interval are None where undefined, ``note`` saying why."""

    x: str
    y: str
    segment: str
    r: float | None
    interval: tuple[float | None, float | None]
    method: str
    statistic: str
    interval_prob: float
    n: int
    note: str


class LittleBootstraps(Result):
    """How the Bag of Little Bootstraps ran: ``subsets`` subsets of n ** ``exponent`` rows, each resampled
    ``resamples_per_subset`` times; ``subset_rows``: rows per subset by segment (``all`` pooled), None
    where the segment was small enough for the full bootstrap or its correlations are undefined."""

    subsets: int
    exponent: float
    resamples_per_subset: int
    subset_rows: dict[str, int | None]


class CorrelationsResult(Result):
    """Every pair pooled (segment ``all``) and per level of ``by``; ``resamples`` bootstrap resamples in all;
    ``little_bootstraps`` set when the rows were too many to resample (Bag of Little Bootstraps)."""

    by: str | None
    resamples: int
    pairs: list[Pair]
    little_bootstraps: LittleBootstraps | None = None

    def table(self) -> pd.DataFrame:
        """The pairs as the table the correlation figures take."""
        rows = [{**pair.model_dump(), "low": pair.interval[0], "high": pair.interval[1]} for pair in self.pairs]
        table = pd.DataFrame(rows).astype({"r": float, "low": float, "high": float})
        table.attrs["interval_prob"] = self.pairs[0].interval_prob
        return table

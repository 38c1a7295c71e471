"""The correlation analysis on the seam: bootstrap intervals for every pair of the configured columns."""

from __future__ import annotations

from shopper_bayes.analyses.base import Context, FigureSpec, Output
from shopper_bayes.analyses.correlations import figures
from shopper_bayes.analyses.correlations.compute import bootstrap_correlations
from shopper_bayes.analyses.correlations.config import CorrelationsConfig
from shopper_bayes.analyses.correlations.results import CorrelationsResult, Pair


def _number(value) -> float | None:
    value = float(value)
    return None if value != value else value


def run(ctx: Context) -> Output:
    settings: CorrelationsConfig = ctx.settings
    labels = () if settings.by is None else (settings.by,)
    loaded = ctx.load(*labels, numeric=tuple(settings.columns))
    ctx.step(f"bootstrapping {len(settings.columns) * (len(settings.columns) - 1) // 2} correlations")
    table = bootstrap_correlations(loaded.frame, settings.columns, resamples=settings.resamples, method=settings.method,
                                   seed=ctx.seed, interval_prob=settings.interval_prob, statistic=settings.statistic,
                                   by=settings.by)
    pairs = [Pair(x=row.x, y=row.y, segment=str(row.segment), r=_number(row.r),
                  interval=(_number(row.low), _number(row.high)), method=row.method, statistic=row.statistic,
                  interval_prob=settings.interval_prob, n=int(row.n), note=row.note) for row in table.itertuples()]
    result = CorrelationsResult(by=settings.by, resamples=settings.resamples, pairs=pairs)
    specs = [
        FigureSpec("correlations", lambda: figures.plot_correlation_forest(result.table()),
                   "Correlation intervals, pooled and by segment", "Forest plot of correlation intervals per pair"),
        FigureSpec("correlation_matrix", lambda: figures.plot_correlation_matrix(result.table()),
                   "Pooled correlation matrix with intervals", "Heatmap of pooled correlations"),
    ]
    return Output(summary=result, figures=specs)

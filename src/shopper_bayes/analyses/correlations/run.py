"""The correlation analysis on the seam: bootstrap intervals for every pair of the configured columns."""

from __future__ import annotations

from functools import partial

import numpy as np

from shopper_bayes.analyses.base import Context, FigureSpec, Output
from shopper_bayes.analyses.correlations import figures, requests
from shopper_bayes.analyses.correlations.blb import blb_intervals, blb_subsets
from shopper_bayes.analyses.correlations.compute import bootstrap_correlations
from shopper_bayes.analyses.correlations.config import CorrelationsConfig
from shopper_bayes.analyses.correlations.results import CorrelationsResult, LittleBootstraps, Pair
from shopper_bayes.errors import UserError

VIEW = "correlation_rows"


def _number(value) -> float | None:
    value = float(value)
    return None if value != value else value


def _engine_sql(loaded, settings: CorrelationsConfig):
    """``(sql, view)`` for the loaded rows: the kept rows in the run's engine (rows, numeric columns,
    ``_row``), or, for rows given as a frame, the frame as a view in an in-memory DuckDB."""
    if loaded.table is not None:
        return loaded.table.engine.sql, f"{loaded.table.rows} AS kept"
    import duckdb

    frame = loaded.frame
    names = list(dict.fromkeys([*settings.columns, *([settings.by] if settings.by else [])]))
    con = duckdb.connect()
    con.register(VIEW, frame[names].assign(_row=np.arange(len(frame), dtype=np.int64)))
    return lambda query: con.sql(query).df(), VIEW


def run(ctx: Context) -> Output:
    settings: CorrelationsConfig = ctx.settings
    (needs, options), = requests(settings, ctx.config)
    loaded = ctx.load(*needs, **options)
    pairs_count = len(settings.columns) * (len(settings.columns) - 1) // 2
    rows = loaded.cleaning.rows_used
    little = None
    if rows > settings.blb_above_rows:
        if settings.statistic == "spearman":
            raise UserError("correlations.statistic",
                            f"is spearman, but the {rows:,} rows are above correlations.blb_above_rows "
                            f"({settings.blb_above_rows:,}), where intervals come from the Bag of Little Bootstraps, "
                            "which needs a statistic of each row's own values (Spearman needs every row's rank "
                            "among all rows)",
                            "use statistic: pearson, or raise blb_above_rows to bootstrap every row")
        ctx.step(f"bootstrapping {pairs_count} correlations (Bag of Little Bootstraps: {settings.blb_subsets} "
                 f"subsets of n^{settings.blb_exponent} rows)")
        sql, view = _engine_sql(loaded, settings)
        drawn = ctx.once("subsets", partial(blb_subsets, sql, view, settings.columns, settings.by,
                                            subsets=settings.blb_subsets, subset_exponent=settings.blb_exponent,
                                            resamples=settings.blb_resamples, interval_prob=settings.interval_prob,
                                            seed=ctx.seed))
        table = ctx.compute(partial(blb_intervals, drawn))  # the resampling
        little = LittleBootstraps(subsets=settings.blb_subsets, exponent=settings.blb_exponent,
                                  resamples_per_subset=settings.blb_resamples,
                                  subset_rows=table.attrs["subset_rows"])
    else:
        ctx.step(f"bootstrapping {pairs_count} correlations")
        frame = loaded.frame
        table = ctx.compute(partial(bootstrap_correlations, frame, settings.columns, resamples=settings.resamples,
                                    method=settings.method, seed=ctx.seed, interval_prob=settings.interval_prob,
                                    statistic=settings.statistic, by=settings.by))
    pairs = [Pair(x=row.x, y=row.y, segment=str(row.segment), r=_number(row.r),
                  interval=(_number(row.low), _number(row.high)), method=row.method, statistic=row.statistic,
                  interval_prob=settings.interval_prob, n=int(row.n), note=row.note) for row in table.itertuples()]
    result = CorrelationsResult(by=settings.by, resamples=int(table.attrs["resamples"]), pairs=pairs,
                                little_bootstraps=little)
    specs = [
        FigureSpec("correlations", lambda: figures.plot_correlation_forest(result.table()),
                   "Correlation intervals, pooled and by segment", "Forest plot of correlation intervals per pair"),
        FigureSpec("correlation_matrix", lambda: figures.plot_correlation_matrix(result.table()),
                   "Pooled correlation matrix with intervals", "Heatmap of pooled correlations"),
    ]
    return Output(summary=result, figures=specs)

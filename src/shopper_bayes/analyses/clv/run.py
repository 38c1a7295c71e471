"""The clv analysis's run: load, fit, summarise (imported when the analysis runs)."""

from __future__ import annotations

from shopper_bayes.analyses.base import Context, FigureSpec, Output
from shopper_bayes.analyses.clv.compute import compute
from shopper_bayes.analyses.clv.figures import alive_figure, holdout_figure, prior_figure
from shopper_bayes.analyses.clv.rfm import rfm_tables


def _periods(config) -> tuple:
    """``calibration_end``, ``observation_end`` and ``time_unit`` from the transactions dataset's settings."""
    dataset = getattr(config, "transactions", None)
    return (getattr(dataset, "calibration_end", None), getattr(dataset, "observation_end", None),
            getattr(dataset, "time_unit", "week"))


def run(ctx: Context) -> Output:
    loaded = ctx.load()
    calibration_end, observation_end, time_unit = _periods(ctx.config)
    ctx.step("per-customer recency, frequency and spend")
    tables = rfm_tables(loaded, calibration_end, observation_end, time_unit)
    title = {"bg_nbd": "BG/NBD", "pareto_nbd": "Pareto/NBD"}[ctx.settings.model]
    ctx.step(f"fitting {title} and Gamma-Gamma" + (" (MAP)" if ctx.settings.method == "map" else ""))
    done = compute(tables, ctx.settings, ctx.fit, ctx.config.diagnostics, ctx.seed)
    result, arrays, table = done.result, done.arrays, done.table
    figures = [FigureSpec("clv_alive", lambda: alive_figure(arrays, time_unit),
                          "Probability that a customer is still active, by repeat purchases and recency (posterior mean).",
                          "Heat map of P(alive): high for recent buyers, falling with time since the last purchase, "
                          "faster for frequent buyers."),
               FigureSpec("clv_prior", lambda: prior_figure(arrays),
                          "Prior predictive check: share of customers by repeat purchases implied by the priors alone, "
                          "against the data.",
                          "The prior predictive band covers the observed shares of customers by repeat purchases.")]
    if result.holdout is not None:
        figures.insert(0, FigureSpec("clv_holdout", lambda: holdout_figure(result.holdout, time_unit, result.interval_prob),
                                     "Holdout check: predicted repeat purchases (with predictive interval) against the "
                                     "actual ones, cumulatively and by number of calibration purchases.",
                                     "Two panels comparing predicted and actual holdout repeat purchases."))
    return Output(summary=result, figures=figures, models={"clv": done.tree},
                  files={"reports/customers_clv.parquet": lambda path: write_parquet(table, path)})


def write_parquet(table, path, rows: int = 1_000_000) -> None:
    """``table`` as a Parquet file, ``rows`` rows at a time: converting the whole of a table of millions of
    customers to Arrow at once would hold a second copy of it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.Schema.from_pandas(table.head(0), preserve_index=False)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, max(len(table), 1), rows):
            writer.write_table(pa.Table.from_pandas(table.iloc[start:start + rows], schema=schema, preserve_index=False))

"""Rows do not cost model time: fit time on 10 thousand and 10 million generated sessions.

Run from the repository root: .venv/bin/python benchmarks/bench_rows.py

The purchase-rate models see per-cell counts only (sessions and purchases per segment × month),
so once the rows are counted, fitting should take about as long for 10 million rows as for
10 thousand. For each size:
1. generate: shopper_bayes.generate.generate("sessions", rows, seed 1) to Parquet in a temporary
   folder, deleted at the end (timed, reported apart: it is not part of an analysis);
2. aggregate: one DuckDB SQL query on the Parquet file, SELECT CustomerType, Month, count(*),
   sum(Purchase) ... GROUP BY, timed (best of AGG_REPEATS); the 20 rows become the xarray counts
   Dataset the models take (dims segment and month, as counts.segment_counts makes it);
3. fit: both models (independent, hierarchical) with nutpie and the config's sampler settings
   through purchase_rates.build_model and fit.sample, timed as one call.
The project's own loader (sessions.load_sessions) reads rows into pandas and is not meant for
10 million rows; this measures the DuckDB aggregation path instead. For the 10,000-row file the
DuckDB counts are checked against a pandas groupby on the same file and against the project's
own load_sessions + segment_counts (asserted equal).

Fits run in one process. The counts are constants in the model's graph, so the first fit on a
new counts Dataset compiles more than later ones (PyTensor's numba cache is keyed by the graph):
before timing, each model is fitted once untimed on each size; then each model is fitted
FIT_REPEATS times on each size, the order of the two sizes alternating. Every fit builds a new
model object, which nutpie compiles again, on both sizes alike. No assertions on times.
"""

from __future__ import annotations

import logging
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import xarray as xr

from shopper_bayes.analyses.purchase_rates import model as purchase_rates
from shopper_bayes.datasets.cleaning import MONTHS, normalise_month
from shopper_bayes.config import load_config
from shopper_bayes.engine.cells import segment_counts
from shopper_bayes.generate import generate
from shopper_bayes.datasets.sessions import load_sessions
from shopper_bayes.inference import fit

SIZES = (10_000, 10_000_000)
SEED = 1
AGG_REPEATS = 3
FIT_REPEATS = 3
QUERY = """
    SELECT CustomerType AS segment, Month AS month, count(*) AS sessions, sum(Purchase) AS purchases
    FROM read_parquet($path)
    GROUP BY CustomerType, Month
"""


def aggregate(path: Path) -> tuple[pd.DataFrame, float]:
    """Per-cell counts by DuckDB on the Parquet file, and the best time of AGG_REPEATS (connect included)."""
    times = []
    for _ in range(AGG_REPEATS):
        start = time.perf_counter()
        with duckdb.connect() as con:
            table = con.execute(QUERY, {"path": str(path)}).df()
        times.append(time.perf_counter() - start)
    return table, min(times)


def counts_dataset(table: pd.DataFrame) -> xr.Dataset:
    """The counts Dataset of counts.segment_counts from rows (segment, month, sessions, purchases).

    Months become Jan..Dec as the project's cleaning writes them (the generator spells June out) and
    are put in calendar order, segments in text order; a cell with no rows has zero sessions.
    """
    table = table.assign(month=[normalise_month(str(m)) for m in table["month"]])
    segments = sorted(table["segment"].unique().tolist())
    months = sorted(table["month"].unique().tolist(), key=MONTHS.index)
    full = pd.MultiIndex.from_product([segments, months], names=["segment", "month"])
    cells = table.groupby(["segment", "month"])[["sessions", "purchases"]].sum().reindex(full, fill_value=0)
    shape = (len(segments), len(months))
    data = {name: (("segment", "month"), cells[name].to_numpy(dtype=np.int64).reshape(shape))
            for name in ("sessions", "purchases")}
    return xr.Dataset(data, coords={"segment": np.asarray(segments, dtype=object),
                                    "month": np.asarray(months, dtype=object)})


def assert_same_counts(a: xr.Dataset, b: xr.Dataset, what: str) -> None:
    for dim in ("segment", "month"):
        assert a[dim].values.tolist() == b[dim].values.tolist(), f"{what}: {dim} levels differ"
    for name in ("sessions", "purchases"):
        assert a[name].dims == b[name].dims and np.array_equal(a[name].values, b[name].values), f"{what}: {name} differ"


def check_small(path: Path, counts: xr.Dataset, config) -> None:
    """The DuckDB counts of the small file against pandas groupby and the project's own loader."""
    frame = pd.read_parquet(path, columns=["CustomerType", "Month", "Purchase"])
    grouped = (frame.groupby(["CustomerType", "Month"])["Purchase"].agg(["size", "sum"]).reset_index()
               .set_axis(["segment", "month", "sessions", "purchases"], axis=1))
    assert_same_counts(counts, counts_dataset(grouped), "DuckDB vs pandas groupby")
    sessions = config.sessions.model_copy(update={"path": path, "filter": {}})
    loaded = load_sessions(sessions, labels=["segment", "month"])
    assert_same_counts(counts, segment_counts(loaded.frame, ["segment", "month"]), "DuckDB vs load_sessions")


def fit_once(counts: xr.Dataset, config, sampler, model: str) -> dict:
    import arviz_stats as azs

    start = time.perf_counter()
    tree = fit.sample(purchase_rates.build_model(counts, config.rates, model), sampler, config.seed)
    seconds = time.perf_counter() - start
    ess = azs.ess(tree.posterior.to_dataset(), method="bulk")
    return {"seconds": seconds, "min_ess_bulk": min(float(ess[v].min()) for v in ess.data_vars),
            "divergences": int(tree.sample_stats["diverging"].sum()),
            "steps_per_draw": float(tree.sample_stats["n_steps"].mean())}


def span(values, digits: int = 1) -> str:
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return low if low == high else f"{low}-{high}"


def main() -> None:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from importlib.metadata import version

    print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
          + ", ".join(f"{n} {version(n)}" for n in ("duckdb", "pymc", "nutpie", "pyarrow", "pandas")))
    started = time.perf_counter()
    config = load_config("config.yaml")
    config = config.model_copy(update={"rates": config.rates.model_copy(update={"segments": ["segment", "month"]})})
    sampler = config.sampler.model_copy(update={"backend": "nutpie"})
    counts, gen_seconds, agg_seconds, file_mib = {}, {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-rows-") as folder:
        for rows in SIZES:
            path = Path(folder) / f"sessions_{rows}.parquet"
            start = time.perf_counter()
            generate("sessions", rows, SEED, path)
            gen_seconds[rows] = time.perf_counter() - start
            file_mib[rows] = path.stat().st_size / 2**20
            table, agg_seconds[rows] = aggregate(path)
            counts[rows] = counts_dataset(table)
            assert int(counts[rows]["sessions"].sum()) == rows
            if rows == min(SIZES):
                check_small(path, counts[rows], config)
                print(f"{rows:,} rows: DuckDB counts equal pandas groupby and load_sessions + segment_counts")
            path.unlink()
    print(f"cells: {counts[SIZES[0]]['sessions'].size} (segment × month); sampler: nutpie, {sampler.chains} chains, "
          f"{sampler.draws} draws, {sampler.tune} tune, target_accept {sampler.target_accept}")

    fits = {(model, rows): [] for model in purchase_rates.MODELS for rows in SIZES}
    for model in purchase_rates.MODELS:
        for rows in SIZES:  # warm-up, untimed: the first fit on new counts compiles more
            fit_once(counts[rows], config, sampler, model)
        for repeat in range(FIT_REPEATS):
            for rows in (SIZES if repeat % 2 == 0 else SIZES[::-1]):
                result = fit_once(counts[rows], config, sampler, model)
                fits[model, rows].append(result)
                print(f"  {model}, {rows:,} rows, fit {repeat + 1}: {result['seconds']:.1f} s, min bulk ESS "
                      f"{result['min_ess_bulk']:.0f}, {result['divergences']} divergences, "
                      f"{result['steps_per_draw']:.1f} steps per draw", flush=True)

    print()
    header = (f"{'rows':>12} {'file MiB':>9} {'generate s':>11} {'DuckDB agg s':>13} "
              + " ".join(f"{'fit ' + m + ' s':>20}" for m in purchase_rates.MODELS))
    print(header)
    print("-" * len(header))
    for rows in SIZES:
        print(f"{rows:>12,} {file_mib[rows]:>9.1f} {gen_seconds[rows]:>11.1f} {agg_seconds[rows]:>13.3f} "
              + " ".join(f"{span([f['seconds'] for f in fits[m, rows]]):>20}" for m in purchase_rates.MODELS))
    small, large = SIZES
    for model in purchase_rates.MODELS:
        ratios = [b["seconds"] / a["seconds"] for a, b in zip(fits[model, small], fits[model, large])]
        print(f"fit({large:,}) / fit({small:,}), {model}: {span(ratios, 2)} (per repeat); "
              f"min bulk ESS {span([f['min_ess_bulk'] for f in fits[model, small]], 0)} vs "
              f"{span([f['min_ess_bulk'] for f in fits[model, large]], 0)}, steps per draw "
              f"{span([f['steps_per_draw'] for f in fits[model, small]])} vs "
              f"{span([f['steps_per_draw'] for f in fits[model, large]])}")
    print(f"DuckDB aggregation {large:,} / {small:,} rows: {agg_seconds[large] / agg_seconds[small]:.0f}x")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

"""Per-customer predictions and the holdout check, from posterior draws, in bounded memory.

Everything is computed on arrays of (customers in a chunk) x (draws), never on the whole
customers x draws array: per-customer summaries are reduced chunk by chunk, totals are summed per
draw. The customers' rows stay in the engine and come through in batches, ordered by their
(frequency, recency, T); the per-customer table is written batch by batch. The expected purchases of a customer alive at T depend on the customer only through
(frequency, T), so they are computed once per distinct pair; P(alive) depends on it through
(frequency, recency, T), computed once per distinct triple; the expected spend is linear in the
mean spend given the frequency. ``model`` is the purchase model
(``purchases.BgNbd`` or ``purchases.ParetoNbd``).
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from shopper_bayes.analyses.clv.model import spend_coefficients
from shopper_bayes.analyses.clv.rfm import DAYS_PER_UNIT

DAYS_PER_MONTH = 30.4375
CHUNK_ELEMENTS = 2_000_000  # customers x draws per chunk: about 16 MB per float array
FREQUENCY_GROUPS = 8  # 0, 1, ..., 6 and 7+ repeat purchases in the calibration period


def thin(posterior: xr.DataTree | xr.Dataset, names, count: int) -> dict[str, np.ndarray]:
    """``count`` draws (or all, when fewer) evenly spaced over the chains' stacked draws."""
    stacked = {name: np.asarray(posterior[name].values, dtype="float64").reshape(-1) for name in names}
    total = len(next(iter(stacked.values())))
    keep = np.unique(np.linspace(0, total - 1, min(count, total)).round().astype(int))
    return {name: values[keep] for name, values in stacked.items()}


def _draws(params: dict[str, np.ndarray], names, axis: int = 0) -> dict[str, np.ndarray]:
    """The parameters ``names`` with draws along ``axis`` of a 2-d array, ready to broadcast."""
    return {name: np.expand_dims(params[name], 1 - axis) for name in names}


def in_threads(function, items):
    """``function`` over ``items`` on a thread per core, the results in the items' order (so sums over them come
    out the same whatever the threads' timing). NumPy releases the GIL in its random draws, arithmetic and
    partitions: 1.5x on 2 cores for these chunks."""
    threads = os.cpu_count() or 1
    if threads == 1:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(threads) as pool:
        yield from pool.map(function, items)


def _chunks(total: int, draws: int):
    size = max(1, CHUNK_ELEMENTS // max(draws, 1))
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))


@dataclass
class PairTerms:
    """Per distinct (frequency, T) and draw: expected purchases if alive over the horizon and over
    the next quarter, and the discounted purchases of the CLV sum (before the P(alive) factor)."""

    index: pd.MultiIndex
    horizon: np.ndarray
    quarter: np.ndarray
    discounted: np.ndarray


def pair_terms(model, customers: pd.DataFrame, params: dict[str, np.ndarray], time_unit: str, horizon_months: int,
               discount_rate: float) -> PairTerms:
    """CLV = sum over months m = 1..H of (purchases in month m) x spend / (1 + discount_rate)^m,
    with months of 30.4375 days (PyMC-Marketing's ``customer_lifetime_value`` convention)."""
    pairs = pd.MultiIndex.from_frame(customers[["frequency", "T"]].drop_duplicates().sort_values(["frequency", "T"]))
    months = max(horizon_months, 3)
    unit = DAYS_PER_MONTH / DAYS_PER_UNIT[time_unit]
    draws = len(params["r"])
    out = {key: np.empty((len(pairs), draws)) for key in ("horizon", "quarter", "discounted")}
    x_all = pairs.get_level_values("frequency").to_numpy("float64")[:, None]
    T_all = pairs.get_level_values("T").to_numpy("float64")[:, None]
    v = _draws(params, model.params, axis=1)
    for part in _chunks(len(pairs), draws):
        x, T = x_all[part], T_all[part]
        previous = np.zeros((len(x), draws))
        discounted = np.zeros((len(x), draws))
        for month in range(1, months + 1):
            current = model.if_alive(month * unit, x, T, v)
            if month <= horizon_months:
                discounted += (current - previous) / (1 + discount_rate) ** month
            if month == horizon_months:
                out["horizon"][part] = current
            if month == 3:
                out["quarter"][part] = current
            previous = current
        out["discounted"][part] = discounted
    return PairTerms(pairs, **out)


def _summary(values: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and central interval over draws (axis 1); no interval from a single draw (MAP)."""
    mean = values.mean(axis=1)
    if values.shape[1] == 1:
        nan = np.full(len(values), np.nan)
        return mean, nan, nan
    lo, hi = np.quantile(values, [(1 - prob) / 2, (1 + prob) / 2], axis=1)
    return mean, lo, hi


@dataclass
class CustomerPredictions:
    """``path``: the Parquet file of one row per customer (summaries only), in the rows' order (``rfm.ORDER``);
    ``totals``: per draw, the number of customers alive, purchases in the next quarter and over the horizon,
    and CLV summed over customers; ``segments``: per segment (ranked by mean CLV) and draw, CLV summed over
    its customers; ``top``: the rows of the ``top`` customers by mean CLV."""

    path: Path
    totals: dict[str, np.ndarray]
    segments: dict[str, np.ndarray]
    segment_sizes: dict[str, int]
    top: pd.DataFrame
    triples: Triples  # the customers' triples, for the holdout simulation
    folder: tempfile.TemporaryDirectory | None = None  # holds ``path`` while this lives

    @property
    def table(self) -> pd.DataFrame:
        """The whole file (small tables)."""
        return pd.read_parquet(self.path)


def segment_names(shares: list[float]) -> list[str]:
    bounds = [0.0, *shares, 1.0]
    names = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if lo == 0:
            names.append(f"top {hi:.0%}")
        elif hi == 1:
            names.append(f"bottom {1 - lo:.0%}")
        else:
            names.append(f"{lo:.0%}–{hi:.0%}")
    return names


@dataclass
class Triples:
    """The distinct (frequency, recency, T) in order, with their customers (``size``): P(alive) depends on a
    customer through that triple only, so it is computed once per triple. The customers, in the rows' order,
    are the first triple's, then the second's, ...: customer k belongs to the triple whose run of
    ``size`` holds position k."""

    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    pair: np.ndarray  # per triple: its row of the pair terms
    size: np.ndarray

    @classmethod
    def of(cls, counts: pd.DataFrame, pairs: pd.MultiIndex | None = None) -> Triples:
        """From ``Customers.triples`` (sorted, with ``customers``)."""
        x, tx, T = (counts[name].to_numpy("float64") for name in ("frequency", "recency", "T"))
        pair = (pairs.get_indexer(pd.MultiIndex.from_arrays([counts["frequency"], counts["T"]]))
                if pairs is not None else np.zeros(len(x), dtype=np.intp))
        return cls(x, tx, T, pair, counts["customers"].to_numpy(np.int64))

    @property
    def customers(self) -> int:
        return int(self.size.sum())

    def __post_init__(self):
        self.ends = np.cumsum(self.size)  # one past each triple's last customer

    def at(self, positions: np.ndarray) -> np.ndarray:
        """The triple of each customer at ``positions`` of the rows' order."""
        return np.searchsorted(self.ends, positions, side="right")

    def runs(self, draws: int, start: int = 0, stop: int | None = None):
        """(positions relative to ``start``, their triples relative to the span, the span of triples): runs of
        the customers from ``start`` to ``stop``, about ``CHUNK_ELEMENTS / draws`` customers each."""
        stop = self.customers if stop is None else stop
        for part in _chunks(stop - start, draws):
            code = self.at(np.arange(start + part.start, start + part.stop))
            yield part, code - code[0], slice(code[0], code[-1] + 1)

    def alive(self, model, theta: dict, triples: slice) -> np.ndarray:
        """P(alive) of ``triples`` x draws (``theta``: draws along axis 1)."""
        return model.p_alive(self.x[triples, None], self.tx[triples, None], self.T[triples, None], theta)


def spend_terms(x_max: int, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`model.spend_coefficients` for x = 0..x_max (rows) and every draw (columns); x = 0 for the
    customers without positive spend, whose slope is then 0."""
    x = np.arange(x_max + 1, dtype="float64")[:, None]
    return spend_coefficients(x, *(params[name][None, :] for name in ("p", "q", "v")))


def _segment_codes(mean: np.ndarray, shares: list[float]) -> np.ndarray:
    """Each customer's segment: customers ranked by ``mean`` (highest first, ties in the rows' order), the
    first ``shares[0]`` of them in segment 0, up to ``shares[1]`` in segment 1, ..., the rest in the last."""
    total = len(mean)
    order = np.argsort(-mean, kind="stable")
    codes = np.full(total, len(shares), dtype=np.int8)
    previous = 0
    for code, share in enumerate(shares):
        k = int(np.floor(share * total))  # customers whose rank / total <= share, as a float comparison
        while k < total and (k + 1) / total <= share:
            k += 1
        while k > 0 and k / total > share:
            k -= 1
        codes[order[previous:k]] = code
        previous = max(previous, k)
    return codes


def customer_predictions(model, customers, params: dict[str, np.ndarray], terms: PairTerms, prob: float,
                         shares: list[float], top: int = 10) -> CustomerPredictions:
    """Per customer of ``customers`` (``rfm.Customers``): P(alive), expected purchases over the horizon,
    expected spend per purchase and CLV (mean and central interval over draws), written to a Parquet file
    batch by batch; per draw: totals and segment totals. P(alive) and the purchases are computed and
    summarised per (frequency, recency, T) triple. Three passes: the triples; the customers' mean spend, to
    rank them into segments (the mean CLV is linear in it given the triple); the customers' rows, written."""
    draws = len(params["r"])
    triples = Triples.of(customers.triples, terms.index)
    theta = _draws(params, model.params, axis=1)
    has_spend = "p" in params
    base, slope = spend_terms(int(triples.x.max(initial=0)), params) if has_spend else (None, None)
    totals = {name: np.zeros(draws) for name in ("alive", "quarter", "purchases", "clv")}
    per_triple = {f"{name}_{stat}": np.empty(len(triples.x)) for name in ("p_alive", "purchases")
                  for stat in ("mean", "lo", "hi")}
    mean_clv = {name: np.full(len(triples.x), np.nan) for name in ("base", "slope", "none")}  # E[CLV] = base + slope z
    for part in _chunks(len(triples.x), draws):
        alive = triples.alive(model, theta, part)
        size, pair = triples.size[part], triples.pair[part]
        purchases = terms.horizon[pair] * alive
        for name, values in (("p_alive", alive), ("purchases", purchases)):
            for stat, value in zip(("mean", "lo", "hi"), _summary(values, prob)):
                per_triple[f"{name}_{stat}"][part] = value
        totals["alive"] += size @ alive
        totals["quarter"] += size @ (terms.quarter[pair] * alive)
        totals["purchases"] += size @ purchases
        if has_spend:
            value, x = terms.discounted[pair] * alive, triples.x[part].astype(np.int64)
            mean_clv["base"][part] = (value * base[x]).mean(axis=1)
            mean_clv["slope"][part] = (value * slope[x]).mean(axis=1)
            mean_clv["none"][part] = (value * base[0]).mean(axis=1)
    mean = np.empty(triples.customers)
    start = 0
    for batch in customers.batches(("monetary_value",)):
        z, at = batch["monetary_value"].to_numpy("float64"), triples.at(np.arange(start, start + len(batch)))
        mean[start:start + len(z)] = np.where(z > 0, mean_clv["base"][at] + mean_clv["slope"][at] * z, mean_clv["none"][at])
        start += len(z)
    codes = _segment_codes(mean, shares)
    del mean
    names = segment_names(shares)
    segments = {name: np.zeros(draws) for name in names}
    folder = tempfile.TemporaryDirectory(prefix="shopper-bayes-clv-")
    path = Path(folder.name) / "customers_clv.parquet"
    best, writer, start = [], None, 0
    for batch in customers.batches():
        stop = start + len(batch)
        at = triples.at(np.arange(start, stop))
        for name, values in (("frequency", triples.x), ("recency", triples.tx), ("T", triples.T)):
            if not np.array_equal(batch[name].to_numpy("float64"), values[at]):
                raise RuntimeError("the customers' rows came out of the engine in another order than their triples")
        z = batch["monetary_value"].to_numpy("float64")
        x_spend = np.where(z > 0, batch["frequency"].to_numpy(np.int64), 0)
        columns = {}
        for name in ("p_alive", "purchases", "spend", "clv"):
            for stat in ("mean", "lo", "hi"):
                key = f"{name}_{stat}"
                columns[key] = per_triple[key][at] if key in per_triple else np.empty(len(batch))
        batch_codes = codes[start:stop]

        def run(chunk):
            part, within, span = chunk
            alive = triples.alive(model, theta, span)[within]
            if has_spend:
                spend = base[x_spend[part]] + slope[x_spend[part]] * z[part, None]
            else:
                spend = np.full(alive.shape, np.nan)
            clv = terms.discounted[triples.pair[span][within]] * alive * spend
            summaries = {name: _summary(values, prob) for name, values in (("spend", spend), ("clv", clv))}
            return part, summaries, clv.sum(axis=0), [clv[batch_codes[part] == code].sum(axis=0) for code in range(len(names))]

        for part, summaries, clv_sum, segment_sums in in_threads(run, triples.runs(draws, start, stop)):
            for name, values in summaries.items():
                for stat, value in zip(("mean", "lo", "hi"), values):
                    columns[f"{name}_{stat}"][part] = value
            totals["clv"] += clv_sum
            for name, value in zip(names, segment_sums):
                segments[name] += value
        if "holdout" in batch:
            columns["holdout_purchases"] = batch.pop("holdout").to_numpy()
        columns["segment"] = pd.Categorical.from_codes(codes[start:stop], names)
        frame = pd.concat([batch.reset_index(drop=True), pd.DataFrame(columns, copy=False)], axis=1)
        writer = writer or _Writer(path, frame)
        writer.write(frame)
        best.append(frame.nlargest(top, "clv_mean") if has_spend else frame.head(0))
        best = [pd.concat(best).nlargest(top, "clv_mean")]
        start = stop
    if writer is None:  # no customers: an empty file with the columns
        raise RuntimeError("no customers to predict")
    writer.close()
    sizes = {name: int(np.count_nonzero(codes == code)) for code, name in enumerate(names)}
    return CustomerPredictions(path, totals, segments, sizes, best[0].reset_index(drop=True), triples, folder)


class _Writer:
    """A Parquet file written a batch at a time, every batch with the first one's columns and types."""

    def __init__(self, path: Path, first: pd.DataFrame):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.schema = pa.Schema.from_pandas(first.head(0), preserve_index=False)
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        self.writer.write_table(pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False))

    def close(self) -> None:
        self.writer.close()


def alive_matrix(model, triples: Triples, params: dict[str, np.ndarray], cells: int = 40) -> xr.DataArray:
    """Posterior mean P(alive) on a grid of frequency x recency, for customers of the largest age T; frequencies
    up to the customers' 99th percentile (rounded up)."""
    T = float(triples.T.max())
    h = 0.99 * (triples.customers - 1)  # the percentile as pandas takes it: between the sorted values at floor(h) and next
    low, high = triples.x[triples.at(np.arange(int(h), min(int(h) + 2, triples.customers)))][[0, -1]]
    top = int(max(1, np.ceil(low + (h - int(h)) * (high - low))))
    frequency = np.arange(0, top + 1)
    recency = np.linspace(0, T, cells)
    x = frequency[:, None, None].astype("float64")
    tx = recency[None, :, None]
    v = {name: params[name][None, None, :] for name in model.params}
    mean = model.p_alive(x, tx, T, v).mean(axis=2)
    return xr.DataArray(mean, coords={"frequency": frequency, "recency": recency}, dims=("frequency", "recency"),
                        attrs={"T": T})


@dataclass
class HoldoutSimulation:
    """Per simulated data set: purchases per holdout period and per calibration-frequency group."""

    by_period: np.ndarray  # (draws, periods)
    by_frequency: np.ndarray  # (draws, FREQUENCY_GROUPS)


EVENTS_PER_PASS = 2_000_000  # purchase times drawn at once in the holdout simulation (frequent buyers make many)


def simulate_holdout(model, triples: Triples, params: dict[str, np.ndarray], length: float, periods: int,
                     seed: int) -> HoldoutSimulation:
    """Posterior predictive holdout purchases of the customers of ``triples``: one simulated holdout per
    posterior draw. The times of a customer's y purchases are the first y of the Poisson process's n event
    times, uniform over the window in which the customer can buy, drawn as order statistics (cumulated
    exponentials over a Gamma(n + 1) total). Each chunk of customers draws from its own stream of ``seed``."""
    draws = len(params["r"])
    theta = _draws(params, model.params, axis=1)
    v = _draws(params, model.params)
    draw_index = np.arange(draws)[:, None]

    def run(chunk):
        number, (_, at, spanned) = chunk
        rng = np.random.default_rng([seed, number])
        x, T = triples.x[spanned][None, at], triples.T[spanned][None, at]
        group = np.minimum(x[0], FREQUENCY_GROUPS - 1).astype(np.int64)
        alive = triples.alive(model, theta, spanned)[at].T
        bought, events, window = model.simulate(rng, length, x, alive, T, v)
        rows = np.broadcast_to(draw_index, bought.shape)
        cell = rows * FREQUENCY_GROUPS + group[None, :]
        by_frequency = np.bincount(cell.reshape(-1), weights=bought.reshape(-1), minlength=draws * FREQUENCY_GROUPS)
        some = bought.reshape(-1) > 0
        count, total_events = bought.reshape(-1)[some], events.reshape(-1)[some]
        row, span = rows.reshape(-1)[some], window.reshape(-1)[some]
        by_period = np.zeros(draws * periods, dtype=np.int64)
        ends = np.cumsum(count)
        first = 0
        while first < len(count):  # customers x draws whose purchases add up to at most EVENTS_PER_PASS (or one)
            last = max(first + 1, int(np.searchsorted(ends, (ends[first - 1] if first else 0) + EVENTS_PER_PASS, "right")))
            by_period += _periods(rng, count[first:last], total_events[first:last], row[first:last], span[first:last],
                                  draws, periods)
            first = last
        return by_frequency.reshape(draws, FREQUENCY_GROUPS).astype(np.int64), by_period.reshape(draws, periods)

    by_period = np.zeros((draws, periods), dtype=np.int64)
    by_frequency = np.zeros((draws, FREQUENCY_GROUPS), dtype=np.int64)
    for frequency_counts, period_counts in in_threads(run, enumerate(triples.runs(draws))):
        by_frequency += frequency_counts
        by_period += period_counts
    return HoldoutSimulation(by_period, by_frequency)


def _periods(rng, count, total_events, row, span, draws: int, periods: int) -> np.ndarray:
    """Purchases per (draw, holdout period), flattened, of customers x draws who bought ``count`` times of
    ``total_events`` Poisson events in windows ``span`` long (``row``: their draw)."""
    gaps = rng.standard_exponential(int(count.sum()))
    sums = np.cumsum(gaps)
    ends = np.cumsum(count)
    starts = ends - count
    before = np.where(starts > 0, sums[np.maximum(starts - 1, 0)], 0.0)
    within = sums - np.repeat(before, count)
    total = within[ends - 1] + rng.standard_gamma(total_events - count + 1)
    times = within / np.repeat(total, count) * np.repeat(span, count)
    period = np.minimum(times.astype(np.int64), periods - 1)
    return np.bincount(np.repeat(row, count) * periods + period, minlength=draws * periods)

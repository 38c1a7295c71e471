"""Per-customer predictions and the holdout check, from posterior draws, in bounded memory.

Everything is computed on arrays of (customers in a chunk) x (draws), never on the whole
customers x draws array: per-customer summaries are reduced chunk by chunk, totals are summed per
draw. The expected purchases of a customer alive at T depend on the customer only through
(frequency, T), so they are computed once per distinct pair; P(alive) depends on it through
(frequency, recency, T), computed once per distinct triple; the expected spend is linear in the
mean spend given the frequency. ``model`` is the purchase model
(``purchases.BgNbd`` or ``purchases.ParetoNbd``).
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """``table``: one row per customer (summaries only); ``totals``: per draw, the number of customers
    alive, purchases in the next quarter and over the horizon, and CLV summed over customers;
    ``segments``: per segment (ranked by mean CLV) and draw, CLV summed over its customers."""

    table: pd.DataFrame
    totals: dict[str, np.ndarray]
    segments: dict[str, np.ndarray]
    segment_sizes: dict[str, int]
    triples: Triples | None = None  # the customers' triples, for the holdout simulation


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
    """The customers grouped by their (frequency, recency, T): P(alive) depends on a customer through
    that triple only, so it is computed once per triple. ``code``: each customer's triple; ``order``:
    the customers sorted by triple (stable), so that a run of them spans a run of triples."""

    x: np.ndarray
    tx: np.ndarray
    T: np.ndarray
    pair: np.ndarray  # per triple: its row of the pair terms
    size: np.ndarray  # per triple: its customers
    code: np.ndarray
    order: np.ndarray

    @classmethod
    def of(cls, customers: pd.DataFrame, pairs: pd.MultiIndex | None = None) -> Triples:
        code, unique = pd.MultiIndex.from_frame(customers[["frequency", "recency", "T"]]).factorize()
        x, tx, T = (unique.get_level_values(level).to_numpy("float64") for level in range(3))
        pair = (pairs.get_indexer(pd.MultiIndex.from_arrays([unique.get_level_values(0), unique.get_level_values(2)]))
                if pairs is not None else np.zeros(len(unique), dtype=np.intp))
        return cls(x, tx, T, pair, np.bincount(code, minlength=len(unique)), code, np.argsort(code, kind="stable"))

    def runs(self, draws: int):
        """(customers, their triples' rows within ``triples``, triples): runs of the sorted customers, each about
        ``CHUNK_ELEMENTS / draws`` customers, with the range of triples they span."""
        for part in _chunks(len(self.order), draws):
            who = self.order[part]
            first, last = self.code[who[0]], self.code[who[-1]]
            yield who, self.code[who] - first, slice(first, last + 1)

    def alive(self, model, theta: dict, triples: slice) -> np.ndarray:
        """P(alive) of ``triples`` x draws (``theta``: draws along axis 1)."""
        return model.p_alive(self.x[triples, None], self.tx[triples, None], self.T[triples, None], theta)


def spend_terms(x_max: int, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`model.spend_coefficients` for x = 0..x_max (rows) and every draw (columns); x = 0 for the
    customers without positive spend, whose slope is then 0."""
    x = np.arange(x_max + 1, dtype="float64")[:, None]
    return spend_coefficients(x, *(params[name][None, :] for name in ("p", "q", "v")))


def customer_predictions(model, customers: pd.DataFrame, params: dict[str, np.ndarray], terms: PairTerms,
                         prob: float, shares: list[float]) -> CustomerPredictions:
    """Per customer: P(alive), expected purchases over the horizon, expected spend per purchase and CLV
    (mean and central interval over draws); per draw: totals and segment totals. P(alive) and the
    purchases are computed and summarised per (frequency, recency, T) triple."""
    draws = len(params["r"])
    triples = Triples.of(customers, terms.index)
    theta = _draws(params, model.params, axis=1)
    has_spend = "p" in params
    z_all = customers["monetary_value"].to_numpy("float64")
    x_spend = np.where(z_all > 0, customers["frequency"].to_numpy(np.int64), 0)
    base, slope = spend_terms(int(x_spend.max(initial=0)), params) if has_spend else (None, None)
    columns = {f"{name}_{stat}": np.empty(len(customers)) for name in ("p_alive", "purchases", "spend", "clv")
               for stat in ("mean", "lo", "hi")}
    totals = {name: np.zeros(draws) for name in ("alive", "quarter", "purchases", "clv")}
    per_triple = {f"{name}_{stat}": np.empty(len(triples.x)) for name in ("p_alive", "purchases")
                  for stat in ("mean", "lo", "hi")}
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
    for name, values in per_triple.items():
        columns[name][:] = values[triples.code]

    def clv_and_spend(who, at, span):
        alive = triples.alive(model, theta, span)[at]
        if not has_spend:
            spend = np.full(alive.shape, np.nan)
        else:
            spend = base[x_spend[who]] + slope[x_spend[who]] * z_all[who, None]
        return terms.discounted[triples.pair[span][at]] * alive * spend, spend

    for who, at, span in triples.runs(draws):
        clv, spend = clv_and_spend(who, at, span)
        for name, values in (("spend", spend), ("clv", clv)):
            for stat, value in zip(("mean", "lo", "hi"), _summary(values, prob)):
                columns[f"{name}_{stat}"][who] = value
        totals["clv"] += clv.sum(axis=0)
    # beside the customers' columns without copying either (``assign`` would copy twelve columns of every customer)
    table = pd.concat([customers.reset_index(drop=True), pd.DataFrame(columns, copy=False)], axis=1)
    names = segment_names(shares)
    rank = table["clv_mean"].rank(ascending=False, method="first").to_numpy() / len(table)
    segment = np.searchsorted(np.array([*shares, 1.0]), rank, side="left")
    table["segment"] = pd.Categorical.from_codes(np.minimum(segment, len(names) - 1), names)
    segments = {name: np.zeros(draws) for name in names}
    codes = table["segment"].cat.codes.to_numpy()
    for who, at, span in triples.runs(draws):
        clv, _ = clv_and_spend(who, at, span)
        for code, name in enumerate(names):
            segments[name] += clv[codes[who] == code].sum(axis=0)
    sizes = {name: int((codes == code).sum()) for code, name in enumerate(names)}
    return CustomerPredictions(table, totals, segments, sizes, triples)


def alive_matrix(model, customers: pd.DataFrame, params: dict[str, np.ndarray], cells: int = 40) -> xr.DataArray:
    """Posterior mean P(alive) on a grid of frequency x recency, for customers of the largest age T."""
    T = float(customers["T"].max())
    top = int(max(1, np.ceil(customers["frequency"].quantile(0.99))))
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


def simulate_holdout(model, customers: pd.DataFrame, params: dict[str, np.ndarray], length: float, periods: int,
                     seed: int, triples: Triples | None = None) -> HoldoutSimulation:
    """Posterior predictive holdout purchases: one simulated holdout per posterior draw. The times of a
    customer's y purchases are the first y of the Poisson process's n event times, uniform over the
    window in which the customer can buy, drawn as order statistics (cumulated exponentials over a
    Gamma(n + 1) total)."""
    rng = np.random.default_rng(seed)
    draws = len(params["r"])
    by_period = np.zeros((draws, periods), dtype=np.int64)
    by_frequency = np.zeros((draws, FREQUENCY_GROUPS), dtype=np.int64)
    triples = triples or Triples.of(customers)  # the predictions' (grouping 23 million customers takes GBs)
    x_all = customers["frequency"].to_numpy("float64")
    T_all = customers["T"].to_numpy("float64")
    group_all = np.minimum(customers["frequency"].to_numpy(), FREQUENCY_GROUPS - 1)
    theta = _draws(params, model.params, axis=1)
    v = _draws(params, model.params)
    draw_index = np.arange(draws)[:, None]
    for who, at, spanned in triples.runs(draws):
        x, T = x_all[None, who], T_all[None, who]
        alive = triples.alive(model, theta, spanned)[at].T
        bought, events, window = model.simulate(rng, length, x, alive, T, v)
        rows = np.broadcast_to(draw_index, bought.shape)
        cell = rows * FREQUENCY_GROUPS + group_all[None, who]
        by_frequency += np.bincount(cell.reshape(-1), weights=bought.reshape(-1),
                                    minlength=draws * FREQUENCY_GROUPS).reshape(draws, FREQUENCY_GROUPS).astype(np.int64)
        flat_bought, flat_events, flat_rows = bought.reshape(-1), events.reshape(-1), rows.reshape(-1)
        some = flat_bought > 0
        count, total_events, row, span = flat_bought[some], flat_events[some], flat_rows[some], window.reshape(-1)[some]
        gaps = rng.standard_exponential(int(count.sum()))
        sums = np.cumsum(gaps)
        ends = np.cumsum(count)
        starts = ends - count
        before = np.where(starts > 0, sums[np.maximum(starts - 1, 0)], 0.0)
        within = sums - np.repeat(before, count)
        total = within[ends - 1] + rng.standard_gamma(total_events - count + 1)
        times = within / np.repeat(total, count) * np.repeat(span, count)
        period = np.minimum(times.astype(np.int64), periods - 1)
        by_period += np.bincount(np.repeat(row, count) * periods + period, minlength=draws * periods).reshape(draws, periods)
    return HoldoutSimulation(by_period, by_frequency)

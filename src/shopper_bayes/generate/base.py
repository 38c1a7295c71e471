"""Mock data with planted structure, written beside its ground truth.

``shopper-bayes generate KIND --rows N --seed S --out PATH`` writes PATH (``.csv`` or ``.parquet``)
and PATH with the suffix ``.truth.json``: the generator's name and version, the seed, the rows and
every planted parameter, so an analysis of the file can be checked against the truth.

A generator is a class in :data:`GENERATORS` with ``name``, ``version``, ``schema``, ``table(seed,
start, stop)`` (rows ``start`` to ``stop - 1`` as an Arrow table) and ``parameters()`` (the planted
parameters as JSON-ready data). :func:`generate` writes any of them in chunks, so the rows are never
all in memory.

Randomness is counter based: every random quantity of a row (a "draw", numbered) is one uniform,
and row i's uniform for draw d is word i of a Philox stream keyed by (seed, d) (:func:`uniforms`).
Any range of rows can therefore be drawn on its own: the output depends on the kind, seed and rows
only, not on the chunk size, and the first n rows of a larger run are the same n rows.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from scipy.optimize import brentq
from scipy.special import expit, ndtri

from shopper_bayes import __version__
from shopper_bayes.errors import UserError

CHUNK_ROWS = 250_000
SUFFIXES = (".csv", ".parquet")


def uniforms(seed: int, draw: int, start: int, stop: int) -> np.ndarray:
    """Uniforms in (0, 1) of draw number ``draw`` for rows ``start`` to ``stop - 1``.

    Row i's value is word i of the Philox stream keyed by ``SeedSequence(seed).spawn(draw + 1)[draw]``
    (built directly as ``SeedSequence(seed, spawn_key=(draw,))``), as ``(its top 52 bits + 0.5) /
    2**52``. Philox makes four words per counter step, so the stream is entered at counter
    ``start // 4``.
    """
    key = np.random.SeedSequence(seed, spawn_key=(draw,)).generate_state(2, np.uint64)
    skip = start % 4
    words = np.random.Philox(key=key, counter=start // 4).random_raw(stop - start + skip)[skip:]
    values = (words >> np.uint64(12)).astype(np.float64)
    values += 0.5
    values *= 2.0**-52
    return values


def _pick(cumulative: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Category index by inverse CDF: the number of cumulative probabilities (last one left out) <= u."""
    return np.searchsorted(cumulative[:-1], u, side="right")


def _labels(names: list[str], index: np.ndarray) -> pa.Array:
    return pa.array(names, pa.string()).take(pa.array(index))


@dataclass(frozen=True)
class SessionsGenerator:
    """Sessions in the bundled file's schema with planted purchase rates and duration correlations.

    The data-generating model is :attr:`model`. Labels are spelled as in
    ``data/online_shopping_session_data.csv`` (its month set, without Jan and Apr, and ``June``
    spelled out). Unlike that file no duration is zero, so the correlations of the durations have
    the closed forms of :meth:`pearson` and :meth:`spearman`.
    """

    name = "sessions"
    version = 2
    # One uniform per draw and row; a draw's number is its position here (append, never reorder).
    draws = ("segment", "month", "weekend", "purchase", "duration 0", "duration 1", "duration 2",
             "seconds per page 0", "seconds per page 1", "seconds per page 2", "exit rate", "bounce is zero",
             "bounce share", "page value is positive", "page value", "special day")
    model = ("CustomerType ~ Categorical(segment_shares), Month ~ Categorical(month_shares), Weekend ~ "
             "Bernoulli(weekend_prob), independent; Purchase ~ Bernoulli(invlogit(purchase_intercept[segment][month] + "
             "sum_j purchase_coefficients[j] * x_j)) with x_j = log(1 + seconds) for a duration, the rate itself for "
             "BounceRates and ExitRates, 1 for Weekend TRUE (else 0); purchase_intercept is set so that the purchase "
             "rate of each cell, averaged over the behaviour, is purchase_rate = base_rate[segment] * "
             "month_effect[month] (solved on purchase_calibration_rows sessions of a fixed stream). The three durations are "
             "exp(log_mean + log_sd * z) with z standard normal, correlation latent_correlation (a Gaussian "
             "copula with lognormal marginals); page counts = max(1, round(duration / seconds per page)), "
             "seconds per page lognormal. ExitRates = exit_rate_max * Beta(1, exit_rate_beta); BounceRates = 0 "
             "with bounce_zero_prob, else ExitRates * Uniform(0, 1); PageValues > 0 with "
             "page_value_positive_prob[Purchase], then lognormal; SpecialDay from special_day_levels in "
             "special_day_months, else 0. Durations and PageValues rounded to 1e-6, rates to 1e-9.")

    segment_column: str = "CustomerType"
    segment_shares: dict[str, float] = field(default_factory=lambda: {"Returning_Customer": 0.85, "New_Customer": 0.15})
    base_rate: dict[str, float] = field(default_factory=lambda: {"Returning_Customer": 0.15, "New_Customer": 0.25})
    month_shares: dict[str, float] = field(default_factory=lambda: {
        "Feb": 0.02, "Mar": 0.15, "May": 0.27, "June": 0.03, "Jul": 0.04,
        "Aug": 0.04, "Sep": 0.04, "Oct": 0.05, "Nov": 0.23, "Dec": 0.13})
    month_effect: dict[str, float] = field(default_factory=lambda: {
        "Feb": 0.2, "Mar": 0.7, "May": 0.75, "June": 0.7, "Jul": 1.0,
        "Aug": 1.1, "Sep": 1.2, "Oct": 1.3, "Nov": 1.6, "Dec": 0.8})
    weekend_prob: float = 0.23
    durations: tuple[str, ...] = ("Administrative_Duration", "Informational_Duration", "ProductRelated_Duration")
    counts: tuple[str, ...] = ("Administrative", "Informational", "ProductRelated")
    log_mean: tuple[float, ...] = (4.4, 4.0, 6.3)  # medians of about 81 s, 55 s and 545 s
    log_sd: tuple[float, ...] = (0.9, 1.0, 1.1)
    latent_correlation: tuple[tuple[float, ...], ...] = ((1.0, 0.3, 0.5), (0.3, 1.0, 0.4), (0.5, 0.4, 1.0))
    seconds_per_page_median: tuple[float, ...] = (25.0, 35.0, 30.0)
    seconds_per_page_log_sd: tuple[float, ...] = (0.9, 1.0, 0.7)
    exit_rate_max: float = 0.2  # ExitRates = max * Beta(1, exit_rate_beta)
    exit_rate_beta: float = 5.0
    bounce_zero_prob: float = 0.45  # else BounceRates = ExitRates * Uniform(0, 1)
    page_value_positive_prob: tuple[float, float] = (0.11, 0.8)  # by Purchase 0, 1; else PageValues = 0
    page_value_log_mean: tuple[float, float] = (2.3, 3.0)
    page_value_log_sd: float = 1.1
    special_day_months: tuple[str, ...] = ("Feb", "May")  # SpecialDay is 0 in the other months
    special_day_levels: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    special_day_probs: tuple[float, ...] = (0.6, 0.05, 0.07, 0.1, 0.1, 0.08)
    # Purchase on behaviour, logit scale: per unit of log(1 + seconds), of a rate, or Weekend TRUE.
    purchase_coefficients: dict[str, float] = field(default_factory=lambda: {
        "Administrative_Duration": 0.15, "Informational_Duration": 0.0, "ProductRelated_Duration": 0.45,
        "BounceRates": -6.0, "ExitRates": -12.0, "Weekend": 0.2})
    purchase_calibration_rows: int = 400_000
    purchase_calibration_seed: int = 917_263  # its own stream, so the intercepts do not depend on the seed

    @property
    def schema(self) -> pa.Schema:
        """The bundled file's columns in its order, each page count before its duration."""
        pages = []
        for count, duration in zip(self.counts, self.durations):
            pages += [pa.field(count, pa.int64()), pa.field(duration, pa.float64())]
        numbers = [pa.field(name, pa.float64()) for name in ("BounceRates", "ExitRates", "PageValues", "SpecialDay")]
        labels = [pa.field(name, pa.string()) for name in ("Weekend", "Month", self.segment_column)]
        return pa.schema([pa.field("SessionID", pa.int64()), *pages, *numbers, *labels, pa.field("Purchase", pa.int64())])

    def purchase_rate(self) -> dict[str, dict[str, float]]:
        """The planted rate of every segment × month cell."""
        return {segment: {month: base * effect for month, effect in self.month_effect.items()}
                for segment, base in self.base_rate.items()}

    def pearson(self) -> np.ndarray:
        """Pearson correlations of the durations: (exp(rho s1 s2) - 1) / sqrt((exp(s1²) - 1)(exp(s2²) - 1))."""
        rho, s = np.array(self.latent_correlation), np.array(self.log_sd)
        scale = np.expm1(s**2)
        return np.expm1(rho * np.outer(s, s)) / np.sqrt(np.outer(scale, scale))

    def spearman(self) -> np.ndarray:
        """Spearman correlations of the durations, those of the Gaussian copula: 6/pi arcsin(rho/2)."""
        return 6 / np.pi * np.arcsin(np.array(self.latent_correlation) / 2)

    def parameters(self) -> dict:
        """Every planted parameter, with the implied purchase rates and correlations."""
        rates = self.purchase_rate()
        months, segments = self.month_shares, self.segment_shares

        def matrix(values) -> dict[str, dict[str, float]]:
            return {a: dict(zip(self.durations, map(float, row))) for a, row in zip(self.durations, values)}

        return asdict(self) | {
            "purchase_intercept": self.purchase_intercept,
            "purchase_rate": rates,
            "purchase_rate_by_segment": {s: sum(months[m] * rates[s][m] for m in months) for s in segments},
            "purchase_rate_by_month": {m: sum(segments[s] * rates[s][m] for s in segments) for m in months},
            "latent_correlation": matrix(self.latent_correlation),
            "pearson": matrix(self.pearson()),
            "spearman": matrix(self.spearman()),
        }

    def _behaviour(self, u: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Durations, page counts, exit and bounce rates and the weekend flag from their uniforms."""
        z = ndtri(np.stack([u[f"duration {i}"] for i in range(3)]))
        latent = np.linalg.cholesky(np.array(self.latent_correlation)) @ z
        duration = np.exp(np.array(self.log_mean)[:, None] + np.array(self.log_sd)[:, None] * latent)
        z = ndtri(np.stack([u[f"seconds per page {i}"] for i in range(3)]))
        per_page = np.exp(np.log(self.seconds_per_page_median)[:, None] + np.array(self.seconds_per_page_log_sd)[:, None] * z)
        pages = np.maximum(1, np.rint(duration / per_page)).astype(np.int64)
        exit_rate = self.exit_rate_max * -np.expm1(np.log1p(-u["exit rate"]) / self.exit_rate_beta)
        bounce = np.where(u["bounce is zero"] < self.bounce_zero_prob, 0.0, exit_rate * u["bounce share"])
        return {"duration": np.round(duration, 6), "pages": pages, "ExitRates": np.round(exit_rate, 9),
                "BounceRates": np.round(bounce, 9), "Weekend": (u["weekend"] < self.weekend_prob).astype(np.float64)}

    def _linear_predictor(self, behaviour: dict[str, np.ndarray]) -> np.ndarray:
        """sum_j purchase_coefficients[j] * x_j of every session (the values as written to the file)."""
        values = {name: np.log1p(behaviour["duration"][i]) for i, name in enumerate(self.durations)}
        values |= {name: behaviour[name] for name in ("BounceRates", "ExitRates", "Weekend")}
        return sum(coefficient * values[name] for name, coefficient in self.purchase_coefficients.items())

    @cached_property
    def purchase_intercept(self) -> dict[str, dict[str, float]]:
        """Per cell, the logit intercept at which the purchase rate averaged over the behaviour is the
        planted rate: solved on the quantiles of the linear predictor of a fixed calibration sample."""
        rows = self.purchase_calibration_rows
        u = {name: uniforms(self.purchase_calibration_seed, number, 0, rows) for number, name in enumerate(self.draws)}
        spread = self._linear_predictor(self._behaviour(u))
        spread = np.quantile(spread, (np.arange(2_000) + 0.5) / 2_000)
        return {segment: {month: float(brentq(lambda a: expit(a + spread).mean() - rate, -30, 30, xtol=1e-12))
                          for month, rate in rates.items()}
                for segment, rates in self.purchase_rate().items()}

    def table(self, seed: int, start: int, stop: int) -> pa.Table:
        """Sessions ``start`` to ``stop - 1`` (SessionID ``start + 1`` to ``stop``)."""
        u = {name: uniforms(seed, number, start, stop) for number, name in enumerate(self.draws)}
        segments, months = list(self.segment_shares), list(self.month_shares)
        segment = _pick(np.cumsum(list(self.segment_shares.values())), u["segment"])
        month = _pick(np.cumsum(list(self.month_shares.values())), u["month"])
        behaviour = self._behaviour(u)
        intercept = np.array([[self.purchase_intercept[s][m] for m in months] for s in segments])[segment, month]
        purchase = (u["purchase"] < expit(intercept + self._linear_predictor(behaviour))).astype(np.int64)

        positive = u["page value is positive"] < np.array(self.page_value_positive_prob)[purchase]
        value = np.exp(np.array(self.page_value_log_mean)[purchase] + self.page_value_log_sd * ndtri(u["page value"]))
        page_value = np.where(positive, value, 0.0)
        special = np.array(self.special_day_levels)[_pick(np.cumsum(self.special_day_probs), u["special day"])]
        special[~np.isin(month, [months.index(m) for m in self.special_day_months])] = 0.0

        columns = {"SessionID": np.arange(start + 1, stop + 1, dtype=np.int64)}
        for i, (count_name, duration_name) in enumerate(zip(self.counts, self.durations)):
            columns[count_name], columns[duration_name] = behaviour["pages"][i], behaviour["duration"][i]
        columns |= {"BounceRates": behaviour["BounceRates"], "ExitRates": behaviour["ExitRates"],
                    "PageValues": np.round(page_value, 6), "SpecialDay": special,
                    "Weekend": _labels(["FALSE", "TRUE"], behaviour["Weekend"].astype(np.int8)),
                    "Month": _labels(months, month), self.segment_column: _labels(segments, segment), "Purchase": purchase}
        return pa.table(columns, schema=self.schema)


GENERATORS = {generator.name: generator for generator in (SessionsGenerator,)}


@dataclass
class Written:
    """What :func:`generate` wrote."""

    rows: int
    path: Path
    truth_path: Path


def truth_path(out: Path) -> Path:
    """``sessions.parquet`` → ``sessions.truth.json``."""
    return out.with_suffix(".truth.json")


def generate(kind: str, rows: int, seed: int, out: str | Path, chunk_rows: int = CHUNK_ROWS) -> Written:
    """Write ``rows`` rows of mock data ``kind`` to ``out`` and the ground truth beside it.

    Both files are written into a temporary folder beside ``out`` and renamed into place at the end,
    so a failed run leaves no half file.
    """
    out = Path(out)
    if kind not in GENERATORS:
        raise UserError("kind", f"unknown kind {kind!r}", f"choose one of: {', '.join(GENERATORS)}")
    if rows < 1:
        raise UserError("--rows", f"must be at least 1 (got {rows})", "give the number of rows to generate")
    if seed < 0:
        raise UserError("--seed", f"must be 0 or more (got {seed})", "give a non-negative seed")
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError("--out", f"{out} does not end in .csv or .parquet", "name the output file *.csv or *.parquet")
    for path in (out, truth_path(out)):
        if path.is_dir():
            raise UserError("--out", f"{path} is a folder", "give another file name or move the folder")
    if not out.parent.is_dir():
        raise UserError("--out", f"folder {out.parent} does not exist", "create it first or choose another folder")

    generator = GENERATORS[kind]()
    truth = {"generator": generator.name, "generator_version": generator.version, "package_version": __version__,
             "seed": seed, "rows": rows, "model": generator.model, "parameters": generator.parameters()}
    tally = generator.tally() if hasattr(generator, "tally") else None  # truths that depend on what was drawn

    def chunks():
        for start in range(0, rows, chunk_rows):
            table = generator.table(seed, start, min(start + chunk_rows, rows))
            if tally is not None:
                tally.add(table)
            yield table

    try:
        staging = Path(tempfile.mkdtemp(prefix=".shopper-bayes-", dir=out.parent))
    except OSError as exc:
        raise UserError("--out", f"cannot write in folder {out.parent} ({exc.strerror})",
                        "choose a folder you can write to") from None
    try:
        (_write_parquet if suffix == ".parquet" else _write_csv)(chunks(), generator.schema, staging / out.name)
        if tally is not None:
            truth |= tally.result()
        (staging / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
        os.replace(staging / "truth.json", truth_path(out))
        os.replace(staging / out.name, out)
    except OSError as exc:
        raise UserError("--out", f"cannot write {out} ({exc.strerror or exc})",
                        "free disk space or choose another folder") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Written(rows, out, truth_path(out))


def _write_parquet(chunks, schema: pa.Schema, path: Path) -> None:
    """One row group per chunk; only text columns dictionary-encoded (trying it on the many distinct
    numbers made writing about 2.5 times slower)."""
    labels = [column.name for column in schema if pa.types.is_string(column.type)]
    with pq.ParquetWriter(path, schema, use_dictionary=labels) as writer:
        for chunk in chunks:
            writer.write_table(chunk)


def _write_csv(chunks, schema: pa.Schema, path: Path) -> None:
    """Comma-separated, header unquoted, no quoting (no label holds a comma or quote), ``\\n`` line ends."""
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    with path.open("wb") as handle:
        handle.write((",".join(schema.names) + "\n").encode("utf-8"))
        for chunk in chunks:
            pa_csv.write_csv(chunk, handle, options)

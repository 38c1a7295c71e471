"""The design matrix of the drivers model: seeded holdout split, transforms, standardisation.

Numeric inputs are standardised with the training rows' mean and sd (after log(1 + x) where
configured), so a coefficient is per sd. A column in ``squared`` also gets the square of that
standardised value, centred and scaled to sd 1 (a U- or hump-shaped association). Each level of a
label column is a 0/1 indicator against the most frequent training level, centred but not scaled, so
a coefficient is per level; so is ``<column> > 0`` for a column in ``positive`` (levels ``positive`` /
``zero``) and each pair of levels of two label columns named in ``interactions``. A numeric column
paired with a label column in ``interactions`` gets its standardised value times each level's
indicator, centred: the extra slope per sd among sessions at that level. A column that is constant
in the training rows carries no information: it is left out, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from shopper_bayes.analyses.drivers.config import DriversSettings


@dataclass
class Term:
    """One column of the design: value = (raw - center) / scale. ``numeric``: raw is z ** power with z
    the column's standardised value (x, or log(1 + x) when ``logged``, minus ``base[0]``, over
    ``base[1]``: the training mean and sd); otherwise raw is 1. Either way raw is 0 for sessions
    outside the ``factors`` (label column -> level) it is restricted to."""

    name: str
    column: str
    level: str | None
    reference: str | None
    transform: str  # "log(1 + x)" or "x" (numeric), "square", "indicator" or "interaction"
    center: float
    scale: float  # 1 except for a square, scaled to sd 1
    factors: dict[str, str] = field(default_factory=dict)  # label column -> its level in this term
    logged: bool = False
    numeric: bool = False
    power: int = 1
    base: tuple[float, float] = (0.0, 1.0)  # training mean and sd of the (logged) column

    def standardised(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[self.column].to_numpy(dtype=float)
        return ((np.log1p(values) if self.logged else values) - self.base[0]) / self.base[1]

    def hit(self, frame: pd.DataFrame) -> np.ndarray:
        hit = np.ones(len(frame), dtype=bool)
        for column, level in self.factors.items():
            hit &= (frame[column].astype(str) == level).to_numpy()
        return hit

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """The term's values before centring and scaling."""
        if not self.numeric:
            return self.hit(frame).astype(float)
        return self.standardised(frame) ** self.power * self.hit(frame)

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.raw(frame) - self.center) / self.scale

    def per_sd(self, frame: pd.DataFrame) -> np.ndarray:
        """d value / d z per session: how the term moves with one sd of its numeric column."""
        z = self.standardised(frame)
        return self.power * z ** (self.power - 1) * self.hit(frame) / self.scale


@dataclass
class Design:
    terms: list[Term]
    train_frame: pd.DataFrame
    train: np.ndarray  # sessions x terms
    test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    baseline_train: np.ndarray  # the baseline column's level per session
    references: dict[str, str] = field(default_factory=dict)  # label column -> reference level
    notes: list[str] = field(default_factory=list)


def split(n: int, holdout: float, max_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Row indices of the training and held-out sessions: at most ``max_rows`` sessions drawn at random
    (seeded), of which round(holdout x n) are held out. Returns (train, test, rows used)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, max_rows, replace=False)) if n > max_rows else np.arange(n)
    order = rng.permutation(len(rows))
    n_test = int(round(holdout * len(rows)))
    return np.sort(rows[order[n_test:]]), np.sort(rows[order[:n_test]]), len(rows)


def positive_column(column: str) -> str:
    return f"{column} > 0"


def with_indicators(frame: pd.DataFrame, settings: DriversSettings) -> pd.DataFrame:
    """``frame`` with a label column ``<column> > 0`` (``positive`` / ``zero``) per column in ``positive``."""
    out = frame.copy()
    for column in settings.positive:
        out[positive_column(column)] = np.where(frame[column] > 0, "positive", "zero")
    return out


def _levels(train: pd.DataFrame, column: str) -> tuple[str, list[str]] | None:
    """The reference (most frequent training level; ``zero`` for an indicator) and the other levels."""
    counts = train[column].astype(str).value_counts()
    if len(counts) < 2:
        return None
    reference = sorted(counts.index, key=lambda level: (-counts[level], level))[0]
    return reference, sorted(level for level in counts.index if level != reference)


def build(frame: pd.DataFrame, settings: DriversSettings, seed: int, total: int | None = None) -> Design:
    """Split ``frame`` (columns ``purchase`` and the inputs) and build the standardised design.
    ``total``: the sessions ``frame`` was sampled from, when the engine drew it (default: its rows)."""
    frame = with_indicators(frame, settings)
    train_rows, test_rows, used = split(len(frame), settings.holdout, settings.max_rows, seed)
    notes = []
    total = len(frame) if total is None else total
    if used < total:
        notes.append(f"fitted on a random sample of {used:,} of {total:,} sessions (drivers.max_rows; seed {seed})")
    train, test = frame.iloc[train_rows].reset_index(drop=True), frame.iloc[test_rows].reset_index(drop=True)
    terms: list[Term] = []
    numeric: dict[str, Term] = {}
    for column in settings.numeric:
        logged = column in settings.log
        term = Term(column, column, None, None, "log(1 + x)" if logged else "x", 0.0, 1.0, logged=logged, numeric=True)
        x = term.standardised(train)
        sd = float(x.std(ddof=1)) if len(x) > 1 else 0.0
        if not sd > 0:
            notes.append(f"{column} is constant ({train[column].iloc[0]:g}) in the sessions used: left out of the model")
            continue
        term.base = (float(x.mean()), sd)
        numeric[column] = term
        terms.append(term)
    for column in settings.squared:
        if column in numeric:
            terms.append(replace(numeric[column], name=f"{column}²", transform="square", power=2))
    references = {}
    labels = [*settings.categorical, *map(positive_column, settings.positive)]
    for column in labels:
        levels = _levels(train, column)
        if levels is None:
            notes.append(f"{column} has one value ({train[column].iloc[0]}) in the sessions used: left out of the model")
            continue
        reference, others = levels
        references[column] = reference
        unseen = sorted(set(test[column].astype(str)) - set(others) - {reference})
        if unseen:
            notes.append(f"{column}: level(s) {', '.join(unseen)} only among held-out sessions, predicted as {reference}")
        terms += [Term(f"{column}: {level}", column, level, reference, "indicator", 0.0, 1.0, {column: level})
                  for level in others]
    for first, second in settings.interactions:
        if first in settings.numeric or second in settings.numeric:
            column, label = (first, second) if first in settings.numeric else (second, first)
            if column not in numeric or label not in references:
                continue
            candidates = [replace(numeric[column], name=f"{column} × {label}: {level}", level=level,
                                  reference=references[label], transform="interaction", factors={label: level})
                          for level in _levels(train, label)[1]]
        elif first in references and second in references:
            candidates = [Term(f"{first}: {a} × {second}: {b}", first, a, references[first], "interaction", 0.0, 1.0,
                               {first: a, second: b})
                          for a in _levels(train, first)[1] for b in _levels(train, second)[1]]
        else:
            continue
        terms += [term for term in candidates if term.raw(train).std() > 0]
    for term in terms:
        raw = term.raw(train)
        term.center = float(raw.mean())
        if term.transform == "square":
            term.scale = float(raw.std(ddof=1))

    def matrix(part: pd.DataFrame) -> np.ndarray:
        return np.column_stack([term.values(part) for term in terms]) if terms else np.zeros((len(part), 0))

    return Design(terms, train, matrix(train), matrix(test), train["purchase"].to_numpy(dtype=np.int64),
                  test["purchase"].to_numpy(dtype=np.int64), train[settings.baseline].astype(str).to_numpy(),
                  references, notes)

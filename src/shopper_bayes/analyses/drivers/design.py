"""The design matrix of the drivers model: seeded holdout split, transforms, standardisation.

Numeric inputs are standardised with the training rows' mean and sd (after log(1 + x) where
configured), so a coefficient is per sd. Each level of a label column is a 0/1 indicator against
the most frequent training level, centred but not scaled, so a coefficient is per level; so is
``<column> > 0`` for a column in ``positive`` (levels ``positive`` / ``zero``) and each pair of
levels of two label columns named in ``interactions``. A column that is constant in the training
rows carries no information: it is left out, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shopper_bayes.analyses.drivers.config import DriversSettings


@dataclass
class Term:
    """One column of the design. ``factors``: the label columns it depends on (none for a numeric input)."""

    name: str
    column: str
    level: str | None
    reference: str | None
    transform: str  # "log(1 + x)", "x", "indicator" or "interaction"
    center: float
    scale: float  # 1 sd of the (transformed) training values; 1 for an indicator
    factors: dict[str, str] = field(default_factory=dict)  # label column -> its level in this term
    logged: bool = False

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """The term's values before centring and scaling."""
        if not self.factors:
            values = frame[self.column].to_numpy(dtype=float)
            return np.log1p(values) if self.logged else values
        hit = np.ones(len(frame), dtype=bool)
        for column, level in self.factors.items():
            hit &= (frame[column].astype(str) == level).to_numpy()
        return hit.astype(float)

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.raw(frame) - self.center) / self.scale


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
        notes.append(f"fitted on a random sample of {used:,} of {total:,} sessions (drivers.max_rows)")
    train, test = frame.iloc[train_rows].reset_index(drop=True), frame.iloc[test_rows].reset_index(drop=True)
    terms: list[Term] = []
    for column in settings.numeric:
        logged = column in settings.log
        term = Term(column, column, None, None, "log(1 + x)" if logged else "x", 0.0, 1.0, logged=logged)
        x = term.raw(train)
        sd = float(x.std(ddof=1)) if len(x) > 1 else 0.0
        if not sd > 0:
            notes.append(f"{column} is constant ({train[column].iloc[0]:g}) in the sessions used: left out of the model")
            continue
        term.center, term.scale = float(x.mean()), sd
        terms.append(term)
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
        if first not in references or second not in references:
            continue
        for a in _levels(train, first)[1]:
            for b in _levels(train, second)[1]:
                term = Term(f"{first}: {a} × {second}: {b}", first, a, references[first], "interaction", 0.0, 1.0,
                            {first: a, second: b})
                if term.raw(train).any():
                    terms.append(term)
    for term in terms:
        if term.factors:
            term.center = float(term.raw(train).mean())

    def matrix(part: pd.DataFrame) -> np.ndarray:
        return np.column_stack([term.values(part) for term in terms]) if terms else np.zeros((len(part), 0))

    return Design(terms, train, matrix(train), matrix(test), train["purchase"].to_numpy(dtype=np.int64),
                  test["purchase"].to_numpy(dtype=np.int64), train[settings.baseline].astype(str).to_numpy(),
                  references, notes)

"""Explicit cleaning: every dropped or changed row is counted under a reason a user can read.

Rules are applied in order and a row is dropped for the first rule it breaks, so the counts in
``dropped`` add up to ``rows_read - rows_used``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

TRUE_FLAGS = frozenset({"1", "1.0", "true", "t", "yes", "y"})
FALSE_FLAGS = frozenset({"0", "0.0", "false", "f", "no", "n"})

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_FULL = ["january", "february", "march", "april", "may", "june", "july", "august",
         "september", "october", "november", "december"]
MONTH_ALIASES = {
    **{name.lower(): name for name in MONTHS},
    **{full: short for full, short in zip(_FULL, MONTHS)},
    **{str(number): short for number, short in enumerate(MONTHS, start=1)},
    **{f"{number:02d}": short for number, short in enumerate(MONTHS, start=1)},
    "sept": "Sep",
}


def normalise_month(value: str) -> str | None:
    """``'June'``, ``'jun'``, ``'6'`` → ``'Jun'``; anything else → None."""
    return MONTH_ALIASES.get(value.strip().lower())


@dataclass
class CleaningReport:
    """What cleaning did to one input file."""

    source: str
    rows_read: int
    rows_used: int
    dropped: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"source": self.source, "rows_read": self.rows_read, "rows_used": self.rows_used,
                "dropped": dict(self.dropped), "changed": dict(self.changed)}


class Cleaner:
    """Accumulates drop decisions on a frame of text columns, first broken rule wins."""

    def __init__(self, frame: pd.DataFrame, source: str):
        self.frame = frame
        self.source = source
        self.keep = np.ones(len(frame), dtype=bool)
        self.dropped: dict[str, int] = {}
        self.changed: dict[str, int] = {}

    def drop(self, mask, reason: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        count = int((mask & self.keep).sum())
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + count
        self.keep &= ~mask

    def note_change(self, mask, reason: str) -> None:
        count = int((np.asarray(mask, dtype=bool) & self.keep).sum())
        if count:
            self.changed[reason] = self.changed.get(reason, 0) + count

    def flag(self, column: str) -> pd.Series:
        """Parse a 0/1, true/false, yes/no column (any case) into 0/1, dropping the rest."""
        text = self.frame[column].str.strip().str.lower()
        self.drop(text.isna() | (text == ""), f"{column} missing")
        ones, zeros = text.isin(TRUE_FLAGS).fillna(False), text.isin(FALSE_FLAGS).fillna(False)
        self.drop(~(ones | zeros), f"{column} not a 0/1, true/false or yes/no flag")
        return pd.Series(np.where(ones, 1, 0).astype(np.int64), index=self.frame.index)

    def label(self, column: str) -> pd.Series:
        """A categorical label such as a customer type: stripped text, missing dropped."""
        text = self.frame[column].str.strip()
        self.drop(text.isna() | (text == ""), f"{column} missing")
        return text

    def month(self, column: str) -> pd.Series:
        text = self.frame[column].str.strip()
        self.drop(text.isna() | (text == ""), f"{column} missing")
        normal = text.map(normalise_month, na_action="ignore")
        self.drop(normal.isna(), f"{column} not a month name")
        self.note_change(normal.notna() & (normal != text), f"{column} spelling normalised (e.g. June -> Jun)")
        return normal

    def non_negative_number(self, column: str) -> pd.Series:
        text = self.frame[column].str.strip()
        self.drop(text.isna() | (text == ""), f"{column} missing")
        number = pd.to_numeric(text, errors="coerce").astype("float64")
        self.drop(number.isna() | ~np.isfinite(number), f"{column} not a number")
        self.drop(number < 0, f"{column} negative")
        return number

    def report(self) -> CleaningReport:
        return CleaningReport(self.source, len(self.frame), int(self.keep.sum()), self.dropped, self.changed)

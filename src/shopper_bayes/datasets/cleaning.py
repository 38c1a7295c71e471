"""Explicit cleaning: every dropped or changed row is counted under a reason a user can read.

Rules are applied in order and a row is dropped for the first rule it breaks, so the counts in
``dropped`` add up to ``rows_read - rows_used``. Surrounding whitespace is ignored in every value,
and an empty value or one of :data:`MISSING` (any case) counts as missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shopper_bayes.errors import UserError

TRUE_FLAGS = frozenset({"1", "1.0", "true", "t", "yes", "y"})
FALSE_FLAGS = frozenset({"0", "0.0", "false", "f", "no", "n"})
# Spreadsheet and pandas spellings of "no value", compared in lower case.
MISSING = frozenset({"", "na", "n/a", "#n/a", "nan", "null", "none", "<na>"})
# A digit, a comma, a digit: a decimal comma (12,5) or a thousands separator (1,234.5).
_COMMA_NUMBER = re.compile(r"\d,\d")

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

    def __init__(self, frame: pd.DataFrame, source: str, rejected: dict[str, int] | None = None):
        """``rejected``: rows the reader could not read, by reason; counted first, as dropped."""
        self.frame = frame
        self.source = source
        self.keep = np.ones(len(frame), dtype=bool)
        self.dropped: dict[str, int] = dict(rejected or {})
        self.changed: dict[str, int] = {}
        self.rows_read = len(frame) + sum(self.dropped.values())

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

    def text(self, column: str) -> pd.Series:
        """The column stripped of surrounding whitespace; rows with a missing value dropped."""
        text = self.frame[column].str.strip()
        self.drop((text.isna() | text.str.lower().isin(MISSING)).fillna(True), f"{column} missing")
        return text

    def flag(self, column: str) -> pd.Series:
        """Parse a 0/1, true/false, yes/no column (any case) into 0/1, dropping the rest."""
        text = self.text(column).str.lower()
        ones, zeros = text.isin(TRUE_FLAGS).fillna(False), text.isin(FALSE_FLAGS).fillna(False)
        self.drop(~(ones | zeros), f"{column} not a 0/1, true/false or yes/no flag")
        return pd.Series(np.where(ones, 1, 0).astype(np.int64), index=self.frame.index)

    def label(self, column: str) -> pd.Series:
        """A categorical label such as a customer type: stripped text, missing dropped."""
        return self.text(column)

    def month(self, column: str) -> pd.Series:
        text = self.text(column)
        # astype: when no value is a month, map gives a null-typed column that isin() cannot compare.
        normal = text.map(normalise_month, na_action="ignore").astype("string")
        self.drop(normal.isna(), f"{column} not a month name")
        self.note_change(normal.notna() & (normal != text), f"{column} spelling normalised (e.g. June -> Jun)")
        return normal

    def non_negative_number(self, column: str) -> pd.Series:
        """A number such as a duration; a decimal comma or thousands separator refuses the file.

        ``12,5`` may mean 12.5 or (as ``1,250``) twelve hundred and fifty: guessing could give a
        wrong number, and dropping every such row would bias the data, so the file is refused.
        """
        text = self.text(column)
        comma = text.str.contains(_COMMA_NUMBER).fillna(False)
        if comma.any():
            example, count = text[comma].iloc[0], int(comma.sum())
            raise UserError(f"{self.source}: column {column}",
                            f"{example!r} has a comma inside a number ({count} such value{'s' * (count != 1)})",
                            "export numbers with a dot as the decimal separator and no thousands separator")
        number = pd.to_numeric(text, errors="coerce").astype("float64")
        self.drop(number.isna() | ~np.isfinite(number), f"{column} not a number")
        self.drop(number < 0, f"{column} negative")
        return number

    def unique(self, column: str) -> None:
        """An id column such as a session id: missing dropped, and of the rows kept so far with
        the same id the first is kept and the later ones dropped as duplicates."""
        text = self.text(column)
        repeat = text.where(self.keep).duplicated(keep="first") & pd.Series(self.keep, index=text.index)
        self.drop(repeat.to_numpy(), f"duplicate {column}")

    def report(self) -> CleaningReport:
        return CleaningReport(self.source, self.rows_read, int(self.keep.sum()), self.dropped, self.changed)

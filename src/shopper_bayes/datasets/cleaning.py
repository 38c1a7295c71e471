"""Explicit cleaning: every dropped or changed row is counted under a reason a user can read.

The rules run in the engine (:mod:`shopper_bayes.engine.clean`); this module holds what they share:
the spellings of flags, missing values and months, and the :class:`CleaningReport`. Rules are
applied in order and a row is dropped for the first rule it breaks, so the counts in ``dropped``
add up to ``rows_read - rows_used``. Surrounding whitespace is ignored in every value, and an empty
value or one of :data:`MISSING` (any case) counts as missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field



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

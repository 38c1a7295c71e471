"""Property: whatever table the loader accepts, its counts are what a plain pandas computation gives.

Hypothesis writes small CSV files with purchase flags, segment labels and months in many spellings
(unicode, stray whitespace, delimiters and quotes inside labels, invalid and missing values, repeated
session ids), loads them with ``load_sessions`` and compares the sessions and purchases per segment
and the dropped counts by reason with the rules re-implemented here in pandas from the README.
"""

from __future__ import annotations

import csv
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shopper_bayes.config import load_config
from shopper_bayes.engine.cells import segment_counts
from shopper_bayes.errors import UserError
from shopper_bayes.datasets.sessions import load_sessions

COLUMNS = ["SessionID", "Administrative_Duration", "Month", "CustomerType", "Purchase"]

# The rules, written out again from the README's "Bad input" section.
MISSING = {"", "na", "n/a", "#n/a", "nan", "null", "none", "<na>"}
YES, NO = {"1", "1.0", "true", "t", "yes", "y"}, {"0", "0.0", "false", "f", "no", "n"}
MONTH_NUMBER = {name: number for number, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for name in names}
MONTH_NUMBER |= {str(n): n for n in range(1, 13)} | {f"{n:02d}": n for n in range(1, 13)}
KEPT_MONTHS = {11, 12}  # the default filter, Nov and Dec

purchases = st.sampled_from(["1", "0", "TRUE", "false", "Yes", "no", " y ", "N", "1.0", "0.0", "t", "F",
                             "maybe", "2", "", "NA", "-1", "yess", "null"])
months = st.sampled_from(["Nov", "nov", "November", "11", " 12 ", "Dec", "DECEMBER", "sept", "Jan", "June", "6",
                          "01", "Smarch", "13", "", "N/A", "nan"])
labels = st.one_of(
    st.sampled_from(["New_Customer", "Returning_Customer", " New_Customer ", "none", "NA", "", "  "]),
    st.text(alphabet="aZé ß中_ ,;|\"'\t\u00a0-", max_size=6),
)
durations = st.sampled_from(["0", "12.5", " 3 ", "-1", "-0.0", "abc", "", "1e3", "inf", "NaN", "+4", "007"])
session_ids = st.sampled_from(["1", "2", "3", " 3", "", "x", "null"])
tables = st.lists(st.tuples(session_ids, durations, months, labels, purchases), min_size=1, max_size=25)


def number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def expected(rows: list[tuple[str, ...]]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Kept rows (segment, purchase) and dropped counts by reason, first broken rule wins."""
    table = pd.DataFrame(rows, columns=COLUMNS, dtype=object).apply(lambda column: column.str.strip())
    lower = table.apply(lambda column: column.str.lower())
    missing = lower.isin(MISSING)
    month = lower["Month"].map(MONTH_NUMBER)
    value = table["Administrative_Duration"].map(number)
    checks = [
        ("Purchase missing", missing["Purchase"]),
        ("Purchase not a 0/1, true/false or yes/no flag", ~lower["Purchase"].isin(YES | NO)),
        ("CustomerType missing", missing["CustomerType"]),
        ("Month missing", missing["Month"]),
        ("Month not a month name", month.isna()),
        ("Administrative_Duration missing", missing["Administrative_Duration"]),
        ("Administrative_Duration not a number", value.isna()),
        ("Administrative_Duration negative", value.fillna(0) < 0),
        ("SessionID missing", missing["SessionID"]),
    ]
    reason = pd.Series(np.select([mask.to_numpy(bool) for _, mask in checks], [name for name, _ in checks], ""), index=table.index)
    ids = table.loc[reason == "", "SessionID"]  # of the rows valid so far, the first of each id is kept
    reason[ids.index[ids.groupby(ids).cumcount().to_numpy() > 0]] = "duplicate SessionID"
    reason[(reason == "") & ~month.isin(KEPT_MONTHS)] = "outside sessions.filter (month in Nov, Dec)"
    kept = table[reason == ""]
    kept = pd.DataFrame({"segment": kept["CustomerType"], "purchase": lower.loc[kept.index, "Purchase"].isin(YES).astype(int)})
    return kept, reason[reason != ""].value_counts().to_dict()


# derandomize: CI runs the same examples every time. When changing the loader, search wider once by
# hand with derandomize=False and max_examples in the thousands.
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(rows=tables)
# A lone ' in a label once made DuckDB sniff ' as the quote character and merge two lines.
@example(rows=[("1", "0", "Nov", "New_Customer", "1"), ("1", "0", "Nov", "'", "1"), ("1", "0", "Nov", "'", "1")])
def test_counts_match_a_plain_pandas_computation(rows):
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "sessions.csv"
        with data.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            writer.writerows(rows)
        config_path = Path(folder) / "config.yaml"
        config_path.write_text(yaml.safe_dump({"sessions": {"path": str(data)}}), encoding="utf-8")
        config = load_config(config_path)
        kept, dropped = expected(rows)
        if kept.empty:
            with pytest.raises(UserError, match="no rows left after cleaning and filtering"):
                load_sessions(config.sessions, labels=["segment"], numeric=["Administrative_Duration"])
            return
        sessions = load_sessions(config.sessions, labels=["segment"], numeric=["Administrative_Duration"])
        counts = segment_counts(sessions, ["segment"])  # counted by the engine, from the file

    report = sessions.cleaning
    assert (report.rows_read, report.rows_used) == (len(rows), len(kept))
    assert report.dropped == dropped
    got = {level: (int(n), int(k)) for level, n, k in zip(counts["segment"].values, counts["sessions"].values, counts["purchases"].values)}
    want = kept.groupby("segment")["purchase"].agg(["size", "sum"])
    assert got == {level: (int(row["size"]), int(row["sum"])) for level, row in want.iterrows()}

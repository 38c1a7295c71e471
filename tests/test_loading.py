"""Loading and cleaning: the original UCI layout, flag spellings, month names, counted drops."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import BUNDLED, write_config
from shopper_bayes.config import load_config
from shopper_bayes.errors import UserError
from shopper_bayes.datasets.sessions import load_sessions


def uci_layout(tmp_path):
    """The bundled data rewritten as the original UCI release: ';', Revenue TRUE/FALSE, VisitorType."""
    frame = pd.read_csv(BUNDLED).dropna(subset=["Purchase"])
    frame = frame.rename(columns={"CustomerType": "VisitorType", "Purchase": "Revenue"})
    frame["Revenue"] = frame["Revenue"].map({1.0: "TRUE", 0.0: "FALSE"})
    frame.loc[frame.index[:5], "VisitorType"] = "Other"
    path = tmp_path / "online_shoppers_intention.csv"
    frame.to_csv(path, sep=";", index=False)
    return path, frame


def test_original_uci_layout_just_works(tmp_path):
    path, frame = uci_layout(tmp_path)
    config = load_config(write_config(tmp_path, sessions={"path": str(path), "columns": {"purchase": "Revenue", "segment": "VisitorType"}}))
    sessions = load_sessions(config.sessions, labels=config.rates.segments)
    kept = frame[frame["Month"].isin(["Nov", "Dec"])]
    assert len(sessions.frame) == len(kept)
    assert sessions.frame["purchase"].sum() == (kept["Revenue"] == "TRUE").sum()
    assert set(sessions.frame["segment"]) == set(kept["VisitorType"])


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("0", 0), ("TRUE", 1), ("false", 0), ("Yes", 1), ("no", 0), (" True ", 1), ("1.0", 1)])
def test_purchase_flags(tmp_path, raw, expected):
    path = tmp_path / "s.csv"
    path.write_text(f"Purchase,CustomerType,Month\n{raw},New_Customer,November\n")
    sessions = load_sessions(load_config(write_config(tmp_path, sessions={"path": str(path)})).sessions, labels=["segment"])
    assert sessions.frame["purchase"].tolist() == [expected]
    assert sessions.frame["month"].tolist() == ["Nov"]


def test_bad_rows_are_dropped_and_counted_by_reason(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("Purchase,CustomerType,Month\n1,New_Customer,Nov\nmaybe,New_Customer,Nov\n,New_Customer,Dec\n"
                    "0,,Dec\n0,New_Customer,Smarch\n1,Returning_Customer,June\n0,Returning_Customer,dec\n")
    sessions = load_sessions(load_config(write_config(tmp_path, sessions={"path": str(path)})).sessions, labels=["segment"])
    report = sessions.cleaning
    assert report.rows_read == 7 and report.rows_used == 2
    assert report.dropped == {
        "Purchase not a 0/1, true/false or yes/no flag": 1, "Purchase missing": 1, "CustomerType missing": 1,
        "Month not a month name": 1, "outside sessions.filter (month in Nov, Dec)": 1,
    }
    assert sum(report.dropped.values()) == report.rows_read - report.rows_used


def test_filter_that_removes_every_row_is_an_error(tmp_path):
    config = load_config(write_config(tmp_path, sessions={"filter": {"month": ["Jan"]}}))
    with pytest.raises(UserError, match="no rows left after cleaning and filtering"):
        load_sessions(config.sessions, labels=config.rates.segments)


def test_console_escapes_control_characters_in_data_strings(bundled_result):
    import copy

    from shopper_bayes.engine.cells import segment_name
    from shopper_bayes.report.console import format_run

    _, result = bundled_result
    summary = copy.deepcopy(result.summary)
    hostile = {"New_Customer": {"segment": "New\x1b[2J_Customer"},
               "Returning_Customer": {"segment": "a\nb", "month": "Nov"}}
    rates = summary["purchase_rates"]
    for row in [*rates["rates"], *rates["best"], *(r for rows in rates["by_model"].values() for r in rows)]:
        row["segment"] = hostile[row["label"]]
        row["label"] = segment_name(row["segment"])
    for comparison in rates["comparisons"]:
        comparison["a"], comparison["b"] = hostile[segment_name(comparison["a"])], hostile[segment_name(comparison["b"])]
    summary["campaign"]["label"] = segment_name(hostile["Returning_Customer"])
    text = format_run(summary)
    assert "\x1b" not in text and "New\\x1b[2J_Customer" in text
    assert "a\\nb / Nov" in text
    assert all(line.isprintable() for line in text.splitlines())

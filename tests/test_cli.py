"""End to end through the command line, and the one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, write_config


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shopper_bayes.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_run_end_to_end_on_bundled_data(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["correlations"]["resamples"] = 1000
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "data").symlink_to(ROOT / "data")
    done = run_cli("run", "--config", str(tmp_path / "config.yaml"), "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = tmp_path / "out"
    summary = json.loads((out / "reports" / "summary.json").read_text())
    for key in ("purchase_rates", "rate_comparisons", "correlations", "campaign", "diagnostics", "cleaning", "config", "versions"):
        assert key in summary
    assert summary["cleaning"] == {
        "source": summary["cleaning"]["source"], "rows_read": 12055, "rows_used": 4450,
        "dropped": {"fewer fields than the header": 1, "outside sessions.filter (month in Nov, Dec)": 7604},
        "changed": {"Month spelling normalised (e.g. June -> Jun)": 287},
    }
    assert summary["diagnostics"]["ok"] is True
    assert (out / "models" / "purchase_rates_independent.nc").stat().st_size > 0
    assert {p.name for p in (out / "figures").iterdir()} >= {"purchase_rates.png", "campaign.png"}
    assert "Purchase rate by segment" in done.stdout


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_missing_data_file_is_one_line(tmp_path):
    config = write_config(tmp_path, sessions={"path": "no/such/file.csv"})
    line = one_line_error(run_cli("run", "--config", str(config), "--output", str(tmp_path)))
    assert "file.csv: file not found" in line


def test_missing_column_is_one_line_naming_it(tmp_path):
    config = write_config(tmp_path, sessions={"columns": {"purchase": "Bought"}})
    line = one_line_error(run_cli("run", "--config", str(config), "--output", str(tmp_path)))
    assert "no column 'Bought'" in line and "sessions.columns" in line


def test_missing_config_and_unknown_key(tmp_path):
    line = one_line_error(run_cli("run", "--config", str(tmp_path / "nope.yaml")))
    assert "config file not found" in line
    config = write_config(tmp_path, rates={"segmnets": ["segment"]})
    line = one_line_error(run_cli("run", "--config", str(config), "--output", str(tmp_path)))
    assert "rates.segmnets: unknown key" in line


def test_campaign_segment_absent_from_data(tmp_path):
    config = write_config(tmp_path, campaign={"segment": "Other"})
    line = one_line_error(run_cli("run", "--config", str(config), "--output", str(tmp_path)))
    assert "campaign.segment: 'Other' is not a level of segment" in line


def test_same_config_and_seed_give_the_same_summary(bundled_result):
    from shopper_bayes.pipeline import analyse

    config, first = bundled_result
    assert json.dumps(analyse(config).summary, sort_keys=True) == json.dumps(first.summary, sort_keys=True)

"""The analysis seam: an analysis defined here, registered without touching the package, shows up in
every output; each analysis runs on its own rows; analyses can be switched off and do not break
each other; a failure writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import BUNDLED, ROOT, only, write_config
from shopper_bayes.analyses.base import Analysis, Estimate, FigureSpec, Output, Result, Settings
from shopper_bayes.analyses.registry import default_analyses
from shopper_bayes.config import load_config
from shopper_bayes.datasets.base import Dataset, DatasetSettings
from shopper_bayes.datasets.registry import default_datasets
from shopper_bayes.report.document import Figure, Section, Sentence, Table, pct
from shopper_bayes.report.style import new_figure, style
from shopper_bayes.runner import run

# The session analyses this file is about, quickly; the others are switched off.
FAST = only("purchase_rates", "campaign", "correlations") | {"correlations": {"resamples": 200},
                                                              "rates": {"compare_models": False}}
QUIET = only("purchase_rates", "campaign")


class WeekendSettings(Settings):
    prior_alpha: float = 1.0


class WeekendResult(Result):
    sessions: int
    weekend: int
    share: Estimate


def weekend_run(ctx) -> Output:
    frame = ctx.load("Weekend").frame
    weekend = int((frame["Weekend"].str.lower() == "true").sum())
    a, b = ctx.settings.prior_alpha + weekend, ctx.settings.prior_alpha + len(frame) - weekend
    draws = np.random.default_rng(ctx.seed).beta(a, b, 4000)
    result = WeekendResult(sessions=len(frame), weekend=weekend,
                           share=Estimate(mean=float(draws.mean()), interval=tuple(np.quantile(draws, [0.025, 0.975]))))

    def draw():
        with style():
            fig = new_figure()
            fig.subplots().hist(draws, bins=40)
        return fig

    return Output(summary=result, figures=[FigureSpec("weekend_share", draw, "Weekend share posterior", "histogram")])


def weekend_section(result: WeekendResult) -> Section:
    return Section("Weekend sessions", [f"Weekend share {pct(result.share.mean)}.",
                                        Table(["sessions", "weekend"], [[f"{result.sessions:,}", f"{result.weekend:,}"]],
                                              name="weekend"), Figure("weekend_share")])


WEEKEND = Analysis(key="weekend", title="Weekend sessions", dataset="sessions", settings=WeekendSettings,
                   result=WeekendResult, run=weekend_run, section=weekend_section,
                   console=lambda r: [f"Weekend share: {pct(r.share.mean)} of {r.sessions:,} sessions"],
                   headline=lambda r: [Sentence(f"{pct(r.share.mean)} of sessions fall on a weekend.", [r.share.mean])])


def test_an_analysis_defined_here_appears_in_every_output(tmp_path):
    config = load_config(write_config(tmp_path, figures=True, **FAST),
                         analyses=(*default_analyses(), WEEKEND))
    result, text, written = run(config, tmp_path / "out")
    out = tmp_path / "out"
    summary = json.loads((out / "reports" / "summary.json").read_text())
    frame = pd.read_csv(BUNDLED)
    november_december = frame[frame["Month"].str.strip().str[:3].str.title().isin(["Nov", "Dec"])]
    assert summary["weekend"]["sessions"] == summary["data"]["sessions"]["analyses"]["weekend"]["rows_used"]
    assert summary["weekend"]["weekend"] == int(november_december["Weekend"].astype(str).str.lower().eq("true").sum())
    assert "Weekend share:" in text
    assert any(f["name"] == "weekend_share" and f["analysis"] == "weekend" for f in summary["figures"])
    assert (out / "figures" / "weekend_share.png").stat().st_size > 0
    html = (out / "reports" / "report.html").read_text()
    markdown = (out / "reports" / "report.md").read_text()
    for report in (html, markdown):
        assert "Weekend sessions" in report and "of sessions fall on a weekend" in report
    assert 'alt="histogram"' in html
    assert (out / "reports" / "tables" / "weekend.csv").read_text().startswith("sessions,weekend")
    # The config schema grew a section for it, with its own validation.
    bad = write_config(tmp_path / "bad", weekend={"prior_alpha": "many"}) if (tmp_path / "bad").mkdir() is None else None
    with pytest.raises(Exception, match="weekend.prior_alpha"):
        load_config(bad, analyses=(*default_analyses(), WEEKEND))


def test_each_analysis_keeps_its_own_rows(tmp_path):
    """A blank duration drops the session from the correlations only; the campaign's counts are the rates'."""
    frame = pd.read_csv(BUNDLED, dtype=str, keep_default_na=False)
    row = frame.index[frame["Month"].str.strip().str[:3].str.title().eq("Nov")][0]
    frame.loc[row, "ProductRelated_Duration"] = ""
    data = tmp_path / "sessions.csv"
    frame.to_csv(data, index=False)
    config = load_config(write_config(tmp_path, sessions={"path": str(data)}, **FAST))
    result, _, _ = run(config, tmp_path / "out")
    rows = result.summary["data"]["sessions"]["analyses"]
    assert rows["purchase_rates"]["rows_used"] == rows["correlations"]["rows_used"] + 1
    assert rows["campaign"]["rows_used"] == rows["purchase_rates"]["rows_used"]
    assert "ProductRelated_Duration missing" in rows["correlations"]["dropped"]
    assert "ProductRelated_Duration missing" not in rows["purchase_rates"]["dropped"]
    total = sum(r["sessions"] for r in result.summary["purchase_rates"]["rates"])
    assert total == rows["purchase_rates"]["rows_used"]

    from shopper_bayes.cli import main

    assert main(["campaign", "--config", str(tmp_path / "config.yaml"), "--output", str(tmp_path / "out")]) == 0
    answer = json.loads((tmp_path / "out" / "reports" / "campaign.json").read_text())
    assert answer["posterior"].startswith("reused")
    assert answer["prob_at_least_target"] == result.summary["campaign"]["prob_at_least_target"]


def test_a_posterior_fitted_to_other_counts_is_never_reused(tmp_path):
    config = load_config(write_config(tmp_path, **QUIET | {"rates": {"model": "hierarchical", "compare_models": False},
                                      "sampler": {"draws": 200, "tune": 200}}))
    run(config, tmp_path / "out")
    other = tmp_path / "other"
    other.mkdir()
    frame = pd.read_csv(BUNDLED, dtype=str, keep_default_na=False)
    november = frame["Month"].str.strip().str[:3].str.title().eq("Nov")
    frame = frame.drop(frame.index[frame["Purchase"].eq("1") & november][:5])  # other counts, same cells
    frame.to_csv(other / "s.csv", index=False)
    write_config(other, **QUIET | {"sessions": {"path": str(other / "s.csv")},
                                   "rates": {"model": "hierarchical", "compare_models": False},
                                   "sampler": {"draws": 200, "tune": 200}})
    from shopper_bayes.cli import main

    assert main(["campaign", "--config", str(other / "config.yaml"), "--output", str(tmp_path / "out")]) == 0
    answer = json.loads((tmp_path / "out" / "reports" / "campaign.json").read_text())
    assert answer["posterior"] == "fitted"


def test_campaign_answers_for_its_segment_whatever_the_rates_split(tmp_path):
    config = load_config(write_config(tmp_path, **QUIET | {"rates": {"segments": ["segment", "month"],
                                                                     "compare_models": False}}))
    result, _, _ = run(config, tmp_path / "out")
    campaign = result.summary["campaign"]
    assert campaign["segment"] == {"segment": "Returning_Customer"}
    cells = [r for r in result.summary["purchase_rates"]["rates"] if r["segment"]["segment"] == "Returning_Customer"]
    assert sum(r["sessions"] for r in cells) == result.summary["data"]["sessions"]["analyses"]["campaign"]["rows_used"] \
        - sum(r["sessions"] for r in result.summary["purchase_rates"]["rates"] if r["segment"]["segment"] != "Returning_Customer")


def test_switched_off_and_unconfigured_analyses_are_skipped_with_a_line(tmp_path):
    class ClicksSettings(DatasetSettings):
        path: Path

    clicks = Dataset(name="clicks", title="Clicks", settings=ClicksSettings, load=lambda s, needs: None, default=None)
    needs_clicks = Analysis(key="click_rates", title="Click rates", dataset="clicks", settings=WeekendSettings,
                            result=WeekendResult, run=lambda ctx: 1 / 0, section=weekend_section, console=lambda r: [])
    config = load_config(write_config(tmp_path, **QUIET | {"rates": {"compare_models": False}}),
                         datasets=(*default_datasets(), clicks), analyses=(*default_analyses(), needs_clicks))
    result, text, _ = run(config, tmp_path / "out")
    assert "correlations" not in result.summary and "click_rates" not in result.summary
    assert "Skipped correlations: switched off (correlations.enabled: false)" in text
    assert "Skipped drivers: switched off (drivers.enabled: false)" in text
    assert "Skipped click_rates: no clicks data configured" in text
    html = (tmp_path / "out" / "reports" / "report.html").read_text()
    assert "Analyses not run" in html and "no clicks data configured" in html


def test_an_undefined_correlation_in_a_tiny_segment_is_reported_not_an_error(tmp_path):
    frame = pd.read_csv(BUNDLED, dtype=str, keep_default_na=False)
    tiny = frame.iloc[:2].copy()
    tiny["CustomerType"] = "Tiny_Segment"
    tiny["Month"] = "Nov"
    tiny["SessionID"] = ["tiny-1", "tiny-2"]
    data = tmp_path / "sessions.csv"
    pd.concat([frame, tiny]).to_csv(data, index=False)
    config = load_config(write_config(tmp_path, sessions={"path": str(data)}, **FAST))
    result, text, _ = run(config, tmp_path / "out")
    assert "[Tiny_Segment]: undefined" in text
    tiny_pairs = [p for p in result.summary["correlations"]["pairs"] if p["segment"] == "Tiny_Segment"]
    assert tiny_pairs and all(p["r"] is None and p["note"] for p in tiny_pairs)


def test_a_failing_analysis_writes_nothing_and_says_so(tmp_path, monkeypatch, capsys):
    from shopper_bayes import cli
    from shopper_bayes.analyses import registry

    config_path = write_config(tmp_path, **FAST)
    assert cli.main(["run", "--config", str(config_path), "--output", str(tmp_path / "out")]) == 0
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    broken = Analysis(key="broken", title="Broken", dataset="sessions", settings=WeekendSettings, result=WeekendResult,
                      run=weekend_run, section=lambda r: 1 / 0, console=lambda r: [])
    monkeypatch.setattr(registry, "default_analyses", lambda: [*default_analyses(), broken])
    monkeypatch.setattr("shopper_bayes.config._REGISTRIES", {})
    assert cli.main(["run", "--config", str(config_path), "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "internal error (ZeroDivisionError" in err and "nothing was written" in err
    after = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before


def test_importing_the_package_and_its_plots_leaves_matplotlib_alone():
    code = """
import matplotlib
backend = matplotlib.get_backend(); rc = dict(matplotlib.rcParams)
import shopper_bayes, shopper_bayes.api, shopper_bayes.report.style
import shopper_bayes.analyses.purchase_rates.figures, shopper_bayes.analyses.campaign.figures
import shopper_bayes.analyses.correlations.figures
import shopper_bayes.analyses.registry as registry
for analysis in registry.default_analyses():
    pass
assert matplotlib.get_backend() == backend, (backend, matplotlib.get_backend())
changed = [k for k, v in matplotlib.rcParams.items() if str(rc.get(k)) != str(v)]
assert not changed, changed
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"MPLBACKEND": "svg",
                          "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert done.stdout.strip() == "ok", done.stderr


def test_parallel_groups_share_a_dataset_unless_an_analysis_runs_alone():
    """Analyses of one dataset form one group (they share its loading and fits); drivers, marked alone,
    is a group of its own; groups with a time from the last run come longest first, untimed ones after."""
    from shopper_bayes.runner import groups

    config = load_config(ROOT / "config.yaml")
    keys = [analysis.key for analysis in default_analyses()]
    last = {key: 1.0 for key in keys} | {"drivers": 30.0, "demographics": 40.0, "clv": 20.0}
    queue = groups(config, keys, last)
    assert queue[0] == ["demographics"] and queue[1] == ["drivers"]
    sessions = next(group for group in queue if "purchase_rates" in group)
    assert sessions == ["purchase_rates", "campaign", "correlations", "session_behaviour"]
    assert sorted(key for group in queue for key in group) == sorted(keys)
    untimed = groups(config, keys, {key: value for key, value in last.items() if key != "ad_campaigns"})
    assert untimed[-1] == ["ad_campaigns"]


def test_a_file_a_worker_wrote_reaches_the_main_process_on_disk_not_through_the_pipe(tmp_path):
    """A worker's file output travels as a path (CLV's per-customer table is about 1 GB at 23 million customers):
    the pickled output is small, the file arrives intact, and its folder is gone once the main process drops it."""
    import gc
    import pickle

    from shopper_bayes.runner import _drawn

    payload = bytes(range(256)) * 4096  # 1 MiB
    output = Output(summary=None, files={"reports/big.bin": lambda path: Path(path).write_bytes(payload)})
    sent = _drawn(output, figures=False, made=[])
    folder = sent.files["reports/big.bin"].path.parent
    message = pickle.dumps(sent)
    assert len(message) < 10_000
    del sent, output
    gc.collect()
    assert folder.exists()  # the worker's side does not delete it: the main process has not moved it yet
    received = pickle.loads(message)
    target = tmp_path / "big.bin"
    received.files["reports/big.bin"](target)
    assert target.read_bytes() == payload
    del received
    gc.collect()
    assert not folder.exists()


def test_a_worker_whose_file_output_fails_leaves_none_of_its_files(tmp_path, monkeypatch):
    """A worker's outputs leave it together or not at all: when a later file's writer fails, the files written
    before it (which no main process will move or delete) are deleted in the worker."""
    import tempfile

    from shopper_bayes.runner import _all_drawn

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def broken(path):
        Path(path).write_bytes(b"half")
        raise OSError("disk full")

    outputs = {"first": Output(summary=None, files={"reports/a.bin": lambda path: Path(path).write_bytes(b"a")}),
               "second": Output(summary=None, files={"reports/b.bin": broken})}
    with pytest.raises(OSError, match="disk full"):
        _all_drawn(outputs, figures=False)
    assert list(tmp_path.glob("shopper-bayes-file-*")) == []
    sent = _all_drawn({"first": outputs["first"]}, figures=False)  # and without a failure, the file is there to move
    assert sent["first"].files["reports/a.bin"].path.read_bytes() == b"a"

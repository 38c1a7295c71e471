"""Bad input never crashes the tool or yields a wrong number (issue #8).

The corpus (tests/corpus/cases.py) runs in-process: refused cases through ``cli.main`` into a copy of
the outputs of a previous good run, which must come out byte-for-byte intact; cleaned cases through
the loader. A handful of cases run as real subprocesses, and one run on data whose segment names look
like paths and markup checks where outputs go.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SESSION_ANALYSES, only
from corpus.cases import CASES, Case, Cleaned, Folder, Refused, csv
from shopper_bayes import cli, runner
from shopper_bayes.analyses.purchase_rates import figures as rate_figures
from shopper_bayes.config import load_config
from shopper_bayes.datasets.sessions import load_sessions
from shopper_bayes.engine.cells import cells, segment_counts, segment_name
from shopper_bayes.errors import UserError
from shopper_bayes.outputs import Staging
from shopper_bayes.report.console import format_run

# A sampler small enough for tests: the runs here check plumbing, not posteriors.
TINY = {
    "figures": False,
    "sampler": {"backend": "pymc", "draws": 100, "tune": 100, "chains": 2},
    "correlations": {"resamples": 100},
    "diagnostics": {"max_rhat": 10.0, "min_ess": 1, "max_divergences": 100},
    **only(*SESSION_ANALYSES),  # the analyses of these files' columns
}
OUTPUT_FILES = {"reports/summary.json", "models/purchase_rates_independent.nc", "models/purchase_rates_hierarchical.nc",
                "figures/purchase_rates.png", "figures/rate_lift.png", "figures/prior_predictive.png",
                "figures/rank.png", "figures/trace.png", "figures/campaign.png", "figures/campaign_scenarios.png", "figures/correlations.png",
                "figures/correlation_matrix.png", "reports/report.html", "reports/report.md",
                *(f"reports/tables/{name}.csv" for name in (
                    "cleaning_sessions", "purchase_rates", "rate_comparisons", "rate_lift_band", "best_segment", "model_comparison",
                    "purchase_rates_by_model", "campaign", "campaign_scenarios_100", "correlations", "diagnostics",
                    "diagnostics_by_variable", "glossary", "data_files", "versions"))}
# (rates by segment x month: no ppc.png, the predictive check needs a column the cells do not split by)
# Segment levels that would escape the output folder or inject markup if used as names.
PATH_LEVEL, MARKUP_LEVEL = "../../etc/x", "<b>Ünï</b> & 'q'"


def merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def prepare(case: Case, folder: Path) -> tuple[Path, Path]:
    """Write the case's sessions file and config into ``folder``; return (config, output)."""
    data = folder / f"sessions{case.suffix}"
    if isinstance(case.data, Folder):
        data.mkdir()
    elif case.data is not None:
        data.write_bytes(case.data if isinstance(case.data, bytes) else case.data.encode("utf-8"))
    config = folder / "config.yaml"
    if isinstance(case.config_text, bytes):
        config.write_bytes(case.config_text.replace(b"{data}", str(data).encode()))
    elif case.config_text is not None:
        config.write_text(case.config_text.replace("{data}", str(data)), encoding="utf-8")
    elif case.write_config:
        config.write_text(yaml.safe_dump(merged({"sessions": {"path": str(data)}, **TINY}, case.config), sort_keys=False),
                          encoding="utf-8")  # keys in the order the case gives them, as a user writes them
    if case.output == "parent-is-file":
        (folder / "blocker").write_text("a regular file\n")
        return config, folder / "blocker" / "out"
    if case.output == "is-file":
        (folder / "out").write_text("a regular file\n")
        return config, folder / "out"
    return config, Path(case.output) if case.output else folder / "out"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path, with its SHA-256."""
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def staging_left(folder: Path) -> list[Path]:
    return list(folder.rglob(".shopper-bayes-*"))


def one_line_error(stderr: str, expected: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in stderr
    return lines[0]


@dataclass
class GoodRun:
    folder: Path  # holds config.yaml, sessions.csv and out/
    config: Path
    output: Path
    result: runner.Run
    files: dict[str, str]


@pytest.fixture(scope="session")
def good_run(tmp_path_factory) -> GoodRun:
    """One completed run with figures, on data whose segment levels look like paths and markup,
    split by two columns with one empty cell, and with two broken rows."""
    folder = tmp_path_factory.mktemp("good_run")
    rows = ([f"{i},0,1,{i},Nov,{PATH_LEVEL},{i % 3 == 0:d}" for i in range(1, 9)]
            + [f"{i},1,0,{i},Dec,{PATH_LEVEL},{i % 4 == 0:d}" for i in range(9, 15)]
            + [f"{i},2,0,{i},Nov,{MARKUP_LEVEL},{i == 15:d}" for i in range(15, 20)]
            + ["20,0,0,1,Nov", f"21,0,0,1,Nov,{PATH_LEVEL},maybe"])
    data = folder / "sessions.csv"
    data.write_text(csv(*rows, good=False), encoding="utf-8")
    settings = merged(TINY, {"figures": True, "sessions": {"path": str(data)}, "rates": {"segments": ["segment", "month"]},
                             "campaign": {"segment": {"segment": PATH_LEVEL, "month": "Nov"}}})
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    output = folder / "out"
    result, _, _ = runner.run(load_config(config), output)
    return GoodRun(folder, config, output, result, snapshot(output))


def previous_outputs(good_run: GoodRun, output: Path) -> dict[str, str]:
    shutil.copytree(good_run.output, output)
    return snapshot(output)


# --- the corpus ------------------------------------------------------------------------------

def test_corpus_is_large_and_names_are_unique():
    names = [case.name for case in CASES]
    assert len(set(names)) == len(names)
    assert len(CASES) >= 30
    assert sum(isinstance(case.expected, Refused) for case in CASES) >= 15
    assert sum(isinstance(case.expected, Cleaned) for case in CASES) >= 15


@pytest.mark.parametrize("case", [c for c in CASES if isinstance(c.expected, Refused)], ids=lambda c: c.name)
def test_refused_with_one_line_and_previous_outputs_intact(case, tmp_path, good_run, capsys, monkeypatch):
    """Each refusal also comes before any model is fitted: the data and every analysis's settings are checked
    against each other first (a run on 100 million rows would otherwise fit for minutes, then refuse)."""
    from shopper_bayes.inference.fit import FitCache

    fitted = []
    monkeypatch.setattr(FitCache, "fit", lambda self, model, key, **options: fitted.append(key))
    config, output = prepare(case, tmp_path)
    before = previous_outputs(good_run, output) if case.output is None else None
    code = cli.main(["run", "--config", str(config), "--output", str(output)])
    captured = capsys.readouterr()
    assert code == cli.EXIT_USER_ERROR, captured
    assert fitted == [], f"refused only after fitting {fitted}"
    assert captured.out == ""
    one_line_error(captured.err, case.expected.message)
    if before is not None:
        assert snapshot(output) == before
        assert staging_left(output) == []


DURATION_REASONS = (" missing", " not a number", " negative")


def is_duration_reason(reason: str, config) -> bool:
    return any(reason == column + what for column in config.correlations.columns for what in DURATION_REASONS)


@pytest.mark.parametrize("case", [c for c in CASES if isinstance(c.expected, Cleaned)], ids=lambda c: c.name)
def test_cleaned_and_counted_by_reason(case, tmp_path):
    """Counted as the correlations read the file (they need the durations); the purchase rates read the
    same rows except that a bad duration does not drop a session from them."""
    config_path, _ = prepare(case, tmp_path)
    config = load_config(config_path)
    by = config.correlations.by
    sessions = load_sessions(config.sessions, labels=(by,) if by else (), numeric=config.correlations.columns)
    report, expected = sessions.cleaning, case.expected
    assert report.dropped == expected.dropped
    assert sum(report.dropped.values()) == report.rows_read - report.rows_used == report.rows_read - len(sessions.frame)
    if expected.rows_used is not None:
        assert report.rows_used == expected.rows_used
    if expected.changed is not None:
        assert report.changed == expected.changed
    rates = load_sessions(config.sessions, labels=config.rates.segments)
    durations = {reason: count for reason, count in expected.dropped.items() if is_duration_reason(reason, config)}
    assert rates.cleaning.dropped == {reason: count for reason, count in expected.dropped.items() if reason not in durations}
    assert rates.cleaning.rows_used == report.rows_used + sum(durations.values())
    if expected.sessions is not None:
        counts = segment_counts(rates.frame, config.rates.segments)
        got = {segment_name(cell): int(counts["sessions"].sel(cell)) for cell in cells(counts)}
        assert got == expected.sessions


def test_campaign_answers_for_its_segment_whatever_the_rates_are_split_by(tmp_path):
    """Rates split by segment x month, the campaign naming a customer type only: it answers from its own
    counts (all Returning_Customer sessions) instead of refusing."""
    case = next(case for case in CASES if case.name == "clean file")
    # no boost: on three sessions the rate posterior reaches rates a boost would push past 1
    campaign = {"segment": "Returning_Customer", "boost": 0.0, "grid": {"boosts": [0.0]}}
    case = Case(case.name, case.data, case.expected, config={"rates": {"segments": ["segment", "month"]},
                                                           "campaign": campaign})
    config_path, _ = prepare(case, tmp_path)
    result = runner.analyse(load_config(config_path))
    summary = result.summary
    assert len(summary["purchase_rates"]["rates"]) == 4
    assert summary["campaign"]["segment"] == {"segment": "Returning_Customer"}
    assert summary["campaign"]["boosted_rate_plugin"] == pytest.approx(1 / 3)  # 1 of its 3 sessions bought
    assert summary["data"]["sessions"]["analyses"]["campaign"]["rows_used"] == 6


# --- outputs: atomic, and only where they belong -----------------------------------------------

def test_good_run_writes_fixed_names_only_inside_the_output_folder(good_run):
    assert set(good_run.files) == OUTPUT_FILES
    everything = {path.relative_to(good_run.folder).as_posix() for path in good_run.folder.rglob("*") if path.is_file()}
    assert everything == {"config.yaml", "sessions.csv", *(f"out/{name}" for name in OUTPUT_FILES)}
    assert staging_left(good_run.folder) == []
    summary = json.loads((good_run.output / "reports" / "summary.json").read_text(encoding="utf-8"))
    segments = [row["segment"] for row in summary["purchase_rates"]["rates"]]
    assert {"segment": PATH_LEVEL, "month": "Nov"} in segments and {"segment": MARKUP_LEVEL, "month": "Dec"} in segments


def test_good_run_keeps_an_empty_cell_and_shows_what_was_dropped(good_run):
    summary = good_run.result.summary
    empty = next(row for row in summary["purchase_rates"]["rates"] if row["segment"] == {"segment": MARKUP_LEVEL, "month": "Dec"})
    assert empty["sessions"] == 0 and empty["purchases"] == 0 and empty["observed_rate"] is None
    for use in summary["data"]["sessions"]["analyses"].values():
        assert use["dropped"] == {"fewer fields than the header": 1, "Purchase not a 0/1, true/false or yes/no flag": 1}
    text = format_run(summary)
    assert "1 fewer fields than the header, 1 Purchase not a 0/1, true/false or yes/no flag" in text


def test_failure_while_writing_figures_leaves_previous_outputs(good_run, tmp_path, monkeypatch, capsys):
    output = tmp_path / "out"
    before = previous_outputs(good_run, output)

    def broken_plot(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(runner, "analyse", lambda config, **kwargs: good_run.result)  # skip the fit: fail late, fast
    monkeypatch.setattr(rate_figures, "plot_rates", broken_plot)
    code = cli.main(["run", "--config", str(good_run.config), "--output", str(output)])
    captured = capsys.readouterr()
    assert code == 1
    one_line_error(captured.err, "internal error (RuntimeError: figure failed); nothing was written, previous outputs "
                                 "are unchanged")
    assert snapshot(output) == before
    assert staging_left(output) == []


def test_folder_in_the_way_of_one_output_replaces_none(good_run, tmp_path):
    output = tmp_path / "out"
    previous_outputs(good_run, output)
    (output / "models" / "purchase_rates_independent.nc").unlink()
    (output / "models" / "purchase_rates_independent.nc").mkdir()
    before = snapshot(output)
    config = load_config(good_run.config)
    with pytest.raises(UserError, match=r"purchase_rates_independent\.nc: outputs could not be moved into place"):
        with Staging(output) as staging:
            runner.render(good_run.result, config, staging)
            staging.commit()
    assert snapshot(output) == before
    assert staging_left(output) == []


def test_single_segment_runs_with_no_comparisons(tmp_path):
    case = next(case for case in CASES if case.name == "single segment")
    config_path, _ = prepare(case, tmp_path)
    result = runner.analyse(load_config(config_path))
    assert [row["segment"] for row in result.summary["purchase_rates"]["rates"]] == [{"segment": "Returning_Customer"}]
    assert result.summary["purchase_rates"]["comparisons"] == []
    assert "Campaign: Returning_Customer" in format_run(result.summary)
    rate_figures.plot_rates(result.outputs["purchase_rates"].summary).savefig(tmp_path / "rates.png")
    assert (tmp_path / "rates.png").stat().st_size > 0


# --- the command line as a user runs it ----------------------------------------------------------

def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI of this source tree, whatever the current folder and however the venv installed it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "shopper_bayes.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_subprocess_bad_file_is_one_line_and_debug_shows_the_traceback(tmp_path):
    case = next(case for case in CASES if case.name == "latin-1 text")
    config, output = prepare(case, tmp_path)
    done = run_cli("run", "--config", str(config), "--output", str(output), cwd=tmp_path)
    assert done.returncode == 2
    one_line_error(done.stderr, "is not UTF-8 text (line 8)")
    debug = run_cli("--debug", "run", "--config", str(config), "--output", str(output), cwd=tmp_path)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "UserError" in debug.stderr


def test_debug_after_the_subcommand_raises_too(tmp_path):
    case = next(case for case in CASES if case.name == "header only")
    config, output = prepare(case, tmp_path)
    for argv in (["--debug", "run"], ["run", "--debug"]):
        with pytest.raises(UserError, match="has a header but no data rows"):
            cli.main([*argv, "--config", str(config), "--output", str(output)])


def test_subprocess_yaml_python_tag_does_not_run(tmp_path):
    case = next(case for case in CASES if case.name == "config runs code (python tag)")
    config, output = prepare(case, tmp_path)
    done = run_cli("run", "--config", str(config), "--output", str(output), cwd=tmp_path)
    assert done.returncode == 2
    one_line_error(done.stderr, "could not determine a constructor for the tag")
    assert not (tmp_path / "pwned").exists()


def test_subprocess_boost_past_one_found_after_the_fit_keeps_previous_outputs(good_run, tmp_path):
    """The boosted rate is checked on posterior draws, so this fails only after the fit."""
    output = tmp_path / "out"
    before = previous_outputs(good_run, output)
    settings = yaml.safe_load(good_run.config.read_text(encoding="utf-8"))
    settings["campaign"]["boost"] = 1.5
    settings["rates"]["compare_models"] = False  # the closed-form posterior alone: still a fit before the check
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    done = run_cli("run", "--config", str(config), "--output", str(output), cwd=ROOT)
    assert done.returncode == 2
    one_line_error(done.stderr, "campaign.boost: a boost of +150.0% pushes the purchase rate past 1")
    assert snapshot(output) == before
    assert staging_left(output) == []


@pytest.mark.parametrize("case", ["a column missing", "Parquet cut short", "no rows"])
def test_with_workers_sessions_that_cannot_serve_are_refused_before_any_fit(case, tmp_path, monkeypatch):
    """Every dataset with two worker processes, the sessions' analyses queued last (the last run's timings put them
    there): sessions that cannot serve any of their analyses are refused before any analysis fits anything in any
    process. (A user's run fitted the other datasets' models for 25 s first: the sessions were read only when their
    worker took them up.)"""
    import pandas as pd

    from shopper_bayes.analyses.registry import default_analyses
    from shopper_bayes.inference.fit import FitCache

    frame = pd.read_csv(ROOT / "data" / "online_shopping_session_data.csv")
    data = tmp_path / ("sessions.parquet" if case == "Parquet cut short" else "sessions.csv")
    if case == "a column missing":
        frame.drop(columns=["CustomerType"]).to_csv(data, index=False)
        expected = "no column 'CustomerType'"
    elif case == "Parquet cut short":
        frame.to_parquet(data)
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
        expected = "is a Parquet file cut short"
    else:
        frame.head(0).to_csv(data, index=False)
        expected = "has a header but no data rows"
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    for name in ("transactions", "ads", "orders"):
        raw[name]["path"] = str(ROOT / raw[name]["path"])
    raw["sessions"]["path"], raw["figures"] = str(data), False
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    config = load_config(tmp_path / "config.yaml")
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("SHOPPER_BAYES_CACHE_DIR", str(cache))
    dataset = {analysis.key: analysis.dataset for analysis in default_analyses()}
    timings = {key: 0.1 if name == "sessions" else 100.0 for key, name in dataset.items()}
    (cache / runner.TIMINGS_FILE).write_text(json.dumps(timings))
    queue = runner.groups(config, list(timings), runner.last_timings())
    assert [dataset[group[0]] for group in queue[-2:]] == ["sessions", "sessions"] and len(queue) > 2
    def fit(*args, **kwargs):  # in a worker process too: an error that crosses back to this one
        raise AssertionError("a model was fitted before the refusal")

    monkeypatch.setattr(FitCache, "fit", fit)
    with pytest.raises(UserError, match=expected):
        runner.analyse(config, workers=2)

"""End to end through the command line, and the one-line errors for bad input."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import BUNDLED, ROOT, SESSION_ANALYSES, only, write_config


def run_cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shopper_bayes.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=os.environ | (env or {}))


# The cleaning rules, written out again from the README's "Bad input" section, for pandas.
MISSING = {"", "na", "n/a", "#n/a", "nan", "null", "none", "<na>"}
FLAGS = {"1", "1.0", "true", "t", "yes", "y", "0", "0.0", "false", "f", "no", "n"}
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
FULL = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
        "november", "december"]
MONTH_OF = ({m.lower(): m for m in MONTHS} | dict(zip(FULL, MONTHS)) | {str(i): m for i, m in enumerate(MONTHS, 1)}
            | {f"{i:02d}": m for i, m in enumerate(MONTHS, 1)} | {"sept": "Sep"})


def expected_cleaning(path: Path, numeric: tuple[str, ...] = ()) -> dict:
    """The cleaning report of the sessions file under the default config (split by segment, Nov and Dec
    kept), computed with pandas: rows read, used, dropped by reason (first broken rule wins) and changed."""
    lines = pd.read_csv(path, sep="\x1f", header=None, dtype=str, skip_blank_lines=True)[0]
    fields = lines.str.count(",") + 1  # the bundled file has no quoted fields
    header, fields = lines.iloc[0].split(","), fields.iloc[1:].reset_index(drop=True)
    table = pd.read_csv(path, dtype=str, keep_default_na=False).reset_index(drop=True)
    assert len(table) == len(fields)
    text = table.apply(lambda column: column.str.strip())
    lower = text.apply(lambda column: column.str.lower())
    missing = lower.isin(MISSING) | table.isna()
    month = lower["Month"].map(MONTH_OF)
    checks = [("fewer fields than the header", fields < len(header)),
              ("more fields than the header", fields > len(header)),
              ("Purchase missing", missing["Purchase"]),
              ("Purchase not a 0/1, true/false or yes/no flag", ~lower["Purchase"].isin(FLAGS)),
              ("CustomerType missing", missing["CustomerType"]),
              ("Month missing", missing["Month"]),
              ("Month not a month name", month.isna())]
    for column in numeric:
        value = pd.to_numeric(text[column], errors="coerce")
        checks += [(f"{column} missing", missing[column]), (f"{column} not a number", ~np.isfinite(value)),
                   (f"{column} negative", value < 0)]
    checks += [("SessionID missing", missing["SessionID"])]
    reason = pd.Series("", index=table.index)
    changed = 0
    for name, mask in checks:
        if name == "Month not a month name":
            # a spelling rewritten counts among the rows still kept when the month is read
            changed = int(((reason == "") & ~missing["Month"] & month.notna() & (month != text["Month"])).sum())
        reason[(reason == "") & mask.fillna(True).to_numpy(bool)] = name
    ids = text.loc[reason == "", "SessionID"]
    reason[ids.index[ids.duplicated()]] = "duplicate SessionID"
    reason[(reason == "") & ~month.isin(["Nov", "Dec"])] = "outside sessions.filter (month in Nov, Dec)"
    dropped = reason[reason != ""].value_counts()
    return {"rows_read": len(table), "rows_used": int((reason == "").sum()),
            "dropped": {name: int(count) for name, count in dropped.items()},
            "changed": {"Month spelling normalised (e.g. June -> Jun)": changed} if changed else {}}


def test_run_end_to_end_on_bundled_data(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["correlations"]["resamples"] = 1000
    for key, section in only(*SESSION_ANALYSES).items():  # the session analyses; the others have their own tests
        config[key] = {**(config.get(key) or {}), **section}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "data").symlink_to(ROOT / "data")
    done = run_cli("run", "--config", str(tmp_path / "config.yaml"), "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = tmp_path / "out"
    summary = json.loads((out / "reports" / "summary.json").read_text())
    assert summary["schema_version"] == 2
    for key in ("data", "purchase_rates", "correlations", "campaign", "diagnostics", "skipped", "figures", "config",
                "versions"):
        assert key in summary
    assert {"rates", "comparisons", "best", "by_model", "model_comparison"} <= set(summary["purchase_rates"])
    assert not set(SESSION_ANALYSES) & set(summary["skipped"])
    data = summary["data"]["sessions"]
    assert data["sha256"] == hashlib.sha256(BUNDLED.read_bytes()).hexdigest()
    # paths inside the working directory relative to it, so summaries compare across clones (they were absolute)
    assert str(ROOT) not in (out / "reports" / "summary.json").read_text()
    assert {use["source"] for use in data["analyses"].values()} == {"data/online_shopping_session_data.csv"}
    assert set(data["analyses"]) == set(SESSION_ANALYSES)
    # Golden counts, derived with pandas rather than written down; the correlations also need the durations.
    durations = tuple(config["correlations"]["columns"])
    for analysis in SESSION_ANALYSES:
        want = expected_cleaning(BUNDLED, durations if analysis == "correlations" else ())
        use = data["analyses"][analysis]
        assert {key: use[key] for key in ("rows_read", "rows_used", "dropped", "changed")} == want, analysis
    # and the pandas rules are not vacuous on this file: a cut-off row, the filter, and June respelled
    rates = data["analyses"]["purchase_rates"]
    assert rates["dropped"]["fewer fields than the header"] == 1
    assert rates["rows_used"] == sum(row["sessions"] for row in summary["purchase_rates"]["rates"])
    assert rates["changed"]["Month spelling normalised (e.g. June -> Jun)"] > 0
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


def test_an_absent_sessions_section_whose_default_file_is_missing_says_how_to_have_none(tmp_path):
    """A config of transactions only, away from the bundled data: the sessions' default path is used (the config
    reference says so) and missing; the line says the default was used and that ``sessions: null`` means none."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"transactions": {"path": str(ROOT / "data" / "cdnow_transactions.txt")}}))
    line = one_line_error(run_cli("run", "--config", str(tmp_path / "config.yaml"), "--output", str(tmp_path / "out")))
    assert line == (f"error: {tmp_path / 'data' / 'online_shopping_session_data.csv'}: file not found (the config has "
                    "no sessions: section, so this default was used); add sessions: with its path, or sessions: null "
                    "for no sessions data")


def test_missing_column_is_one_line_naming_it(tmp_path):
    """Found in the worker processes (the default): one line, and their engines' database folders deleted with
    them (they were left in the temp folder, two per failed run)."""
    config = write_config(tmp_path, sessions={"columns": {"purchase": "Bought"}})
    temp = tmp_path / "temp"
    temp.mkdir()
    line = one_line_error(run_cli("run", "--config", str(config), "--output", str(tmp_path), env={"TMPDIR": str(temp)}))
    assert "no column 'Bought'" in line and "sessions.columns" in line
    assert list(temp.iterdir()) == []


def test_missing_config_and_unknown_key(tmp_path):
    line = one_line_error(run_cli("run", "--config", str(tmp_path / "nope.yaml")))
    assert "config file not found" in line
    config = write_config(tmp_path, rates={"segmnets": ["segment"]})
    line = one_line_error(run_cli("run", "--config", str(config), "--output", str(tmp_path)))
    assert "rates.segmnets: unknown key" in line


def test_campaign_segment_absent_from_data(tmp_path):
    # Only the purchase rates (the exact independent model) and the campaign, so that the error comes fast:
    # the campaign runs after the purchase rates (with the default config after the hierarchical model's NUTS
    # fit) and after the drivers and the other session analyses, which have tests of their own.
    config = write_config(tmp_path, campaign={"segment": "Other"}, rates={"compare_models": False},
                          **only("purchase_rates", "campaign"))
    line = one_line_error(run_cli("run", "--config", str(config), "--output", str(tmp_path)))
    assert "campaign.segment: 'Other' is not a level of segment" in line


def test_same_config_and_seed_give_the_same_summary(bundled_result):
    from shopper_bayes.runner import analyse

    config, first = bundled_result
    assert json.dumps(analyse(config).summary, sort_keys=True) == json.dumps(first.summary, sort_keys=True)


def test_help_loads_no_numerical_library():
    """`shopper-bayes --help` answers from argparse alone (issue 20: under a second): numpy, scipy, pandas
    and pyarrow load only when a command needs them."""
    done = subprocess.run([sys.executable, "-c", "import sys\nfrom shopper_bayes.cli import main\ntry:\n main(['--help'])\n"
                           "except SystemExit as exit:\n code = exit.code\n"
                           "print(sorted({'numpy', 'scipy', 'pandas', 'pyarrow'} & set(sys.modules)), code)"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=os.environ | {"PYTHONPATH": str(ROOT / "src")})
    assert done.stdout.strip().splitlines()[-1] == "[] 0"


def test_a_terminated_run_deletes_its_temporary_files_and_keeps_the_previous_outputs(tmp_path):
    """SIGTERM (``kill``, a scheduler's limit) mid-run: one line, exit 143, the previous outputs as they were, and
    none of the run's temporary folders left (the engine's database: gigabytes at 100 million rows)."""
    import signal
    import time

    config = write_config(tmp_path)  # every analysis on the bundled data: long enough to stop it on the way
    previous = tmp_path / "out" / "reports" / "summary.json"
    previous.parent.mkdir(parents=True)
    previous.write_text("{}")
    temp = tmp_path / "temp"
    temp.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "shopper_bayes.cli", "run", "--config", str(config), "--output", str(tmp_path / "out")],
        cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT / "src"), "TMPDIR": str(temp)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(temp.glob("shopper-bayes-*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)  # into the analyses
    assert process.poll() is None, "the run ended before it could be stopped"
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=120)  # the worker processes too hold its stderr until they end
    assert time.monotonic() - sent < 15, "the run (or a worker) went on after SIGTERM"
    assert process.returncode == 143, stderr
    assert stderr.strip() == "error: terminated; previous outputs are unchanged"
    assert list(temp.glob("shopper-bayes-*")) == []
    assert previous.read_text() == "{}"



TERMINATED_AS_IT_FORKS = """
import os, signal, sys
from shopper_bayes import cli

def stop():  # SIGTERM to the run just as it forks its first worker, after the fork
    if not sent:
        sent.append(os.getpid())
        print("forked", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)

sent = []
os.register_at_fork(after_in_parent=stop)
sys.exit(cli.main(["run", "--config", sys.argv[1], "--output", sys.argv[2]]))
"""


def test_a_run_terminated_as_it_forks_its_workers_stops(tmp_path):
    """SIGTERM while the run forks its worker processes: its handler would raise inside Python's fork hooks, which
    ignore exceptions, so the stop was lost (the run went on to the end; once it hung, logging's lock held across
    the fork never released). It must stop like any other SIGTERM."""
    import time

    previous = tmp_path / "out" / "reports" / "summary.json"
    previous.parent.mkdir(parents=True)
    previous.write_text("{}")
    temp = tmp_path / "temp"
    temp.mkdir()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", TERMINATED_AS_IT_FORKS, str(write_config(tmp_path)),
                           str(tmp_path / "out")], cwd=ROOT,
                          env=os.environ | {"PYTHONPATH": str(ROOT / "src"), "TMPDIR": str(temp)},
                          capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stderr.strip()) == (143, "error: terminated; previous outputs are unchanged")
    assert done.stdout.strip() == "forked"  # stopped where meant: as the workers start
    assert time.monotonic() - started < 60  # the whole run takes longer
    assert list(temp.iterdir()) == []
    assert previous.read_text() == "{}"


@pytest.mark.parametrize("doing", ["sampling", "querying"])
def test_a_stopped_worker_deletes_its_engine_folder_though_signalled_again_and_takes_no_other_group(doing, tmp_path, monkeypatch):
    """A worker stopped by the main process (SIGTERM) can be sent SIGTERM again (the pool does so once it sees a
    worker gone) while it deletes its engine's folder: the folder must go all the same (a run stopped on a busy
    machine left two). And a stopped worker exits rather than return to the pool, which would hand
    it the next group of analyses, also when the signal came during a DuckDB query, which then raises its own
    RuntimeError('Query interrupted')."""
    import multiprocessing
    import signal
    import tempfile
    import time
    from concurrent.futures import ProcessPoolExecutor

    from shopper_bayes import runner
    from shopper_bayes.config import load_config

    temp, started = tmp_path / "temp", tmp_path / "started"
    temp.mkdir()
    started.mkdir()

    def analyses(config, keys, fits, step, loader, statistics_first=False, statisticians=None):
        assert loader.engine is not None  # the worker's DuckDB, its folder in the temp folder
        (started / keys[0]).write_text(str(os.getpid()))
        if doing == "querying":
            loader.engine.con.execute("SELECT count(*) FROM range(500_000_000) AS t(x) WHERE x % 7 = 3").fetchall()
        time.sleep(10)
        raise AssertionError("not stopped")

    close = runner.Loader.close

    def close_signalled_again(self):
        os.kill(os.getpid(), signal.SIGTERM)  # stopped again, as it deletes the folder
        close(self)

    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setattr(runner, "_run_analyses", analyses)
    monkeypatch.setattr(runner.Loader, "close", close_signalled_again)
    monkeypatch.setattr(runner, "_JOB", {"config": load_config(write_config(tmp_path)), "step": lambda text: None,
                                         "cleaned": frozenset(), "folder": None})
    with runner.inherited_kept(), ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                                      initializer=runner._stopped_by_the_main_process) as pool:
        first, second = pool.submit(runner._worker, ["first"]), pool.submit(runner._worker, ["second"])
        deadline = time.monotonic() + 60
        while not (started / "first").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
        os.kill(int((started / "first").read_text()), signal.SIGTERM)  # the main process stops the worker
        assert first.exception(timeout=60) is not None
        assert second.exception(timeout=60) is not None
    assert sorted(path.name for path in started.iterdir()) == ["first"]
    assert list(temp.iterdir()) == []


def test_a_stop_raised_inside_a_finalizer_is_sent_again_without_a_traceback(tmp_path, monkeypatch, capfd):
    """A worker's SIGTERM whose handler runs inside a weak-reference callback (numba's, in a stopped run): Python
    swallows the handler's exception and printed "Exception ignored in ..." with a traceback, and the worker went
    on. The stop must be sent again, quietly, and the worker end."""
    import multiprocessing
    import signal
    import time
    import weakref
    from concurrent.futures import ProcessPoolExecutor

    from shopper_bayes import runner
    from shopper_bayes.config import load_config

    def analyses(config, keys, fits, step, loader, statistics_first=False, statisticians=None):
        class Thing:
            pass

        def callback(reference):
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before this callback returns
            sum(range(100_000))

        thing = Thing()
        reference = weakref.ref(thing, callback)  # noqa: F841
        del thing
        time.sleep(30)
        raise AssertionError("not stopped")

    monkeypatch.setattr(runner, "_run_analyses", analyses)
    monkeypatch.setattr(runner, "_JOB", {"config": load_config(write_config(tmp_path)), "step": lambda text: None,
                                         "cleaned": frozenset(), "folder": str(tmp_path)})
    started = time.monotonic()
    with runner.inherited_kept(), ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                                      initializer=runner._stopped_by_the_main_process) as pool:
        assert not isinstance(pool.submit(runner._worker, ["first"]).exception(timeout=60), AssertionError)
    assert time.monotonic() - started < 20
    assert "Exception ignored" not in capfd.readouterr().err


def _own_engine_then_collect(keys):
    """A worker's group: its own engine's query, then a full garbage collection."""
    import gc

    import duckdb

    duckdb.connect().sql("SELECT sum(range) FROM range(1000000)").fetchall()
    gc.collect()
    return keys


def test_a_worker_never_collects_a_duckdb_connection_the_main_process_left_in_a_reference_cycle(monkeypatch):
    """A connection in a cycle, garbage in the main process when the pool forks: collected in a worker that runs its
    own engine, its destructor joined threads the worker does not have and waited for one of the worker's own
    engine threads, forever (the worker hung)."""
    import gc
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    import duckdb

    from shopper_bayes import runner

    class Cycle:
        def __init__(self):
            self.itself = self
            self.con = duckdb.connect()
            self.con.sql("SELECT sum(range) FROM range(1000000)").fetchall()  # its engine's threads start

    monkeypatch.setattr(runner, "_worker", _own_engine_then_collect)
    results = []
    gc.disable()  # the cycle stays garbage until the pool forks
    try:
        Cycle()
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            waiting = threading.Thread(target=lambda: results.append(runner._results(pool, [["first"]])), daemon=True)
            waiting.start()
            waiting.join(timeout=60)
            hung = waiting.is_alive()
            if hung:
                for process in pool._processes.values():
                    process.kill()
    finally:
        gc.enable()
    assert not hung
    assert results == [[["first"]]]


STOPPED_IN_A_FINALIZER = """
import os, signal, sys, time, weakref
from shopper_bayes import cli, runner

class Thing:
    pass

def analyse(config, **options):  # the run, stopped while a weak-reference callback runs
    thing = Thing()
    reference = weakref.ref(thing, lambda reference: (os.kill(os.getpid(), signal.SIGTERM), sum(range(100_000))))
    del thing
    time.sleep(30)

runner.analyse = analyse
sys.exit(cli.main(["run", "--config", sys.argv[1], "--output", sys.argv[2]]))
"""


def test_a_run_stopped_inside_a_finalizer_stops(tmp_path):
    """The main process's SIGTERM whose handler runs inside a finalizer: swallowed by Python, it was lost (the run
    went on) and printed a traceback. It is sent again: one line, exit 143."""
    import time

    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", STOPPED_IN_A_FINALIZER, str(write_config(tmp_path)),
                           str(tmp_path / "out")], cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr.strip()) == (143, "error: terminated; previous outputs are unchanged")
    assert time.monotonic() - started < 20


def _killed(keys: list[str]) -> None:
    import signal

    from shopper_bayes import runner

    config = runner._JOB["config"]
    assert runner.Loader(config, {}, folder=runner._JOB["folder"]).engine is not None  # its database folder
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_from_outside_is_one_line_naming_the_workers(tmp_path, monkeypatch):
    """A worker process stopped by something other than the run (``kill -9``, the kernel's out-of-memory killer):
    the run says so in one line and which option needs less memory, instead of an internal error; and the
    killed worker's engine folder, which it could not delete itself, is deleted with the run's."""
    import tempfile

    from shopper_bayes import runner
    from shopper_bayes.config import load_config
    from shopper_bayes.errors import UserError

    config = load_config(write_config(tmp_path))
    assert len(runner.groups(config, [analysis.key for analysis in runner.registry(config)[1]])) > 1
    monkeypatch.setattr(runner, "_worker", _killed)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    with pytest.raises(UserError) as caught:
        runner.analyse(config, workers=2)
    assert caught.value.line() == ("error: --workers: a worker process was stopped before its analyses finished "
                                   "(killed, or out of memory?); run again; --workers 1 needs less memory")
    assert list((tmp_path / "temp").iterdir()) == []


def _refused_or_slow(keys: list[str]):
    import time

    from shopper_bayes.errors import UserError

    if "drivers" in keys:
        time.sleep(120)
    raise UserError("campaign.segment", "no sessions in this segment", "choose another")


def test_a_refusal_in_one_worker_stops_the_others(tmp_path, monkeypatch):
    """A refusal (or an error) in one worker ends the run at once: the other workers are stopped rather than left
    to finish their analyses (the drivers' fit, say) before the user reads the refusal."""
    import tempfile
    import time

    from shopper_bayes import runner
    from shopper_bayes.config import load_config
    from shopper_bayes.errors import UserError

    config = load_config(write_config(tmp_path))
    assert ["drivers"] in runner.groups(config, [analysis.key for analysis in runner.registry(config)[1]])
    monkeypatch.setattr(runner, "_work", _refused_or_slow)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    started = time.monotonic()
    with pytest.raises(UserError, match="no sessions in this segment"):
        runner.analyse(config, workers=2)
    assert time.monotonic() - started < 60
    assert list((tmp_path / "temp").iterdir()) == []


STOPPED_IN_A_QUERY = """
import os, signal, sys, threading
from shopper_bayes import cli, runner

def analyse(config, **options):  # the run, stopped while DuckDB runs a query (reading 100 million rows, say)
    import duckdb
    threading.Timer(0.5, os.kill, (os.getpid(), getattr(signal, sys.argv[1]))).start()
    duckdb.connect().execute("SELECT count(*) FROM range(500_000_000) AS t(x) WHERE x % 7 = 3").fetchall()

runner.analyse = analyse
sys.exit(cli.main(["run", "--config", sys.argv[2], "--output", sys.argv[3]]))
"""


@pytest.mark.parametrize("signal_name, code, word", [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted")])
def test_stopped_during_a_query_is_a_stop_not_an_internal_error(signal_name, code, word, tmp_path):
    """SIGTERM or Ctrl-C while DuckDB runs a query in the main process: DuckDB raises RuntimeError('Query
    interrupted') in place of the signal's exception; the run still ends as stopped (it said "internal error").
    (Now and then DuckDB notices the signal only when the query ends: a few seconds here.)"""
    done = subprocess.run([sys.executable, "-c", STOPPED_IN_A_QUERY, signal_name, str(write_config(tmp_path)),
                           str(tmp_path / "out")], cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr.strip()) == (code, f"error: {word}; previous outputs are unchanged")


def test_skipped_analyses_are_one_line_per_reason_and_a_null_dataset_is_the_users_choice(tmp_path):
    """A dataset left out skips every analysis of it: one console line for them, not one each with a blank line between
    (12 lines for a user's `sessions: null`); and `X: null` reads as chosen, not as a section to add."""
    from shopper_bayes.config import load_config
    from shopper_bayes.report.console import format_run
    from shopper_bayes.runner import _skip_reason, registry

    text = format_run({"data": {}, "skipped": {"a": "switched off (a.enabled: false)", "b": "no x data", "c": "no x data"}},
                      analyses=[])
    assert text.splitlines() == ["", "Skipped a: switched off (a.enabled: false)", "Skipped b, c: no x data"]
    config = load_config(write_config(tmp_path, transactions=None))
    datasets, analyses = registry(config)
    reasons = {analysis.key: _skip_reason(config, analysis, {d.name: d for d in datasets}) for analysis in analyses}
    assert reasons["clv"] == "no transactions data (transactions: null in the config)"
    assert reasons["ad_campaigns"] == "no ads data configured (add the ads: section with its path)"

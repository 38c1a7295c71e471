"""What `shopper-bayes run` prints where: step lines with their times on a terminal (a pseudo-terminal
here), only the final summary on a pipe, and only errors with --quiet. One quick analysis runs."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest

from conftest import ROOT, only, write_config

STEP = "Monthly trends"  # the analysis's title, printed as its step


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("progress")
    return write_config(folder, transactions={"path": str(ROOT / "data" / "cdnow_transactions.txt")},
                        **only("customers_monthly"))


def command(config, *flags) -> list[str]:
    return [sys.executable, "-m", "shopper_bayes.cli", "run", "--config", str(config), "--output",
            str(config.parent / "out"), *flags]


def environment() -> dict:
    return os.environ | {"PYTHONPATH": str(ROOT / "src"), "TERM": "xterm", "COLUMNS": "120"}


def on_terminal(args: list[str]) -> tuple[int, str]:
    """Run ``args`` with stdout and stderr on a pseudo-terminal; its exit status and everything it showed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=environment(),
                               close_fds=True)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the process exited
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(), re.sub(r"\x1b\[[0-9;]*m", "", shown.decode("utf-8", "replace"))  # styles off


def on_pipe(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=environment())


def test_a_terminal_shows_each_step_with_its_time_then_the_summary(config):
    status, shown = on_terminal(command(config))
    assert status == 0, shown
    assert f"→ {STEP} …" in shown and re.search(rf"\n  {STEP}: \d+\.\d s\r?\n", shown)
    assert shown.index("→ reading and cleaning Transactions …") < shown.index(f"→ {STEP}")  # before the first analysis
    assert "→ figures and report …" in shown and re.search(r"\ntotal \d+\.\d s\r?\n", shown)
    assert "Monthly trends: 18 months" in shown and "Wrote " in shown  # the summary comes too
    assert shown.index(f"→ {STEP}") < shown.index("Wrote ")


def test_a_pipe_gets_the_summary_without_steps_or_terminal_codes(config):
    done = on_pipe(command(config))
    assert done.returncode == 0, done.stderr
    assert "Monthly trends: 18 months" in done.stdout and "Wrote " in done.stdout
    assert "→" not in done.stdout + done.stderr and "total " not in done.stderr
    assert "\x1b[" not in done.stdout + done.stderr and "\r" not in done.stdout + done.stderr
    assert done.stderr == ""


def test_quiet_prints_nothing_on_a_terminal_when_all_is_well(config):
    status, shown = on_terminal(command(config, "--quiet"))
    assert status == 0
    assert shown == ""


def test_quiet_still_prints_errors(config, tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text(config.read_text().replace("cdnow_transactions.txt", "no_such_file.txt"), encoding="utf-8")
    status, shown = on_terminal(command(bad, "--quiet"))
    assert status == 2
    assert shown.startswith("error: ") and "no_such_file.txt" in shown and "→" not in shown


def test_with_workers_each_step_ends_once(tmp_path):
    """Two datasets in two forked workers: each inherits the step its parent was in, which must end in the parent
    only (a worker's first step line used to end it a second time, with the worker's clock)."""
    config = write_config(tmp_path, transactions={"path": str(ROOT / "data" / "cdnow_transactions.txt")},
                          **only("customers_monthly", "session_behaviour"))
    status, shown = on_terminal(command(config, "--workers", "2"))
    assert status == 0, shown
    ended = re.findall(r"\n  ([^\n]+): \d+\.\d s\r?(?=\n)", shown)
    assert len(ended) == len(set(ended)), ended
    assert {"the analyses, in 2 worker processes", STEP, "Session behaviour"} <= set(ended)
    assert {"reading and cleaning Transactions", "reading and cleaning Shopping sessions"} <= set(ended)

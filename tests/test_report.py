"""The report: numbers traced to summary.json, valid HTML, embedded figures, escaping, switches."""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from shopper_bayes.report import executive_summary, pct, render_html, render_markdown

HOSTILE = "<script>alert(1)</script>"
PIPES = "a|b*c_d"


@pytest.fixture(scope="module")
def summary(bundled_result):
    _, result = bundled_result
    return json.loads(json.dumps(result.summary))  # as read back from summary.json


def numbers_in(data) -> list[float]:
    if isinstance(data, dict):
        return [n for value in data.values() for n in numbers_in(value)]
    if isinstance(data, list):
        return [n for value in data for n in numbers_in(value)]
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return [float(data)]
    return []


def test_every_number_in_the_executive_summary_is_in_summary_json(summary):
    known = numbers_in(summary)
    for sentence in executive_summary(summary):
        for value in sentence.values:
            assert any(abs(value - k) < 1e-12 for k in known), value
        # Every number printed in the sentence is one of those values, rounded for reading.
        shown = {"99.9%", "0.1%"}
        for v in sentence.values:
            shown |= {pct(v), f"{v:.0%}", f"{v:+.0%}", f"{v:+.1%}", f"{v:.2f}", f"{v:,.0f}", f"{v * 100:.1f}",
                      f"{v * 100:+.1f}", f"{v * 100:.2f}"}
        for token in re.findall(r"[+-]?\d[\d,]*(?:\.\d+)?%?", sentence.text):
            assert token in shown, (token, sentence.text)


class Checker(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.images, self.scripts = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag == "script":
            self.scripts += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()


def parse(text: str) -> Checker:
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert checker.stack == []
    return checker


def test_html_parses_and_embeds_every_figure(bundled_result, summary, tmp_path):
    from shopper_bayes.pipeline import Result, write_outputs
    from shopper_bayes.config import Config
    from shopper_bayes.report import FIGURES

    _, result = bundled_result
    config = Config.model_validate(summary["config"] | {"sessions": {"path": "x.csv"}, "figures": True})
    write_outputs(Result(summary, result.trees, result.counts), config, tmp_path)
    page = (tmp_path / "reports" / "report.html").read_text()
    checker = parse(page)
    assert len(checker.images) == len(FIGURES)
    for src in checker.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (tmp_path / "reports" / "report.md").read_text()
    for link in re.findall(r"\]\((\.\./figures/[^)]+)\)", markdown):
        assert (tmp_path / "reports" / link).resolve().is_file()


def _tiny_tree():
    import numpy as np
    import xarray as xr

    return xr.DataTree.from_dict({"posterior": xr.Dataset({"rate": (("chain", "draw"), np.zeros((1, 2)))})})


def hostile(summary: dict) -> dict:
    bad = copy.deepcopy(summary)
    for row in bad["purchase_rates"]:
        row["segment"] = HOSTILE if row["segment"] == "New_Customer" else PIPES
    for comparison in bad["rate_comparisons"]:
        comparison["a"], comparison["b"] = HOSTILE, PIPES
    bad["campaign"]["segment"] = PIPES
    bad["cleaning"]["dropped"] = {HOSTILE: 3, PIPES: 4}
    for pair in bad["correlations"]["pairs"]:
        pair["segment"], pair["note"] = HOSTILE, PIPES
    return bad


def test_strings_from_the_data_are_escaped(summary):
    bad = hostile(summary)
    page = render_html(bad, None)
    assert HOSTILE not in page and parse(page).scripts == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    markdown = render_markdown(bad, None)
    assert "<script>" not in markdown
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)
            assert cells[0] == "" and cells[-1] == ""
    tables = [block for block in markdown.split("\n\n") if block.startswith("|")]
    for block in tables:
        widths = {len(re.split(r"(?<!\\)\|", line)) for line in block.splitlines()}
        assert len(widths) == 1, block  # every row of a table has the same number of cells


def test_failed_convergence_is_loud(summary):
    bad = copy.deepcopy(summary)
    bad["diagnostics"] |= {"ok": False, "problems": ["R-hat 1.200 above 1.01"]}
    page = render_html(bad, None)
    assert 'class="banner"' in page and "R-hat 1.200 above 1.01" in page
    assert "did not converge" in render_markdown(bad, None)


def test_figures_off_writes_no_png_and_says_so(tmp_path):
    from conftest import ROOT, write_config

    config = write_config(tmp_path, figures=False, sampler={"draws": 200, "tune": 200, "chains": 2},
                          diagnostics={"min_ess": 10}, correlations={"resamples": 200})
    done = subprocess.run([sys.executable, "-m", "shopper_bayes.cli", "run", "--config", str(config), "--output", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    assert list(out.rglob("*.png")) == []
    page = (out / "reports" / "report.html").read_text()
    assert "Figures are switched off" in page and "<img" not in page
    # Re-rendering from the folder is fast and needs no model.
    again = subprocess.run([sys.executable, "-c", "import sys; from shopper_bayes.cli import main; "
                            "code = main(['report', '--output', sys.argv[1]]); "
                            "assert 'pymc' not in sys.modules; sys.exit(code)", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert (out / "reports" / "report.md").is_file()


def test_report_off_writes_no_report(tmp_path, summary):
    from shopper_bayes.config import Config
    from shopper_bayes.pipeline import Result, write_outputs

    config = Config.model_validate(summary["config"] | {"sessions": {"path": "x.csv"}, "report": False})
    written = write_outputs(Result(summary, {"independent": _tiny_tree()}, None), config, tmp_path)
    assert not any(path.name.startswith("report.") for path in written)
    assert not (tmp_path / "reports" / "report.html").exists()


def test_report_command_without_a_run_is_one_line(tmp_path):
    from shopper_bayes.cli import main

    assert main(["report", "--output", str(tmp_path)]) == 2


def test_reproducibility_section_shows_config_seed_versions_and_checksum(summary):
    page = render_html(summary, None)
    assert summary["data"]["sha256"] in page and f"Seed {summary['config']['seed']}" in page
    assert html_escape(json.dumps(summary["config"]["campaign"]["segment"])) in page
    assert all(version in page for version in summary["versions"].values())


def html_escape(text: str) -> str:
    import html

    return html.escape(text)

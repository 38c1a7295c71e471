"""The report: numbers traced to summary.json, valid HTML, embedded figures, escaping, switches."""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from shopper_bayes.report.build import build
from shopper_bayes.report.document import Sentence, pct, prob_text
from shopper_bayes.report.render import render_html, render_markdown

HOSTILE = "<script>alert(1)</script>"
PIPES = "a|b*c_d"


@pytest.fixture(scope="module")
def summary(bundled_result):
    _, result = bundled_result
    return json.loads(json.dumps(result.summary))  # as read back from summary.json


def numbers_in(data, path: tuple = ()) -> list[tuple[float, tuple]]:
    """Every number in ``data`` with its path (keys and list indices)."""
    if isinstance(data, dict):
        return [n for key, value in data.items() for n in numbers_in(value, (*path, key))]
    if isinstance(data, list):
        return [n for index, value in enumerate(data) for n in numbers_in(value, (*path, index))]
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return [(float(data), path)]
    return []


NUMBER = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?%?")
ESTIMATES = ("mean", "r", "expected_sales")  # the point estimate an interval is quoted with
INTERVALS = ("interval", "sales_interval")


def renderings(v: float) -> set[str]:
    """The ways a value may be printed, rounded for reading (a boost also as a multiplier and in points)."""
    shown = {pct(v), f"{v:.0%}", f"{v:+.0%}", f"{v:+.1%}", f"{v:.2f}", f"{v:,.0f}", f"{v * 100:.1f}",
             f"{v * 100:+.1f}", f"{v * 100:.2f}", f"{1 + v:.3g}", f"{v * 100:+.0f}"}
    return shown | set(NUMBER.findall(prob_text(v)))


def check_sentence(sentence: Sentence, known: list[tuple[float, tuple]]) -> None:
    """Every value of the sentence is a number of summary.json; every number printed is one of its values;
    and every interval printed follows the estimate it belongs to (A's interval next to A's rate)."""
    paths = []
    for value in sentence.values:
        found = [path for number, path in known if abs(value - number) < 1e-12]
        assert found, (value, sentence.text)
        paths.append(found)
    estimate = None  # the parents (in summary.json) of the estimate printed last
    for token in NUMBER.findall(sentence.text):
        quoted = [index for index, value in enumerate(sentence.values) if token in renderings(value)]
        assert quoted, (token, sentence.text)
        where = [path for index in quoted for path in paths[index]]
        estimates = {path[:-1] for path in where if path[-1] in ESTIMATES}
        ends = {path[:-2] for path in where if len(path) > 1 and path[-2] in INTERVALS and path[-1] in (0, 1)}
        if estimates:
            estimate = estimates
        elif ends:
            assert estimate is not None and ends & estimate, (
                f"interval end {token} is not printed after the estimate it belongs to", sentence.text)


def test_every_number_in_the_executive_summary_is_in_summary_json(summary):
    known = numbers_in(summary)
    sentences = build(summary).executive
    assert sum(bool(sentence.values) for sentence in sentences) >= 4
    for sentence in sentences:
        check_sentence(sentence, known)


def rates_headline(summary) -> Sentence:
    return next(sentence for sentence in build(summary).executive if "CrI" in sentence.text)


def test_the_number_check_fails_when_the_intervals_of_a_and_b_are_swapped(summary):
    """The check above must be able to fail: a sentence quoting B's interval as A's, and A's as B's."""
    from shopper_bayes.report.document import pct_range

    known = numbers_in(summary)
    right = rates_headline(summary)
    check_sentence(right, known)
    a_mean, prob, a_lo, a_hi, b_mean, b_lo, b_hi, *rest = right.values
    a, b = pct_range((a_lo, a_hi)), pct_range((b_lo, b_hi))
    assert right.text.count(a) == right.text.count(b) == 1
    text = right.text.replace(a, "\0").replace(b, a).replace("\0", b)
    # the text swapped and the values as they should be: numbers all in summary.json, but misplaced
    with pytest.raises(AssertionError, match="is not printed after the estimate it belongs to"):
        check_sentence(Sentence(text, right.values), known)
    # the text and its values swapped together, as a renderer taking the wrong row would make them
    with pytest.raises(AssertionError, match="is not printed after the estimate it belongs to"):
        check_sentence(Sentence(text, [a_mean, prob, b_lo, b_hi, b_mean, a_lo, a_hi, *rest]), known)


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


FIGURES = {"purchase_rates", "rate_lift", "ppc", "prior_predictive", "rank", "trace", "campaign", "campaign_scenarios",
           "correlations", "correlation_matrix"}


def test_html_parses_and_embeds_every_figure(bundled, tmp_path):
    from shopper_bayes.outputs import Staging
    from shopper_bayes.runner import analyse, render

    config, _, fits = bundled
    config = config.model_copy(update={"figures": True})
    result = analyse(config, fits=fits)  # the bundled fits, reused
    assert {figure["name"] for figure in result.summary["figures"]} == FIGURES
    with Staging(tmp_path) as staging:
        render(result, config, staging)
        staging.commit()
    page = (tmp_path / "reports" / "report.html").read_text()
    checker = parse(page)
    assert len(checker.images) == len(FIGURES)
    for src in checker.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (tmp_path / "reports" / "report.md").read_text()
    links = re.findall(r"\]\((\.\./figures/[^)]+)\)", markdown)
    assert len(links) == len(FIGURES)
    for link in links:
        assert (tmp_path / "reports" / link).resolve().is_file()


def _tiny_tree():
    import numpy as np
    import xarray as xr

    return xr.DataTree.from_dict({"posterior": xr.Dataset({"rate": (("chain", "draw"), np.zeros((1, 2)))})})


def hostile(summary: dict) -> dict:
    bad = copy.deepcopy(summary)
    names = {"New_Customer": HOSTILE, "Returning_Customer": PIPES}
    rates = bad["purchase_rates"]
    for row in [*rates["rates"], *rates["best"], *(row for rows in rates["by_model"].values() for row in rows)]:
        row["label"] = names[row["label"]]
        row["segment"] = {"segment": row["label"]}
    for comparison in rates["comparisons"]:
        comparison["a"], comparison["b"] = {"segment": HOSTILE}, {"segment": PIPES}
    bad["campaign"]["segment"], bad["campaign"]["label"] = {"segment": PIPES}, PIPES
    for use in bad["data"]["sessions"]["analyses"].values():
        use["dropped"] = {HOSTILE: 3, PIPES: 4}
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
    markdown = render_markdown(bad, None)
    assert "> **Warning: a model fit did not pass its convergence checks (R-hat 1.200 above 1.01)" in markdown


def test_figures_off_writes_no_png_and_says_so(tmp_path):
    from conftest import ROOT, SESSION_ANALYSES, only, write_config

    config = write_config(tmp_path, figures=False, sampler={"draws": 200, "tune": 200, "chains": 2},
                          diagnostics={"min_ess": 10}, correlations={"resamples": 200}, **only(*SESSION_ANALYSES))
    done = subprocess.run([sys.executable, "-m", "shopper_bayes.cli", "run", "--config", str(config), "--output", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    assert list(out.rglob("*.png")) == []
    page = (out / "reports" / "report.html").read_text()
    assert "Figures are switched off" in page and "<img" not in page
    # Re-rendering from the folder is fast: it needs no model, no diagnostics and no numba kernel.
    again = subprocess.run([sys.executable, "-c", "import sys; from shopper_bayes.cli import main; "
                            "code = main(['report', '--output', sys.argv[1]]); "
                            "assert not {'pymc', 'arviz_stats', 'numba'} & set(sys.modules), "
                            "sorted({'pymc', 'arviz_stats', 'numba'} & set(sys.modules)); sys.exit(code)", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert (out / "reports" / "report.md").is_file()


def test_report_off_writes_no_report(tmp_path, summary):
    from shopper_bayes.analyses.base import Output
    from shopper_bayes.analyses.purchase_rates.results import RatesResult
    from shopper_bayes.config import config_model
    from shopper_bayes.outputs import Staging
    from shopper_bayes.runner import Run, render

    config = config_model().model_validate(summary["config"] | {"sessions": {"path": "x.csv"}, "report": False})
    output = Output(RatesResult.model_validate(summary["purchase_rates"]), models={"purchase_rates_independent": _tiny_tree()})
    with Staging(tmp_path) as staging:
        render(Run(summary, {"purchase_rates": output}), config, staging)
        written = staging.commit()
    assert (tmp_path / "models" / "purchase_rates_independent.nc").is_file()
    assert not any(path.name.startswith("report.") for path in written)
    assert not (tmp_path / "reports" / "report.html").exists()


def test_report_command_without_a_run_is_one_line(tmp_path):
    from shopper_bayes.cli import main

    assert main(["report", "--output", str(tmp_path)]) == 2


def test_reproducibility_section_shows_config_seed_versions_and_checksum(summary):
    page = render_html(summary, None)
    assert summary["data"]["sessions"]["sha256"] in page and f"Seed {summary['config']['seed']}" in page
    assert html_escape(json.dumps(summary["config"]["campaign"]["segment"])) in page
    assert all(str(version) in page for version in summary["versions"].values())


def html_escape(text: str) -> str:
    import html

    return html.escape(text)

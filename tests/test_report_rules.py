"""Rules every report section follows, checked on the rendered report without a browser: figures have
alt text and captions, tables sit in scroll boxes and are downloadable, every term used is in the
glossary, the scope is stated and follows the filter, Markdown has no stray escapes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from conftest import only, write_config
from shopper_bayes.config import load_config
from shopper_bayes.report.build import build
from shopper_bayes.report.glossary import GLOSSARY
from shopper_bayes.report.render import md_escape, render_html, render_markdown
from shopper_bayes.runner import run

# Terms a reader may not know; wherever the report uses one, the glossary must explain it.
# term as it appears in the text -> its glossary entry
JARGON = {"CrI": "credible interval", "credible interval": "credible interval", "pp": "pp", "plug-in": "plug-in",
          "posterior predictive": "posterior predictive", "ELPD": "ELPD", "PSIS-LOO": "PSIS-LOO", "Pareto k": "Pareto k",
          "BCa": "BCa", "R-hat": "R-hat", "ESS": "ESS", "BFMI": "BFMI", "Gini": "Gini coefficient", "CLV": "CLV",
          "ROI": "ROI", "CTR": "CTR", "CPL": "CPL", "CAC": "CAC", "AUC": "AUC", "odds ratio": "odds ratio"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    config = load_config(write_config(folder, figures=True, correlations={"resamples": 200},
                                      rates={"compare_models": True}))
    result, _, _ = run(config, folder / "out")
    html = (folder / "out" / "reports" / "report.html").read_text()
    markdown = (folder / "out" / "reports" / "report.md").read_text()
    return result.summary, html, markdown, folder / "out"


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.images, self.tables_outside_scroll, self.figures = [], [], 0, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "table" and not any(t == "div" and "scroll" in (a.get("class") or "") for t, a in self.stack):
            self.tables_outside_scroll += 1
        if tag not in ("img", "meta", "br"):
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        while self.stack and self.stack[-1][0] != tag:
            self.stack.pop()
        if self.stack:
            self.stack.pop()


def test_every_figure_has_alt_text_and_a_caption(rendered):
    summary, html, markdown, out = rendered
    parser = _Elements()
    parser.feed(html)
    assert len(parser.images) == len(summary["figures"]) >= 5
    assert all(image.get("alt") for image in parser.images)
    assert html.count("<figcaption>") == len(parser.images)
    for figure in summary["figures"]:
        assert figure["caption"] and figure["alt"]
        assert (out / figure["file"]).is_file()
        assert f"]({'../' + figure['file']})" in markdown


def test_tables_scroll_inside_their_box_and_are_downloadable(rendered):
    summary, html, markdown, out = rendered
    parser = _Elements()
    parser.feed(html)
    assert parser.tables_outside_scroll == 0
    links = re.findall(r'href="tables/([^"]+)\.csv"', html)
    assert links
    for name in links:
        assert (out / "reports" / "tables" / f"{name}.csv").is_file()


def test_the_glossary_explains_every_term_the_report_uses(rendered):
    summary, html, markdown, out = rendered
    glossary = html[html.index('id="glossary"'):]
    body = html[:html.index('id="glossary"')]
    used = [term for term in JARGON if re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", body)]
    assert len(used) >= 8
    for term in used:
        assert JARGON[term] in GLOSSARY
        assert f"<td>{JARGON[term]}</td>" in glossary, term


def test_the_scope_is_stated_and_follows_the_filter(tmp_path, rendered):
    summary, html, markdown, out = rendered
    assert "filtered to month in Nov, Dec" in html.split('id="summary"')[1][:2000]
    config = load_config(write_config(tmp_path, **only("purchase_rates", "campaign") | {
        "sessions": {"filter": {"month": ["May"]}}, "rates": {"compare_models": False}}))
    other, _, _ = run(config, tmp_path / "out")
    sentences = [s.text for s in build(other.summary).executive]
    assert any("filtered to month in May" in s for s in sentences)
    assert sentences != [s.text for s in build(summary).executive]


def test_the_gate_sentence_says_what_it_does_not_check(rendered):
    summary, html, markdown, out = rendered
    assert "so these intervals can be cited" not in html
    assert "does not make the models right" in html


def test_markdown_escapes_only_what_markdown_needs():
    assert md_escape("lift +40% (22% to 60%)") == "lift +40% (22% to 60%)"
    assert md_escape("a_b *c* [d](e) <f> |g| $h$") == r"a\_b \*c\* \[d\](e) \<f\> \|g\| \$h\$"
    assert md_escape("# not a heading") == r"\# not a heading"


def test_data_strings_are_escaped(rendered, tmp_path):
    summary, html, markdown, out = rendered
    hostile = summary | {"purchase_rates": {**summary["purchase_rates"]}}
    rates = [dict(r) for r in hostile["purchase_rates"]["rates"]]
    rates[0]["label"] = "<script>alert(1)</script>"
    hostile["purchase_rates"]["rates"] = rates
    page = render_html(hostile, None)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<script>" not in render_markdown(hostile, None)


def test_summary_json_follows_its_published_schema(rendered):
    """The JSON Schema in schema/ is the one the code generates, and a real run's summary validates."""
    import json

    from conftest import ROOT
    from shopper_bayes.summary_schema import json_schema, summary_model

    summary, html, markdown, out = rendered
    published = json.loads((ROOT / "schema" / "summary.schema.json").read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(json_schema(), sort_keys=True))
    summary_model().model_validate(json.loads((out / "reports" / "summary.json").read_text(encoding="utf-8")))
    broken = json.loads((out / "reports" / "summary.json").read_text(encoding="utf-8"))
    broken["purchase_rates"]["rates"][0]["sessions"] = "many"
    with pytest.raises(Exception):
        summary_model().model_validate(broken)

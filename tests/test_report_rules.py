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


# ---------------------------------------------------------------- purchase rates: checks that can fail, said in words


def _text(section) -> str:
    """Every sentence of a section: paragraphs, warnings, decision boxes and limitations."""
    from shopper_bayes.report.document import Decision, Warning

    parts = []
    for block in section.blocks:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Warning):
            parts.append("WARNING " + block.text)
        elif isinstance(block, Decision):
            parts += block.lines
    return "\n".join(parts + section.limitations)


def _rates(run, **changes):
    from shopper_bayes.analyses.purchase_rates.results import RatesResult

    return RatesResult.model_validate(run.summary["purchase_rates"] | changes)


def test_a_flagged_rank_test_is_explained_in_the_text(bundled_result):
    from shopper_bayes.analyses.purchase_rates.section import section

    _, run = bundled_result
    tests = run.summary["purchase_rates"]["rank_tests"]
    assert tests and {t["model"] for t in tests} == {"hierarchical"}  # the NUTS-fitted model of the bundled run
    assert {"mu_logit", "sigma_segment", "rate of New_Customer", "rate of Returning_Customer"} == {t["variable"] for t in tests}
    quiet = [t | {"p_value": 0.8, "flagged": False} for t in tests]
    text = _text(section(_rates(run, rank_tests=quiet)))
    assert f"0 of {len(tests)} panels have a bar outside it" in text and "borderline" not in text
    borderline = [quiet[0] | {"p_value": 0.03, "flagged": True}, *quiet[1:]]
    text = _text(section(_rates(run, rank_tests=borderline)))
    by_chance = 1 - 0.95 ** len(tests)
    assert (f"The rank test of {tests[0]['variable']} is borderline: p = 0.030, just below 0.05" in text
            and f"in about {by_chance:.0%} of fits whose chains agree" in text
            and "its R-hat and ESS pass the gate" in text
            and "the numbers quoted above come from the independent model" in text)
    assert "WARNING" not in text.split("rank test")[1]
    clear = [quiet[0] | {"p_value": 0.001, "flagged": True}, *quiet[1:]]
    text = _text(section(_rates(run, rank_tests=clear)))
    assert f"WARNING The rank test of {tests[0]['variable']} fails clearly (p = 0.0010)" in text


def test_the_predictive_check_says_what_failing_means(bundled_result):
    """The bundled check fails (Returning_Customer buys far less in Dec than in Nov): a warning with the worst
    group, a limitation and an executive-summary caveat; a passing check says what failing would mean."""
    from shopper_bayes.analyses.purchase_rates.section import headline, section

    _, run = bundled_result
    result = _rates(run)
    text = _text(section(result))
    assert "WARNING The check fails: the purchase rate of a segment differs between months" in text
    assert "most of all Returning_Customer / Dec: 9.4% observed" in text
    assert "the posterior predictive check fails" in "\n".join(section(result).limitations)
    assert any(s.text.startswith("Caveat: the purchase-rate model's predictive check fails") for s in headline(result))
    checks = {name: check.model_copy(update={"passed": True, "outside": [], "groups_outside": 0})
              for name, check in result.predictive_check.items()}
    passing = result.model_copy(update={"predictive_check": checks})
    text = _text(section(passing))
    assert "The independent model passes" in text and "Failing would mean" in text and "WARNING" not in text
    assert not any(s.text.startswith("Caveat") for s in headline(passing))


@pytest.mark.parametrize(("rates", "expected"), [
    ({"segments": ["segment", "month"]}, "not done: month is already a segment column"),
    ({"check_by": None}, "not done (rates.check_by is null)"),
    ({"check_by": "Weekend", "interval_prob": 0.8}, None),
])
def test_the_check_column_and_level_follow_the_config(tmp_path, rates, expected):
    """The check splits by rates.check_by (a raw column works), says why when it cannot, and uses the report's
    interval level in its numbers and its figure captions."""
    import pandas as pd

    from conftest import BUNDLED
    from shopper_bayes.runner import analyse

    config = load_config(write_config(tmp_path, rates={"compare_models": False, **rates}, **only("purchase_rates")))
    run = analyse(config)
    summary = run.summary["purchase_rates"]
    if expected:
        assert summary["predictive_check"] == {} and summary["predictive_check_note"].startswith(expected)
        assert "ppc" not in {spec.name for spec in run.outputs["purchase_rates"].figures}
        return
    check = summary["predictive_check"]["independent"]
    frame = pd.read_csv(BUNDLED)
    frame = frame[frame["Month"].isin(["Nov", "Dec"]) & frame["Purchase"].notna()]
    assert check["by"] == "Weekend" and check["groups"] == frame.groupby(["CustomerType", "Weekend"]).ngroups == 4
    assert check["interval_prob"] == 0.8 and summary["rates"][0]["interval_prob"] == 0.8
    captions = {spec.name: spec.caption for spec in run.outputs["purchase_rates"].figures}
    assert "80% interval" in captions["ppc"] and "80%" in captions["prior_predictive"]
    assert not any("95%" in caption or "90%" in caption or "50%" in caption for caption in captions.values())


def test_campaign_probabilities_never_round_to_a_certainty():
    from shopper_bayes.analyses.campaign.section import shown_prob

    assert shown_prob(0.5) == "50%" and shown_prob(0.903, 4000) == "90%"
    assert shown_prob(0.997, 4000) == "99.7%" and shown_prob(0.004, 4000) == "0.4%"
    assert shown_prob(0.9999, 4000) == "more than 99.9%" and shown_prob(1.0, 4000) == "more than 99.9%"
    assert shown_prob(0.0, 4000) == "less than 0.1%" and shown_prob(1.0) == "more than 99.9%"

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
from shopper_bayes.outputs import Staging
from shopper_bayes.runner import analyse, render, run

# Terms a reader may not know; wherever the report uses one, the glossary must explain it.
# term as it appears in the text -> its glossary entry
JARGON = {"CrI": "credible interval", "credible interval": "credible interval", "pp": "pp", "plug-in": "plug-in",
          "posterior predictive": "posterior predictive", "ELPD": "ELPD", "PSIS-LOO": "PSIS-LOO", "Pareto k": "Pareto k",
          "BCa": "BCa", "R-hat": "R-hat", "ESS": "ESS", "BFMI": "BFMI", "Gini": "Gini coefficient", "CLV": "CLV",
          "ROI": "ROI", "CTR": "CTR", "CPL": "CPL", "CAC": "CAC", "AUC": "AUC", "odds ratio": "odds ratio"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, bundled):
    """Every sessions analysis of the bundled data, rendered with figures. The purchase-rate fits are those of
    the ``bundled`` fixture (the same counts, models, sampler and seed), reused rather than sampled again; the
    drivers of conversion on a sample of 2,000 sessions (its fit converges there too, in a third of the time)."""
    folder = tmp_path_factory.mktemp("report")
    config = load_config(write_config(folder, figures=True, correlations={"resamples": 200},
                                      rates={"compare_models": True}, drivers={"max_rows": 2000}))
    _, _, fits = bundled
    result = analyse(config, fits=fits)
    with Staging(folder / "out") as staging:
        render(result, config, staging)
        staging.commit()
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


def test_every_table_caption_a_section_writes_is_shown_above_its_table(rendered):
    """Sections gave their tables captions that neither renderer showed (a user could tell the spend and orders
    tables apart only by the size of the numbers): each is the table's <caption> in HTML and an italic line above
    it in Markdown."""
    from html import escape

    from shopper_bayes.report.document import Table

    summary, html, markdown, out = rendered
    captions = [block.caption for section in build(summary).sections for block in section.blocks
                if isinstance(block, Table) and block.caption]
    assert len(captions) >= 5
    for caption in captions:
        assert f"<table><caption>{escape(caption)}</caption><thead>" in html, caption
        assert f"*{md_escape(caption)}*\n\n| " in markdown, caption


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
    gate = next(s.text for s in build(summary).executive if "sampling checks" in s.text)
    assert "does not make the models right" in gate
    assert "whether a model fits the data" in gate and "whether rows are independent" in gate
    assert "trustworthy" not in gate


def test_caveats_about_sessions_and_exact_fits_appear_only_where_they_apply(rendered):
    """A run on ads and orders alone read "Sessions of one customer are not independent" in its limitations and "Draws
    from an exact conjugate posterior ... pass by construction" in its diagnostics (a user's check): each is said
    only when the run read sessions, or had an exact fit."""
    import copy

    summary, *_ = rendered

    with_sessions = render_markdown(summary, None)
    assert "Sessions of one customer are not independent" in with_sessions
    assert "sessions of one returning customer are not" in with_sessions and "pass by construction" in with_sessions
    other = copy.deepcopy(summary)
    other["data"].pop("sessions")
    for gate in other["diagnostics"]["by_model"].values():
        for result in (gate.get("by_model") or {"": gate}).values():
            result["method"] = "mcmc"
    without = render_markdown(other, None)
    assert "Sessions of one customer" not in without and "sessions of one returning customer" not in without
    assert "pass by construction" not in without and "checked chain by chain" in without


def test_markdown_escapes_only_what_markdown_needs():
    assert md_escape("lift +40% (22% to 60%)") == "lift +40% (22% to 60%)"
    # inside a word _ makes no emphasis; < and > between spaces make no tag; a bracket alone makes no link
    assert md_escape("New_Customer: P(A > B) < 0.1%, r [0.17, 0.41]") == "New_Customer: P(A > B) < 0.1%, r [0.17, 0.41]"
    assert md_escape("a_b *c* [d](e) <f> |g| $h$") == r"a_b \*c\* [d\](e) \<f\> \|g\| \$h\$"
    assert md_escape("_x_ __y__ ~z~") == r"\_x\_ \_\_y\_\_ \~z\~"
    assert md_escape("# not a heading") == r"\# not a heading"
    assert md_escape("- not a list") == r"\- not a list" and md_escape("1. not a list") == r"1\. not a list"
    assert md_escape("x ~ Beta(a, b)") == "x ~ Beta(a, b)" and md_escape("R&amp;D & co") == r"R\&amp;D & co"


def test_the_markdown_report_reads_as_plain_text(rendered):
    """No backslash where Markdown needs none, and none before a bracket (Jupyter's MathJax takes \\( and \\[
    for maths); every table row still has its cells."""
    summary, html, markdown, out = rendered
    body = markdown.split("```json")[0]
    assert "New_Customer" in body and "\\_" not in body.replace("\\_\\_", "")
    assert not re.search(r"\\[(\[<>]", body.replace("\\<script", "")), re.search(r".{20}\\[(\[<>].{20}", body)
    assert "P(A > B)" in body and "< 0.001" in body
    for line in body.splitlines():
        if line.startswith("|"):
            assert line.endswith("|") and "||" not in line.replace("\\|", "")


def test_data_strings_are_escaped(rendered, tmp_path):
    summary, html, markdown, out = rendered
    hostile = summary | {"purchase_rates": {**summary["purchase_rates"]}}
    rates = [dict(r) for r in hostile["purchase_rates"]["rates"]]
    rates[0]["label"] = "<script>alert(1)</script>"
    hostile["purchase_rates"]["rates"] = rates
    page = render_html(hostile, None)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r"(?<!\\)<script", render_markdown(hostile, None))


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


# ---------------------------------------------------------------- claims no stronger than the evidence


def _pairs(run):
    from shopper_bayes.analyses.correlations.results import CorrelationsResult

    return CorrelationsResult.model_validate(run.summary["correlations"])


def test_the_correlation_headline_calls_no_pair_strongest_when_intervals_overlap(bundled_result):
    """On the bundled data the pooled intervals overlap (checked here from the pairs): no pair is called the
    strongest, the Pearson caveat and the sharp segment difference are in the same sentence. With disjoint
    intervals the top pair is named."""
    from shopper_bayes.analyses.correlations.section import headline, section

    _, run = bundled_result
    result = _pairs(run)
    pooled = [p for p in result.pairs if p.segment == "all"]
    top = max(pooled, key=lambda p: p.r)
    assert any(p.interval[1] >= top.interval[0] for p in pooled if p is not top)
    [sentence] = headline(result)
    assert "no pair is clearly the strongest" in sentence.text and "most" not in sentence.text
    assert "caveat" in sentence.text and "too narrow" in sentence.text
    assert "r = 0.10 for New_Customer against 0.42 for Returning_Customer" in sentence.text
    out = section(result)
    assert any("too narrow" in text for text in out.limitations)
    assert "without a test" in _text(out) and "separately" in _text(out)
    # narrow, disjoint intervals: now one pair does stand out
    narrow = [p.model_copy(update={"interval": (p.r - 0.01, p.r + 0.01)}) for p in result.pairs]
    [sentence] = headline(result.model_copy(update={"pairs": narrow}))
    assert "go together most" in sentence.text and "no pair" not in sentence.text


def test_every_analysis_section_has_a_what_to_do_box(rendered):
    from shopper_bayes.analyses.registry import default_analyses
    from shopper_bayes.report.document import Decision

    summary, html, markdown, out = rendered
    present = [analysis for analysis in default_analyses() if summary.get(analysis.key) is not None]
    keys = {analysis.key for analysis in present}
    assert {"purchase_rates", "campaign", "correlations", "session_behaviour", "drivers"} <= keys
    for analysis in present:
        section = analysis.section(analysis.result.model_validate(summary[analysis.key]))
        assert any(isinstance(block, Decision) for block in section.blocks), analysis.key
    assert html.count('<div class="decision">') >= len(keys)


def _month(month, new, returning, revenue, partial=False):
    from shopper_bayes.analyses.customers_monthly.compute import MonthEntry

    return MonthEntry(month=month, orders=new + returning, revenue=revenue, active_customers=new + returning,
                      new_customers=new, returning_customers=returning, partial=partial)


def test_monthly_trends_say_when_the_peak_is_acquisition():
    """A peak made of new customers is called acquisition, not a season, in the headline, the decision box and
    the limitations; a peak of returning customers is not."""
    from shopper_bayes.analyses.customers_monthly.compute import MonthlyResult
    from shopper_bayes.analyses.customers_monthly.section import headline, section

    acquired = MonthlyResult(months=[_month("2020-01", 900, 0, 5000.0), _month("2020-02", 0, 300, 2000.0),
                                     _month("2020-03", 0, 250, 1500.0)], month_of_year=None, scope={})
    [sentence] = headline(acquired)
    assert "900 of 900 active customers were new" in sentence.text and "acquisition" in sentence.text
    text = _text(section(acquired))
    assert "Do not plan around the peak" in text and "No customer is new after 2020-01" in text
    assert "counts without intervals" in text and section(acquired).limitations
    steady = MonthlyResult(months=[_month("2020-01", 100, 200, 2000.0), _month("2020-02", 100, 400, 5000.0),
                                   _month("2020-03", 100, 300, 3000.0)], month_of_year=None, scope={})
    text = _text(section(steady))
    assert "Do not plan around the peak" not in text and "No customer is new" not in text
    assert "counts without intervals" in text and not section(steady).limitations
    assert headline(steady)[0].text == "Revenue peaked in 2020-02 at 5,000.00."


def test_the_scope_names_the_analyses_that_read_every_row():
    from shopper_bayes.report.build import scope_text

    data = {"sessions": {"title": "Shopping sessions", "path": "s.csv", "analyses": {
                "purchase_rates": {"scope": {"filter": "month in Nov, Dec"}}, "drivers": {"scope": {"filter": None}}}},
            "transactions": {"title": "Transactions", "path": "t.csv", "analyses": {
                "clv": {"scope": {"date_range": ["1997-01-01", "1998-06-30"]}}}}}
    text = scope_text({"data": data}, {"drivers": "Drivers of conversion"})
    assert text == ("Data: shopping sessions from s.csv, filtered to month in Nov, Dec (except Drivers of conversion: "
                    "all rows), no date column; transactions from t.csv, 1997-01-01 to 1998-06-30.")
    data["sessions"]["analyses"]["drivers"]["scope"]["filter"] = "month in Nov, Dec"
    assert "except" not in scope_text({"data": data})


def test_roi_intervals_read_as_two_numbers():
    from shopper_bayes.analyses.ad_campaigns.section import roi_range

    assert roi_range((-0.499, 0.119)) == "-50% to 12%"
    assert roi_range((-0.613, -0.068)) == "-61% to -7%" and roi_range((None, 1.0)) == "n/a"


def test_each_glossary_term_is_linked_to_its_explanation_on_first_use(rendered):
    """The first use of a glossary term in the running text links to its glossary row, with the explanation as
    a tooltip; later uses are plain text."""
    summary, html, markdown, out = rendered
    glossary = html[html.index('id="glossary"'):]
    links = re.findall(r'<a class="term" href="#(term-[a-z0-9-]+)" title="[^"]+">([^<]+)</a>', html)
    assert len(links) >= 8
    targets = [target for target, _ in links]
    assert len(targets) == len(set(targets))  # once per term
    for target, _ in links:
        assert f'<tr id="{target}">' in glossary
    assert ("term-credible-interval", "CrI") == links[[t for t, _ in links].index("term-credible-interval")]
    summary_part = html[html.index('id="summary"'):html.index("</ul>", html.index('id="summary"'))]
    assert 'href="#term-credible-interval"' in summary_part  # first met in the executive summary


def test_the_markdown_report_has_contents_date_and_links(rendered):
    summary, html, markdown, out = rendered
    head = markdown.split("## Executive summary")[0]
    assert "[summary.json](summary.json)" in head and "[tables as CSV](tables/)" in head and "Rendered 20" in head
    titles = re.findall(r"^## (.+)$", markdown, re.M)
    for title in titles:
        anchor = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        assert f"](#{anchor})" in head, title


def test_the_lift_figure_shows_the_difference_with_the_draws_above_zero_shaded(bundled_result):
    """Left: the difference A − B, the bars above 0 in the "above" colour holding exactly the share of draws
    above 0 (counted here with numpy); right: the lift with its band."""
    import numpy as np
    from matplotlib.colors import to_hex

    from shopper_bayes.analyses.purchase_rates.figures import plot_lift
    from shopper_bayes.report.style import PALETTE

    _, run = bundled_result
    result = _rates(run)
    rng = np.random.default_rng(7)
    a, b = rng.beta(30, 70, 4000), rng.beta(28, 72, 4000)  # overlapping: both signs drawn
    fig = plot_lift(result, [a / b - 1], [a - b])
    left, right = fig.axes[:2]
    above = sum(p.get_height() for p in left.patches if to_hex(p.get_facecolor()) == PALETTE[2].lower())
    below = sum(p.get_height() for p in left.patches if to_hex(p.get_facecolor()) == PALETTE[3].lower())
    assert above == pytest.approx(np.mean(a - b > 0)) and below == pytest.approx(np.mean(a - b <= 0))
    assert 0.05 < above < 0.95
    titles = [ax.get_title().replace("\n", " ") for ax in (left, right)]
    assert "P(A > B)" in titles[0] and "P(lift within ±5%)" in titles[1]
    assert left.get_xlabel() == "difference A − B, pp"


def test_table_cells_wrap_at_words_and_checksums_anywhere(rendered):
    """At phone width a table scrolls in its box instead of breaking words letter by letter; a SHA-256 checksum
    is the one cell that may break anywhere."""
    summary, html, markdown, out = rendered
    assert "th,td{overflow-wrap:normal}" in html and "td.hash{overflow-wrap:anywhere" in html
    for data in summary["data"].values():
        assert f'<td class="hash">{data["sha256"]}</td>' in html
    assert '<td class="hash">New_Customer' not in html


def test_driver_inputs_are_shown_in_words_and_levels_kept():
    """Column names in the drivers' terms and units become words; the data's level names stay as they are;
    the methods line maps every label back to its column."""
    from types import SimpleNamespace

    from shopper_bayes.analyses.drivers.labels import column_label, labeller, methods_line

    assert column_label("ProductRelated_Duration") == "product related duration"
    assert column_label("PageValues") == "page values" and column_label("month") == "month"
    terms = ["PageValues > 0: positive", "segment: New_Customer × PageValues > 0: positive", "ExitRates²",
             "ProductRelated_Duration"]
    result = SimpleNamespace(effects=[SimpleNamespace(term=term) for term in terms])
    label = labeller(result)
    assert [label(term) for term in terms] == ["page values > 0: positive",
                                                "segment: New_Customer × page values > 0: positive", "exit rates²",
                                                "product related duration"]
    assert label("per sd of log(1 + ProductRelated_Duration) at positive") == \
        "per sd of log(1 + product related duration) at positive"
    line = methods_line(result)
    assert "page values is PageValues" in line and "exit rates is ExitRates" in line and "New_Customer" not in line


def test_the_campaign_says_how_precise_its_probability_is_and_when_it_only_just_clears(bundled_result):
    from shopper_bayes.analyses.campaign.results import CampaignResult
    from shopper_bayes.analyses.campaign.section import section

    _, run = bundled_result
    result = CampaignResult.model_validate(run.summary["campaign"])
    mcse = result.prob_at_least_target_mcse
    assert 0 < mcse < 0.005
    text = _text(section(result))
    assert f"is {mcse * 100:.2f} percentage points, so probabilities are shown to whole percent" in text
    assert "bisection" in text and "Assumes the campaign multiplies" in text
    wanted = result.inverse.prob_wanted
    close = _text(section(result.model_copy(update={"prob_at_least_target": wanted + 0.001})))
    clear = _text(section(result.model_copy(update={"prob_at_least_target": min(wanted + 0.08, 0.99)})))
    assert "Only just" in close and "Only just" not in clear
    assert "Go: the target is likely" in close and "Go: the target is likely" in clear

"""The report: ``reports/report.html`` (self-contained) and ``reports/report.md``.

Rendered from ``summary.json`` content and the figure files only; nothing here fits or computes
statistics, it only words and rounds numbers the summary already holds. Every string that comes
from the data is escaped for the format it is written in.
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from shopper_bayes.campaign import describe_boost
from shopper_bayes.counts import segment_name

FIGURES = {
    "purchase_rates": ("figures/purchase_rates.png", "Purchase rate by segment, both models"),
    "ppc": ("figures/ppc.png", "Posterior predictive check: observed purchase rate against its predictive interval"),
    "prior_predictive": ("figures/prior_predictive.png", "Prior predictive check: purchase rates the priors allow"),
    "forest": ("figures/forest.png", "Cell rates by model, 50% and 95% intervals (arviz-plots)"),
    "rank": ("figures/rank.png", "Rank plots per chain of the chosen model's hyperparameters and of the six cell "
             "rates with the lowest ESS (inside the band when the chains agree)"),
    "trace": ("figures/trace.png", "Trace plots of the same variables"),
    "campaign": ("figures/campaign.png", "Predicted campaign sales"),
    "campaign_scenarios": ("figures/campaign_scenarios.png",
                           "Probability of reaching the target by boost and sessions: posterior predictive (solid) "
                           "and plug-in (dashed)"),
    "correlations": ("figures/correlations.png", "Correlation intervals, pooled and by segment"),
    "correlation_matrix": ("figures/correlation_matrix.png", "Correlation matrix"),
}


# ---------------------------------------------------------------- numbers and names, for reading


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def prob_text(value: float) -> str:
    """A Monte Carlo probability: 1.0 from a few thousand draws means 'more than 99.9%', not certainty."""
    if value >= 0.999:
        return "more than 99.9%"
    if value <= 0.001:
        return "less than 0.1%"
    return pct(value)


def pct_prob(value: float) -> str:
    """A probability as a percentage in a table, never a bare 100.0% or 0.0%."""
    return "> 99.9%" if value >= 0.9995 else "< 0.1%" if value < 0.0005 else pct(value)


def prob_cell(value: float) -> str:
    """A Monte Carlo probability in a table: 3 decimals, never a bare 1.000 or 0.000."""
    return "> 0.999" if value > 0.999 else "< 0.001" if value < 0.001 else f"{value:.3f}"


def pp(value: float, sign: bool = True) -> str:
    """A difference of rates in percentage points."""
    return f"{value * 100:+.1f} pp" if sign else f"{value * 100:.2f} pp"


def pp_range(interval: list[float]) -> str:
    lo, hi = interval
    return f"{lo * 100:+.1f} to {hi * 100:+.1f} pp"


def pct_range(interval: list[float | None]) -> str:
    lo, hi = interval
    if lo is None or hi is None:
        return "n/a"
    return f"{lo * 100:.1f}–{hi * 100:.1f}%"


# ---------------------------------------------------------------- a format-neutral document


@dataclass
class Sentence:
    """A sentence of the executive summary and the summary.json values it quotes."""

    text: str
    values: list[float] = field(default_factory=list)


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    title: str
    blocks: list[str | Table] = field(default_factory=list)  # paragraphs and tables, in reading order
    figures: list[str] = field(default_factory=list)  # keys of FIGURES
    code: str | None = None  # preformatted text, e.g. the config


def executive_summary(summary: dict) -> list[Sentence]:
    """Plain sentences with the headline numbers and their intervals."""
    sentences = []
    rates = summary["purchase_rates"]
    by_segment = {segment_name(row["segment"]): row for row in rates}
    comparisons = summary.get("rate_comparisons", [])
    if comparisons:
        top = max(comparisons, key=lambda c: abs(c["prob_a_greater"] - 0.5))
        a, b = by_segment[segment_name(top["a"])], by_segment[segment_name(top["b"])]
        prob = a["interval_prob"]
        more = top["prob_a_greater"] >= 0.5
        diff, lift = top["difference"], top["lift"]
        sentences.append(Sentence(
            f"{segment_name(a['segment'])} sessions end in a purchase {'more' if more else 'less'} often than "
            f"{segment_name(b['segment'])} sessions: {pct(a['mean'])} ({prob:.0%} CrI {pct_range(a['interval'])}) "
            f"against {pct(b['mean'])} ({pct_range(b['interval'])}), a difference of {pp(diff['mean'])} "
            f"({pp_range(diff['interval'])}), or {lift['mean']:+.0%} relative ({lift['interval'][0]:+.0%} to "
            f"{lift['interval'][1]:+.0%}). The probability that {segment_name(a['segment'])} buys more is "
            f"{prob_text(top['prob_a_greater'])}.",
            [a["mean"], prob, *a["interval"], b["mean"], *b["interval"], diff["mean"], *diff["interval"],
             lift["mean"], *lift["interval"], top["prob_a_greater"]]))
    else:
        row = rates[0]
        sentences.append(Sentence(
            f"The purchase rate of {segment_name(row['segment'])} is {pct(row['mean'])} "
            f"({row['interval_prob']:.0%} CrI {pct_range(row['interval'])}).",
            [row["mean"], row["interval_prob"], *row["interval"]]))
    best = summary.get("best_segment", [])
    if len(best) > 2:
        sentences.append(Sentence(
            f"Of {len(best)} segments, {segment_name(best[0]['segment'])} most probably has the highest purchase rate "
            f"(probability {pct(best[0]['prob_best'])}; choosing it gives up {pp(best[0]['expected_loss'], sign=False)} "
            "of purchase rate in expectation).", [best[0]["prob_best"], best[0]["expected_loss"]]))

    top_pair = summary.get("correlations", {}).get("top_pair")
    if top_pair:
        lo, hi = top_pair["interval"]
        sentences.append(Sentence(
            f"Of the browsing behaviours compared, time on {top_pair['x']} and on {top_pair['y']} go together most: "
            f"r = {top_pair['r']:.2f} ({top_pair['interval_prob']:.0%} bootstrap interval {lo:.2f} to {hi:.2f}).",
            [top_pair["r"], top_pair["interval_prob"], lo, hi]))

    plan = summary["campaign"]
    lo, hi = plan["sales_interval"]
    kind = plan["boost_type"]
    boost = describe_boost(plan["boost"], kind, plan["boost_sd"])
    sentences.append(Sentence(
        f"A {boost} campaign on {segment_name(plan['segment'])} bringing {plan['sessions']:,} sessions "
        f"reaches at least {plan['target']:,} sales with probability {pct(plan['prob_at_least_target'])}, "
        f"against {pct(plan['prob_at_least_target_plugin'])} by the plain plug-in calculation, which ignores "
        f"the uncertainty about the purchase rate. Expected sales: {plan['expected_sales']:.0f} "
        f"({plan['interval_prob']:.0%} predictive interval {lo}–{hi}).",
        [plan["boost"], plan["boost_sd"], plan["sessions"], plan["target"], plan["prob_at_least_target"],
         plan["prob_at_least_target_plugin"], plan["expected_sales"], plan["interval_prob"], lo, hi]))
    inverse = plan["inverse"]
    needed = inverse["smallest_boost"]
    if needed["boost"] is None:
        sentences.append(Sentence(f"No boost makes {plan['target']:,} sales {pct(inverse['prob_wanted'], 0)} likely "
                                  f"with {plan['sessions']:,} sessions: {needed['reason']}.",
                                  [plan["target"], inverse["prob_wanted"], plan["sessions"]]))
    else:
        plugin = inverse["smallest_boost_plugin"]["boost"]
        sessions = inverse["smallest_sessions"]["sessions"]
        sentences.append(Sentence(
            f"To be {pct(inverse['prob_wanted'], 0)} sure of {plan['target']:,} sales from {plan['sessions']:,} sessions "
            f"the campaign needs a boost of at least {describe_boost(needed['boost'], kind, digits=1)}"
            + (f" (the plug-in calculation would say {describe_boost(plugin, kind, digits=1)})" if plugin is not None else "")
            + (f"; at {boost} it needs {sessions:,} sessions." if sessions is not None else "."),
            [inverse["prob_wanted"], plan["target"], plan["sessions"], needed["boost"], plan["boost"], plan["boost_sd"]]
            + ([plugin] if plugin is not None else []) + ([sessions] if sessions is not None else [])))

    checks = summary["diagnostics"]
    if checks["ok"]:
        sentences.append(Sentence("The model fit passed every convergence check, so these intervals can be cited."))
    else:
        sentences.append(Sentence("The model fit FAILED its convergence checks: do not cite these numbers "
                                  "until the fit is repaired (see Model diagnostics)."))
    return sentences


def _inverse_rows(inverse: dict, plan: dict) -> list[list[str]]:
    def boost(answer):
        return "unreachable" if answer["boost"] is None else describe_boost(answer["boost"], plan["boost_type"], digits=1)

    def sessions(answer):
        return "unreachable" if answer["sessions"] is None else f"{answer['sessions']:,}"

    wanted = pct(inverse["prob_wanted"], 0)
    return [[f"smallest boost for P ≥ {wanted}", boost(inverse["smallest_boost"]), boost(inverse["smallest_boost_plugin"])],
            [f"smallest sessions for P ≥ {wanted} at {describe_boost(plan['boost'], plan['boost_type'], plan['boost_sd'])}",
             sessions(inverse["smallest_sessions"]),
             sessions(inverse["smallest_sessions_plugin"])]]


def sections(summary: dict) -> list[Section]:
    cleaning = summary["cleaning"]
    data = Section("Data and cleaning", [
        f"{cleaning['rows_used']:,} of {cleaning['rows_read']:,} rows of {cleaning['source']} were used."])
    data.blocks.append(Table(["reason a row was dropped", "rows"],
                             [[reason, f"{count:,}"] for reason, count in cleaning["dropped"].items()] or [["none", "0"]]))
    if cleaning.get("changed"):
        data.blocks.append(Table(["value rewritten", "rows"], [[r, f"{c:,}"] for r, c in cleaning["changed"].items()]))

    rates = summary["purchase_rates"]
    prob = rates[0]["interval_prob"]
    rate_section = Section("Purchase rates", [
        f"Posterior mean purchase rate per segment with its central {prob:.0%} credible interval "
        "(the rate lies in the interval with that probability, given the data and the prior)."],
        figures=["purchase_rates"])
    rate_section.blocks.append(Table(
        ["segment", "sessions", "purchases", "observed rate", "posterior mean", f"{prob:.0%} credible interval"],
        [[segment_name(r["segment"]), f"{r['sessions']:,}", f"{r['purchases']:,}", pct(r["observed_rate"]),
          pct(r["mean"]), pct_range(r["interval"])] for r in rates]))
    if summary.get("rate_comparisons"):
        rate_section.blocks.append(
            "Comparisons: the posterior of the difference A − B (percentage points) and of the relative lift "
            "A / B − 1, with the probability that A's rate is the higher.")
        rate_section.blocks.append(Table(
            ["A", "B", "difference", f"{prob:.0%} interval", "lift", f"{prob:.0%} interval", "P(A > B)"],
            [[segment_name(c["a"]), segment_name(c["b"]), pp(c["difference"]["mean"]), pp_range(c["difference"]["interval"]),
              f"{c['lift']['mean']:+.1%}", f"{c['lift']['interval'][0]:+.1%} to {c['lift']['interval'][1]:+.1%}",
              prob_cell(c["prob_a_greater"])] for c in summary["rate_comparisons"]]))
    if summary.get("best_segment"):
        rate_section.blocks.append(
            "Which segment has the highest rate: the probability that each is best, and its expected loss, the "
            "purchase rate given up in expectation by choosing it over the true best.")
        rate_section.blocks.append(Table(["segment", "P(best)", "expected loss"],
                                         [[segment_name(b["segment"]), prob_cell(b["prob_best"]), pp(b["expected_loss"], sign=False)]
                                          for b in summary["best_segment"]]))
    rate_section.figures += ["ppc", "prior_predictive"]
    comparison = summary.get("model_comparison")
    if comparison:
        rate_section.blocks.append(
            f"Model choice: results above are from the {summary['rates_model']} model. {comparison['statement']} "
            "(PSIS-LOO, leaving out one session at a time.)")
        rate_section.blocks.append(Table(
            ["model", "ELPD (LOO)", "SE", "ELPD difference", "SE of difference", "effective parameters", "largest Pareto k"],
            [[name, f"{m['elpd_loo']:.1f}", f"{m['se']:.1f}", f"{m['elpd_diff']:.1f}", f"{m['se_diff']:.1f}",
              f"{m['p_loo']:.1f}", f"{m['max_pareto_k']:.2f}"]
             for name, m in ((name, comparison["models"][name]) for name in comparison["ranking"])]))
        rate_section.blocks.append(Table(
            ["segment"] + [f"{name}: mean ({prob:.0%} CrI)" for name in summary["purchase_rates_by_model"]],
            [[segment_name(rows[0]["segment"])] + [f"{pct(r['mean'])} ({pct_range(r['interval'])})" for r in rows]
             for rows in zip(*summary["purchase_rates_by_model"].values())]))

    pairs = summary["correlations"]["pairs"]
    corr_section = Section("Correlations", figures=["correlations", "correlation_matrix"])
    if pairs:
        first = pairs[0]
        method = "BCa" if first["method"] == "bca" else "percentile"
        corr_section.blocks.append(
            f"{first.get('statistic', 'pearson').capitalize()} correlation between time spent on page types, "
            f"with {first['interval_prob']:.0%} {method} paired-bootstrap intervals (sessions resampled with replacement).")
        if first.get("statistic", "pearson") == "pearson":
            corr_section.blocks.append(
                "Caveat: on heavy-tailed durations, Pearson bootstrap intervals are too narrow. In calibration studies "
                "on generated durations, 90% intervals held the true correlation in 78–88% of datasets; Spearman "
                "intervals held it in 90% (benchmarks/README.md). Set correlations.statistic: spearman for durations.")
        corr_section.blocks.append(Table(
            ["x", "y", "segment", "r", "interval", "sessions", "note"],
            [[p["x"], p["y"], str(p["segment"]), "n/a" if p["r"] is None else f"{p['r']:.3f}",
              "n/a" if p["interval"][0] is None else f"{p['interval'][0]:.3f} to {p['interval'][1]:.3f}",
              f"{p['n']:,}", p.get("note", "")] for p in pairs]))

    plan = summary["campaign"]
    boost = describe_boost(plan["boost"], plan["boost_type"], plan["boost_sd"])
    effect = (f"the purchase rate multiplied by {1 + plan['boost']:.3g} ({boost})" if plan["boost_type"] == "relative"
              else f"{boost} added to the purchase rate")
    if plan["boost_sd"]:
        effect += ", the campaign effect itself uncertain (Normal, the ± is one standard deviation)"
    campaign_section = Section("Campaign outlook", [
        f"Sessions of {segment_name(plan['segment'])} with {effect}. The posterior predictive probability carries the "
        "uncertainty about the rate" + (" and the effect" if plan["boost_sd"] else "") + "; the plug-in probability "
        "treats the observed rate and the central boost as exact."], figures=["campaign", "campaign_scenarios"])
    campaign_section.blocks.append(Table(["", "posterior predictive", "plug-in binomial"], [
        [f"P(sales ≥ {plan['target']:,} in {plan['sessions']:,} sessions)",
         pct(plan["prob_at_least_target"]), pct(plan["prob_at_least_target_plugin"])],
        ["expected sales", f"{plan['expected_sales']:.1f}", f"{plan['expected_sales_plugin']:.1f}"],
        ["boosted purchase rate", pct(plan["boosted_rate"], 2), pct(plan["boosted_rate_plugin"], 2)],
        *_inverse_rows(plan["inverse"], plan),
    ]))
    if plan["grid"]:
        targets = sorted({row["target"] for row in plan["grid"]})
        volumes = sorted({row["sessions"] for row in plan["grid"]})
        boosts = sorted({row["boost"] for row in plan["grid"]})
        table = {(row["boost"], row["sessions"], row["target"]): row for row in plan["grid"]}
        for target in targets:
            campaign_section.blocks.append(
                f"Scenarios: P(at least {target:,} sales), posterior predictive with the plug-in value in brackets.")
            campaign_section.blocks.append(Table(
                ["boost"] + [f"{volume:,} sessions" for volume in volumes],
                [[describe_boost(b, plan["boost_type"], plan["boost_sd"], digits=1)]
                 + [f"{pct_prob(table[(b, v, target)]['prob'])} ({pct_prob(table[(b, v, target)]['prob_plugin'])})"
                    for v in volumes]
                 for b in boosts]))

    checks = summary["diagnostics"]
    verdict = ("Converged: every check passed." if checks["ok"]
               else "NOT CONVERGED: " + "; ".join(checks["problems"]) + ". Do not cite these intervals.")
    limits = checks["thresholds"]
    diag = Section("Model diagnostics", [verdict])
    bfmi = "n/a" if checks["min_bfmi"] is None else f"{checks['min_bfmi']:.2f}"
    diag.blocks.append(Table(["check (worst over models and variables)", "value", "required"], [
        ["largest R-hat", f"{checks['max_rhat']:.4f}", f"≤ {limits['max_rhat']}"],
        ["smallest bulk ESS", f"{checks['min_ess_bulk']:.0f}", f"≥ {limits['min_ess']:.0f}"],
        ["smallest tail ESS", f"{checks['min_ess_tail']:.0f}", f"≥ {limits['min_ess']:.0f}"],
        ["largest MCSE of a mean, in posterior sds", f"{checks['max_mcse_ratio']:.3f}", f"≤ {limits['max_mcse_ratio']}"],
        ["divergent transitions", f"{checks['divergences']}", f"≤ {limits['max_divergences']}"],
        ["smallest energy BFMI of a chain", bfmi, f"≥ {limits['min_bfmi']}"],
    ]))
    diag.blocks.append(Table(["model", "variable", "R-hat", "bulk ESS", "tail ESS", "MCSE / sd"], [
        [name, row["variable"], f"{row['max_rhat']:.4f}", f"{row['min_ess_bulk']:.0f}", f"{row['min_ess_tail']:.0f}",
         f"{row['max_mcse_ratio']:.3f}"]
        for name, result in checks["by_model"].items() for row in result["variables"]]))
    diag.figures += ["forest", "rank", "trace"]

    config = summary["config"]
    prior, hier, sampler = config["rates"]["prior"], config["rates"]["hierarchical_prior"], config["sampler"]
    methods = Section("Methods", [
        "Purchase rates: purchases ~ Binomial(sessions, rate) in each segment cell; sessions within a cell are "
        "taken as exchangeable.",
        f"Independent model: rate ~ Beta({prior['alpha']:g}, {prior['beta']:g}) for each cell on its own.",
        f"Hierarchical model: logit(rate) ~ Normal(μ, σ) across cells, μ ~ Normal({hier['mean_loc']:g}, "
        f"{hier['mean_scale']:g}), σ ~ HalfNormal({hier['sd_scale']:g}): cells with few sessions borrow strength "
        "from the others.",
        f"Fitted with NUTS ({sampler['backend']}): {sampler['chains']} chains of {sampler['draws']:,} draws after "
        f"{sampler['tune']:,} tuning steps, target acceptance {sampler['target_accept']}. Credible intervals are "
        "central posterior intervals. Models compared by PSIS-LOO (arviz-stats), leaving out one session at a time.",
        "Campaign: sales ~ Binomial(sessions, boosted rate), the rate from its posterior and, when the boost is "
        "uncertain, the boost ~ Normal(boost, sd) drawn with it; P(sales ≥ target) is "
        "the posterior average of the exact binomial tail. \"At least\" includes the target.",
        f"Correlations: {config['correlations']['resamples']:,} paired bootstrap resamples."])

    versions = summary["versions"]
    repro = Section("Reproducibility", [
        f"Data file {summary['data']['path']}, SHA-256 {summary['data']['sha256']}. Seed {config['seed']}. "
        "The same config and seed give the same summary.json."])
    repro.blocks.append(Table(["package", "version"], [[name, v] for name, v in versions.items()]))
    repro.code = json.dumps(config, indent=2, ensure_ascii=False)
    return [data, rate_section, corr_section, campaign_section, diag, methods, repro]


# ---------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:960px;margin:2rem auto;
padding:0 1rem;color:#1b1b1b;line-height:1.5}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:2px solid #0072B2;
padding-bottom:.2rem}.subtitle{color:#555;margin-top:0}
.summary{background:#eef5fb;border-left:4px solid #0072B2;padding:.6rem 1rem}
.summary li{margin:.35rem 0}
.banner{background:#fde8e4;border:2px solid #D55E00;color:#7a2600;padding:.8rem 1rem;font-weight:bold}
.ok{color:#006b4f;font-weight:bold}
table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0}figure img{max-width:min(100%,820px);height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.85rem}pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;font-size:.8rem}.note{color:#555;font-style:italic}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}figure,table{page-break-inside:avoid}}
"""

_NUMERIC = re.compile(r"^[\s≤≥<>+−\-]*[\d.,]+(%|–[\d.,]+%| to -?[\d.,]+)?$")


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in table.header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{html.escape(c)}</td>' if _NUMERIC.match(c) else f"<td>{html.escape(c)}</td>"
                         for c in row) + "</tr>" for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_figure(figures_root: Path | None, key: str) -> str:
    relative, caption = FIGURES[key]
    if figures_root is None:
        return f'<p class="note">{html.escape(caption)}: not drawn (figures: false in the config).</p>'
    path = figures_root / relative
    if not path.is_file():
        return f'<p class="note">{html.escape(caption)}: figure file {html.escape(relative)} is missing.</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def render_html(summary: dict, figures_root: Path | None) -> str:
    """The self-contained HTML report; figures are embedded from ``figures_root`` (None: switched off)."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>shopper-bayes report</title>", f"<style>{CSS}</style></head><body>",
             "<h1>Who buys, what goes together, and will the campaign hit its target?</h1>",
             f'<p class="subtitle">shopper-bayes {html.escape(summary["versions"]["shopper-bayes"])} · '
             f'{html.escape(summary["cleaning"]["source"])}</p>']
    if not summary["diagnostics"]["ok"]:
        parts.append('<div class="banner">Warning: the MCMC chains did not converge ('
                     + html.escape("; ".join(summary["diagnostics"]["problems"]))
                     + "). Do not cite these numbers until the fit is repaired.</div>")
    parts.append('<h2>Executive summary</h2><ul class="summary">'
                 + "".join(f"<li>{html.escape(s.text)}</li>" for s in executive_summary(summary)) + "</ul>")
    if figures_root is None:
        parts.append('<p class="note">Figures are switched off in the config (figures: false).</p>')
    for section in sections(summary):
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        for index, block in enumerate(section.blocks):
            if isinstance(block, Table):
                parts.append(_html_table(block))
                continue
            cls = ' class="ok"' if section.title == "Model diagnostics" and index == 0 and summary["diagnostics"]["ok"] else ""
            parts.append(f"<p{cls}>{html.escape(block)}</p>")
        parts.extend(_html_figure(figures_root, key) for key in section.figures)
        if section.code:
            parts.append(f"<p>Config used:</p><pre>{html.escape(section.code)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(text: str) -> str:
    """Escape Markdown and inline-HTML characters; line breaks become spaces (tables stay one line)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text).replace("\r", " ").replace("\n", " "))


def _md_table(table: Table) -> str:
    lines = ["| " + " | ".join(md_escape(c) for c in table.header) + " |",
             "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def render_markdown(summary: dict, figures_root: Path | None) -> str:
    """The Markdown report; figures are linked as ``../figures/...`` when present in ``figures_root``."""
    lines = ["# Who buys, what goes together, and will the campaign hit its target?", ""]
    if not summary["diagnostics"]["ok"]:
        lines += ["> **Warning: the MCMC chains did not converge ("
                  + md_escape("; ".join(summary["diagnostics"]["problems"])) + "). Do not cite these numbers.**", ""]
    lines += ["## Executive summary", ""] + [f"- {md_escape(s.text)}" for s in executive_summary(summary)] + [""]
    if figures_root is None:
        lines += ["*Figures are switched off in the config (figures: false).*", ""]
    for section in sections(summary):
        lines += [f"## {md_escape(section.title)}", ""]
        for block in section.blocks:
            lines += [_md_table(block) if isinstance(block, Table) else md_escape(block), ""]
        for key in section.figures:
            relative, caption = FIGURES[key]
            if figures_root is not None and (figures_root / relative).is_file():
                lines += [f"![{caption}](../{relative})", ""]
        if section.code:
            fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", section.code)), default=0) + 1)
            lines += ["Config used:", "", f"{fence}json", section.code, fence, ""]
    return "\n".join(lines)


def write_report(summary: dict, figures_root: Path | None, staging) -> None:
    """Stage report.html and report.md (figures read from ``figures_root``; None: switched off)."""
    staging.path("reports/report.html").write_text(render_html(summary, figures_root), encoding="utf-8")
    staging.path("reports/report.md").write_text(render_markdown(summary, figures_root), encoding="utf-8")

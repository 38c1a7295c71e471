"""The "Ad campaigns" report section, console lines and headline, built from the typed result only."""

from __future__ import annotations

from shopper_bayes.analyses.ad_campaigns.compute import revenue_text
from shopper_bayes.analyses.ad_campaigns.results import AdCampaignsResult, Unit
from shopper_bayes.errors import one_line
from shopper_bayes.report.document import (Decision, Figure, Section, Sentence, Table, Warning, num, num_range, pct,
                                           pct_range, prob_cell, prob_text)

MEASURE_NAMES = {"ctr": "CTR", "lead_rate": "leads per 1,000 impressions", "approval_rate": "approval rate",
                 "conversion_rate": "conversions per 1,000 impressions", "clicks": "clicks", "leads": "leads",
                 "conversions": "conversions (out of leads)"}


def _money(estimate, digits: int = 2) -> str:
    if estimate.mean is None:
        return f"undefined ({estimate.note})" if estimate.note else "n/a"
    return f"{num(estimate.mean, digits)} ({num_range(estimate.interval, digits)})"


def _roi(estimate) -> str:
    if estimate.mean is None:
        return f"undefined ({estimate.note})" if estimate.note else "n/a"
    return f"{pct(estimate.mean, 0)} ({roi_range(estimate.interval)})"


def roi_range(interval) -> str:
    """An ROI interval at the point estimate's precision, "to" between the ends (a dash beside a minus sign
    reads as one: "-49.9–11.9%")."""
    lo, hi = interval
    return "n/a" if lo is None or hi is None else f"{lo * 100:.0f}% to {hi * 100:.0f}%"


def _prob(unit: Unit) -> str:
    return "n/a" if unit.prob_roi_positive is None else prob_cell(unit.prob_roi_positive.value)


def _ctr(unit: Unit) -> str:
    return f"{pct(unit.ctr.mean, 3)} ({unit.ctr.interval[0] * 100:.3f}–{unit.ctr.interval[1] * 100:.3f}%)"


def _rate(estimate, digits: int = 3) -> str:
    return f"{num(estimate.mean, digits)} ({num_range(estimate.interval, digits)})"


def headline(result: AdCampaignsResult) -> list[Sentence]:
    """One sentence per flag group: which campaigns pay and which waste money, with how sure."""
    sentences = []
    revenue = revenue_text(result.revenue_per_conversion)
    for campaign in result.campaigns:
        if campaign.prob_roi_positive is None:
            continue
        p = campaign.prob_roi_positive
        verdict = {"profitable": "probably pays", "wasteful": "probably loses money",
                   "unclear": "may or may not pay"}[campaign.flag]
        sentences.append(Sentence(
            f"Campaign {one_line(campaign.campaign)} {verdict}: ROI {pct(campaign.roi.mean, 0)} "
            f"({roi_range(campaign.roi.interval)}), P(ROI > 0) {prob_text(p.value, p.draws)}, assuming a {revenue}.",
            [campaign.roi.mean, *campaign.roi.interval, p.value]))
    return sentences


def console(result: AdCampaignsResult) -> list[str]:
    lines = [f"ad campaigns: {result.ads:,} ads, {len(result.campaigns)} campaigns; ROI assumes a "
             f"{revenue_text(result.revenue_per_conversion)}"]
    for c in result.campaigns:
        lines.append(one_line(f"  campaign {c.campaign}: CTR {_ctr(c)}, CAC {_money(c.cac)}, ROI {_roi(c.roi)}, "
                              f"P(ROI > 0) {_prob(c)} -> {c.flag}"))
    if result.budget.options:
        top = result.budget.options[0]
        lines.append(one_line(f"  next {num(result.budget.amount, 0)} of budget: campaign {top.campaign}, {top.audience} "
                              f"({num(top.conversions.mean, 1)} conversions expected, P(best) {prob_cell(top.prob_best.value)})"))
    if not result.diagnostics.ok:
        lines.append("  warning: the model did not converge: " + "; ".join(result.diagnostics.problems[:3]))
    return lines


def _decision(result: AdCampaignsResult) -> Decision:
    revenue = revenue_text(result.revenue_per_conversion)
    lines = []
    for c in result.campaigns:
        if c.prob_roi_positive is None:
            lines.append(f"Campaign {c.campaign}: no spend recorded, so nothing to decide from its money figures.")
            continue
        p = prob_text(c.prob_roi_positive.value, c.prob_roi_positive.draws)
        action = {"profitable": "keep or grow it", "wasteful": "cut or rework it",
                  "unclear": "keep testing before moving budget"}[c.flag]
        lines.append(f"Campaign {c.campaign}: {action} (P(ROI > 0) {p}; probability it returns the most per unit "
                     f"of spend {prob_text(c.prob_best.value, c.prob_best.draws)}).")
    budget = result.budget
    if budget.options:
        top = budget.options[0]
        lines.append(f"The next {num(budget.amount, 0)} of budget buys the most conversions in campaign {top.campaign}, "
                     f"audience {top.audience}: {num(top.conversions.mean, 1)} expected ({num_range(top.conversions.interval, 1)}), "
                     f"ROI {pct(top.roi.mean, 0)}; probability that no other cell buys more: "
                     f"{prob_text(top.prob_best.value, top.prob_best.draws)}.")
    elif budget.note:
        lines.append(f"Next budget: {budget.note}.")
    lines.append(f"All money figures assume a {revenue}.")
    return Decision(lines)


def _unit_table(units: list[Unit], first: str, name: str, caption: str) -> Table:
    header = [first, "ads", "impressions", "spend", "leads", "conversions", "CTR", "leads / 1,000 impr.",
              "approval rate", "CPL", "CAC", "ROI", "P(ROI > 0)", "flag"]
    rows = [[u.name, f"{u.ads:,}", f"{u.impressions:,}", num(u.spend, 0), f"{u.leads:,}", f"{u.conversions:,}",
             _ctr(u), _rate(u.lead_rate), f"{pct(u.approval_rate.mean)} ({pct_range(u.approval_rate.interval)})",
             _money(u.cpl), _money(u.cac), _roi(u.roi), _prob(u), u.flag] for u in units]
    return Table(header, rows, name=name, caption=caption)


def section(result: AdCampaignsResult) -> Section:
    prob = int(result.interval_prob * 100)
    revenue = revenue_text(result.revenue_per_conversion)
    blocks: list = [sentence.text for sentence in headline(result)]
    blocks.append(f"Intervals are central {prob}% posterior intervals. CPL, CAC and ROI use the observed spend; "
                  f"ROI assumes a {revenue}.")
    blocks.append(_decision(result))
    blocks.append(_unit_table(result.campaigns, "campaign", "ads_campaigns",
                              f"Per campaign (rates per impression, money with the assumed {revenue})."))
    blocks.append(Figure("ads_roi"))
    by = " x ".join(result.by) if result.by else "all ads"
    blocks.append(_unit_table(result.audiences, f"audience ({by})", "ads_audiences",
                              f"Per audience cell, all campaigns together (money with the assumed {revenue})."))
    blocks.append(Figure("ads_ctr_by_audience"))
    budget = result.budget
    if budget.options:
        blocks.append(f"Where the next {num(budget.amount, 0)} of budget goes: campaign x audience cells that have spent "
                      f"at least {num(budget.min_spend, 0)} ({budget.candidates} cells; {budget.excluded} with less are "
                      f"left out because their cost is not yet known), ranked by expected conversions bought at their "
                      f"observed cost per impression; ROI with the assumed {revenue}.")
        blocks.append(Table(["campaign", "audience", "spent so far", f"conversions from {num(budget.amount, 0)}",
                             "ROI", "P(buys the most)"],
                            [[o.campaign, o.audience, num(o.spend, 0), f"{num(o.conversions.mean, 1)} ({num_range(o.conversions.interval, 1)})",
                              _roi(o.roi), prob_cell(o.prob_best.value)] for o in budget.options],
                            name="ads_budget", caption="Expected conversions and ROI of the next budget per cell."))
    elif budget.note:
        blocks.append(f"Next budget: {budget.note}.")
    blocks.append("How much wider the honest interval is than the ratio of summed counts (which treats every "
                  "impression of a campaign as one binomial draw): model interval width / that interval's width.")
    blocks.append(Table(["campaign", "measure", "sum ratio", "summed-count interval", "model interval", "x wider"],
                        [[c.campaign, MEASURE_NAMES[w.measure], _scaled(w.sum_ratio, w.measure),
                          _scaled_range(w.naive_interval, w.measure), _scaled_range(_model(c, w.measure).interval, w.measure),
                          "n/a" if w.ratio is None else f"{w.ratio:.1f}"] for c in result.campaigns for w in c.widening],
                        name="ads_widening", caption="Model intervals against the summed-count binomial intervals."))
    blocks.append(Table(["campaign", "clicks: variance / Poisson", "leads: variance / Poisson", "approval concentration κ"],
                        [[s.campaign, _rate(s.clicks_variance_factor, 2), _rate(s.leads_variance_factor, 2),
                          _rate(s.approval_concentration, 1)] for s in result.spread],
                        name="ads_spread", caption="How much the ads of a campaign differ beyond count noise."))
    outside = 1 - result.interval_prob
    limitations = [f"every ROI and money figure assumes a {revenue_text(result.revenue_per_conversion)}, and that the next "
                   "impressions cost and convert as the past ones did."]
    for check in result.checks:
        z = check.zeros_predicted
        blocks.append(f"Check per ad ({MEASURE_NAMES[check.measure]}, {check.ads:,} ads): {pct(check.outside)} of ads fall "
                      f"outside their {prob}% predictive interval ({pct(outside)} expected; "
                      f"{pct(check.outside_without_dispersion)} without the over-dispersion); {check.zeros_observed:,} ads "
                      f"have 0, the model predicts {num(z.mean, 0)} ({num_range(z.interval, 0)}).")
        p = check.prob_zeros_at_least_observed.value
        if p < 0.01 or p > 0.99:
            limitations.append(f"the ad model does not reproduce the number of ads with 0 {MEASURE_NAMES[check.measure]}: "
                               "rates of small ads may be overstated.")
            blocks.append(Warning(f"The model does not reproduce the number of ads with 0 {MEASURE_NAMES[check.measure]} "
                                  f"({check.zeros_observed:,} observed): the ads of the file may have been selected on "
                                  "this count, and rates of small ads are then overstated; read their intervals with care."))
    kept = "; ".join(f"{reason}: {count:,}" for reason, count in result.kept.items())
    if kept:
        blocks.append(f"Kept as they are: {kept}.")
    blocks.append(Warning("Assumptions: " + " ".join(result.assumptions)))
    return Section(title="Ad campaigns", blocks=blocks, methods=methods(result),
                   terms=["CTR", "CPL", "CAC", "ROI", "credible interval", "posterior predictive check", "over-dispersion"],
                   anchor="ad-campaigns", limitations=limitations)


def _model(unit: Unit, measure: str):
    return getattr(unit, measure)


def _scaled(value: float | None, measure: str) -> str:
    if value is None:
        return "n/a"
    return pct(value, 3) if measure in ("ctr", "approval_rate") else num(value, 4)


def _scaled_range(interval, measure: str) -> str:
    lo, hi = interval
    if lo is None or hi is None:
        return "n/a"
    if measure in ("ctr", "approval_rate"):
        return f"{lo * 100:.3f}–{hi * 100:.3f}%"
    return num_range(interval, 4)


def methods(result: AdCampaignsResult) -> list[str]:
    by = ", ".join(result.by) if result.by else "none"
    return [
        f"Ads are grouped into cells of campaign x audience ({by}). Clicks and leads of ad i in cell c of campaign k "
        "are negative binomial with mean impressions_i x λ_c and variance (1 + δ_k) times that mean: a Gamma-Poisson "
        "mixture in which each ad's rate varies around its cell's rate, with a spread δ_k per campaign. log λ_c ~ "
        "Normal(log median, log sd) per cell; log δ_k ~ Normal (priors in ad_campaigns.priors).",
        "A cell's total is then exactly negative binomial with mean impressions x λ_c and the same δ_k: the totals "
        "enter the model as such. How each total splits among the cell's ads is Dirichlet-multinomial and carries "
        "the information about δ_k; it enters as its log-likelihood, computed on a grid of log δ_k with each cell's "
        "rate at its observed ratio, and interpolated.",
        "Conversions out of an ad's leads are Beta-binomial with mean μ_c (logit μ_c ~ Normal per cell) and "
        "concentration κ_k per campaign, fitted on the distinct (cell, leads, conversions) triples with their counts.",
        "Fitted with NUTS (nutpie); a campaign's or audience's rate is the impression-weighted mean of its cells' "
        "rates, draw by draw; conversions per impression = leads per impression x approval rate. CPL, CAC and ROI "
        "divide the observed spend by the expected leads and conversions of the observed impressions; ROI uses "
        f"an assumed {revenue_text(result.revenue_per_conversion)}. P(best) counts the draws in which a campaign returns "
        "the most conversions per unit of spend. Posterior predictive checks replicate every ad's counts.",
        f"Flags: profitable when P(ROI > 0) >= {result.thresholds['profitable_prob']}, wasteful when P(ROI < 0) >= "
        f"{result.thresholds['wasteful_prob']}, unclear otherwise.",
    ]

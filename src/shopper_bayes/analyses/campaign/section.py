"""Report section, console lines and headline of the campaign planner, from its typed result only."""

from __future__ import annotations

from shopper_bayes.analyses.campaign.compute import describe_boost
from shopper_bayes.analyses.campaign.results import CampaignResult
from shopper_bayes.errors import one_line
from shopper_bayes.report.document import Decision, Figure, Section, Sentence, Table, pct, prob_text

METHODS = [
    "Campaign: sales ~ Binomial(sessions, boosted rate), the rate drawn from the purchase-rate posterior of the "
    "campaign's segment (its own counts) and, when the boost is uncertain, the boost ~ Normal(boost, sd) drawn with "
    "it; P(sales ≥ target) is the posterior average of the exact binomial tail (\"at least\" includes the target). "
    "The plug-in answer treats the observed rate and the central boost as exact.",
]


def assumptions(result: CampaignResult) -> str:
    """What every campaign probability assumes, said next to it."""
    if result.boost_type == "relative":
        effect = f"the campaign multiplies the purchase rate by {1 + result.boost:.3g} (a relative boost of {result.boost:+.0%}, not {result.boost * 100:+.0f} points)"
    else:
        effect = f"the campaign adds {result.boost * 100:.1f} percentage points to the purchase rate"
    certain = (f"the boost itself is uncertain (Normal, sd {describe_boost(result.boost_sd, result.boost_type)[1:]})"
               if result.boost_sd else "the boost is taken as certain")
    return (f"Assumes {effect}; {certain}; and the campaign's sessions behave like the analysed {result.label} "
            "sessions.")


def shown_prob(value: float, draws: int | None = None) -> str:
    """A probability to the precision its Monte Carlo error supports: whole percent from 1% to 99%, one decimal
    nearer 0 or 1 (so 99.7% is never rounded to a certain "100%"), and beyond 1 / ``draws`` (or 0.1%) only
    "more than" or "less than". Plug-in probabilities (no draws) are printed the same way."""
    text = prob_text(value, draws)
    return f"{value:.0%}" if 0.01 <= value < 0.99 and not text.startswith(("more", "less")) else text


def section(result: CampaignResult) -> Section:
    boost = describe_boost(result.boost, result.boost_type, result.boost_sd)
    out = Section("Campaign outlook", terms=["posterior predictive", "plug-in"])
    out.blocks.append(
        f"Sessions of {result.label} with a boost of {boost}. The posterior predictive probability carries the "
        "uncertainty about the rate" + (" and the effect" if result.boost_sd else "") + "; the plug-in probability "
        "treats the observed rate and the central boost as exact.")
    out.blocks.append(assumptions(result))
    out.blocks.append(Table(["", "posterior predictive", "plug-in binomial"], [
        [f"P(sales ≥ {result.target:,} in {result.sessions:,} sessions)",
         shown_prob(result.prob_at_least_target, result.draws), shown_prob(result.prob_at_least_target_plugin)],
        ["expected sales", f"{result.expected_sales:.1f}", f"{result.expected_sales_plugin:.1f}"],
        ["boosted purchase rate", pct(result.boosted_rate, 2), pct(result.boosted_rate_plugin, 2)],
        *_inverse_rows(result),
    ], name="campaign"))
    out.blocks.append(_precision(result))
    out.blocks.append(Decision(_decision(result)))
    out.blocks.append(Figure("campaign"))
    if result.grid:
        targets = sorted({row.target for row in result.grid})
        volumes = sorted({row.sessions for row in result.grid})
        boosts = sorted({row.boost for row in result.grid})
        table = {(row.boost, row.sessions, row.target): row for row in result.grid}
        for target in targets:
            out.blocks.append(
                f"Scenarios: P(at least {target:,} sales), posterior predictive with the plug-in value in brackets. "
                + assumptions(result).replace("multiplies the purchase rate by", "multiplies the purchase rate by its boost, e.g.", 1))
            out.blocks.append(Table(
                ["boost"] + [f"{volume:,} sessions" for volume in volumes],
                [[describe_boost(b, result.boost_type, result.boost_sd, digits=1)]
                 + [f"{shown_prob(table[(b, v, target)].prob, result.draws)} ({shown_prob(table[(b, v, target)].prob_plugin)})"
                    for v in volumes]
                 for b in boosts], name=f"campaign_scenarios_{target}"))
        out.blocks.append(Figure("campaign_scenarios"))
    out.methods = list(METHODS)
    text = assumptions(result)
    out.limitations.append("every campaign probability " + text[0].lower() + text[1:])
    return out


def _precision(result: CampaignResult) -> str:
    """How precise the Monte Carlo probability is, and how the inverse answers were searched."""
    text = ""
    if result.prob_at_least_target_mcse is not None:
        text = (f"The posterior predictive probability averages the exact binomial tail over {result.draws:,} posterior "
                f"draws; its Monte Carlo standard error (from the draws' effective sample size when they come from MCMC) "
                f"is {result.prob_at_least_target_mcse * 100:.2f} "
                "percentage points, so probabilities are shown to whole percent (one decimal only near 0 or 1). ")
    return text + f"The inverse answers were found by {result.inverse.search}."


def _decision(result: CampaignResult) -> list[str]:
    p = result.prob_at_least_target
    wanted = result.inverse.prob_wanted
    verdict = ("Go: the target is likely" if p >= wanted else
               "Rethink the plan: the target is unlikely" if p < 0.5 else "Risky: the target is about a coin flip or better, but short of")
    lines = [f"{verdict} (P = {shown_prob(p, result.draws)}" + (f", wanted {wanted:.0%})." if p < wanted else ").")]
    noise = result.prob_at_least_target_mcse or 0.0
    if wanted <= p < wanted + max(0.02, 2 * noise):
        lines.append(f"Only just: the wanted {wanted:.0%} is reached with less than "
                     f"{max(0.02, 2 * noise) * 100:.0f} points to spare, so a slightly smaller boost, or sessions that buy "
                     "less than the analysed ones, would miss it.")
    lines.append(assumptions(result))
    needed = result.inverse.smallest_boost
    if p < wanted and needed.boost is not None:
        lines.append(f"To be {wanted:.0%} sure, the campaign needs a boost of at least "
                     f"{describe_boost(needed.boost, result.boost_type, digits=1)}"
                     + (f", or {result.inverse.smallest_sessions.sessions:,} sessions at the planned boost."
                        if result.inverse.smallest_sessions.sessions else "."))
    return lines


def _inverse_rows(result: CampaignResult) -> list[list[str]]:
    inverse = result.inverse

    def boost(answer):
        return "unreachable" if answer.boost is None else describe_boost(answer.boost, result.boost_type, digits=1)

    def sessions(answer):
        return "unreachable" if answer.sessions is None else f"{answer.sessions:,}"

    wanted = pct(inverse.prob_wanted, 0)
    planned = describe_boost(result.boost, result.boost_type, result.boost_sd)
    return [[f"smallest boost for P ≥ {wanted}", boost(inverse.smallest_boost), boost(inverse.smallest_boost_plugin)],
            [f"smallest sessions for P ≥ {wanted} at {planned}", sessions(inverse.smallest_sessions),
             sessions(inverse.smallest_sessions_plugin)]]


def headline(result: CampaignResult) -> list[Sentence]:
    lo, hi = result.sales_interval
    kind = result.boost_type
    boost = describe_boost(result.boost, kind, result.boost_sd)
    sentences = [Sentence(
        f"A {boost} campaign on {result.label} bringing {result.sessions:,} sessions reaches at least "
        f"{result.target:,} sales with probability {shown_prob(result.prob_at_least_target, result.draws)}, against "
        f"{shown_prob(result.prob_at_least_target_plugin)} by the plain plug-in calculation, which ignores the "
        f"uncertainty about the purchase rate. Expected sales: {result.expected_sales:.0f} ({result.interval_prob:.0%} "
        f"predictive interval {lo}–{hi}). {assumptions(result)}",
        [result.boost, result.boost_sd, result.sessions, result.target, result.prob_at_least_target,
         result.prob_at_least_target_plugin, result.expected_sales, result.interval_prob, lo, hi])]
    inverse = result.inverse
    needed = inverse.smallest_boost
    if needed.boost is None:
        sentences.append(Sentence(f"No boost makes {result.target:,} sales {pct(inverse.prob_wanted, 0)} likely with "
                                  f"{result.sessions:,} sessions: {needed.reason}.",
                                  [result.target, inverse.prob_wanted, result.sessions]))
    else:
        plugin = inverse.smallest_boost_plugin.boost
        sessions = inverse.smallest_sessions.sessions
        sentences.append(Sentence(
            f"To be {pct(inverse.prob_wanted, 0)} sure of {result.target:,} sales from {result.sessions:,} sessions the "
            f"campaign needs a boost of at least {describe_boost(needed.boost, kind, digits=1)}"
            + (f" (the plug-in calculation would say {describe_boost(plugin, kind, digits=1)})" if plugin is not None else "")
            + (f"; at {boost} it needs {sessions:,} sessions." if sessions is not None else "."),
            [inverse.prob_wanted, result.target, result.sessions, needed.boost, result.boost, result.boost_sd]
            + ([plugin] if plugin is not None else []) + ([sessions] if sessions is not None else [])))
    return sentences


def console(result: CampaignResult) -> list[str]:
    lo, hi = result.sales_interval
    boost = describe_boost(result.boost, result.boost_type, result.boost_sd)
    lines = [f"Campaign: {one_line(result.label)} at {boost}, {result.sessions:,} sessions, target {result.target:,} sales",
             f"  P(sales ≥ {result.target}) = {shown_prob(result.prob_at_least_target, result.draws)} by posterior "
             f"predictive ({shown_prob(result.prob_at_least_target_plugin)} by plug-in binomial)",
             f"  expected sales {result.expected_sales:.1f} ({result.interval_prob:.0%} predictive interval {lo}–{hi})"]
    inverse = result.inverse

    def answer_boost(answer):
        return "unreachable" if answer.boost is None else describe_boost(answer.boost, result.boost_type, digits=1)

    def count(answer):
        return "unreachable" if answer.sessions is None else f"{answer.sessions:,}"

    lines.append(f"  for P ≥ {inverse.prob_wanted:.0%}: boost of at least {answer_boost(inverse.smallest_boost)} (plug-in "
                 f"{answer_boost(inverse.smallest_boost_plugin)}), or {count(inverse.smallest_sessions)} sessions at "
                 f"{boost} (plug-in {count(inverse.smallest_sessions_plugin)})")
    lines.append("  " + assumptions(result))
    return lines

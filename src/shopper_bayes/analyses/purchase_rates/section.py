"""Report section, console lines and headline of the purchase-rate analysis, from its typed result only."""

from __future__ import annotations

from shopper_bayes.analyses.purchase_rates.results import RatesResult
from shopper_bayes.errors import one_line
from shopper_bayes.report.document import (Decision, Figure, Section, Sentence, Table, Warning, pct, pct_range, pp,
                                           pp_range, prob_cell, prob_text)

METHODS = [
    "Purchase rates: purchases ~ Binomial(sessions, rate) in each segment cell; the sessions of a cell are "
    "taken as exchangeable and independent (a returning customer's sessions are not, so intervals are somewhat "
    "too narrow where one customer has many sessions).",
    "Independent model: rate ~ Beta(α, β) for each cell on its own. Its posterior is Beta(α + purchases, "
    "β + sessions − purchases) in closed form, drawn exactly (independent draws, no MCMC) unless "
    "rates.inference is mcmc.",
    "Hierarchical model: logit(rate) = μ + one effect per segment column for the cell's level in that column; "
    "each column's effects ~ ZeroSumNormal(σ_column), σ_column ~ HalfNormal, μ ~ Normal. Levels with few "
    "sessions are pulled toward the population; effects add on the logit scale (no interaction between "
    "columns). Fitted with NUTS.",
    "How NUTS samples each column's effects is chosen from the data (the model is the same either way): centred "
    "(the effects themselves) when more than half of the column's levels are well informed, non-centred (effect = "
    "σ_column × an offset ~ ZeroSumNormal(1)) otherwise. A level is well informed when the sampling variance of "
    "its empirical logit, 1/(purchases + ½) + 1/(sessions − purchases + ½) summed over the other columns, is at "
    "most 1/8 of the between-level variance of the column's effects (DerSimonian–Laird estimate), i.e. its own "
    "data give at least 8/9 of its posterior precision. Centred effects whose σ is near zero (many small cells, "
    "no real differences) form a funnel NUTS cannot sample; non-centred effects of well-known levels mix slowly.",
    "Models compared by PSIS-LOO over sessions (one session left out at a time), computed from the cell counts.",
    "Lift A / B − 1 between two cells: its posterior draws are the ratio of the two cells' rate draws minus 1; the "
    "probabilities below, inside and above the band of lifts too small to matter (±rates.practical_lift, edges "
    "inside) are the shares of draws there.",
    "Posterior predictive check: each cell's sessions are split by rates.check_by (a column the model does not "
    "use); the statistic is the session-weighted sd of the split rates around their cell's rate. Up to 1,000 "
    "posterior draws of the cell rates each replicate the split counts (purchases ~ Binomial(split sessions, cell "
    "rate)); the check fails when the observed statistic is outside the central interval (the report's level) of "
    "the replicated ones. A check comparing each cell with a model fitted to that same cell could not fail.",
    "Rank histograms of a NUTS fit: each variable's draws, thinned to about one draw per effective sample "
    "(from each chain's own bulk and tail ESS), are ranked over all chains and counted per chain in up to 20 "
    "equal bins. When the chains sample one distribution a chain's count in a bin is hypergeometric; the band "
    "holds every bar of a panel with at least the report's probability (Bonferroni over bins × chains), and the "
    "rank test's p-value is the Bonferroni-adjusted smallest two-sided bar p-value, so a bar outside the band and "
    "p below 1 − the level are the same event.",
]


def section(result: RatesResult) -> Section:
    rates = result.rates
    prob = rates[0].interval_prob
    out = Section("Purchase rates", terms=["credible interval", "posterior", "P(A > B)", "pp", "expected loss", "lift",
                                           "posterior predictive", "posterior predictive p-value"])
    out.blocks.append(
        f"Posterior mean purchase rate per segment with its central {prob:.0%} credible interval (the rate lies "
        "in the interval with that probability, given the data, the model and the prior). Results are from the "
        f"{result.model} model ({_inference_text(result.inference[result.model])}).")
    out.blocks.append(Table(
        ["segment", "sessions", "purchases", "observed rate", "posterior mean", f"{prob:.0%} credible interval"],
        [[r.label, f"{r.sessions:,}", f"{r.purchases:,}", pct(r.observed_rate), pct(r.mean), pct_range(r.interval)]
         for r in rates], name="purchase_rates"))
    out.blocks.append(Figure("purchase_rates"))
    if result.comparisons:
        band = result.comparisons[0].practical.lift
        out.blocks.append(
            "Comparisons: the posterior of the difference A − B (percentage points, pp) and of the relative lift "
            "A / B − 1, with the probability that A's rate is the higher.")
        out.blocks.append(Table(
            ["A", "B", "difference", f"{prob:.0%} interval", "lift", f"{prob:.0%} interval", "P(A > B)"],
            [[_label(c.a), _label(c.b), pp(c.difference.mean), pp_range(c.difference.interval),
              f"{c.lift.mean:+.1%}", f"{c.lift.interval[0]:+.1%} to {c.lift.interval[1]:+.1%}",
              prob_cell(c.prob_a_greater)] for c in result.comparisons], name="rate_comparisons"))
        out.blocks.append(
            f"Is the difference big enough to matter? A lift within ±{band:.0%} (rates.practical_lift) is taken as too "
            "small to act on; the table gives the probability that the lift is below, inside or above that band.")
        out.blocks.append(Table(
            ["A", "B", f"P(lift below −{band:.0%})", f"P(lift within ±{band:.0%})", f"P(lift above +{band:.0%})", "draws"],
            [[_label(c.a), _label(c.b), prob_cell(c.practical.below.value), prob_cell(c.practical.inside.value),
              prob_cell(c.practical.above.value), f"{c.draws:,}"] for c in result.comparisons], name="rate_lift_band"))
        out.blocks.append(Figure("rate_lift"))
        out.blocks.append(Decision(_decision(_clearest(result))))
    if len(result.best) > 2:
        out.blocks.append(
            "Which segment has the highest rate: the probability that each is best, and its expected loss, the "
            "purchase rate given up in expectation by choosing it over the true best.")
        out.blocks.append(Table(["segment", "P(best)", "expected loss"],
                                [[b.label, prob_cell(b.prob_best), pp(b.expected_loss, sign=False)] for b in result.best],
                                name="best_segment"))
    out.blocks += _check_blocks(result)
    out.blocks.append(Figure("prior_predictive"))
    comparison = result.model_comparison
    if comparison:
        out.terms += ["ELPD", "PSIS-LOO", "Pareto k"]
        out.blocks.append(
            f"Model choice: {comparison.statement} (PSIS-LOO: each session left out in turn; ELPD is the expected "
            "log predictive density, higher is better).")
        out.blocks.append(Table(
            ["model", "ELPD (LOO)", "SE", "ELPD difference", "SE of difference", "effective parameters", "largest Pareto k"],
            [[name, f"{m.elpd_loo:.1f}", f"{m.se:.1f}", f"{m.elpd_diff:.1f}", f"{m.se_diff:.1f}", f"{m.p_loo:.1f}",
              f"{m.max_pareto_k:.2f}"] for name, m in ((name, comparison.models[name]) for name in comparison.ranking)],
            name="model_comparison"))
        out.blocks.append(Table(
            ["segment"] + [f"{name}: mean ({prob:.0%} CrI)" for name in result.by_model],
            [[rows[0].label] + [f"{pct(r.mean)} ({pct_range(r.interval)})" for r in rows]
             for rows in zip(*result.by_model.values())], name="purchase_rates_by_model"))
    if "mcmc" in result.inference.values():
        out.terms += ["rank histogram", "R-hat", "ESS"]
        out.blocks += [Figure("rank"), *_rank_blocks(result), Figure("trace")]
    out.methods = list(METHODS)
    check = result.predictive_check.get(result.model)
    if check and not check.passed:
        out.limitations.append(f"the posterior predictive check fails: within a segment, the purchase rate differs "
                               f"between {check.by} levels beyond chance, so each rate is an average over the analysed "
                               f"{check.by} levels' mix of sessions.")
    if len(result.segments) > 1:
        out.limitations.append("the hierarchical model adds the segment columns' effects on the logit scale with no "
                               "interaction between them; the LOO comparison with the independent model shows when the "
                               "data disagree.")
    return out


def _decision(top) -> list[str]:
    """The "What to do" lines for the clearest comparison: which segment, how sure, and whether the gap matters."""
    a, b = _label(top.a), _label(top.b)
    band, practical, draws = top.practical.lift, top.practical, top.draws
    if practical.inside.value > 0.5:
        return [f"Treat {a} and {b} alike for conversion-focused spend: the lift is within ±{band:.0%} (too small to "
                f"matter, rates.practical_lift) with probability {prob_text(practical.inside.value, draws)}."]
    higher = top.prob_a_greater >= 0.5
    winner, loser = (a, b) if higher else (b, a)
    clear = (f"probability {prob_text(practical.above.value, draws)} that {a}'s rate is more than {band:.0%} above {b}'s"
             if higher else
             f"probability {prob_text(practical.below.value, draws)} that {a}'s rate is more than {band:.0%} below {b}'s")
    return [
        f"Prioritise {winner} over {loser} for conversion-focused spend: probability "
        f"{prob_text(max(top.prob_a_greater, 1 - top.prob_a_greater), draws)} that its purchase rate is the higher; "
        f"{clear}; {prob_text(practical.inside.value, draws)} that the gap is too small to matter (±{band:.0%}).",
        f"The gap is {pp(abs(top.difference.mean), sign=False)} (interval {pp_range(top.difference.interval)}): "
        "weigh it against what the segments cost to reach."]


def _check_blocks(result: RatesResult) -> list:
    """The posterior predictive check: what it asks, its numbers per model, and what a failure means."""
    if not result.predictive_check:
        return [f"Posterior predictive check {result.predictive_check_note}."]
    check = result.predictive_check[result.model]
    by, prob = check.by, check.interval_prob
    blocks = [
        f"Posterior predictive check: does one purchase rate per segment explain the data? Each segment's sessions are "
        f"split by {by}, which the model does not use, and the spread of the {by} rates around the segment's rate "
        f"(session-weighted sd) is compared with the spread in data replicated from the fitted model. The check fails "
        f"when the observed spread lies outside the central {prob:.0%} interval of the replicated ones; the posterior "
        f"predictive p-value is the share of replications spreading at least as much as the data.",
        Table(["model", "observed spread", "replicated: mean", f"{prob:.0%} interval", "P(replicated ≥ observed)",
               "check"],
              [[name, pp(c.observed, sign=False), pp(c.replicated.mean, sign=False),
                f"{c.replicated.interval[0] * 100:.2f}–{c.replicated.interval[1] * 100:.2f} pp",
                prob_cell(c.p_value.value), "passes" if c.passed else "FAILS"]
               for name, c in result.predictive_check.items()], name="predictive_check"),
        Figure("ppc"),
    ]
    if check.passed:
        blocks.append(f"The {result.model} model passes: the {by} rates within each segment differ no more than chance "
                      f"allows. Failing would mean that a segment converts differently from one {by} to another, so "
                      f"that its single rate is only an average over the analysed {by}s' mix of sessions.")
        return blocks
    if check.observed < check.replicated.interval[0]:
        blocks.append(Warning(f"The check fails the other way: the {by} rates within each segment are closer together "
                              "than chance allows, which points at aggregated or duplicated sessions."))
        return blocks
    worst = check.outside[0] if check.outside else None
    example = (f", most of all {worst.label}: {pct(worst.observed_rate)} observed against {pct(worst.predicted.mean)} "
               f"predicted ({pct_range(worst.predicted.interval)})" if worst else "")
    blocks.append(Warning(
        f"The check fails: the purchase rate of a segment differs between {by}s far more than chance allows "
        f"({check.groups_outside} of {check.groups} segment and {by} groups lie outside their {prob:.0%} predictive "
        f"interval{example}). Each segment's rate above is an average over the analysed {by}s' mix of sessions; a "
        f"forecast for one {by} (a campaign, say) can be far off. Add {by} to rates.segments to model it, or filter "
        f"the sessions to the {by}s the decision is about."))
    return blocks


def _rank_blocks(result: RatesResult) -> list:
    """What the rank histograms show, and an explanation of each rank test that flags a variable."""
    tests = result.rank_tests
    if not tests:
        return []
    model, prob = tests[0].model, tests[0].prob
    alpha = 1 - prob
    blocks = [f"Rank histograms of the {model} model: each chain's draws ranked among all chains' draws. When the "
              f"chains sample the same distribution every bar stays inside the grey band with {prob:.0%} probability; "
              f"{sum(t.flagged for t in tests)} of {len(tests)} panels have a bar outside it."]
    by_chance = 1 - prob ** len(tests)
    passed = (result.diagnostics.by_model or {}).get(f"{model} model", result.diagnostics).ok
    for test in (t for t in tests if t.flagged):
        if test.p_value >= alpha / 10:
            blocks.append(
                f"The rank test of {test.variable} is borderline: p = {test.p_value:.3f}, just below {alpha:.2f}. With "
                f"{len(tests)} variables tested, at least one p-value below {alpha:.2f} happens by chance in about "
                f"{by_chance:.0%} of fits whose chains agree, and "
                + ("its R-hat and ESS pass the gate" if passed else "the fit also fails the gate (see Model diagnostics)")
                + ". Read it as a prompt to rerun with more draws (sampler.draws) or another seed, not as a failed fit"
                + (f"; the numbers quoted above come from the {result.model} model." if model != result.model else "."))
        else:
            blocks.append(Warning(
                f"The rank test of {test.variable} fails clearly (p = {test.p_value:.4f}): the chains of the {model} "
                "model spend different amounts of time in different parts of its posterior, so its estimates of "
                "this variable are not reliable. Rerun with more tuning and draws (sampler.tune, sampler.draws)."))
    return blocks


def _inference_text(kind: str) -> str:
    return "exact conjugate posterior" if kind == "exact" else "NUTS sampling"


def _label(segment: dict[str, str]) -> str:
    return " / ".join(segment.values())


def _clearest(result: RatesResult):
    return max(result.comparisons, key=lambda c: abs(c.prob_a_greater - 0.5))


def headline(result: RatesResult) -> list[Sentence]:
    by_cell = {tuple(row.segment.items()): row for row in result.rates}
    sentences = []
    if result.comparisons:
        top = _clearest(result)
        a, b = by_cell[tuple(top.a.items())], by_cell[tuple(top.b.items())]
        prob = a.interval_prob
        more = top.prob_a_greater >= 0.5
        diff, lift = top.difference, top.lift
        sentences.append(Sentence(
            f"{a.label} sessions end in a purchase {'more' if more else 'less'} often than {b.label} sessions: "
            f"{pct(a.mean)} ({prob:.0%} CrI {pct_range(a.interval)}) against {pct(b.mean)} ({pct_range(b.interval)}), "
            f"a difference of {pp(diff.mean)} ({pp_range(diff.interval)}), or {lift.mean:+.0%} relative "
            f"({lift.interval[0]:+.0%} to {lift.interval[1]:+.0%}). The probability that {a.label} buys more is "
            f"{prob_text(top.prob_a_greater, top.draws)}.",
            [a.mean, prob, *a.interval, b.mean, *b.interval, diff.mean, *diff.interval, lift.mean, *lift.interval,
             top.prob_a_greater]))
    else:
        row = result.rates[0]
        sentences.append(Sentence(f"The purchase rate of {row.label} is {pct(row.mean)} ({row.interval_prob:.0%} CrI "
                                  f"{pct_range(row.interval)}).", [row.mean, row.interval_prob, *row.interval]))
    if len(result.best) > 2:
        first = result.best[0]
        row = by_cell[tuple(first.segment.items())]
        sentences.append(Sentence(
            f"Of {len(result.best)} segments, {first.label} most probably has the highest purchase rate (probability "
            f"{pct(first.prob_best)}; {_sessions(row.sessions)}, {pct(row.mean)}, {row.interval_prob:.0%} CrI "
            f"{pct_range(row.interval)}; choosing it gives up {pp(first.expected_loss, sign=False)} of purchase rate in "
            "expectation).", [first.prob_best, row.mean, row.interval_prob, *row.interval, first.expected_loss]))
    check = result.predictive_check.get(result.model)
    if check and not check.passed and check.outside:
        worst = check.outside[0]
        sentences.append(Sentence(
            f"Caveat: the purchase-rate model's predictive check fails. Within a segment the rate differs between "
            f"{check.by}s beyond chance ({worst.label}: {pct(worst.observed_rate)} observed against "
            f"{pct(worst.predicted.mean)} predicted, {pct_range(worst.predicted.interval)}), so these rates are averages "
            f"over the analysed {check.by}s' mix of sessions.",
            [worst.observed_rate, worst.predicted.mean, *worst.predicted.interval]))
    return sentences


def _sessions(count: int) -> str:
    """The sessions behind a rate, so that a best segment resting on a handful of them reads as such."""
    return f"{count:,} session{'s' * (count != 1)}"


def _prob(value: float) -> str:
    return "> 0.999" if value > 0.999 else "< 0.001" if value < 0.001 else f"= {value:.3f}"


def comparison_line(c) -> str:
    """``A vs B: +7.4 pp (3.9 to 11.1), lift +38% (19% to 58%), P(A > B) > 0.999, P(lift within ±5%) < 0.001``."""
    a, b = one_line(_label(c.a)), one_line(_label(c.b))
    lo, hi = (100 * value for value in c.difference.interval)
    return (f"{a} vs {b}: {100 * c.difference.mean:+.1f} pp ({lo:+.1f} to {hi:+.1f}), lift {c.lift.mean:+.0%} "
            f"({c.lift.interval[0]:+.0%} to {c.lift.interval[1]:+.0%}), P({a} > {b}) {_prob(c.prob_a_greater)}, "
            f"P(lift within ±{c.practical.lift:.0%}) {_prob(c.practical.inside.value)}")


def console(result: RatesResult) -> list[str]:
    rates = result.rates
    prob = rates[0].interval_prob
    width = max(len("segment"), *(len(one_line(row.label)) for row in rates))
    lines = [f"Purchase rate by segment (posterior mean, {prob:.0%} credible interval)",
             f"  {'segment':<{width}}  {'sessions':>8}  {'purchases':>9}  {'observed':>8}  {'mean':>6}  interval"]
    for row in rates:
        lo, hi = row.interval
        lines.append(f"  {one_line(row.label):<{width}}  {row.sessions:>8,}  {row.purchases:>9,}  "
                     f"{pct(row.observed_rate):>8}  {pct(row.mean):>6}  {pct(lo)} – {pct(hi)}")
    lines.append(f"  model: {result.model} ({_inference_text(result.inference[result.model])})")
    lines += ["  " + comparison_line(c) for c in result.comparisons[:6]]
    check = result.predictive_check.get(result.model)
    if check:
        lo, hi = (100 * value for value in check.replicated.interval)
        lines.append(f"  posterior predictive check by {one_line(check.by)}: {'passes' if check.passed else 'FAILS'} "
                     f"(spread of {one_line(check.by)} rates {100 * check.observed:.2f} pp, the model replicates "
                     f"{lo:.2f}–{hi:.2f} pp, P(replicated ≥ observed) {_prob(check.p_value.value)})")
    elif result.predictive_check_note:
        lines.append(f"  posterior predictive check {result.predictive_check_note}")
    lines += [f"  rank test of {one_line(t.variable)} ({t.model} model) flags it: p = {t.p_value:.3f}"
              for t in result.rank_tests if t.flagged]
    if len(result.best) > 2:
        first = result.best[0]
        row = next(row for row in result.rates if row.segment == first.segment)
        lines.append(f"  most likely best: {one_line(first.label)} (P = {first.prob_best:.3f}, "
                     f"expected loss {100 * first.expected_loss:.2f} pp; {_sessions(row.sessions)}, "
                     f"{pct(row.mean)}, {pct_range(row.interval)})")
    if result.model_comparison:
        lines.append("  " + result.model_comparison.statement)
    return lines

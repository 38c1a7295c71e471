"""Report section, console lines and headline of the purchase-rate analysis, from its typed result only."""

from __future__ import annotations

from shopper_bayes.analyses.purchase_rates.results import RatesResult
from shopper_bayes.errors import one_line
from shopper_bayes.report.document import (Decision, Figure, Section, Sentence, Table, pct, pct_range, pp, pp_range,
                                           prob_cell, prob_text)

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
]


def section(result: RatesResult) -> Section:
    rates = result.rates
    prob = rates[0].interval_prob
    out = Section("Purchase rates", terms=["credible interval", "posterior", "P(A > B)", "pp", "expected loss"])
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
        out.blocks.append(
            "Comparisons: the posterior of the difference A − B (percentage points, pp) and of the relative lift "
            "A / B − 1, with the probability that A's rate is the higher.")
        out.blocks.append(Table(
            ["A", "B", "difference", f"{prob:.0%} interval", "lift", f"{prob:.0%} interval", "P(A > B)"],
            [[_label(c.a), _label(c.b), pp(c.difference.mean), pp_range(c.difference.interval),
              f"{c.lift.mean:+.1%}", f"{c.lift.interval[0]:+.1%} to {c.lift.interval[1]:+.1%}",
              prob_cell(c.prob_a_greater)] for c in result.comparisons], name="rate_comparisons"))
        top = _clearest(result)
        out.blocks.append(Decision([
            f"Prioritise {_label(top.a) if top.prob_a_greater >= 0.5 else _label(top.b)} over "
            f"{_label(top.b) if top.prob_a_greater >= 0.5 else _label(top.a)} for conversion-focused spend: "
            f"probability {prob_text(max(top.prob_a_greater, 1 - top.prob_a_greater), top.draws)} that its "
            "purchase rate is the higher.",
            f"The gap is {pp(abs(top.difference.mean), sign=False)} (interval {pp_range(top.difference.interval)}): "
            "weigh it against what the segments cost to reach."]))
    if len(result.best) > 2:
        out.blocks.append(
            "Which segment has the highest rate: the probability that each is best, and its expected loss, the "
            "purchase rate given up in expectation by choosing it over the true best.")
        out.blocks.append(Table(["segment", "P(best)", "expected loss"],
                                [[b.label, prob_cell(b.prob_best), pp(b.expected_loss, sign=False)] for b in result.best],
                                name="best_segment"))
    out.blocks += [Figure("ppc"), Figure("prior_predictive")]
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
        out.blocks += [Figure("rank"), Figure("trace")]
    out.methods = list(METHODS)
    if len(result.segments) > 1:
        out.limitations.append("the hierarchical model adds the segment columns' effects on the logit scale with no "
                               "interaction between them; the LOO comparison with the independent model shows when the "
                               "data disagree.")
    return out


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
        sentences.append(Sentence(
            f"Of {len(result.best)} segments, {first.label} most probably has the highest purchase rate (probability "
            f"{pct(first.prob_best)}; choosing it gives up {pp(first.expected_loss, sign=False)} of purchase rate in "
            "expectation).", [first.prob_best, first.expected_loss]))
    return sentences


def _prob(value: float) -> str:
    return "> 0.999" if value > 0.999 else "< 0.001" if value < 0.001 else f"= {value:.3f}"


def comparison_line(c) -> str:
    """``A vs B: +7.4 pp (3.9 to 11.1), lift +38% (19% to 58%), P(A > B) > 0.999``."""
    a, b = one_line(_label(c.a)), one_line(_label(c.b))
    lo, hi = (100 * value for value in c.difference.interval)
    return (f"{a} vs {b}: {100 * c.difference.mean:+.1f} pp ({lo:+.1f} to {hi:+.1f}), lift {c.lift.mean:+.0%} "
            f"({c.lift.interval[0]:+.0%} to {c.lift.interval[1]:+.0%}), P({a} > {b}) {_prob(c.prob_a_greater)}")


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
    if len(result.best) > 2:
        first = result.best[0]
        lines.append(f"  most likely best: {one_line(first.label)} (P = {first.prob_best:.3f}, "
                     f"expected loss {100 * first.expected_loss:.2f} pp)")
    if result.model_comparison:
        lines.append("  " + result.model_comparison.statement)
    return lines

"""The short summary printed after a run, rendered from ``summary.json`` content only."""

from __future__ import annotations

from shopper_bayes.campaign import describe_boost
from shopper_bayes.counts import segment_name


def _safe(text) -> str:
    """Data strings shown in a terminal: control characters escaped, so they cannot move the cursor."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in str(text))


def _name(segment) -> str:
    return _safe(segment_name(segment))


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _boost(answer: dict, kind: str) -> str:
    return "unreachable" if answer["boost"] is None else describe_boost(answer["boost"], kind, digits=1)


def _count(answer: dict) -> str:
    return "unreachable" if answer["sessions"] is None else f"{answer['sessions']:,}"


def _prob(value: float) -> str:
    return "> 0.999" if value > 0.999 else "< 0.001" if value < 0.001 else f"= {value:.3f}"


def comparison_line(comparison: dict) -> str:
    """``A vs B: +7.4 pp (3.9 to 11.1), lift +38% (19% to 58%), P(A > B) > 0.999``."""
    a, b = _name(comparison["a"]), _name(comparison["b"])
    diff, lift = comparison["difference"], comparison["lift"]
    lo, hi = (100 * value for value in diff["interval"])
    lift_lo, lift_hi = lift["interval"]
    return (f"{a} vs {b}: {100 * diff['mean']:+.1f} pp ({lo:+.1f} to {hi:+.1f}), lift {lift['mean']:+.0%} "
            f"({lift_lo:+.0%} to {lift_hi:+.0%}), P({a} > {b}) {_prob(comparison['prob_a_greater'])}")


def format_campaign(plan: dict) -> str:
    """The campaign outlook: probability of the target, expected sales, inverse answers."""
    lo, hi = plan["sales_interval"]
    boost = describe_boost(plan["boost"], plan["boost_type"], plan["boost_sd"])
    lines = [f"Campaign: {_name(plan['segment'])} at {boost}, {plan['sessions']:,} sessions, target {plan['target']:,} sales",
             f"  P(sales ≥ {plan['target']}) = {_pct(plan['prob_at_least_target'])} by posterior predictive "
             f"({_pct(plan['prob_at_least_target_plugin'])} by plug-in binomial)",
             f"  expected sales {plan['expected_sales']:.1f} ({plan['interval_prob']:.0%} predictive interval {lo}–{hi})"]
    inverse = plan["inverse"]
    needed, needed_plugin = inverse["smallest_boost"], inverse["smallest_boost_plugin"]
    sessions, sessions_plugin = inverse["smallest_sessions"], inverse["smallest_sessions_plugin"]
    kind = plan["boost_type"]
    lines.append(f"  for P ≥ {inverse['prob_wanted']:.0%}: boost of at least {_boost(needed, kind)} (plug-in "
                 f"{_boost(needed_plugin, kind)}), or {_count(sessions)} sessions at {boost} (plug-in {_count(sessions_plugin)})")
    return "\n".join(lines)


def format_summary(summary: dict) -> str:
    lines = []
    cleaning = summary["cleaning"]
    dropped = ", ".join(f"{count:,} {_safe(reason)}" for reason, count in cleaning["dropped"].items()) or "none"
    lines.append(f"Sessions: {cleaning['rows_used']:,} used of {cleaning['rows_read']:,} read "
                 f"from {cleaning['source']} (dropped: {dropped})")

    rates = summary["purchase_rates"]
    prob = rates[0]["interval_prob"]
    width = max(len("segment"), *(len(_name(row["segment"])) for row in rates))
    lines += ["", f"Purchase rate by segment (posterior mean, {prob:.0%} credible interval)",
              f"  {'segment':<{width}}  {'sessions':>8}  {'purchases':>9}  {'observed':>8}  {'mean':>6}  interval"]
    for row in rates:
        lo, hi = row["interval"]
        lines.append(f"  {_name(row['segment']):<{width}}  {row['sessions']:>8,}  {row['purchases']:>9,}  "
                     f"{_pct(row['observed_rate']):>8}  {_pct(row['mean']):>6}  {_pct(lo)} – {_pct(hi)}")
    lines.append(f"  model: {summary['rates_model']}")
    for comparison in summary["rate_comparisons"][:6]:
        lines.append("  " + comparison_line(comparison))
    best = summary["best_segment"]
    if len(best) > 2:
        lines.append(f"  most likely best: {_name(best[0]['segment'])} (P = {best[0]['prob_best']:.3f}, "
                     f"expected loss {100 * best[0]['expected_loss']:.2f} pp)")
    if summary["model_comparison"]:
        lines.append("  " + summary["model_comparison"]["statement"])

    lines += ["", format_campaign(summary["campaign"])]

    pairs = summary["correlations"]["pairs"]
    if pairs:
        lines += ["", f"Correlations ({pairs[0]['method']} bootstrap, {pairs[0]['interval_prob']:.0%} interval)"]
        for pair in pairs:
            where = "" if pair.get("segment") in (None, "all") else f" [{_safe(pair['segment'])}]"
            if pair["r"] is None:
                lines.append(f"  {pair['x']} ~ {pair['y']}{where}: undefined ({pair['note']})")
            else:
                lo, hi = pair["interval"]
                lines.append(f"  {pair['x']} ~ {pair['y']}{where}: r = {pair['r']:.3f} ({lo:.3f} to {hi:.3f})")

    checks = summary["diagnostics"]
    verdict = "OK" if checks["ok"] else "NOT CONVERGED"
    bfmi = "n/a" if checks["min_bfmi"] is None else f"{checks['min_bfmi']:.2f}"
    lines += ["", f"Diagnostics ({', '.join(checks['by_model'])} model): {verdict} (max R-hat {checks['max_rhat']:.3f}, "
                  f"min bulk ESS {checks['min_ess_bulk']:.0f}, min tail ESS {checks['min_ess_tail']:.0f}, "
                  f"{checks['divergences']} divergences, min BFMI {bfmi})"]
    return "\n".join(lines)


def convergence_warning(summary: dict) -> str | None:
    checks = summary["diagnostics"]
    if checks["ok"]:
        return None
    bar = "!" * 72
    return "\n".join([bar, "WARNING: the MCMC chains did not converge; do not cite these intervals.",
                      *(f"  - {problem}" for problem in checks["problems"]),
                      "  Increase sampler.draws / sampler.tune, or check the data and priors.", bar])

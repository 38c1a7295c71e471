"""The short summary printed after a run, rendered from ``summary.json`` content only."""

from __future__ import annotations

from shopper_bayes.counts import segment_name


def _safe(text) -> str:
    """Data strings shown in a terminal: control characters escaped, so they cannot move the cursor."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in str(text))


def _name(segment) -> str:
    return _safe(segment_name(segment))


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _boost(answer: dict) -> str:
    return "unreachable" if answer["boost"] is None else f"{answer['boost']:+.1%}"


def _count(answer: dict) -> str:
    return "unreachable" if answer["sessions"] is None else f"{answer['sessions']:,}"


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
    for comparison in summary["rate_comparisons"][:6]:
        prob = comparison["prob_a_greater"]
        shown = "> 0.999" if prob > 0.999 else f"= {prob:.3f}"
        lines.append(f"  P({_name(comparison['a'])} > {_name(comparison['b'])}) {shown}")

    plan = summary["campaign"]
    lo, hi = plan["sales_interval"]
    lines += ["", f"Campaign: {_name(plan['segment'])} at {plan['boost']:+.0%}, {plan['sessions']:,} sessions, target {plan['target']:,} sales",
              f"  P(sales ≥ {plan['target']}) = {_pct(plan['prob_at_least_target'])} by posterior predictive "
              f"({_pct(plan['prob_at_least_target_plugin'])} by plug-in binomial)",
              f"  expected sales {plan['expected_sales']:.1f} ({plan['interval_prob']:.0%} predictive interval {lo}–{hi})"]
    inverse = plan["inverse"]
    boost, boost_plugin = inverse["smallest_boost"], inverse["smallest_boost_plugin"]
    sessions, sessions_plugin = inverse["smallest_sessions"], inverse["smallest_sessions_plugin"]
    lines.append(f"  for P ≥ {inverse['prob_wanted']:.0%}: boost of at least {_boost(boost)} (plug-in {_boost(boost_plugin)}), "
                 f"or {_count(sessions)} sessions at {plan['boost']:+.0%} (plug-in {_count(sessions_plugin)})")

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
    lines += ["", f"Diagnostics: {verdict} (max R-hat {checks['max_rhat']:.3f}, min bulk ESS {checks['min_ess_bulk']:.0f}, "
                  f"{checks['divergences']} divergences)"]
    return "\n".join(lines)


def convergence_warning(summary: dict) -> str | None:
    checks = summary["diagnostics"]
    if checks["ok"]:
        return None
    bar = "!" * 72
    return "\n".join([bar, "WARNING: the MCMC chains did not converge; do not cite these intervals.",
                      *(f"  - {problem}" for problem in checks["problems"]),
                      "  Increase sampler.draws / sampler.tune, or check the data and priors.", bar])

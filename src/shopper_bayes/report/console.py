"""The console summary of a run, rendered from ``summary.json`` content through each analysis's own
console lines."""

from __future__ import annotations

from shopper_bayes.errors import one_line


def _default_analyses():
    from shopper_bayes.analyses.registry import default_analyses

    return default_analyses()


def data_lines(summary: dict) -> list[str]:
    lines = []
    for data in summary["data"].values():
        lines.append(f"{data['title']}: {data['path']}")
        groups: dict[tuple, list[str]] = {}  # analyses that used the same rows share one line
        for key, use in data["analyses"].items():
            groups.setdefault((use["rows_read"], use["rows_used"], tuple(use["dropped"].items())), []).append(key)
        for (read, used, dropped), keys in groups.items():
            reasons = ", ".join(f"{count:,} {one_line(reason)}" for reason, count in dropped) or "none"
            lines.append(f"  {', '.join(keys)}: {used:,} rows used of {read:,} (dropped: {reasons})")
    return lines


def diagnostics_line(checks: dict) -> str:
    verdict = "OK" if checks["ok"] else "NOT CONVERGED"

    def fmt(value, spec):
        return "n/a" if value is None else format(value, spec)

    return (f"Diagnostics ({', '.join(checks['by_model'] or [])}): {verdict} (max R-hat {fmt(checks['max_rhat'], '.3f')}, "
            f"min bulk ESS {fmt(checks['min_ess_bulk'], '.0f')}, min tail ESS {fmt(checks['min_ess_tail'], '.0f')}, "
            f"{checks['divergences']} divergences, min BFMI {fmt(checks['min_bfmi'], '.2f')})")


def format_run(summary: dict, analyses=None) -> str:
    analyses = _default_analyses() if analyses is None else analyses
    lines = data_lines(summary)
    for analysis in analyses:
        if summary.get(analysis.key) is None:
            continue
        result = analysis.result.model_validate(summary[analysis.key])
        lines += ["", *analysis.console(result)]
    skipped: dict[str, list[str]] = {}  # reason -> the analyses skipped for it (a dataset left out skips several)
    for key, why in summary.get("skipped", {}).items():
        skipped.setdefault(why, []).append(key)
    if skipped:
        lines += ["", *(f"Skipped {', '.join(keys)}: {why}" for why, keys in skipped.items())]
    if summary.get("diagnostics"):
        lines += ["", diagnostics_line(summary["diagnostics"])]
    return "\n".join(lines)


def convergence_warning(summary: dict) -> str | None:
    checks = summary.get("diagnostics")
    if not checks or checks["ok"]:
        return None
    bar = "!" * 72
    return "\n".join([bar, "WARNING: a fit did not pass its convergence checks; do not cite the numbers it feeds.",
                      *(f"  - {one_line(problem)}" for problem in checks["problems"]),
                      "  " + _hint(checks), bar])


def _hint(checks: dict) -> str:
    methods = {gate["method"] for gate in (checks.get("by_model") or {}).values()}
    if methods and methods <= {"map"}:
        return "A MAP fit has no draws to check: use method: mcmc for intervals and convergence checks."
    return "Increase sampler.draws / sampler.tune, or check the data and priors."

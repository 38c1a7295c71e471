"""Report section, console lines and headline of the demographics analysis, from its typed result only."""

from __future__ import annotations

from shopper_bayes.analyses.demographics.result import DemographicsResult, Level, Share
from shopper_bayes.errors import one_line
from shopper_bayes.report.document import (Decision, Figure, Section, Sentence, Table, Warning, num, num_range, pct,
                                           pct_prob, prob_cell, prob_text)

TERMS = ["partial pooling", "posterior predictive check", "credible interval", "Dirichlet", "Bayesian bootstrap"]


def _label(column: str) -> str:
    return column.replace("_", " ")


def methods(result: DemographicsResult) -> list[str]:
    columns = ", ".join(_label(column) for column in result.groups) or "no column (every one had a single level)"
    spend = ("y ~ Gamma(shape, shape / m), so m is the mean; shape ~ Gamma(2, 0.5) by default"
             if result.likelihood == "gamma" else
             "log y ~ Normal(log m - sigma²/2, sigma), so m is the mean; sigma ~ HalfNormal(1) by default")
    return [
        f"Unit: the {result.unit}. The {result.purchases:,} purchases form {result.customers:,} profiles of "
        f"{result.customer_ids:,} customer ids; {_ids_text(result)}. A profile's spend "
        "is the sum of its purchase amounts, its orders the sum of its orders.",
        f"Spend per profile: {spend}; log m = intercept + one zero-sum effect per modelled column ({columns}), each "
        "column's effects ~ ZeroSumNormal(sd), sd ~ HalfNormal(0.5), so small levels borrow strength from their "
        f"column (partial pooling). Fitted by NUTS (nutpie) on {result.cells:,} cells of the modelled columns, the data "
        "entering only through n, Σ y, Σ log y and Σ (log y)² per cell. The likelihood was chosen by a posterior "
        "predictive check of the spread and percentiles of spend per profile (the lognormal overstates the top "
        "percentiles far more than the gamma).",
        "Orders per profile: 1 + Poisson(rate), log rate = intercept + zero-sum effects with their own sds (every "
        "profile ordered at least once), fitted jointly with spend on Σ (orders - 1) per cell.",
        "A level's mean is standardised: the mean per profile it would have with the data's mix of the other modelled "
        "columns. P(above the overall mean) and P(top) are shares of the posterior draws; a level is a target when "
        f"P(above) ≥ {result.target_prob:.0%}, underperforming when P(above) ≤ {1 - result.target_prob:.0%}.",
        "Category and product shares of orders: Dirichlet(prior + orders), exact (intervals from its Beta marginals, "
        "P(rank 1) from independent draws); shares of revenue: Bayesian bootstrap over purchases (Dirichlet(1, ..., 1) "
        "weights). Categories by zone: the same Dirichlet within each zone.",
    ]


def _level_rows(levels: list[Level], digits: int) -> list[list[str]]:
    return [[level.level, f"{level.customers:,}", num(level.observed_mean, digits), num(level.mean, digits),
             num_range(level.interval, digits), prob_cell(level.prob_above_mean.value),
             "–" if level.prob_top is None else prob_cell(level.prob_top.value), level.flag]
            for level in sorted(levels, key=lambda level: -level.mean)]


def _share_rows(entries: list[Share], with_category: bool) -> list[list[str]]:
    return [[entry.name, *([entry.category or ""] if with_category else []), f"{entry.orders:,}", num(entry.revenue, 0),
             f"{pct(entry.share)} ({pct(entry.interval[0])}–{pct(entry.interval[1])})", pct_prob(entry.prob_top.value),
             f"{pct(entry.revenue_share)} ({pct(entry.revenue_interval[0])}–{pct(entry.revenue_interval[1])})",
             pct_prob(entry.prob_top_revenue.value)] for entry in entries]


SHARE_HEADER = ["orders", "revenue", "share of orders", "P(most orders)", "share of revenue", "P(most revenue)"]


def _top(result: DemographicsResult, column: str) -> Level:
    return max(result.groups[column], key=lambda level: level.mean)


def sentences(result: DemographicsResult) -> list[Sentence]:
    """Plain sentences: who spends most, which states underperform, what sells."""
    out = []
    for column, levels in result.groups.items():
        best = _top(result, column)
        p = prob_text(best.prob_above_mean.value, best.prob_above_mean.draws)
        if best.flag == "target":
            text = (f"By {_label(column)}, {best.level} spends most per profile: {num(best.mean, 0)} "
                    f"({num_range(best.interval, 0)}) against {num(result.overall_spend.mean, 0)} overall, "
                    f"P(above the mean) {p}.")
        else:
            # Not sure enough to call it a target: the highest level is not said to spend "most".
            text = (f"By {_label(column)}, no level clearly spends more than the overall mean: the highest, "
                    f"{best.level}, {num(best.mean, 0)} ({num_range(best.interval, 0)}) against "
                    f"{num(result.overall_spend.mean, 0)}, P(above the mean) {p}, short of the "
                    f"{pct(result.target_prob, 0)} a target needs.")
        out.append(Sentence(text, [best.mean, *best.interval, result.overall_spend.mean, best.prob_above_mean.value,
                                   result.target_prob]))
    if "state" in result.groups:
        under = [level for level in result.groups["state"] if level.flag == "underperforming"]
        text = (f"States probably below the mean: {', '.join(level.level for level in under)}."
                if under else "No state is probably below the overall mean.")
        out.append(Sentence(text, [level.mean for level in under]))
    if result.categories:
        first, revenue = result.categories[0], max(result.categories, key=lambda entry: entry.revenue)
        out.append(Sentence(
            f"{first.name} sells the most orders ({pct(first.share)} of them); {revenue.name} brings the most revenue "
            f"({pct(revenue.revenue_share)}).", [first.share, revenue.revenue_share]))
    return out


def _decision(result: DemographicsResult) -> list[str]:
    lines = []
    for column, levels in result.groups.items():
        target = [level.level for level in levels if level.flag == "target"]
        under = [level.level for level in levels if level.flag == "underperforming"]
        if target or under:
            lines.append(f"{_label(column).capitalize()}: target {', '.join(target) or 'none'}; "
                         f"underperforming {', '.join(under) or 'none'}.")
    if not lines:
        return ["No level is clearly above or below the overall mean spend: split budgets by other criteria."]
    return lines + ["Levels marked unclear could go either way: do not move budget on them without more data."]


def _ids_text(result: DemographicsResult) -> str:
    """How many ids carry several profiles, said so that none reads as none (not "0 ids ... (up to 1)")."""
    if not result.conflicting_ids:
        return "every id carries one profile"
    several = result.conflicting_ids != 1
    return (f"{result.conflicting_ids:,} id{'s' * several} {'carry' if several else 'carries'} more than one profile (up to "
            f"{result.max_profiles_per_id}), so an id is not one person with one profile in this data")


def section(result: DemographicsResult) -> Section:
    out = Section("Customers and products", terms=list(TERMS), anchor="demographics")
    out.blocks.append(
        f"{result.purchases:,} purchases of {result.customer_ids:,} customer ids. The unit is the {result.unit}: "
        f"{_ids_text(result)}; the {result.customers:,} profiles, not the ids, are what is compared.")
    if result.ignored_columns:
        out.blocks.append(f"Ignored empty columns: {', '.join(result.ignored_columns)}.")
    if result.label_merges:
        out.blocks.append("Labels merged (they differed only in case or spaces): " + "; ".join(
            f"{entry['column']}: {entry['from']} → {entry['to']} ({entry['rows']} rows)" for entry in result.label_merges) + ".")
    for note in result.notes:
        out.blocks.append(note.capitalize() + ".")
    out.blocks.extend(sentence.text for sentence in sentences(result))
    if not result.diagnostics.ok:
        out.blocks.append(Warning("The spend and orders model did not pass the convergence checks: "
                                  + "; ".join(result.diagnostics.problems[:3])))
    misses = [check for check in result.checks if check.model.startswith("spend") and not 0.005 < check.p_value < 0.995]
    if misses:
        out.blocks.append(Warning(f"The {result.likelihood} spend model misses " + ", ".join(
            f"the {check.statistic} (observed {num(check.observed, 0)}, replicated {num_range(check.replicated.interval, 0)})"
            for check in misses) + ": read the level means, not the tails of spend."))
        out.limitations.append(f"the {result.likelihood} spend model misses the spread and tails of spend per "
                               "profile; its level means are usable, its tails are not.")
    out.blocks.append(Decision(_decision(result)))
    if result.groups:
        out.blocks.append(Figure("demographics_spend_forest"))
    header = ["level", "profiles", "observed mean", "mean", f"{result.interval_prob:.0%} interval", "P(above mean)",
              f"P(top {result.top_levels})", "flag"]
    for column, levels in result.groups.items():
        out.blocks.append(Table(header, _level_rows(levels, 0), name=f"demographics_spend_{column}",
                                caption=f"Spend per profile by {_label(column)}"))
    for column, levels in result.orders_groups.items():
        out.blocks.append(Table(header, _level_rows(levels, 2), name=f"demographics_orders_{column}",
                                caption=f"Orders per profile by {_label(column)} (overall "
                                        f"{num(result.overall_orders.mean)}, {num_range(result.overall_orders.interval)})"))
    if result.gender_age:
        out.blocks.append(Table(["gender", "age group", "profiles", "observed mean", "mean", f"{result.interval_prob:.0%} interval"],
                                [[row.gender, row.age_group, f"{row.customers:,}", num(row.observed_mean, 0), num(row.mean, 0),
                                  num_range(row.interval, 0)] for row in result.gender_age],
                                name="demographics_gender_age", caption="Mean spend per profile by gender and age group"))
    out.blocks.append(Table(["category", *SHARE_HEADER], _share_rows(result.categories, False),
                            name="demographics_categories", caption="Product categories"))
    if result.zones:
        out.blocks.append(Figure("demographics_category_zone"))
    out.blocks.append(Table(["product", "category", *SHARE_HEADER], _share_rows(result.products, True),
                            name="demographics_products", caption=f"Top {len(result.products)} products by orders"))
    out.blocks.append(Table(["product", "category", *SHARE_HEADER], _share_rows(result.products_by_revenue, True),
                            name="demographics_products_revenue",
                            caption=f"Top {len(result.products_by_revenue)} products by revenue"))
    out.blocks.append(Table(["model", "statistic", "observed", "replicated", f"{result.interval_prob:.0%} interval", "P(rep ≥ obs)"],
                            [[check.model, check.statistic, num(check.observed), num(check.replicated.mean),
                              num_range(check.replicated.interval), prob_text(check.p_value, check.draws)] for check in result.checks],
                            name="demographics_checks", caption="Posterior predictive checks per profile"))
    out.methods = methods(result)
    return out


def console(result: DemographicsResult) -> list[str]:
    lines = [one_line(f"customers and products: {result.customers:,} profiles of {result.customer_ids:,} ids "
                      f"({result.conflicting_ids:,} ids with conflicting profiles); mean spend "
                      f"{num(result.overall_spend.mean, 0)} ({num_range(result.overall_spend.interval, 0)})")]
    for column, levels in result.groups.items():
        best = _top(result, column)
        under = [level.level for level in levels if level.flag == "underperforming"]
        lines.append(one_line(f"  {_label(column)}: highest {best.level} {num(best.mean, 0)}"
                              + (f"; underperforming {', '.join(under)}" if under else "")))
    if result.categories:
        lines.append(one_line(f"  most orders: {result.categories[0].name} ({pct(result.categories[0].share)})"))
    return lines


def headline(result: DemographicsResult) -> list[Sentence]:
    return sentences(result)[:2]

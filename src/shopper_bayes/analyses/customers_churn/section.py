"""Report section, console lines and headline of retention and churn."""

from __future__ import annotations

from shopper_bayes.analyses.customers_churn.compute import ChurnResult
from shopper_bayes.report.document import Decision, Figure, Section, Sentence, Table, pct, pct_range


def _rule(result: ChurnResult) -> str:
    return f"no purchase for more than {result.inactive_days} days before {result.observation_end}"


def section(result: ChurnResult) -> Section:
    blocks: list = [f"{result.customers:,} customers; churned means {_rule(result)}."]
    if result.churn_rate.mean is None:
        blocks.append(result.note[0].upper() + result.note[1:] + ".")
    else:
        blocks.append(
            f"{result.churned:,} of {result.eligible:,} customers have churned: churn rate "
            f"{pct(result.observed_churn_rate)} ({pct_range(result.churn_rate.interval)}), retention "
            f"{pct(1 - result.observed_churn_rate)} ({pct_range(result.retention_rate.interval)}).")
        if result.too_recent:
            blocks.append(f"{result.too_recent:,} customers first bought {result.inactive_days} days or less before the end "
                          "and are left out of the rate (they cannot have churned yet).")
        if result.note:
            blocks.append(result.note[0].upper() + result.note[1:] + ".")
    months = len(result.cohorts[0].shares)
    header = ["cohort", "customers", *(f"+{k}" for k in range(months))]
    rows = [[cohort.cohort, f"{cohort.customers:,}", *("" if share is None else pct(share, 0) for share in cohort.shares)]
            for cohort in result.cohorts]
    blocks += [Figure("customers_cohorts"),
               Table(header, rows, name="customers_cohorts",
                     caption="Share of each cohort (month of first purchase) buying k months later")]
    if result.churn_rate.mean is not None:
        blocks.append(Decision([
            f"About {pct(result.observed_churn_rate, 0)} of customers are gone by this rule. A win-back offer goes to "
            f"{result.churned:,} customers; the cohort table shows in which month after the first purchase buying "
            "drops most, which is when a retention nudge has the most to save.",
            f"The rule's {result.inactive_days} days is a choice (config key customers_churn.inactive_days): "
            "pick it from how often your customers normally buy.",
        ]))
    methods = [
        f"A customer has churned when they made no purchase for more than {result.inactive_days} days before the "
        "observation end. The rate counts only customers whose first purchase is more than that long before the end. "
        "Its interval is the central posterior interval of a Beta-binomial model (customers churn independently with "
        f"the same probability, flat Beta prior), drawn exactly ({result.draws:,} draws, no MCMC). The rule is a "
        "definition, not a model of churn: a churned customer may still come back.",
        "Cohorts group customers by the calendar month of their first purchase; a cell is the share of the cohort "
        "with at least one purchase k months later (month 0 is 100% by definition).",
    ]
    return Section("Retention and churn", blocks, methods=methods, terms=["churn", "cohort", "credible interval"],
                   anchor="customers-churn")


def console(result: ChurnResult) -> list[str]:
    if result.churn_rate.mean is None:
        return [f"Churn: {result.note}"]
    return [f"Churn ({_rule(result)}): {result.churned:,} of {result.eligible:,} customers, "
            f"{pct(result.observed_churn_rate)} ({pct_range(result.churn_rate.interval)}); "
            f"retention {pct(1 - result.observed_churn_rate)}"]


def headline(result: ChurnResult) -> list[Sentence]:
    if result.churn_rate.mean is None:
        return []
    return [Sentence(f"{pct(result.observed_churn_rate)} of customers have churned ({_rule(result)}; "
                     f"{pct_range(result.churn_rate.interval)}).",
                     [result.observed_churn_rate, *result.churn_rate.interval])]

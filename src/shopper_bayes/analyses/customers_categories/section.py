"""Report section, console lines and headline of the top categories."""

from __future__ import annotations

from shopper_bayes.analyses.customers_categories.compute import CategoriesResult
from shopper_bayes.errors import one_line
from shopper_bayes.report.document import Decision, Figure, Section, Sentence, Table, num, pct, pct_range, prob_cell, prob_text

METHODS = [
    "A category's share is its share of purchases (transaction rows). Its interval is the central posterior interval "
    "of a Dirichlet-multinomial model: purchases fall in categories independently with the same probabilities, "
    "flat Dirichlet prior, posterior Dirichlet(prior + purchases per category) drawn exactly (no MCMC). "
    "P(most purchased) is the share of posterior draws in which the category has the largest share. Purchases of "
    "one customer are not independent, so the intervals are too narrow for a per-customer question.",
]


def section(result: CategoriesResult) -> Section:
    if not result.available:
        return Section("Top categories", [result.note[0].upper() + result.note[1:] + "."], anchor="customers-categories")
    top = result.categories[0]
    rows = [[entry.category, f"{entry.purchases:,}", pct(entry.share), pct_range(entry.interval),
             prob_cell(entry.p_most_purchased.value), f"{entry.customers:,}", num(entry.revenue), pct(entry.revenue_share)]
            for entry in result.categories]
    blocks: list = [
        f"{result.purchases:,} purchases in {result.n_categories:,} categories "
        f"from {result.scope['date_range'][0]} to {result.scope['date_range'][1]}.",
        f"{top.category} is the most purchased category: {pct(top.share)} of purchases ({pct_range(top.interval)}), "
        f"most purchased with probability {prob_text(top.p_most_purchased.value, top.p_most_purchased.draws)}.",
        Table(["category", "purchases", "share", f"{result.interval_prob:.0%} interval", "P(most purchased)",
               "customers", "revenue", "revenue share"], rows, name="customers_categories"),
        Figure("customers_categories"),
    ]
    if result.note:
        blocks.append(result.note[0].upper() + result.note[1:] + ".")
    if len(result.categories) > 1:
        second = result.categories[1]
        blocks.append(Decision([
            f"Ranking {top.category} above {second.category} is safe when P(most purchased) of {top.category} is high "
            f"({prob_text(top.p_most_purchased.value, top.p_most_purchased.draws)}); when it is not, treat them as tied.",
        ]))
    return Section("Top categories", blocks, methods=METHODS, terms=["credible interval"], anchor="customers-categories")


def console(result: CategoriesResult) -> list[str]:
    if not result.available:
        return [f"Top categories: {result.note}"]
    parts = [f"{one_line(entry.category)} {pct(entry.share)} ({pct_range(entry.interval)})" for entry in result.categories[:5]]
    return [f"Top categories ({result.n_categories:,}, share of {result.purchases:,} purchases): " + "; ".join(parts)]


def headline(result: CategoriesResult) -> list[Sentence]:
    if not result.available:
        return []
    top = result.categories[0]
    return [Sentence(f"{top.category} is the most purchased category: {pct(top.share)} of purchases "
                     f"({pct_range(top.interval)}).", [top.share, *top.interval])]

"""Report section, console lines and headline of the frequency segments."""

from __future__ import annotations

from shopper_bayes.analyses.customers_frequency_segments.compute import FrequencySegmentsResult
from shopper_bayes.errors import one_line
from shopper_bayes.report.document import Decision, Figure, Section, Sentence, Table, num, pct, pct_range


def _scope(result: FrequencySegmentsResult) -> str:
    first, last = result.scope.get("date_range", ["?", "?"])
    return (f"{result.customers:,} customers with a purchase from {first} to {last} "
            f"(observation end {result.scope.get('observation_end', last)}).")


def section(result: FrequencySegmentsResult) -> Section:
    rows = [[entry.segment, entry.purchase_days, f"{entry.customers:,}", pct(entry.share), pct_range(entry.interval),
             num(entry.revenue), pct(entry.revenue_share), num(entry.revenue_per_customer)]
            for entry in result.segments]
    one, _, frequent = result.segments
    blocks: list = [
        _scope(result),
        f"{pct(one.share)} of customers bought on one day only ({pct_range(one.interval)}) and brought "
        f"{pct(one.revenue_share)} of revenue; frequent buyers ({frequent.purchase_days} purchase days) are "
        f"{pct(frequent.share)} of customers and brought {pct(frequent.revenue_share)}.",
        Table(["segment", "purchase days", "customers", "share", f"{result.interval_prob:.0%} interval",
               "revenue", "revenue share", "revenue per customer"], rows, name="customers_frequency_segments"),
        Figure("customers_frequency_segments"),
    ]
    if result.note:
        blocks.append(result.note[0].upper() + result.note[1:] + ".")
    blocks.append(Decision([
        f"{one.customers:,} one-time buyers ({pct(one.share)}) are the pool for a second-purchase campaign: "
        f"occasional buyers brought {num(result.segments[1].revenue_per_customer)} per customer, one-time buyers "
        f"{num(one.revenue_per_customer)}.",
        "Treat that gap as optimistic when weighing what to spend per converted customer: occasional buyers "
        "may have been better customers anyway.",
    ]))
    methods = [
        "A customer's purchase days are the distinct days with a purchase up to the observation end (several "
        "purchases on one day count once). Customers with 1 purchase day are one-time buyers, with "
        f"{result.segments[1].purchase_days} occasional, with {frequent.purchase_days} frequent.",
        "The interval of a segment's share of customers is the central posterior interval of a Dirichlet-multinomial "
        "model: customers fall in segments independently with the same probabilities, the shares have a flat "
        f"Dirichlet prior, so the posterior is Dirichlet(prior + customers per segment), drawn exactly "
        f"({result.draws:,} draws, no MCMC). Revenue and its shares are sums over the data, without interval.",
    ]
    return Section("Purchase frequency", blocks, methods=methods, terms=["purchase day", "credible interval"],
                   anchor="customers-frequency-segments")


def console(result: FrequencySegmentsResult) -> list[str]:
    parts = [f"{one_line(entry.segment)} {pct(entry.share)} of customers ({pct_range(entry.interval)}), "
             f"{pct(entry.revenue_share)} of revenue" for entry in result.segments]
    lines = [f"Purchase frequency ({result.customers:,} customers): " + "; ".join(parts)]
    if result.note:
        lines.append(f"  note: {result.note}")
    return lines


def headline(result: FrequencySegmentsResult) -> list[Sentence]:
    one = result.segments[0]
    return [Sentence(f"{pct(one.share)} of customers bought on one day only ({pct_range(one.interval)}), bringing "
                     f"{pct(one.revenue_share)} of revenue.", [one.share, *one.interval, one.revenue_share or 0.0])]

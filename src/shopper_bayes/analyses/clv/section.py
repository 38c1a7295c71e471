"""The "Customer value" report section, console lines and headline, from the typed result only."""

from __future__ import annotations

from shopper_bayes.analyses.base import Estimate
from shopper_bayes.analyses.clv.results import ClvResult
from shopper_bayes.errors import one_line
from shopper_bayes.report.document import Decision, Figure, Section, Sentence, Table, Warning, num, num_range


TITLES = {"bg_nbd": "BG/NBD", "pareto_nbd": "Pareto/NBD"}
ACTIVE = {"bg_nbd": "the BG/NBD counts a customer as active until a purchase after which they drop out",
          "pareto_nbd": "the Pareto/NBD lets a customer drop out at any time, before buying again too"}
MODELS = {
    "bg_nbd": "Purchases: BG/NBD (Fader, Hardie & Lee 2005). While alive a customer buys at a Poisson rate lambda ~ "
              "Gamma(r, alpha); after each repeat purchase they drop out for good with probability p ~ Beta(a, b).",
    "pareto_nbd": "Purchases: Pareto/NBD (Schmittlein, Morrison & Colombo 1987; expressions of Fader & Hardie 2005). "
                  "While alive a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); their lifetime from the "
                  "first purchase is Exponential(mu), mu ~ Gamma(s, beta), so dropout can happen at any time. The "
                  "likelihood's integral over the time of dropout is computed by Gauss-Legendre quadrature.",
}
PARAMS = {"bg_nbd": "r, alpha in {unit}s, a, b", "pareto_nbd": "r, alpha in {unit}s, s, beta in {unit}s"}


def _est(value: Estimate | None, digits: int = 2) -> str:
    if value is None or value.mean is None:
        return "n/a" if value is None else f"n/a ({value.note})"
    if value.interval[0] is None:
        return f"{num(value.mean, digits)} (MAP)"
    return f"{num(value.mean, digits)} ({num_range(value.interval, digits)})"


def _method(result: ClvResult) -> str:
    if result.method == "map":
        return "MAP point estimate, no intervals"
    return f"posterior mean ({result.interval_prob:.0%} interval)"


def section(result: ClvResult) -> Section:
    unit = result.time_unit
    blocks: list = []
    if result.method == "map":
        blocks.append(Warning("clv.method is map: every number here is a point estimate with no uncertainty; "
                              "run with clv.method: mcmc before acting on it."))
    elif not result.diagnostics.ok:
        blocks.append(Warning("The CLV fit did not pass the convergence checks: " + "; ".join(result.diagnostics.problems)))
    top = next(iter(result.segments), None)
    blocks.append(
        f"Of {result.customers:,} customers seen up to {result.calibration_end}, about {_est(result.alive, 0)} are "
        f"probably still active ({result.no_repeat:,} have not bought again, and {ACTIVE[result.model]}). They are expected to make {_est(result.next_quarter, 0)} repeat purchases in the next "
        f"3 months and {_est(result.purchases, 0)} in the next {result.horizon_months} months. Their value over "
        f"{result.horizon_months} months, discounted at {result.discount_rate:.1%} a month, is {_est(result.total_clv, 0)}"
        + (f"; the {top.segment} of customers by CLV account for {_est(top.clv, 0)} of it ({top.share:.0%})." if top else "."))
    if result.holdout is not None:
        h = result.holdout
        verdict = "inside" if h.inside else "OUTSIDE"
        blocks.append(
            f"Holdout check ({h.length:.1f} {unit}s after {result.calibration_end}): the model predicted {num(h.predicted, 0)} "
            f"repeat purchases ({num_range(h.interval, 0)}, {result.interval_prob:.0%} predictive interval); the customers "
            f"made {h.actual:,}, {verdict} the interval.")
        blocks.append(Figure("clv_holdout"))
    params = result.params
    rows = [[name, _est(getattr(params, name), 3)] for name in ("r", "alpha", "a", "b", "s", "beta", "p", "q", "v")
            if getattr(params, name) is not None]
    d = result.diagnostics
    blocks.append(Table(["parameter", _method(result)], rows, name="clv_parameters",
                        caption=f"{TITLES[result.model]} ({PARAMS[result.model].format(unit=unit)}) and Gamma-Gamma "
                                f"(p, q, v). Diagnostics: "
                                + ("not sampled (MAP)" if d.method == "map" else
                                   f"max R-hat {num(d.max_rhat, 3)}, min ESS {num(d.min_ess_bulk, 0)}, "
                                   f"{d.divergences} divergences")))
    blocks.append(Table(["customer", "repeat purchases", "P(alive)", f"purchases, {result.horizon_months} months",
                         "spend per purchase", "CLV"],
                        [[c.customer_id, str(c.frequency), f"{c.p_alive:.2f}", num(c.expected_purchases, 1),
                          num(c.expected_spend), _est(c.clv)] for c in result.top_customers],
                        name="clv_top_customers", caption="Customers with the highest expected CLV"))
    blocks.append(Table(["segment (by CLV)", "customers", "CLV", "share of CLV"],
                        [[s.segment, f"{s.customers:,}", _est(s.clv, 0), f"{s.share:.0%}"] for s in result.segments],
                        name="clv_segments"))
    if top is not None and result.total_clv.mean is not None:
        lines = [
            f"A loyalty programme aimed at the {top.segment} ({top.customers:,} customers) reaches {top.share:.0%} of "
            f"expected value over {result.horizon_months} months ({_est(top.clv, 0)}).",
            "Customers with a low P(alive) but a high past spend are the win-back list: see reports/customers_clv.parquet."]
        if _holdout_missed(result):
            lines.append(_holdout_caveat(result))
        blocks.append(Decision(lines))
    blocks.append(Figure("clv_alive"))
    blocks.append(Figure("clv_prior"))
    blocks.extend(result.notes)
    binned = result.statistics == "binned"
    grid = f" (clv.statistics: binned: recency and T rounded to whole {unit}s)" if binned else ""
    methods = [
        MODELS[result.model] + f" Fitted on the calibration period (up to {result.calibration_end}, time in {unit}s), on "
        f"{result.triples:,} distinct (frequency, recency, T) triples{grid} weighted by the number of customers sharing "
        f"each (the same likelihood as one term per customer{' at the rounded times' if binned else ''}).",
        f"Spend: Gamma-Gamma (Fader, Hardie & Lee 2005, 'RFM and CLV') on the mean repeat-purchase value of "
        f"{result.spend_customers:,} repeat buyers with positive spend"
        + (f", their total repeat spend grouped in {result.spend_groups:,} bins 1% wide (second-order correction)."
           if binned else "."),
        "Priors: independent LogNormal on every parameter ("
        + ", ".join(f"{name} LogNormal({p['mu']:g}, {p['sigma']:g})" for name, p in result.priors.items())
        + "), wide enough that the data decide.",
        ("Fit: MAP (the posterior mode by L-BFGS), a point estimate." if result.method == "map" else
         "Fit: NUTS (nutpie) in whitened coordinates (the log-parameters centred at the posterior mode and scaled "
         f"by the curvature there: an exact linear change of variables); per-customer numbers from {result.draws:,} "
         "posterior draws."),
        f"CLV: expected purchases per month (30.4375 days) times the expected spend per purchase, discounted at "
        f"{result.discount_rate:.1%} a month, over {result.horizon_months} months. Holdout intervals are posterior predictive: "
        "one simulated holdout per posterior draw.",
    ]
    limitations = [_holdout_caveat(result)[0].lower() + _holdout_caveat(result)[1:]] if _holdout_missed(result) else []
    if result.method == "map":
        limitations.append("clv.method is map: point estimates without uncertainty.")
    return Section("Customer value", blocks, methods=methods,
                   terms=[TITLES[result.model], "Gamma-Gamma", "P(alive)", "CLV", "holdout", "MAP"], anchor="clv",
                   limitations=limitations)


def _holdout_missed(result: ClvResult) -> bool:
    return result.holdout is not None and not result.holdout.inside


def _holdout_caveat(result: ClvResult) -> str:
    """What a failed holdout check means for the CLV numbers, in the direction it failed."""
    h = result.holdout
    direction = ("fewer repeat purchases than the customers made, so its purchases and values are probably too low"
                 if h.actual > h.predicted else
                 "more repeat purchases than the customers made, so its purchases and values are probably too high")
    return (f"The holdout check fails: the model predicted {num(h.predicted, 0)} repeat purchases ({num_range(h.interval, 0)}) "
            f"against {h.actual:,} made; it predicts {direction}.")


def console(result: ClvResult) -> list[str]:
    lines = [f"CLV ({result.model}, {result.method}): {result.customers:,} customers, {result.triples:,} distinct triples; "
             f"active {_est(result.alive, 0)}; total {result.horizon_months}-month CLV {_est(result.total_clv, 0)}"]
    if result.holdout is not None:
        h = result.holdout
        lines.append(f"holdout: predicted {num(h.predicted, 0)} ({num_range(h.interval, 0)}), actual {h.actual:,}"
                     + ("" if h.inside else " - outside the interval"))
    return [one_line(line) for line in lines]


def headline(result: ClvResult) -> list[Sentence]:
    if result.alive.mean is None or result.total_clv.mean is None:
        return []
    text = (f"About {result.alive.mean:,.0f} of {result.customers:,} customers are probably still active; "
            f"their {result.horizon_months}-month value is {result.total_clv.mean:,.0f}")
    values = [result.alive.mean, result.customers, result.horizon_months, result.total_clv.mean]
    if result.total_clv.interval[0] is not None:
        text += f" ({result.interval_prob:.0%} interval {num_range(result.total_clv.interval, 0)})"
        values += [result.interval_prob, *result.total_clv.interval]
    if _holdout_missed(result):
        h = result.holdout
        text += (f". Caveat: on the held-out period the model predicted {num(h.predicted, 0)} repeat purchases against "
                 f"{h.actual:,} made (outside its interval), so these values are probably too "
                 f"{'low' if h.actual > h.predicted else 'high'}")
        values += [h.predicted, h.actual]
    return [Sentence(text + ".", values)]

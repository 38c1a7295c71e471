"""Report section, console lines and headline of the session behaviour analysis, from its typed result only."""

from __future__ import annotations

from shopper_bayes.analyses.session_behaviour.results import BehaviourResult, CellProfile, Difference
from shopper_bayes.errors import one_line
from shopper_bayes.report.document import (Decision, Figure, Section, Sentence, Table, num, num_range, pct, pct_prob,
                                           pct_range, pp, pp_range, prob_text)


def _methods(result: BehaviourResult) -> list[str]:
    return [
        f"Session behaviour: sessions grouped into cells by {', '.join(result.segments)}. Means of time, page counts "
        "and bounce and exit rates are per session; their intervals come from the Bayesian bootstrap "
        f"({result.resamples:,} Dirichlet(1, ..., 1) reweightings of each cell's sessions), chosen over a Normal or "
        "Gamma model because durations are heavy-tailed (a few sessions last hours) and no such model fits them; "
        "sessions are taken as independent. Medians are the sample medians. Differences between cells and "
        "P(A > B) come from the same draws, cells resampled independently.",
        "Shares (positive page value, engaged but not buying, purchase) have exact Beta posteriors, "
        "Beta(alpha + k, beta + n - k) with the configured prior, drawn with numpy (no MCMC). A session is engaged "
        f"when its time on {result.engaged_page_type} pages is above the median over all sessions in scope "
        f"({num(result.engaged_threshold_seconds, 0)} s).",
    ]


def _mean_cell(metric, digits: int) -> str:
    return f"{num(metric.mean.mean, digits)} ({num_range(metric.mean.interval, digits)})"


def _share_cell(share) -> str:
    return f"{pct(share.share.mean)} ({pct_range(share.share.interval)})"


def _diff_cell(diff: Difference) -> tuple[str, str]:
    if diff.unit == "share":
        return pp(diff.difference.mean), pp_range(diff.difference.interval)
    digits = 3 if diff.unit == "rate" else 1
    return num(diff.difference.mean, digits), num_range(diff.difference.interval, digits)


def _target(result: BehaviourResult) -> tuple[CellProfile, list[tuple[str, float]]]:
    """The cell most probably with the largest engaged-but-not-buying share (by posterior mean in a summary written
    before that probability was), and P(its share > each other cell's). Not the largest posterior mean: 3 sessions
    with 1 such had the largest mean (40%) but a share below another cell's with probability 51%."""
    def rank(cell: CellProfile) -> tuple[float, float]:
        share = cell.share("engaged_not_buying")
        return (share.prob_highest.value if share.prob_highest is not None else 0.0, share.share.mean)

    top = max(result.cells, key=rank)
    by_cell = {d.cell: d.prob_greater.value for d in result.differences if d.quantity == "engaged_not_buying"}
    if top.cell == result.reference:
        return top, [(cell, 1 - prob) for cell, prob in by_cell.items()]
    return top, [(result.reference, by_cell[top.cell])]


def _highest(share, result: BehaviourResult, before: str, after: str = "") -> str:
    """``probability P that it is the highest of the N cells`` (P(the cell's share is the highest)) between ``before``
    and ``after``, or nothing where the summary lacks it or there is one cell."""
    if share.prob_highest is None or len(result.cells) < 2:
        return ""
    return (f"{before}probability {prob_text(share.prob_highest.value, result.resamples)} that it is the highest of the "
            f"{len(result.cells)} cells{after}")


def section(result: BehaviourResult) -> Section:
    out = Section("Session behaviour", anchor="session-behaviour",
                  terms=["Bayesian bootstrap", "credible interval", "P(A > B)", "exact conjugate posterior", "pp",
                         "bounce rate", "exit rate", "page value"])
    sessions = sum(cell.sessions for cell in result.cells)
    page = result.engaged_page_type
    out.blocks.append(
        f"How each segment uses the site: {sessions:,} sessions ({one_line(result.scope.get('filter', 'all rows'))}), "
        f"in {len(result.cells)} cells by {', '.join(result.segments)}. Means with {result.interval_prob:.0%} intervals; "
        "durations are heavy-tailed, so the median (a typical session) is far below the mean."
        + (f" Computed on {one_line(result.scope['sample'])}." if result.scope.get("sample") else ""))
    out.blocks.append(Table(
        ["cell", "sessions", "total time, mean s (interval)", "median s", f"{page} time, mean s", f"{page} pages, mean",
         "bounce rate", "exit rate"],
        [[cell.cell, f"{cell.sessions:,}", _mean_cell(cell.metric("total_seconds"), 0),
          num(cell.metric("total_seconds").median, 0), _mean_cell(cell.metric(f"{page}_seconds"), 0),
          _mean_cell(cell.metric(f"{page}_pages"), 1), _mean_cell(cell.metric("bounce_rate"), 3),
          _mean_cell(cell.metric("exit_rate"), 3)] for cell in result.cells],
        name="behaviour_means", caption="Per-session means with Bayesian-bootstrap intervals; medians of total time."))
    out.blocks.append(Table(
        ["cell", "positive page value", "engaged but not buying", "purchase rate"],
        [[cell.cell, _share_cell(cell.share("positive_page_value")), _share_cell(cell.share("engaged_not_buying")),
          _share_cell(cell.share("purchase"))] for cell in result.cells],
        name="behaviour_shares", caption="Shares of sessions with exact Beta intervals."))
    if result.differences:
        rows = []
        for diff in result.differences:
            value, interval = _diff_cell(diff)
            rows.append([diff.label, f"{diff.cell} − {diff.reference}", value, interval, pct_prob(diff.prob_greater.value)])
        out.blocks.append(Table(["quantity", "difference", "mean", "interval", "P(cell > reference)"], rows,
                                name="behaviour_differences",
                                caption=f"Every cell against {result.reference} (the reference)."))
    top, probs = _target(result)
    share = top.share("engaged_not_buying")
    lines = [f"Engaged but not buying (more than {num(result.engaged_threshold_seconds, 0)} s on {page} pages, no "
             f"purchase): most probably highest in {top.cell}{_highest(share, result, ' (', ')')}, {pct(share.share.mean)} of its "
             f"sessions ({pct_range(share.share.interval)})."]
    lines += [f"P({top.cell} share > {other} share) = {prob_text(prob, result.resamples)}." for other, prob in probs]
    lines.append("These sessions show interest without buying: the natural audience of a re-engagement campaign "
                 "(reminders, saved baskets). Target the segment above if the probability is high; if not, the "
                 "segments do not differ enough to choose between them on this measure.")
    out.blocks.append(Decision(lines))
    out.blocks.append(Figure("behaviour_profile"))
    out.methods = _methods(result)
    return out


def console(result: BehaviourResult) -> list[str]:
    top, _ = _target(result)
    share = top.share("engaged_not_buying").share
    lines = [f"Session behaviour: {sum(cell.sessions for cell in result.cells):,} sessions in {len(result.cells)} cells"
             + (f" ({one_line(result.scope['sample'])})" if result.scope.get("sample") else "")]
    for cell in result.cells:
        total = cell.metric("total_seconds")
        lines.append(f"  {one_line(cell.cell)}: mean time {num(total.mean.mean, 0)} s ({num_range(total.mean.interval, 0)}), "
                     f"median {num(total.median, 0)} s; engaged but not buying {pct(cell.share('engaged_not_buying').share.mean)}")
    lines.append(f"  most probably the most engaged-but-not-buying: {one_line(top.cell)} ({pct(share.mean)}, "
                 f"{pct_range(share.interval)}{_highest(top.share('engaged_not_buying'), result, '; ')})")
    return lines


def headline(result: BehaviourResult) -> list[Sentence]:
    top, probs = _target(result)
    share = top.share("engaged_not_buying").share
    text = (f"{pct(share.mean)} of {top.cell} sessions are engaged but do not buy "
            f"({result.interval_prob:.0%} interval {pct_range(share.interval)})")
    values = [share.mean, *share.interval]
    if probs:
        other, prob = min(probs, key=lambda pair: pair[1])
        text += f"; probability that the share is higher than in {other}: {prob_text(prob, result.resamples)}"
        values.append(prob)
    return [Sentence(text + ".", values)]

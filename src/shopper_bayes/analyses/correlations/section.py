"""Report section, console lines and headline of the correlation analysis, from its typed result only."""

from __future__ import annotations

from shopper_bayes.analyses.correlations.results import POOLED, CorrelationsResult, Pair
from shopper_bayes.errors import one_line
from shopper_bayes.report.document import Decision, Figure, Section, Sentence, Table

_NARROW = ("On heavy-tailed durations, Pearson bootstrap intervals are too narrow: in simulation studies on generated "
           "durations, 90% intervals held the true correlation in 78–88% of datasets, Spearman intervals in 90% "
           "(benchmarks/README.md).")
CAVEAT = _NARROW + " Set correlations.statistic: spearman for durations."
LITTLE_CAVEAT = (_NARROW + " The Bag of Little Bootstraps narrows them further: its subsets seldom hold the rare "
                 "extreme sessions that widen the full bootstrap's intervals (benchmarks/README.md), and Spearman is "
                 "not available above correlations.blb_above_rows.")

LITTLE_METHOD = (
    "Correlations above correlations.blb_above_rows sessions: Bag of Little Bootstraps (Kleiner, Talwalkar, Sarkar & "
    "Jordan 2014): disjoint random subsets of n^γ sessions drawn by the engine, each resampled with multinomial "
    "weights summing to n; per subset the percentile interval's offsets from the subset's r, averaged over the "
    "subsets and placed around the r of all sessions.")

METHODS = [
    "Correlations: paired bootstrap, sessions resampled with replacement (taken as independent), BCa or percentile "
    "intervals as configured, pooled and per level of the by column; a pair with fewer than 3 sessions or a constant "
    "column is reported as undefined with its reason.",
]


def _defined(result: CorrelationsResult, segment: str = POOLED) -> list[Pair]:
    return [p for p in result.pairs if p.segment == segment and p.r is not None and p.interval[0] is not None]


def _pretty(name: str) -> str:
    return name.replace("_Duration", " pages").replace("ProductRelated", "product").replace("_", " ").lower()


def label(name: str) -> str:
    """A column as a reader says it: "time on product pages" for ProductRelated_Duration."""
    return f"time on {_pretty(name)}" if name.endswith("_Duration") else _pretty(name)


def little_bootstraps(result: CorrelationsResult) -> str:
    """"Bag of Little Bootstraps (20 subsets of 15,848 rows)", with the pooled subsets' rows."""
    little = result.little_bootstraps
    rows = little.subset_rows.get(POOLED)
    size = f"{rows:,} rows" if rows else f"n^{little.exponent} rows"
    return f"Bag of Little Bootstraps ({little.subsets} subsets of {size})"


def section(result: CorrelationsResult) -> Section:
    pairs = result.pairs
    first = pairs[0]
    little = result.little_bootstraps
    if little is None:
        out = Section("Correlations", terms=["bootstrap interval", "BCa"])
        method = "BCa" if first.method == "bca" else "percentile"
        out.blocks.append(
            f"{first.statistic.capitalize()} correlation between time spent on page types, with "
            f"{first.interval_prob:.0%} {method} paired-bootstrap intervals ({result.resamples:,} resamples of "
            "sessions with replacement).")
    else:
        out = Section("Correlations", terms=["bootstrap interval", "Bag of Little Bootstraps"])
        out.blocks.append(
            f"{first.statistic.capitalize()} correlation between time spent on page types, with "
            f"{first.interval_prob:.0%} percentile intervals from the {little_bootstraps(result)}: too many sessions "
            f"({first.n:,}) to resample one by one, so each subset of n^{little.exponent} sessions is resampled "
            f"{little.resamples_per_subset:,} times with weights standing for all n sessions, and the intervals' "
            "offsets from each subset's r are averaged around the r of all sessions (no BCa this way)."
            + (_segment_subsets(little) if result.by else ""))
    if first.statistic == "pearson":
        out.blocks.append("Caveat: " + (LITTLE_CAVEAT if little else CAVEAT))
    spread = _segment_spread(result)
    if spread:
        out.blocks.append(spread)
    out.blocks.append(Table(
        ["x", "y", "segment", "r", "interval", "sessions", "note"],
        [[label(p.x), label(p.y), p.segment, "n/a" if p.r is None else f"{p.r:.3f}",
          "n/a" if p.interval[0] is None else f"{p.interval[0]:.3f} to {p.interval[1]:.3f}", f"{p.n:,}", p.note]
         for p in pairs], name="correlations"))
    out.blocks += [Figure("correlations"), Figure("correlation_matrix")]
    out.blocks.append(Decision(_decision(result)))
    columns = list(dict.fromkeys(name for p in pairs for name in (p.x, p.y)))
    out.methods = list(METHODS) + ([LITTLE_METHOD] if little else []) + [
        "Columns (correlations.columns): " + "; ".join(f"{label(name)} is {name}" for name in columns) + "."]
    if first.statistic == "pearson":
        out.limitations.append("Pearson bootstrap intervals on heavy-tailed durations are too narrow (they undercover "
                               "in the project's simulation studies); read them as a lower bound on the uncertainty.")
    if _spread(result):
        out.limitations.append("the pooled correlations mix segments whose correlations differ sharply.")
    return out


def _decision(result: CorrelationsResult) -> list[str]:
    """No choice rests on a correlation alone: say what it can be used for, with the intervals behind it."""
    pooled = _defined(result)
    if not pooled:
        return ["No pair has a defined correlation: nothing to act on."]
    low = min(pooled, key=lambda p: p.r)
    high = max(pooled, key=lambda p: p.r)
    above = sum(p.interval[0] > 0 for p in pooled)
    lines = [f"{above} of {len(pooled)} pairs have their whole {low.interval_prob:.0%} interval above 0 (r from "
             f"{low.r:.2f} to {high.r:.2f}): sessions that spend longer on one page type tend to spend longer on "
             "the others. That describes browsing, it does not say that lengthening one visit lengthens another: "
             "do not plan a change on it without a test."]
    spread = _spread(result)
    if spread:
        lines.append("The segments browse differently (see above): analyse or target them separately, not pooled.")
    return lines


def _segment_subsets(little) -> str:
    small = [segment for segment, rows in little.subset_rows.items() if segment != POOLED and rows is None]
    text = f" Each segment's subsets have n^{little.exponent} of its own sessions"
    if not small:
        return text + "."
    return (text + f"; {', '.join(small)} had too few sessions for {little.subsets} such subsets and got the full "
            "percentile bootstrap instead, or is undefined (see the notes).")


def _spread(result: CorrelationsResult) -> tuple[str, list[float]] | None:
    """A sentence (and the values it quotes) when one pair's correlation differs sharply between
    segments: their intervals do not overlap."""
    segments = sorted({p.segment for p in result.pairs} - {POOLED})
    for pooled in _defined(result):
        per = [p for s in segments for p in _defined(result, s) if (p.x, p.y) == (pooled.x, pooled.y)]
        if len(per) >= 2:
            low, high = min(per, key=lambda p: p.r), max(per, key=lambda p: p.r)
            if low.interval[1] < high.interval[0]:
                return (f"The segments differ sharply for {_pretty(pooled.x)} and {_pretty(pooled.y)}: r = {low.r:.2f} "
                        f"for {low.segment} against {high.r:.2f} for {high.segment} (intervals do not overlap); the "
                        "pooled value mixes them.", [low.r, high.r])
    return None


def _segment_spread(result: CorrelationsResult) -> str | None:
    spread = _spread(result)
    return spread[0] if spread else None


def headline(result: CorrelationsResult) -> list[Sentence]:
    pooled = _defined(result)
    if not pooled:
        return []
    top = max(pooled, key=lambda p: abs(p.r))
    rivals = [p for p in pooled if p is not top and p.interval[1] >= top.interval[0]]
    lo, hi = top.interval
    caveat = ("; caveat: the project's simulation studies show Pearson bootstrap intervals too narrow on "
              "heavy-tailed durations like these (see Correlations)") if top.statistic == "pearson" else ""
    if rivals:
        # Overlapping intervals: no pair is called the strongest.
        low = min(pooled, key=lambda p: p.r)
        text = (f"Time on one page type goes with time on another to a similar degree for every pair: r from "
                f"{low.r:.2f} to {top.r:.2f}, {top.interval_prob:.0%} bootstrap intervals overlapping, so no pair is "
                f"clearly the strongest{caveat}.")
        values = [low.r, top.r, top.interval_prob]
    else:
        text = (f"Time on {_pretty(top.x)} and on {_pretty(top.y)} go together most: r = {top.r:.2f} "
                f"({top.interval_prob:.0%} bootstrap interval {lo:.2f} to {hi:.2f}){caveat}.")
        values = [top.r, top.interval_prob, lo, hi]
    spread = _spread(result)
    if spread:
        return [Sentence(text + " " + spread[0], values + list(spread[1]))]
    return [Sentence(text, values)]


def console(result: CorrelationsResult) -> list[str]:
    pairs = result.pairs
    if result.little_bootstraps is None:
        lines = [f"Correlations ({pairs[0].method} bootstrap, {pairs[0].interval_prob:.0%} interval)"]
    else:
        lines = [f"Correlations ({little_bootstraps(result)}, {pairs[0].interval_prob:.0%} percentile interval)"]
    for pair in pairs:
        where = "" if pair.segment == POOLED else f" [{one_line(pair.segment)}]"
        if pair.r is None:
            lines.append(f"  {pair.x} ~ {pair.y}{where}: undefined ({one_line(pair.note)})")
        elif pair.interval[0] is None:
            lines.append(f"  {pair.x} ~ {pair.y}{where}: r = {pair.r:.3f}, no interval ({one_line(pair.note)})")
        else:
            lines.append(f"  {pair.x} ~ {pair.y}{where}: r = {pair.r:.3f} ({pair.interval[0]:.3f} to {pair.interval[1]:.3f})")
    return lines

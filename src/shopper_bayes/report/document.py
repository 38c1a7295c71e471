"""A format-neutral document: what an analysis's report section is made of.

Analyses build :class:`Section` objects from their typed results; the HTML, Markdown and console
renderers turn them into text. Every string here is plain text: renderers escape it for their
format, so a segment name from the data can never inject markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Sentence:
    """A sentence of the executive summary, with the ``summary.json`` values it quotes (checked by tests)."""

    text: str
    values: list[float] = field(default_factory=list)


@dataclass
class Table:
    """A table; ``name`` (unique in the report) saves it as ``reports/tables/<name>.csv``."""

    header: list[str]
    rows: list[list[str]]
    name: str | None = None
    caption: str | None = None


@dataclass
class Figure:
    """A figure of the run, by the name of its :class:`~shopper_bayes.analyses.base.FigureSpec`."""

    name: str


@dataclass
class Decision:
    """A "What to do" box: the choice a product manager faces and the probability behind it."""

    lines: list[str]


@dataclass
class Warning:
    """A loud box: a fit that did not converge, an assumption a number hangs on."""

    text: str


Block = str | Table | Figure | Decision | Warning


@dataclass
class Section:
    """One report section: blocks in reading order, then the methods text that describes the model.

    ``methods`` is written next to the model it describes (in the analysis folder) and rendered in
    the report's Methods part; ``terms`` lists glossary terms the section uses; ``limitations`` what
    its models leave out, gathered in the report's Limitations part.
    """

    title: str
    blocks: list[Block] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)
    anchor: str | None = None


# ---------------------------------------------------------------- numbers for reading


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def pct_range(interval) -> str:
    lo, hi = interval
    if lo is None or hi is None:
        return "n/a"
    return f"{lo * 100:.1f}–{hi * 100:.1f}%"


def prob_text(value: float, draws: int | None = None) -> str:
    """A Monte Carlo probability in a sentence: never a bare certainty the draws cannot give."""
    floor = 1 / draws if draws else 0.001
    floor = max(floor, 0.001)
    if value >= 1 - floor:
        return f"more than {pct(1 - floor)}"
    if value <= floor:
        return f"less than {pct(floor)}"
    return pct(value)


def prob_cell(value: float) -> str:
    """A Monte Carlo probability in a table: 3 decimals, never a bare 1.000 or 0.000."""
    return "> 0.999" if value > 0.999 else "< 0.001" if value < 0.001 else f"{value:.3f}"


def pct_prob(value: float) -> str:
    """A probability as a percentage in a table, never a bare 100.0% or 0.0%."""
    return "> 99.9%" if value >= 0.9995 else "< 0.1%" if value < 0.0005 else pct(value)


def pp(value: float, sign: bool = True) -> str:
    """A difference of rates in percentage points."""
    return f"{value * 100:+.1f} pp" if sign else f"{value * 100:.2f} pp"


def pp_range(interval) -> str:
    lo, hi = interval
    return f"{lo * 100:+.1f} to {hi * 100:+.1f} pp"


def num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def num_range(interval, digits: int = 2) -> str:
    lo, hi = interval
    if lo is None or hi is None:
        return "n/a"
    return f"{lo:,.{digits}f} to {hi:,.{digits}f}"

"""Figures for the table that :func:`~shopper_bayes.analyses.correlations.compute.bootstrap_correlations` returns.

Plotting takes only that table (its ``attrs["interval_prob"]`` included) and never computes.
Figures are drawn with matplotlib's Agg canvas without pyplot, so no figure stays open.
"""

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from shopper_bayes.analyses.correlations.compute import POOLED, TABLE_COLUMNS
from shopper_bayes.errors import UserError

# Okabe-Ito colours (colour-blind safe), pooled in black; markers differ too.
SEGMENT_COLOURS = ["#000000", "#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"]
SEGMENT_MARKERS = ["o", "s", "D", "^", "v", "P", "X"]
DPI = 150


def _label(name: str) -> str:
    """A column as a reader says it (the section's label), so that no tick label is a raw column name."""
    from shopper_bayes.analyses.correlations.section import label

    return label(name)


def interval_label(table):
    """Axis label naming the statistic, interval probability and method of ``table``."""
    statistic, percent, method = _describe(table)
    return f"{statistic} correlation coefficient r ({percent} bootstrap interval, {method})"


def plot_correlation_forest(table, path=None):
    """Forest plot: one row per pair, pooled and segment intervals offset within the row."""
    x_label = interval_label(table)
    pairs = list(dict.fromkeys(zip(table["x"], table["y"])))
    segments = list(dict.fromkeys(table["segment"]))
    if len(segments) > len(SEGMENT_COLOURS):
        raise UserError(
            "table",
            f"has {len(segments)} segments",
            f"plot at most {len(SEGMENT_COLOURS)} segments at a time",
        )

    # Constrained layout keeps the tick labels and the legend inside the saved image (the runner saves
    # without bbox_inches="tight").
    fig = Figure(figsize=(8, 1.6 + len(pairs) * (0.3 + 0.22 * len(segments))), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.axvline(0, color="0.55", linewidth=1, linestyle="--", zorder=0)
    spread = 0.6 * (1 - 1 / len(segments))
    offsets = np.linspace(-spread / 2, spread / 2, len(segments))
    row_of_pair = {pair: row for row, pair in enumerate(pairs)}
    handles = []
    for k, segment in enumerate(segments):
        rows = table[table["segment"] == segment]
        y = np.array([row_of_pair[pair] for pair in zip(rows["x"], rows["y"])]) + offsets[k]
        r, low, high = (rows[name].to_numpy(dtype=float) for name in ("r", "low", "high"))
        colour, marker = SEGMENT_COLOURS[k], SEGMENT_MARKERS[k]
        # Lines and caps rather than errorbar: an interval need not contain r.
        ax.hlines(y, low, high, color=colour, linewidth=1.4)
        ax.plot(np.r_[low, high], np.r_[y, y], "|", color=colour, markersize=7)
        ax.plot(r, y, marker, color=colour, markersize=5, linestyle="none")
        label = f"{segment} (n = {rows['n'].max():,})"
        handles.append(
            Line2D([], [], color=colour, marker=marker, markersize=5, linewidth=1.4, label=label)
        )
        for row_y in y[np.isnan(r)]:
            ax.text(0, row_y, "undefined", color=colour, fontsize=8, ha="center", va="center")

    ends = table[["r", "low", "high"]].to_numpy(dtype=float)
    left = min(np.nanmin(ends, initial=0.0), 0.0)
    right = max(np.nanmax(ends, initial=0.0), 0.0)
    pad = 0.08 * max(right - left, 0.2)
    ax.set_xlim(max(left - pad, -1.05), min(right + pad, 1.05))
    ax.set_yticks(range(len(pairs)), [f"{_label(x)}\nvs {_label(y)}" for x, y in pairs])
    ax.set_ylim(len(pairs) - 0.5, -0.5)
    ax.set_xlabel(x_label)
    by_segment = ", pooled and by segment" if len(segments) > 1 else ""
    # A figure title, centred on the figure: over the axes alone it ran off the right edge.
    fig.suptitle(f"Correlations between pairs of columns{by_segment}", fontweight="bold")
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    # Outside the axes, so that it never covers an interval.
    fig.legend(handles=handles, title="segment", loc="outside lower center", ncols=min(len(handles), 3),
               frameon=False)
    return _save(fig, path)


def plot_correlation_matrix(table, path=None):
    """Heatmap of the pooled r, with each cell's interval as text; colours fixed to [-1, 1]."""
    statistic, percent, method = _describe(table)
    pooled = table[table["segment"] == POOLED]
    if pooled.empty:
        raise UserError("table", f"has no pooled rows (segment {POOLED!r})", "pass the full table")
    names = list(dict.fromkeys([name for pair in zip(pooled["x"], pooled["y"]) for name in pair]))
    position = {name: k for k, name in enumerate(names)}
    # The diagonal is NaN so that it shows in neutral grey rather than saturating the colours.
    r = np.full((len(names), len(names)), np.nan)
    text = np.full((len(names), len(names)), "1", dtype=object)
    for row in pooled.itertuples():
        i, j = position[row.x], position[row.y]
        r[i, j] = r[j, i] = row.r
        text[i, j] = text[j, i] = _cell_text(row.r, row.low, row.high)

    size = len(names)
    fig = Figure(figsize=(3.2 + 1.7 * size, 2.4 + 1.4 * size), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(r), cmap=colours, vmin=-1, vmax=1)
    for i in range(size):
        for j in range(size):
            dark = np.isfinite(r[i, j]) and abs(r[i, j]) > 0.6
            colour = "white" if dark else "black"
            ax.text(j, i, text[i, j], ha="center", va="center", fontsize=8, color=colour)
    labels = [_label(name).replace("time on ", "time on\n") for name in names]
    ax.set_xticks(range(size), labels, rotation=30, ha="right")
    ax.set_yticks(range(size), labels)
    colourbar = fig.colorbar(image, ax=ax, shrink=0.8)
    colourbar.set_label(f"{statistic} r")
    ax.set_title(
        f"Pooled {statistic} correlations (n = {pooled['n'].max():,})\n"
        f"in brackets: {percent} bootstrap interval ({method})",
        fontsize=10,
    )
    return _save(fig, path)


def _cell_text(r, low, high):
    if np.isnan(r):
        return "undefined"
    if np.isnan(low):
        return f"{r:.2f}\n[no interval]"
    return f"{r:.2f}\n[{low:.2f}, {high:.2f}]"


def _describe(table):
    """(statistic, interval percentage, method) as display text, after checking ``table``."""
    _check_table(table)
    statistic = table["statistic"].iloc[0].capitalize()
    method = "BCa" if table["method"].iloc[0] == "bca" else "percentile"
    return statistic, f"{100 * table.attrs['interval_prob']:g}%", method


def _check_table(table):
    missing = [name for name in TABLE_COLUMNS if name not in getattr(table, "columns", [])]
    if missing:
        raise UserError(
            "table",
            f"lacks columns {', '.join(missing)}",
            "pass the table from bootstrap_correlations",
        )
    if table.empty:
        raise UserError("table", "has no rows", "pass the table from bootstrap_correlations")
    if "interval_prob" not in table.attrs:
        raise UserError(
            "table",
            "does not record its interval probability (attrs['interval_prob'])",
            "pass the table from bootstrap_correlations",
        )
    for name in ("method", "statistic"):
        if table[name].nunique() > 1:
            raise UserError(
                "table", f"mixes several values of {name}", f"plot one {name} at a time"
            )


def _save(fig, path):
    """The figure itself when ``path`` is None; else it is written there and the path returned."""
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return path

"""One figure style for every plot, applied through a context: importing this module changes neither
matplotlib's backend nor its global rcParams (inline plots in Jupyter keep working).

Figures are made with :func:`new_figure` (a ``matplotlib.figure.Figure`` not registered with
pyplot), so drawing never needs a GUI backend and never leaks open figures.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib
from matplotlib.figure import Figure

# Okabe & Ito (2008), safe for the common forms of colour blindness.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
PREDICTIVE, PLUGIN, TARGET = PALETTE[0], PALETTE[1], PALETTE[3]
WIDTH = 7.5  # inches; at SAVE_DPI a figure is about 1,000 px wide, readable in a 960-px report column
SAVE_DPI = 130

RC = {
    "figure.dpi": 110,
    "savefig.dpi": SAVE_DPI,
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
}


@contextmanager
def style():
    """The project's plot style for the figures made inside the block."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(width: float = WIDTH, height: float = 4.0, **kwargs) -> Figure:
    """A Figure in the project's style (call inside :func:`style`), constrained layout by default."""
    kwargs.setdefault("layout", "constrained")
    return Figure(figsize=(width, height), **kwargs)

"""Sufficient statistics of the sessions: sessions and purchases per segment cell, as a labelled xarray Dataset.

One dimension per segment column, its levels as coordinates (months in calendar order, other
levels sorted as text). Every combination of
levels is a cell, so a cell with no sessions is present with ``sessions == 0`` rather than missing.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import xarray as xr

from shopper_bayes.datasets.cleaning import MONTHS
from shopper_bayes.engine.base import quote


def segment_counts(data, segments: list[str]) -> xr.Dataset:
    """Count ``sessions`` and ``purchases`` (sum of the 0/1 ``purchase`` column) per cell, in the engine.

    ``data``: loaded sessions (their rows stay in the engine) or a pandas frame of such rows.
    """
    segments = list(segments)
    columns = ", ".join(quote(name) for name in segments)
    query = f"SELECT {columns}, count(*) AS sessions, sum(purchase) AS purchases FROM {{rows}} GROUP BY {columns}"
    table = getattr(data, "table", None)
    if table is not None:
        grouped = table.sql(query, keep=True)
    else:
        frame = data.frame if hasattr(data, "frame") else data
        con = duckdb.connect()
        try:
            con.register("frame_rows", frame[[*segments, "purchase"]])
            grouped = con.sql(query.replace("{rows}", "frame_rows")).df()
        finally:
            con.close()
    for name in segments:
        grouped[name] = grouped[name].astype(str)
    levels = [sorted(grouped[name].unique().tolist(), key=_level_order) for name in segments]
    if len(segments) == 1:
        full = pd.Index(levels[0], name=segments[0])
    else:
        full = pd.MultiIndex.from_product(levels, names=segments)
    table = grouped.set_index(segments)[["sessions", "purchases"]].reindex(full, fill_value=0)
    data = {
        name: (segments, table[name].to_numpy(dtype=np.int64).reshape([len(lv) for lv in levels]))
        for name in ("sessions", "purchases")
    }
    coords = {name: np.asarray(lv, dtype=object) for name, lv in zip(segments, levels)}
    return xr.Dataset(data, coords=coords)


def _level_order(level) -> tuple:
    """Months in calendar order, anything else as text."""
    text = str(level)
    return (0, MONTHS.index(text), "") if text in MONTHS else (1, 0, text)


def cells(counts: xr.Dataset) -> list[dict[str, str]]:
    """Every cell as a mapping segment column -> level, in array order."""
    dims = list(counts["sessions"].dims)
    grid = np.meshgrid(*(counts[dim].values for dim in dims), indexing="ij")
    return [dict(zip(dims, values)) for values in zip(*(axis.ravel() for axis in grid))]


def cell_label(cell: dict[str, str]) -> dict[str, str]:
    """A cell as it appears in results: always the mapping segment column -> level (one shape everywhere)."""
    return {str(column): str(level) for column, level in cell.items()}


def segment_name(segment: str | dict[str, str]) -> str:
    """A short human label for a cell: ``New_Customer`` or ``New_Customer / Nov``."""
    return " / ".join(map(str, segment.values())) if isinstance(segment, dict) else str(segment)


def find_cell(counts: xr.Dataset, wanted, where: str) -> dict[str, str]:
    """The cell a user names: a level (one segment column), ``{column: level}`` or ``"level / level"``."""
    from shopper_bayes.errors import UserError

    dims = list(counts["sessions"].dims)
    example = "{" + ", ".join(f"{dim}: ..." for dim in dims) + "}"
    if isinstance(wanted, str):
        parts = [part.strip() for part in wanted.split(" / ")] if len(dims) > 1 else [wanted]
        if len(parts) != len(dims):
            raise UserError(where, f"{wanted!r} names {len(parts)} of the {len(dims)} segment columns ({', '.join(dims)})",
                            f"give one level per column, e.g. {example}")
        wanted = dict(zip(dims, parts))
    if sorted(map(str, wanted)) != sorted(dims):
        raise UserError(where, f"names columns {', '.join(map(str, wanted))} but rates are split by {', '.join(dims)}",
                        "name one level for each column in rates.segments")
    cell = {}
    for dim in dims:
        levels = [str(level) for level in counts[dim].values]
        if str(wanted[dim]) not in levels:
            raise UserError(where, f"{wanted[dim]!r} is not a level of {dim} in the data (levels: {', '.join(levels)})",
                            "use one of those levels")
        cell[dim] = str(wanted[dim])
    return cell

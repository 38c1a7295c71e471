"""The dataset layer: one loader per kind of input, each with column mapping and counted cleaning.

A dataset is declared as ``DATASET = Dataset(...)`` in its module under ``datasets/`` and listed in
``datasets/registry.py``. Its config section (``sessions:``, ``transactions:``, ``ads:``,
``orders:`` in ``config.yaml``) is its own pydantic schema; a dataset whose section is absent
(``None``) is not configured, and the analyses that read it are skipped with a line saying so.

``load(settings, needs)`` reads the file and returns a :class:`Loaded`: a frame of canonical
columns and the :class:`CleaningReport` of every row dropped or changed, by reason. ``needs`` names
the optional columns the calling analysis requires; rows missing one of them are dropped for that
analysis only (each analysis on its own rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

from shopper_bayes.datasets.cleaning import CleaningReport


class DatasetSettings(BaseModel):
    """Base of every dataset's config schema: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class Loaded:
    """A cleaned table and what cleaning did. ``scope``: what the report must say the numbers cover
    (for example ``{"date_range": ["1997-01-01", "1998-06-30"], "filter": "month in Nov, Dec"}``).

    ``table``: the cleaned rows kept in the engine (:class:`shopper_bayes.engine.clean.Table`), for
    aggregates computed there; ``frame``: the rows as pandas, read from the table on first use by an
    analysis that needs rows (or given directly by a loader that cleans in pandas).
    """

    def __init__(self, frame: pd.DataFrame | None = None, cleaning: CleaningReport | None = None,
                 scope: dict[str, Any] | None = None, table: Any = None):
        if frame is None and table is None:
            raise ValueError("Loaded needs a frame or a table")
        self._frame, self.cleaning, self.scope, self.table = frame, cleaning, dict(scope or {}), table

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = self.table.frame()
        return self._frame


@dataclass(frozen=True)
class Dataset:
    """``name`` is the config key; ``settings`` its schema; ``default`` the section used when the
    config does not name it (``None``: not configured unless the config names it); ``engine``:
    whether ``load`` reads through the run's engine (DuckDB or Spark) and keeps the rows there."""

    name: str
    title: str
    settings: type[DatasetSettings]
    load: Callable[[DatasetSettings, tuple[str, ...]], Loaded]
    default: DatasetSettings | None = None
    engine: bool = False  # load() takes ``engine=``: the rows are read and cleaned there

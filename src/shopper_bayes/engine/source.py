"""What a dataset's ``path`` names: a file, a folder, a glob, hive-partitioned Parquet, or a Spark table.

- a file: CSV (any of , ; tab |) or Parquet;
- a folder: every Parquet file under it (hive partitions such as ``month=Nov/`` become columns), or,
  when it has none, every CSV file under it;
- a glob such as ``data/sessions-*.parquet`` (``**`` descends into folders);
- ``table:<name>``: a table of the Spark catalog (``engine: spark`` only).

Every file of one source must have the same format. A folder or glob that matches nothing is a
:class:`UserError` naming the option.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from shopper_bayes.errors import UserError

PARQUET = (".parquet", ".pq")
CSV = (".csv", ".txt", ".tsv")
TABLE_PREFIX = "table:"


def shown_path(path) -> str:
    """Paths inside the current directory are shown relative to it, so summaries compare across clones."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Source:
    """``shown``: the source for messages and the report (:func:`shown_path`). ``header``: whether a
    CSV's first line names the columns (without one they are ``column1``, ``column2``, ...)."""

    shown: str
    files: tuple[Path, ...] = ()
    format: str = "csv"
    hive: bool = False
    table: str | None = None
    header: bool = True


def _format(path: Path) -> str:
    return "parquet" if path.suffix.lower() in PARQUET else "csv"


def is_table(path) -> bool:
    return str(path).startswith(TABLE_PREFIX)


def resolve(path: str | Path, dataset: str, engine: str = "duckdb") -> Source:
    """The files (or table) behind ``<dataset>.path``."""
    text = str(path)
    if is_table(text):
        if engine != "spark":
            raise UserError(f"{dataset}.path", f"{text!r} names a Spark table but the engine is {engine}",
                            "set engine: spark, or point the path at files")
        return Source(shown=text, table=text.removeprefix(TABLE_PREFIX), format="table")
    path = Path(path)
    if any(char in text for char in "*?["):
        files = sorted(Path(match) for match in glob.glob(text, recursive=True) if Path(match).is_file())
        if not files:
            raise UserError(f"{dataset}.path", f"no file matches {text!r}", "check the pattern and the folder")
        return _uniform(shown_path(text), files, dataset, hive=False)
    if path.is_dir():
        parquet = sorted(file for file in path.rglob("*") if file.suffix.lower() in PARQUET and file.is_file())
        files = parquet or sorted(file for file in path.rglob("*") if file.suffix.lower() in CSV and file.is_file())
        if not files:
            raise UserError(path, "the folder has no .parquet or .csv files",
                            f"point {dataset}.path at a data file, or at a folder of Parquet or CSV files")
        hive = any("=" in part for file in files for part in file.relative_to(path).parts[:-1])
        return _uniform(shown_path(text), files, dataset, hive=hive)
    if not path.is_file():
        raise UserError(path, "file not found",
                        f"check {dataset}.path in the config (relative paths start at the config file's folder)")
    return Source(shown=shown_path(path), files=(path,), format=_format(path))


def _uniform(shown: str, files: list[Path], dataset: str, hive: bool) -> Source:
    kinds = {("parquet" if file.suffix.lower() in PARQUET else "csv") for file in files}
    if len(kinds) > 1:
        raise UserError(f"{dataset}.path", f"{shown!r} matches both Parquet and CSV files",
                        "point it at files of one format")
    return Source(shown=shown, files=tuple(files), format=kinds.pop(), hive=hive)

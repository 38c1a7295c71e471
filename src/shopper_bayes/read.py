"""Read a table from CSV (delimiter sniffed) or Parquet with DuckDB, every column as text.

Reading as text keeps parsing in our hands: each value that cannot be understood is counted by the
cleaning step instead of turning a whole column into another type behind the user's back.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from shopper_bayes.errors import UserError

PARQUET_SUFFIXES = {".parquet", ".pq"}


def _first_bytes(path: Path, size: int = 8192) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _relation(con: duckdb.DuckDBPyConnection, path: Path) -> duckdb.DuckDBPyRelation:
    head = _first_bytes(path)
    if not head.strip():
        raise UserError(path, "the file is empty", "export the data again with a header row and data rows")
    is_parquet = path.suffix.lower() in PARQUET_SUFFIXES
    if head.startswith(b"PAR1") and not is_parquet:
        raise UserError(path, "is a Parquet file but its name does not end in .parquet", "rename it to .parquet")
    if is_parquet:
        if not head.startswith(b"PAR1"):
            raise UserError(path, "is not a Parquet file although its name ends in .parquet", "point sessions.path at the real file or rename it")
        return con.read_parquet(str(path))
    if b"\x00" in head:
        raise UserError(path, "is binary, not CSV text", "export the data as CSV (UTF-8) or Parquet")
    return con.read_csv(str(path), header=True, all_varchar=True, null_padding=True)


def read_table(path: str | Path, columns: list[str]) -> pd.DataFrame:
    """Read ``columns`` of the table at ``path`` as text (missing values as NA).

    Raises :class:`UserError` when the file is missing, cannot be parsed, or lacks a column.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(path, "file not found", "check sessions.path in the config (relative paths start at the config file's folder)")
    con = duckdb.connect()
    try:
        relation = _relation(con, path)
        missing = [name for name in columns if name not in relation.columns]
        if missing:
            available = ", ".join(relation.columns[:20])
            raise UserError(
                path,
                f"no column {missing[0]!r} (the file has: {available})",
                "fix sessions.columns or the column list in the config",
            )
        selected = relation.select(*(duckdb.ColumnExpression(name).cast(duckdb.sqltype("VARCHAR")) for name in columns))
        frame = selected.df()
    except duckdb.Error as exc:
        raise UserError(path, f"cannot be read ({_short(exc)})", "check that it is UTF-8 CSV with a header row, or Parquet") from None
    finally:
        con.close()
    frame.columns = columns
    return frame.astype("string")


def _short(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " ".join(lines[:2])
    if "utf-8" in text.lower() or "unicode" in text.lower():
        return "not UTF-8 text"
    return text[:160]

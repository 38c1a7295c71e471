"""Register a source (CSV with its delimiter sniffed, or Parquet) in the engine, after checking its files.

CSV columns are read as text, which keeps parsing in our hands: each value that cannot be understood
is counted by the cleaning step instead of turning a whole column into another type behind the
user's back. Typed Parquet columns are taken as they are.

A file is refused (:class:`UserError`) when it cannot be read as a whole: missing, empty, a folder,
binary, compressed, an Excel workbook, UTF-16 or other non-UTF-8 text, Parquet under another name or
another format under a Parquet name, a header that lacks a column we use or repeats it. A CSV row
whose number of fields differs from the header's is not read (its values could sit in the wrong
columns) and is counted in :attr:`Scanned.rejected` instead.
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


from shopper_bayes.errors import MissingColumn, UserError

PARQUET_SUFFIXES = {".parquet", ".pq"}
DELIMITERS = (",", ";", "\t", "|")
FEWER_FIELDS = "fewer fields than the header"
MORE_FIELDS = "more fields than the header"
_REJECT_REASONS = {"MISSING COLUMNS": FEWER_FIELDS, "TOO MANY COLUMNS": MORE_FIELDS}
_SIGNATURES = [
    (b"PK\x03\x04", "is a zip archive or an Excel workbook, not CSV", "export the sheet as CSV (UTF-8) or Parquet"),
    (b"\x1f\x8b", "is gzip-compressed", "decompress it first"),
    (b"\xff\xfe", "is UTF-16 text", "save it as UTF-8 (in Excel: CSV UTF-8)"),
    (b"\xfe\xff", "is UTF-16 text", "save it as UTF-8 (in Excel: CSV UTF-8)"),
]
_UTF8_BOM = codecs.BOM_UTF8


def _first_bytes(path: Path, size: int = 8192) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _check_text(path: Path) -> None:
    """Refuse a file that is not UTF-8 text throughout, naming the first bad line."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            if b"\x00" in block:
                line += block[: block.index(b"\x00")].count(b"\n")
                raise UserError(path, f"is binary, not CSV text (a NUL byte on line {line})",
                                "export the data as CSV (UTF-8) or Parquet")
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line += block[: exc.start].count(b"\n")
                raise UserError(path, f"is not UTF-8 text (line {line})",
                                "save it as UTF-8 (in Excel: CSV UTF-8)") from None
            line += block.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise UserError(path, f"is not UTF-8 text (line {line})", "save it as UTF-8 (in Excel: CSV UTF-8)") from None


def _repeated_column(path: Path, n_columns: int, wanted: list[str]) -> str | None:
    """A wanted column the header names twice (DuckDB would silently rename the second)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = handle.readline().rstrip("\r\n")
    for delimiter in DELIMITERS:
        names = next(csv.reader([header], delimiter=delimiter), [])
        if len(names) == n_columns:
            counts = Counter(name.strip() for name in names)
            return next((name for name in wanted if counts[name] > 1), None)
    return None


def _missing_column(path: Path, name: str, available: list[str], dataset: str = "sessions") -> UserError:
    if len(available) == 1:
        return UserError(path, f"no column {name!r}: the header was read as one column {available[0]!r}",
                         "separate the columns with a comma, semicolon, tab or |")
    return MissingColumn(path, f"no column {name!r} (the file has: {', '.join(available[:20])})",
                         f"fix {dataset}.columns or the column list in the config")


def check_file(path: Path, dataset: str) -> None:
    """Refuse one file of a source that cannot be read as a whole (see the module docstring)."""
    head = _first_bytes(path)
    if not head.removeprefix(_UTF8_BOM).strip():
        raise UserError(path, "the file is empty", "export the data again with a header row and data rows")
    is_parquet = path.suffix.lower() in PARQUET_SUFFIXES
    if head.startswith(b"PAR1") and not is_parquet:
        raise UserError(path, "is a Parquet file but its name does not end in .parquet", "rename it to .parquet")
    if is_parquet:
        if not head.startswith(b"PAR1"):
            raise UserError(path, "is not a Parquet file although its name ends in .parquet",
                            f"point {dataset}.path at the real file or rename it")
        with open(path, "rb") as handle:  # a Parquet file ends as it starts; a copy or a write cut short does not
            handle.seek(max(path.stat().st_size - 4, 0))
            if handle.read(4) != b"PAR1":
                raise UserError(path, "is a Parquet file cut short (it lacks the end every Parquet file has)",
                                f"copy or write the file again; {dataset}.path points at it")
        return
    for signature, what, todo in _SIGNATURES:
        if head.startswith(signature):
            raise UserError(path, what, todo)
    _check_text(path)


@dataclass
class Scanned:
    """A source registered in the engine: the raw view (text columns and ``_row``), the optional
    columns found, and ``rejected()``: CSV rows not read, by reason, known once the view was scanned."""

    view: str
    optional: list[str]
    rejected: object
    kinds: dict[str, str] = field(default_factory=dict)  # column -> text, number, boolean or other (text if absent)


def scan_table(engine, source, columns: list[str], optional: list[str] = (), dataset: str = "sessions") -> Scanned:
    """Register ``columns`` (and those of ``optional`` the source has) of ``source`` in ``engine``.

    Refused as the module docstring says (every file checked); rows stay in the engine.
    """
    for path in source.files:
        check_file(path, dataset)
    try:
        available = engine.columns(source)
    except Exception as exc:  # the engine's own error type: DuckDB, or Spark's AnalysisException
        raise UserError(source.shown, f"cannot be read ({_short(exc)})",
                        "check that it is UTF-8 CSV with a header row, or Parquet") from None
    missing = [name for name in columns if name not in available]
    where = source.files[0] if len(source.files) == 1 else source.shown
    if missing:
        raise _missing_column(where, missing[0], available, dataset)
    names = list(columns) + [name for name in optional if name in available and name not in columns]
    if source.format == "csv":
        repeated = next((found for path in source.files if (found := _repeated_column(path, len(available), names))), None)
        if repeated:
            raise UserError(where, f"the header names column {repeated!r} more than once", "keep one column of that name")
    found = [name for name in optional if name in names]
    shared = engine.shared.get(source)
    if shared is not None and set(names) <= set(shared.names):  # cleaned once for the run (engine.clean.prepare)
        return Scanned(shared.raw, found, shared.rejected, {name: shared.kinds[name] for name in names})
    view = engine.view_name(f"raw_{dataset}")
    kinds = engine.scan(source, names, view)
    csv_rejects = source.format == "csv" and hasattr(engine, "rejected")

    def rejected() -> dict[str, int]:
        if not csv_rejects:
            return {}
        return {_REJECT_REASONS.get(kind, f"unreadable row ({kind.lower()})"): int(count) for kind, count in engine.rejected(source)}

    if engine.planning is not None:
        engine.planning.scanned(source, view, kinds, rejected)
    return Scanned(view, found, rejected, kinds)


def _short(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2])[:160]

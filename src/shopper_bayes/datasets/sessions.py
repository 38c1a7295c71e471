"""Load the sessions table: map the user's column names to canonical ones, validate and clean.

The result has one row per kept session with column ``purchase`` (0/1), one text column per
segment or filter column (canonical name, or the raw name for columns outside the mapping),
``month`` normalised to ``Jan``..``Dec`` when used, and the numeric columns asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from shopper_bayes.datasets.cleaning import Cleaner, CleaningReport, normalise_month
from shopper_bayes.config import Config
from shopper_bayes.errors import UserError
from shopper_bayes.datasets.read import read_table


@dataclass
class Sessions:
    frame: pd.DataFrame
    cleaning: CleaningReport


def file_column(config: Config, name: str) -> str:
    """The column in the file behind a canonical name (``segment``) or a raw one (``Weekend``)."""
    mapped = config.sessions.columns.model_dump()
    if name in mapped:
        if mapped[name] is None:
            raise UserError(f"sessions.columns.{name}", "is not mapped to a column", "name the column in the file")
        return mapped[name]
    return name


def label_columns(config: Config) -> list[str]:
    """Segment, filter and correlation-by columns, by the names used in the config, in a fixed order."""
    names = list(config.rates.segments)
    names += [name for name in config.sessions.filter if name not in names]
    by = config.correlations.by
    if by is not None and by not in names:
        names.append(by)
    return names


def _session_id(config: Config) -> tuple[str | None, bool]:
    """The session id column and whether the file must have it.

    The default name is used only when the file has such a column; a name set in the config must
    be there; ``null`` turns the duplicate check off.
    """
    columns = config.sessions.columns
    return columns.session_id, columns.session_id is not None and "session_id" in columns.model_fields_set


def load_sessions(config: Config, numeric: list[str] = ()) -> Sessions:
    """Read, clean and filter the sessions file named in the config."""
    labels = label_columns(config)
    wanted = {"purchase": file_column(config, "purchase")}
    wanted |= {name: file_column(config, name) for name in labels}
    for name in labels:
        if wanted[name] == wanted["purchase"]:
            key = "rates.segments" if name in config.rates.segments else "sessions.filter"
            raise UserError(key, f"{name!r} is the purchase column, the outcome being modelled",
                            "split and filter sessions by other columns")
    wanted |= {name: name for name in numeric if name not in wanted}
    raw_columns = list(dict.fromkeys(wanted.values()))
    session_id, id_required = _session_id(config)
    if id_required:
        raw_columns = list(dict.fromkeys([*raw_columns, session_id]))
    path = config.sessions.path
    raw = read_table(path, raw_columns, optional=[session_id] if session_id and not id_required else [])
    if raw.frame.empty and not raw.rejected:
        raise UserError(path, "has a header but no data rows", "export the data again with its rows")

    clean = Cleaner(raw.frame, str(path), raw.rejected)
    out = pd.DataFrame(index=raw.frame.index)
    out["purchase"] = clean.flag(wanted["purchase"])
    for name in labels:
        column = wanted[name]
        out[name] = clean.month(column) if name == "month" else clean.label(column)
    for name in numeric:
        if name not in out:
            out[name] = clean.non_negative_number(wanted[name])
    if session_id in raw.frame.columns:
        clean.unique(session_id)
    for name, values in config.sessions.filter.items():
        kept = _filter_values(name, values)
        clean.drop(~out[name].isin(kept).fillna(False).to_numpy(), f"outside sessions.filter ({name} in {', '.join(kept)})")
    report = clean.report()
    if report.rows_used == 0:
        reasons = "; ".join(f"{reason}: {count}" for reason, count in report.dropped.items())
        raise UserError(path, f"no rows left after cleaning and filtering ({reasons})",
                        "fix those rows, or check sessions.filter and sessions.columns")
    return Sessions(out[clean.keep].reset_index(drop=True), report)


def _filter_values(name: str, values: list[str]) -> list[str]:
    if name != "month":
        return [str(value).strip() for value in values]
    months = []
    for value in values:
        month = normalise_month(str(value))
        if month is None:
            raise UserError("sessions.filter.month", f"{value!r} is not a month name", "use Jan..Dec or full month names")
        months.append(month)
    return months

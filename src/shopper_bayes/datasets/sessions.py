"""Sessions: one row per shopping session. Map the user's column names to canonical ones, validate, clean.

The loaded frame has one row per kept session with column ``purchase`` (0/1), one text column per
label column an analysis asks for and per filter column (canonical name, or the raw name for
columns outside the mapping), ``month`` normalised to ``Jan``..``Dec`` when used, and the numeric
columns asked for. Rows are dropped only for what the asking analysis needs: a blank duration drops
a session from the correlations, not from the purchase rates.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shopper_bayes.datasets.base import Dataset, DatasetSettings, Loaded
from shopper_bayes.datasets.cleaning import normalise_month
from shopper_bayes.datasets.read import scan_table
from shopper_bayes.engine.base import DuckDBEngine, Engine, literal
from shopper_bayes.engine.clean import SqlCleaner
from shopper_bayes.engine.source import resolve
from shopper_bayes.errors import UserError


class SessionColumns(DatasetSettings):
    """Canonical column name -> column name in the file.

    ``session_id`` is a column of unique session ids: of rows with the same id the first is kept.
    The default name is used only when the file has that column; ``null`` turns the check off.
    """

    purchase: str = "Purchase"
    segment: str = "CustomerType"
    month: str | None = "Month"
    session_id: str | None = "SessionID"


class SessionsConfig(DatasetSettings):
    path: Path = Path("data/online_shopping_session_data.csv")  # a file, a folder, a glob, or table:<name> (Spark)
    columns: SessionColumns = SessionColumns()
    filter: dict[str, list[str]] = Field(default_factory=lambda: {"month": ["Nov", "Dec"]})


def file_column(settings: SessionsConfig, name: str) -> str:
    """The column in the file behind a canonical name (``segment``) or a raw one (``Weekend``)."""
    mapped = settings.columns.model_dump()
    if name in mapped:
        if mapped[name] is None:
            raise UserError(f"sessions.columns.{name}", "is not mapped to a column", "name the column in the file")
        return mapped[name]
    return name


def _session_id(settings: SessionsConfig) -> tuple[str | None, bool]:
    """The session id column and whether the file must have it.

    The default name is used only when the file has such a column; a name set in the config must
    be there; ``null`` turns the duplicate check off.
    """
    columns = settings.columns
    return columns.session_id, columns.session_id is not None and "session_id" in columns.model_fields_set


def load_sessions(settings: SessionsConfig, labels: tuple[str, ...] = (), numeric: tuple[str, ...] = (),
                  filtered: bool = True, engine: Engine | None = None) -> Loaded:
    """Read, clean and filter the sessions in ``engine`` (DuckDB when not given): ``labels`` are text
    columns the caller splits by, ``numeric`` non-negative numbers it needs (a row with a blank or
    negative one is dropped); ``filtered=False`` ignores ``sessions.filter`` (an analysis that
    models every month). The rows stay in the engine (``Loaded.table``)."""
    if not filtered:
        settings = settings.model_copy(update={"filter": {}})
    labels = list(dict.fromkeys([*labels, *(name for name in settings.filter)]))
    wanted = {"purchase": file_column(settings, "purchase")}
    wanted |= {name: file_column(settings, name) for name in labels}
    for name in labels:
        if wanted[name] == wanted["purchase"]:
            key = "sessions.filter" if name in settings.filter else "the segment columns"
            raise UserError(key, f"{name!r} is the purchase column, the outcome being modelled",
                            "split and filter sessions by other columns")
    wanted |= {name: file_column(settings, name) for name in numeric if name not in wanted}
    raw_columns = list(dict.fromkeys(wanted.values()))
    session_id, id_required = _session_id(settings)
    if id_required:
        raw_columns = list(dict.fromkeys([*raw_columns, session_id]))
    engine = engine or DuckDBEngine()
    source = resolve(settings.path, "sessions", engine.name)
    raw = scan_table(engine, source, raw_columns,
                     optional=[session_id] if session_id and not id_required else [], dataset="sessions")

    clean = SqlCleaner(engine, raw.view, source.shown, raw.rejected, raw.kinds)
    out = {"purchase": clean.flag(wanted["purchase"])}
    for name in labels:
        column = wanted[name]
        out[name] = clean.month(column) if name == "month" else clean.label(column)
    for name in numeric:
        if name not in out:
            out[name] = clean.non_negative_number(wanted[name])
    if session_id in raw_columns or session_id in raw.optional:
        clean.unique(session_id)
    for name, values in settings.filter.items():
        kept = _filter_values(name, values)
        clean.drop(f"NOT ({out[name]} IN ({', '.join(literal(value) for value in kept)}))",
                   f"outside sessions.filter ({name} in {', '.join(kept)})")
    table, report = clean.finish(out, stem="sessions")
    if report.rows_read == 0:
        raise UserError(source.shown, "has a header but no data rows", "export the data again with its rows")
    if report.rows_used == 0:
        reasons = "; ".join(f"{reason}: {count}" for reason, count in report.dropped.items())
        raise UserError(source.shown, f"no rows left after cleaning and filtering ({reasons})",
                        "fix those rows, or check sessions.filter and sessions.columns")
    scope = {"filter": "; ".join(f"{name} in {', '.join(_filter_values(name, values))}"
                                 for name, values in settings.filter.items()) or None}
    return Loaded(cleaning=report, scope=scope, table=table)


def _load(settings: SessionsConfig, needs: tuple[str, ...] = (), numeric: tuple[str, ...] = (),
          filtered: bool = True, engine: Engine | None = None) -> Loaded:
    return load_sessions(settings, tuple(needs), tuple(numeric), filtered, engine)


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


DATASET = Dataset(name="sessions", title="Shopping sessions", settings=SessionsConfig, load=_load,
                  default=SessionsConfig(), engine=True)

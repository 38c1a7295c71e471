"""A run cleans a dataset once for all the requests of its analyses (issue 18), in one process or for
forked workers, and each request keeps the cleaning report and rows it has when cleaned on its own."""

from __future__ import annotations

import multiprocessing
from functools import partial

import numpy as np
import pandas as pd
import pytest

from shopper_bayes.config import Core
from shopper_bayes.datasets.sessions import DATASET, SessionsConfig
from shopper_bayes.engine.base import DuckDBEngine
from shopper_bayes.engine import clean
from shopper_bayes.engine.clean import SqlCleaner, prepare
from shopper_bayes.runner import Loader, inherited_kept

# (needs, options) as the sessions analyses ask: rates, its check, correlations, behaviour, drivers
REQUESTS = [(("segment",), {}), (("segment", "month"), {}),
            (("segment",), {"numeric": ("Duration", "PageValues")}),
            (("segment",), {"numeric": ("Pages", "Duration", "PageValues")}),
            (("Weekend", "month", "segment"), {"numeric": ("PageValues",), "filtered": False}),
            (("segment",), {"numeric": ("Missing",)})]  # no such column: refused, as when cleaned on its own


def _dirty(path, rows: int = 400, seed: int = 5):
    """Sessions with every kind of row the rules drop or count, and a line with too few fields."""
    rng = np.random.default_rng(seed)
    pick = lambda values: rng.choice(np.array(values, dtype=object), rows)  # noqa: E731
    frame = pd.DataFrame({
        "SessionID": rng.integers(1, rows // 2, rows).astype(str),
        "Purchase": pick(["0", "1", "TRUE", "no", "maybe", ""]),
        "CustomerType": pick(["New", " Returning ", "NA", "Other"]),
        "Month": pick(["Nov", "Dec", "december", "11", "Feb", "Smarch", ""]),
        "Weekend": pick(["True", "False", "", "null"]),
        "Pages": pick(["3", "0", "-1", "x", "", "12"]),
        "Duration": pick(["1.5", "0", "-2", "n/a", "7", " 3 "]),
        "PageValues": pick(["0", "10.25", "", "abc", "4"]),
    })
    lines = frame.to_csv(index=False).splitlines()
    lines.insert(7, "9999,1,New")  # fewer fields than the header: not read, counted
    path.write_text("\n".join(lines) + "\n")
    return SessionsConfig(path=path)


def _alone(settings):
    """Each request cleaned on its own engine, the way every load was cleaned before."""
    found = []
    for needs, options in REQUESTS:
        try:
            loaded = DATASET.load(settings, needs, engine=DuckDBEngine(), **options)
        except Exception as exc:  # noqa: BLE001  (the same refusal is expected from the shared cleaning)
            found.append(str(exc))
        else:
            found.append((loaded.cleaning.to_dict(), loaded.table.frame()))
    return found


def _served(engine, settings):
    found = []
    for needs, options in REQUESTS:
        try:
            loaded = DATASET.load(settings, needs, engine=engine, **options)
        except Exception as exc:  # noqa: BLE001
            found.append(str(exc))
        else:
            found.append((loaded.cleaning.to_dict(), loaded.table.frame()))
    return found


def _same(got, expected):
    assert len(got) == len(expected)
    for one, other in zip(got, expected):
        if isinstance(other, str):
            assert one == other
            continue
        assert one[0] == other[0]
        pd.testing.assert_frame_equal(one[1], other[1])


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    """The dirty sessions and each request's rows and report when cleaned on its own."""
    settings = _dirty(tmp_path_factory.mktemp("clean_once") / "sessions.csv")
    return settings, _alone(settings)


@pytest.mark.parametrize("key_hash", [SqlCleaner.KEY_HASH, "1"], ids=["hash", "every key collides"])
def test_one_cleaning_serves_every_request(dirty, key_hash, monkeypatch):
    """Each request's report and rows as when cleaned alone, duplicate ids included (a request drops other
    rows before the id check, so its duplicates differ), whatever the key hash finds."""
    settings, expected = dirty
    monkeypatch.setattr(SqlCleaner, "KEY_HASH", key_hash)
    assert expected[0][0]["dropped"] and expected[0][0]["changed"] and "fewer fields than the header" in expected[0][0]["dropped"]
    assert len({str(report[0]) for report in expected[:-1]}) == 4  # the requests do differ in their counts
    engine = DuckDBEngine()
    prepare(engine, [partial(DATASET.load, settings, needs, engine=engine, **options) for needs, options in REQUESTS])
    assert engine.cleanings == 1
    _same(_served(engine, settings), expected)
    assert engine.cleanings == 1  # six requests, one pass over the raw rows


def test_parquet_is_cleaned_as_a_view_and_counted_in_one_pass(dirty, tmp_path):
    """Parquet rows carry their place in the file, so the shared cleaning is a view (no copy of the rows) and every
    request's report comes from one count of the rule combinations: the same reports and rows as each alone."""
    settings, _ = dirty
    frame = pd.read_csv(settings.path, dtype=str, keep_default_na=False, on_bad_lines="skip")
    path = tmp_path / "sessions.parquet"
    frame.to_parquet(path, index=False)
    parquet = SessionsConfig(path=path)
    expected = _alone(parquet)
    engine = DuckDBEngine()
    prepare(engine, [partial(DATASET.load, parquet, needs, engine=engine, **options) for needs, options in REQUESTS])
    queries, made = [], []
    run, create_table = engine.sql, engine.create_table
    engine.sql = lambda query: queries.append(query) or run(query)
    engine.create_table = lambda name, query, **how: made.append(query) or create_table(name, query, **how)
    _same(_served(engine, parquet), expected)
    assert not [query for query in queries if "GROUP BY _drop" in query and "_candidates" not in query]
    assert not [query for query in made if "read_parquet" in query or "raw_shared" in query]  # no request copies rows


def _child(prepared, settings):
    loader = Loader(Core(), {"sessions": DATASET}, prepared)
    return _served(loader.engine, settings), loader.engine.cleanings


def test_forked_workers_read_the_table_the_parent_cleaned(dirty):
    settings, expected = dirty
    parent = Loader(Core(), {"sessions": DATASET})
    prepare(parent.engine, [partial(DATASET.load, settings, needs, engine=parent.engine, **options)
                            for needs, options in REQUESTS])
    prepared = parent.hand_over()
    try:
        # what the tests before left in reference cycles (their engines) is not collected in the children
        with inherited_kept(), multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.starmap(_child, [(prepared, settings)] * 2)
    finally:
        parent.close()
    for got, cleanings in results:
        assert cleanings == 0
        _same(got, expected)


# ---------------------------------------------------------------- transactions

def _dirty_transactions(folder, layout: str, ids: bool, rows: int = 300, seed: int = 3):
    """A purchase log with every kind of row the rules drop or count (no value holds a space, so the same
    rows can be written as whitespace-separated text, where no category is missing), as text, CSV or Parquet."""
    from shopper_bayes.datasets.transactions import TransactionsSettings

    rng = np.random.default_rng(seed)
    pick = lambda values: rng.choice(np.array(values, dtype=object), rows)  # noqa: E731
    frame = pd.DataFrame({
        "id": rng.integers(1, rows // 2, rows).astype(str),
        "cust": pick(["A", "B", "C", "D", "NA", "null"]),
        "day": pick(["20240101", "20240102", "20240215", "20240301", "2024013x", "20240105"]),
        "amount": pick(["10.00", "10.00", "-4.5", "0", "abc", "3", "n/a"]),
        "cat": pick(["Books", "Music", "", "Toys"]),
    })
    if layout == "text":  # no empty field in text split at whitespace
        frame["cat"] = frame["cat"].replace("", "Other")
        path = folder / "log.txt"
        path.write_text(" ".join(frame.columns) + "\n" + "\n".join(" ".join(row) for row in frame.to_numpy()) + "\n")
    elif layout == "csv":
        path = folder / "log.csv"
        frame.to_csv(path, index=False)
    else:
        path = folder / "log.parquet"
        frame.to_parquet(path, index=False)
    columns = {"customer": "cust", "date": "day", "amount": "amount", "category": "cat",
               "transaction_id": "id" if ids else None}
    return TransactionsSettings(path=path, columns=columns)


@pytest.mark.parametrize("by_value", [0, 4, clean.BY_VALUE_MAX], ids=["row by row", "some by value", "by value"])
@pytest.mark.parametrize("ids", [True, False], ids=["transaction ids", "exact duplicates"])
@pytest.mark.parametrize("layout", ["text", "csv", "parquet"])
def test_transactions_are_cleaned_once_for_every_request(tmp_path, monkeypatch, layout, ids, by_value):
    """The customer analyses' two requests (with a category, and without): one pass of the cleaning, one of the
    date sniffing (and one split of the text lines), each request's report, rows and scope as when loaded alone.
    ``by_value``: text columns with at most that many distinct values have their rules computed once per value."""
    monkeypatch.setattr(clean, "BY_VALUE_MAX", by_value)
    from shopper_bayes.datasets.transactions import DATASET as TRANSACTIONS

    settings = _dirty_transactions(tmp_path, layout, ids)
    requests = [("category",), ()]
    expected = []
    for needs in requests:
        loaded = TRANSACTIONS.load(settings, needs, engine=DuckDBEngine())
        expected.append((loaded.cleaning.to_dict(), loaded.table.frame(), loaded.scope))
    assert (expected[0][0] != expected[1][0]) == (layout != "text")  # the category request drops rows the other keeps
    assert any("duplicate" in reason for report, _, _ in expected for reason in [*report["dropped"], *report["changed"]])
    engine = DuckDBEngine()
    made = []
    create_table = engine.create_table
    engine.create_table = lambda name, query, **how: made.append(name.rsplit("_", 1)[0]) or create_table(name, query, **how)
    prepare(engine, [partial(TRANSACTIONS.load, settings, needs, engine=engine) for needs in requests])
    for needs, (report, rows, scope) in zip(requests, expected):
        loaded = TRANSACTIONS.load(settings, needs, engine=engine)
        assert loaded.cleaning.to_dict() == report and loaded.scope == scope
        pd.testing.assert_frame_equal(loaded.table.frame(), rows)
    assert engine.cleanings == 1
    assert made.count("dates_transactions") == 1 and made.count("fields_transactions") == (layout == "text")
    assert "transactions_stage" not in made


@pytest.mark.parametrize("first", ["repeated id", "unique id"])
def test_a_comma_is_refused_with_the_first_row_whether_or_not_its_id_repeats(tmp_path, first):
    """The count of the rules leaves the rows whose id hash repeats to each request: a comma inside a number is
    still counted over every row and shown by its first row, among those rows or the others."""
    rows = 10
    frame = pd.DataFrame({"SessionID": [str(i) for i in range(rows)], "Purchase": ["0", "1"] * (rows // 2),
                          "CustomerType": ["New"] * rows, "Month": ["Nov"] * rows, "Weekend": ["False"] * rows,
                          "Duration": ["1.5"] * rows})
    frame.loc[4, "SessionID"] = "3"  # rows 3 and 4 share an id: row 4 is a candidate repeat
    frame.loc[4, "Duration"], frame.loc[7, "Duration"] = ("1,5", "2,5") if first == "repeated id" else ("2,5", "1,5")
    if first == "unique id":
        frame.loc[[1, 7], "Duration"] = ["1,5", "1.5"]
    path = tmp_path / "sessions.parquet"
    frame.to_parquet(path, index=False)
    settings = SessionsConfig(path=path)
    request = (("segment",), {"numeric": ("Duration",)})
    engine = DuckDBEngine()
    prepare(engine, [partial(DATASET.load, settings, request[0], engine=engine, **request[1]),
                     partial(DATASET.load, settings, ("segment",), engine=engine)])
    assert engine.shared and next(iter(engine.shared.values())).candidates is not None
    with pytest.raises(Exception, match=r"'1,5' has a comma inside a number \(2 such values\)"):
        DATASET.load(settings, request[0], engine=engine, **request[1])


def test_the_sessions_per_cell_are_counted_once_per_request(dirty):
    """The purchase rates and the campaign (twice: its check, then its run) count the same cells of the same rows:
    the engine counts them once."""
    from shopper_bayes.engine.cells import segment_counts

    settings, _ = dirty
    engine = DuckDBEngine()
    loaded = DATASET.load(settings, ("segment",), engine=engine)
    queries = []
    run = engine.sql
    engine.sql = lambda query: queries.append(query) or run(query)
    first = segment_counts(loaded, ["segment"])
    second = segment_counts(loaded, ["segment"])
    assert len(queries) == 1 and first.identical(second)
    rows = loaded.table.frame()
    expected = rows.groupby("segment")["purchase"].agg(["size", "sum"])
    assert second["sessions"].values.tolist() == expected["size"].tolist()
    assert second["purchases"].values.tolist() == expected["sum"].tolist()

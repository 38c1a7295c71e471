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
from shopper_bayes.engine.clean import SqlCleaner, prepare
from shopper_bayes.runner import Loader

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
        with multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.starmap(_child, [(prepared, settings)] * 2)
    finally:
        parent.close()
    for got, cleanings in results:
        assert cleanings == 0
        _same(got, expected)

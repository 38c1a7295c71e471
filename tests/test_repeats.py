"""Repeated keys (duplicate session ids, exact duplicate purchase rows) against pandas, also when every
key's hash collides: the hash only picks candidates, the real key decides (engine/clean.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopper_bayes.datasets.sessions import SessionsConfig, load_sessions
from shopper_bayes.datasets.transactions import TransactionColumns, TransactionsSettings, load
from shopper_bayes.engine.clean import SqlCleaner

HASHES = {
    "hash": SqlCleaner.KEY_HASH,
    "all collide": "0 * length(CAST(({}) AS VARCHAR))",
    "half collide": "length(CAST(({}) AS VARCHAR)) % 2",
}


@pytest.fixture(params=list(HASHES))
def key_hash(request, monkeypatch):
    monkeypatch.setattr(SqlCleaner, "KEY_HASH", HASHES[request.param])
    return request.param


def sessions_frame(rows: int = 3000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "SessionID": rng.integers(0, rows // 3, rows),  # about three rows per id
        "Purchase": rng.choice(["0", "1", "maybe"], rows, p=[0.6, 0.3, 0.1]),  # "maybe": dropped before the id check
        "CustomerType": rng.choice(["New_Customer", "Returning_Customer"], rows),
        "Month": rng.choice(["Nov", "Dec", "Jan"], rows),  # Jan: dropped by the filter, after the id check
    })


def test_duplicate_session_ids_match_pandas(tmp_path, key_hash):
    frame = sessions_frame()
    path = tmp_path / "sessions.parquet"
    frame.to_parquet(path)
    loaded = load_sessions(SessionsConfig(path=path), ("segment",))

    valid = frame["Purchase"] != "maybe"
    later = frame[valid].duplicated("SessionID")  # the first of each id among the valid rows is kept
    in_filter = frame["Month"].isin(["Nov", "Dec"])
    kept = frame[valid & ~later.reindex(frame.index, fill_value=False) & in_filter]
    assert loaded.cleaning.dropped == {
        "Purchase not a 0/1, true/false or yes/no flag": int((~valid).sum()),
        "duplicate SessionID": int(later.sum()),
        "outside sessions.filter (month in Nov, Dec)": int((valid & ~later.reindex(frame.index, fill_value=False)
                                                            & ~in_filter).sum()),
    }
    assert loaded.cleaning.rows_used == len(kept)
    got = loaded.table.sql("SELECT segment, count(*) AS n, sum(purchase) AS k FROM {rows} GROUP BY 1 ORDER BY 1")
    want = kept.groupby("CustomerType")["Purchase"].agg(n="size", k=lambda p: int((p == "1").sum()))
    assert got["n"].tolist() == want["n"].tolist() and got["k"].tolist() == want["k"].tolist()


@pytest.mark.parametrize("drop", [False, True])
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_exact_duplicate_purchases_match_pandas(tmp_path, key_hash, drop, kind):
    """Parquet: the key hash reads the typed amount and date as they are, the key compares them as text."""
    rng = np.random.default_rng(7)
    rows = 2000
    amounts = {"csv": ["5", "7.5", "-5", "x"], "parquet": [5.0, 7.5, -5.0, np.nan]}[kind]  # returns, not numbers
    frame = pd.DataFrame({
        "customer": rng.choice([f"c{i}" for i in range(40)] + [" c1", "c2 "], rows),  # the same customers, padded
        "date": rng.choice(["2024-01-01", "2024-01-02", "2024-01-03"], rows),
        "amount": rng.choice(amounts, rows, p=[0.45, 0.45, 0.05, 0.05]),
        "category": rng.choice(["a", "b"], rows),
    })
    path = tmp_path / f"log.{kind}"
    if kind == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.assign(date=pd.to_datetime(frame["date"])).to_parquet(path)
    settings = TransactionsSettings(path=path, columns=TransactionColumns(customer="customer", date="date",
                                                                          amount="amount", category="category"),
                                    drop_duplicates=drop)
    loaded = load(settings)

    amount = pd.to_numeric(frame["amount"], errors="coerce")
    purchases = frame[amount >= 0].assign(customer=lambda f: f["customer"].str.strip())  # kept before the check
    repeats = int(purchases.duplicated().sum())
    assert repeats > 100
    if drop:
        assert loaded.cleaning.dropped["exact duplicate row (transactions.drop_duplicates is true)"] == repeats
        assert loaded.cleaning.rows_used == len(purchases) - repeats
    else:
        assert loaded.cleaning.changed["exact duplicate row, kept (transactions.drop_duplicates: true drops them)"] == repeats
        assert loaded.cleaning.rows_used == len(purchases)

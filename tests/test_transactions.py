"""Transactions dataset and the customer analyses: counts against independent pandas computations on
the bundled CDNOW log and on generated data, planted parameters recovered, every cleaning rule, bad
input and undefined cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from shopper_bayes.analyses import (
    customers_categories,
    customers_churn,
    customers_frequency_segments,
    customers_monthly,
    customers_pareto,
)
from shopper_bayes.datasets.base import Loaded
from shopper_bayes.datasets.transactions import DATASET, TransactionsSettings, customer_summary
from shopper_bayes.errors import UserError
from shopper_bayes.generate.transactions import TransactionsGenerator, write

from conftest import run_and_render

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT / "data" / "cdnow_transactions.txt"
SAMPLE = ROOT / "data" / "cdnow_sample.txt"
ANALYSES = [customers_frequency_segments, customers_categories, customers_monthly, customers_churn, customers_pareto]


def run(module, dataset: TransactionsSettings, **settings):
    return run_and_render(module.ANALYSIS, "transactions", dataset, lambda *needs: DATASET.load(dataset, needs), 3,
                          **settings)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cdnow():
    settings = TransactionsSettings(path=CDNOW, columns={"quantity": "number_of_cds"})
    return settings, DATASET.load(settings, ())


@pytest.fixture(scope="module")
def raw_cdnow():
    frame = pd.read_csv(CDNOW, sep=r"\s+", dtype={"customer_id": str, "date": str})
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated") / "transactions.csv"
    rows, truth = write(20_000, 11, out)
    return out, rows, json.loads(truth.read_text())


# ---------------------------------------------------------------- bundled data


def test_bundled_file_is_unchanged_and_loads_every_row(cdnow, raw_cdnow):
    content = CDNOW.read_bytes()  # bundled as published: padded header, CRLF line ends
    assert content.startswith(b" customer_id  date") and content.count(b"\r\n") == 69_660
    _, loaded = cdnow
    assert len(loaded.frame) == len(raw_cdnow) == 69_659
    assert loaded.frame["customer"].nunique() == raw_cdnow["customer_id"].nunique() == 23_570
    assert loaded.frame["customer"].iloc[0] == "00001"  # leading zeros kept
    assert loaded.frame["amount"].sum() == pytest.approx(raw_cdnow["dollar_value"].sum())
    assert loaded.frame["quantity"].sum() == raw_cdnow["number_of_cds"].sum()
    assert loaded.cleaning.dropped == {}
    assert loaded.cleaning.changed == {
        "exact duplicate row, kept (transactions.drop_duplicates: true drops them)": int(raw_cdnow.duplicated().sum()),
        "zero dollar_value, kept as a purchase": int((raw_cdnow["dollar_value"] == 0).sum())}
    assert int(raw_cdnow.duplicated().sum()) == 255
    assert loaded.scope["date_range"] == ["1997-01-01", "1998-06-30"]
    assert loaded.scope["date_format"] == "%Y%m%d (sniffed)"


def test_customer_summary_matches_pandas_and_pymc_marketing(cdnow, raw_cdnow):
    from pymc_marketing.clv.utils import rfm_summary

    _, loaded = cdnow
    days = raw_cdnow.groupby(["customer_id", "date"], as_index=False)["dollar_value"].sum()
    expected = days.groupby("customer_id").agg(first=("date", "min"), last=("date", "max"), purchase_days=("date", "size"),
                                               revenue=("dollar_value", "sum"))
    for unit, scale in (("day", 1), ("week", 7), ("month", 365.25 / 12)):
        summary = customer_summary(loaded, "1998-06-30", unit).set_index("customer")
        assert list(summary.index) == sorted(expected.index)
        assert (summary["purchase_days"] == expected["purchase_days"]).all()
        assert (summary["first_purchase"] == expected["first"]).all() and (summary["last_purchase"] == expected["last"]).all()
        np.testing.assert_allclose(summary["revenue"], expected["revenue"], rtol=1e-12)
        reference = rfm_summary(raw_cdnow, "customer_id", "date", "dollar_value", observation_period_end="1998-06-30",
                                time_unit="D", time_scaler=scale).set_index("customer_id").loc[summary.index]
        for column in ("frequency", "recency", "T", "monetary_value"):
            np.testing.assert_allclose(summary[column], reference[column], rtol=1e-12, atol=1e-9, err_msg=f"{unit} {column}")


def test_customer_summary_with_a_calibration_period(cdnow, raw_cdnow):
    _, loaded = cdnow
    summary = customer_summary(loaded, "1998-06-30", "week", calibration_end="1997-09-30").set_index("customer")
    days = raw_cdnow.drop_duplicates(["customer_id", "date"])
    calibration = days[days["date"] <= "1997-09-30"]
    holdout = days[days["date"] > "1997-09-30"].groupby("customer_id").size()
    assert len(summary) == calibration["customer_id"].nunique() == 23_570
    assert (summary["frequency"] == calibration.groupby("customer_id").size() - 1).all()
    assert (summary["T"] == (pd.Timestamp("1997-09-30") - calibration.groupby("customer_id")["date"].min()).dt.days / 7).all()
    assert (summary["frequency_holdout"] == holdout.reindex(summary.index, fill_value=0)).all()
    assert (summary["duration_holdout"] == 39).all()
    # A DuckDB relation (e.g. over a Parquet folder) gives the same summary as the loaded frame.
    with duckdb.connect() as con:
        relation = con.from_df(loaded.frame)
        same = customer_summary(relation, "1998-06-30", "week", calibration_end="1997-09-30").set_index("customer")
    pd.testing.assert_frame_equal(same, summary)


def test_headerless_sample_through_columns_by_position():
    settings = TransactionsSettings(path=SAMPLE, header=False, columns={
        "customer": "column1", "date": "column3", "quantity": "column4", "amount": "column5"})
    loaded = DATASET.load(settings, ())
    raw = pd.read_csv(SAMPLE, sep=r"\s+", header=None, dtype=str)
    assert len(loaded.frame) == len(raw) == 6_919
    assert loaded.frame["customer"].nunique() == 2_357
    assert loaded.frame["amount"].sum() == pytest.approx(raw[4].astype(float).sum())
    summary = customer_summary(loaded, "1998-06-30", "week", calibration_end="1997-09-30")
    assert len(summary) == 2_357
    # Fader, Hardie & Lee (2005): 2,357 customers, calibration to 1997-09-30 (week 39) in weeks.
    assert summary["T"].max() == pytest.approx(39, abs=0.2)


def test_analyses_on_bundled_data_against_pandas(cdnow, raw_cdnow):
    settings, loaded = cdnow
    purchase_days = raw_cdnow.drop_duplicates(["customer_id", "date"]).groupby("customer_id").size()
    revenue = raw_cdnow.groupby("customer_id")["dollar_value"].sum()
    segments = run(customers_frequency_segments, settings)
    groups = pd.cut(purchase_days, [0, 1, 4, np.inf], labels=["one-time", "occasional", "frequent"])
    for entry in segments.segments:
        members = groups == entry.segment
        assert entry.customers == members.sum()
        assert entry.revenue == pytest.approx(revenue[members].sum())
        assert entry.interval[0] < entry.share < entry.interval[1]
    assert [entry.customers for entry in segments.segments] == [12_054, 7_681, 3_835]

    monthly = run(customers_monthly, settings)
    month = raw_cdnow["date"].dt.strftime("%Y-%m")
    first_month = raw_cdnow.groupby("customer_id")["date"].transform("min").dt.strftime("%Y-%m")
    assert [entry.orders for entry in monthly.months] == month.value_counts().sort_index().tolist()
    assert [entry.active_customers for entry in monthly.months] == raw_cdnow.groupby(month)["customer_id"].nunique().tolist()
    new = raw_cdnow[month == first_month].groupby(month)["customer_id"].nunique().reindex(sorted(month.unique()), fill_value=0)
    assert [entry.new_customers for entry in monthly.months] == new.tolist()
    assert not any(entry.partial for entry in monthly.months)
    assert [entry.month for entry in monthly.month_of_year][:3] == ["Jan", "Feb", "Mar"]
    assert monthly.month_of_year[0].years == 2 and monthly.month_of_year[-1].years == 1

    churn = run(customers_churn, settings)
    last = raw_cdnow.groupby("customer_id")["date"].max()
    assert churn.churned == ((pd.Timestamp("1998-06-30") - last).dt.days > 90).sum()
    assert churn.eligible == 23_570 and churn.too_recent == 0
    assert churn.churn_rate.interval[0] < churn.observed_churn_rate < churn.churn_rate.interval[1]
    january = raw_cdnow[first_month == "1997-01"]
    share_after_3 = january[january["date"].dt.strftime("%Y-%m") == "1997-04"]["customer_id"].nunique() / january["customer_id"].nunique()
    assert churn.cohorts[0].cohort == "1997-01" and churn.cohorts[0].shares[3] == pytest.approx(share_after_3)
    assert churn.cohorts[-1].shares[-1] is None  # the March cohort has no month 17 before the end

    pareto = run(customers_pareto, settings)
    ranked = np.sort(revenue.to_numpy())[::-1]
    k = math.ceil(0.2 * len(ranked))
    assert pareto.revenue_share == pytest.approx(ranked[:k].sum() / ranked.sum())
    assert pareto.ratio == pytest.approx(ranked[:k].mean() / ranked[k:].mean())
    ascending = np.sort(ranked)  # Gini = 1 - 2 x (area under the Lorenz curve, trapezoids)
    gini = 1 - 2 * np.sum((np.cumsum(ascending) - ascending / 2) / ascending.sum()) / len(ascending)
    assert pareto.gini == pytest.approx(gini)
    assert pareto.interval[0] < pareto.revenue_share < pareto.interval[1]
    assert pareto.gini_interval[0] < pareto.gini < pareto.gini_interval[1]

    categories = run(customers_categories, settings)
    assert not categories.available and "no category column" in categories.note
    assert "no category column" in customers_categories.ANALYSIS.console(categories)[0]


def test_gini_and_shares_on_a_small_hand_computed_case(tmp_path):
    # Revenues 10, 20, 30, 40 per customer: Gini = mean |xi - xj| / (2 mean) = 12.5 / 50 = 0.25.
    path = write_csv(tmp_path / "t.csv", "customer,date,amount\n" + "".join(
        f"c{i},2024-01-0{i},{10 * i}\n" for i in range(1, 5)))
    settings = TransactionsSettings(path=path, columns={"customer": "customer", "date": "date", "amount": "amount"})
    pareto = run(customers_pareto, settings, top_fraction=0.25)
    assert pareto.gini == pytest.approx(0.25)
    assert pareto.top_customers == 1 and pareto.revenue_share == pytest.approx(0.4)
    assert pareto.ratio == pytest.approx(40 / 20)


def pareto_from_revenue(revenue: np.ndarray, resamples: int = 1000, top_fraction: float = 0.2, seed: int = 0):
    """The revenue concentration of per-customer ``revenue``, its queries run by DuckDB over a frame."""
    from shopper_bayes.analyses.customers_pareto.compute import Revenue, compute, queries
    from shopper_bayes.analyses.customers_pareto.config import ParetoSettings

    settings = ParetoSettings(resamples=resamples, top_fraction=top_fraction)
    with duckdb.connect() as con:
        con.register("c", pd.DataFrame({"revenue": revenue}))
        frames = [con.sql(query.replace("{customers}", "c")).df() for query in queries(settings)]
    return compute(Revenue(*frames), settings, np.random.default_rng(seed), {})


@pytest.mark.parametrize("n", [2, 3, 7, 99, 100, 101, 1_000, 4_321])
def test_revenue_concentration_equals_numpy_on_sorted_revenue(n):
    """Share, ratio, Gini and the Lorenz curve from the engine's ranked segments against numpy over the sorted
    revenues (ties, zero revenues, sizes below and around the curve's 100 steps)."""
    rng = np.random.default_rng(n)
    revenue = np.round(rng.lognormal(3, 1.2, n), 2)
    revenue[rng.random(n) < 0.1] = 0.0
    revenue[: n // 3] = revenue[n // 3: 2 * (n // 3)]  # ties
    found = pareto_from_revenue(revenue, resamples=100)
    ranked = np.sort(revenue)[::-1]
    k = math.ceil(0.2 * n)
    assert found.top_customers == k and found.customers == n
    assert found.revenue_share == pytest.approx(ranked[:k].sum() / ranked.sum(), rel=1e-12)
    if ranked[k:].sum() > 0:
        assert found.ratio == pytest.approx(ranked[:k].mean() / ranked[k:].mean(), rel=1e-12)
    else:
        assert found.ratio is None
    gini = np.abs(revenue[:, None] - revenue[None, :]).mean() / (2 * revenue.mean())  # mean absolute difference
    assert found.gini == pytest.approx(gini, rel=1e-9)
    cumulative = np.concatenate([[0.0], np.cumsum(ranked[::-1])]) / ranked.sum()
    at = np.linspace(0, 1, 101)
    np.testing.assert_allclose([y for _, y in found.lorenz], np.interp(at * n, np.arange(n + 1), cumulative),
                               rtol=1e-9, atol=1e-12)


def test_grouped_bootstrap_agrees_with_the_bootstrap_over_customers():
    """The bootstrap over revenue groups against the plain one (every customer resampled, sorted, recomputed) on
    20,000 heavy-tailed revenues: interval ends within a tenth of the interval's width (Monte Carlo error of
    2,000 resamples: about 0.02 widths), bootstrap standard deviations within 8%."""
    rng = np.random.default_rng(7)
    revenue = np.round(rng.lognormal(3, 1.5, 20_000), 2)
    n, k = len(revenue), math.ceil(0.2 * len(revenue))
    found = pareto_from_revenue(revenue, resamples=2_000, seed=1)
    plain = {"share": [], "ratio": [], "gini": []}
    for _ in range(2_000):
        sample = np.sort(rng.choice(revenue, n))[::-1]
        total, top = sample.sum(), sample[:k].sum()
        plain["share"].append(top / total)
        plain["ratio"].append((top / k) / ((total - top) / (n - k)))
        plain["gini"].append(np.dot(n - 1 - 2 * np.arange(n), sample) / (n * total))
    for name, interval in (("share", found.interval), ("ratio", found.ratio_interval), ("gini", found.gini_interval)):
        expected = np.quantile(plain[name], [0.025, 0.975])
        width = expected[1] - expected[0]
        assert abs(interval[0] - expected[0]) < 0.1 * width and abs(interval[1] - expected[1]) < 0.1 * width, name
    grouped = pareto_from_revenue(revenue, resamples=2_000, seed=2)
    assert grouped.revenue_groups < n / 2
    from shopper_bayes.analyses.customers_pareto.compute import group_resamples

    groups = pd.DataFrame({"y": revenue}).groupby("y").size()
    shares = np.concatenate([chunk[0] for chunk in group_resamples(
        groups.index.to_numpy()[::-1], groups.to_numpy()[::-1], k, 2_000, np.random.default_rng(3))])
    assert np.std(shares) == pytest.approx(np.std(plain["share"]), rel=0.08)


def test_a_grouped_resample_gives_the_statistics_of_its_customers_written_out():
    """Each grouped resample's share, ratio and Gini equal those of the sample it stands for (each group's mean
    repeated as many times as the multinomial drew it), computed plainly on that sample."""
    from shopper_bayes.analyses.customers_pareto.compute import group_resamples

    mean, size = np.array([90.0, 40.0, 25.5, 10.0, 3.0, 0.0]), np.array([2, 5, 1, 9, 4, 3])
    n, k = int(size.sum()), 5
    share, ratio, gini = next(group_resamples(mean, size, k, 50, np.random.default_rng(5)))
    counts = np.random.default_rng(5).multinomial(n, size / n, size=50)
    for r in range(50):
        sample = np.repeat(mean, counts[r])
        assert share[r] == pytest.approx(sample[:k].sum() / sample.sum(), rel=1e-12)
        assert ratio[r] == pytest.approx(sample[:k].mean() / sample[k:].mean(), rel=1e-12)
        assert gini[r] == pytest.approx(np.abs(sample[:, None] - sample[None, :]).mean() / (2 * sample.mean()), rel=1e-12)


# ---------------------------------------------------------------- other exports


SPACED = (
    "Customer ID,Purchase Date,Total Purchase Amount,Product Category\n"
    "0007,13/02/2023 14:05,12.50,Books\n"
    "0007,13/02/2023 18:40,7.50,Books\n"
    "0007,01/03/2023 09:00,20.00,Music\n"
    "0008,25/12/2023 10:15,5.00,Books\n"
    "0009,02/01/2024 08:00,30.00,Toys\n"
    "0009,03/01/2024 08:00,30.00,Toys\n"
    "0009,04/01/2024 08:00,30.00,Books\n"
    "0009,05/01/2024 08:00,30.00,Books\n"
    "0009,06/01/2024 08:00,30.00,Music\n"
)
SPACED_COLUMNS = {"customer": "Customer ID", "date": "Purchase Date", "amount": "Total Purchase Amount",
                  "category": "Product Category"}


def test_spaced_column_names_and_day_first_date_times(tmp_path):
    settings = TransactionsSettings(path=write_csv(tmp_path / "export.csv", SPACED), columns=SPACED_COLUMNS)
    loaded = DATASET.load(settings, ("category",))
    assert loaded.scope["date_format"] == "%d/%m/%Y %H:%M (sniffed)"
    assert loaded.frame["date"].iloc[0] == pd.Timestamp("2023-02-13")
    assert list(loaded.frame["customer"].unique()) == ["0007", "0008", "0009"]
    segments = run(customers_frequency_segments, settings)
    # 0007: 2 purchase days (two purchases on 13 Feb are one day); 0008: 1; 0009: 5.
    assert [entry.customers for entry in segments.segments] == [1, 1, 1]
    assert [entry.revenue for entry in segments.segments] == [5.0, 40.0, 150.0]
    categories = run(customers_categories, settings)
    assert [(entry.category, entry.purchases, entry.revenue) for entry in categories.categories] == [
        ("Books", 5, 85.0), ("Toys", 2, 60.0), ("Music", 2, 50.0)]  # ties by purchases: more revenue first
    assert sum(entry.p_most_purchased.value for entry in categories.categories) == pytest.approx(1)
    assert categories.categories[0].p_most_purchased.value > categories.categories[1].p_most_purchased.value


@pytest.mark.parametrize("values, fmt", [
    (["2024-01-05", "2024-02-10T10:00:00", "2024-03-01 12:30"], "ISO 8601 (sniffed)"),
    (["20240105", "20240210"], "%Y%m%d (sniffed)"),
    (["01/31/2024", "02/10/2024"], "%m/%d/%Y (sniffed)"),
    (["31.01.2024", "10.02.2024"], "%d.%m.%Y (sniffed)"),
])
def test_date_formats_are_sniffed(tmp_path, values, fmt):
    path = write_csv(tmp_path / "d.csv", "c,d,a\n" + "".join(f"x,{value},1\n" for value in values))
    loaded = DATASET.load(TransactionsSettings(path=path, columns={"customer": "c", "date": "d", "amount": "a"}), ())
    assert loaded.scope["date_format"] == fmt and len(loaded.frame) == len(values)


def test_ambiguous_or_unknown_dates_ask_for_date_format(tmp_path):
    columns = {"customer": "c", "date": "d", "amount": "a"}
    path = write_csv(tmp_path / "d.csv", "c,d,a\nx,01/02/2024,1\nx,03/04/2024,1\n")
    with pytest.raises(UserError, match="ambiguous.*date_format"):
        DATASET.load(TransactionsSettings(path=path, columns=columns), ())
    loaded = DATASET.load(TransactionsSettings(path=path, columns=columns, date_format="%m/%d/%Y"), ())
    assert list(loaded.frame["date"]) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-03-04")]
    path = write_csv(tmp_path / "e.csv", "c,d,a\nx,next tuesday,1\nx,soon,1\n")
    with pytest.raises(UserError, match="column d.*no known format.*date_format"):
        DATASET.load(TransactionsSettings(path=path, columns=columns), ())


# ---------------------------------------------------------------- cleaning rules


def test_every_cleaning_rule_is_counted(tmp_path):
    text = (
        "id cust day amount qty\n"
        "1 A 20240101 10.00 1\n"
        "2 A 20240101 10.00 1\n"      # exact duplicate of the row before except its id: kept
        "3 NA 20240102 5.00 1\n"      # missing customer
        "4 B 20240102 n/a 1\n"        # missing amount
        "5 B 20240102 abc 1\n"        # amount not a number
        "6 B 2024013x 5.00 1\n"       # unparseable date
        "7 B 20240103 -4.50 1\n"      # return
        "8 B 20240104 0 1\n"          # zero amount: kept, counted
        "9 B 20240301 6.00 1\n"       # after observation_end
        "2 C 20240105 3.00 1\n"       # repeated transaction id
        "10 C 20240106 3.00 2 extra\n"  # more fields than the header
    )
    path = write_csv(tmp_path / "log.txt", text)
    columns = {"customer": "cust", "date": "day", "amount": "amount", "quantity": "qty"}
    base = dict(path=path, columns=columns, observation_end="2024-02-01")
    loaded = DATASET.load(TransactionsSettings(**{**base, "columns": {**columns, "transaction_id": "id"}}), ())
    assert loaded.cleaning.dropped == {
        "more fields than the header": 1, "cust missing": 1, "amount missing": 1, "amount not a number": 1,
        "day not a date (%Y%m%d)": 1, "returns: negative amount (kept out of purchases)": 1,
        "after observation_end (2024-02-01)": 1, "duplicate id": 1}
    assert loaded.cleaning.changed == {"zero amount, kept as a purchase": 1}
    assert loaded.cleaning.rows_read == 11 and loaded.cleaning.rows_used == 3
    assert loaded.scope["returns"] == {"rows": 1, "amount": 4.5}

    # Without ids, the two equal rows of A are an exact duplicate: counted and kept, or dropped by the switch
    # (with ids they are two transactions); the repeated id is then an ordinary purchase.
    kept = DATASET.load(TransactionsSettings(**base), ())
    assert kept.cleaning.changed == {"exact duplicate row, kept (transactions.drop_duplicates: true drops them)": 1,
                                     "zero amount, kept as a purchase": 1}
    assert len(kept.frame) == 4
    dropped = DATASET.load(TransactionsSettings(**base, drop_duplicates=True), ())
    assert dropped.cleaning.dropped["exact duplicate row (transactions.drop_duplicates is true)"] == 1
    assert len(dropped.frame) == 3


def test_observation_end_is_the_last_purchase_day_of_the_rows_kept(tmp_path):
    """Without transactions.observation_end, the last day of a purchase that survives the rules before the date's:
    not a later row whose customer or amount is missing, nor a later return; dates padded or missing read as such."""
    text = (
        "cust,day,amount\n"
        "A,20240105,10.00\n"
        "NA,20240301,5.00\n"          # missing customer: its day is no purchase day
        "B,20240302,n/a\n"            # missing amount
        "B,20240210,-3.00\n"          # a return
        "C,  20240120 ,7.00\n"        # padded date
        "D,NA,4.00\n"                 # missing date
        "D,  ,4.00\n"                 # blank date
    )
    path = write_csv(tmp_path / "log.csv", text)
    loaded = DATASET.load(TransactionsSettings(path=path, columns={"customer": "cust", "date": "day", "amount": "amount"}),
                          ())
    assert loaded.scope["observation_end"] == "2024-01-20"
    assert loaded.scope["date_format"] == "%Y%m%d (sniffed)"
    assert loaded.cleaning.dropped == {"cust missing": 1, "amount missing": 1, "day missing": 2,
                                       "returns: negative amount (kept out of purchases)": 1}


def test_rows_missing_a_needed_column_are_dropped_for_that_analysis_only(tmp_path):
    path = write_csv(tmp_path / "c.csv", "c,d,a,k\nx,2024-01-01,1,Books\ny,2024-01-02,2,\n")
    settings = TransactionsSettings(path=path, columns={"customer": "c", "date": "d", "amount": "a", "category": "k"})
    assert len(DATASET.load(settings, ()).frame) == 2
    needing = DATASET.load(settings, ("category",))
    assert len(needing.frame) == 1 and needing.cleaning.dropped == {"k missing": 1}


def test_bad_input_names_the_file_or_column(tmp_path):
    with pytest.raises(UserError, match="transactions.path"):
        DATASET.load(TransactionsSettings(path=tmp_path / "missing.csv"), ())
    path = write_csv(tmp_path / "x.csv", "customer,when,amount\na,2024-01-01,1\n")
    with pytest.raises(UserError, match="no column 'date'"):
        DATASET.load(TransactionsSettings(path=path, columns={"customer": "customer", "amount": "amount"}), ())
    with pytest.raises(UserError, match="column5"):
        DATASET.load(TransactionsSettings(path=SAMPLE, header=False, columns={
            "customer": "column1", "date": "column3", "amount": "column6"}), ())
    path = write_csv(tmp_path / "y.csv", "c,d,a\nx,2024-01-01,\"1,5\"\n")
    with pytest.raises(UserError, match="column a.*comma"):
        DATASET.load(TransactionsSettings(path=path, columns={"customer": "c", "date": "d", "amount": "a"}), ())
    path = write_csv(tmp_path / "z.csv", "c,d,a\nx,2024-01-01,-1\n")
    with pytest.raises(UserError, match="no purchases left.*returns"):
        DATASET.load(TransactionsSettings(path=path, columns={"customer": "c", "date": "d", "amount": "a"}), ())


# ---------------------------------------------------------------- undefined cases


def test_one_customer_one_month_no_repeat_buyers_give_notes_not_errors(tmp_path):
    columns = {"customer": "c", "date": "d", "amount": "a"}
    one = TransactionsSettings(path=write_csv(tmp_path / "one.csv", "c,d,a\nx,2024-01-05,10\n"), columns=columns)
    segments = run(customers_frequency_segments, one)
    assert segments.customers == 1 and "one-time" in segments.note
    monthly = run(customers_monthly, one)
    assert monthly.month_of_year is None and "one month" in monthly.note
    churn = run(customers_churn, one)
    assert churn.churn_rate.mean is None and "undefined" in churn.note
    assert customers_churn.ANALYSIS.console(churn)[0].startswith("Churn: no customer")
    pareto = run(customers_pareto, one)
    assert pareto.ratio is None and pareto.interval == (None, None) and "one customer" in pareto.note

    no_repeat = TransactionsSettings(path=write_csv(tmp_path / "two.csv", "c,d,a\nx,2024-01-05,10\ny,2024-01-20,0\n"),
                                     columns=columns)
    segments = run(customers_frequency_segments, no_repeat)
    assert [entry.customers for entry in segments.segments] == [2, 0, 0] and "every customer" in segments.note
    pareto = run(customers_pareto, no_repeat, top_fraction=0.5)
    assert pareto.revenue_share == 1.0 and pareto.ratio is None and "no revenue" in pareto.note

    free = TransactionsSettings(path=write_csv(tmp_path / "free.csv", "c,d,a\nx,2024-01-05,0\n"), columns=columns)
    pareto = run(customers_pareto, free)
    assert pareto.revenue_share is None and pareto.gini is None
    assert customers_pareto.ANALYSIS.console(pareto)[0].startswith("Revenue concentration: no revenue")


# ---------------------------------------------------------------- generated data


def test_generated_counts_match_pandas(generated):
    out, rows, truth = generated
    frame = pd.read_csv(out, dtype={"customer_id": str})
    assert len(frame) == rows == truth["rows"] and frame["customer_id"].nunique() == 20_000
    settings = TransactionsSettings(path=out, columns={"customer": "customer_id", "amount": "amount", "category": "category"},
                                    observation_end=truth["parameters"]["observation_end"])
    loaded = DATASET.load(settings, ())
    summary = customer_summary(loaded, settings.observation_end, "day").set_index("customer")
    by_customer = frame.groupby("customer_id")
    assert (summary["purchase_days"] == by_customer["date"].nunique()).all()
    np.testing.assert_allclose(summary["revenue"], by_customer["amount"].sum(), rtol=1e-9)
    categories = run(customers_categories, settings, top=10)
    counts = frame["category"].value_counts()
    assert {entry.category: entry.purchases for entry in categories.categories} == counts.to_dict()
    monthly = run(customers_monthly, settings)
    assert [entry.orders for entry in monthly.months] == frame.groupby(frame["date"].str[:7]).size().tolist()
    assert monthly.months[-1].partial  # the log ends on 23 June


def test_generated_planted_shares_and_churn_are_recovered(generated):
    out, _, truth = generated
    settings = TransactionsSettings(path=out, columns={"customer": "customer_id", "amount": "amount", "category": "category"},
                                    observation_end=truth["parameters"]["observation_end"])
    expected = truth["expected"]
    # 11 checks at 99.9% each: a correct analysis fails one for about 1% of seeds (Bonferroni).
    exact = {"interval_prob": 0.999, "draws": 40_000}
    categories = run(customers_categories, settings, **exact)
    for entry in categories.categories:
        assert entry.interval[0] < truth["parameters"]["category_shares"][entry.category] < entry.interval[1], entry
    segments = run(customers_frequency_segments, settings, **exact)
    for entry in segments.segments:
        planted = expected["frequency_shares"][entry.segment]
        assert entry.interval[0] - 3 * planted["mc_se"] < planted["value"] < entry.interval[1] + 3 * planted["mc_se"], entry
    for days in (30, 90, 180):
        churn = run(customers_churn, settings, inactive_days=days, **exact)
        planted = expected["churn_rate"][str(days)]
        low, high = churn.churn_rate.interval
        assert low - 3 * planted["mc_se"] < planted["value"] < high + 3 * planted["mc_se"], (days, churn.churn_rate)


def test_generator_is_reproducible_and_checks_its_arguments(tmp_path):
    generator = TransactionsGenerator()
    first, second = generator.chunk(5, 0, 300), generator.chunk(5, 0, 300)
    assert first.equals(second) and not first.equals(generator.chunk(6, 0, 300))
    assert first.column("customer_id")[0].as_py() == "C0000001"
    with pytest.raises(UserError, match="--out"):
        write(10, 1, tmp_path / "x.txt")
    with pytest.raises(UserError, match="--customers"):
        write(0, 1, tmp_path / "x.csv")


# ---------------------------------------------------------------- engines


def same_in_both_engines(settings: TransactionsSettings, spark, needs=(), loaded=None) -> Loaded:
    """Load ``settings`` in DuckDB and in Spark (or take ``loaded``, the two already loaded): the same
    cleaning report, scope and per-customer summary."""
    duck, other = loaded or (DATASET.load(settings, needs), DATASET.load(settings, needs, engine=spark))
    assert other.table.engine is spark and duck.table.engine.name == "duckdb"
    assert other.cleaning.to_dict() == duck.cleaning.to_dict()
    assert other.scope == duck.scope
    for calibration_end in (None, settings.calibration_end):
        expected = customer_summary(duck, duck.scope["observation_end"], "week", calibration_end)
        found = customer_summary(other, other.scope["observation_end"], "week", calibration_end)
        pd.testing.assert_frame_equal(found, expected, check_exact=False, rtol=1e-12)
    return duck


@pytest.fixture(scope="module")
def cdnow_in_both(spark):
    """The bundled log with a calibration period, loaded by DuckDB and by Spark (each load in Spark costs seconds)."""
    settings = TransactionsSettings(path=CDNOW, columns={"quantity": "number_of_cds"}, calibration_end="1997-09-30")
    return settings, DATASET.load(settings), DATASET.load(settings, engine=spark)


def test_duckdb_and_spark_agree_on_the_bundled_data(spark, raw_cdnow, cdnow_in_both):
    settings, *loaded = cdnow_in_both
    duck = same_in_both_engines(settings, spark, loaded=loaded)
    assert duck.cleaning.rows_used == len(raw_cdnow) and duck.scope["customers"] == 23_570


def test_duckdb_and_spark_agree_on_every_cleaning_rule(spark, tmp_path):
    text = ("id cust day amount qty\n1 A 20240101 10.00 1\n2 A 20240101 10.00 1\n3 NA 20240102 5.00 1\n"
            "4 B 20240102 n/a 1\n5 B 20240102 abc 1\n6 B 2024013x 5.00 1\n7 B 20240103 -4.50 1\n"
            "8 B 20240104 0 1\n9 B 20240301 6.00 1\n2 C 20240105 3.00 1\n10 C 20240106 3.00 2 extra\n")
    columns = {"customer": "cust", "date": "day", "amount": "amount", "quantity": "qty"}
    base = dict(path=write_csv(tmp_path / "log.txt", text), columns=columns, observation_end="2024-02-01")
    ids = same_in_both_engines(TransactionsSettings(**{**base, "columns": {**columns, "transaction_id": "id"}}), spark)
    assert sum(ids.cleaning.dropped.values()) == 8 and ids.scope["returns"] == {"rows": 1, "amount": 4.5}
    kept = same_in_both_engines(TransactionsSettings(**base), spark)
    assert kept.cleaning.changed["exact duplicate row, kept (transactions.drop_duplicates: true drops them)"] == 1
    dropped = same_in_both_engines(TransactionsSettings(**base, drop_duplicates=True), spark)
    assert dropped.cleaning.dropped["exact duplicate row (transactions.drop_duplicates is true)"] == 1
    spaced = same_in_both_engines(TransactionsSettings(path=write_csv(tmp_path / "export.csv", SPACED),
                                                       columns=SPACED_COLUMNS), spark, ("category",))
    assert spaced.scope["date_format"] == "%d/%m/%Y %H:%M (sniffed)"


def test_duckdb_and_spark_agree_on_generated_parquet_and_a_glob_equals_the_file(spark, tmp_path):
    out = tmp_path / "all" / "transactions.parquet"
    out.parent.mkdir()
    rows, truth = write(3_000, 5, out)
    columns = {"customer": "customer_id", "amount": "amount", "category": "category"}
    end = json.loads(truth.read_text())["parameters"]["observation_end"]
    settings = TransactionsSettings(path=out, columns=columns, observation_end=end, calibration_end="2024-03-31")
    whole = same_in_both_engines(settings, spark, ("category",))
    frame = pd.read_parquet(out)
    assert whole.cleaning.rows_read == rows == len(frame)
    summary = customer_summary(whole, end, "day").set_index("customer")
    np.testing.assert_allclose(summary["revenue"], frame.groupby("customer_id")["amount"].sum().loc[summary.index], rtol=1e-9)
    # The same rows split over two files, read through a glob (Spark reads the glob too).
    parts = tmp_path / "parts"
    parts.mkdir()
    half = len(frame) // 2
    frame.iloc[:half].to_parquet(parts / "part-1.parquet", index=False)
    frame.iloc[half:].to_parquet(parts / "part-2.parquet", index=False)
    split = same_in_both_engines(settings.model_copy(update={"path": parts / "part-*.parquet"}), spark, ("category",))
    assert split.cleaning.to_dict() | {"source": ""} == whole.cleaning.to_dict() | {"source": ""}
    assert split.scope | {"source": ""} == whole.scope | {"source": ""}
    pd.testing.assert_frame_equal(customer_summary(split, end, "day"), customer_summary(whole, end, "day"))


def test_duckdb_and_spark_agree_on_the_monthly_cohort_and_category_counts(spark, generated):
    from shopper_bayes.analyses.customers_categories.compute import CATEGORY_SQL
    from shopper_bayes.analyses.customers_churn.compute import cohorts
    from shopper_bayes.analyses.customers_monthly.compute import monthly_table
    from shopper_bayes.datasets.transactions import aggregate

    out, _, truth = generated
    settings = TransactionsSettings(path=out, columns={"customer": "customer_id", "amount": "amount", "category": "category"},
                                    observation_end=truth["parameters"]["observation_end"])
    duck, other = DATASET.load(settings, ("category",)), DATASET.load(settings, ("category",), engine=spark)
    end = pd.Timestamp(settings.observation_end)
    rows = duck.table.frame()  # the frame path: the same query over the rows in a DuckDB of their own
    for data in (other, rows):
        pd.testing.assert_frame_equal(monthly_table(data, end), monthly_table(duck, end), check_dtype=False)
        assert cohorts(data, end) == cohorts(duck, end)
    columns = ["category", "customer", "amount"]
    categories = aggregate(other, CATEGORY_SQL, columns)
    pd.testing.assert_frame_equal(categories.astype({"revenue": float}), aggregate(duck, CATEGORY_SQL, columns).astype(
        {"revenue": float}), check_dtype=False)
    assert categories["purchases"].tolist() == pd.read_csv(out)["category"].value_counts().tolist()


def test_the_revenue_concentration_statistics_are_the_same_from_either_engine_and_from_the_rows(cdnow_in_both):
    from shopper_bayes.analyses.customers_pareto.compute import queries
    from shopper_bayes.analyses.customers_pareto.config import ParetoSettings
    from shopper_bayes.datasets.transactions import over_customers

    _, duck, other = cdnow_in_both
    wanted = queries(ParetoSettings())
    expected = over_customers(duck.table.frame(), wanted, "1998-06-30")
    assert expected[0]["customers"].sum() == 23_570 and len(expected[1]) > 1_000
    for loaded in (duck, other):
        for found, frame in zip(over_customers(loaded, wanted, "1998-06-30"), expected):
            order = list(frame.columns[:2])
            pd.testing.assert_frame_equal(found.sort_values(order, ignore_index=True),
                                          frame.sort_values(order, ignore_index=True), check_dtype=False)


def test_the_clv_tables_are_the_same_from_either_engine_and_from_the_rows(cdnow_in_both):
    from shopper_bayes.analyses.clv.rfm import rfm_tables

    _, duck, other = cdnow_in_both
    expected = rfm_tables(duck.table.frame(), "1997-09-30", None, "week")  # the rows, summarised by DuckDB in memory
    rows = expected.customers.frame()
    assert len(rows) == 23_570 and rows["holdout"].sum() > 0
    for loaded in (duck, other):
        found = rfm_tables(loaded, "1997-09-30", None, "week")
        # the rows in the same order (several batches: Spark's come from several files) and the summaries
        pd.testing.assert_frame_equal(found.customers.frame(), rows, check_exact=False, rtol=1e-12)
        for name in ("triples", "spend"):
            pd.testing.assert_frame_equal(getattr(found.customers, name), getattr(expected.customers, name))
        assert found.customers.zero_spend == expected.customers.zero_spend
        pd.testing.assert_frame_equal(found.holdout_periods, expected.holdout_periods)
        assert (found.holdout_length, found.new_in_holdout) == (expected.holdout_length, expected.new_in_holdout)


@pytest.mark.parametrize("module", [customers_frequency_segments, customers_monthly, customers_churn, customers_pareto])
def test_every_customer_section_has_a_what_to_do_box(module):
    """Each section turns its numbers into a choice (issue 19); the sample's monthly peak is new customers, so its
    box says the peak is acquisition."""
    from shopper_bayes.report.document import Decision

    settings = TransactionsSettings(path=SAMPLE, header=False, columns={
        "customer": "column1", "date": "column3", "quantity": "column4", "amount": "column5"})
    result = run(module, settings)
    boxes = [block for block in module.ANALYSIS.section(result).blocks if isinstance(block, Decision)]
    assert len(boxes) == 1 and boxes[0].lines
    if module is customers_monthly:
        peak = max((m for m in result.months if not m.partial), key=lambda m: m.revenue)
        assert (peak.new_customers > peak.returning_customers) == ("Do not plan around the peak" in boxes[0].lines[0])

"""The orders dataset and the demographics analysis: cleaning, statistics against pandas, shares
against closed forms, shrinkage and coverage on generated data, the diagnostics gate."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shopper_bayes.analyses.base import Context
from shopper_bayes.analyses.demographics import ANALYSIS
from shopper_bayes.analyses.demographics.config import DemographicsSettings
from shopper_bayes.analyses.demographics.result import DemographicsResult
from shopper_bayes.analyses.demographics.run import modelled_columns
from shopper_bayes.config import DiagnosticsConfig, SamplerConfig
from shopper_bayes.datasets.orders import DATASET, OrdersSettings
from shopper_bayes.errors import UserError
from shopper_bayes.generate.orders import write
from shopper_bayes.inference.diagnostics import check
from shopper_bayes.inference.fit import FitCache
from shopper_bayes.report.document import Table, Warning

BUNDLED = Path(__file__).resolve().parents[1] / "data" / "diwali_sales.csv"
HEADER = "User_ID,Product_ID,Gender,Age Group,Marital_Status,State,Zone,Occupation,Product_Category,Orders,Amount,Status"


def run(dataset: OrdersSettings, settings: DemographicsSettings = DemographicsSettings(), seed: int = 3):
    sampler = SamplerConfig()
    ctx = Context(config=SimpleNamespace(seed=seed, sampler=sampler, diagnostics=DiagnosticsConfig()), settings=settings,
                  load=lambda *needs: DATASET.load(dataset, needs),
                  fit=FitCache(sampler, seed).fit, seed=seed)
    return ANALYSIS.run(ctx)


@pytest.fixture(scope="module")
def bundled():
    return run(OrdersSettings(path=BUNDLED))


def pandas_clean() -> pd.DataFrame:
    """The stated cleaning, independently in pandas: drop missing Amount, exact duplicates, merge the state label."""
    frame = pd.read_csv(BUNDLED, dtype=str, keep_default_na=False)
    frame = frame[frame["Amount"].str.strip() != ""].drop_duplicates()
    frame["State"] = frame["State"].replace({"Andhra pradesh": "Andhra Pradesh"})
    return frame.assign(Amount=frame["Amount"].astype(float), Orders=frame["Orders"].astype(int))


def write_csv(folder: Path, rows: list[str], header: str = HEADER) -> Path:
    path = folder / "orders.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_bundled_cleaning_counts_every_rule():
    loaded = DATASET.load(OrdersSettings(path=BUNDLED), ())
    report = loaded.cleaning
    assert (report.rows_read, report.rows_used) == (11251, 11231)
    assert report.dropped == {"Amount missing": 12, "exact duplicate row": 8}
    assert report.changed == {"State label merged (Andhra pradesh -> Andhra Pradesh)": 1}
    assert loaded.scope["label_merges"] == [{"column": "State", "from": "Andhra pradesh", "to": "Andhra Pradesh", "rows": 1}]
    assert loaded.scope["ignored_columns"] == ["Status", "unnamed1"]
    frame = pandas_clean()
    profile = ["Gender", "Age Group", "Marital_Status", "State", "Zone", "Occupation"]
    per_id = frame.drop_duplicates(["User_ID", *profile]).groupby("User_ID").size()
    assert loaded.scope["conflicting_ids"] == int((per_id > 1).sum()) == 2343
    assert loaded.scope["customer_profiles"] == int(per_id.sum())


def test_cleaning_rules_on_a_small_file(tmp_path):
    rows = [
        "1,P1,F,26-35,0,Delhi,Central,Govt,Food,2,100,",
        "1,P1,F,26-35,0,Delhi,Central,Govt,Food,2,100,",      # exact duplicate
        "2,P2,M,26-35,1, delhi ,Central,Govt,food,1,50,",     # labels merged (case and spaces)
        "3,P3,M,18-25,1,Kerala,Southern,Govt,Food,1,,",       # amount missing
        "4,P3,M,18-25,1,Kerala,Southern,Govt,Food,1,abc,",    # amount not a number
        "5,P3,M,18-25,1,Kerala,Southern,Govt,Food,0,10,",     # orders zero
        "6,P3,M,18-25,1,Kerala,Southern,Govt,Food,1,-5,",     # amount negative
        "7,P3,M,18-25,1,Kerala,Southern,Govt,Food,1.5,10,",   # orders not whole
        "8,P3,M,18-25,1,Kerala,Southern,,Food,1,10,",         # occupation missing
        "9,P4,F,18-25,1,Kerala,Southern,Govt,Food,3,30,",
    ]
    loaded = DATASET.load(OrdersSettings(path=write_csv(tmp_path, rows)), ())
    assert loaded.cleaning.dropped == {"Occupation missing": 1, "Amount missing": 1, "Orders not a whole number": 1,
                                       "Amount not a number": 1, "Orders zero or negative": 1,
                                       "Amount zero or negative": 1, "exact duplicate row": 1}
    assert loaded.cleaning.rows_used == 3
    assert sorted(loaded.frame["state"]) == ["Delhi", "Delhi", "Kerala"]
    assert {(m["column"], m["from"], m["to"]) for m in loaded.scope["label_merges"]} == {
        ("State", "delhi", "Delhi"), ("Product_Category", "food", "Food")}
    assert loaded.scope["ignored_columns"] == ["Status"]


def test_bad_input_names_the_file_column_or_option(tmp_path):
    path = write_csv(tmp_path, ["1,P1,F,26-35,0,Delhi,Central,Govt,Food,2,100,"], header=HEADER.replace("Amount", "Value"))
    with pytest.raises(UserError, match=r"orders\.csv: no column 'Amount'"):
        DATASET.load(OrdersSettings(path=path), ())
    with pytest.raises(UserError, match=r"orders\.columns\.state: is null"):
        DATASET.load(OrdersSettings(path=path, columns={"state": None}), ())
    with pytest.raises(UserError, match="file not found"):
        DATASET.load(OrdersSettings(path=tmp_path / "absent.csv"), ())
    with pytest.raises(UserError, match="no rows left"):
        DATASET.load(OrdersSettings(path=write_csv(tmp_path, ["1,P1,F,26-35,0,Delhi,Central,Govt,Food,2,0,"])), ())
    # a decimal comma refuses the file, as in every dataset: dropping those rows kept only the amounts below 1,000
    # (a user's export with "1.234,50" among plain "500"s)
    commas = ["1,P1,F,26-35,0,Delhi,Central,Govt,Food,2,500,", '2,P1,F,26-35,0,Delhi,Central,Govt,Food,1,"1.234,50",']
    with pytest.raises(UserError, match=r"orders\.csv: column Amount: '1\.234,50' has a comma inside a number \(1 such value\)"):
        DATASET.load(OrdersSettings(path=write_csv(tmp_path, commas)), ())


def test_a_column_with_one_level_gives_a_line_not_an_error():
    units = pd.DataFrame({"gender": ["F", "F"], "state": ["Delhi", "Goa"]})
    levels, notes = modelled_columns(units, ["gender", "state"])
    assert levels == {"state": ["Delhi", "Goa"]}
    assert notes == ["gender has one level (F) after cleaning: nothing to compare, so it is left out of the models"]


def test_group_counts_and_sums_equal_pandas(bundled):
    result: DemographicsResult = bundled.summary
    frame = pandas_clean()
    profile = ["Gender", "Age Group", "Marital_Status", "State", "Zone", "Occupation"]
    units = frame.groupby(["User_ID", *profile]).agg(spend=("Amount", "sum"), orders=("Orders", "sum")).reset_index()
    assert result.customers == len(units) and result.purchases == len(frame)
    assert result.overall_spend_observed == pytest.approx(units["spend"].mean())
    for column, name in [("gender", "Gender"), ("age_group", "Age Group"), ("state", "State"), ("occupation", "Occupation")]:
        expected = units.groupby(name).agg(n=("spend", "size"), spend=("spend", "mean"), orders=("orders", "mean"))
        for level in result.groups[column]:
            assert level.customers == expected.loc[level.level, "n"]
            assert level.observed_mean == pytest.approx(expected.loc[level.level, "spend"])
        for level in result.orders_groups[column]:
            assert level.observed_mean == pytest.approx(expected.loc[level.level, "orders"])
    by_category = frame.groupby("Product_Category").agg(orders=("Orders", "sum"), revenue=("Amount", "sum"))
    for entry in result.categories:
        assert entry.orders == by_category.loc[entry.name, "orders"]
        assert entry.revenue == pytest.approx(by_category.loc[entry.name, "revenue"])


def test_shares_are_the_exact_dirichlet_posterior(bundled):
    result: DemographicsResult = bundled.summary
    alpha = DemographicsSettings().share_prior
    counts = np.array([entry.orders for entry in result.categories], dtype=float)
    post = alpha + counts
    for entry, a in zip(result.categories, post):
        b = post.sum() - a
        assert entry.share == pytest.approx(a / post.sum())
        assert entry.interval == pytest.approx((stats.beta.ppf(0.025, a, b), stats.beta.ppf(0.975, a, b)))
    assert sum(entry.prob_top.value for entry in result.categories) == pytest.approx(1.0)
    assert result.categories[0].name == "Clothing & Apparel" and result.categories[0].prob_top.value > 0.99
    assert len(result.products) == 10 and result.products[0].orders >= result.products[-1].orders
    zone_totals = {}
    for entry in result.zones:
        zone_totals[entry.zone] = zone_totals.get(entry.zone, 0) + entry.share
    assert all(total == pytest.approx(1.0) for total in zone_totals.values())


def test_bundled_fit_passes_the_gate_and_renders(bundled):
    result: DemographicsResult = bundled.summary
    tree = bundled.models["demographics"]
    assert result.diagnostics == check(tree, DiagnosticsConfig())
    assert result.diagnostics.ok, result.diagnostics.problems
    strict = check(tree, DiagnosticsConfig(min_ess=10**9))
    assert not strict.ok
    failing = result.model_copy(update={"diagnostics": strict})
    assert any(isinstance(block, Warning) and "convergence" in block.text for block in ANALYSIS.section(failing).blocks)
    mean_check = next(c for c in result.checks if c.model.startswith("spend") and c.statistic == "mean")
    assert 0.05 < mean_check.p_value < 0.95
    assert result.overall_spend.interval[0] < result.overall_spend_observed < result.overall_spend.interval[1]
    for levels in result.groups.values():
        for level in levels:
            p = level.prob_above_mean.value
            assert level.flag == ("target" if p >= 0.9 else "underperforming" if p <= 0.1 else "unclear")
    assert all(level.prob_top is None for level in result.groups["gender"])
    assert len(result.gender_age) == 14
    section = ANALYSIS.section(result)
    assert section.title == "Customers and products" and section.methods
    assert any(isinstance(block, Table) and block.name == "demographics_products" for block in section.blocks)
    assert ANALYSIS.console(result)[0].startswith("customers and products: 11,021 profiles")
    assert DemographicsResult.model_validate(json.loads(result.model_dump_json())) == result
    for spec in bundled.figures:
        assert spec.draw().axes


def test_the_written_out_zero_sum_effects_have_zero_sum_normal_covariance():
    """The model writes each column's effects as basis @ w (one matrix product for all columns), sampled in coordinates
    scaled by the data's standard errors: their prior must be PyMC's ZeroSumNormal(sd), covariance sd^2 (I - 1/k),
    whatever standard errors set the coordinates (tiny ones: the centred form; huge ones: the non-centred)."""
    import pymc as pm

    from shopper_bayes.analyses.demographics.model import _linear, zero_sum_basis

    for k in (2, 3, 7):
        basis = zero_sum_basis(k)
        np.testing.assert_allclose(basis.sum(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(basis @ basis.T, np.eye(k) - 1 / k, atol=1e-12)
    sizes = {"two": 2, "five": 5}
    codes = {"two": np.array([0, 1, 0]), "five": np.array([0, 3, 4])}
    for se in (1e-4, 0.05, 100.0):
        with pm.Model(coords={"two": ["a", "b"], "five": list("vwxyz"), "p_pooled": ["five"]}):
            eta = _linear("p", 0.5, 0.0, codes, sizes, {"two": se, "five": 2 * se})
            model = pm.modelcontext(None)
        draws = pm.draw([model["p_sd"], model["p_two"], model["p_five"], eta], draws=20000, random_seed=1)
        sd, two, five, linear = draws
        np.testing.assert_allclose(np.cov(two.T), 0.25 * (np.eye(2) - 1 / 2), atol=0.01)
        scaled = five / sd  # given its sd, ZeroSumNormal(1)
        np.testing.assert_allclose(np.cov(scaled.T), np.eye(5) - 1 / 5, atol=0.03)
        np.testing.assert_allclose(linear, two[:, codes["two"]] + five[:, codes["five"]], atol=1e-12)


def test_shrinkage_and_coverage_on_generated_data(tmp_path):
    out = tmp_path / "orders.csv"
    write(3000, 11, out)
    truth = json.loads(out.with_suffix(".truth.json").read_text())["parameters"]
    output = run(OrdersSettings(path=out, by=["gender", "state"]), seed=5)
    result: DemographicsResult = output.summary
    assert result.diagnostics.ok, result.diagnostics.problems
    assert any("gender × age-group table" in note for note in result.notes)
    frame = pd.read_csv(out)
    gender_factor = frame["Gender"].map(truth["spend_factor"]["Gender"])
    covered, total = 0, 0
    for level in result.groups["state"]:
        # The planted standardised mean: this state with the sample's mix of genders.
        planted = truth["base_spend"] * truth["spend_factor"]["State"][level.level] * gender_factor.mean()
        covered += level.interval[0] <= planted <= level.interval[1]
        total += 1
    assert covered >= total - 1
    overall = result.overall_spend.mean
    states = sorted(result.groups["state"], key=lambda level: level.customers)

    def pull(levels):  # the share of the distance to the overall mean that the posterior moved, pooled over levels
        return (sum(abs(level.observed_mean - level.mean) for level in levels)
                / sum(abs(level.observed_mean - overall) for level in levels))

    small, large = pull(states[:3]), pull(states[-3:])
    assert small > 0.15 and small > large + 0.1
    for level in states[:2]:  # the small states: the posterior mean lies between the observed and overall mean
        assert min(level.observed_mean, overall) < level.mean < max(level.observed_mean, overall)


def test_generator_is_reproducible(tmp_path):
    write(500, 4, tmp_path / "a.csv")
    write(500, 4, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    truth = json.loads((tmp_path / "a.truth.json").read_text())
    assert truth["parameters"]["mean_spend"]["State"]["Goa"] > truth["parameters"]["mean_spend"]["State"]["Sikkim"]
    with pytest.raises(UserError, match="--out"):
        write(10, 1, tmp_path / "a.txt")


# ---------------------------------------------------------------- engines

def engine_statistics(loaded) -> dict:
    """Everything the demographics analysis takes from the engine, for one loaded dataset."""
    from shopper_bayes.analyses.demographics import compute

    table, profile = loaded.table, loaded.scope["profile_columns"]
    sums = {key: table.sql(f"SELECT {key} AS name, sum(orders) AS orders, sum(amount) AS revenue, count(*) AS n "
                           f"FROM {{rows}} GROUP BY {key} ORDER BY {key}") for key in ("category", "product")}
    zones = table.sql("SELECT zone, category, sum(orders) AS orders FROM {rows} GROUP BY zone, category ORDER BY zone, category")
    return {"units": compute.profiles(table, profile), "cells": compute.cell_statistics(table, profile, ["gender", "state"]),
            "category_of": compute.category_of(table), "zones": zones, **sums}


def test_duckdb_and_spark_give_the_same_cleaning_and_statistics(spark, tmp_path):
    duck, other = DATASET.load(OrdersSettings(path=BUNDLED), ()), DATASET.load(OrdersSettings(path=BUNDLED), (), engine=spark)
    assert other.table.engine is spark and duck.table.engine.name == "duckdb"
    assert other.cleaning.to_dict() == duck.cleaning.to_dict()
    # Spark names a column with an empty header _c<position>, DuckDB unnamed<n>: the rest of the scope is equal.
    assert {**other.scope, "ignored_columns": None} == {**duck.scope, "ignored_columns": None}
    assert duck.scope["ignored_columns"][0] == other.scope["ignored_columns"][0] == "Status"
    a, b = engine_statistics(duck), engine_statistics(other)
    assert a["category_of"] == b["category_of"]
    for name in ("units", "cells", "zones", "category", "product"):
        pd.testing.assert_frame_equal(a[name].reset_index(drop=True), b[name].reset_index(drop=True),
                                      check_dtype=False, rtol=1e-12)
    # Against pandas: the stated cleaning, then sums per category.
    frame = pandas_clean()
    expected = frame.groupby("Product_Category").agg(orders=("Orders", "sum"), revenue=("Amount", "sum"))
    assert b["category"]["orders"].tolist() == expected["orders"].tolist()
    np.testing.assert_allclose(b["category"]["revenue"], expected["revenue"], rtol=1e-12)
    # Every rule on a small file, in Spark.
    rows = ["1,P1,F,26-35,0,Delhi,Central,Govt,Food,2,100,", "1,P1,F,26-35,0,Delhi,Central,Govt,Food,2,100,",
            "2,P2,M,26-35,1, delhi ,Central,Govt,food,1,50,", "3,P3,M,18-25,1,Kerala,Southern,Govt,Food,1,,",
            "4,P3,M,18-25,1,Kerala,Southern,Govt,Food,1,abc,", "5,P3,M,18-25,1,Kerala,Southern,Govt,Food,0,10,",
            "6,P3,M,18-25,1,Kerala,Southern,Govt,Food,1,-5,", "7,P3,M,18-25,1,Kerala,Southern,Govt,Food,1.5,10,",
            "8,P3,M,18-25,1,Kerala,Southern,,Food,1,10,", "9,P4,F,18-25,1,Kerala,Southern,Govt,Food,3,30,"]
    settings = OrdersSettings(path=write_csv(tmp_path, rows))
    small, small_spark = DATASET.load(settings, ()), DATASET.load(settings, (), engine=spark)
    assert small_spark.cleaning.to_dict() == small.cleaning.to_dict() and small.cleaning.rows_used == 3
    assert small_spark.scope == small.scope
    pd.testing.assert_frame_equal(small.frame, small_spark.frame, check_dtype=False)


def test_typed_parquet_and_a_glob_over_parts_equal_the_csv(tmp_path):
    """Parquet keeps Orders, Amount and the ids as numbers (missing Amount as NULL): the same rules,
    counts and rows as the CSV; split into two files read through a glob, too (rows 5907 and 5908, a duplicate pair, in different files)."""
    frame = pd.read_csv(BUNDLED)
    frame.to_parquet(tmp_path / "orders.parquet", index=False)
    (tmp_path / "parts").mkdir()
    frame.iloc[:5908].to_parquet(tmp_path / "parts" / "part-1.parquet", index=False)
    frame.iloc[5908:].to_parquet(tmp_path / "parts" / "part-2.parquet", index=False)
    csv = DATASET.load(OrdersSettings(path=BUNDLED), ())
    for path in (tmp_path / "orders.parquet", tmp_path / "parts" / "part-*.parquet"):
        parquet = DATASET.load(OrdersSettings(path=path), ())
        assert {**parquet.cleaning.to_dict(), "source": None} == {**csv.cleaning.to_dict(), "source": None}
        assert parquet.scope == csv.scope
        pd.testing.assert_frame_equal(parquet.frame.astype(str), csv.frame.astype(str))

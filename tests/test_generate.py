"""The mock-data generator: reproducible, in the bundled schema, readable by the loader, and the
structure it plants is the structure in its ground truth and in the rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import BUNDLED, write_config
from shopper_bayes.cli import main
from shopper_bayes.analyses.correlations.config import DURATION_COLUMNS
from shopper_bayes.config import load_config
from shopper_bayes.datasets.sessions import load_sessions
from shopper_bayes.generate import KINDS, generate, truth_path
from shopper_bayes.generate.base import CHUNK_ROWS, SessionsGenerator

BIG = 200_000


def as_json(data):
    return json.loads(json.dumps(data))


def read_text(path) -> pd.DataFrame:
    """A CSV with every value as written."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """200,000 sessions written to Parquet once, with their truth."""
    out = tmp_path_factory.mktemp("big") / "sessions.parquet"
    generate("sessions", BIG, 11, out)
    return pq.read_table(out).to_pandas(), json.loads(truth_path(out).read_text())


def test_same_seed_same_file_other_seed_other_data(tmp_path):
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    for folder, seed in (("a", 7), ("b", 7), ("c", 8)):
        generate("sessions", 5_000, seed, tmp_path / folder / "s.csv")
        generate("sessions", 5_000, seed, tmp_path / folder / "s.parquet")
    a, b, c = (tmp_path / name for name in ("a", "b", "c"))
    assert (a / "s.csv").read_bytes() == (b / "s.csv").read_bytes()
    assert pq.read_table(a / "s.parquet").equals(pq.read_table(b / "s.parquet"))
    assert (a / "s.truth.json").read_bytes() == (b / "s.truth.json").read_bytes()
    assert (a / "s.csv").read_bytes() != (c / "s.csv").read_bytes()
    first, other = pq.read_table(a / "s.parquet").to_pandas(), pq.read_table(c / "s.parquet").to_pandas()
    for column in ("Purchase", "Month", "ProductRelated_Duration"):
        assert not first[column].equals(other[column]), column
    # The Parquet and CSV files hold the same values.
    pd.testing.assert_frame_equal(pd.read_csv(a / "s.csv", dtype={"Weekend": str}), first, check_dtype=False)


def test_rows_do_not_depend_on_chunk_size_or_row_count(tmp_path):
    generate("sessions", 2_500, 3, tmp_path / "default.csv")
    generate("sessions", 2_500, 3, tmp_path / "small.csv", chunk_rows=333)
    generate("sessions", 2_500, 3, tmp_path / "default.parquet")
    generate("sessions", 2_500, 3, tmp_path / "small.parquet", chunk_rows=333)
    generate("sessions", 1_000, 3, tmp_path / "short.csv")
    assert CHUNK_ROWS > 2_500  # the default run is one chunk, the other eight
    assert (tmp_path / "default.csv").read_bytes() == (tmp_path / "small.csv").read_bytes()
    assert pq.ParquetFile(tmp_path / "small.parquet").num_row_groups == 8
    assert pq.read_table(tmp_path / "default.parquet").equals(pq.read_table(tmp_path / "small.parquet"))
    lines = (tmp_path / "default.csv").read_text().splitlines(keepends=True)
    assert "".join(lines[:1_001]) == (tmp_path / "short.csv").read_text()


def test_truth_json_holds_the_planted_parameters(tmp_path):
    written = generate("sessions", 100, 5, tmp_path / "s.parquet")
    assert written.truth_path == tmp_path / "s.truth.json"
    truth = json.loads(written.truth_path.read_text())
    model = SessionsGenerator()
    assert {key: truth[key] for key in ("generator", "generator_version", "seed", "rows")} == {
        "generator": "sessions", "generator_version": model.version, "seed": 5, "rows": 100}
    assert truth["model"] == model.model
    planted = truth["parameters"]
    assert planted == as_json(model.parameters())
    assert planted["base_rate"] == {"Returning_Customer": 0.15, "New_Customer": 0.25}
    assert math.isclose(sum(planted["month_shares"].values()), 1) and math.isclose(sum(planted["segment_shares"].values()), 1)
    for segment, base in planted["base_rate"].items():
        for month, effect in planted["month_effect"].items():
            assert math.isclose(planted["purchase_rate"][segment][month], base * effect)
    # The implied correlations, recomputed here from the planted latent correlation and log sds.
    names, sd = DURATION_COLUMNS, dict(zip(DURATION_COLUMNS, planted["log_sd"]))
    for x in names:
        for y in names:
            rho = planted["latent_correlation"][x][y]
            pearson = math.expm1(rho * sd[x] * sd[y]) / math.sqrt(math.expm1(sd[x] ** 2) * math.expm1(sd[y] ** 2))
            assert math.isclose(planted["pearson"][x][y], pearson)
            assert math.isclose(planted["spearman"][x][y], 6 / math.pi * math.asin(rho / 2))
    assert planted["latent_correlation"]["Administrative_Duration"]["ProductRelated_Duration"] == 0.5
    assert planted["pearson"]["Administrative_Duration"]["ProductRelated_Duration"] < 0.45


def test_schema_and_labels_are_those_of_the_bundled_file(tmp_path):
    generate("sessions", 3_000, 2, tmp_path / "s.csv")
    ours, bundled = read_text(tmp_path / "s.csv"), read_text(BUNDLED).iloc[:-1]  # its last row is cut off
    assert list(ours.columns) == list(bundled.columns)
    for column in ("Weekend", "Month", "CustomerType", "Purchase", "SpecialDay"):
        assert set(ours[column]) == set(bundled[column]), column
    assert ours["SessionID"].tolist() == [str(i) for i in range(1, 3_001)]
    for column in bundled.columns.drop(["Weekend", "Month", "CustomerType"]):
        assert pd.to_numeric(ours[column]).ge(0).all(), column
    assert (pd.to_numeric(ours["BounceRates"]) <= pd.to_numeric(ours["ExitRates"])).all()
    assert pd.to_numeric(ours["ExitRates"]).le(0.2).all()


@pytest.mark.parametrize("name", ["s.csv", "s.parquet"])
def test_the_loader_reads_every_row(tmp_path, name):
    generate("sessions", 5_000, 4, tmp_path / name)
    config = load_config(write_config(tmp_path, sessions={"path": str(tmp_path / name), "filter": {}},
                                      rates={"segments": ["segment", "month", "Weekend"]}))
    sessions = load_sessions(config.sessions, labels=config.rates.segments, numeric=DURATION_COLUMNS)
    june = int((read_text(tmp_path / name)["Month"] == "June").sum()) if name.endswith(".csv") else None
    assert sessions.cleaning.rows_read == sessions.cleaning.rows_used == 5_000
    assert sessions.cleaning.dropped == {}
    assert set(sessions.cleaning.changed) == {"Month spelling normalised (e.g. June -> Jun)"}
    if june is not None:
        assert sessions.cleaning.changed["Month spelling normalised (e.g. June -> Jun)"] == june
    assert set(sessions.frame["segment"]) == {"Returning_Customer", "New_Customer"}
    assert set(sessions.frame["Weekend"]) == {"TRUE", "FALSE"}
    # The default config (November and December only) runs on it unchanged.
    default = load_sessions(load_config(write_config(tmp_path, sessions={"path": str(tmp_path / name)})).sessions,
                            labels=["segment"], numeric=DURATION_COLUMNS)
    assert set(default.frame["month"]) == {"Nov", "Dec"} and default.cleaning.rows_used > 1_000


def within_binomial(observed: pd.Series, planted: dict, n: pd.Series) -> None:
    """Every observed proportion within 4 binomial standard errors of the planted one."""
    assert set(observed.index) == set(planted)
    for key, p in planted.items():
        margin = 4 * math.sqrt(p * (1 - p) / n[key])
        assert abs(observed[key] - p) <= margin, (key, observed[key], p, margin)


def test_planted_rates_and_shares_are_in_the_rows(big):
    frame, truth = big
    planted = truth["parameters"]
    by_segment, by_month = frame.groupby("CustomerType")["Purchase"], frame.groupby("Month")["Purchase"]
    within_binomial(by_segment.mean(), planted["purchase_rate_by_segment"], by_segment.size())
    within_binomial(by_month.mean(), planted["purchase_rate_by_month"], by_month.size())
    for segment, rates in planted["purchase_rate"].items():
        cell = frame[frame["CustomerType"] == segment].groupby("Month")["Purchase"]
        within_binomial(cell.mean(), rates, cell.size())
    everyone = pd.Series(BIG, index=list(planted["segment_shares"]) + list(planted["month_shares"]) + ["TRUE"])
    within_binomial(frame["CustomerType"].value_counts(normalize=True), planted["segment_shares"], everyone)
    within_binomial(frame["Month"].value_counts(normalize=True), planted["month_shares"], everyone)
    within_binomial(frame["Weekend"].value_counts(normalize=True)[["TRUE"]], {"TRUE": planted["weekend_prob"]}, everyone)


def test_planted_duration_correlations_are_in_the_rows(big):
    """Tolerances: over 100 replications of 200,000 rows the standard deviation of the sample
    Pearson r was at most 0.006 (heavy tails make it skewed; the largest error seen was 0.021) and
    that of Spearman's at most 0.002."""
    frame, truth = big
    planted = truth["parameters"]
    durations = frame[DURATION_COLUMNS]
    pearson, spearman = durations.corr(), durations.corr("spearman")
    latent = np.log(durations).corr()
    for x in DURATION_COLUMNS:
        for y in DURATION_COLUMNS:
            assert abs(pearson.loc[x, y] - planted["pearson"][x][y]) < 0.04, (x, y)
            assert abs(spearman.loc[x, y] - planted["spearman"][x][y]) < 0.01, (x, y)
            assert abs(latent.loc[x, y] - planted["latent_correlation"][x][y]) < 0.01, (x, y)
    assert (frame[DURATION_COLUMNS] > 0).all().all()


def test_a_failed_run_leaves_no_file(tmp_path, monkeypatch):
    (tmp_path / "s.csv").write_text("previous\n")
    calls = []

    def failing_table(self, seed, start, stop):
        calls.append(start)
        if len(calls) > 2:
            raise RuntimeError("disk gone")
        return original(self, seed, start, stop)

    original = SessionsGenerator.table
    monkeypatch.setattr(SessionsGenerator, "table", failing_table)
    with pytest.raises(RuntimeError):
        generate("sessions", 1_000, 1, tmp_path / "s.csv", chunk_rows=100)
    assert calls == [0, 100, 200]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["s.csv"]
    assert (tmp_path / "s.csv").read_text() == "previous\n"


def test_cli_writes_data_and_truth(tmp_path, capsys):
    assert main(["generate", "sessions", "--rows", "1000", "--seed", "1", "--out", str(tmp_path / "s.csv")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"Wrote 1,000 rows of sessions to {tmp_path / 's.csv'} and the ground truth to {tmp_path / 's.truth.json'}"]
    assert len(read_text(tmp_path / "s.csv")) == 1_000
    assert json.loads((tmp_path / "s.truth.json").read_text())["seed"] == 1


@pytest.mark.parametrize("dropout", ["repeat_purchase", "any_time"])
def test_cli_generates_the_transactions_dropout_asked_for(tmp_path, dropout):
    """``--dropout`` picks the process the log is drawn from (the default MBG/NBD is one no ``clv.model`` fits):
    the rows are those of the generator with that dropout, and the truth says which it was."""
    import pandas as pd

    from shopper_bayes.generate.transactions import TransactionsGenerator

    out = tmp_path / "t.parquet"
    assert main(["generate", "transactions", "--customers", "300", "--seed", "4", "--dropout", dropout, "--out", str(out)]) == 0
    assert json.loads((tmp_path / "t.truth.json").read_text())["parameters"]["dropout"] == dropout
    expected = TransactionsGenerator(dropout=dropout).chunk(4, 0, 300).to_pandas()
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected)
    assert not expected.equals(TransactionsGenerator().chunk(4, 0, 300).to_pandas())


@pytest.mark.parametrize("args, where", [
    (["--rows", "0", "--out", "{tmp}/s.csv"], "error: --rows: must be at least 1"),
    (["--rows", "10", "--out", "{tmp}/s.xlsx"], "error: --out:"),
    (["--rows", "10", "--out", "{tmp}/missing/s.csv"], "error: --out: folder"),
    (["--rows", "10", "--seed", "-1", "--out", "{tmp}/s.csv"], "error: --seed:"),
    (["--rows", "10", "--out", "{tmp}"], "error: --out:"),
    (["--rows", "10", "--dropout", "any_time", "--out", "{tmp}/s.csv"], "error: --dropout: is for transactions"),
])
def test_cli_bad_input_is_one_line(tmp_path, capsys, args, where):
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    assert main(["generate", "sessions", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(where), err
    assert list(tmp_path.iterdir()) == []


def test_cli_lists_the_kinds(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--help"])
    assert exit_.value.code == 0
    assert "{" + ",".join(KINDS) + "}" in capsys.readouterr().out
    assert "sessions" in KINDS


def test_campaign_truth_gives_the_rates_at_the_drawn_audience_mix(tmp_path):
    """The planted campaign rates hold at the population's audience mix; the file's impressions have their own (a
    user compared seed 61's campaign 202, 44% of impressions aged 30-34, with the population's rates and found 3
    misses). The truth also gives each campaign's rates at the drawn mix, equal to pandas' impression-weighted mean of
    the planted cell rates over the file, however the rows were chunked; ROI does not depend on the mix."""
    import pandas as pd

    from shopper_bayes.generate import base
    from shopper_bayes.generate.campaigns import CampaignsGenerator

    base.GENERATORS.setdefault(CampaignsGenerator.name, CampaignsGenerator)
    truths = []
    for chunk_rows in (97, 10_000):
        out = tmp_path / f"ads-{chunk_rows}.csv"
        base.generate("campaigns", 600, 61, out, chunk_rows=chunk_rows)
        truths.append(json.loads(base.truth_path(out).read_text()))
    for campaign, drawn in truths[0]["campaign_at_drawn_mix"].items():
        assert drawn == pytest.approx(truths[1]["campaign_at_drawn_mix"][campaign], rel=1e-12)
    g = CampaignsGenerator()
    frame = pd.read_csv(tmp_path / "ads-97.csv", dtype={"xyz_campaign_id": str})
    frame["audience"] = frame["age"].map(g.age_factor) * frame["gender"].map(g.gender_factor)
    for campaign, rows in frame.groupby("xyz_campaign_id"):
        mix = (rows["Impressions"] * rows["audience"]).sum() / rows["Impressions"].sum()
        drawn = truths[0]["campaign_at_drawn_mix"][campaign]
        assert drawn["ctr"] == pytest.approx(g.ctr[campaign] * mix, rel=1e-12)
        assert drawn["conversion_rate"] == pytest.approx(g.lead_rate[campaign] * mix * g.approval[campaign], rel=1e-12)
        assert drawn["roi"] == pytest.approx(truths[0]["parameters"]["campaign"][campaign]["roi"], rel=1e-12)

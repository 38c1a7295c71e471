"""Ad campaigns: the loader's rules, the money and flag arithmetic, and the fitted analysis on the
bundled data and on generated data with planted rates."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from shopper_bayes.analyses.ad_campaigns import ANALYSIS
from shopper_bayes.analyses.ad_campaigns.compute import flag, money, prob_best
from shopper_bayes.analyses.ad_campaigns.config import AdCampaignsSettings
from shopper_bayes.analyses.base import Context
from shopper_bayes.config import DiagnosticsConfig, SamplerConfig
from shopper_bayes.datasets.ads import DATASET, VIEW_THROUGH, ZERO_CLICK_ZERO_SPEND, AdsSettings
from shopper_bayes.errors import UserError
from shopper_bayes.generate.campaigns import write
from shopper_bayes.inference.fit import FitCache

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "facebook_ad_campaigns.csv"
SUMS = ["impressions", "clicks", "spend", "leads", "conversions"]
PANDAS = {"impressions": "Impressions", "clicks": "Clicks", "spend": "Spent", "leads": "Total_Conversion",
          "conversions": "Approved_Conversion"}


def run(path: Path, settings: AdCampaignsSettings, seed: int = 3):
    data = AdsSettings(path=path)
    ctx = Context(config=SimpleNamespace(seed=seed, sampler=SamplerConfig(), diagnostics=DiagnosticsConfig()),
                  settings=settings, load=lambda *needs: DATASET.load(data, needs),
                  fit=FitCache(SamplerConfig(), seed).fit, seed=seed)
    return ANALYSIS.run(ctx)


@pytest.fixture(scope="module")
def bundled():
    return run(BUNDLED, AdCampaignsSettings(revenue_per_conversion={"mean": 50, "sd": 10})).summary


def edited(tmp_path: Path, line: int, column: str, value) -> Path:
    frame = pd.read_csv(BUNDLED, dtype=str)
    frame.loc[line - 2, column] = value
    path = tmp_path / "ads.csv"
    frame.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- loader


def test_bundled_sums_per_campaign_equal_pandas():
    loaded = DATASET.load(AdsSettings(path=BUNDLED), ("age", "gender"))
    ours = loaded.frame.groupby("campaign")[SUMS].sum().sort_index()
    raw = pd.read_csv(BUNDLED)
    theirs = raw.groupby(raw["xyz_campaign_id"].astype(str))[list(PANDAS.values())].sum().sort_index()
    for name, column in PANDAS.items():
        np.testing.assert_allclose(ours[name].to_numpy(), theirs[column].to_numpy())
    assert loaded.cleaning.rows_used == 1143 and loaded.cleaning.dropped == {}


def test_zero_click_view_through_ads_are_kept_and_counted():
    loaded = DATASET.load(AdsSettings(path=BUNDLED), ())
    assert loaded.scope["kept"] == {ZERO_CLICK_ZERO_SPEND: 207, VIEW_THROUGH: 204}
    assert len(loaded.frame) == 1143


@pytest.mark.parametrize(("column", "value", "message"), [
    ("Clicks", "-1", "'-1' is not a whole number"),
    ("Impressions", "abc", "'abc' is not a whole number"),
    ("Spent", "-2.5", "'-2.5' is negative"),
    ("Spent", "1,5", "'1,5' is not a number"),
    ("Total_Conversion", "", "the value is missing"),
    ("Clicks", "999999999", "clicks but"),
    ("Approved_Conversion", "9", "9 conversions (purchases) but 2 leads"),
])
def test_bad_values_refuse_the_file_naming_column_and_line(tmp_path, column, value, message):
    path = edited(tmp_path, 3, column, value)  # line 3: the second ad (2 leads, 0 conversions)
    with pytest.raises(UserError) as caught:
        DATASET.load(AdsSettings(path=path), ())
    text = caught.value.line()
    assert "\n" not in text and str(path) in text and "line 3" in text and message in text


def test_repeated_ad_id_refuses_with_both_lines(tmp_path):
    path = edited(tmp_path, 5, "ad_id", "708746")
    with pytest.raises(UserError, match=r"line 5: ad '708746' already appeared on line 2"):
        DATASET.load(AdsSettings(path=path), ())


def test_missing_column_and_missing_audience_label(tmp_path):
    with pytest.raises(UserError, match="no column 'Spend'"):
        DATASET.load(AdsSettings(path=BUNDLED, columns={"spend": "Spend"}), ())
    path = edited(tmp_path, 10, "age", "")
    loaded = DATASET.load(AdsSettings(path=path), ("age",))
    assert loaded.cleaning.dropped == {"age missing": 1} and len(loaded.frame) == 1142


# ---------------------------------------------------------------- money and flags (hand-made posteriors)


def test_no_conversions_gives_undefined_cac_with_reason():
    settings = AdCampaignsSettings()
    rate = np.full(4000, 1e-5)
    out = money(100.0, 1e6, leads=3, conversions=0, lead_rate=rate, conversion_rate=rate / 10,
                revenue=np.full(4000, 50.0), settings=settings)
    assert out["cac"].mean is None and "no conversions" in out["cac"].note
    assert out["cpl"].mean == pytest.approx(100 / 10)
    nothing = money(0.0, 1e6, 3, 1, rate, rate, np.full(4000, 50.0), settings)
    assert nothing["flag"] == "undefined" and nothing["prob_roi_positive"] is None and "no spend" in nothing["roi"].note


def test_zero_revenue_gives_prob_roi_positive_zero():
    rate = np.random.default_rng(1).gamma(100, 1e-7, 4000)
    out = money(10.0, 1e6, 50, 20, rate, rate, np.zeros(4000), AdCampaignsSettings(revenue_per_conversion=0))
    assert out["prob_roi_positive"].value == 0 and out["roi"].mean == pytest.approx(-1) and out["flag"] == "wasteful"


def test_roi_matches_closed_form():
    conversion_rate = np.array([1e-5, 2e-5, 3e-5, 4e-5])
    out = money(20.0, 1e6, 100, 30, conversion_rate * 3, conversion_rate, np.full(4, 2.0), AdCampaignsSettings())
    assert out["roi"].mean == pytest.approx(np.mean(1e6 * conversion_rate * 2.0 / 20.0 - 1))
    assert out["prob_roi_positive"].value == 0.75 and out["prob_roi_positive"].draws == 4


@pytest.mark.parametrize(("prob_positive", "expected"), [(0.95, "profitable"), (0.9, "profitable"), (0.89, "unclear"),
                                                         (0.11, "unclear"), (0.1, "wasteful"), (0.0, "wasteful")])
def test_flags_against_thresholds(prob_positive, expected):
    assert flag(prob_positive, AdCampaignsSettings(profitable_prob=0.9, wasteful_prob=0.9)) == expected


def test_prob_best_counts_draws_and_skips_undefined():
    best = prob_best([np.array([1.0, 3.0, 1.0, 1.0]), np.array([2.0, 2.0, 2.0, 0.0]), None])
    assert [p.value for p in best] == [0.5, 0.5, 0.0]


# ---------------------------------------------------------------- the fitted analysis


def test_bundled_sum_ratio_inside_intervals_and_wider(bundled):
    assert bundled.diagnostics.ok, bundled.diagnostics.problems
    raw = pd.read_csv(BUNDLED)
    sums = raw.groupby(raw["xyz_campaign_id"].astype(str))[list(PANDAS.values())].sum()
    for campaign in bundled.campaigns:
        row = sums.loc[campaign.campaign]
        assert campaign.clicks == row["Clicks"] and campaign.spend == pytest.approx(row["Spent"])
        ctr = row["Clicks"] / row["Impressions"]
        assert campaign.ctr.interval[0] < ctr < campaign.ctr.interval[1]
        leads = row["Total_Conversion"] / row["Impressions"] * 1000
        assert campaign.lead_rate.interval[0] < leads < campaign.lead_rate.interval[1]
        assert campaign.widening[0].sum_ratio == pytest.approx(ctr)
    widest = max(bundled.campaigns, key=lambda c: c.widening[0].ratio)
    assert widest.campaign == "1178" and widest.widening[0].ratio > 1.2  # its ads vary far beyond Poisson noise


def test_bundled_decisions_and_checks(bundled):
    assert sum(c.prob_best.value for c in bundled.campaigns) == pytest.approx(1)
    flags = {c.campaign: c.flag for c in bundled.campaigns}
    assert flags["916"] == "profitable" and flags["936"] == "profitable"
    for c in bundled.campaigns:
        assert c.flag == flag(c.prob_roi_positive.value, AdCampaignsSettings())
    assert bundled.budget.options and all(o.spend >= 100 for o in bundled.budget.options)
    clicks = next(c for c in bundled.checks if c.measure == "clicks")
    assert clicks.zeros_observed == 207 and clicks.outside <= clicks.outside_without_dispersion
    assert len(bundled.audiences) == 8 and sum(a.spend for a in bundled.audiences) == pytest.approx(sum(c.spend for c in bundled.campaigns))
    section = ANALYSIS.section(bundled)
    text = " ".join(block for block in section.blocks if isinstance(block, str))
    assert "revenue of 50.00 ± 10.00 per conversion" in text and section.blocks[0].startswith("Campaign 916")
    assert ANALYSIS.console(bundled)[0].startswith("ad campaigns: 1,143 ads")


def test_generated_campaign_ctr_and_roi_recovered(tmp_path):
    rows, truth_path = write(1500, 5, tmp_path / "ads.csv")
    truth = json.loads(truth_path.read_text())["parameters"]
    assert rows == 1500
    settings = AdCampaignsSettings(revenue_per_conversion=truth["revenue_per_conversion"], by=["gender"])
    result = run(tmp_path / "ads.csv", settings).summary
    assert result.diagnostics.ok, result.diagnostics.problems
    for campaign in result.campaigns:
        planted = truth["campaign"][campaign.campaign]
        assert campaign.ctr.interval[0] < planted["ctr"] < campaign.ctr.interval[1]
        # ROI is of the money actually spent: the planted conversion rate on the observed impressions and spend
        roi = planted["conversion_rate"] * campaign.impressions * truth["revenue_per_conversion"] / campaign.spend - 1
        assert campaign.roi.interval[0] < roi < campaign.roi.interval[1]


# ---------------------------------------------------------------- engines

def test_duckdb_and_spark_give_the_same_checks_and_statistics(spark, tmp_path):
    from shopper_bayes.analyses.ad_campaigns.stats import statistics

    for by in ([], ["age", "gender"]):
        duck, other = DATASET.load(AdsSettings(path=BUNDLED), tuple(by)), DATASET.load(AdsSettings(path=BUNDLED), tuple(by), engine=spark)
        assert other.table.engine is spark and duck.table.engine.name == "duckdb"
        assert other.cleaning.to_dict() == duck.cleaning.to_dict() and other.scope == duck.scope
        a, b = statistics(duck.table, by), statistics(other.table, by)
        assert (a.campaigns, a.audiences, a.levels) == (b.campaigns, b.audiences, b.levels)
        for name in ("groups", "ads", "triples"):
            pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_dtype=False, rtol=1e-12)
        np.testing.assert_array_equal(a.ad_group, b.ad_group)
    # Against pandas: sums per campaign and audience cell.
    raw = pd.read_csv(BUNDLED)
    raw["cell"] = raw["xyz_campaign_id"].astype(str) + " · " + raw["age"] + " / " + raw["gender"]
    theirs = raw.groupby("cell")[list(PANDAS.values())].sum()
    groups = b.groups.set_index("name").loc[theirs.index]
    for name, column in PANDAS.items():
        np.testing.assert_allclose(groups[name].to_numpy(), theirs[column].to_numpy(), rtol=1e-12)
    # A refusal names the same column and line in both engines; a missing audience label is dropped in both.
    for column, value in [("Clicks", "abc"), ("Approved_Conversion", "9")]:
        path = edited(tmp_path, 3, column, value)
        messages = []
        for engine in (None, spark):
            with pytest.raises(UserError) as caught:
                DATASET.load(AdsSettings(path=path), (), engine=engine)
            messages.append(caught.value.line())
        assert messages[0] == messages[1] and "line 3" in messages[0]
    repeated = edited(tmp_path, 5, "ad_id", "708746")
    with pytest.raises(UserError, match=r"line 5: ad '708746' already appeared on line 2"):
        DATASET.load(AdsSettings(path=repeated), (), engine=spark)
    missing = edited(tmp_path, 10, "age", "")
    assert DATASET.load(AdsSettings(path=missing), ("age",), engine=spark).cleaning.dropped == {"age missing": 1}

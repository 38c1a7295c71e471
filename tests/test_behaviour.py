"""Session behaviour per segment: numbers against plain pandas and scipy, differences, the
engaged-but-not-buying share, bad input and undefined cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shopper_bayes.analyses import session_behaviour
from shopper_bayes.analyses.session_behaviour.compute import bootstrap_means
from shopper_bayes.datasets.sessions import DATASET, SessionsConfig
from shopper_bayes.errors import UserError

from conftest import run_and_render

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "online_shopping_session_data.csv"
DURATIONS = ["Administrative_Duration", "Informational_Duration", "ProductRelated_Duration"]
PAGES = ["Administrative", "Informational", "ProductRelated"]


def run(dataset: SessionsConfig, **settings):
    return run_and_render(session_behaviour.ANALYSIS, "sessions", dataset,
                          lambda *needs, **kw: DATASET.load(dataset, needs, **kw), 5, **settings)


@pytest.fixture(scope="module")
def bundled():
    return run(SessionsConfig(path=BUNDLED))


@pytest.fixture(scope="module")
def raw():
    """The bundled sessions in November and December, read by pandas alone."""
    frame = pd.read_csv(BUNDLED).iloc[:-1]  # its last row is cut off
    return frame[frame["Month"].isin(["Nov", "Dec"])]


def test_means_medians_and_counts_equal_pandas(bundled, raw):
    assert bundled.engaged_threshold_seconds == raw["ProductRelated_Duration"].median()
    assert {cell.cell: cell.sessions for cell in bundled.cells} == raw["CustomerType"].value_counts().to_dict()
    for cell in bundled.cells:
        rows = raw[raw["CustomerType"] == cell.cell]
        total = rows[DURATIONS].sum(axis=1)
        assert cell.metric("total_seconds").mean.mean == pytest.approx(total.mean(), rel=1e-12)
        assert cell.metric("total_seconds").median == pytest.approx(total.median(), rel=1e-12)
        for name, column in zip(["administrative", "informational", "product"], DURATIONS):
            assert cell.metric(f"{name}_seconds").mean.mean == pytest.approx(rows[column].mean(), rel=1e-12)
            assert cell.metric(f"{name}_seconds").median == pytest.approx(rows[column].median(), rel=1e-12)
        for name, column in zip(["administrative", "informational", "product"], PAGES):
            assert cell.metric(f"{name}_pages").mean.mean == pytest.approx(rows[column].mean(), rel=1e-12)
        assert cell.metric("bounce_rate").mean.mean == pytest.approx(rows["BounceRates"].mean(), rel=1e-12)
        assert cell.metric("exit_rate").mean.mean == pytest.approx(rows["ExitRates"].mean(), rel=1e-12)
        engaged = int(((rows["ProductRelated_Duration"] > bundled.engaged_threshold_seconds) & (rows["Purchase"] == 0)).sum())
        positive = int((rows["PageValues"] > 0).sum())
        for name, count in (("engaged_not_buying", engaged), ("positive_page_value", positive),
                            ("purchase", int(rows["Purchase"].sum()))):
            share = cell.share(name)
            n = len(rows)
            assert share.count == count, name
            # Exact Beta(1 + k, 1 + n - k) posterior: mean and central 95% interval from scipy.
            assert share.share.mean == pytest.approx((count + 1) / (n + 2), rel=1e-12)
            assert share.share.interval == pytest.approx(stats.beta.ppf([0.025, 0.975], count + 1, n - count + 1), rel=1e-9)


def test_bootstrap_intervals_match_the_normal_interval_of_a_large_cell(bundled, raw):
    """With 3,722 sessions the mean's sampling distribution is close to normal: the Bayesian-bootstrap
    interval must be close to mean ± 1.96 sd / sqrt(n) (within 10% of its half-width)."""
    cell = bundled.cells[0]
    rows = raw[raw["CustomerType"] == cell.cell]
    for name, column in (("product_seconds", "ProductRelated_Duration"), ("exit_rate", "ExitRates")):
        half = 1.96 * rows[column].std() / np.sqrt(len(rows))
        low, high = cell.metric(name).mean.interval
        assert low == pytest.approx(rows[column].mean() - half, abs=0.1 * half)
        assert high == pytest.approx(rows[column].mean() + half, abs=0.1 * half)


def test_bootstrap_means_are_dirichlet_weighted_means():
    rng = np.random.default_rng(0)
    values = np.array([[1.0, 10.0], [2.0, 20.0], [6.0, 60.0]])
    draws = bootstrap_means(values, 20_000, rng)
    assert draws.mean(axis=0) == pytest.approx(values.mean(axis=0), rel=0.01)
    # Var of a Dirichlet(1,1,1)-weighted mean: sum (x - mean)^2 / (n (n + 1)).
    expected = ((values - values.mean(axis=0)) ** 2).sum(axis=0) / (3 * 4)
    assert draws.var(axis=0) == pytest.approx(expected, rel=0.05)
    assert (draws >= values.min(axis=0)).all() and (draws <= values.max(axis=0)).all()


def test_differences_against_the_reference(bundled, raw):
    assert bundled.reference == "Returning_Customer"  # the largest cell
    by = {(d.quantity, d.cell): d for d in bundled.differences}
    new, old = (raw[raw["CustomerType"] == name] for name in ("New_Customer", "Returning_Customer"))
    total = by[("total_seconds", "New_Customer")]
    assert total.difference.mean == pytest.approx(new[DURATIONS].sum(axis=1).mean() - old[DURATIONS].sum(axis=1).mean())
    assert total.difference.interval[1] < 0 and total.prob_greater.value < 0.001
    purchase = by[("purchase", "New_Customer")]
    assert purchase.difference.interval[0] > 0 and purchase.prob_greater.value > 0.999
    assert purchase.prob_greater.draws == bundled.resamples
    assert len(bundled.differences) == 9 + 3  # one cell against the reference: 9 metrics and 3 shares


def test_a_named_reference_and_two_segment_columns(tmp_path):
    result = run(SessionsConfig(path=BUNDLED), segments=["segment", "Weekend"], reference="New_Customer / TRUE",
                 resamples=200)
    assert result.reference == "New_Customer / TRUE"
    assert len(result.cells) == 4
    assert {d.cell for d in result.differences} == {cell.cell for cell in result.cells} - {"New_Customer / TRUE"}
    assert result.cells[0].levels.keys() == {"segment", "Weekend"}


def test_a_reference_that_is_no_cell_is_a_user_error():
    with pytest.raises(UserError, match="session_behaviour.reference"):
        run(SessionsConfig(path=BUNDLED), reference="Loyal_Customer", resamples=100)


def test_a_missing_column_names_the_file_and_column(tmp_path):
    with pytest.raises(UserError, match="NoSuchPages"):
        run(SessionsConfig(path=BUNDLED), page_types=[{"name": "x", "pages": "NoSuchPages", "seconds": "ProductRelated_Duration"}],
            engaged_page_type="x", resamples=100)


def test_a_cell_of_one_session_is_reported_not_an_error(tmp_path):
    """One session: its mean is its value and the interval collapses onto it; nothing raises."""
    frame = pd.read_csv(BUNDLED, dtype=str, keep_default_na=False).iloc[:200]
    frame.loc[frame.index[0], "CustomerType"] = "Other"
    path = tmp_path / "one.csv"
    frame.to_csv(path, index=False)
    result = run(SessionsConfig(path=path, filter={}), resamples=100)
    lonely = next(cell for cell in result.cells if cell.cell == "Other")
    value = float(frame.loc[frame.index[0], "ExitRates"])
    assert lonely.sessions == 1
    assert lonely.metric("exit_rate").mean.mean == value
    assert lonely.metric("exit_rate").mean.interval == pytest.approx((value, value), rel=1e-12)


def test_above_max_rows_a_seeded_engine_sample_is_used_and_said(raw):
    sampled = run(SessionsConfig(path=BUNDLED), max_rows=1000)
    assert sum(cell.sessions for cell in sampled.cells) == 1000
    assert sampled.scope["sample"] == f"a seeded random sample of 1,000 of the {len(raw):,} sessions (session_behaviour.max_rows)"
    assert "sample of 1,000" in session_behaviour.ANALYSIS.console(sampled)[0]
    again = run(SessionsConfig(path=BUNDLED), max_rows=1000)
    assert again.model_dump() == sampled.model_dump()
    # The sample's shares differ from the full data's but stay near them (1,000 of about 5,000 sessions).
    full = run(SessionsConfig(path=BUNDLED))
    for cell, whole in zip(sampled.cells, full.cells):
        assert abs(cell.share("purchase").share.mean - whole.share("purchase").share.mean) < 0.08


def test_the_target_cell_is_the_most_probably_highest_not_the_largest_mean(tmp_path):
    """A tiny extra segment (3 sessions, 1 engaged but not buying) has the largest posterior mean of that share (Beta(2, 3):
    40%), yet its share is above Returning_Customer's (38.7% of 3,722 sessions) with probability about one half only,
    which "highest: Other" hid. The probability that each cell's share is the highest equals the integral of f_i(x)
    times the product of the others' F_j(x) (exact Beta posteriors) within Monte Carlo error, sums to one per share,
    and the report and console name the cell where it is largest, with it."""
    from scipy import integrate

    lines = BUNDLED.read_text(encoding="utf-8").splitlines()[:-1]  # the bundled file's last row is cut off
    extra = ["90001,0,0,0,0,40,5000,0,0.02,0,0,FALSE,Nov,Other,0", "90002,0,0,0,0,1,0,0.2,0.2,0,0,FALSE,Nov,Other,0",
             "90003,0,0,0,0,2,10,0,0.1,0,0,FALSE,Dec,Other,1"]
    path = tmp_path / "sessions.csv"
    path.write_text("\n".join(lines + extra) + "\n", encoding="utf-8")
    result = run(SessionsConfig(path=path), resamples=20_000)
    shares = {cell.cell: cell.share("engaged_not_buying") for cell in result.cells}
    assert shares["Other"].count == 1 and shares["Other"].share.mean == max(share.share.mean for share in shares.values())
    posterior = {cell.cell: stats.beta(1 + shares[cell.cell].count, 1 + cell.sessions - shares[cell.cell].count)
                 for cell in result.cells}
    for name, share in shares.items():
        others = [dist for other, dist in posterior.items() if other != name]
        exact, _ = integrate.quad(lambda x: posterior[name].pdf(x) * np.prod([dist.cdf(x) for dist in others]), 0, 1,
                                  points=[dist.mean() for dist in posterior.values()], limit=200)
        assert share.prob_highest.value == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / 20_000) + 1e-4), name
    for quantity in ("engaged_not_buying", "positive_page_value", "purchase"):
        assert sum(cell.share(quantity).prob_highest.value for cell in result.cells) == pytest.approx(1.0, abs=1e-12)
    assert 0.45 < shares["Other"].prob_highest.value < 0.55
    top = max(shares, key=lambda name: shares[name].prob_highest.value)
    section = session_behaviour.ANALYSIS.section(result)
    decision = next(block for block in section.blocks if type(block).__name__ == "Decision")
    assert f"most probably highest in {top} (probability {shares[top].prob_highest.value:.1%} that" in decision.lines[0]
    assert f"engaged-but-not-buying: {top} (" in session_behaviour.ANALYSIS.console(result)[-1]

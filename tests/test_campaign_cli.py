"""`shopper-bayes campaign`: flags override the config, a matching saved posterior is reused, a stale
one is not, and the answer equals the Binomial tail averaged over the saved draws."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from conftest import write_config
from shopper_bayes.cli import main


@pytest.fixture(scope="module")
def saved_run(bundled_result, tmp_path_factory):
    """The bundled run's outputs (models/ included) in a folder of their own, with its config file."""
    from shopper_bayes.outputs import Staging
    from shopper_bayes.runner import render

    config, result = bundled_result
    folder = tmp_path_factory.mktemp("campaign_cli")
    with Staging(folder) as staging:
        render(result, config, staging)
        staging.commit()
    config_path = write_config(folder, correlations={"resamples": 2000})
    return config_path, folder


def test_flags_override_the_config_and_the_saved_posterior_is_reused(saved_run, capsys):
    config_path, folder = saved_run
    code = main(["campaign", "--config", str(config_path), "--output", str(folder), "--boost", "0.03",
                 "--boost-type", "absolute", "--sessions", "600", "--target", "120"])
    out = capsys.readouterr().out
    assert code == 0
    assert "reused" in out and "+3.0 pp" in out
    result = json.loads((folder / "reports" / "campaign.json").read_text())
    assert (result["boost"], result["boost_type"], result["sessions"], result["target"]) == (0.03, "absolute", 600, 120)
    assert result["posterior"].startswith("reused")
    tree = xr.open_datatree(folder / "models" / "purchase_rates_independent.nc", engine="h5netcdf")
    draws = tree.posterior["rate"].sel(segment="Returning_Customer").values.ravel()
    assert result["prob_at_least_target"] == pytest.approx(np.mean(stats.binom.sf(119, 600, draws + 0.03)), abs=1e-12)
    assert result["prob_at_least_target_plugin"] == pytest.approx(stats.binom.sf(119, 600, 728 / 3722 + 0.03), abs=1e-12)
    assert len(result["grid"]) == 13 * 3


@pytest.mark.parametrize("settings", [
    {"seed": 7, "sampler": {"draws": 300, "tune": 300, "chains": 2}},  # other seed and sampler
    {"sessions": {"filter": {"month": ["Nov"]}}},  # other counts, same model, priors and sampler
], ids=["other-settings", "other-counts"])
def test_a_posterior_fitted_with_other_settings_or_counts_is_not_reused(saved_run, settings, tmp_path, capsys):
    _, folder = saved_run
    other = write_config(tmp_path, **settings)
    (tmp_path / "models").symlink_to(folder / "models")
    code = main(["campaign", "--config", str(other), "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Posterior: fitted." in out and "reused" not in out
    result = json.loads((tmp_path / "reports" / "campaign.json").read_text())
    assert result["posterior"] == "fitted"


@pytest.mark.parametrize(("flags", "message"), [
    (["--target", "900"], "error: --target: target (900) is above sessions (500): it can never be reached"),
    (["--boost", "-1.5"], "error: --boost: a relative boost of -1.5 would remove every purchase"),
    (["--boost-sd", "-0.1"], "error: --boost-sd: Input should be greater than or equal to 0"),
    (["--segment", "Nobody"], "error: campaign.segment: 'Nobody' is not a level of segment"),
])
def test_bad_flags_are_one_line_and_keep_previous_outputs(saved_run, flags, message, capsys):
    config_path, folder = saved_run
    before = (folder / "reports" / "campaign.json").read_bytes() if (folder / "reports" / "campaign.json").exists() else None
    code = main(["campaign", "--config", str(config_path), "--output", str(folder), *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message), err
    assert err.count("\n") == 1
    after = (folder / "reports" / "campaign.json").read_bytes() if (folder / "reports" / "campaign.json").exists() else None
    assert after == before

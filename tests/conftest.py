"""Shared fixtures: the bundled data, config files written on the fly, one fitted run reused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "online_shopping_session_data.csv"


def write_config(folder: Path, **sections) -> Path:
    """A config.yaml in ``folder`` pointing at the bundled data, with sections overridden."""
    raw = {"sessions": {"path": str(BUNDLED)}, "figures": False}
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def bundled(tmp_path_factory):
    """One full analysis of the bundled data with the default config (the same as `make run`):
    ``(config, run, fits)``; ``run`` is a :class:`shopper_bayes.runner.Run` and ``fits`` the
    :class:`~shopper_bayes.inference.fit.FitCache` it used, so a re-analysis of the same config and
    sampler with it fits nothing again."""
    from shopper_bayes.config import load_config
    from shopper_bayes.inference.fit import FitCache
    from shopper_bayes.runner import analyse

    folder = tmp_path_factory.mktemp("bundled")
    config = load_config(write_config(folder, correlations={"resamples": 2000}))
    fits = FitCache(config.sampler, config.seed)
    return config, analyse(config, fits=fits), fits


@pytest.fixture(scope="session")
def bundled_result(bundled):
    """``(config, run)`` of the bundled analysis."""
    config, run, _ = bundled
    return config, run


def rate_trees(run) -> dict:
    """The fitted purchase-rate models of a run by model name (``independent``, ``hierarchical``)."""
    models = run.outputs["purchase_rates"].models
    return {name.removeprefix("purchase_rates_"): tree for name, tree in models.items()}

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
def bundled_result(tmp_path_factory):
    """One full analysis of the bundled data with the default config (the same as `make run`)."""
    from shopper_bayes.config import load_config
    from shopper_bayes.pipeline import analyse

    folder = tmp_path_factory.mktemp("bundled")
    config = load_config(write_config(folder, correlations={"resamples": 2000}))
    return config, analyse(config)

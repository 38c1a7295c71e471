"""Shared fixtures: the bundled data, config files written on the fly, one fitted run reused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "online_shopping_session_data.csv"
# The analyses the session tests check; the others have tests of their own.
SESSION_ANALYSES = ("purchase_rates", "campaign", "correlations")


def only(*keys: str) -> dict:
    """Config sections that switch off every registered analysis except ``keys``, for ``write_config``:
    a test of these analyses then neither waits for nor depends on analyses added later."""
    from shopper_bayes.analyses.registry import default_analyses

    return {analysis.config_name: {"enabled": False} for analysis in default_analyses() if analysis.key not in keys}


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


def run_and_render(analysis, dataset_key: str, dataset, load, seed: int, **settings):
    """Run ``analysis`` on ``dataset`` (``config.<dataset_key>``, read by ``load(*needs, **kw)``) with no MCMC
    (a fit fails the test), then render its summary after a round trip through JSON, as the report does:
    section, console line, headline and figures. Returns the summary read back."""
    from types import SimpleNamespace

    from shopper_bayes.analyses.base import Context
    from shopper_bayes.config import DiagnosticsConfig, SamplerConfig

    config = SimpleNamespace(seed=seed, sampler=SamplerConfig(), diagnostics=DiagnosticsConfig(), **{dataset_key: dataset})
    ctx = Context(config=config, settings=analysis.settings(**settings), load=load,
                  fit=lambda *args, **kwargs: pytest.fail("no MCMC expected"), seed=seed)
    output = analysis.run(ctx)
    result = analysis.result.model_validate_json(output.summary.model_dump_json())
    analysis.section(result), analysis.console(result), analysis.headline(result)
    for figure in output.figures:
        figure.draw()
    return result


def _files_using(folder: Path, fixture: str) -> set[str]:
    """The test files with a test or fixture that takes ``fixture`` (a fixture of this file: not redefined there)."""
    uses = re.compile(rf"^def \w+\([^)]*\b{fixture}\b", re.MULTILINE)
    defines = re.compile(rf"^def {fixture}\(", re.MULTILINE)
    return {path.name for path in folder.glob("test_*.py")
            if uses.search(text := path.read_text(encoding="utf-8")) and not defines.search(text)}


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile``, except that the test files using Spark go to one worker together: the JVM starts
    and warms up (about 20 s of both cores' time) once, not on each worker. The group has the most tests,
    so it is handed out first and the other worker takes the remaining files one by one. The files using the
    session's ``bundled`` run go to one worker together too, which then fits it once."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    folder = Path(__file__).parent
    spark_files = _files_using(folder, "spark")
    bundled_files = (_files_using(folder, "bundled") | _files_using(folder, "bundled_result")) - spark_files

    class Together(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            name = Path(scope).name
            return "spark" if name in spark_files else "bundled" if name in bundled_files else scope

    return Together(config, log)


@pytest.fixture(scope="session")
def spark():
    """One Spark engine (local mode) per test process: the JVM starts once, not once per test file."""
    from shopper_bayes.engine.base import SparkConfig, SparkEngine

    # The tests' queries are many and small, so work that pays back only on large data is switched off: the JVM's
    # optimising compiler (the Spark tests used about 20% less CPU with it off, in two alternated runs each),
    # Spark's code generation per query and its adaptive re-planning (the Spark tests alone: 151 s against 167 s),
    # and its generated code for single expressions too (three of the slowest Spark tests: 76.7 and 78.4 s against
    # 84.7 and 84.5 s). The results are the same; the product keeps Spark's defaults.
    engine = SparkEngine(SparkConfig(config={"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
                                             "spark.sql.codegen.wholeStage": "false",
                                             "spark.sql.codegen.factoryMode": "NO_CODEGEN",
                                             "spark.sql.adaptive.enabled": "false"}))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def bundled(tmp_path_factory):
    """The session analyses (purchase rates, campaign, correlations) of the bundled data with the default
    config (as `make run` does them): ``(config, run, fits)``; ``run`` is a
    :class:`shopper_bayes.runner.Run` and ``fits`` the :class:`~shopper_bayes.inference.fit.FitCache`
    it used, so a re-analysis of the same config and sampler with it fits nothing again."""
    from shopper_bayes.config import load_config
    from shopper_bayes.inference.fit import FitCache
    from shopper_bayes.runner import analyse

    folder = tmp_path_factory.mktemp("bundled")
    config = load_config(write_config(folder, correlations={"resamples": 2000}, **only(*SESSION_ANALYSES)))
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

"""The flow of a run, one direction: config -> datasets -> analyses -> outputs.

Each enabled analysis whose dataset is configured runs on its own rows (the dataset loaded with
what that analysis needs) and returns typed results and figures. Everything (summary, posteriors,
figures, tables, report, console text) is computed and rendered before anything is written; the
outputs are then staged and renamed into place, so a failure at any step leaves the previous
outputs whole. The runner knows analyses only through :class:`~shopper_bayes.analyses.base.Analysis`.
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from shopper_bayes.analyses.base import Analysis, Context, Output
from shopper_bayes.config import Core, registry
from shopper_bayes.datasets.base import Dataset, Loaded
from shopper_bayes.errors import UserError
from shopper_bayes.outputs import Staging

SCHEMA_VERSION = 2
PACKAGES = ["shopper-bayes", "pymc", "pytensor", "nutpie", "arviz", "arviz-stats", "arviz-plots", "pymc-marketing",
            "xarray", "numpy", "scipy", "pandas", "duckdb", "pydantic", "matplotlib"]


@dataclass
class Run:
    """A finished run in memory: the summary (JSON-ready), each analysis's output, and what was skipped."""

    summary: dict
    outputs: dict[str, Output] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def data_checksum(path: Path) -> str:
    """SHA-256 of a data file (or of every file of a folder, in name order)."""
    digest = hashlib.sha256()
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def shown_path(path: Path) -> str:
    """Paths inside the current directory are shown relative to it, so summaries compare across clones."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class Loader:
    """Loads each dataset once per distinct request, and remembers which analysis used which rows."""

    def __init__(self, config: Core, datasets: dict[str, Dataset]):
        self.config, self.datasets = config, datasets
        self.cache: dict[tuple, Loaded] = {}
        self.used: dict[str, dict] = {}  # analysis key -> its rows (cleaning report)

    def for_analysis(self, analysis: Analysis):
        dataset = self.datasets[analysis.dataset]
        settings = getattr(self.config, dataset.name)

        def load(*needs, **options) -> Loaded:
            key = (dataset.name, tuple(needs), tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v)
                                                            for k, v in options.items())))
            if key not in self.cache:
                self.cache[key] = dataset.load(settings, tuple(needs), **options)
            loaded = self.cache[key]
            self.used[analysis.key] = {"dataset": dataset.name, **loaded.cleaning.to_dict(), "scope": loaded.scope}
            return loaded
        return load


def _skip_reason(config: Core, analysis: Analysis, datasets: dict[str, Dataset]) -> str | None:
    if not getattr(config, analysis.config_name).enabled:
        return f"switched off ({analysis.config_name}.enabled: false)"
    if analysis.dataset not in datasets:
        return f"needs the {analysis.dataset} dataset, which this build does not know"
    if getattr(config, analysis.dataset) is None:
        return f"no {analysis.dataset} data configured (add a {analysis.dataset}: section with its path)"
    return None


def analyse(config: Core, fits=None, progress=None) -> Run:
    """Run every enabled analysis; nothing is written."""
    from shopper_bayes.inference.fit import FitCache

    datasets_list, analyses = registry(config)
    datasets = {dataset.name: dataset for dataset in datasets_list}
    step = progress or (lambda text: None)
    fits = fits or FitCache(config.sampler, config.seed)
    loader = Loader(config, datasets)
    run = Run(summary={})
    for analysis in analyses:
        reason = _skip_reason(config, analysis, datasets)
        if reason:
            run.skipped[analysis.key] = reason
            continue
        step(f"{analysis.title}")
        started = time.perf_counter()
        context = Context(config=config, settings=getattr(config, analysis.config_name),
                          load=loader.for_analysis(analysis), fit=fits.fit, step=step, seed=config.seed)
        run.outputs[analysis.key] = analysis.run(context)
        run.timings[analysis.key] = time.perf_counter() - started
    run.summary = _summary(config, run, loader, datasets_list, analyses)
    return run


def _summary(config: Core, run: Run, loader: Loader, datasets: tuple[Dataset, ...], analyses) -> dict:
    from shopper_bayes.inference.diagnostics import Diagnostics, combine

    data = {}
    for dataset in datasets:
        settings = getattr(config, dataset.name)
        if settings is None or not any(use["dataset"] == dataset.name for use in loader.used.values()):
            continue
        path = getattr(settings, "path", None)
        data[dataset.name] = {"title": dataset.title, "path": shown_path(path) if path else None,
                              "sha256": data_checksum(path) if path else None,
                              "analyses": {key: use for key, use in loader.used.items() if use["dataset"] == dataset.name}}
    summary = {"schema_version": SCHEMA_VERSION, "data": data}
    gates = {}
    for analysis in analyses:
        output = run.outputs.get(analysis.key)
        if output is None:
            continue
        summary[analysis.key] = output.summary.model_dump(mode="json")
        gate = getattr(output.summary, "diagnostics", None)
        if isinstance(gate, Diagnostics):
            gates[analysis.title] = gate
    summary["skipped"] = dict(run.skipped)
    summary["diagnostics"] = combine(gates).model_dump(mode="json") if gates else None
    summary["figures"] = ([{"name": spec.name, "file": f"figures/{spec.name}.png", "caption": spec.caption,
                            "alt": spec.alt, "analysis": key}
                           for key, output in run.outputs.items() for spec in output.figures] if config.figures else [])
    summary["config"] = shown_config(config)
    summary["versions"] = {"python": platform.python_version()} | {name: _version(name) for name in PACKAGES}
    return summary


def _version(name: str) -> str | None:
    try:
        return version(name)
    except Exception:  # a package that is not installed is reported as such, not an error
        return None


def shown_config(config: Core) -> dict:
    shown = config.model_dump(mode="json")
    datasets, _ = registry(config)
    for dataset in datasets:
        section = shown.get(dataset.name)
        if section and section.get("path"):
            section["path"] = shown_path(getattr(config, dataset.name).path)
    return shown


def render(run: Run, config: Core, staging: Staging) -> str:
    """Stage summary, posteriors, figures, tables and reports; return the console text. Nothing is
    moved into place here."""
    import matplotlib.pyplot as plt

    from shopper_bayes.report import console, render as report
    from shopper_bayes.report.style import style

    staging.write_json("reports/summary.json", run.summary)
    for output in run.outputs.values():
        for name, tree in output.models.items():
            tree.to_netcdf(staging.path(f"models/{name}.nc"), engine="h5netcdf")
        for name, table in output.tables.items():
            table.to_csv(staging.path(f"reports/tables/{name}.csv"), index=False)
        for relative, writer in output.files.items():
            writer(staging.path(relative))
    if config.figures:
        for output in run.outputs.values():
            for spec in output.figures:
                with style():
                    figure = spec.draw()
                    figure.savefig(staging.path(f"figures/{spec.name}.png"), format="png")
                plt.close(figure)
    _, analyses = registry(config)
    if config.report:
        report.write_report(run.summary, staging.folder if config.figures else None, staging, analyses)
    return console.format_run(run.summary, analyses)


def run(config: Core, output: str | Path, progress=None) -> tuple[Run, str, list[Path]]:
    """Analyse, render everything, then move the outputs into place together. Returns the run, the
    console text and the files written."""
    Staging(output).discard()  # fail on an unwritable folder now, not after the fit
    result = analyse(config, progress=progress)
    if progress:
        progress("figures and report")
    with Staging(os.fspath(output)) as staging:
        text = render(result, config, staging)
        written = staging.commit()
    return result, text, written

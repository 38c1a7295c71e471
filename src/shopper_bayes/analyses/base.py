"""The seam every analysis plugs into.

An analysis is one package under ``shopper_bayes/analyses/`` whose ``__init__`` defines
``ANALYSIS = Analysis(...)``; ``analyses/registry.py`` lists them in report order. The shared
machinery (config composition, datasets, fitting, outputs, report, console) only ever sees this
interface, never an analysis by name.

The flow for one analysis in a run::

    settings = config.<analysis.config_key>            # its own pydantic schema, with ``enabled``
    output = analysis.run(Context(...))                  # computes; returns typed results + figures
    summary.json[analysis.key] = output.summary          # a pydantic model, serialised at the edge
    report section  = analysis.section(output.summary)   # from the typed summary only
    console lines   = analysis.console(output.summary)
    headline        = analysis.headline(output.summary)  # executive-summary sentences

``shopper-bayes report`` re-renders from ``summary.json`` alone: it validates each entry back into
``analysis.summary`` and calls the same three renderers, so renderers never need the raw data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # heavy imports stay out of CLI start-up
    import pandas as pd
    import xarray as xr
    from matplotlib.figure import Figure

    from shopper_bayes.datasets.base import Loaded
    from shopper_bayes.report.document import Section, Sentence


class Settings(BaseModel):
    """Base of every analysis's config schema: unknown keys are errors; ``enabled`` switches it off."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)

    enabled: bool = True


class Result(BaseModel):
    """Base of every analysis's ``summary.json`` entry (typed; serialised once, at the edge)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class FigureSpec:
    """A figure an analysis offers: ``draw()`` returns a matplotlib Figure and writes nothing.

    The runner saves it as ``figures/<name>.png``; ``name`` must be unique across analyses, so
    prefix it with something of the analysis (``ads_roi``). ``alt`` is the text a screen reader
    gets; ``caption`` is printed under the figure. ``png`` holds the figure already drawn (the
    runner's worker processes draw it where the results live).
    """

    name: str
    draw: Callable[[], Figure] | None
    caption: str
    alt: str
    png: bytes | None = None


@dataclass
class Output:
    """What ``Analysis.run`` returns.

    ``summary``: the typed ``summary.json`` entry. ``figures``: drawn only when figures are on.
    ``models``: fitted posteriors saved as ``models/<name>.nc`` (names unique across analyses).
    ``tables``: extra tables saved as ``reports/tables/<name>.csv`` (report tables are saved
    anyway). ``files``: other outputs, relative path -> writer called with the staged path
    (e.g. ``reports/customers_clv.parquet``). ``lines``: extra console lines about the run itself
    (e.g. "fitted on a sample of 1,000,000 rows").
    """

    summary: Result
    figures: list[FigureSpec] = field(default_factory=list)
    models: dict[str, xr.DataTree] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: dict[str, Callable[[Path], None]] = field(default_factory=dict)


@dataclass
class Context:
    """What an analysis gets to work with.

    ``config``: the whole validated config (seed, sampler, diagnostics, the datasets' settings).
    ``settings``: this analysis's own config section. ``load(needs)``: the analysis's dataset,
    read and cleaned, keeping only the rows the analysis can use: ``needs`` names the optional
    columns it requires (a row missing one of them is dropped and counted, for this analysis only).
    ``fit(model, key)``: sample a PyMC model, reusing a fit of the same ``key`` from earlier in the
    run (the key must describe what the model was fitted to: counts, model, priors, sampler).
    ``step(text)``: report progress ("fitting the hierarchical model"). ``compute(function)``: ``function()``, the
    computing an analysis does on statistics in hand (a bootstrap's resamples). ``once(key, function)``:
    ``function()``, or what it gave in the run's statistics pass.

    The statistics pass: in a parallel run's worker every analysis is first run up to its first ``fit`` or
    ``compute``, which then stops it, so that every analysis's statistics come before any fit; then each is run
    again, its fits and computing at a lower CPU priority than the other worker's statistics. So an analysis
    computes its statistics before its first fit or computing, and keeps what the second run must not compute again
    with ``once`` (or the engine's ``Table.sql(keep=True)``, ``Engine.table_once``).
    """

    config: Any
    settings: Any
    load: Callable[..., Loaded]
    fit: Callable[..., xr.DataTree]
    step: Callable[[str], None] = lambda text: None
    seed: int = 0
    compute: Callable[[Callable[[], Any]], Any] = lambda function: function()
    once: Callable[[Any, Callable[[], Any]], Any] = lambda key, function: function()


@dataclass(frozen=True)
class Analysis:
    """One analysis on the seam.

    ``key``: its ``summary.json`` key. ``config_key``: its key in ``config.yaml`` (defaults to
    ``key``). ``dataset``: the dataset it reads (``sessions``, ``transactions``, ``ads``,
    ``orders``). ``settings``/``result``: its config schema and summary schema. ``alone``: it shares
    neither loaded rows nor fits with the other analyses of its dataset, so a parallel run may give it a
    worker of its own. ``requests(settings, config)``: the ``(needs, options)`` of each ``load`` its run
    will make, declared so the run cleans the dataset once for all of them (a load not declared is
    still served, by a cleaning of its own); the run makes these loads before any analysis runs, so a refusal of
    the data comes before minutes of fitting. ``check(ctx)``: refusals of this analysis's settings that the loaded
    data reveal (a segment the data lack), raised as :class:`~shopper_bayes.errors.UserError` before any analysis
    of the run starts; the analysis's own ``run`` must not rely on it having run.
    """

    key: str
    title: str
    dataset: str
    settings: type[Settings]
    result: type[Result]
    run: Callable[[Context], Output]
    section: Callable[[Result], Section]
    console: Callable[[Result], list[str]]
    headline: Callable[[Result], list[Sentence]] = lambda result: []
    config_key: str | None = None
    alone: bool = False
    requests: Callable[[Any, Any], list[tuple[tuple[str, ...], dict[str, Any]]]] | None = None
    check: Callable[[Context], None] | None = None

    @property
    def config_name(self) -> str:
        return self.config_key or self.key


class Estimate(BaseModel):
    """A posterior (or bootstrap) quantity: its mean and central interval. ``None`` where undefined,
    with ``note`` saying why (for example "no conversions: CAC undefined")."""

    mean: float | None
    interval: tuple[float | None, float | None]
    note: str | None = None


class Probability(BaseModel):
    """A Monte Carlo probability and the number of draws behind it: 0 or 1 from 4,000 draws means
    "below 1/4,000" or "above 1 - 1/4,000", never certainty (renderers use ``draws`` to say so)."""

    value: float
    draws: int


def one_load(settings, config) -> list:
    """``requests`` of an analysis whose run makes one load of its dataset with nothing more: ``ctx.load()``."""
    return [((), {})]


def lazy(target: str) -> Callable[[Context], Output]:
    """``run`` (or ``check``) given as ``"package.module:function"``, imported on the first call: an analysis package
    then imports no model library (PyMC, numba) until it runs, so ``shopper-bayes report`` and
    ``--help`` start fast."""
    module, name = target.split(":")

    def run(ctx: Context) -> Output:
        from importlib import import_module

        return getattr(import_module(module), name)(ctx)

    run.__qualname__ = run.__name__ = f"lazy({target})"
    return run

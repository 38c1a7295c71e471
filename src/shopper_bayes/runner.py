"""The flow of a run, one direction: config -> datasets -> analyses -> outputs.

Each enabled analysis whose dataset is configured runs on its own rows (the dataset loaded with
what that analysis needs) and returns typed results and figures. Everything (summary, posteriors,
figures, tables, report, console text) is computed and rendered before anything is written; the
outputs are then staged and renamed into place, so a failure at any step leaves the previous
outputs whole. The runner knows analyses only through :class:`~shopper_bayes.analyses.base.Analysis`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import time
import weakref
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path

from shopper_bayes.analyses.base import Analysis, Context, FigureSpec, Output
from shopper_bayes.config import Core, registry
from shopper_bayes.datasets.base import Dataset, Loaded
from shopper_bayes.engine.source import shown_path
from shopper_bayes.errors import MissingColumn, UserError
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
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of each analysis, every thread: the schedule's weights


def data_checksum(path: Path, dataset: str = "sessions", engine: str = "duckdb") -> str | None:
    """SHA-256 of a dataset's data files (one file, or the files of a folder or glob, in name order);
    None for a Spark table."""
    from shopper_bayes.engine.source import resolve

    source = resolve(path, dataset, engine)
    if source.table is not None:
        return None
    digest = hashlib.sha256()
    for file in source.files:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class Loader:
    """Cleans each dataset once for all the requests its analyses declare (``Analysis.requests``), serves each
    request from that (its own rules, order and counts), and remembers which analysis used which rows.

    ``prepared``: datasets a parent process cleaned for its forked workers (:meth:`hand_over`): the
    engine then reads their cleaned tables instead of cleaning again; ``cleaned``, their names. ``folder``:
    where the engine keeps its database (the system's temporary folder when None)."""

    def __init__(self, config: Core, datasets: dict[str, Dataset], prepared: tuple | None = None,
                 cleaned: frozenset[str] = frozenset(), folder: str | None = None):
        self.config, self.datasets, self.prepared, self.folder = config, datasets, prepared, folder
        self.cleaned = set(cleaned)  # datasets cleaned for the run (here, or by the parent process)
        self.cache: dict[tuple, Loaded] = {}
        self.used: dict[str, dict] = {}  # analysis key -> its rows (cleaning report)
        self._engine = None

    @property
    def engine(self):
        """The run's engine (``engine:`` in the config), started on first use, in this process."""
        if self._engine is None:
            from shopper_bayes.engine.base import connect

            self._engine = connect(self.config.engine, self.config.spark, self.folder)
            if self.prepared is not None:
                from shopper_bayes.engine.clean import adopt

                adopt(self._engine, *self.prepared)
        return self._engine

    def prepare(self, analyses: list[Analysis], step=lambda text: None) -> None:
        """Clean the datasets of ``analyses`` once, for every request they declare (engine datasets only); ``step``
        tells the console which (at 100 million rows this takes about a minute before the first analysis starts)."""
        from functools import partial

        from shopper_bayes.engine.clean import prepare

        loads, titles = [], []
        for analysis in analyses:
            dataset = self.datasets.get(analysis.dataset)
            requests = self._requests(analysis)
            if dataset is None or not dataset.engine or not requests:
                continue
            settings = getattr(self.config, dataset.name)
            loads += [partial(dataset.load, settings, tuple(needs), **options, engine=self.engine)
                      for needs, options in requests]
            if dataset.name not in self.cleaned and dataset.title not in titles:
                titles.append(dataset.title)
        if loads:
            if titles:
                step(f"reading and cleaning {', '.join(titles)}")
            prepare(self.engine, loads)
            self.cleaned |= {analysis.dataset for analysis in analyses}

    def _requests(self, analysis: Analysis) -> list:
        """The loads ``analysis`` declares (``Analysis.requests``); none when it declares none or its settings are
        refused (the analysis says so itself when it runs)."""
        if analysis.requests is None:
            return []
        try:
            return analysis.requests(getattr(self.config, analysis.config_name), self.config)
        except UserError:
            return []

    def refuse_early(self, analyses: list[Analysis], engine=None) -> None:
        """Read each dataset as far as its cleaning (each load ``analyses`` declare, made while ``engine``, the run's by
        default, plans: the file opened, its columns found, nothing computed) and raise what would stop the run,
        before any analysis starts in any process: a file that cannot serve its analyses, or a column that every
        analysis of a dataset lacks. A column only some of them lack is left to those (they are skipped)."""
        from shopper_bayes.engine.base import quote
        from shopper_bayes.engine.clean import Plan, Planned

        engine = engine or self.engine
        readers: dict[str, int] = {}
        lacking: dict[str, list[MissingColumn]] = {}
        for analysis in analyses:
            dataset = self.datasets.get(analysis.dataset)
            if dataset is None or not dataset.engine:
                continue
            first = dataset.name not in readers
            readers[dataset.name] = readers.get(dataset.name, 0) + 1
            settings = getattr(self.config, dataset.name)
            for needs, options in self._requests(analysis):
                plan = engine.planning = Plan(sketch=True)
                try:
                    dataset.load(settings, tuple(needs), **options, engine=engine)
                except Planned:
                    pass
                except MissingColumn as exc:
                    lacking.setdefault(dataset.name, []).append(exc)
                    break
                finally:
                    engine.planning = None
                if first and any(engine.sql(f"SELECT count(*) AS n FROM (SELECT 1 FROM {quote(view)} LIMIT 1)")["n"].iloc[0] == 0
                                 for view in plan.views):  # a file without rows: the load refuses it in its own words
                    dataset.load(settings, tuple(needs), **options, engine=engine)
                first = False
        for name, errors in lacking.items():
            if len(errors) == readers[name]:  # no analysis of these data could run
                raise errors[0]

    def serve(self, analyses: list[Analysis]) -> None:
        """Make every load ``analyses`` declare now, before the first of them runs: a refusal of the data (a comma
        inside a number of a column only the last analysis reads) then comes before any model is fitted. A load
        lacking a column is left to its analysis, which is skipped when it makes it."""
        for analysis in analyses:
            if analysis.dataset not in self.datasets:
                continue
            load = self.for_analysis(analysis)
            for needs, options in self._requests(analysis):
                try:
                    load(*needs, **options)
                except MissingColumn:
                    pass

    def hand_over(self) -> tuple | None:
        """The cleaned tables of this process for forked workers (``Loader(prepared=...)``): the engine's
        database file, closed here, and what it holds; None when there are none."""
        if self._engine is None or not self._engine.shared:
            return None
        shared = list(self._engine.shared.values())
        return self._engine.hand_over(), shared

    def close(self) -> None:
        """Stop the engine: a Spark session, or DuckDB and its database folder (the one handed over to workers too).
        Left to the garbage collector, the folder outlived a forked process, which exits without running finalizers."""
        if self._engine is not None:
            self._engine.close()

    def for_analysis(self, analysis: Analysis):
        dataset = self.datasets[analysis.dataset]
        settings = getattr(self.config, dataset.name)

        def load(*needs, **options) -> Loaded:
            key = (dataset.name, tuple(needs), tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v)
                                                            for k, v in options.items())))
            if key not in self.cache:
                if dataset.engine:
                    options = {**options, "engine": self.engine}
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
        if analysis.dataset in config.model_fields_set:  # `sessions: null`: the user chose it
            return f"no {analysis.dataset} data ({analysis.dataset}: null in the config)"
        return f"no {analysis.dataset} data configured (add the {analysis.dataset}: section with its path)"
    return None


class _Statistics(BaseException):
    """Raised by the ``fit`` and ``compute`` of :func:`_statistics`: the analysis has its statistics."""


def _statistics_done(*args, **kwargs):
    raise _Statistics


def _kept() -> Callable:
    """``Context.once`` of one analysis in a parallel run's worker: what it computes in the statistics pass is kept
    and handed to its run, then no longer kept (the Bag of Little Bootstraps' subsets of a large file are large)."""
    results: dict = {}

    def once(key, function):
        if key in results:
            return results.pop(key)
        results[key] = function()
        return results[key]

    return once


def _statistics(analyses: list[Analysis], contexts: dict[str, Context], step) -> tuple[dict, dict, dict]:
    """Each of ``analyses`` run up to its first fit or computing (``Context.compute``; its title the step, its own
    steps not shown): what its engine computes before (the sessions per cell, the per-customer table, the samples
    it draws) is computed now, for all of them, and kept for its run (``Context.once``, the engine's own tables). An
    analysis that neither fits nor computes runs whole: its output is returned, with the wall and CPU seconds of
    each. A column an analysis lacks is said when it runs."""
    outputs, timings, cpu = {}, {}, {}
    for analysis in analyses:
        step(analysis.title)
        started, used = time.perf_counter(), time.process_time()
        try:
            quiet = replace(contexts[analysis.key], fit=_statistics_done, compute=_statistics_done, step=lambda text: None)
            outputs[analysis.key] = analysis.run(quiet)
        except (_Statistics, MissingColumn):
            pass
        timings[analysis.key] = time.perf_counter() - started
        cpu[analysis.key] = time.process_time() - used
    return outputs, timings, cpu


class _Statisticians:
    """The workers of a parallel run still in their statistics pass: a barrier that the forked workers share.
    A worker done with its statistics waits there for the others before its first fit or bootstrap:
    a fit beside another worker's statistics took a share of the cores even at a lower priority (the last statistic of
    100 million sessions and purchases came 10 s later). Every group of the run has a worker of its own (``bins``)."""

    def __init__(self, workers: int):
        import multiprocessing

        self._barrier = multiprocessing.get_context("fork").Barrier(workers)

    def done(self, step: Callable[[str], None]) -> None:
        """This worker's statistics are done: back when every worker's are."""
        if self._barrier.n_waiting < self._barrier.parties - 1:  # not the last to come
            step("waiting for the other workers' statistics")
        self._barrier.wait()


def _run_analyses(config: Core, keys: list[str], fits, step, loader: Loader | None = None,
                  statistics_first: bool = False, statisticians: _Statisticians | None = None):
    """Run the analyses named by ``keys`` in registry order; returns their outputs, wall and CPU seconds,
    loader and the analyses that lacked a column. ``statistics_first``: every analysis's statistics before the
    first fit (:func:`_statistics`; a parallel run's workers, whose fits yield to the other workers' statistics);
    ``statisticians``: then wait for the other workers' statistics too."""
    from shopper_bayes.inference.fit import yielding

    datasets_list, analyses = registry(config)
    datasets = {dataset.name: dataset for dataset in datasets_list}
    loader = loader or Loader(config, datasets)
    selected = [analysis for analysis in analyses if analysis.key in keys]
    with ExitStack() as reading:
        if statistics_first:  # in a worker the reading and the statistics pass come before any fit holds memory
            reading.enter_context(loader.engine.statistics_memory())
        loader.prepare(selected, step)
        loader.serve(selected)
        # in a worker the computing yields to the other workers' statistics, and the statistics pass hands its results on
        hooks = (lambda: {"compute": yielding, "once": _kept()}) if statistics_first else dict
        contexts = {analysis.key: Context(config=config, settings=getattr(config, analysis.config_name),
                                          load=loader.for_analysis(analysis), fit=fits.fit, step=step, seed=config.seed,
                                          **hooks())
                    for analysis in selected}
        for analysis in selected:  # every analysis's settings against the data, before the first one fits anything
            if analysis.check is not None:
                try:
                    analysis.check(contexts[analysis.key])
                except MissingColumn:  # said when the analysis runs (and skips it)
                    pass
        outputs, timings, cpu = _statistics(selected, contexts, step) if statistics_first else ({}, {}, {})
    if statisticians is not None:
        statisticians.done(step)
    missing = {}
    for analysis in selected:
        if analysis.key in outputs:  # it neither fits nor computes: it ran whole in the statistics pass
            continue
        step(f"{analysis.title} (after the statistics)" if statistics_first else analysis.title)
        started, used = time.perf_counter(), time.process_time()
        try:
            outputs[analysis.key] = analysis.run(contexts[analysis.key])
        except MissingColumn as exc:  # this analysis cannot run on these data; the others of the dataset still can
            missing[analysis.key] = exc
        timings[analysis.key] = timings.get(analysis.key, 0.0) + time.perf_counter() - started
        cpu[analysis.key] = cpu.get(analysis.key, 0.0) + time.process_time() - used
    return outputs, timings, cpu, loader, missing


class _MoveFile:
    """A file an analysis wrote in a worker process, left on disk in a folder of its own (not sent through the pipe
    to the main process: CLV's per-customer table of 23 million customers is about 1 GB, and as bytes it took
    1 GB more in the worker and in the main process), then moved to where the outputs are staged. The main
    process deletes the folder once the object is gone (at the latest when it exits)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    @classmethod
    def _received(cls, path: Path) -> _MoveFile:
        received = cls(path)
        weakref.finalize(received, shutil.rmtree, received.path.parent, True)
        return received

    def __reduce__(self):  # unpickled in the main process: the folder's clean-up is registered there, not in the worker
        return _MoveFile._received, (self.path,)

    def __call__(self, path: Path) -> None:
        shutil.move(self.path, path)


def figure_png(spec: FigureSpec) -> bytes:
    """The figure as PNG bytes: drawn in the project's style (or already drawn by a worker process)."""
    if spec.png is not None:
        return spec.png
    import matplotlib.pyplot as plt

    from shopper_bayes.report.style import style

    with style():
        figure = spec.draw()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def _drawn(output: Output, figures: bool, made: list[Path]) -> Output:
    """``output`` with its figures drawn to PNG (none when figures are off: their drawing functions cannot be
    pickled) and its files written to disk (:class:`_MoveFile`), so it can leave a process. Each file's folder is
    added to ``made`` as soon as it exists."""
    import tempfile

    specs = [FigureSpec(spec.name, None, spec.caption, spec.alt, figure_png(spec))
             for spec in (output.figures if figures else [])]
    files = {}
    start = Path(_JOB.get("files") or Path(tempfile.gettempdir()) / "shopper-bayes-file-")  # see analyse
    for relative, writer in output.files.items():
        made.append(Path(tempfile.mkdtemp(prefix=start.name, dir=start.parent)))
        path = made[-1] / Path(relative).name
        writer(path)
        files[relative] = _MoveFile(path)
    return Output(summary=output.summary, figures=specs, models=output.models,
                  tables=output.tables, files=files)


def _all_drawn(outputs: dict[str, Output], figures: bool) -> dict[str, Output]:
    """:func:`_drawn` of every output of a worker; when one fails (or the worker is stopped), none of them reaches
    the main process, so the files written so far are deleted here."""
    made: list[Path] = []
    try:
        return {key: _drawn(output, figures, made) for key, output in outputs.items()}
    except BaseException:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
        raise


_JOB: dict = {}  # the config and progress of a parallel run, inherited by the forked workers


_STOPPED_BY: list[int] = []  # in a worker: the SIGTERM the main process sent it


def _stop(signum, frame):
    """A worker's SIGTERM: noted, then the worker's frames unwind. It may come again (the pool sends it once more
    when it sees a worker gone) and cut a clean-up short: the engines' folders are inside the run's folder, which
    the main process deletes. Never ignored here: an exception raised inside a finalizer is swallowed, and a worker
    that ignored the next SIGTERM then waited for work for ever."""
    _STOPPED_BY.append(signum)
    raise SystemExit(128 + signum)


def _stopped_by_the_main_process() -> None:
    """A worker's signals: Ctrl-C is the main process's to act on (it ends the workers, :func:`_stop_workers`); a
    SIGTERM from elsewhere (the pool, when it sees a worker gone) ends a worker without a traceback (idle or not),
    its temporary folders deleted as its frames unwind. A SIGTERM that came between its fork and here (noted by
    :func:`_signals_held`) ends it now: it has nothing to delete yet."""
    import signal

    from shopper_bayes.stopping import resend_swallowed_stops

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    resend_swallowed_stops(_STOPPED_BY)  # raised inside a finalizer (numba's, say), the stop was lost, with a traceback
    if (os.getpid(), signal.SIGTERM) in _HELD:
        os._exit(128 + signal.SIGTERM)


_HELD: list[tuple[int, int]] = []  # (process, signal): the stopping signals noted while the pool forked its workers


def _note(signum, frame):
    _HELD.append((os.getpid(), signum))


@contextmanager
def _signals_held():
    """Ctrl-C and SIGTERM noted, not acted on, while the pool forks its workers, then acted on as usual. A handler
    that raises during a fork raises inside the fork hooks, where Python ignores the exception: the stop was lost
    (the run went on), and with it the release of logging's lock, which its hooks take across the fork (the
    run then hung at its next import that logs)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    _HELD.clear()
    previous = {number: signal.signal(number, _note) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        noted = [number for pid, number in _HELD if pid == os.getpid()]
        if noted:
            signal.raise_signal(noted[0])  # its own handler now: Ctrl-C's or the CLI's SIGTERM raise here


@contextmanager
def inherited_kept():
    """What a process forked inside holds from this one is never garbage-collected there: this process's garbage is
    collected first, the rest frozen until the block ends. A DuckDB connection left in a reference cycle and collected
    in a forked child joined its engine's threads, which the child does not have; the child's own engine threads
    took over their stacks, so the join waited for one of them, forever (a test's forked workers hung)."""
    import gc

    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _worker(keys: list[str]):
    """:func:`_work` in a worker process. Stopped, the worker deletes its temporary folders and then exits rather
    than return to the pool, which would hand it the next group of analyses. (The exception may not be the
    signal's own: DuckDB, stopped during a query, raises RuntimeError('Query interrupted').)"""
    import gc

    import signal

    try:
        return _work(keys)
    except BaseException:
        if not _STOPPED_BY:
            raise
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # from here to the exit nothing is left to stop
    gc.collect()  # the frames the exception held are gone: their temporary folders' finalizers run now
    os._exit(128 + _STOPPED_BY[0])


def _work(keys: list[str]):
    import tempfile

    from shopper_bayes.inference.fit import FitCache

    if _JOB.get("folder"):  # the worker's temporary files in the run's folder, deleted whatever becomes of the worker
        tempfile.tempdir = _JOB["folder"]
    config, step = _JOB["config"], _JOB["step"]
    datasets_list, _ = registry(config)
    loader = Loader(config, {dataset.name: dataset for dataset in datasets_list}, _JOB.get("prepared"), _JOB["cleaned"],
                    _JOB["folder"])
    fits = FitCache(config.sampler, config.seed, yielding=True)  # the other workers' statistics before these fits
    try:
        outputs, timings, cpu, loader, missing = _run_analyses(config, keys, fits, step, loader, statistics_first=True,
                                                               statisticians=_JOB.get("statisticians"))
    finally:
        loader.close()
    drawn = _all_drawn(outputs, config.figures)  # its figures and files (970 MB for CLV at 23 million customers)
    step(None)  # this process's last step ends here, with them
    return drawn, timings, cpu, loader.used, missing


def _results(pool, queue: list[list[str]]) -> list:
    """Each group's result from the pool, in the queue's order, or the first exception raised in any worker as soon
    as it is raised. Waited for in short steps: a signal the kernel hands to another thread of this process (the
    engine's, the pool's) runs its handler only when this thread runs Python again, which a wait without a
    timeout put off until a worker ended its group."""
    from concurrent.futures import FIRST_EXCEPTION, wait

    with _signals_held(), inherited_kept():  # the pool forks its workers as the first group is submitted
        futures = [pool.submit(_worker, group) for group in queue]
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=0.25, return_when=FIRST_EXCEPTION)
        for future in done:
            if future.exception() is not None:
                raise future.exception()
    return [future.result() for future in futures]


def _stop_workers(pool, files: str) -> None:
    """Ends every worker of ``pool`` at once and deletes what they leave: their engines' folders and temporary files
    are in the run's folder (deleted by the caller), the folders of the files they hand over start with ``files``.
    SIGKILL, not SIGTERM: a worker stopped while it read its next task left the pool's queue half read, and another
    worker then printed a traceback (EOFError; 7 of 30 runs stopped as the workers started); and an idle worker
    now and then never acted on the pool's SIGTERM (the run waited for it for ever)."""
    import glob
    import multiprocessing

    for child in multiprocessing.active_children():
        child.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for folder in glob.glob(glob.escape(files) + "*"):
        shutil.rmtree(folder, ignore_errors=True)


def groups(config: Core, keys: list[str], last: dict[str, float] | None = None) -> list[list[str]]:
    """Analyses that read the same dataset run together, so they share its loading and their fits (an
    analysis marked ``alone`` is a group of its own); the groups come longest first by the CPU times of the last run (``last``), so the longest group does not start
    last. Groups with an analysis not timed yet keep their registry order, after the timed ones."""
    _, analyses = registry(config)
    by_dataset: dict[str, list[str]] = {}
    for analysis in analyses:
        if analysis.key in keys:
            by_dataset.setdefault(analysis.key if analysis.alone else analysis.dataset, []).append(analysis.key)
    last = last or {}
    timed = [group for group in by_dataset.values() if all(key in last for key in group)]
    untimed = [group for group in by_dataset.values() if group not in timed]
    return sorted(timed, key=lambda group: -sum(last[key] for key in group)) + untimed


def bins(queue: list[list[str]], workers: int, last: dict[str, float] | None = None) -> list[list[str]]:
    """The groups of ``queue`` (longest first) dealt to ``workers`` processes, each group to the one with the least CPU
    time so far (by ``last``; a group not timed counts as one second): each worker then runs its analyses' statistics
    before any of their fits (:func:`_statistics`), not one group's fits before the next group's statistics."""
    last = last or {}
    shares: list[list[str]] = [[] for _ in range(min(workers, len(queue)))]
    loads = [0.0] * len(shares)
    for group in queue:
        i = loads.index(min(loads))
        shares[i] += group
        loads[i] += sum(last.get(key, 1.0) for key in group)
    return shares


TIMINGS_FILE = "timings.json"


def last_timings() -> dict[str, float]:
    """CPU seconds each analysis took in the last run on this machine (empty when there was none): the work,
    which wall time measured beside another process overstates."""
    from shopper_bayes.inference.compiled import cache_dir

    try:
        return {key: float(value) for key, value in json.loads((cache_dir() / TIMINGS_FILE).read_text()).items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def _save_timings(timings: dict[str, float]) -> None:
    from shopper_bayes.inference.compiled import cache_dir

    path = cache_dir() / TIMINGS_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_suffix(f".{os.getpid()}.tmp")
        staged.write_text(json.dumps(last_timings() | timings, indent=1, sort_keys=True))
        staged.replace(path)
    except OSError:  # the schedule is only a hint: an unwritable cache folder changes no result
        pass


def _skip_missing(config: Core, run: Run, missing: dict, loader: Loader) -> None:
    """Analyses that lacked a column are skipped with the reason, unless no analysis of their dataset ran:
    then the data cannot serve the run at all, and the first such error stops it."""
    _, analyses = registry(config)
    dataset_of = {a.key: a.dataset for a in analyses}
    ran = {dataset_of[key] for key in run.outputs}
    for key, exc in missing.items():
        if dataset_of[key] not in ran:
            raise exc
        run.skipped[key] = f"cannot run on these data: {exc.what}"
        loader.used.pop(key, None)


def _check_paths(config: Core, names: list[str]) -> None:
    """A missing data file (or a folder or glob without data files) is reported before any analysis
    starts, not after the others have run."""
    from shopper_bayes.engine.source import resolve

    for name in dict.fromkeys(names):
        path = getattr(getattr(config, name), "path", None)
        if path is None:
            continue
        try:
            resolve(path, name, config.engine)
        except UserError as exc:
            if name in config.model_fields_set:
                raise
            # the section is absent, so its default path was used: say so, and how to have no such data
            raise UserError(exc.where, f"{exc.what} (the config has no {name}: section, so this default was used)",
                            f"add {name}: with its path, or {name}: null for no {name} data") from None


def analyse(config: Core, fits=None, progress=None, workers: int = 1) -> Run:
    """Run every enabled analysis; nothing is written. With ``workers`` > 1 the analyses of different
    datasets run in that many forked processes at once (their figures are then drawn there too).
    ``progress``: called with each step's name as it begins, and with None when a worker's last step ends."""
    from shopper_bayes.inference.fit import FitCache

    datasets_list, analyses = registry(config)
    datasets = {dataset.name: dataset for dataset in datasets_list}
    step = progress or (lambda text: None)
    run = Run(summary={})
    keys = []
    for analysis in analyses:
        reason = _skip_reason(config, analysis, datasets)
        if reason:
            run.skipped[analysis.key] = reason
        else:
            keys.append(analysis.key)
    selected = [analysis for analysis in analyses if analysis.key in keys]
    _check_paths(config, [analysis.dataset for analysis in selected])
    last = last_timings()
    queue = groups(config, keys, last)
    loader = Loader(config, datasets)
    missing: dict[str, MissingColumn] = {}
    if workers > 1 and len(queue) > 1 and config.engine == "duckdb":  # one Spark session serves the run
        import multiprocessing
        import tempfile
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        queue = bins(queue, workers, last)
        # a dataset that analyses in several workers read is cleaned here, once; the workers read its table
        dataset_of = {analysis.key: analysis.dataset for analysis in analyses}
        readers: dict[str, int] = {}
        for group in queue:
            for name in {dataset_of[key] for key in group}:
                readers[name] = readers.get(name, 0) + 1
        # every engine's database of the run in one folder, deleted here even when a worker was killed
        loader.folder = tempfile.mkdtemp(prefix="shopper-bayes-")
        try:
            from shopper_bayes.engine.base import connect

            early = connect("duckdb", folder=loader.folder)  # the workers start their own engines: not this one
            try:
                loader.refuse_early(selected, early)
            finally:
                early.close()
            loader.prepare([analysis for analysis in selected if readers[analysis.dataset] > 1], step)
            # the files the workers hand over live outside the run's folder, until the outputs are staged
            files = str(Path(tempfile.gettempdir()) / f"shopper-bayes-file-{Path(loader.folder).name}-")
            _JOB.update(config=config, step=step, prepared=loader.hand_over(), cleaned=frozenset(loader.cleaned),
                        folder=loader.folder, files=files, statisticians=_Statisticians(len(queue)))
            step(f"the analyses, in {min(workers, len(queue))} worker processes")  # their own steps come in between
            with ProcessPoolExecutor(min(workers, len(queue)), mp_context=multiprocessing.get_context("fork"),
                                     initializer=_stopped_by_the_main_process) as pool:
                try:
                    for outputs, timings, cpu, used, lacking in _results(pool, queue):
                        run.outputs |= outputs
                        run.timings |= timings
                        run.cpu |= cpu
                        loader.used |= used
                        missing |= lacking
                except BaseException as exc:  # Ctrl-C or SIGTERM to this process (cli), a refusal or an error in
                    # one worker, or a worker stopped from outside (killed, out of memory): the others stop now
                    _stop_workers(pool, files)
                    if isinstance(exc, BrokenProcessPool):
                        raise UserError("--workers", "a worker process was stopped before its analyses finished "
                                        "(killed, or out of memory?)", "run again; --workers 1 needs less memory") from None
                    raise
        finally:
            _JOB.clear()
            loader.close()
            shutil.rmtree(loader.folder, ignore_errors=True)
        run.outputs = {key: run.outputs[key] for key in keys if key in run.outputs}
        loader.used = {key: loader.used[key] for key in keys if key in loader.used}
    else:
        try:
            loader.refuse_early(selected)
            run.outputs, run.timings, run.cpu, loader, missing = _run_analyses(
                config, keys, fits or FitCache(config.sampler, config.seed), step, loader)
        finally:
            loader.close()
    _save_timings(run.cpu)
    _skip_missing(config, run, missing, loader)
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
                              "sha256": data_checksum(path, dataset.name, config.engine) if path else None,
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
    from shopper_bayes.report import console, render as report

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
                staging.path(f"figures/{spec.name}.png").write_bytes(figure_png(spec))
    _, analyses = registry(config)
    if config.report:
        report.write_report(run.summary, staging.folder if config.figures else None, staging, analyses)
    return console.format_run(run.summary, analyses)


def run(config: Core, output: str | Path, progress=None, workers: int = 1) -> tuple[Run, str, list[Path]]:
    """Analyse, render everything, then move the outputs into place together. Returns the run, the
    console text and the files written."""
    Staging(output).discard()  # fail on an unwritable folder now, not after the fit
    result = analyse(config, progress=progress, workers=workers)
    if progress:
        progress("figures and report")
    with Staging(os.fspath(output)) as staging:
        text = render(result, config, staging)
        written = staging.commit()
    return result, text, written

"""A parallel run's statistics before its fits (issue 18): each worker computes every analysis's statistics before the
first fit, each fit yields the cores to the other workers' statistics, and the results are those of a plain run."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pymc as pm

from conftest import ROOT, only, write_config
from shopper_bayes import runner
from shopper_bayes.config import SamplerConfig, load_config
from shopper_bayes.engine.base import DuckDBEngine
from shopper_bayes.inference import fit as fit_module
from shopper_bayes.inference.fit import FIT_NICENESS, FitCache


def _beta_model() -> pm.Model:
    with pm.Model() as model:
        rate = pm.Beta("rate", 1, 1)
        pm.Binomial("buyers", n=40, p=rate, observed=9)
    return model


def test_a_yielding_fit_runs_at_a_lower_priority_than_its_caller_and_gives_the_same_posterior():
    """The model is built and fitted on a thread whose niceness is the caller's plus FIT_NICENESS (on Linux a
    thread's own, inherited by the threads it starts: nutpie's chains); the caller's is unchanged, and the
    posterior is the one a plain fit gives."""
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = []
    draws = np.random.default_rng(1).beta(10, 32, size=(2, 50))

    def posterior():
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return {"rate": draws}

    trees = {}
    for yielding in (True, False):
        fits = FitCache(SamplerConfig(chains=2, draws=50), seed=3, yielding=yielding)
        trees[yielding] = fits.fit(_beta_model, "beta", posterior=posterior, groups=())
    assert seen == [own + FIT_NICENESS, own]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own
    np.testing.assert_array_equal(trees[True]["posterior"]["rate"].values, trees[False]["posterior"]["rate"].values)


def test_groups_are_dealt_longest_first_to_the_worker_with_the_least_time():
    """Each worker gets one list of analyses (it computes all their statistics before any fit): the groups, longest
    first, each to the worker with the least CPU time so far; an untimed analysis counts one second."""
    last = {"transactions": 150.0, "drivers": 50.0, "rates": 30.0, "behaviour": 20.0, "ads": 10.0}
    queue = [["transactions"], ["drivers"], ["rates", "behaviour"], ["ads"], ["orders"]]
    assert runner.bins(queue, 2, last) == [["transactions"], ["drivers", "rates", "behaviour", "ads", "orders"]]
    assert runner.bins(queue, 3, last) == [["transactions"], ["drivers", "ads"], ["rates", "behaviour", "orders"]]
    assert runner.bins([["a"], ["b"]], 4, {}) == [["a"], ["b"]]


def test_a_worker_computes_every_statistic_before_the_first_fit_once_and_gives_a_plain_runs_results(tmp_path, monkeypatch):
    """With ``statistics_first`` (a parallel run's workers), the sessions per cell, the drivers' sample and CLV's
    per-customer tables are all computed before the first model is fitted, each once (the run after the statistics
    pass finds them kept), the correlations' resampling goes through ``yielding``, and the summaries are those of a
    run without it."""
    path = write_config(tmp_path, transactions={"path": str(ROOT / "data" / "cdnow_transactions.txt"),
                                                "columns": {"amount": "dollar_value"}, "calibration_end": "1997-09-30"},
                        sampler={"draws": 200, "tune": 200, "chains": 2},
                        drivers={"max_rows": 2000, "draws": 200, "tune": 100}, clv={"draws": 200, "tune": 200},
                        correlations={"resamples": 200}, **only("purchase_rates", "campaign", "correlations", "drivers", "clv"))
    config = load_config(path)
    keys = ["purchase_rates", "campaign", "correlations", "drivers", "clv"]
    events: list[str] = []
    plain_yielding = fit_module.yielding

    def yielding(function):  # the bootstrap's resampling, at a lower priority in a worker
        events.append("computed")
        return plain_yielding(function)

    monkeypatch.setattr(fit_module, "yielding", yielding)
    for name in ("sql", "fetch", "create_table"):
        plain = getattr(DuckDBEngine, name)

        def logged(self, *args, _plain=plain, **kwargs):
            events.append("query")
            return _plain(self, *args, **kwargs)

        monkeypatch.setattr(DuckDBEngine, name, logged)
    fit = FitCache.fit

    def logged_fit(self, *args, **kwargs):
        events.append("fit")
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(FitCache, "fit", logged_fit)
    summaries, counts = {}, {}
    for first in (True, False):
        events.clear()
        outputs, *_ = runner._run_analyses(config, keys, FitCache(config.sampler, config.seed), lambda text: None,
                                           statistics_first=first)
        summaries[first] = {key: json.loads(output.summary.model_dump_json()) for key, output in outputs.items()}
        counts[first] = events.count("query")
        assert events.count("computed") == (1 if first else 0)
        if first:
            before = events[:events.index("fit")]
            after = events[events.index("fit"):]
            assert after.count("query") == 0, after  # (CLV's customers come out in batches for their predictions)
            assert before.count("query") > 10
    assert counts[True] == counts[False]
    assert summaries[True] == summaries[False]


def test_the_statistics_pass_stops_each_analysis_at_its_fit_or_computing_and_hands_its_statistics_on():
    """In the statistics pass an analysis runs up to its first fit or computing (``ctx.compute``: a bootstrap), so
    that computing neither holds back the next analyses' statistics nor shares the cores with the other worker's;
    what it kept with ``ctx.once`` is handed to its run, once; one that neither fits nor computes runs whole. Its
    title is the step; its own steps are not shown."""
    from types import SimpleNamespace

    from shopper_bayes.analyses.base import Context

    ran, shown = [], []

    def bootstrap(ctx):
        sample = ctx.once("sample", lambda: ran.append("sampled") or [1, 2, 3])
        ctx.step("resampling")
        return ctx.compute(lambda: ran.append("resampled") or sum(sample))

    def model(ctx):
        ran.append("counted")
        ctx.fit(None, "key")
        ran.append("fitted")

    def table(ctx):
        ran.append("tabled")
        return "table"

    analyses = [SimpleNamespace(key=name, title=name.title(), run=run)
                for name, run in (("bootstrap", bootstrap), ("model", model), ("table", table))]
    once = runner._kept()
    contexts = {analysis.key: Context(config=None, settings=None, load=None, fit=lambda *a, **k: None, once=once)
                for analysis in analyses}
    outputs, timings, cpu = runner._statistics(analyses, contexts, shown.append)
    assert ran == ["sampled", "counted", "tabled"]
    assert outputs == {"table": "table"} and set(timings) == set(cpu) == {"bootstrap", "model", "table"}
    assert shown == ["Bootstrap", "Model", "Table"]
    assert bootstrap(contexts["bootstrap"]) == 6 and ran[-1] == "resampled"  # the run: the sample handed on
    assert once("sample", lambda: "drawn again") == "drawn again"  # handed on once, then no longer kept


def test_a_workers_reading_and_statistics_pass_give_duckdb_more_memory_and_its_fits_do_not(tmp_path, monkeypatch):
    """In a worker (``statistics_first``) DuckDB may take STATISTICS_MEMORY while it reads, cleans and computes every
    analysis's statistics, and is back at its own limit before the first fit; a plain run keeps its own limit."""
    config = load_config(write_config(tmp_path, sampler={"draws": 100, "tune": 100, "chains": 2},
                                      rates={"model": "hierarchical", "compare_models": False}, **only("purchase_rates")))
    engines, seen = [], []

    def limit(engine) -> str:
        return engine.con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]

    plain_sql = DuckDBEngine.sql

    def sql(self, query):
        engines.append(self)
        seen.append(("query", limit(self)))
        return plain_sql(self, query)

    plain_fit = FitCache.fit

    def fit(self, *args, **kwargs):
        seen.append(("fit", limit(engines[-1])))
        return plain_fit(self, *args, **kwargs)

    monkeypatch.setattr(DuckDBEngine, "sql", sql)
    monkeypatch.setattr(FitCache, "fit", fit)
    expected = {}
    for first in (True, False):
        seen.clear()
        runner._run_analyses(config, ["purchase_rates"], FitCache(config.sampler, config.seed), lambda text: None,
                             statistics_first=first)
        own, more = limit(engines[-1]), "953.6 MiB"  # DuckDB shows 500MB and 1GB in MiB
        assert own == "476.8 MiB" and DuckDBEngine.STATISTICS_MEMORY == "1GB"
        fitted = seen.index(next(event for event in seen if event[0] == "fit"))
        expected[first] = {event[1] for event in seen[:fitted]}, {event[1] for event in seen[fitted:]}
    assert expected[True] == ({more}, {own})
    assert expected[False] == ({own}, {own})


def test_a_worker_done_with_its_statistics_waits_for_every_other_workers_before_its_fits():
    """Three forked workers end their statistics 0, 0.6 and 1.2 s in: none goes on to its fits before the last one is
    done, the first two say they wait, and the last goes straight on."""
    import multiprocessing
    import time

    statisticians = runner._Statisticians(3)
    context = multiprocessing.get_context("fork")
    times = context.Queue()

    def worker(delay: float):
        time.sleep(delay)
        arrived, said = time.monotonic(), []
        statisticians.done(said.append)
        times.put((delay, arrived, time.monotonic(), said))

    processes = [context.Process(target=worker, args=(delay,)) for delay in (0.0, 0.6, 1.2)]
    with runner.inherited_kept():
        for process in processes:
            process.start()
    found = sorted(times.get(timeout=30) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    last_arrival = max(arrived for _, arrived, _, _ in found)
    assert all(left >= last_arrival for _, _, left, _ in found)
    assert [said for *_, said in found] == [["waiting for the other workers' statistics"]] * 2 + [[]]
    assert found[0][2] - found[0][1] > 1.0  # the first waited for the last

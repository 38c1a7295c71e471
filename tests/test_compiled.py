"""Compile once: a model structure is compiled once per run and reused with other data, a frozen model is
never reused for other data, and nutpie's callbacks cached on disk compute the model's own log density.
A fit runs BLAS on one thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from conftest import ROOT

SAMPLER = {"draws": 400, "tune": 300, "chains": 2}


def counts(purchases: list[int], sessions: list[int]) -> xr.Dataset:
    segment = ["a", "b"]
    return xr.Dataset({"purchases": ("segment", np.array(purchases)), "sessions": ("segment", np.array(sessions))},
                      coords={"segment": segment})


@pytest.fixture
def compile_count(monkeypatch):
    """Counts the calls of nutpie's compile function."""
    import nutpie

    calls = []
    plain = nutpie.compile_pymc_model

    def counted(*args, **kwargs):
        calls.append(1)
        return plain(*args, **kwargs)

    monkeypatch.setattr(nutpie, "compile_pymc_model", counted)
    return calls


def rates_model(data: xr.Dataset):
    from shopper_bayes.analyses.purchase_rates.config import RatesConfig
    from shopper_bayes.analyses.purchase_rates.model import build_model

    return build_model(data, RatesConfig(), "independent")


def test_two_fits_of_one_structure_with_other_data_compile_once(compile_count, tmp_path, monkeypatch):
    """The independent Beta-binomial model (data in ``pm.Data``) fitted by NUTS to two sets of counts
    through one FitCache, its containers named as inputs: one compilation, and each posterior matches its
    own closed form Beta(1 + k, 1 + n - k), so the second fit really used the second data."""
    from shopper_bayes.config import SamplerConfig
    from shopper_bayes.inference.fit import FitCache

    monkeypatch.setenv("SHOPPER_BAYES_CACHE_DIR", str(tmp_path))
    fits = FitCache(SamplerConfig(**SAMPLER), seed=3)
    data = [counts([30, 5], [100, 80]), counts([70, 40], [120, 90])]
    inputs = ("sessions", "observed_purchases")
    trees = [fits.fit(lambda d=d: rates_model(d), f"test|{i}", groups=("log_likelihood",), inputs=inputs) for i, d in enumerate(data)]
    assert len(compile_count) == 1 and fits.compiled.compilations == 1
    for tree, d in zip(trees, data):
        k, n = d["purchases"].values, d["sessions"].values
        draws = tree.posterior["rate"].values.reshape(-1, 2)
        exact = stats.beta(1 + k, 1 + n - k)
        ess = 200  # far below the 800 draws: a loose Monte Carlo error for the check
        assert np.all(np.abs(draws.mean(axis=0) - exact.mean()) < 4 * exact.std() / np.sqrt(ess))
        assert list(tree.posterior["rate"].coords["segment"].values) == ["a", "b"]
        assert list(tree.observed_data["purchases"].values) == list(k)


def test_frozen_models_with_other_data_are_compiled_apart(compile_count, tmp_path, monkeypatch):
    """Without inputs the data are frozen into the code: other counts are another structure (two
    compilations), the same counts with other sampler settings the same one."""
    from shopper_bayes.analyses.purchase_rates.config import RatesConfig
    from shopper_bayes.analyses.purchase_rates.model import build_model
    from shopper_bayes.config import SamplerConfig
    from shopper_bayes.inference.compiled import structure_key
    from shopper_bayes.inference.fit import FitCache

    monkeypatch.setenv("SHOPPER_BAYES_CACHE_DIR", str(tmp_path))
    first, second = counts([30, 5], [100, 80]), counts([70, 40], [120, 90])
    assert structure_key(rates_model(first)) == structure_key(rates_model(first))
    assert structure_key(rates_model(first)) != structure_key(rates_model(second))
    inputs = ("sessions", "observed_purchases")
    assert structure_key(rates_model(first), inputs) == structure_key(rates_model(second), inputs)
    hierarchical = [build_model(data, RatesConfig(), "hierarchical", {"segment": True}) for data in (first, second)]
    assert structure_key(hierarchical[0], inputs) == structure_key(hierarchical[1], inputs)  # its transforms too
    assert structure_key(hierarchical[0]) != structure_key(hierarchical[1])
    fits = FitCache(SamplerConfig(**SAMPLER), seed=3)
    fits.fit(lambda: rates_model(first), "a", groups=("log_likelihood",))
    fits.fit(lambda: rates_model(first), "b", groups=("log_likelihood",), draws=200)
    tree = fits.fit(lambda: rates_model(second), "c", groups=("log_likelihood",))
    assert len(compile_count) == 2
    k, n = second["purchases"].values, second["sessions"].values
    assert np.all(np.abs(tree.posterior["rate"].values.reshape(-1, 2).mean(axis=0) - (1 + k) / (2 + n)) < 0.03)


def test_a_fit_runs_blas_on_one_thread_and_restores_it(monkeypatch, tmp_path):
    """nutpie runs the chains on the cores: its sampling and the predictive draws see one BLAS thread; the
    process's setting (two threads here) is back afterwards."""
    import nutpie
    from threadpoolctl import threadpool_info, threadpool_limits

    from shopper_bayes.config import SamplerConfig
    from shopper_bayes.inference import fit

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}

    seen = {}
    for owner, name in ((nutpie, "sample"), (fit, "_predictive")):
        def recorded(*args, _plain=getattr(owner, name), _name=name, **kwargs):
            seen[_name] = blas_threads()
            return _plain(*args, **kwargs)
        monkeypatch.setattr(owner, name, recorded)
    monkeypatch.setenv("SHOPPER_BAYES_CACHE_DIR", str(tmp_path))
    with threadpool_limits(2, user_api="blas"):
        assert blas_threads() == {2}
        fit.sample(rates_model(counts([30, 5], [100, 80])), SamplerConfig(draws=100, tune=100, chains=2), seed=1)
        assert blas_threads() == {2}
    assert seen == {"sample": {1}, "_predictive": {1}}


CALLBACKS = textwrap.dedent("""
    import ctypes, json, sys
    import numpy as np, pymc as pm
    from shopper_bayes.inference.compiled import compile_model

    for y in json.loads(sys.argv[1]):  # models compiled one after the other in this process
        with pm.Model() as model:
            mu = pm.Normal("mu", 0, 2)
            sigma = pm.HalfNormal("sigma", 1)
            pm.Normal("y", mu, sigma, observed=np.array(y))
        compiled = compile_model(model)
        values = {"mu": 0.3, "sigma_log__": -0.2}
        point = np.array([values[name] for name in compiled.shape_info[0][:2]])  # nutpie's order of the free variables
        grad, logp = np.zeros(2), np.zeros(1)
        pointer = ctypes.POINTER(ctypes.c_double)
        status = compiled.compiled_logp_func.ctypes(2, point.ctypes.data_as(pointer), grad.ctypes.data_as(pointer),
                                                    logp.ctypes.data_as(pointer),
                                                    ctypes.c_void_p(compiled.user_data.ctypes.data))
        reference = model.compile_logp()(values)
        dlogp = dict(zip(["mu", "sigma_log__"], model.compile_dlogp()(values)))
        print(json.dumps({"status": status, "logp": float(logp[0]), "grad": grad.tolist(),
                          "reference": float(reference), "dlogp": [float(dlogp[name]) for name in compiled.shape_info[0][:2]],
                          "hits": compiled.compiled_logp_func._cache_hits + compiled.compiled_expand_func._cache_hits}))
""")


def callbacks(cache, *ys) -> list[dict]:
    env = os.environ | {"SHOPPER_BAYES_CACHE_DIR": str(cache), "SHOPPER_BAYES_DISK_CACHE": "1", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", CALLBACKS, json.dumps(ys)], env=env, capture_output=True, text=True,
                          check=True)
    return [json.loads(line) for line in done.stdout.strip().splitlines()[-len(ys):]]


def test_callbacks_cached_on_disk_are_reused_across_processes_and_compute_their_own_model(tmp_path):
    """A second process loads both callbacks from the cache folder and writes no code (only the record that it
    checked them); a model with other data (other constants) gets a log density of its own, not the first one's
    code. Each process's log density and gradient equal PyMC's own at the same point."""
    def files():
        return {path.name: path.stat().st_mtime_ns for path in (tmp_path / "numba").glob("*") if path.name != "checked"}

    [first] = callbacks(tmp_path, [1.0, 2.0, 0.5])
    written = files()
    again, other = callbacks(tmp_path, [1.0, 2.0, 0.5], [5.0, 7.0, 6.5, 9.0])  # a second process, then a second model
    after = files()
    assert {name: after.get(name) for name in written} == written and again["hits"] == 2
    new = [name for name in after if name not in written and not name.endswith(".lock")]
    # the log density embeds the data: a file of its own; the expansion to (mu, sigma) does not: shared
    assert new and all("logp_numba" in name for name in new)
    assert [sum(name.endswith(".nbc") and callback in name for name in after)
            for callback in ("logp_numba", "expand_numba")] == [2, 1]
    for result in (first, again, other):
        assert result["status"] == 0
        assert result["logp"] == pytest.approx(result["reference"], rel=1e-9)
        assert result["grad"] == pytest.approx(result["dlogp"], rel=1e-9)
    assert other["logp"] != pytest.approx(first["logp"])


FORCED = textwrap.dedent("""
    import ctypes, hashlib, json, sys
    import numpy as np, pymc as pm
    from shopper_bayes.inference import compiled as module

    module.callback_key = lambda function, signature: hashlib.sha256(function.__qualname__.encode()).hexdigest()
    checked = module._agrees

    def refuse(compiled, frozen):
        raise AssertionError("checked again")

    for y, check in json.loads(sys.argv[1]):  # models compiled one after the other in this process
        module._agrees = {"trust": lambda compiled, frozen: True, "no-check": refuse}.get(check, checked)
        with pm.Model() as model:
            mu = pm.Normal("mu", 0, 2)
            sigma = pm.HalfNormal("sigma", 1)
            pm.Normal("y", mu, sigma, observed=np.array(y))
        compiled = module.compile_model(model)
        values = {"mu": 0.3, "sigma_log__": -0.2}
        point = np.array([values[name] for name in compiled.shape_info[0][:2]])
        grad, logp = np.zeros(2), np.zeros(1)
        pointer = ctypes.POINTER(ctypes.c_double)
        status = compiled.compiled_logp_func.ctypes(2, point.ctypes.data_as(pointer), grad.ctypes.data_as(pointer),
                                                    logp.ctypes.data_as(pointer),
                                                    ctypes.c_void_p(compiled.user_data.ctypes.data))
        print(json.dumps({"status": status, "logp": float(logp[0]), "reference": float(model.compile_logp()(values)),
                          "from_cache": module._from_cache(compiled)}))
""")


def test_a_model_is_checked_against_its_cached_code_once_and_another_models_code_is_refused(tmp_path):
    """With every model's callbacks forced under one disk key: the first process that loads a model's callbacks
    from the cache checks them and records it; a later process loading the same model's code does not check
    again (the check would raise here). A second model (other data), which finds the first one's code under the
    same key and is not covered by that record, is checked, refused and compiled afresh, so its log density is
    its own. Trusting the loaded code (the check switched off) gives the first model's log density for the
    second model. (The last three in one process: each model's callbacks are looked up on disk afresh.)"""
    def run(*steps):
        env = os.environ | {"SHOPPER_BAYES_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT / "src")}
        done = subprocess.run([sys.executable, "-c", FORCED, json.dumps(steps)], env=env, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return [json.loads(line) for line in done.stdout.strip().splitlines()[-len(steps):]]

    [first] = run(([1.0, 2.0, 0.5], "check"))
    assert not first["from_cache"] and first["logp"] == pytest.approx(first["reference"], rel=1e-9)
    assert not list((tmp_path / "numba").glob("checked/*"))
    [loaded] = run(([1.0, 2.0, 0.5], "check"))
    assert loaded["from_cache"] and len(list((tmp_path / "numba").glob("checked/*"))) == 1
    again, other, trusted = run(([1.0, 2.0, 0.5], "no-check"), ([5.0, 7.0, 6.5], "check"), ([5.0, 7.0, 6.5], "trust"))
    assert again["from_cache"] and again["logp"] == pytest.approx(again["reference"], rel=1e-9)
    assert not other["from_cache"] and other["logp"] == pytest.approx(other["reference"], rel=1e-9)
    assert trusted["from_cache"] and trusted["logp"] == pytest.approx(first["logp"], rel=1e-9)
    assert trusted["logp"] != pytest.approx(trusted["reference"])


GENERATED = textwrap.dedent("""
    import pytensor
    import pytensor.tensor as pt
    import shopper_bayes.inference.fit  # noqa: F401  (what a run imports before it fits)

    x = pt.dvector("x")
    print(pytensor.function([x], (x ** 2).sum(), mode="NUMBA")([1.0, 2.0]))
""")


def test_generated_source_goes_to_the_cache_folder_not_the_temp_folder(tmp_path):
    """PyTensor leaves the source of every function it compiles with numba in the temp folder (about 120 files a
    run); a run puts it in the cache folder, unless the user chose another folder in PYTENSOR_FLAGS."""
    def compile_one(**env):
        temp = tmp_path / "temp"
        temp.mkdir(exist_ok=True)
        done = subprocess.run([sys.executable, "-c", GENERATED], cwd=ROOT, capture_output=True, text=True, timeout=300,
                              env=os.environ | {"PYTHONPATH": str(ROOT / "src"), "TMPDIR": str(temp),
                                                "SHOPPER_BAYES_CACHE_DIR": str(tmp_path / "cache")} | env)
        assert done.returncode == 0, done.stderr
        assert float(done.stdout) == 5.0
        return list(temp.iterdir())

    assert compile_one() == []
    assert list((tmp_path / "cache" / "pytensor-src").glob("*.py"))
    chosen = tmp_path / "chosen"
    assert compile_one(PYTENSOR_FLAGS=f"generated_src_dir={chosen}") == []
    assert list(chosen.glob("*.py"))

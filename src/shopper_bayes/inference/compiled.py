"""Compile a PyMC model for nutpie once: per structure within a run, and its machine code across runs.

Within a run, :class:`Compiled` keeps each compiled model by its structure (:func:`structure_key`:
the model's graph with its data). A model whose data containers are named as ``inputs`` is compiled
with those containers as inputs, and every later fit of the same structure with other values reuses
it (nutpie's ``with_data``); every other container is frozen into the compiled code, which folds the
terms that depend on the data alone (half the time per gradient on 1,000 binomial cells).

Across runs, nutpie's two numba callbacks (log density with gradient, and the expansion to every
traced variable) are cached on disk under the user's cache folder (``numba`` in
:func:`cache_dir`). numba cannot cache them itself: it keys a closure by pickling its cells, and a
numba dispatcher pickles with a fresh random id in every process. They are keyed instead by what
determines their code: PyTensor's own hash of the compiled graph (constants included), the
callback, its signature and the dimensions, under a stamp of the library versions. PyTensor caches
the graph's kernels in its own compile folder. A callback whose code points at a live array (numba
does that for constants over 1 MB) cannot be saved and is compiled in every run. Code compiled afresh
and code loaded from the cache may round differently in the last bits, as with PyTensor's own cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import numpy as np

VERSIONED = ("numba", "llvmlite", "nutpie", "pytensor", "pymc")
_LOCK = threading.Lock()


def cache_dir() -> Path:
    """``$SHOPPER_BAYES_CACHE_DIR``, else ``$XDG_CACHE_HOME/shopper-bayes``, else ``~/.cache/shopper-bayes``."""
    given = os.environ.get("SHOPPER_BAYES_CACHE_DIR")
    if given:
        return Path(given)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "shopper-bayes"


def keep_generated_source() -> None:
    """PyTensor writes the Python source of each function it compiles to machine code (numba) to a new file in the
    temporary folder and never deletes it: about 120 files a ``make run``, tens of thousands over time. Unless the
    user chose a folder (PyTensor's ``generated_src_dir``), they go to ``pytensor-src`` in :func:`cache_dir`
    instead, named by their content (a later run reuses them) and pruned by PyTensor when unused for weeks.
    An unwritable cache folder leaves PyTensor's default."""
    import pytensor

    if pytensor.config.generated_src_dir:
        return
    folder = cache_dir() / "pytensor-src"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    pytensor.config.generated_src_dir = str(folder)


keep_generated_source()  # on import: the fits (inference.fit) and the models compiled for nutpie import this module first


def _stamp() -> str:
    return "|".join(f"{name}={version(name)}" for name in VERSIONED) + f"|python={sys.version_info[:2]}"


def _cells(function) -> dict:
    return dict(zip(function.__code__.co_freevars, (cell.cell_contents for cell in function.__closure__ or ())))


def callback_key(function, signature) -> str | None:
    """The disk key of one of nutpie's callbacks, or None where its code is not pinned down by PyTensor's
    graph hash (an uncacheable graph, or a nutpie whose callbacks are built differently)."""
    graph = _graph(function)
    if graph is None:
        return None
    cells = _cells(function)
    extract = _cells(cells["extract"].py_func)
    sizes = sorted((name, value) for name, value in cells.items() if isinstance(value, int))
    shared = [(array.dtype.str, array.ndim) for array in extract.get("shared_tuple", ())]
    layout = _layout(extract.get("record_dtype"))
    text = repr((function.__qualname__, str(signature), sizes, shared, layout, graph))
    return hashlib.sha256(text.encode()).hexdigest()


def _graph(function) -> str | None:
    """PyTensor's hash of the compiled graph (constants included) inside one of nutpie's callbacks, or None."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    if getattr(function, "__module__", None) != "nutpie.compile_pymc":
        return None
    try:
        return CACHED_SRC_FUNCTIONS.get(_cells(_cells(function)["extract"].py_func)["inner"].py_func)
    except (KeyError, AttributeError, TypeError):
        return None


def _layout(record) -> str | None:
    """The user-data record's layout (offsets, types, shapes) without its field names, which nutpie draws
    afresh in every process: the compiled code reads the shared data at these offsets."""
    if record is None:
        return None
    shared = record["shared"]
    return repr([(part, [(shared[part][name].str, shared[part][name].shape, shared[part].fields[name][1])
                         for name in shared[part].names]) for part in shared.names])


def _disk_cache(function, key: str):
    """A numba cache for ``function`` under ``key`` in the cache folder (numba's file format and index)."""
    from numba.core.caching import CompileResultCacheImpl, FunctionCache, _CacheLocator

    folder = cache_dir() / "numba"

    class Locator(_CacheLocator):
        _py_file = __file__

        def get_cache_path(self):
            return str(folder)

        def get_source_stamp(self):
            return _stamp()

        def get_disambiguator(self):
            return key[:32]

        @classmethod
        def from_function(cls, py_func, py_file):
            return cls()

    class Impl(CompileResultCacheImpl):
        _locator_classes = [Locator]

    class Cache(FunctionCache):
        _impl_class = Impl

        def _index_key(self, sig, codegen):
            return (sig, codegen.magic_tuple(), key)

    return Cache(function)


def _cached(plain):
    """``numba.cfunc`` as nutpie calls it (``plain`` is numba's), with the callback cached on disk under
    :func:`callback_key`."""
    from numba.core import sigutils
    from numba.core.ccallback import CFunc

    def cfunc(given, **options):
        signature = sigutils.normalize_signature(given)

        def build(function):
            key = callback_key(function, signature)
            try:
                (cache_dir() / "numba").mkdir(parents=True, exist_ok=True)
            except OSError:  # an unwritable cache folder only costs the compilation
                key = None
            if key is None or options:
                return plain(given, **options)(function)
            compiled = CFunc(function, signature, locals={}, options={})
            compiled._cache = _disk_cache(function, key)
            try:
                with _file_lock(cache_dir() / "numba" / f"{key[:32]}.lock"):  # one process compiles and saves it
                    compiled.compile()
            except OSError:  # the cache file could not be written
                return plain(given)(function)
            compiled.disk_key, compiled.graph = key, _graph(function)
            return compiled
        return build
    return cfunc


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive lock on ``path`` across processes (two runs, or two test workers, filling one cache)."""
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _reference(frozen):
    """PyTensor's own log density with gradient and expansion of ``frozen``, laid out as nutpie lays out its
    callbacks' (nutpie builds both with the same function), run by PyTensor's Python implementations: building
    them takes a fraction of a second, where the numba-compiled pair nutpie keeps took 3 s per model to compile
    in the first run that loads the callbacks from the cache."""
    from nutpie.compile_pymc import _make_functions
    from pymc.initial_point import make_initial_point_fn

    _, _, logp, expand, *_ = _make_functions(
        frozen, mode="FAST_COMPILE", compute_grad=True, join_expanded=True, var_names=None,
        pymc_initial_point_fn=make_initial_point_fn(model=frozen, return_transformed=True))
    return logp, expand


def _agrees(compiled, frozen) -> bool:
    """Whether nutpie's two callbacks give what PyTensor's own functions (:func:`_reference`) give (log density,
    its gradient and the expanded point) at a point near the initial one: a callback loaded from the disk
    cache is trusted only then, and not when the reference cannot be built."""
    import ctypes

    try:
        reference_logp_func, reference_expand_func = _reference(frozen)
    except Exception:  # a nutpie whose internals changed: compile afresh rather than trust the cache
        return False
    pointer = ctypes.POINTER(ctypes.c_double)
    start = np.asarray(compiled.initial_point_func(1), dtype=np.float64)
    point = np.ascontiguousarray(start + np.random.default_rng(7).normal(0, 0.1, start.shape))
    dim, expanded = len(point), int(compiled.n_expanded)
    user = ctypes.c_void_p(compiled.user_data.ctypes.data)
    grad, logp, out = np.zeros(dim), np.zeros(1), np.zeros(expanded)
    status = compiled.compiled_logp_func.ctypes(dim, point.ctypes.data_as(pointer), grad.ctypes.data_as(pointer),
                                                logp.ctypes.data_as(pointer), user)
    status_expand = compiled.compiled_expand_func.ctypes(dim, expanded, point.ctypes.data_as(pointer),
                                                         out.ctypes.data_as(pointer), user)
    reference_logp, reference_grad = reference_logp_func(point)
    (reference_out,) = reference_expand_func(point)
    close = lambda a, b: np.allclose(a, b, rtol=1e-7, atol=1e-10, equal_nan=True)  # noqa: E731
    return (status in (0, 3, 4) and status_expand == 0 and close(logp[0], reference_logp)
            and close(grad, reference_grad) and close(out, np.asarray(reference_out).ravel()))


def _checked_marker(compiled) -> Path | None:
    """The file that records that the callbacks under these disk keys passed :func:`_agrees` for a model of
    these graphs (PyTensor's hashes, constants included): later processes loading them for the same graphs
    need no check; another model whose callbacks land on the same keys has other graphs and is checked.
    None when a graph's hash is unknown (then every load is checked)."""
    parts = []
    for name in ("compiled_logp_func", "compiled_expand_func"):
        callback = getattr(compiled, name)
        parts += [getattr(callback, "disk_key", None), getattr(callback, "graph", None)]
    if not all(parts):
        return None
    return cache_dir() / "numba" / "checked" / hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _from_cache(compiled) -> bool:
    return any(getattr(getattr(compiled, name), "_cache_hits", None) for name in
               ("compiled_logp_func", "compiled_expand_func"))


def disk_cache_enabled() -> bool:
    """The callbacks' disk cache is on unless ``SHOPPER_BAYES_DISK_CACHE=0``."""
    return os.environ.get("SHOPPER_BAYES_DISK_CACHE", "1") != "0"


def compile_model(model, inputs: Sequence[str] = ()):
    """nutpie's compiled model of ``model``: every data container frozen except ``inputs``, and the numba
    callbacks taken from the disk cache when they are there (unless ``SHOPPER_BAYES_DISK_CACHE=0``) and
    they agree with PyTensor's own functions at a test point (:func:`_agrees`; otherwise compiled afresh),
    checked once per graph and cached code (:func:`_checked_marker`).
    nutpie looks ``cfunc`` up on the numba module when it compiles, so it is swapped there for the duration."""
    import numba
    import nutpie
    from pymc.model.transform.optimization import freeze_dims_and_data

    frozen = freeze_dims_and_data(model, data=[name for name in _data_names(model) if name not in inputs])
    if not disk_cache_enabled():
        return nutpie.compile_pymc_model(frozen, backend="numba", freeze_model=False)
    with _LOCK:
        plain = numba.cfunc
        numba.cfunc = _cached(plain)
        try:
            compiled = nutpie.compile_pymc_model(frozen, backend="numba", freeze_model=False)
        finally:
            numba.cfunc = plain
    if not _from_cache(compiled):
        return compiled
    marker = _checked_marker(compiled)
    if marker is not None and marker.exists():
        return compiled
    if not _agrees(compiled, frozen):
        return nutpie.compile_pymc_model(frozen, backend="numba", freeze_model=False)
    if marker is not None:
        with contextlib.suppress(OSError):  # unwritable: the check runs again next time
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
    return compiled


def _data_names(model) -> list[str]:
    return [variable.name for variable in model.data_vars]


def structure_key(model, inputs: Sequence[str] = ()) -> str:
    """A digest of what nutpie would compile from ``model``: the graphs of its log density and traced
    variables, data values included except those of ``inputs`` (their dtype and shape only), the
    transforms, initial values, coordinates and bounds checking. Two models with the same digest compile
    to the same code; an op without declared properties is told apart by identity, so such models are
    reused only within one process."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant

    tokens: dict = {}
    lines: list[str] = []

    def describe(value) -> str:
        if isinstance(value, np.ndarray):
            digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
            return f"array({value.dtype.str},{value.shape},{digest})"
        if isinstance(value, (tuple, list)):
            return "(" + ",".join(describe(item) for item in value) + ")"
        if isinstance(value, dict):
            return "{" + ",".join(f"{key!r}:{describe(item)}" for key, item in sorted(value.items(), key=repr)) + "}"
        kind = f"{type(value).__module__}.{type(value).__qualname__}"
        if hasattr(value, "__props__"):
            return kind + describe({name: getattr(value, name) for name in value.__props__})
        if isinstance(value, (str, int, float, bool, complex, np.generic)) or value is None:
            return repr(value)
        if hasattr(value, "perform") or callable(value):
            return f"{kind}@{id(value)}"
        if hasattr(value, "__dict__"):  # a transform: its class and settings
            return kind + describe(vars(value))
        return repr(value)

    def token(variable) -> int:
        if variable in tokens:
            return tokens[variable]
        if variable.owner is not None:
            node = variable.owner
            arguments = [token(item) for item in node.inputs]
            line = f"apply {describe(node.op)} {arguments} out{node.outputs.index(variable)} {variable.type}"
        elif isinstance(variable, Constant):
            line = f"constant {variable.type} {describe(np.asarray(variable.data))}"
        elif isinstance(variable, SharedVariable):
            value = np.asarray(variable.get_value(borrow=True))
            shown = "input" if variable.name in inputs or value.dtype == object else describe(value)
            line = f"shared {variable.name} {variable.type} {value.shape} {shown}"
        else:
            line = f"input {variable.name} {variable.type}"
        tokens[variable] = len(lines)
        lines.append(line)
        return tokens[variable]

    outputs = [model.logp(), *model.unobserved_value_vars]
    for output in outputs:
        token(output)
    lines.append(describe({rv.name: model.rvs_to_transforms.get(rv) for rv in model.free_RVs}))
    lines.append(describe({rv.name: model.rvs_to_initial_values.get(rv) for rv in model.free_RVs}))
    lines.append(describe({name: None if values is None else list(values) for name, values in model.coords.items()}))
    lines.append(f"check_bounds={model.check_bounds} inputs={sorted(inputs)}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class Compiled:
    """The compiled models of a run by structure; ``compilations`` counts the models compiled."""

    def __init__(self):
        self.models: dict[str, object] = {}
        self.compilations = 0

    def get(self, model, inputs: Sequence[str] = ()):
        """The compiled ``model``, with the values of its ``inputs`` containers set."""
        key = structure_key(model, inputs)
        if key not in self.models:
            self.models[key] = compile_model(model, inputs)
            self.compilations += 1
            return self.models[key]
        return self.models[key].with_data(**{name: model[name].get_value() for name in inputs})

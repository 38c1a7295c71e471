"""Mock data with planted structure, one generator per dataset, each written beside its ground truth.

``KINDS`` maps each kind to the unit its size counts (``--rows``, ``--customers``, ``--ads``); the
sessions generator lives in :mod:`.base`, every other kind in a module of its name with
``write(units, seed, out, **options) -> (rows, truth_path)`` (options: the transactions' ``dropout``).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from shopper_bayes.errors import UserError

KINDS = {"sessions": "rows", "transactions": "customers", "campaigns": "ads", "orders": "customers"}
DROPOUTS = ("every_purchase", "repeat_purchase", "any_time")  # the transactions' dropout processes
_FROM_BASE = ("GENERATORS", "Written", "generate", "truth_path", "uniforms")


def __getattr__(name: str):
    """The generators load numpy, pyarrow and scipy: imported when first used, so that the command line's
    --help, which needs only ``KINDS``, starts without them."""
    if name in _FROM_BASE:
        return getattr(import_module("shopper_bayes.generate.base"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def write(kind: str, units: int, seed: int, out: str | Path, **options) -> Written:
    """Write ``units`` (rows, customers or ads, by kind) of mock data ``kind`` and its truth JSON; ``options`` go to
    the generator (transactions: ``dropout``, one of ``DROPOUTS``)."""
    if kind not in KINDS:
        raise UserError("kind", f"unknown kind {kind!r}", f"choose one of: {', '.join(KINDS)}")
    if units < 1:
        raise UserError(f"--{KINDS[kind]}", f"must be at least 1, got {units}", "give a positive number")
    base = import_module("shopper_bayes.generate.base")
    if kind in base.GENERATORS:
        return base.generate(kind, units, seed, out)
    rows, truth = import_module(f"shopper_bayes.generate.{kind}").write(units, seed, Path(out), **options)
    return base.Written(rows, Path(out), Path(truth))


__all__ = ["DROPOUTS", "GENERATORS", "KINDS", "Written", "generate", "truth_path", "uniforms", "write"]

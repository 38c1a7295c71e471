"""Mock data with planted structure, one generator per dataset, each written beside its ground truth.

``KINDS`` maps each kind to the unit its size counts (``--rows``, ``--customers``, ``--ads``); the
sessions generator lives in :mod:`.base`, every other kind in a module of its name with
``write(units, seed, out) -> (rows, truth_path)``.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from shopper_bayes.errors import UserError
from shopper_bayes.generate.base import GENERATORS, Written, generate, truth_path, uniforms

KINDS = {"sessions": "rows", "transactions": "customers", "campaigns": "ads", "orders": "customers"}


def write(kind: str, units: int, seed: int, out: str | Path) -> Written:
    """Write ``units`` (rows, customers or ads, by kind) of mock data ``kind`` and its truth JSON."""
    if kind not in KINDS:
        raise UserError("kind", f"unknown kind {kind!r}", f"choose one of: {', '.join(KINDS)}")
    if units < 1:
        raise UserError(f"--{KINDS[kind]}", f"must be at least 1, got {units}", "give a positive number")
    if kind in GENERATORS:
        return generate(kind, units, seed, out)
    rows, truth = import_module(f"shopper_bayes.generate.{kind}").write(units, seed, Path(out))
    return Written(rows, Path(out), Path(truth))


__all__ = ["GENERATORS", "KINDS", "Written", "generate", "truth_path", "uniforms", "write"]

"""The kinds of input, in the order the report's data section lists them. Adding a dataset: a module
under ``datasets/`` that defines ``DATASET``, and one line here."""

from __future__ import annotations

from importlib import import_module

from shopper_bayes.datasets.base import Dataset

DATASETS = [
    "sessions",
    "transactions",
    "ads",
    "orders",
]


def default_datasets() -> list[Dataset]:
    return [import_module(f"shopper_bayes.datasets.{name}").DATASET for name in DATASETS]

"""The kinds of input, in the order the report's data section lists them. Adding a dataset: a module
under ``datasets/`` and one line here."""

from __future__ import annotations

from shopper_bayes.datasets.base import Dataset


def default_datasets() -> list[Dataset]:
    from shopper_bayes.datasets.orders import DATASET as orders

    return [orders]

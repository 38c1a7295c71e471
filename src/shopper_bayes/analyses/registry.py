"""The analyses of a run, in report order. Adding an analysis: a folder under ``analyses/`` whose
``__init__`` defines ``ANALYSIS``, and one line here."""

from __future__ import annotations

from importlib import import_module

from shopper_bayes.analyses.base import Analysis

ANALYSES = [
    "purchase_rates",
    "campaign",
    "correlations",
    "session_behaviour",
    "drivers",
    "customers_frequency_segments",
    "customers_categories",
    "customers_monthly",
    "customers_churn",
    "customers_pareto",
    "clv",
    "ad_campaigns",
    "demographics",
]


def default_analyses() -> list[Analysis]:
    """Imported on call, so the CLI starts without loading every analysis's dependencies."""
    return [import_module(f"shopper_bayes.analyses.{name}").ANALYSIS for name in ANALYSES]

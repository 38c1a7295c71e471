"""The analyses of a run, in report order. Adding an analysis: a folder under ``analyses/`` and one
line here."""

from __future__ import annotations

from shopper_bayes.analyses.base import Analysis


def default_analyses() -> list[Analysis]:
    """Imported on call, so the CLI starts without loading every analysis's dependencies."""
    from shopper_bayes.analyses import clv

    return [clv.ANALYSIS]

"""Settings of the monthly trends."""

from __future__ import annotations

from shopper_bayes.analyses.base import Settings


class MonthlySettings(Settings):
    """No options beyond ``enabled``: months are calendar months up to the observation end."""

"""Purchase rate per segment cell (Beta-binomial and hierarchical models), comparisons and the best cell."""

from shopper_bayes.analyses.base import Analysis, lazy
from shopper_bayes.analyses.purchase_rates.config import RatesConfig
from shopper_bayes.analyses.purchase_rates.results import RatesResult
from shopper_bayes.analyses.purchase_rates.section import console, headline, section
from shopper_bayes.errors import UserError


def refuse_the_outcome(settings: RatesConfig, config) -> None:
    """Rates split by the purchase column itself are refused, naming ``rates.segments``."""
    for name in settings.segments:
        if name in ("purchase", config.sessions.columns.purchase):
            raise UserError("rates.segments", f"{name!r} is the purchase column, the outcome being modelled",
                            "split sessions by other columns")


def requests(settings: RatesConfig, config) -> list:
    """The loads of a run (``compute.run`` and ``compute.split_counts``): the segment columns, and with them
    ``check_by`` for the predictive check (declared even where the check is then not done: a hint only)."""
    refuse_the_outcome(settings, config)
    loads = [(tuple(settings.segments), {})]
    if settings.check_by is not None:
        loads.append(((*settings.segments, settings.check_by), {}))
    return loads


ANALYSIS = Analysis(key="purchase_rates", config_key="rates", title="Purchase rates", dataset="sessions",
                    settings=RatesConfig, result=RatesResult, run=lazy("shopper_bayes.analyses.purchase_rates.compute:run"), section=section, console=console,
                    headline=headline, requests=requests)

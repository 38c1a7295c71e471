"""Purchase rate per segment cell (Beta-binomial and hierarchical models), comparisons and the best cell."""

from shopper_bayes.analyses.base import Analysis, lazy
from shopper_bayes.analyses.purchase_rates.config import RatesConfig
from shopper_bayes.analyses.purchase_rates.results import RatesResult
from shopper_bayes.analyses.purchase_rates.section import console, headline, section

ANALYSIS = Analysis(key="purchase_rates", config_key="rates", title="Purchase rates", dataset="sessions",
                    settings=RatesConfig, result=RatesResult, run=lazy("shopper_bayes.analyses.purchase_rates.compute:run"), section=section, console=console,
                    headline=headline)

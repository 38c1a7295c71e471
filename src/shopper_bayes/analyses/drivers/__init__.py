"""Which behaviours go with buying: a Bayesian logistic regression, checked on held-out sessions."""

from shopper_bayes.analyses.base import Analysis, lazy
from shopper_bayes.analyses.drivers.config import DriversSettings
from shopper_bayes.analyses.drivers.results import DriversResult
from shopper_bayes.analyses.drivers.section import console, headline, section

ANALYSIS = Analysis(key="drivers", title="Drivers of conversion", dataset="sessions", settings=DriversSettings,
                    result=DriversResult, run=lazy("shopper_bayes.analyses.drivers.run:run"), section=section, console=console, headline=headline,
                    alone=True)  # its own rows (every month) and its own fit

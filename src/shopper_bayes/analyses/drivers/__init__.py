"""Which behaviours go with buying: a Bayesian logistic regression, checked on held-out sessions."""

from shopper_bayes.analyses.base import Analysis, lazy
from shopper_bayes.analyses.drivers.config import DriversSettings
from shopper_bayes.analyses.drivers.results import DriversResult
from shopper_bayes.analyses.drivers.section import console, headline, section


def requests(settings: DriversSettings, config) -> list:
    """The one load of a run: the sessions with the input columns; the whole year unless ``use_sessions_filter``."""
    labels = tuple(dict.fromkeys([*settings.categorical, settings.baseline]))
    return [(labels, {"numeric": tuple(settings.numeric), "filtered": settings.use_sessions_filter})]


ANALYSIS = Analysis(key="drivers", title="Drivers of conversion", dataset="sessions", settings=DriversSettings,
                    result=DriversResult, run=lazy("shopper_bayes.analyses.drivers.run:run"), section=section, console=console, headline=headline,
                    alone=True, requests=requests)  # its own rows (every month) and its own fit

"""Bootstrap correlation intervals between page-type durations, pooled and per segment."""

from shopper_bayes.analyses.base import Analysis, lazy
from shopper_bayes.analyses.correlations.config import CorrelationsConfig
from shopper_bayes.analyses.correlations.results import CorrelationsResult
from shopper_bayes.analyses.correlations.section import console, headline, section


def requests(settings: CorrelationsConfig, config) -> list:
    """The one load of a run: the configured columns as numbers, and the ``by`` column."""
    labels = () if settings.by is None else (settings.by,)
    return [(labels, {"numeric": tuple(settings.columns)})]


ANALYSIS = Analysis(key="correlations", title="Correlations", dataset="sessions", settings=CorrelationsConfig,
                    result=CorrelationsResult, run=lazy("shopper_bayes.analyses.correlations.run:run"), section=section, console=console, headline=headline,
                    requests=requests)

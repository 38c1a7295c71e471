"""Bootstrap correlation intervals between page-type durations, pooled and per segment."""

from shopper_bayes.analyses.base import Analysis, lazy
from shopper_bayes.analyses.correlations.config import CorrelationsConfig
from shopper_bayes.analyses.correlations.results import CorrelationsResult
from shopper_bayes.analyses.correlations.section import console, headline, section

ANALYSIS = Analysis(key="correlations", title="Correlations", dataset="sessions", settings=CorrelationsConfig,
                    result=CorrelationsResult, run=lazy("shopper_bayes.analyses.correlations.run:run"), section=section, console=console, headline=headline)

"""Customer lifetime value: BG/NBD purchases and dropout, Gamma-Gamma spend, holdout check."""

from shopper_bayes.analyses.base import Analysis, lazy, one_load
from shopper_bayes.analyses.clv.config import ClvSettings
from shopper_bayes.analyses.clv.results import ClvResult
from shopper_bayes.analyses.clv.section import console, headline, section

ANALYSIS = Analysis(key="clv", title="Customer value", dataset="transactions", settings=ClvSettings, result=ClvResult,
                    run=lazy("shopper_bayes.analyses.clv.run:run"), section=section, console=console, headline=headline,
                    requests=one_load)

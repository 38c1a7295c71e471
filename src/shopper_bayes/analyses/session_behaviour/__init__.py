"""How each segment behaves on the site: time, pages, bounce and exit rates, engaged-but-not-buying share."""

from shopper_bayes.analyses.base import Analysis, lazy
from shopper_bayes.analyses.session_behaviour.config import BehaviourSettings
from shopper_bayes.analyses.session_behaviour.results import BehaviourResult
from shopper_bayes.analyses.session_behaviour.section import console, headline, section

ANALYSIS = Analysis(key="session_behaviour", title="Session behaviour", dataset="sessions", settings=BehaviourSettings,
                    result=BehaviourResult, run=lazy("shopper_bayes.analyses.session_behaviour.run:run"), section=section,
                    console=console, headline=headline)

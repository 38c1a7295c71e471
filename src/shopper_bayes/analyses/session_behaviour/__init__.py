"""How each segment behaves on the site: time, pages, bounce and exit rates, engaged-but-not-buying share."""

from shopper_bayes.analyses.base import Analysis, lazy
from shopper_bayes.analyses.session_behaviour.config import BehaviourSettings
from shopper_bayes.analyses.session_behaviour.results import BehaviourResult
from shopper_bayes.analyses.session_behaviour.section import console, headline, section


def requests(settings: BehaviourSettings, config) -> list:
    """The one load of a run: the sessions in scope (``sessions.filter`` applied) with the columns it reads."""
    numeric = [column for page in settings.page_types for column in (page.pages, page.seconds)]
    numeric += [settings.bounce_rate, settings.exit_rate, settings.page_value]
    return [(tuple(settings.segments), {"numeric": tuple(dict.fromkeys(numeric))})]


ANALYSIS = Analysis(key="session_behaviour", title="Session behaviour", dataset="sessions", settings=BehaviourSettings,
                    result=BehaviourResult, run=lazy("shopper_bayes.analyses.session_behaviour.run:run"), section=section,
                    console=console, headline=headline, requests=requests)

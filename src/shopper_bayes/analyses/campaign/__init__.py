"""Campaign planner: P(at least N sales in M sessions) under a boosted purchase rate, by posterior
predictive and by plug-in, with the inverse answers and a scenario grid."""

from shopper_bayes.analyses.base import Analysis, lazy
from shopper_bayes.analyses.campaign.config import CampaignConfig
from shopper_bayes.analyses.campaign.results import CampaignResult
from shopper_bayes.analyses.campaign.section import console, headline, section


def segment_columns(settings: CampaignConfig) -> list[str]:
    """A mapping names its columns; a bare level is a level of the customer-type column ``segment``."""
    return list(settings.segment) if isinstance(settings.segment, dict) else ["segment"]


def requests(settings: CampaignConfig, config) -> list:
    """The one load of a run: the sessions with the columns of the campaign's cell."""
    return [(tuple(segment_columns(settings)), {})]


ANALYSIS = Analysis(key="campaign", title="Campaign outlook", dataset="sessions", settings=CampaignConfig,
                    result=CampaignResult, run=lazy("shopper_bayes.analyses.campaign.run:run"), section=section, console=console, headline=headline,
                    requests=requests, check=lazy("shopper_bayes.analyses.campaign.run:check"))

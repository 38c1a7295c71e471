"""Ad campaigns: CTR, lead and approval rates, CPL, CAC and ROI with posteriors; which campaigns and
audiences probably pay, and where the next budget goes."""

from shopper_bayes.analyses.base import Analysis, lazy
from shopper_bayes.analyses.ad_campaigns.config import AdCampaignsSettings
from shopper_bayes.analyses.ad_campaigns.results import AdCampaignsResult
from shopper_bayes.analyses.ad_campaigns.section import console, headline, section

ANALYSIS = Analysis(key="ad_campaigns", title="Ad campaigns", dataset="ads", settings=AdCampaignsSettings,
                    result=AdCampaignsResult, run=lazy("shopper_bayes.analyses.ad_campaigns.run:run"), section=section, console=console, headline=headline)

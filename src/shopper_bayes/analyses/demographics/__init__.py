"""Customers and products: spend and orders per customer profile by demographic level, with partial
pooling within each column; product categories and products by orders and revenue."""

from shopper_bayes.analyses.base import Analysis, lazy
from shopper_bayes.analyses.demographics.config import DemographicsSettings
from shopper_bayes.analyses.demographics.result import DemographicsResult
from shopper_bayes.analyses.demographics.section import console, headline, section

ANALYSIS = Analysis(key="demographics", title="Customers and products", dataset="orders", settings=DemographicsSettings,
                    result=DemographicsResult, run=lazy("shopper_bayes.analyses.demographics.run:run"), section=section, console=console, headline=headline)

"""Campaign outlook from the config: P(sales >= target), predictive beside plug-in, what it takes, and
the scenario grid. Reuses the posterior in ./models when a run saved one for this data and config.

    .venv/bin/python scripts/campaign.py [config.yaml]
"""

import json
import sys

from shopper_bayes.config import load_config
from shopper_bayes.console import format_campaign
from shopper_bayes.errors import UserError
from shopper_bayes.pipeline import plan_campaign

try:
    config = load_config(sys.argv[1] if len(sys.argv) > 1 else "config.yaml")
    outlook, source = plan_campaign(config, ".")
except UserError as exc:
    print(exc.line(), file=sys.stderr)
    sys.exit(2)

print(format_campaign(outlook))
print(f"posterior: {source}")
outlook.pop("distribution")
print(json.dumps(outlook["grid"], indent=1))

"""Campaign outlook from the config: P(sales >= target), predictive beside plug-in, and what it takes.

    .venv/bin/python scripts/campaign.py [config.yaml]
"""

import json
import sys

from shopper_bayes.config import load_config
from shopper_bayes.counts import segment_counts
from shopper_bayes.errors import UserError
from shopper_bayes.pipeline import campaign_cell, campaign_section, rates_section
from shopper_bayes.sessions import load_sessions

try:
    config = load_config(sys.argv[1] if len(sys.argv) > 1 else "config.yaml")
    counts = segment_counts(load_sessions(config).frame, config.rates.segments)
    campaign_cell(config, counts)
    _, tree = rates_section(config, counts)
    outlook = campaign_section(config, counts, tree)
except UserError as exc:
    print(exc.line(), file=sys.stderr)
    sys.exit(2)

outlook.pop("distribution")
print(json.dumps(outlook, indent=2))

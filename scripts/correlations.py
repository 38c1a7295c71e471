"""Bootstrap correlation intervals for the configured columns, pooled and per segment.

    .venv/bin/python scripts/correlations.py [config.yaml]
"""

import sys

from shopper_bayes.config import load_config
from shopper_bayes.analyses.correlations.compute import bootstrap_correlations
from shopper_bayes.errors import UserError
from shopper_bayes.datasets.sessions import load_sessions

try:
    config = load_config(sys.argv[1] if len(sys.argv) > 1 else "config.yaml")
    corr = config.correlations
    frame = load_sessions(config.sessions, labels=[corr.by] if corr.by else [], numeric=corr.columns).frame
    table = bootstrap_correlations(frame, corr.columns, resamples=corr.resamples, method=corr.method, seed=config.seed,
                                   interval_prob=corr.interval_prob, statistic=corr.statistic, by=corr.by)
except UserError as exc:
    print(exc.line(), file=sys.stderr)
    sys.exit(2)

print(table.to_string(index=False))

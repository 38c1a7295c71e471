"""Purchase rate per segment from the config: fit, print rates, comparisons and diagnostics.

    .venv/bin/python scripts/purchase_rates.py [config.yaml]
"""

import sys

from shopper_bayes.config import load_config
from shopper_bayes.counts import segment_counts
from shopper_bayes.errors import UserError
from shopper_bayes.pipeline import rates_section
from shopper_bayes.sessions import load_sessions

try:
    config = load_config(sys.argv[1] if len(sys.argv) > 1 else "config.yaml")
    counts = segment_counts(load_sessions(config).frame, config.rates.segments)
    section, tree = rates_section(config, counts)
except UserError as exc:
    print(exc.line(), file=sys.stderr)
    sys.exit(2)

for row in section["purchase_rates"]:
    lo, hi = row["interval"]
    print(f"{row['segment']}: {row['purchases']}/{row['sessions']} sessions, rate {row['mean']:.4f} "
          f"({row['interval_prob']:.0%} CrI {lo:.4f}-{hi:.4f})")
for comparison in section["rate_comparisons"]:
    print(f"P({comparison['a']} > {comparison['b']}) = {comparison['prob_a_greater']:.4f}")
print("diagnostics:", {key: section["diagnostics"][key] for key in ("max_rhat", "min_ess_bulk", "divergences", "ok")})
print(tree.posterior)

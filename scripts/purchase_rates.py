"""Purchase rate per segment from the config: fit the model(s), print rates, comparisons, LOO and diagnostics.

    .venv/bin/python scripts/purchase_rates.py [config.yaml]

The posteriors are returned as ArviZ DataTrees (``trees``) for further work in a notebook.
"""

import sys

from shopper_bayes.config import load_config
from shopper_bayes.console import comparison_line
from shopper_bayes.counts import segment_counts, segment_name
from shopper_bayes.errors import UserError
from shopper_bayes.pipeline import rates_section
from shopper_bayes.datasets.sessions import load_sessions

try:
    config = load_config(sys.argv[1] if len(sys.argv) > 1 else "config.yaml")
    counts = segment_counts(load_sessions(config).frame, config.rates.segments)
    section, trees = rates_section(config, counts)
except UserError as exc:
    print(exc.line(), file=sys.stderr)
    sys.exit(2)

print(f"model: {section['rates_model']}")
for row in section["purchase_rates"]:
    lo, hi = row["interval"]
    print(f"{segment_name(row['segment'])}: {row['purchases']}/{row['sessions']} sessions, rate {row['mean']:.4f} "
          f"({row['interval_prob']:.0%} CrI {lo:.4f}-{hi:.4f})")
for comparison in section["rate_comparisons"]:
    print(comparison_line(comparison))
for row in section["best_segment"]:
    print(f"P({segment_name(row['segment'])} is best) = {row['prob_best']:.3f}, expected loss {row['expected_loss']:.4f}")
if section["model_comparison"]:
    print(section["model_comparison"]["statement"])
checks = section["diagnostics"]
print("diagnostics:", "OK" if checks["ok"] else "NOT CONVERGED: " + "; ".join(checks["problems"]))
for name, tree in trees.items():
    print(f"\n{name} model posterior:\n{tree.posterior}")

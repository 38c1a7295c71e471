"""Purchase rate per segment from both models: the exact Beta posterior and the hierarchical model by NUTS,
with their diagnostics. The fitted DataTrees are left in ``trees`` for a notebook.

    .venv/bin/python scripts/purchase_rates.py [config.yaml]
"""

import sys

import shopper_bayes as sb
from shopper_bayes.errors import UserError


def main(path: str) -> dict:
    config = sb.load_config(path)
    segments = config.rates.segments
    sessions = sb.sessions(config, labels=segments)
    counts = sb.count_cells(sessions.frame, segments)
    trees = {"independent": sb.fit_exact_rates(counts, config, config.sampler.chains, config.sampler.draws, config.seed),
             "hierarchical": sb.fit(sb.rate_model(counts, config, "hierarchical"), config.sampler, config.seed)}
    for name, tree in trees.items():
        gate = sb.diagnostics(tree, config)
        print(f"{name} model ({'converged' if gate.ok else 'NOT CONVERGED: ' + '; '.join(gate.problems)})")
        print(sb.summarise_rates(tree, counts, config.rates.interval_prob).round(4).to_string(), end="\n\n")
    return trees


if __name__ == "__main__":
    try:
        trees = main(sys.argv[1] if len(sys.argv) > 1 else "config.yaml")
    except UserError as exc:
        sys.exit(exc.line())

"""The campaign outlook for the configured segment, boost and target, from the exact purchase-rate posterior.

    .venv/bin/python scripts/campaign.py [config.yaml] [boost]
"""

import sys

import shopper_bayes as sb
from shopper_bayes.errors import UserError


def main(path: str, boost: float | None = None):
    config = sb.load_config(path)
    columns = list(config.campaign.segment) if isinstance(config.campaign.segment, dict) else ["segment"]
    counts = sb.count_cells(sb.sessions(config, labels=columns).frame, columns)
    tree = sb.fit_exact_rates(counts, config, seed=config.seed)
    outlook = sb.campaign(tree, counts, config, **({"boost": boost} if boost is not None else {}))
    print(f"{outlook.label}: {outlook.sessions:,} sessions at boost {outlook.boost:+.1%} ({outlook.boost_type}), "
          f"target {outlook.target:,} sales")
    print(f"  P(sales >= target) = {outlook.prob_at_least_target:.3f} by posterior predictive, "
          f"{outlook.prob_at_least_target_plugin:.3f} by plug-in")
    print(f"  expected sales {outlook.expected_sales:.1f}, {outlook.interval_prob:.0%} interval {outlook.sales_interval}")
    return outlook


if __name__ == "__main__":
    try:
        main(sys.argv[1] if len(sys.argv) > 1 else "config.yaml", float(sys.argv[2]) if len(sys.argv) > 2 else None)
    except UserError as exc:
        sys.exit(exc.line())

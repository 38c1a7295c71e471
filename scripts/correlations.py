"""Bootstrap correlation intervals for the configured columns, pooled and per segment.

    .venv/bin/python scripts/correlations.py [config.yaml]
"""

import sys

import shopper_bayes as sb
from shopper_bayes.errors import UserError


def main(path: str) -> None:
    config = sb.load_config(path)
    corr = config.correlations
    frame = sb.sessions(config, labels=[corr.by] if corr.by else [], numeric=corr.columns).frame
    table = sb.correlations(frame, corr.columns, resamples=corr.resamples, method=corr.method, seed=config.seed,
                            interval_prob=corr.interval_prob, statistic=corr.statistic, by=corr.by)
    print(table.to_string(index=False))


if __name__ == "__main__":
    try:
        main(sys.argv[1] if len(sys.argv) > 1 else "config.yaml")
    except UserError as exc:
        sys.exit(exc.line())

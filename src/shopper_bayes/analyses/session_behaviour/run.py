"""The session behaviour analysis on the seam."""

from __future__ import annotations

from functools import partial

from shopper_bayes.analyses.base import Context, FigureSpec, Output
from shopper_bayes.analyses.session_behaviour import figures, requests
from shopper_bayes.analyses.session_behaviour.compute import profiles
from shopper_bayes.analyses.session_behaviour.config import BehaviourSettings
from shopper_bayes.analyses.session_behaviour.results import BehaviourResult
from shopper_bayes.datasets.base import Loaded


def load(ctx: Context, settings: BehaviourSettings) -> Loaded:
    """The sessions in scope (``sessions.filter`` applied) with the columns this analysis reads."""
    (needs, options), = requests(settings, ctx.config)
    return ctx.load(*needs, **options)


def run(ctx: Context) -> Output:
    settings: BehaviourSettings = ctx.settings
    loaded = load(ctx, settings)
    scope, rows = dict(loaded.scope), loaded.cleaning.rows_used
    if rows > settings.max_rows:  # the bootstrap needs rows: a seeded sample of them, said in the report
        frame = ctx.once("sample", partial(loaded.table.frame, limit=settings.max_rows, seed=ctx.seed))
        scope["sample"] = (f"a seeded random sample of {settings.max_rows:,} of the {rows:,} sessions "
                           "(session_behaviour.max_rows)")
        ctx.step(f"session behaviour: {scope['sample']}")
    else:
        frame = loaded.frame
    ctx.step(f"bootstrapping behaviour means of {len(frame):,} sessions")
    cells, differences, reference, threshold = ctx.compute(partial(profiles, frame, settings, ctx.seed))
    result = BehaviourResult(
        segments=list(settings.segments), scope=scope, interval_prob=settings.interval_prob,
        resamples=settings.resamples, engaged_page_type=settings.engaged_page_type,
        engaged_threshold_seconds=threshold, reference=reference, cells=cells, differences=differences,
        cleaning=loaded.cleaning.to_dict())
    specs = [FigureSpec("behaviour_profile", lambda: figures.plot_profiles(result),
                        "Behaviour profile of each segment: means and shares with intervals",
                        "Dot-and-interval panels, one per behaviour measure, one row per segment")]
    return Output(summary=result, figures=specs, tables={"behaviour_profiles": result.table()})

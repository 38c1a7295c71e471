"""The campaign planner on the seam: the segment's own counts, the purchase-rate model's posterior for
them (shared with the purchase-rate analysis when the cells are the same), then :func:`compute.plan`."""

from __future__ import annotations

import numpy as np

from shopper_bayes.analyses.base import Context, FigureSpec, Output
from shopper_bayes.analyses.campaign import figures, requests
from shopper_bayes.analyses.campaign.compute import Boost, effective_mcse, plan
from shopper_bayes.analyses.campaign.config import CampaignConfig
from shopper_bayes.analyses.campaign.results import CampaignResult
from shopper_bayes.analyses.purchase_rates.compute import fit_rates
from shopper_bayes.analyses.purchase_rates.config import RatesConfig
from shopper_bayes.engine.cells import find_cell, segment_counts
from shopper_bayes.errors import UserError
from shopper_bayes.inference import diagnostics


def _segment(ctx: Context):
    """The counts the campaign's cell is found in, the cell, and its purchases and sessions; a segment the data lack,
    or one with no sessions left, is refused."""
    settings: CampaignConfig = ctx.settings
    (needs, options), = requests(settings, ctx.config)
    counts = segment_counts(ctx.load(*needs, **options), list(needs))
    cell = find_cell(counts, settings.segment, "campaign.segment")
    purchases, n = int(counts["purchases"].sel(cell)), int(counts["sessions"].sel(cell))
    if n == 0:
        raise UserError("campaign.segment", f"{cell} has no sessions after filtering",
                        "choose a segment with data or widen sessions.filter")
    return counts, cell, purchases, n


def check(ctx: Context) -> None:
    """Refuses a segment the data lack before the run fits any model (the purchase rates fit theirs first)."""
    _segment(ctx)


def run(ctx: Context) -> Output:
    settings: CampaignConfig = ctx.settings
    rates: RatesConfig = getattr(ctx.config, "rates", None) or RatesConfig()
    counts, cell, purchases, n = _segment(ctx)
    tree = fit_rates(ctx, counts, rates, rates.model)
    draws = tree.posterior["rate"].sel(cell).values.ravel()
    noise = np.random.default_rng([ctx.seed, 4]).standard_normal(draws.size) if settings.boost_sd else None
    boost = Boost(settings.boost, settings.boost_type, settings.boost_sd, noise)
    answer = plan(draws, purchases / n, boost, segment={k: str(v) for k, v in cell.items()}, sessions=settings.sessions,
                  target=settings.target, interval_prob=rates.interval_prob, prob_wanted=settings.prob_wanted,
                  grid=settings.scenario_grid())
    gate = diagnostics.check(tree, ctx.config.diagnostics)
    answer["prob_at_least_target_mcse"] = effective_mcse(answer["prob_at_least_target_mcse"], draws.size,
                                                         tree.attrs.get("inference"), gate.min_ess_bulk)
    result = CampaignResult(**answer, model=rates.model, diagnostics=gate)
    specs = [
        FigureSpec("campaign", lambda: figures.plot_campaign(result),
                   f"Predicted number of sales from {settings.sessions:,} {result.label} sessions at the planned boost: "
                   "posterior predictive probabilities (bars: the uncertainty about the purchase rate included) against "
                   "the plug-in binomial (line: the observed rate taken as exact); the target dashed",
                   "Distribution of predicted sales with the target marked"),
        FigureSpec("campaign_scenarios", lambda: figures.plot_scenarios(result, settings.prob_wanted),
                   "Probability of reaching the sales target against the boost, one colour per number of sessions: "
                   "posterior predictive (solid) and plug-in (dashed); the dotted line is the wanted probability "
                   "(campaign.prob_wanted)", "Probability of reaching the target against the boost, per session volume"),
    ]
    return Output(summary=result, figures=specs)

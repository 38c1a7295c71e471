"""Report section, console lines and headline of the drivers analysis, from its typed result only."""

from __future__ import annotations

from shopper_bayes.analyses.drivers.labels import labeller, methods_line
from shopper_bayes.analyses.drivers.results import DriversResult, Effect, ordered
from shopper_bayes.errors import one_line
from shopper_bayes.report.document import (Decision, Figure, Section, Sentence, Table, Warning, num, num_range, pct,
                                           pp, pp_range, prob_cell, prob_text)

CAUSATION = ("These are associations in observational data, not causes: sessions that buy also look at pages "
             "with a page value, and a high page value partly records a purchase on its way. Raising an input "
             "will not necessarily raise buying; a randomised test is how to find out.")


def _methods(result: DriversResult) -> list[str]:
    prior = result.prior
    return [
        "Drivers of conversion: Bayesian logistic regression, purchase_i ~ Bernoulli(invlogit(intercept + x_i . beta)), "
        "built in PyMC directly (not Bambi: one dependency fewer, and the standardised design, the held-out split and "
        "the whitened parametrisation stay in our hands). Numeric inputs are standardised with the training sessions' "
        "mean and sd (durations and page values as log(1 + x) first, for their heavy tails), so a coefficient is per "
        "sd; the configured columns also enter squared (time on a page type goes with buying at both ends); each "
        "level of a label column is an indicator against its most frequent level; configured pairs get their own "
        "terms (by default every input has its own slope for sessions with a page value). Priors: intercept ~ "
        f"Normal({prior['intercept_loc']}, {prior['intercept_scale']}), every coefficient ~ Normal(0, "
        f"{prior['slope_scale']}); checked with a prior predictive plot. Sampled with NUTS (nutpie) in coordinates "
        "whitened by the curvature at the posterior mode, an exact linear change of variables; the diagnostics gate "
        "(R-hat, ESS, divergences, BFMI) covers the fit.",
        f"Sessions: {result.scope.get('filter')}; a seeded random {result.holdout.sessions:,} of {result.sessions:,} "
        "held out and never seen by the fit. Held-out AUC from ranks (Mann-Whitney) of the posterior mean probability, "
        "with DeLong's interval; Brier score = mean squared error of that probability; calibration: held-out sessions "
        "in deciles of predicted probability, each decile's observed purchase rate against the posterior predictive "
        "interval of that rate (parameter uncertainty and binomial noise), and against the joint band: every decile's "
        "interval at the one level at which all deciles of a posterior predictive draw fall inside together with the "
        "stated probability.",
        "Average marginal effect: the mean over training sessions of the change in purchase probability, for one sd "
        "(derivative times one sd) or for a level against the reference, per posterior draw. Model comparison: "
        "PSIS-LOO of the behaviour model against the rates-only model (purchase rate by one label, Beta(1, 1) prior), "
        "whose leave-one-out predictive is exact; the difference is summed session by session.",
    ]


def _row(effect: Effect, label=lambda text: text) -> list[str]:
    odds, marginal = effect.odds_ratio, effect.marginal_effect
    shown = ([pp(marginal.mean), pp_range(marginal.interval)] if marginal.mean is not None
             else ["n/a", label(marginal.note or "undefined")])
    return [label(effect.term), label(effect.unit), num(odds.mean), num_range(odds.interval), prob_cell(effect.prob_positive.value),
            *shown]


def _strongest(result: DriversResult) -> list[Effect]:
    """Effects whose interval excludes 1, the largest odds ratio (in either direction) first."""
    clear = [e for e in result.effects if e.marginal_effect.mean is not None
             and (e.odds_ratio.interval[0] > 1 or e.odds_ratio.interval[1] < 1)]
    return sorted(clear, key=lambda e: -abs(e.marginal_effect.mean))


def section(result: DriversResult) -> Section:
    out = Section("Drivers of conversion", anchor="drivers",
                  terms=["odds ratio", "marginal effect", "AUC", "Brier score", "calibration", "PSIS-LOO", "ELPD",
                         "Pareto k", "prior predictive check", "credible interval", "pp"])
    holdout = result.holdout
    label = labeller(result)
    out.blocks.append(
        f"Which session behaviours go with a purchase: a logistic regression on {result.train_sessions:,} sessions "
        f"({_scope(result)}), tested on {holdout.sessions:,} sessions it did not see. "
        f"{result.base_rate:.1%} of the training sessions bought.")
    for note in result.notes:
        out.blocks.append(Warning(one_line(note)))
    out.blocks.append(CAUSATION)
    out.blocks.append(Table(
        ["input", "unit", "odds ratio", f"{result.interval_prob:.0%} interval", "P(OR > 1)", "marginal effect",
         "interval"], [_row(effect, label) for effect in ordered(result)], name="drivers_effects",
        caption="Associations, not causes. Odds ratio per sd (numeric) or against the reference level; marginal "
                "effect: average change in purchase probability, in percentage points."))
    out.blocks.append(Figure("drivers_forest"))
    auc = ("AUC undefined: " + holdout.note) if holdout.auc is None else (
        f"AUC {holdout.auc:.3f} ({num_range(holdout.auc_interval, 3)})")
    bins = len(holdout.calibration)
    inside = sum(b.inside for b in holdout.calibration)
    in_band = sum(b.inside_band for b in holdout.calibration)
    out.blocks.append(
        f"On held-out sessions: {auc}: a buyer is ranked above a non-buyer that often. Brier score "
        f"{holdout.brier:.3f} (predicting the base rate for everyone: {holdout.brier_base_rate:.3f}). Calibration: "
        f"{in_band} of {bins} deciles' observed purchase rates lie inside the joint {result.interval_prob:.0%} band, "
        f"which all deciles of a calibrated model fall inside together {result.interval_prob:.0%} of the time "
        f"(each decile's {holdout.band_pointwise_prob:.1%} interval); {inside} of {bins} inside their own "
        f"{result.interval_prob:.0%} interval (of {bins} such intervals a calibrated model misses at least one in up "
        f"to {1 - result.interval_prob ** bins:.0%} of held-out samples).")
    if not holdout.calibrated:
        out.blocks.append(Warning("Some deciles' observed purchase rates fall outside the joint band: the predicted "
                                  "probabilities are off there (see the calibration table)."))
    out.blocks.append(Table(
        ["decile", "sessions", "predicted rate", "interval of the observed rate", "joint band", "observed rate",
         "inside band"],
        [[str(b.bin), f"{b.sessions:,}", pct(b.predicted.mean), f"{pct(b.predicted.interval[0])}–{pct(b.predicted.interval[1])}",
          f"{pct(b.band[0])}–{pct(b.band[1])}", pct(b.observed), "yes" if b.inside_band else "no"]
         for b in holdout.calibration],
        name="drivers_calibration", caption="Held-out sessions by decile of predicted purchase probability."))
    out.blocks.append(Figure("drivers_calibration"))
    comparison = result.model_comparison
    out.blocks.append(comparison.statement)
    check = result.prior_check
    out.blocks.append(
        f"Prior predictive check: under the priors alone the share of sessions buying ranges over "
        f"{pct(check.interval[0])}–{pct(check.interval[1])} ({result.interval_prob:.0%} of draws), which covers the "
        f"observed {pct(check.observed)}: the priors allow the data without dictating it.")
    out.blocks.append(Figure("drivers_prior_predictive"))
    strongest = _strongest(result)
    if strongest:
        top = strongest[0]
        out.blocks.append(Decision([
            f"Strongest association: {label(top.term)} ({label(top.unit)}): odds ratio {num(top.odds_ratio.mean)} "
            f"({num_range(top.odds_ratio.interval)}), {pp(top.marginal_effect.mean)} in purchase probability on average.",
            "Use this ranking to choose what to test, not what to change: an A/B test that moves one of these "
            "behaviours is how to learn whether it causes purchases.",
        ]))
    out.methods = _methods(result) + [line for line in [methods_line(result)] if line]
    out.limitations.append("associations, not causes: a positive page value partly records a purchase on its way, and "
                           "no input was varied at random.")
    if not holdout.calibrated:
        out.limitations.append("some deciles' predicted probabilities are off on held-out sessions.")
    return out


def _unfiltered(result: DriversResult) -> bool:
    return (result.scope.get("filter") or "none").startswith("none")


def _scope(result: DriversResult) -> str:
    """The sessions the model saw, in words (the config key is in the methods)."""
    if _unfiltered(result):
        return "every month: the sessions filter of the other session analyses is not applied here"
    return f"filtered to {one_line(result.scope['filter'])}"


def console(result: DriversResult) -> list[str]:
    holdout = result.holdout
    auc = "n/a" if holdout.auc is None else f"{holdout.auc:.3f} ({num_range(holdout.auc_interval, 3)})"
    lines = [f"Drivers of conversion: {result.train_sessions:,} sessions fitted, {holdout.sessions:,} held out; "
             f"held-out AUC {auc}, Brier {holdout.brier:.3f}, "
             f"{sum(b.inside_band for b in holdout.calibration)}/{len(holdout.calibration)} deciles inside the joint "
             f"{result.interval_prob:.0%} band"]
    lines += [f"  note: {one_line(note)}" for note in result.notes]
    for effect in _strongest(result)[:3]:
        lines.append(f"  {one_line(effect.term)}: odds ratio {num(effect.odds_ratio.mean)} "
                     f"({num_range(effect.odds_ratio.interval)}), P(OR > 1) {prob_text(effect.prob_positive.value, effect.prob_positive.draws)}")
    return lines


def headline(result: DriversResult) -> list[Sentence]:
    strongest = _strongest(result)
    holdout = result.holdout
    if not strongest or holdout.auc is None:
        return []
    top = strongest[0]
    scope = " Fitted on sessions of every month, not only the filtered ones." if _unfiltered(result) else ""
    label = labeller(result)
    term = label(top.term)
    text = (f"{term[:1].upper() + term[1:]} goes with buying most strongly (odds ratio {num(top.odds_ratio.mean)} {label(top.unit)}, "
            f"{result.interval_prob:.0%} interval {num_range(top.odds_ratio.interval)}); the behaviour model ranks a "
            f"held-out buyer above a non-buyer with probability {holdout.auc:.3f} (AUC). An association, not a cause.{scope}")
    return [Sentence(text, [top.odds_ratio.mean, *top.odds_ratio.interval, holdout.auc])]

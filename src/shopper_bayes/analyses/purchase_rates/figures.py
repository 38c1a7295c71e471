"""Figures of the purchase-rate analysis, drawn from its results and fitted trees; each returns a
matplotlib Figure and writes nothing.

Trace plots come from arviz-plots; the rate, lift, predictive and rank plots are drawn here so that
every cell is labelled and the rank plot's band is the one its test uses.
"""

from __future__ import annotations

from textwrap import fill

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from shopper_bayes.analyses.purchase_rates.results import RatesResult
from shopper_bayes.engine.cells import cells, segment_name
from shopper_bayes.inference.ranks import RankHistogram
from shopper_bayes.report.document import prob_text
from shopper_bayes.report.style import PALETTE, new_figure, style


def plot_rates(result: RatesResult) -> Figure:
    """Forest plot: one row per cell, one line per model (mean and interval), the observed rate as a cross."""
    with style():
        by_model = result.by_model
        models = list(by_model)
        rates = by_model[models[0]]
        offsets = [0.0] if len(models) == 1 else [0.3 * (i - (len(models) - 1) / 2) for i in range(len(models))]
        fig = new_figure(height=1.3 + 0.5 * len(rates) * max(1, len(models) * 0.7))
        ax = fig.subplots()
        for index, (model, rows) in enumerate(by_model.items()):
            colour = PALETTE[index]
            for y, row in enumerate(rows):
                lo, hi = row.interval
                at = y + offsets[index]
                ax.plot([lo * 100, hi * 100], [at, at], color=colour, linewidth=3, solid_capstyle="round")
                ax.plot(row.mean * 100, at, "o", color=colour, markersize=6, label=f"{model} model" if y == 0 else None)
        for y, row in enumerate(rates):
            if row.observed_rate is not None:
                ax.plot(row.observed_rate * 100, y, "x", color=PALETTE[3], markersize=8, markeredgewidth=2,
                        label="observed rate" if y == 0 else None)
            right = max(rows[y].interval[1] for rows in by_model.values())
            ax.annotate(f"n={row.sessions:,}", (right * 100, y), xytext=(8, 0), textcoords="offset points",
                        va="center", fontsize=8, color="0.35")
        ax.set_yticks(range(len(rates)), [row.label for row in rates])
        ax.invert_yaxis()
        ax.set_ylim(len(rates) - 0.5, -1.0)
        prob = rates[0].interval_prob
        ax.set_xlabel(f"purchase rate, % of sessions (posterior mean and {prob:.0%} credible interval)")
        ax.set_title("Purchase rate by segment")
        ax.legend(loc="upper right", fontsize=8, ncols=3, frameon=False)
        ax.margins(x=0.15)
    return fig


def plot_lift(result: RatesResult, lifts: list[np.ndarray], differences: list[np.ndarray] | None = None) -> Figure:
    """Per comparison (one row each, in result order): the posterior of the difference A - B in pp (left, the
    draws above 0 shaded, P(A > B) printed) and of the lift A / B - 1 (right) as histograms, the lift coloured
    below, inside and above the band of lifts too small to matter (shaded), zero marked."""
    shown = result.comparisons[:len(lifts)]
    differences = differences or [None] * len(shown)
    with style():
        fig = new_figure(height=0.9 + 2.1 * len(shown))
        axes = fig.subplots(len(shown), 2, squeeze=False, width_ratios=[1, 1.6])
        for (left, ax), comparison, lift, difference in zip(axes, shown, lifts, differences):
            practical, draws = comparison.practical, comparison.draws
            if difference is not None:
                difference = difference * 100
                edges = np.histogram_bin_edges(difference, bins=50)
                parts = [difference[difference <= 0], difference[difference > 0]]
                left.hist(parts, bins=edges, stacked=True, color=[PALETTE[3], PALETTE[2]],
                          weights=[np.full(part.size, 1 / difference.size) for part in parts])
                left.axvline(0, color="0.2", linewidth=1)
                left.set_title(fill(f"A − B: P(A > B) {prob_text(comparison.prob_a_greater, draws)}", 28), fontsize=9)
                left.set_ylabel("share of draws")
                lo, hi = min(edges[0], 0), max(edges[-1], 0)
                left.set_xlim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
            else:
                left.set_axis_off()
            band = practical.lift * 100
            lift = lift * 100
            edges = np.histogram_bin_edges(lift, bins=60)
            parts = [lift[lift < -band], lift[(lift >= -band) & (lift <= band)], lift[lift > band]]
            ax.axvspan(-band, band, color="0.88", zorder=0, label=f"lift too small to matter (±{band:.0f}%)")
            ax.hist(parts, bins=edges, stacked=True, weights=[np.full(part.size, 1 / lift.size) for part in parts],
                    color=[PALETTE[3], "0.45", PALETTE[2]], label=[f"below −{band:.0f}% (A − B below 0 on the left)",
                                                                   f"within ±{band:.0f}%", f"above +{band:.0f}% (A − B above 0)"])
            ax.axvline(0, color="0.2", linewidth=1)
            ax.set_title(fill(f"A = {_label(comparison.a)}, B = {_label(comparison.b)}; P(lift within ±{band:.0f}%) "
                              f"{prob_text(practical.inside.value, draws)}", 55), fontsize=9)
            ax.text(1.02, 1.0, f"P(below −{band:.0f}%)\n{prob_text(practical.below.value, draws)}\nP(within ±{band:.0f}%)\n"
                    f"{prob_text(practical.inside.value, draws)}\nP(above +{band:.0f}%)\n"
                    f"{prob_text(practical.above.value, draws)}",
                    transform=ax.transAxes, va="top", fontsize=8)
            lo, hi = min(edges[0], -band), max(edges[-1], band)
            ax.set_xlim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        axes[-1, 0].set_xlabel("difference A − B, pp")
        axes[-1, 1].set_xlabel("lift of A over B, % (A / B − 1)")
        handles, names = axes[0, 1].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
        fig.suptitle(f"Posterior of the difference and the lift ({result.model} model, {shown[0].draws:,} draws)",
                     fontweight="bold")
    return fig


SHOWN_LIFTS = 6  # comparisons drawn in rate_lift.png
SHOWN_GROUPS = 30  # cell x level rows in the right panel of ppc.png


def plot_check(result: RatesResult, replicated: dict[str, np.ndarray], groups: list[dict]) -> Figure:
    """Left: the check statistic's posterior predictive distribution per model (the chosen model's
    central interval shaded) against its observed value. Right: each group's observed rate against
    its predictive interval under the chosen model (the groups furthest from it when there are many)."""
    check = result.predictive_check[result.model]
    prob = check.interval_prob
    shown = sorted(groups, key=lambda group: -group["distance"])[:SHOWN_GROUPS] if len(groups) > SHOWN_GROUPS else groups
    with style():
        fig = new_figure(width=11, height=max(3.6, 1.5 + 0.32 * len(shown)))
        left, right = fig.subplots(1, 2, width_ratios=[1, 1.1])
        lo, hi = check.replicated.interval
        left.axvspan(lo * 100, hi * 100, color="0.88", zorder=0, label=f"{prob:.0%} interval, {result.model} model")
        for index, (name, t_rep) in enumerate(replicated.items()):
            left.hist(t_rep * 100, bins=40, histtype="step", linewidth=1.8, color=PALETTE[index],
                      weights=np.full(t_rep.size, 1 / t_rep.size), label=f"replicated, {name} model")
        left.axvline(check.observed * 100, color=PALETTE[3], linewidth=2, label="observed")
        verdict = "inside" if check.passed else "outside"
        left.set_title(f"Observed spread {verdict} the {prob:.0%} interval\n"
                       f"P(replicated ≥ observed) = {prob_text(check.p_value.value, check.p_value.draws)}", fontsize=10)
        left.set_xlabel(f"spread of {check.by} rates around their cell's rate, pp")
        left.set_ylabel("share of replications")
        left.legend(fontsize=8, frameon=False, loc="upper right")
        for y, group in enumerate(shown):
            g_lo, g_hi = group["predicted"]["interval"]
            right.plot([g_lo * 100, g_hi * 100], [y, y], color=PALETTE[0], linewidth=4, solid_capstyle="butt",
                       label=f"{prob:.0%} predictive interval" if y == 0 else None)
            right.plot(group["observed_rate"] * 100, y, "x", markersize=8, markeredgewidth=2,
                       color=PALETTE[3] if group["outside"] else "0.15")
        right.plot([], [], "x", color="0.15", markeredgewidth=2, label="observed, inside")
        right.plot([], [], "x", color=PALETTE[3], markeredgewidth=2, label="observed, outside")
        right.set_yticks(range(len(shown)), [group["label"] for group in shown])
        right.set_ylim(len(shown) - 0.4, -0.6)
        right.set_xlabel("purchase rate, % of sessions")
        few = "" if len(shown) == len(groups) else f" ({len(shown)} furthest of {len(groups)})"
        right.set_title(f"Each cell and {check.by}{few}, {result.model} model", fontsize=10)
        right.legend(fontsize=8, frameon=False, loc="best")
        fig.suptitle(f"Posterior predictive check: is each cell's purchase rate the same in every {check.by}?",
                     fontweight="bold")
    return fig


def plot_prior_predictive(trees: dict[str, xr.DataTree], counts: xr.Dataset, interval_prob: float) -> Figure:
    """Per model and cell: the central ``interval_prob`` interval of the purchase rates the priors allow
    before seeing data (prior predictive), the observed rate as a cross. Panels share one x-range."""
    chosen = [cell for cell in cells(counts) if int(counts["sessions"].sel(cell)) > 0]
    tail = (1 - interval_prob) / 2
    with style():
        fig = new_figure(width=3.2 + 3.4 * len(trees), height=1.6 + 0.42 * len(chosen))
        axes = fig.subplots(1, len(trees), sharex=True, sharey=True, squeeze=False)[0]
        for ax, (name, tree) in zip(axes, trees.items()):
            for y, cell in enumerate(chosen):
                sessions = int(counts["sessions"].sel(cell))
                draws = tree["prior_predictive"]["purchases"].sel(cell).values.ravel() / sessions * 100
                lo, hi = np.quantile(draws, [tail, 1 - tail])
                ax.plot([lo, hi], [y, y], color=PALETTE[0], linewidth=4, solid_capstyle="butt",
                        label=f"{interval_prob:.0%} prior predictive interval" if y == 0 else None)
                observed = int(counts["purchases"].sel(cell)) / sessions * 100
                ax.plot(observed, y, "x", color=PALETTE[3], markersize=8, markeredgewidth=2,
                        label="observed" if y == 0 else None)
            ax.set_title(f"{name} model", fontsize=11)
            ax.set_xlabel("purchase rate, % of sessions")
        axes[0].set_yticks(range(len(chosen)), [segment_name(cell) for cell in chosen])
        axes[0].set_ylim(len(chosen) - 0.4, -0.6)
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
        fig.suptitle("Prior predictive check", fontweight="bold")
    return fig


SHOWN_CELLS = 6  # rank and trace plots show the cells whose rate has the lowest bulk ESS


def shown(tree: xr.DataTree) -> xr.Dataset:
    """The variables the rank and trace plots show: the scalar hyperparameters (``mu_logit``,
    ``sigma_<column>``) and ``rate`` of the (at most 6) cells with the lowest bulk ESS, the cells along one
    dimension ``cell`` labelled ``level / level``."""
    import arviz_stats as azs

    posterior = tree.posterior.to_dataset()
    rate = posterior["rate"]
    cell_dims = [dim for dim in rate.dims if dim not in ("chain", "draw")]
    flat = rate.stack(cell=cell_dims)
    labels = [" / ".join(map(str, key)) if isinstance(key, tuple) else str(key) for key in flat["cell"].values]
    flat = flat.drop_vars(["cell", *cell_dims]).assign_coords(cell=labels)
    ess = azs.ess(flat.to_dataset(name="rate"), method="bulk")["rate"]
    out = {name: posterior[name] for name in posterior.data_vars
           if name.startswith(("mu_", "sigma_")) and posterior[name].ndim == 2}
    return xr.Dataset(out | {"rate": flat.isel(cell=np.argsort(ess.values)[:SHOWN_CELLS])})


def panels(variables: xr.Dataset) -> dict[str, xr.DataArray]:
    """One (chain, draw) array per panel of the rank plot, by label: ``mu_logit``, ``rate of New_Customer``."""
    out = {name: variables[name] for name in variables.data_vars if name != "rate"}
    return out | {f"rate of {cell}": variables["rate"].sel(cell=cell, drop=True) for cell in variables["cell"].values}


def _layout(panels: int) -> dict:
    """Four panels a row, 2.6 inches high each, laid out without overlapping titles."""
    return {"figsize": (11, 2.6 * -(-panels // 4)), "layout": "constrained"}


def plot_rank(histograms: dict[str, RankHistogram], model: str) -> Figure:
    """Rank histograms (:mod:`shopper_bayes.inference.ranks`): one panel per variable, each chain's counts
    per rank bin as a line, the band the counts stay inside when the chains agree shaded grey."""
    columns = min(4, len(histograms))
    rows = -(-len(histograms) // columns)
    with style():
        fig = new_figure(width=11, height=0.9 + 2.4 * rows)
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        for ax, (label, histogram) in zip(axes, histograms.items()):
            bins = histogram.counts.shape[1]
            edges = np.arange(bins + 1)
            ax.axhspan(histogram.low, histogram.high, color="0.85", linewidth=0,
                       label=f"{histogram.prob:.0%} band (all bars of a panel)")
            ax.axhline(histogram.expected, color="0.45", linewidth=1, linestyle="--", label="expected count")
            for chain, counts in enumerate(histogram.counts):
                ax.stairs(counts, edges, baseline=None, color=PALETTE[chain % len(PALETTE)], linewidth=1.4,
                          label=f"chain {chain}")  # numbered from 0, as in the trace plot
            verdict = ("inside the band" if not histogram.flagged
                       else f"outside the band (p = {histogram.p_value:.3f})")
            ax.set_title(label, fontsize=10)
            ax.text(0.02, 0.97, f"{verdict}; {_every(histogram.thin)}", transform=ax.transAxes,
                    va="top", fontsize=7.5, color=PALETTE[3] if histogram.flagged else "0.3")
            ax.set_xlim(0, bins)
            ax.set_ylim(0, max(histogram.counts.max(), histogram.high) * 1.25)
            ax.set_xticks([0, bins], ["lowest", "highest"])
            ax.set_xlabel("rank among all chains' draws")
        for ax in axes[len(histograms):]:
            ax.set_visible(False)
        for ax in axes[::columns]:
            ax.set_ylabel("draws per bin")
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=len(names), fontsize=8, frameon=False)
        fig.suptitle(f"Rank histograms per chain, {model} model", fontweight="bold")
    return fig


def _every(k: int) -> str:
    return "all draws kept" if k == 1 else f"1 draw in {k} kept"


def plot_trace(tree: xr.DataTree) -> Figure:
    """Trace plots per chain (arviz-plots, chains in the legend) of the variables :func:`shown` picks, divergences
    marked."""
    import arviz_plots as azp

    variables = shown(tree)
    groups = {"posterior": variables}
    if "sample_stats" in tree.children:
        groups["sample_stats"] = tree.sample_stats.to_dataset()[["diverging"]]
    with style():
        pc = azp.plot_trace(xr.DataTree.from_dict(groups), backend="matplotlib",
                            figure_kwargs=_layout(len(panels(variables))))
        pc.add_legend("chain")
    return pc.get_viz("figure")


def _label(segment: dict[str, str]) -> str:
    return " / ".join(segment.values())

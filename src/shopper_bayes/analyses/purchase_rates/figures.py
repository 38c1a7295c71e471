"""Figures of the purchase-rate analysis, drawn from its results and fitted trees; each returns a
matplotlib Figure and writes nothing.

Rank and trace plots come from arviz-plots; the rate and predictive plots are drawn here so that
every cell is labelled.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from shopper_bayes.analyses.purchase_rates.results import RatesResult
from shopper_bayes.engine.cells import cells, segment_name
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


def plot_predictive(trees: dict[str, xr.DataTree], counts: xr.Dataset, group: str, interval_prob: float) -> Figure:
    """Per model and cell: the predicted purchase rate (50% and ``interval_prob`` intervals) against the
    observed rate. ``group``: ``prior_predictive`` (what the priors allow before seeing data) or
    ``posterior_predictive`` (replicated data from the fit). Panels share one x-range."""
    chosen = [cell for cell in cells(counts) if int(counts["sessions"].sel(cell)) > 0]
    probs = sorted({0.5, interval_prob})
    with style():
        fig = new_figure(width=3.2 + 3.4 * len(trees), height=1.6 + 0.42 * len(chosen))
        axes = fig.subplots(1, len(trees), sharex=True, sharey=True, squeeze=False)[0]
        for ax, (name, tree) in zip(axes, trees.items()):
            for y, cell in enumerate(chosen):
                sessions = int(counts["sessions"].sel(cell))
                draws = tree[group]["purchases"].sel(cell).values.ravel() / sessions * 100
                for prob, width in zip(probs[::-1], (1.5, 4)):
                    lo, hi = np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2])
                    ax.plot([lo, hi], [y, y], color=PALETTE[0], linewidth=width, solid_capstyle="butt",
                            label=f"{prob:.0%} predictive interval" if y == 0 else None)
                observed = int(counts["purchases"].sel(cell)) / sessions * 100
                ax.plot(observed, y, "x", color=PALETTE[3], markersize=8, markeredgewidth=2,
                        label="observed" if y == 0 else None)
            ax.set_title(f"{name} model", fontsize=11)
            ax.set_xlabel("purchase rate, % of sessions")
        axes[0].set_yticks(range(len(chosen)), [segment_name(cell) for cell in chosen])
        axes[0].set_ylim(len(chosen) - 0.4, -0.6)
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
        kind = "Prior" if group == "prior_predictive" else "Posterior"
        fig.suptitle(f"{kind} predictive check", fontweight="bold")
    return fig


SHOWN_CELLS = 6  # rank and trace plots show the cells whose rate has the lowest bulk ESS


def _worst(tree: xr.DataTree) -> xr.DataTree:
    """The scalar hyperparameters and the rates of the (at most 6) cells with the lowest bulk ESS,
    cells flattened to one labelled dimension, with the divergences for the trace plot."""
    import arviz_stats as azs

    posterior = tree.posterior.to_dataset()
    rate = posterior["rate"]
    cell_dims = [dim for dim in rate.dims if dim not in ("chain", "draw")]
    flat = rate.stack(cell=cell_dims)
    labels = [" / ".join(map(str, key)) if isinstance(key, tuple) else str(key) for key in flat["cell"].values]
    flat = flat.drop_vars(["cell", *cell_dims]).assign_coords(cell=labels)
    ess = azs.ess(flat.to_dataset(name="rate"), method="bulk")["rate"]
    worst = [labels[i] for i in np.argsort(ess.values)[:SHOWN_CELLS]]
    shown = {"rate": flat.sel(cell=worst)}
    shown |= {name: posterior[name] for name in posterior.data_vars
              if name.startswith(("mu_", "sigma_")) and posterior[name].ndim == 2}
    groups = {"posterior": xr.Dataset(shown)}
    if "sample_stats" in tree.children:
        groups["sample_stats"] = tree.sample_stats.to_dataset()[["diverging"]]
    return xr.DataTree.from_dict(groups)


def _layout(shown: xr.DataTree) -> dict:
    """Four panels a row, 2.6 inches high each, laid out without overlapping titles."""
    panels = sum(int(np.prod([size for dim, size in var.sizes.items() if dim not in ("chain", "draw")]))
                 for var in shown.posterior.data_vars.values())
    return {"figsize": (11, 2.6 * -(-panels // 4)), "layout": "constrained"}


def plot_rank(tree: xr.DataTree) -> Figure:
    """Rank ECDF plots per chain with their simultaneous envelope (arviz-plots): inside the band when the
    chains agree."""
    import arviz_plots as azp

    shown = _worst(tree)
    with style():
        pc = azp.plot_rank(shown, backend="matplotlib", figure_kwargs=_layout(shown))
        pc.add_legend("chain")
    return pc.get_viz("figure")


def plot_trace(tree: xr.DataTree) -> Figure:
    """Trace plots per chain (arviz-plots), divergences marked."""
    import arviz_plots as azp

    shown = _worst(tree)
    with style():
        pc = azp.plot_trace(shown, backend="matplotlib", figure_kwargs=_layout(shown))
    return pc.get_viz("figure")

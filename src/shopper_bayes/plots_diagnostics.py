"""Figures of the fitted purchase-rate models for the analyst: predictive checks, rank and trace plots.

Rank and trace plots come from arviz-plots; the predictive checks are drawn here so that every cell
is labelled and prior and posterior checks share one layout.
"""

from __future__ import annotations

import arviz_plots as azp
import arviz_stats as azs
import numpy as np
import xarray as xr

from shopper_bayes.counts import cell_label, cells, segment_name
from shopper_bayes.plots_style import PALETTE, plt, save

PREDICTIVE_PROBS = (0.5, 0.9)


def plot_predictive(trees: dict[str, xr.DataTree], counts: xr.Dataset, group: str, path) -> None:
    """Per model and cell: predicted purchase rate (50% and 90% intervals) against the observed rate.

    ``group`` is ``prior_predictive`` (what the priors allow before seeing data) or
    ``posterior_predictive`` (replicated data from the fit: the observed rate should sit inside).
    """
    chosen = [cell for cell in cells(counts) if int(counts["sessions"].sel(cell)) > 0]
    labels = [segment_name(cell_label(cell)) for cell in chosen]
    fig, axes = plt.subplots(1, len(trees), figsize=(3.2 + 3.4 * len(trees), 1.3 + 0.42 * len(chosen)),
                             sharey=True, squeeze=False)
    for ax, (name, tree) in zip(axes[0], trees.items()):
        for y, cell in enumerate(chosen):
            sessions = int(counts["sessions"].sel(cell))
            draws = tree[group]["purchases"].sel(cell).values.ravel() / sessions * 100
            for prob, width in zip(PREDICTIVE_PROBS[::-1], (1.5, 4)):
                lo, hi = np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2])
                ax.plot([lo, hi], [y, y], color=PALETTE[0], linewidth=width, solid_capstyle="butt",
                        label=f"{prob:.0%} predictive interval" if y == 0 else None)
            observed = int(counts["purchases"].sel(cell)) / sessions * 100
            ax.plot(observed, y, "x", color=PALETTE[3], markersize=8, markeredgewidth=2,
                    label="observed" if y == 0 else None)
        ax.set_title(f"{name} model", fontsize=11)
        ax.set_xlabel("purchase rate, % of sessions")
    axes[0][0].set_yticks(range(len(chosen)), labels)
    axes[0][0].set_ylim(len(chosen) - 0.4, -0.6)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=3, fontsize=8, frameon=False)
    kind = "Prior" if group == "prior_predictive" else "Posterior"
    fig.suptitle(f"{kind} predictive check", fontweight="bold", y=1.0)
    fig.tight_layout()
    save(fig, path)


SHOWN_CELLS = 6  # rank and trace plots show the cells whose rate has the lowest bulk ESS


def _worst(tree: xr.DataTree) -> xr.DataTree:
    """The scalar hyperparameters and the rates of the (at most 6) cells with the lowest bulk ESS,
    cells flattened to one labelled dimension, with the divergences for the trace plot."""
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
    return xr.DataTree.from_dict({"posterior": xr.Dataset(shown),
                                  "sample_stats": tree.sample_stats.to_dataset()[["diverging"]]})


def _layout(shown: xr.DataTree) -> dict:
    """Four panels a row, 3 inches high each, laid out without overlapping titles."""
    panels = sum(int(np.prod([size for dim, size in var.sizes.items() if dim not in ("chain", "draw")]))
                 for var in shown.posterior.data_vars.values())
    return {"figsize": (14, 3 * -(-panels // 4)), "layout": "constrained"}


def plot_rank(tree: xr.DataTree, path) -> None:
    """Rank ECDF plots per chain (arviz-plots): inside the band when the chains agree."""
    shown = _worst(tree)
    pc = azp.plot_rank(shown, backend="matplotlib", figure_kwargs=_layout(shown))
    pc.savefig(path, bbox_inches="tight")
    plt.close("all")


def plot_trace(tree: xr.DataTree, path) -> None:
    """Trace plots per chain (arviz-plots), divergences marked."""
    shown = _worst(tree)
    pc = azp.plot_trace(shown, backend="matplotlib", figure_kwargs=_layout(shown))
    pc.savefig(path, bbox_inches="tight")
    plt.close("all")


def plot_forest(trees: dict[str, xr.DataTree], path) -> None:
    """Forest plot of the cell rates (arviz-plots), one colour per model, 50% and 95% intervals."""
    pc = azp.plot_forest(trees, var_names=["rate"], combined=True, ci_probs=(0.5, 0.95), backend="matplotlib")
    pc.add_legend("model")
    pc.savefig(path, bbox_inches="tight")
    plt.close("all")

"""Figures of the fitted purchase-rate models for the analyst: predictive checks, rank and trace plots.

Rank and trace plots come from arviz-plots; the predictive checks are drawn here so that every cell
is labelled and prior and posterior checks share one layout.
"""

from __future__ import annotations

import arviz_plots as azp
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


def _rate_variables(tree: xr.DataTree) -> list[str]:
    return ["rate"] + [name for name in tree.posterior.data_vars if name.startswith(("mu_", "sigma_"))]


def plot_rank(tree: xr.DataTree, path) -> None:
    """Rank ECDF plots per chain (arviz-plots): flat within the band when the chains agree."""
    pc = azp.plot_rank(tree, var_names=_rate_variables(tree), backend="matplotlib")
    pc.savefig(path, bbox_inches="tight")
    plt.close("all")


def plot_trace(tree: xr.DataTree, path) -> None:
    """Trace plots per chain (arviz-plots), divergences marked."""
    pc = azp.plot_trace(tree, var_names=_rate_variables(tree), backend="matplotlib")
    pc.savefig(path, bbox_inches="tight")
    plt.close("all")


def plot_forest(trees: dict[str, xr.DataTree], path) -> None:
    """Forest plot of the cell rates (arviz-plots), one colour per model, 50% and 95% intervals."""
    pc = azp.plot_forest(trees, var_names=["rate"], combined=True, ci_probs=(0.5, 0.95), backend="matplotlib")
    pc.add_legend("model")
    pc.savefig(path, bbox_inches="tight")
    plt.close("all")

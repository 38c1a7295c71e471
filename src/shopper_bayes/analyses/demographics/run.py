"""Run the demographics analysis: profiles, cell statistics and share sums from the engine, one joint MCMC fit of spend and
orders, exact Dirichlet posteriors of category and product shares, and the figures."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from shopper_bayes.analyses.base import Context, FigureSpec, Output
from shopper_bayes.analyses.demographics import compute, figures
from shopper_bayes.analyses.demographics.config import DemographicsSettings
from shopper_bayes.analyses.demographics.model import build_model, cell_codes
from shopper_bayes.analyses.demographics.result import DemographicsResult
from shopper_bayes.errors import one_line
from shopper_bayes.inference.diagnostics import check

BOOTSTRAP_DRAWS = 1000  # Bayesian-bootstrap draws of revenue shares (one sparse product per 250)


def modelled_columns(units: pd.DataFrame, by: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """The ``by`` columns with two or more levels (sorted level names), and a note for each left out."""
    levels, notes = {}, []
    for column in by:
        names = sorted(units[column].unique().tolist())
        if len(names) < 2:
            notes.append(one_line(f"{column} has one level ({names[0]}) after cleaning: nothing to compare, "
                                  "so it is left out of the models"))
        else:
            levels[column] = names
    return levels, notes


def fit_key(cells: pd.DataFrame, settings: DemographicsSettings, sampler) -> str:
    digest = hashlib.sha256(pd.util.hash_pandas_object(cells, index=False).to_numpy().tobytes())
    digest.update(json.dumps([settings.likelihood, settings.spend_prior.model_dump(), settings.orders_prior.model_dump(),
                              sampler.model_dump(), settings.tune, settings.target_accept], default=str).encode())
    return f"demographics-{digest.hexdigest()[:16]}"


def run(ctx: Context) -> Output:
    settings: DemographicsSettings = ctx.settings
    loaded = ctx.load()
    scope, table = loaded.scope, loaded.table
    by = list(scope["by"])
    units = compute.profiles(table, scope["profile_columns"])
    levels, notes = modelled_columns(units, by)
    cells = compute.cell_statistics(table, scope["profile_columns"], list(levels))
    ctx.step(f"fitting spend and orders per customer profile on {len(cells):,} cells")
    model = build_model(cells, levels, settings)
    overrides = {"draws": settings.mcmc_draws, "tune": settings.tune, "target_accept": settings.target_accept}
    # Its predictive checks are drawn in numpy (spend enters as a Potential), so no predictive groups; no
    # log-likelihood either (nothing compares this model by LOO, and it would hold the orders term alone).
    tree = ctx.fit(model, fit_key(cells, settings, ctx.config.sampler), groups=(), **overrides)
    diagnostics = check(tree, ctx.config.diagnostics)

    codes = cell_codes(cells, levels)
    posterior = tree.posterior
    n = cells["n"].to_numpy(np.float64)
    prob, rng = settings.interval_prob, np.random.default_rng(ctx.seed)
    spend_eta, spend_effects = compute.linear_draws(posterior, "spend", codes)
    orders_eta, orders_effects = compute.linear_draws(posterior, "orders", codes)
    spend_all, spend_levels = compute.standardised(spend_eta, spend_effects, codes, n)
    orders_all, orders_levels = compute.standardised(orders_eta, orders_effects, codes, n, offset=1.0)

    def groups(levels_draws, overall, outcome):
        result = {}
        for column, names in levels.items():
            grouped = units.groupby(column, observed=True)[outcome]
            result[column] = compute.level_entries(names, grouped.size(), grouped.mean(), levels_draws[column], overall,
                                                   prob, settings.target_prob, settings.top_levels)
        return result

    cell_index = units.merge(cells[[*levels, "cell"]].reset_index(), on=list(levels), how="left")["index"].to_numpy() \
        if levels else np.zeros(len(units), dtype=np.int64)
    checks = compute.spend_checks(units, cell_index, spend_eta, posterior, settings.likelihood, rng,
                                  settings.ppc_draws, prob)
    checks += compute.orders_checks(units, cell_index, orders_eta, rng, settings.ppc_draws, prob)

    crosses = []
    if "gender" in levels and "age_group" in levels:
        crosses = compute.gender_age(units, spend_eta, spend_effects, codes, levels, n, prob)
    else:
        notes.append("the gender × age-group table needs both gender and age_group modelled (orders.by), "
                     "each with two or more levels")

    categories = compute.share_table(table, "category", settings.share_prior, prob, rng, settings.draws, BOOTSTRAP_DRAWS)
    products = compute.share_table(table, "product", settings.share_prior, prob, rng, settings.draws, BOOTSTRAP_DRAWS)
    category_of = compute.category_of(table)
    top = settings.top_products
    zones = compute.zone_shares(table, settings.share_prior, prob) if "zone" in table.columns else []
    if not zones:
        notes.append("no zone column mapped (orders.columns.zone): no categories-by-zone table")

    result = DemographicsResult(
        unit=scope["unit"], purchases=loaded.cleaning.rows_used, customers=len(units), customer_ids=scope["customer_ids"],
        conflicting_ids=scope["conflicting_ids"], max_profiles_per_id=scope["max_profiles_per_id"], by=by,
        cells=len(cells), likelihood=settings.likelihood, interval_prob=prob, target_prob=settings.target_prob,
        top_levels=settings.top_levels,
        overall_spend_observed=float(units["spend"].mean()), overall_spend=compute.estimate(spend_all, prob),
        groups=groups(spend_levels, spend_all, "spend"),
        overall_orders_observed=float(units["orders"].mean()), overall_orders=compute.estimate(orders_all, prob),
        orders_groups=groups(orders_levels, orders_all, "orders"),
        gender_age=crosses,
        categories=compute.share_entries(categories.sort_values(["orders", "name"], ascending=[False, True]),
                                         settings.draws, BOOTSTRAP_DRAWS),
        products=compute.share_entries(products.sort_values(["orders", "name"], ascending=[False, True]).head(top),
                                       settings.draws, BOOTSTRAP_DRAWS, category_of),
        products_by_revenue=compute.share_entries(
            products.sort_values(["revenue", "name"], ascending=[False, True]).head(top),
            settings.draws, BOOTSTRAP_DRAWS, category_of),
        zones=zones, checks=checks, ignored_columns=scope["ignored_columns"], label_merges=scope["label_merges"],
        notes=notes, draws=len(spend_all), diagnostics=diagnostics)
    return Output(summary=result, figures=figure_specs(result), models={"demographics": tree},
                  tables={"demographics_cells": cells})


def figure_specs(result: DemographicsResult) -> list[FigureSpec]:
    specs = []
    if result.groups:
        specs.append(FigureSpec(
            name="demographics_spend_forest", draw=lambda: figures.spend_forest(result),
            caption=f"Mean spend per customer profile by level ({result.interval_prob:.0%} intervals), for the data's "
                    "mix of the other columns; the dashed line is the overall mean.",
            alt="Forest plot of posterior mean spend per customer profile for every level of each demographic column, "
                "with the overall mean as a vertical line."))
    if result.zones:
        specs.append(FigureSpec(
            name="demographics_category_zone", draw=lambda: figures.category_zone_heatmap(result),
            caption="Share of each zone's orders going to each product category (posterior mean).",
            alt="Heatmap of product categories (rows) by zone (columns), coloured by the category's share of the zone's orders."))
    return specs

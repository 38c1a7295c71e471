"""Statistics of customer profiles and the results computed from the posterior and exact posteriors.

Level means are *standardised*: the mean per profile a level would have with the data's mix of the
other modelled columns, mean_k[l] = Σ_c n_c m(c with column k set to l) / N, so a level is not
credited for the states or occupations its customers happen to have. The overall mean is
Σ_c n_c m_c / N.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sparse
from scipy import stats

from shopper_bayes.analyses.base import Estimate, Probability
from shopper_bayes.analyses.demographics.result import Check, Cross, Level, Share, ZoneShare
from shopper_bayes.engine.base import exact_sum, quote


def _columns(names) -> str:
    return ", ".join(quote(name) for name in names)


def profiles_sql(profile_columns: list[str]) -> str:
    """SQL of one row per customer profile (id + demographic labels): its spend and orders summed."""
    keys = _columns(["customer", *profile_columns])
    return f"SELECT {keys}, {exact_sum('amount')} AS spend, sum(orders) AS orders FROM {{rows}} GROUP BY {keys}"


def profiles(table, profile_columns: list[str]) -> pd.DataFrame:
    """The customer profiles, summed by the engine, sorted by id and labels."""
    keys = _columns(["customer", *profile_columns])
    units = table.sql(f"SELECT * FROM ({profiles_sql(profile_columns)}) ORDER BY {keys}")
    return units.astype({"orders": np.int64, "spend": np.float64})


def cell_statistics(table, profile_columns: list[str], by: list[str]) -> pd.DataFrame:
    """Per cell of the ``by`` columns, summed by the engine over the customer profiles: n, Σ y,
    Σ log y, Σ (log y)² of spend y and Σ (orders - 1)."""
    keys = _columns(by) if by else "'all' AS cell"
    grouped = f" GROUP BY {_columns(by)} ORDER BY {_columns(by)}" if by else ""
    cells = table.sql(f"SELECT {keys}, count(*) AS n, {exact_sum('spend')} AS sum_y, {exact_sum('ln(spend)')} AS sum_log, "
                      f"{exact_sum('ln(spend) * ln(spend)')} AS sum_log2, sum(orders - 1) AS extra_orders "
                      f"FROM ({profiles_sql(profile_columns)}){grouped}")
    cells = cells.astype({"n": np.int64, "extra_orders": np.int64})
    if by:
        cells.insert(0, "cell", cells[by].astype(str).agg(" / ".join, axis=1))
    return cells


def _interval(values: np.ndarray, prob: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - prob) / 2
    return np.quantile(values, tail, axis=axis), np.quantile(values, 1 - tail, axis=axis)


def draws_of(posterior, name: str) -> np.ndarray:
    """A posterior variable with chain and draw stacked first: (draws, ...)."""
    values = posterior[name].to_numpy()
    return values.reshape(-1, *values.shape[2:])


def linear_draws(posterior, prefix: str, codes: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The linear predictor per draw and cell, and each column's effects per draw and level."""
    effects = {column: draws_of(posterior, f"{prefix}_{column}") for column in codes}
    eta = draws_of(posterior, f"{prefix}_intercept")[:, None]
    for column, code in codes.items():
        eta = eta + effects[column][:, code]
    return eta, effects


def standardised(eta: np.ndarray, effects: dict[str, np.ndarray], codes: dict[str, np.ndarray],
                 n: np.ndarray, offset: float = 0.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Overall mean (draws,) and per column the level means (draws, levels): offset + exp(linear)."""
    weights = n / n.sum()
    overall = offset + np.exp(eta) @ weights
    levels = {}
    for column, code in codes.items():
        rest = np.exp(eta - effects[column][:, code]) @ weights
        levels[column] = offset + np.exp(effects[column]) * rest[:, None]
    return overall, levels


def level_entries(names: list[str], customers: pd.Series, observed: pd.Series, level_draws: np.ndarray,
                  overall: np.ndarray, prob: float, target_prob: float, top: int) -> list[Level]:
    """Per level: mean, interval, P(above the overall mean), flag, P(among the top ``top``)."""
    draws = len(overall)
    above = (level_draws > overall[:, None]).mean(axis=0)
    low, high = _interval(level_draws, prob)
    top_prob = None
    if len(names) > top:
        rank = (-level_draws).argsort(axis=1).argsort(axis=1)
        top_prob = (rank < top).mean(axis=0)
    entries = []
    for i, name in enumerate(names):
        flag = "target" if above[i] >= target_prob else "underperforming" if above[i] <= 1 - target_prob else "unclear"
        entries.append(Level(
            level=name, customers=int(customers[name]), observed_mean=float(observed[name]),
            mean=float(level_draws[:, i].mean()), interval=(float(low[i]), float(high[i])),
            prob_above_mean=Probability(value=float(above[i]), draws=draws), flag=flag,
            prob_top=None if top_prob is None else Probability(value=float(top_prob[i]), draws=draws)))
    return entries


def estimate(values: np.ndarray, prob: float) -> Estimate:
    low, high = _interval(values, prob)
    return Estimate(mean=float(values.mean()), interval=(float(low), float(high)))


def gender_age(units: pd.DataFrame, eta: np.ndarray, effects: dict[str, np.ndarray], codes: dict[str, np.ndarray],
               levels: dict[str, list[str]], n: np.ndarray, prob: float) -> list[Cross]:
    """Standardised mean spend of every gender × age-group pair (over the other columns' mix)."""
    weights = n / n.sum()
    gender, age = effects["gender"], effects["age_group"]
    rest = np.exp(eta - gender[:, codes["gender"]] - age[:, codes["age_group"]]) @ weights
    observed = units.groupby(["gender", "age_group"], observed=True)["spend"].agg(["size", "mean"])
    rows = []
    for i, g in enumerate(levels["gender"]):
        for j, a in enumerate(levels["age_group"]):
            values = np.exp(gender[:, i] + age[:, j]) * rest
            low, high = _interval(values, prob)
            size, mean = observed.loc[(g, a)] if (g, a) in observed.index else (0, None)
            rows.append(Cross(gender=g, age_group=a, customers=int(size),
                              observed_mean=None if mean is None else float(mean),
                              mean=float(values.mean()), interval=(float(low), float(high))))
    return rows


def spend_checks(units: pd.DataFrame, cell_index: np.ndarray, eta: np.ndarray, posterior, likelihood: str,
                 rng: np.random.Generator, draws: int, prob: float) -> list[Check]:
    """Replicate every profile's spend under ``draws`` posterior draws and compare statistics."""
    pick = rng.choice(len(eta), size=min(draws, len(eta)), replace=False)
    mean = np.exp(eta[pick][:, cell_index])
    if likelihood == "gamma":
        shape = draws_of(posterior, "spend_shape")[pick][:, None]
        replicated = rng.gamma(shape, mean / shape)
    else:
        sigma = draws_of(posterior, "spend_sigma")[pick][:, None]
        replicated = np.exp(np.log(mean) - sigma**2 / 2 + sigma * rng.standard_normal(mean.shape))
    return _checks(f"spend ({likelihood})", units["spend"].to_numpy(), replicated, prob, {
        "mean": lambda y: y.mean(axis=-1), "sd": lambda y: y.std(axis=-1),
        "10th percentile": lambda y: np.quantile(y, 0.1, axis=-1), "median": lambda y: np.quantile(y, 0.5, axis=-1),
        "90th percentile": lambda y: np.quantile(y, 0.9, axis=-1), "99th percentile": lambda y: np.quantile(y, 0.99, axis=-1)})


def orders_checks(units: pd.DataFrame, cell_index: np.ndarray, eta: np.ndarray, rng: np.random.Generator,
                  draws: int, prob: float) -> list[Check]:
    pick = rng.choice(len(eta), size=min(draws, len(eta)), replace=False)
    replicated = 1 + rng.poisson(np.exp(eta[pick][:, cell_index]))
    return _checks("orders (1 + Poisson)", units["orders"].to_numpy(), replicated, prob, {
        "mean": lambda y: y.mean(axis=-1), "variance": lambda y: y.var(axis=-1),
        "share with 1 order": lambda y: (y == 1).mean(axis=-1), "share with 5 or more": lambda y: (y >= 5).mean(axis=-1)})


def _checks(model: str, observed: np.ndarray, replicated: np.ndarray, prob: float, statistics: dict) -> list[Check]:
    rows = []
    for name, statistic in statistics.items():
        value, values = float(statistic(observed)), statistic(replicated)
        rows.append(Check(model=model, statistic=name, observed=value, replicated=estimate(values, prob),
                          p_value=float((values >= value).mean()), draws=int(values.size)))
    return rows


def dirichlet_shares(counts: np.ndarray, alpha: float, prob: float, rng: np.random.Generator, draws: int):
    """Posterior mean and exact interval (Beta marginals) of Dirichlet(alpha + counts) shares, and
    P(rank 1) from ``draws`` exact draws."""
    post = alpha + counts
    total = post.sum()
    mean = post / total
    tail = (1 - prob) / 2
    low = stats.beta.ppf(tail, post, total - post)
    high = stats.beta.ppf(1 - tail, post, total - post)
    winners = rng.gamma(post, size=(draws, len(post))).argmax(axis=1)
    return mean, low, high, np.bincount(winners, minlength=len(post)) / draws


def bootstrap_revenue(group: np.ndarray, amount: np.ndarray, count: np.ndarray, groups: int, prob: float,
                      rng: np.random.Generator, draws: int, chunk: int = 250):
    """Revenue shares by the Bayesian bootstrap over purchases (Dirichlet(1, ..., 1) weights):
    posterior mean, interval and P(rank 1) of each group's share of revenue. The purchases come as
    distinct (group, amount) with their ``count``: the sum of ``count`` Exp(1) weights is Gamma(count)."""
    indicator = sparse.csr_matrix((amount, (np.arange(len(amount)), group)), shape=(len(amount), groups))
    shares = []
    for start in range(0, draws, chunk):
        weights = rng.standard_gamma(count, size=(min(chunk, draws - start), len(amount)))
        revenue = np.asarray((indicator.T @ weights.T).T)
        shares.append(revenue / revenue.sum(axis=1, keepdims=True))
    shares = np.concatenate(shares)
    low, high = _interval(shares, prob)
    return shares.mean(axis=0), low, high, np.bincount(shares.argmax(axis=1), minlength=groups) / draws


def share_table(table, key: str, alpha: float, prob: float, rng: np.random.Generator,
                draws: int, bootstrap_draws: int) -> pd.DataFrame:
    """Per value of ``key`` (sums by the engine): orders, revenue, order shares (Dirichlet) and
    revenue shares (bootstrap)."""
    column = quote(key)
    totals = table.sql(f"SELECT {column} AS name, sum(orders) AS orders, {exact_sum('amount')} AS revenue FROM {{rows}} "
                       f"GROUP BY {column} ORDER BY {column}")
    names = totals["name"].astype(str).to_numpy(dtype=object)
    amounts = table.sql(f"SELECT {column} AS name, amount, count(*) AS n FROM {{rows}} GROUP BY {column}, amount "
                        f"ORDER BY {column}, amount")
    codes = pd.Categorical(amounts["name"].astype(str), categories=names).codes
    orders = totals["orders"].to_numpy(np.float64)
    share, low, high, first = dirichlet_shares(orders, alpha, prob, rng, draws)
    r_share, r_low, r_high, r_first = bootstrap_revenue(codes, amounts["amount"].to_numpy(np.float64),
                                                        amounts["n"].to_numpy(np.float64), len(names), prob, rng,
                                                        bootstrap_draws)
    return pd.DataFrame({"name": names, "orders": orders.astype(np.int64),
                         "revenue": totals["revenue"].to_numpy(np.float64),
                         "share": share, "low": low, "high": high, "prob_top": first, "revenue_share": r_share,
                         "revenue_low": r_low, "revenue_high": r_high, "prob_top_revenue": r_first})


def category_of(table) -> dict[str, str]:
    """Each product's most frequent category (ties: the first in sorted order), by the engine."""
    rows = table.sql("SELECT product, category FROM (SELECT product, category, row_number() OVER (PARTITION BY product "
                     "ORDER BY n DESC, category) AS rank FROM (SELECT product, category, count(*) AS n FROM {rows} "
                     "GROUP BY product, category)) WHERE rank = 1")
    return dict(zip(rows["product"].astype(str), rows["category"].astype(str)))


def share_entries(table: pd.DataFrame, draws: int, bootstrap_draws: int, categories: dict | None = None) -> list[Share]:
    return [Share(name=row.name, category=None if categories is None else categories[row.name],
                  orders=int(row.orders), revenue=float(row.revenue), share=float(row.share),
                  interval=(float(row.low), float(row.high)),
                  prob_top=Probability(value=float(row.prob_top), draws=draws),
                  revenue_share=float(row.revenue_share), revenue_interval=(float(row.revenue_low), float(row.revenue_high)),
                  prob_top_revenue=Probability(value=float(row.prob_top_revenue), draws=bootstrap_draws))
            for row in table.itertuples(index=False)]


def zone_shares(table, alpha: float, prob: float) -> list[ZoneShare]:
    """Each category's share of each zone's orders (sums by the engine): Dirichlet(alpha + orders)
    per zone, exact Beta intervals."""
    sums = table.sql("SELECT zone, category, sum(orders) AS orders FROM {rows} GROUP BY zone, category")
    counts = sums.pivot_table(index="zone", columns="category", values="orders", aggfunc="sum", fill_value=0)
    post = alpha + counts.to_numpy(np.float64)
    total = post.sum(axis=1, keepdims=True)
    tail = (1 - prob) / 2
    low, high = stats.beta.ppf(tail, post, total - post), stats.beta.ppf(1 - tail, post, total - post)
    return [ZoneShare(zone=str(zone), category=str(category), orders=int(counts.iloc[i, j]),
                      share=float(post[i, j] / total[i, 0]), interval=(float(low[i, j]), float(high[i, j])))
            for i, zone in enumerate(counts.index) for j, category in enumerate(counts.columns)]

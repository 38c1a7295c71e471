"""Retention and churn by the rule "no purchase for more than N days" as of the observation end,
and monthly cohorts (month of first purchase x months since) of the share still buying.

Model for the rate: customers observed for more than N days churn independently with the same
probability; churn rate ~ Beta(alpha, beta), so the posterior is Beta(alpha + churned, beta + kept),
drawn exactly with numpy. Customers whose first purchase is N days or less before the end cannot have
churned by the rule yet: they are counted apart ("too recent"), not in the rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from shopper_bayes.analyses.base import Estimate, Result
from shopper_bayes.analyses.customers_churn.config import ChurnSettings
from shopper_bayes.datasets.transactions import over_customers
from shopper_bayes.inference.conjugate import beta_rate, central_interval


class Cohort(BaseModel):
    """``shares[k]``: share of the cohort with a purchase k months after its first month (None: after the end)."""

    cohort: str  # YYYY-MM of first purchase
    customers: int
    shares: list[float | None]


class ChurnResult(Result):
    inactive_days: int
    observation_end: str
    customers: int
    eligible: int  # first purchase more than inactive_days before the observation end
    too_recent: int
    churned: int
    observed_churn_rate: float | None
    churn_rate: Estimate
    retention_rate: Estimate
    interval_prob: float
    draws: int
    cohorts: list[Cohort]
    scope: dict[str, Any]
    note: str | None = None


COHORT_SQL = """
SELECT strftime(c.cohort, '%Y-%m') AS cohort, s.buying AS customers,
       datediff('month', c.cohort, c.month_start) AS months_since, c.buying
FROM {months} c JOIN {months} s ON s.cohort = c.cohort AND s.month_start = s.cohort ORDER BY 1, 3
"""
# From the cohort-month table the customer analyses share (customers buying per cohort and month, computed once per
# run with the per-customer table); a cohort's size is its customers active in its first month.


def cohorts(data, observation_end: pd.Timestamp, calibration_end=None) -> list[Cohort]:
    """Cohort shares where the purchases are; cells after the observation end's month are None. ``calibration_end``:
    the dataset's, so that the cohort-month table is the one the other customer analyses read."""
    cells, = over_customers(data, [COHORT_SQL], observation_end, calibration_end)
    end = observation_end.to_period("M")
    out = []
    for (name, size), group in cells.groupby(["cohort", "customers"], sort=True):
        horizon = (end - pd.Period(name, "M")).n + 1
        shares = np.zeros(horizon)
        shares[group["months_since"].to_numpy()] = group["buying"].to_numpy() / size
        out.append(Cohort(cohort=name, customers=int(size), shares=[float(share) for share in shares]))
    longest = max(len(cohort.shares) for cohort in out)
    for cohort in out:
        cohort.shares += [None] * (longest - len(cohort.shares))
    return out


def counts_query(settings: ChurnSettings, observation_end) -> str:
    """What :func:`compute` takes, as a query over the per-customer summary (``{customers}``): customers, those
    observed for more than ``inactive_days`` (eligible) and those of them without a purchase in that time."""
    end = f"TIMESTAMP '{pd.Timestamp(observation_end).date().isoformat()} 00:00:00'"
    since_first, since_last = (f"datediff('day', {column}, {end}) > {int(settings.inactive_days)}"
                               for column in ("first_purchase", "last_purchase"))
    return (f"SELECT count(*) AS customers, count(*) FILTER (WHERE {since_first}) AS eligible, "
            f"count(*) FILTER (WHERE {since_first} AND {since_last}) AS churned FROM {{customers}}")


def compute(counts: pd.DataFrame, data, settings: ChurnSettings, rng: np.random.Generator,
            scope: dict[str, Any]) -> ChurnResult:
    """``counts``: the result of :func:`counts_query`; ``data``: the loaded purchases (cohorts counted in their
    engine) or a frame of them."""
    end = pd.Timestamp(scope["observation_end"])
    customers, n, churned = (int(counts[column].iloc[0]) for column in ("customers", "eligible", "churned"))
    note = None
    if n == 0:
        note = (f"no customer's first purchase is more than {settings.inactive_days} days before the observation end: "
                "nobody can have churned by the rule yet, so the churn rate is undefined")
        churn = Estimate(mean=None, interval=(None, None), note=note)
        retention = Estimate(mean=None, interval=(None, None), note=note)
    else:
        draws = beta_rate(churned, n, settings.prior_alpha, settings.prior_beta, settings.draws, rng)
        low, high = central_interval(draws, settings.interval_prob)
        churn = Estimate(mean=float(draws.mean()), interval=(float(low), float(high)))
        retention = Estimate(mean=float(1 - draws.mean()), interval=(float(1 - high), float(1 - low)))
        if n == 1:
            note = "one customer only: the churn rate says little"
    return ChurnResult(
        inactive_days=settings.inactive_days, observation_end=end.date().isoformat(), customers=customers,
        eligible=n, too_recent=customers - n, churned=churned, observed_churn_rate=churned / n if n else None,
        churn_rate=churn, retention_rate=retention, interval_prob=settings.interval_prob, draws=settings.draws,
        cohorts=cohorts(data, end, scope.get("calibration_end")), scope=scope, note=note)


def cohort_frame(result: ChurnResult) -> pd.DataFrame:
    """Cohorts as a table: one row per cohort, one column per month since the first purchase."""
    width = len(result.cohorts[0].shares)
    return pd.DataFrame([[cohort.cohort, cohort.customers, *cohort.shares] for cohort in result.cohorts],
                        columns=["cohort", "customers", *(f"month_{k}" for k in range(width))])

"""Mock transaction logs from a stated customer model, written beside their ground truth.

Model (time in days from ``start``; purchases and dropout of the BG/NBD family, Gamma-Gamma spend):

- customer i makes a first purchase at a uniform time in [0, acquisition_days);
- purchase rate lambda_i ~ Gamma(shape r, rate alpha) per day; while active, the time to the next
  purchase is Exponential(lambda_i); purchases after ``observation_days`` are not observed;
- dropout (``dropout``): ``every_purchase`` (the default): after each purchase, the first included,
  the customer drops out for good with probability p_i ~ Beta(a, b) (the MBG/NBD of Batislam,
  Denizel & Filiztekin 2007); ``repeat_purchase``: the same after each repeat purchase only (the
  BG/NBD of Fader, Hardie & Lee 2005); ``any_time``: a lifetime from the first purchase
  ~ Exponential(mu_i), mu_i ~ Gamma(shape s, rate beta) per day (the Pareto/NBD);
- spend per purchase ~ Gamma(shape spend_shape, rate nu_i), nu_i ~ Gamma(shape spend_q, rate
  spend_gamma) (mean spend_shape x spend_gamma / (spend_q - 1)), rounded to cents;
- the category of each purchase ~ Categorical(category_shares), independent of everything else.

The truth JSON holds every parameter and, from a Monte Carlo run of ``truth_customers`` customers of
the same model (its own random stream), the expected churn rate under the rule "no purchase for more
than N days before the end" for N in :attr:`TransactionsGenerator.churn_days`, and the expected
shares of one-time (1 purchase day), occasional (2-4) and frequent (5 or more) buyers, each with its
Monte Carlo standard error.

Customers are simulated in chunks of :data:`CHUNK_CUSTOMERS`, chunk c from its own stream
``SeedSequence(seed, spawn_key=(c,))``, so the file depends on the seed and the number of customers
only, and memory holds one chunk.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from shopper_bayes import __version__
from shopper_bayes.errors import UserError
from shopper_bayes.generate.base import SUFFIXES, _write_csv, _write_parquet, truth_path

CHUNK_CUSTOMERS = 50_000
TRUTH_STREAM = 2**31  # spawn key of the Monte Carlo stream behind the expected rates (no chunk has it)


@dataclass(frozen=True)
class TransactionsGenerator:
    name = "transactions"
    version = 1

    start: str = "2024-01-01"
    acquisition_days: int = 180
    observation_days: int = 540
    r: float = 0.6
    alpha: float = 30.0
    a: float = 1.0
    b: float = 4.0
    dropout: str = "every_purchase"
    s: float = 0.6
    beta: float = 60.0
    spend_shape: float = 6.0
    spend_q: float = 4.0
    spend_gamma: float = 15.0
    category_shares: dict[str, float] = field(default_factory=lambda: {
        "Books": 0.30, "Music": 0.25, "Electronics": 0.20, "Home & Garden": 0.15, "Toys": 0.10})
    churn_days: tuple[int, ...] = (30, 90, 180)
    truth_customers: int = 200_000

    schema = pa.schema([pa.field("customer_id", pa.string()), pa.field("date", pa.string()),
                        pa.field("amount", pa.float64()), pa.field("category", pa.string())])

    def simulate(self, customers: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(customer index, day of purchase) of every observed purchase, purchase by purchase."""
        who, when = self.times(customers, rng)
        return who, np.floor(when).astype(np.int64)

    def times(self, customers: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(customer index, time in days) of every observed purchase, purchase by purchase, before the
        times are cut to days (purchases on the same day are then one purchase day in the log)."""
        if self.dropout not in ("every_purchase", "repeat_purchase", "any_time"):
            raise ValueError(f"dropout {self.dropout!r}: every_purchase, repeat_purchase or any_time")
        rate = rng.gamma(self.r, 1 / self.alpha, customers)
        if self.dropout == "any_time":
            dropout = np.zeros(customers)
            death = rng.gamma(self.s, 1 / self.beta, customers)
        else:
            dropout = rng.beta(self.a, self.b, customers)
        time = rng.uniform(0, self.acquisition_days, customers)
        end = np.full(customers, float(self.observation_days))
        if self.dropout == "any_time":
            end = np.minimum(end, time + rng.exponential(1 / death))
        who, when = [np.arange(customers)], [time]
        active = np.arange(customers)
        first = True
        while active.size:
            if not (first and self.dropout == "repeat_purchase"):
                stays = rng.random(active.size) >= dropout[active]
                active, time = active[stays], time[stays]
            first = False
            time = time + rng.exponential(1 / rate[active])
            seen = time < end[active]
            active, time = active[seen], time[seen]
            who.append(active)
            when.append(time)
        return np.concatenate(who), np.concatenate(when)

    def chunk(self, seed: int, first: int, customers: int) -> pa.Table:
        """Customers ``first`` to ``first + customers - 1`` (ids C0000001 ...), purchases by customer and date."""
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(first // CHUNK_CUSTOMERS,)))
        who, day = self.simulate(customers, rng)
        order = np.lexsort((day, who))
        who, day = who[order], day[order]
        nu = rng.gamma(self.spend_q, 1 / self.spend_gamma, customers)
        amount = np.round(rng.gamma(self.spend_shape, 1 / nu[who]), 2)
        names = list(self.category_shares)
        category = np.searchsorted(np.cumsum(list(self.category_shares.values()))[:-1], rng.random(who.size), side="right")
        start = date.fromisoformat(self.start)
        days = np.array([(start + timedelta(days=int(d))).isoformat() for d in range(self.observation_days)])
        ids = np.char.add("C", np.char.zfill((who + first + 1).astype(str), 7))
        return pa.table({"customer_id": ids, "date": days[day], "amount": amount,
                         "category": pa.array(names, pa.string()).take(pa.array(category))}, schema=self.schema)

    def expected(self, seed: int) -> dict:
        """Monte Carlo expectations of the churn rates and frequency shares, with standard errors."""
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(TRUTH_STREAM,)))
        n = self.truth_customers
        who, day = self.simulate(n, rng)
        first = np.full(n, self.observation_days)
        np.minimum.at(first, who, day)
        last = np.zeros(n, dtype=np.int64)
        np.maximum.at(last, who, day)
        purchase_days = np.bincount(np.unique(who * self.observation_days + day) // self.observation_days, minlength=n)
        end = self.observation_days - 1

        def rate(hit: np.ndarray, of: np.ndarray) -> dict:
            p = float(hit[of].mean())
            return {"value": p, "mc_se": float(np.sqrt(p * (1 - p) / of.sum())), "customers": int(of.sum())}

        everyone = np.ones(n, dtype=bool)
        return {
            "churn_rate": {str(days): rate(end - last > days, end - first > days) for days in self.churn_days},
            "frequency_shares": {"one-time": rate(purchase_days == 1, everyone),
                                 "occasional": rate((purchase_days >= 2) & (purchase_days <= 4), everyone),
                                 "frequent": rate(purchase_days >= 5, everyone)},
            "mean_spend": self.spend_shape * self.spend_gamma / (self.spend_q - 1),
        }

    def parameters(self) -> dict:
        end = date.fromisoformat(self.start) + timedelta(days=self.observation_days - 1)
        return asdict(self) | {"observation_end": end.isoformat()}


def write(units: int, seed: int, out: str | Path, dropout: str = "every_purchase") -> tuple[int, Path]:
    """Write a log of ``units`` customers to ``out`` (.csv or .parquet) and the truth JSON beside it, customers
    dropping out as ``dropout`` says (see the model above).

    Both are written in a temporary folder beside ``out`` and renamed into place at the end.
    """
    out = Path(out)
    if units < 1:
        raise UserError("--customers", f"must be at least 1 (got {units})", "give the number of customers to generate")
    if seed < 0:
        raise UserError("--seed", f"must be 0 or more (got {seed})", "give a non-negative seed")
    if out.suffix.lower() not in SUFFIXES:
        raise UserError("--out", f"{out} does not end in .csv or .parquet", "name the output file *.csv or *.parquet")
    if not out.parent.is_dir():
        raise UserError("--out", f"folder {out.parent} does not exist", "create it first or choose another folder")
    generator = TransactionsGenerator(dropout=dropout)
    rows = [0]

    def chunks():
        for first in range(0, units, CHUNK_CUSTOMERS):
            table = generator.chunk(seed, first, min(CHUNK_CUSTOMERS, units - first))
            rows[0] += table.num_rows
            yield table

    staging = Path(tempfile.mkdtemp(prefix=".shopper-bayes-", dir=out.parent))
    try:
        writer = _write_parquet if out.suffix.lower() == ".parquet" else _write_csv
        writer(chunks(), generator.schema, staging / out.name)
        truth = {"generator": generator.name, "generator_version": generator.version, "package_version": __version__,
                 "seed": seed, "customers": units, "rows": rows[0], "model": __doc__.split("Model")[1].split("The truth")[0].strip(),
                 "parameters": generator.parameters(), "expected": generator.expected(seed)}
        (staging / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
        os.replace(staging / "truth.json", truth_path(out))
        os.replace(staging / out.name, out)
    except OSError as exc:
        raise UserError("--out", f"cannot write {out} ({exc.strerror or exc})", "free disk space or choose another folder") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return rows[0], truth_path(out)

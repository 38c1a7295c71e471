"""The two purchase-and-dropout models of the CLV analysis, BG/NBD and Pareto/NBD: weighted log
likelihoods (PyTensor) and closed-form predictions and simulations (numpy, broadcasting).

Both: while alive a customer buys at Poisson rate lambda ~ Gamma(r, alpha) (alpha a rate, in time
units). BG/NBD (Fader, Hardie & Lee 2005): after each repeat purchase the customer drops out for good
with probability p ~ Beta(a, b), so a customer without a repeat purchase is alive. Pareto/NBD
(Schmittlein, Morrison & Colombo 1987): the lifetime from the first purchase is Exponential(mu),
mu ~ Gamma(s, beta), so dropout can happen at any time. Either likelihood depends on a customer only
through (frequency x, recency t_x, age T), so the fit sums the log densities of the distinct triples
times their counts, and every term that depends on x alone (or T alone) is computed once per
distinct x (or T): only the term that couples x, t_x and T is computed per triple.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor.tensor as pt
from scipy.special import hyp2f1

QUADRATURE_NODES, QUADRATURE_WEIGHTS = np.polynomial.legendre.leggauss(12)
TAIL = 25.0  # a quadrature panel stops where the integrand has fallen below e^-25 of its start


def _grouped(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distinct, index = np.unique(values, return_inverse=True)
    return distinct.astype("float64"), index


def _shared_terms(cells: pd.DataFrame):
    """Weights and the groupings by x and by T that both likelihoods use."""
    w = cells["customers"].to_numpy("float64")
    x = cells["frequency"].to_numpy("float64")
    xs, x_index = _grouped(cells["frequency"].to_numpy())
    Ts, T_index = _grouped(cells["T"].to_numpy("float64"))
    return w, x, xs, x_index, Ts, T_index


def log_dead_integral(xp, m, n, alpha, beta, tx, T):
    """log of the integral over tau from t_x to T of (alpha + tau)^-m (beta + tau)^-n, the Pareto/NBD's
    'died at tau' term (the closed form is a Gauss hypergeometric function; its PyTensor gradient is
    a slow series, this is a quadrature with an ordinary gradient). ``xp``: numpy (arrays of any
    shape; a loop over the nodes, so memory stays that of the inputs) or pytensor.tensor (vectors of
    triples; the nodes on a last axis, so the graph stays small).

    With c the smaller of alpha and beta, tau = (c + t_x) e^w - c makes the integrand
    exp(phi(w)) log-concave and smooth in w on [0, W]; it is split where the larger rate's factor
    turns (w = log y), each panel integrated by 12-point Gauss-Legendre and cut where the tangent
    bound puts the integrand below e^-25 of its start. Error under 1e-6 in the log over r, s in
    [0.05, 7], alpha, beta in [0.05, 400], x up to 80, T up to 150 (a test checks it against adaptive
    quadrature), about 1e-8 in the usual range.
    """
    alpha_smaller = alpha <= beta
    c = xp.minimum(alpha, beta)
    m_c = xp.where(alpha_smaller, m, n)  # exponent of the smaller rate's factor
    m_o = xp.where(alpha_smaller, n, m)  # and of the larger's
    base = xp.log(c + tx)
    y = xp.abs(alpha - beta) / (c + tx)
    W = xp.log(c + T) - base
    K = m + n - 1

    def phi(w, grow=lambda value: value):
        return (1 - grow(m_c) - grow(m_o)) * (grow(base) + w) - grow(m_o) * xp.log1p(grow(y) * xp.exp(-w))

    def slope(w):
        return -K + m_o * y / (y + xp.exp(w))

    start = 0.0 * W
    split = xp.clip(xp.log(xp.maximum(y, 1e-300)), 0.0, W)
    reference = phi(start)
    total = 0.0
    for lo, hi in ((start, split), (split, W)):
        falling = slope(lo)
        hi = xp.where(falling < 0, xp.minimum(hi, lo + TAIL / xp.maximum(-falling, 1e-300)), hi)
        half = xp.maximum(hi - lo, 0.0) / 2
        if xp is np:
            for node, weight in zip(QUADRATURE_NODES, QUADRATURE_WEIGHTS):
                total = total + weight * half * np.exp(phi(lo + half * (node + 1)) - reference)
        else:
            nodes = lo[:, None] + half[:, None] * (QUADRATURE_NODES + 1)
            terms = pt.exp(phi(nodes, grow=lambda value: value[:, None]) - reference[:, None])
            total = total + half * pt.dot(terms, QUADRATURE_WEIGHTS)
    return reference + xp.log(total)


class BgNbd:
    """BG/NBD (Fader, Hardie & Lee 2005)."""

    name = "bg_nbd"
    params = ("r", "alpha", "a", "b")
    dropout_params = ("a", "b")

    @staticmethod
    def loglik(cells: pd.DataFrame, v: dict):
        """Sum over the triples of count x log L(x, t_x, T) (Fader, Hardie & Lee 2005, eq. 6):
        log L = log Gamma(r + x) - log Gamma(r) + r log alpha + log B(a, b + x) - log B(a, b)
        - (r + x) log(alpha + T) + log(1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))."""
        r, alpha, a, b = (v[name] for name in BgNbd.params)
        w, x, xs, x_index, Ts, T_index = _shared_terms(cells)
        per_x = (pt.gammaln(r + xs) - pt.gammaln(r) + r * pt.log(alpha) + pt.gammaln(b + xs) - pt.gammaln(a + b + xs)
                 - pt.gammaln(b) + pt.gammaln(a + b))
        log_alpha_T = pt.log(alpha + Ts)
        total = (pt.dot(np.bincount(x_index, weights=w), per_x)
                 - pt.dot(r * np.bincount(T_index, weights=w) + np.bincount(T_index, weights=w * x), log_alpha_T))
        repeat = x > 0
        if repeat.any():
            txs, tx_index = _grouped(cells["recency"].to_numpy("float64")[repeat])
            log_ratio = pt.log(a) - pt.log(b + np.maximum(xs, 1) - 1)
            gap = (r + x[repeat]) * (log_alpha_T[T_index[repeat]] - pt.log(alpha + txs)[tx_index])
            total = total + pt.dot(w[repeat], pt.softplus(log_ratio[x_index[repeat]] + gap))
        return total

    @staticmethod
    def p_alive(x, tx, T, v):
        """P(alive at T | x, t_x, T): 1 for customers without a repeat purchase."""
        r, alpha, a, b = (v[name] for name in BgNbd.params)
        x = np.asarray(x, dtype="float64")
        ratio = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300), 0.0)
        return 1.0 / (1.0 + ratio * ((alpha + T) / (alpha + tx)) ** (r + x))

    @staticmethod
    def if_alive(t, x, T, v):
        """E[purchases in (T, T + t] | x, T, alive at T] (Fader, Hardie & Lee 2005, eq. 10 without its
        P(alive) factor); depends on the customer through (x, T) only."""
        r, alpha, a, b = (v[name] for name in BgNbd.params)
        x = np.asarray(x, dtype="float64")
        # a = 1 is a removable singularity of the closed form; 1e-4 away it is exact to about 1e-4 relative
        a = np.where(np.abs(a - 1) < 1e-4, 1 + 1e-4, a)
        z = t / (alpha + T + t)
        head = (a + b + x - 1) / (a - 1)
        return head * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))

    @staticmethod
    def simulate(rng: np.random.Generator, length: float, x, alive, T, v):
        """Purchases in a window of ``length`` by customers alive at its start with probability ``alive``:
        lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x) (their posteriors given survival), then a
        Poisson(lambda) process stopped after a Geometric(p) number of purchases. Returns (purchases,
        Poisson events in the window, window): the purchases are the first of the events, which are
        uniform over the window. Only what can change the result is drawn: lambda for the customers alive,
        p and the stop where there are two events or more (the stop is at least 1)."""
        r, alpha, a, b = (v[name] for name in BgNbd.params)
        shape = np.broadcast_shapes(np.shape(x), np.shape(alive), np.shape(r), np.shape(T))
        is_alive = rng.random(shape) < alive
        events = np.zeros(shape, dtype=np.int64)
        rate = rng.gamma(np.broadcast_to(r + x, shape)[is_alive]) / np.broadcast_to(alpha + T, shape)[is_alive]
        events[is_alive] = rng.poisson(rate * length)
        bought = events.copy()
        several = events > 1
        drop = rng.beta(np.broadcast_to(a, shape)[several], np.broadcast_to(b + x, shape)[several])
        bought[several] = np.minimum(events[several], rng.geometric(np.clip(drop, 1e-12, 1)))
        return bought, events, np.full(shape, float(length))

    @staticmethod
    def prior_counts(rng: np.random.Generator, T, v):
        """Repeat purchases by age T of new customers with parameters ``v`` (one row per draw)."""
        r, alpha, a, b = (v[name][:, None] for name in BgNbd.params)
        rate = rng.gamma(np.broadcast_to(r, (len(r), T.shape[1]))) / alpha
        drop = rng.beta(np.broadcast_to(a, rate.shape), np.broadcast_to(b, rate.shape))
        return np.minimum(rng.poisson(np.minimum(rate * T, 1e7)), rng.geometric(np.clip(drop, 1e-12, 1)))


class ParetoNbd:
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987; expressions of Fader & Hardie 2005)."""

    name = "pareto_nbd"
    params = ("r", "alpha", "s", "beta")
    dropout_params = ("s", "beta")

    @staticmethod
    def _log_dead_odds(xp, x, tx, T, r, alpha, s, beta):
        """log(s I / A): the 'died at tau in (t_x, T]' term over the 'alive at T' term of the likelihood,
        A = (alpha + T)^-(r + x) (beta + T)^-s, I the integral of :func:`log_dead_integral`."""
        return (xp.log(s) + log_dead_integral(xp, r + x, s + 1, alpha, beta, tx, T)
                + (r + x) * xp.log(alpha + T) + s * xp.log(beta + T))

    @staticmethod
    def loglik(cells: pd.DataFrame, v: dict):
        """Sum over the triples of count x log L(x, t_x, T) (Fader & Hardie 2005, 'A note on deriving the
        Pareto/NBD model', eq. 19): log L = log Gamma(r + x) - log Gamma(r) + r log alpha + s log beta
        + log[(alpha + T)^-(r + x) (beta + T)^-s + s I]."""
        r, alpha, s, beta = (v[name] for name in ParetoNbd.params)
        w, x, xs, x_index, Ts, T_index = _shared_terms(cells)
        per_x = pt.gammaln(r + xs) - pt.gammaln(r) + r * pt.log(alpha) + s * pt.log(beta)
        weight_T = np.bincount(T_index, weights=w)
        total = (pt.dot(np.bincount(x_index, weights=w), per_x)
                 - pt.dot(r * weight_T + np.bincount(T_index, weights=w * x), pt.log(alpha + Ts))
                 - s * pt.dot(weight_T, pt.log(beta + Ts)))
        tx, T = cells["recency"].to_numpy("float64"), cells["T"].to_numpy("float64")
        died = tx < T  # last purchase at T: no time left to die in, the term is 0
        if died.any():
            odds = ParetoNbd._log_dead_odds(pt, x[died], tx[died], T[died], r, alpha, s, beta)
            total = total + pt.dot(w[died], pt.softplus(odds))
        return total

    @staticmethod
    def p_alive(x, tx, T, v):
        """P(alive at T | x, t_x, T) = A / (A + s I) (Fader & Hardie 2005, eq. 20)."""
        r, alpha, s, beta = (v[name] for name in ParetoNbd.params)
        x, tx, T = (np.asarray(value, dtype="float64") for value in (x, tx, T))
        with np.errstate(divide="ignore"):
            odds = ParetoNbd._log_dead_odds(np, x, tx, T, r, alpha, s, beta)
        return 1.0 / (1.0 + np.exp(odds))

    @staticmethod
    def if_alive(t, x, T, v):
        """E[purchases in (T, T + t] | x, T, alive at T] = (r + x) / (alpha + T) x (beta + T) / (s - 1)
        x [1 - ((beta + T) / (beta + T + t))^(s - 1)] (Fader & Hardie 2005, eq. 22 without P(alive));
        at s = 1, (r + x) / (alpha + T) x (beta + T) log(1 + t / (beta + T))."""
        r, alpha, s, beta = (v[name] for name in ParetoNbd.params)
        x = np.asarray(x, dtype="float64")
        log_span = np.log1p(t / (beta + T))
        shift = np.asarray(s - 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            span = np.where(np.abs(shift) < 1e-12, log_span, -np.expm1(-shift * log_span) / shift)
        return (r + x) / (alpha + T) * (beta + T) * span

    @staticmethod
    def simulate(rng: np.random.Generator, length: float, x, alive, T, v):
        """Purchases in a window of ``length`` by customers alive at its start with probability ``alive``:
        lambda ~ Gamma(r + x, alpha + T), mu ~ Gamma(s, beta + T) (their posteriors given survival), the
        remaining lifetime Exponential(mu), then Poisson(lambda) purchases until the window or the lifetime
        ends. Returns (purchases, the same, window): purchases are uniform over the window. Only the customers
        alive draw lambda, mu and the lifetime (the window of the others is the whole window: they buy nothing)."""
        r, alpha, s, beta = (v[name] for name in ParetoNbd.params)
        shape = np.broadcast_shapes(np.shape(x), np.shape(alive), np.shape(r), np.shape(T))
        is_alive = rng.random(shape) < alive
        rate = rng.gamma(np.broadcast_to(r + x, shape)[is_alive]) / np.broadcast_to(alpha + T, shape)[is_alive]
        death = rng.gamma(np.broadcast_to(s, shape)[is_alive]) / np.broadcast_to(beta + T, shape)[is_alive]
        window = np.full(shape, float(length))
        window[is_alive] = np.minimum(rng.standard_exponential(len(death)) / np.maximum(death, 1e-300), length)
        bought = np.zeros(shape, dtype=np.int64)
        bought[is_alive] = rng.poisson(rate * window[is_alive])
        return bought, bought, window

    @staticmethod
    def prior_counts(rng: np.random.Generator, T, v):
        """Repeat purchases by age T of new customers with parameters ``v`` (one row per draw)."""
        r, alpha, s, beta = (v[name][:, None] for name in ParetoNbd.params)
        rate = rng.gamma(np.broadcast_to(r, (len(r), T.shape[1]))) / alpha
        death = rng.gamma(np.broadcast_to(s, rate.shape)) / beta
        life = np.minimum(rng.standard_exponential(rate.shape) / np.maximum(death, 1e-300), T)
        return rng.poisson(np.minimum(rate * life, 1e7))


MODELS = {model.name: model for model in (BgNbd, ParetoNbd)}


def expected_purchases(model, t, x, tx, T, v):
    """E[purchases in (T, T + t] | x, t_x, T] = P(alive) x E[purchases | alive]."""
    return model.if_alive(t, x, T, v) * model.p_alive(x, tx, T, v)

"""shopper-bayes: Bayesian analysis of e-commerce customer behaviour with honest uncertainty.

``import shopper_bayes as sb`` gives the steps as functions (see :mod:`shopper_bayes.api`): load a
dataset, count cells, build and fit a model, summarise, the campaign answer, the bootstrap table,
figures. They load on first use, so importing the package is cheap.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shopper-bayes")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

_API = {"load_config", "sessions", "count_cells", "rate_model", "fit", "fit_exact_rates", "summarise_rates",
        "diagnostics", "campaign", "correlations", "analyse", "figures", "run"}


def __getattr__(name: str):
    if name in _API:
        from shopper_bayes import api

        return getattr(api, name)
    raise AttributeError(f"module 'shopper_bayes' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _API)

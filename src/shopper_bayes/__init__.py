"""shopper-bayes: Bayesian analysis of e-commerce customer behaviour with honest uncertainty."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shopper-bayes")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

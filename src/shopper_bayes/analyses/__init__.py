"""Analyses: one package each, listed in report order in :mod:`shopper_bayes.analyses.registry`."""

"""Fitting, the diagnostics gate and model comparison: shared by every analysis."""

"""Datasets: reading, column mapping and counted cleaning of each kind of input."""

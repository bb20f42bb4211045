"""Offline training and evaluation scripts; each one runs on its own: python -m training.NAME --help."""

"""Explanations: which pixels made a model answer what it did, and whether the map means it."""

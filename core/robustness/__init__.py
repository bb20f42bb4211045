"""Robustness: how models answer corrupted and adversarial images."""

"""Batch inference over folders, globs, zip files and manifests, locally or on Ray (`python -m core batch`)."""

"""Judges with no model: the deterministic rules judge."""

"""Doctors that need no model: scripted, oracle, baseline."""

"""Offline patient agents: the fact-grounded patient."""

"""Offline patient-side agents: the fact-grounded patient and the measurement lookup."""

"""Experiments: a grid of runs from one TOML file, run cell by cell, queried and reported."""

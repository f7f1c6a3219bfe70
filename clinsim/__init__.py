"""clinsim: simulated clinical encounters."""

__version__ = "0.1.0"

"""The `clinsim` command line: one module per command or command group (see `main`)."""

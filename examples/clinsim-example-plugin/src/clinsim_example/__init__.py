"""A worked clinsim plugin: each module adds one kind of component, declared in pyproject.toml."""

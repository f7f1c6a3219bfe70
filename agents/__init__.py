"""clinsim.agents: installed under the clinsim namespace (see pyproject.toml)."""

if __name__ != "clinsim.agents":  # pragma: no cover - guard against a second copy
    raise ImportError(
        f"'{__name__}' is the source folder of clinsim.agents; "
        f"import clinsim.agents instead (install the project with: pip install -e .)"
    )

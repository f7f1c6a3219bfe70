"""clinsim.environments: installed under the clinsim namespace (see pyproject.toml)."""

if __name__ != "clinsim.environments":  # pragma: no cover - guard against a second copy
    raise ImportError(
        f"'{__name__}' is the source folder of clinsim.environments; "
        f"import clinsim.environments instead (install the project with: pip install -e .)"
    )

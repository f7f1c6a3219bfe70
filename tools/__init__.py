"""clinsim.tools: installed under the clinsim namespace (see pyproject.toml)."""

if __name__ != "clinsim.tools":  # pragma: no cover - guard against a second copy
    raise ImportError(
        f"'{__name__}' is the source folder of clinsim.tools; "
        f"import clinsim.tools instead (install the project with: pip install -e .)"
    )

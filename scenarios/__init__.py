"""clinsim.scenarios: installed under the clinsim namespace (see pyproject.toml)."""

if __name__ != "clinsim.scenarios":  # pragma: no cover - guard against a second copy
    raise ImportError(
        f"'{__name__}' is the source folder of clinsim.scenarios; "
        f"import clinsim.scenarios instead (install the project with: pip install -e .)"
    )

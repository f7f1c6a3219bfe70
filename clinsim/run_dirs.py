"""Run directories: a fresh one, or one to complete with the settings it was begun with.

`clinsim run --resume` and `clinsim experiment run --resume` both come here: a run directory
that holds a run is only ever completed by the same configuration (a larger `limit`, other
`max_concurrency` or a new scenario file path aside), never silently mixed with another.
"""

from __future__ import annotations

from pydantic import ValidationError

from clinsim.config import StoredRun
from clinsim.environments.run_store import RunStore, StoreError
from clinsim.prompting import prompt_differences

RESUME_MAY_CHANGE = {"limit", "max_concurrency", "sources"}


def episodes_to_skip(store: RunStore, now: StoredRun, resume: bool) -> set[str]:
    """The finished episodes a run may skip: none for a fresh run directory (one that already
    holds a run is an error without `resume`), the stored ones when resuming."""
    if resume:
        return resumable(store, now)
    if store.has_run():
        raise StoreError(
            f"{store.run_dir} already holds a run: use --resume to complete it, "
            "or choose another --out"
        )
    return set()


def resumable(store: RunStore, now: StoredRun) -> set[str]:
    """Finished episodes of a run to complete; its settings must match the new command's."""
    if not store.has_run():
        return set()
    try:
        stored = StoredRun.model_validate(store.run_info().config)
    except ValidationError:
        raise StoreError(
            f"{store.run_dir} was stored by another version of clinsim; it cannot be resumed"
        ) from None
    # a run stored before templates were recorded was worded as the bundled templates word it
    recorded = stored.prompts or any(
        not p.source.startswith("bundled:") for p in now.prompts.values()
    )
    prompts = prompt_differences(stored, now, names=("stored", "now")) if recorded else []
    if prompts:
        raise StoreError(
            f"{store.run_dir} was run with other prompt templates ({'; '.join(prompts)}); "
            "resume it with the same templates"
        )
    old, new = stored.run.model_dump(mode="json"), now.run.model_dump(mode="json")
    changed = [k for k in new if k not in RESUME_MAY_CHANGE and old.get(k) != new[k]]
    if not changed and stored.components != now.components:
        changed = ["components' settings"]
    if changed:
        raise StoreError(
            f"{store.run_dir} was run with other settings ({', '.join(changed)}); "
            "resume it with the same options"
        )
    return store.finished_ids()

"""Server faults injected during a whole run: the run completes, episodes whose calls failed for
good end with model_error and the failed call recorded, the other episodes are unaffected."""

from __future__ import annotations

from pathlib import Path

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.components import resolve
from clinsim.config import RunConfig
from clinsim.environments.events import ModelCalled
from clinsim.environments.run_store import RunStore
from clinsim.runner import Runner
from clinsim.scenarios.sets import load_scenarios


def _config(base_url: str) -> RunConfig:
    return RunConfig(
        sources=["agentclinic-medqa"],
        doctor="openai/doctor",
        patient="openai/patient",
        max_turns=3,
        agent_options={"doctor.protocol": "agentclinic"},
        model_options={
            "base_urls": [base_url],
            "timeout_s": 0.5,
            "max_retries": 1,
            "retry_backoff_s": 0.01,
        },
    )


async def test_faults_during_a_run(tmp_path: Path) -> None:
    # every kind of fault, twice in a row (retries exhausted) for the first episode's first call,
    # once (recovered by a retry) for a later one
    faults = ["500", "timeout"] + ["ok"] * 12 + ["malformed"] + ["ok"] * 6 + ["drop", "ok"]
    faults += ["ok"] * 4 + ["429", "429"]
    async with LoopbackServer(faults=faults, hang_s=5) as server:
        config = _config(server.base_url)
        scenarios = load_scenarios(config.sources)[:6]
        store = RunStore(tmp_path / "run")
        plan = resolve(config)
        store.create("run", plan.stored().model_dump(mode="json"))
        records = await Runner(plan, store, "run").run(scenarios)
    assert len(records) == 6 == len(store.episodes())
    by_reason: dict[str, list[str]] = {}
    for record in records:
        by_reason.setdefault(record.termination, []).append(record.episode_id)
    assert set(by_reason) == {"diagnosed", "model_error"}, by_reason
    details = " | ".join(r.detail for r in records if r.termination == "model_error")
    assert "gave up after 2 attempts" in details and "malformed JSON" in details
    for record in records:
        calls = [e for e in store.events(record.episode_id) if isinstance(e, ModelCalled)]
        failed = [call for call in calls if call.error]
        if record.termination == "model_error":
            assert len(failed) == 1 and failed[-1] is calls[-1]
        else:
            assert failed == []
    recovered = [
        call
        for record in records
        for call in store.events(record.episode_id)
        if isinstance(call, ModelCalled) and call.retries and not call.error
    ]
    assert recovered and "connection error" in recovered[0].retries[0]

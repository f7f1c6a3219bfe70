"""No paid model call is lost: `clinsim run` killed (SIGKILL) in the middle of its episodes, then
resumed, asks the model server nothing it had already answered, loses no episode, and stores the
same events as a run that was never interrupted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kill_harness import Clinic, attempt, finish, kill_when, repeats, run_args, start

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.environments.events import comparable
from clinsim.environments.run_store import RunStore

EPISODES = 4


def _events(run_dir: Path) -> dict[str, list[dict[str, object]]]:
    store = RunStore(run_dir)
    return {
        r.episode_id: [comparable(e) for e in store.events(r.episode_id)] for r in store.episodes()
    }


def test_a_run_killed_mid_episode_twice_repeats_no_paid_call(tmp_path: Path) -> None:
    clinic = Clinic()
    with LoopbackServer.in_thread(responder=clinic, latency_s=0.05) as server:
        clean = finish(run_args(server.base_url, tmp_path / "clean", EPISODES, EPISODES))
        assert clean.returncode == 0, clean.stdout.decode()
        per_run = clinic.count()
        clinic.reset()
        args = run_args(server.base_url, tmp_path / "r", EPISODES, EPISODES)
        attempts = []
        for number, answered in enumerate((per_run // 4, per_run // 5)):
            first = len(server.requests)
            proc = start(args if number == 0 else [*args, "--resume"])
            killed = kill_when(proc, clinic, answered, settle_s=0.3)
            assert killed is not None, "the run finished before the kill"
            attempts.append(attempt(clinic, server.requests[first:], killed))
            assert RunStore(tmp_path / "r").pending_calls(), "the kill landed between episodes"
            assert len(RunStore(tmp_path / "r").episodes()) < EPISODES
        first = len(server.requests)
        done = finish([*args, "--resume"])
        assert done.returncode == 0, done.stdout.decode()
        attempts.append(attempt(clinic, server.requests[first:], None))
    for number, counted in enumerate(repeats(attempts)):
        assert counted.paid >= per_run // 5
        assert counted.repeated == 0, f"kill {number + 1}: {counted}"
    assert _events(tmp_path / "r") == _events(tmp_path / "clean")  # nothing lost or changed
    assert RunStore(tmp_path / "r").pending_calls() == {}


def _paid(clinic: Clinic, requests: list[dict[str, object]], killed: float) -> int:
    """How many calls the server answered before `killed` (its identical requests counted one
    by one); resets the clinic."""
    deadline = time.monotonic() + 30
    while clinic.count() < len(requests) and time.monotonic() < deadline:
        time.sleep(0.01)  # requests caught by the kill are answered (to nobody) first
    count = sum(at <= killed for at, _key in clinic.answered)
    clinic.reset()
    return count


@pytest.mark.xfail(
    reason="known defect: now and then (about 1 run in 3) a resumed run of repeated trials asks "
    "the server one call that the store already held",
    strict=False,
)
def test_a_killed_run_of_repeated_trials_resumes_each_trial_from_its_own_calls(
    tmp_path: Path,
) -> None:
    """Trials of one scenario ask the server the same questions; each resumed trial is answered
    from the calls it recorded itself, so the server answers only what a clean run needs and
    the store did not hold, and every trial ends as it would have."""
    clinic = Clinic()
    with LoopbackServer.in_thread(responder=clinic, latency_s=0.05) as server:
        clean_args = [*run_args(server.base_url, tmp_path / "clean", 2, 4), "--trials", "2"]
        clean = finish(clean_args)
        assert clean.returncode == 0, clean.stdout.decode()
        per_run = clinic.count()
        clinic.reset()
        args = [*run_args(server.base_url, tmp_path / "r", 2, 4), "--trials", "2"]
        first = len(server.requests)
        proc = start(args)
        killed = kill_when(proc, clinic, per_run // 3, settle_s=0.5)
        assert killed is not None, "the run finished before the kill"
        paid = [_paid(clinic, server.requests[first:], killed)]
        store = RunStore(tmp_path / "r")
        pending = store.pending_calls()
        assert any("@1" in episode for episode in pending), "no second trial was in flight"
        recorded = sum(map(len, pending.values())) + len(store.model_calls())
        first = len(server.requests)
        done = finish([*args, "--resume"])
        assert done.returncode == 0, done.stdout.decode()
        paid.append(_paid(clinic, server.requests[first:], float("inf")))
    # every recorded call is answered from the store, none from another trial's recording, and
    # nothing else is asked twice (a reply still on its way to the store under a heavy load is)
    assert sum(paid) == per_run + paid[0] - recorded
    stored = _events(tmp_path / "r")
    assert sorted(stored) == sorted(_events(tmp_path / "clean"))
    assert any(episode.endswith("@1") for episode in stored)
    assert stored == _events(tmp_path / "clean")

"""No paid model call is lost: `clinsim run` killed (SIGKILL) in the middle of its episodes, then
resumed, asks the model server nothing it had already answered, loses no episode, and stores the
same events as a run that was never interrupted."""

from __future__ import annotations

from pathlib import Path

from kill_harness import Clinic, finish, kill_when, repeats, run_args, start

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.environments.events import comparable
from clinsim.environments.run_store import RunStore

EPISODES = 4


def _events(run_dir: Path) -> dict[str, list[dict[str, object]]]:
    store = RunStore(run_dir)
    return {
        r.episode_id: [comparable(e) for e in store.events(r.episode_id)]
        for r in store.episodes()
    }


def test_a_run_killed_mid_episode_twice_repeats_no_paid_call(tmp_path: Path) -> None:
    clinic = Clinic()
    with LoopbackServer.in_thread(responder=clinic, latency_s=0.05) as server:
        clean = finish(run_args(server.base_url, tmp_path / "clean", EPISODES, EPISODES))
        assert clean.returncode == 0, clean.stdout.decode()
        per_run = clinic.count()
        clinic.reset()
        args = run_args(server.base_url, tmp_path / "r", EPISODES, EPISODES)
        found = []
        for attempt, answered in enumerate((per_run // 4, per_run // 5)):
            proc = start(args if attempt == 0 else [*args, "--resume"])
            killed = kill_when(proc, clinic, answered, settle_s=0.3)
            before = [(at, key) for at, key in clinic.answered if at <= killed]
            clinic.reset()
            found.append((before, killed))
            pending = RunStore(tmp_path / "r").pending_calls()
            assert pending, "the kill landed between episodes, not in one"
            assert len(RunStore(tmp_path / "r").episodes()) < EPISODES
        done = finish([*args, "--resume"])
        assert done.returncode == 0, done.stdout.decode()
        after = list(clinic.asked)
    for number, (before, killed) in enumerate(found):
        later = [key for _at, key in found[number + 1][0]] if number + 1 < len(found) else after
        counted = repeats(before, later, killed)
        assert counted.paid >= per_run // 5
        assert counted.repeated == 0, f"kill {number + 1}: {counted}"
    assert _events(tmp_path / "r") == _events(tmp_path / "clean")  # nothing lost or changed
    assert RunStore(tmp_path / "r").pending_calls() == {}

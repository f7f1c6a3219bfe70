"""Paid model calls made twice when `clinsim run` is killed mid-episode and resumed.

    python bench/bench_kill_resume.py [--kills 12] [--episodes 32] [--concurrency 16]

A loopback model server (200 ms a call; tests/support/kill_harness.py) plays an AgentClinic-
protocol doctor and a patient, 10 calls an episode. A clean run gives the reference events. Then
`clinsim run` is started, SIGKILLed at a random moment (0 to 1 s after the server answered its
fifth call: the kill lands wherever the run is, no pause before it), restarted with `--resume`,
killed again, KILLS times (fewer if a resumed run finishes first), and finally resumed to the
end. Prints, over all kills: calls the server had
answered before each kill, how many of those were asked again after it (split by how long before
the kill they were answered), episodes lost, and episodes whose events differ from the clean run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from kill_harness import (
    Clinic,
    attempt,
    conversation_key,
    finish,
    kill_when,
    repeats,
    run_args,
    start,
)

from clinsim.agents.models.loopback import LoopbackServer
from clinsim.environments.events import comparable
from clinsim.environments.run_store import RunStore


def _events(run_dir: Path) -> dict[str, list[dict[str, object]]]:
    store = RunStore(run_dir)
    return {
        r.episode_id: [comparable(e) for e in store.events(r.episode_id)] for r in store.episodes()
    }


def _recording_delays(run_dir: Path, replied_at: dict[str, float]) -> list[float]:
    """For each call of an uninterrupted run: seconds from the server making its reply to
    clinsim recording the call (and handing it to the writer)."""
    store = RunStore(run_dir)
    delays = []
    for _episode, call in store.model_calls():
        model = call.model.rpartition("/")[2]
        made = replied_at.get(conversation_key(model, call.messages))
        if made is not None:
            delays.append(call.at - made)
    return sorted(delays)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    clinic = Clinic()
    with (
        LoopbackServer.in_thread(
            responder=clinic, latency_s=args.latency, max_lifetime_s=3600
        ) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        url, root = server.base_url, Path(tmp)
        clean = finish(run_args(url, root / "clean", args.episodes, args.concurrency))
        if clean.returncode != 0:
            raise SystemExit(clean.stdout.decode()[-2000:])
        per_run = clinic.count()
        delays = _recording_delays(root / "clean", clinic.replied_at)
        clinic.reset()
        command = run_args(url, root / "r", args.episodes, args.concurrency)
        attempts = []
        for kill in range(args.kills):
            first = len(server.requests)
            proc = start(command if kill == 0 else [*command, "--resume"])
            at = kill_when(proc, clinic, 5, settle_s=None, then_s=rng.uniform(0, 1.0))
            attempts.append(attempt(clinic, server.requests[first:], at))
            if at is None:  # the run finished before this kill
                break
        else:
            first = len(server.requests)
            done = finish([*command, "--resume"])
            if done.returncode != 0:
                raise SystemExit(done.stdout.decode()[-2000:])
            attempts.append(attempt(clinic, server.requests[first:], None))
        final, reference = _events(root / "r"), _events(root / "clean")
    counted = repeats(attempts)
    paid = sum(c.paid for c in counted)
    repeated = sum(c.repeated for c in counted)
    within = {s: sum(c.repeated_within[s] for c in counted) for s in (0.01, 0.05, 0.2)}
    lost = sorted(set(reference) - set(final))
    differ = [e for e in reference if e in final and final[e] != reference[e]]
    kills = len(attempts) - 1
    print(f"{kills} kills, {args.episodes} episodes at concurrency {args.concurrency}, ")
    print(f"server {args.latency:g} s a call, {per_run} calls in a clean run")
    print(f"  calls answered before a kill: {paid}")
    print(f"  of them asked again after it: {repeated}")
    print(
        "    answered < 10 ms / < 50 ms / < 200 ms before the kill: "
        f"{within[0.01]} / {within[0.05]} / {within[0.2]}"
    )
    print(f"  episodes lost: {len(lost)}; episodes differing from the clean run: {len(differ)}")
    if delays:
        ms = [1000 * d for d in delays]
        print(
            f"  reply made -> call recorded by clinsim (clean run, {len(ms)} calls): median "
            f"{statistics.median(ms):.0f} ms, p90 {ms[int(0.9 * (len(ms) - 1))]:.0f} ms, "
            f"max {ms[-1]:.0f} ms"
        )


if __name__ == "__main__":
    main()

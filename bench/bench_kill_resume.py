"""Paid model calls made twice when `clinsim run` is killed mid-episode and resumed.

    python bench/bench_kill_resume.py [--kills 12] [--episodes 32] [--concurrency 16]

A loopback model server (200 ms a call; tests/support/kill_harness.py) plays an AgentClinic-
protocol doctor and a patient, 10 calls an episode. A clean run gives the reference events. Then
`clinsim run` is started, SIGKILLed once the server has answered a random number of its calls
(the kill lands wherever the run is: no pause before it), restarted with `--resume`, killed again,
KILLS times, and finally resumed to the end. Prints, over all kills: calls the server had
answered before each kill, how many of those were asked again after it (split by how long before
the kill they were answered), episodes lost, and episodes whose events differ from the clean run.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from kill_harness import (
    Clinic,
    attempt,
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
        clinic.reset()
        command = run_args(url, root / "r", args.episodes, args.concurrency)
        attempts = []
        for kill in range(args.kills):
            first = len(server.requests)
            proc = start(command if kill == 0 else [*command, "--resume"])
            at = kill_when(proc, clinic, rng.randint(5, per_run // 4), settle_s=None)
            attempts.append(attempt(clinic, server.requests[first:], at))
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
    print(f"{args.kills} kills, {args.episodes} episodes at concurrency {args.concurrency}, ")
    print(f"server {args.latency:g} s a call, {per_run} calls in a clean run")
    print(f"  calls answered before a kill: {paid}")
    print(f"  of them asked again after it: {repeated}")
    print(
        "    answered < 10 ms / < 50 ms / < 200 ms before the kill: "
        f"{within[0.01]} / {within[0.05]} / {within[0.2]}"
    )
    print(f"  episodes lost: {len(lost)}; episodes differing from the clean run: {len(differ)}")


if __name__ == "__main__":
    main()

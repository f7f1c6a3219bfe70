"""A real Ray cluster of two nodes on this machine, for tests and benchmarks.

`two_node_cluster(tmp)` runs `ray start --head` and `ray start --address` (one CPU each), with
their own temporary folder and free ports, so they never meet another Ray on the machine; it
yields the head's address and stops exactly the processes it started (by id: the processes that
name its temporary folder, and their children), never `ray stop`, which stops every Ray of the
user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

RAY = Path(sys.executable).with_name("ray")
ENV = {
    **os.environ,
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",  # the nodes and the test driver share no token file
}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _port_range(width: int = 40) -> tuple[int, int]:
    """A block of free ports for a node's workers."""
    for _ in range(50):
        start = free_ports(1)[0]
        if start + width > 65000:
            continue
        held: list[socket.socket] = []
        try:
            for port in range(start, start + width):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
        return start, start + width - 1
    raise RuntimeError("no block of free ports for Ray workers")


@dataclass
class RayCluster:
    temp_dir: Path
    address: str = ""
    started: list[int] = field(default_factory=list)

    def node_args(self) -> list[str]:
        node, objects, agent, grpc, metrics, env_agent = free_ports(6)
        low, high = _port_range()
        return [
            "--num-cpus=1",
            f"--temp-dir={self.temp_dir}",
            "--disable-usage-stats",
            "--object-store-memory=100000000",
            f"--node-manager-port={node}",
            f"--object-manager-port={objects}",
            f"--dashboard-agent-listen-port={agent}",
            f"--dashboard-agent-grpc-port={grpc}",
            f"--metrics-export-port={metrics}",
            f"--runtime-env-agent-port={env_agent}",
            f"--min-worker-port={low}",
            f"--max-worker-port={high}",
        ]

    def start_head(self) -> None:
        gcs, dashboard, client = free_ports(3)
        head = [
            "--head",
            f"--port={gcs}",
            "--include-dashboard=false",
            f"--dashboard-port={dashboard}",
            f"--ray-client-server-port={client}",
            "--node-ip-address=127.0.0.1",
        ]
        self._ray_start([*head, *self.node_args()])
        self.address = f"127.0.0.1:{gcs}"

    def add_node(self) -> None:
        self._ray_start(
            [f"--address={self.address}", "--node-ip-address=127.0.0.1", *self.node_args()]
        )

    def _ray_start(self, args: list[str]) -> None:
        result = subprocess.run(
            [str(RAY), "start", *args], env=ENV, capture_output=True, text=True, timeout=120
        )
        self.started = sorted(set(self.started) | set(self.processes()))
        if result.returncode != 0:
            raise RuntimeError(f"ray start failed:\n{result.stdout}\n{result.stderr}")

    def processes(self) -> list[int]:
        """The ids of this cluster's processes: those naming its folder, and their children."""
        marker = str(self.temp_dir)
        found: set[int] = set()
        for process in psutil.process_iter(["pid", "cmdline"]):
            with contextlib.suppress(psutil.Error):
                if any(marker in part for part in process.info["cmdline"] or []):
                    found.add(process.pid)
                    found.update(child.pid for child in process.children(recursive=True))
        return sorted(found)

    def workers(self, title: str) -> list[int]:
        """Ids of this cluster's worker processes whose title starts with `title`
        (`ray::EpisodePlayer`)."""
        found = []
        for pid in self.processes():
            with contextlib.suppress(psutil.Error):
                cmdline = psutil.Process(pid).cmdline()
                if cmdline and cmdline[0].startswith(title):
                    found.append(pid)
        return found

    def stop(self) -> None:
        for signum, wait_s in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            alive = _alive(set(self.started) | set(self.processes()))
            for pid in alive:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signum)
            deadline = time.monotonic() + wait_s
            while _alive(alive) and time.monotonic() < deadline:
                time.sleep(0.1)


def _alive(pids: set[int] | list[int]) -> list[int]:
    return [pid for pid in pids if psutil.pid_exists(pid)]


@contextlib.contextmanager
def two_node_cluster() -> Iterator[RayCluster]:
    """A head and one more node, one CPU each; stopped however the block ends."""
    # a short path: Ray's socket paths must stay under the 107-byte limit of AF_UNIX
    for attempt in range(STARTS):
        temp_dir = Path(tempfile.mkdtemp(prefix="cray", dir="/tmp"))
        cluster = RayCluster(temp_dir)
        try:
            try:
                cluster.start_head()
                cluster.add_node()
            except RuntimeError:  # a port taken between choosing it and binding it: again
                if attempt + 1 == STARTS:
                    raise
                continue
            yield cluster
            return
        finally:
            cluster.stop()
            shutil.rmtree(temp_dir, ignore_errors=True)


STARTS = 3

"""Which Ray cluster a run plays on, and connecting to it before anything runs.

    ray                    a Ray instance started on this machine for the run
    ray:auto               the cluster this machine already belongs to (`ray start`)
    ray:HOST:PORT          a cluster's head node (its GCS address)
    ray:ray://HOST:PORT    a cluster through the Ray client

Ray is an optional dependency: without it the executor says how to install it. A cluster that
does not answer is an error naming the address, raised before any episode is played.
"""

from __future__ import annotations

import logging
import socket
from types import ModuleType
from urllib.parse import urlsplit

INSTALL = "pip install 'clinsim[ray]'"
PROBE_TIMEOUT_S = 5.0


class ClusterError(Exception):
    """The cluster cannot be used: Ray missing, an address that does not answer."""


def import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--executor ray needs Ray: {INSTALL}") from None
    return ray


def host_and_port(address: str) -> tuple[str, int]:
    """`HOST:PORT` or `ray://HOST:PORT` -> (host, port); a clear error for anything else."""
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ClusterError(
            f"--executor ray:{address}: not a cluster address (give auto, HOST:PORT or "
            "ray://HOST:PORT)"
        )
    return parts.hostname, port


def probe(address: str) -> None:
    """Fail fast, naming the address, when nothing listens there (Ray itself retries for
    minutes before giving up)."""
    host, port = host_and_port(address)
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ClusterError(
            f"--executor ray:{address}: no Ray cluster answers at {host}:{port} ({exc})"
        ) from None


def connect(address: str) -> ModuleType:
    """Connect this process to the cluster (once); returns the `ray` module."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address not in ("", "auto"):
        probe(address)
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    where = f"ray:{address}" if address else "ray"
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"--executor {where}: cannot connect to the cluster: {first}") from None
    return ray
